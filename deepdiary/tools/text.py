"""Text tools: chat messages and diary entries."""

from __future__ import annotations

from pydantic import Field

from deepdiary.core.errors import NotFound
from deepdiary.core.timeparse import annotate_relative

from deepdiary.memory.chat_query import ChatHit, ChatQuery, search_chats, sender_known
from deepdiary.tools.context import (
    DATE_HELP,
    Args,
    ToolContext,
    clip,
    compact,
    day_bound,
    near_best,
    when,
)


class SearchChatsArgs(Args):
    query: str = Field("", description="words or a question to look for, English or Chinese, e.g. 'dinner plans'; "
                       "empty for the newest messages")
    with_person: str | None = Field(None, description="only messages this person sent, e.g. 'Alice'")
    date_from: str | None = Field(None, description=f"sent on or after this day, {DATE_HELP}")
    date_to: str | None = Field(None, description=f"sent on or before this day (inclusive), {DATE_HELP}")
    limit: int = Field(5, ge=1, le=50, description="how many messages at most, e.g. 5")


class SearchDiaryArgs(Args):
    query: str = Field("", description="words or a question to look for, English or Chinese, e.g. 'hiking trip'; "
                       "empty for the newest entries")
    date_from: str | None = Field(None, description=f"written on or after this day, {DATE_HELP}")
    date_to: str | None = Field(None, description=f"written on or before this day (inclusive), {DATE_HELP}")
    limit: int = Field(5, ge=1, le=50, description="how many entries at most, e.g. 5")


def _search(ctx: ToolContext, a, kind: str, with_person: str | None = None) -> list[ChatHit]:
    q = ChatQuery(text=a.query or "", with_person=with_person, date_from=day_bound(a.date_from),
                  date_to=day_bound(a.date_to, end=True), kinds=[kind], limit=a.limit, use_time_words=False)
    with ctx.library.read_session() as s:
        if with_person and not sender_known(s, with_person):
            raise NotFound(f"no person or chat sender named {with_person!r}; use find_people to see who is known")
        hits = search_chats(s, q, ctx.library, today=ctx.today)
    # Hits sharing no word with the query come from the dense side alone, at a fifth of a word match.
    return near_best(hits, lambda h: h.score)


def search_chats_tool(ctx: ToolContext, a: SearchChatsArgs) -> dict:
    """Search chat messages (WeChat and other chats) by meaning and words. Use for what someone said, did or planned."""
    hits = _search(ctx, a, "message", a.with_person)
    return {"results": [compact({
        "ref": f"message:{h.id}", "time": when(h.time), "sender": h.sender, "conversation": h.conversation,
        "text": clip(_said(h)), "source": f"{h.source.file}:{h.source.line}"}) for h in hits]}


def _said(h: ChatHit) -> str:
    """The text with its relative dates counted from the day it was written."""
    return annotate_relative(h.text, h.time.date()) if h.text and h.time else h.text


def search_diary_tool(ctx: ToolContext, a: SearchDiaryArgs) -> dict:
    """Search the owner's own diary entries by meaning and words. Use for what the owner wrote or felt."""
    hits = _search(ctx, a, "diary")
    return {"results": [compact({
        "ref": f"diary:{h.id}", "date": when(h.time)[:10] if h.time else None, "title": h.conversation,
        "text": clip(_said(h)), "source": f"{h.source.file}:{h.source.line}"}) for h in hits]}
