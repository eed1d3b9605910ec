"""Searching chat messages and diary entries: one function behind the CLI, the API and the agent.

The question's own time words ("last May", "in 2023", "去年夏天") become a time filter
unless explicit dates are given, names of chat partners in it favour their messages,
and every hit is a single message with where it came from (file and line, or the
export's message id).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import func
from sqlmodel import Session, select

from deepdiary.memory.people import find_people
from deepdiary.memory.tables import ChatMeta, Conversation, DiaryMeta, Item, Person
from deepdiary.memory.text_index import TextFilter, frame_terms, tokens, without_frame
from deepdiary.core.timeparse import find_time_range


class ChatQuery(BaseModel):
    text: str = Field(description="the question or words to look for, English or Chinese")
    date_from: datetime | None = None
    date_to: datetime | None = None
    with_person: str | None = Field(default=None, description="only messages sent by this person (name or alias)")
    conversation: str | None = None
    kinds: list[str] = Field(default_factory=lambda: ["message"], description="message and/or diary")
    limit: int = Field(default=10, ge=1, le=200)
    context: int = Field(default=0, ge=0, le=10, description="neighbouring messages to return with each hit")
    use_time_words: bool = True
    recent_from: datetime | None = Field(default=None, description="rank messages from this time on first "
                                         "(a question's 'recently'); hides nothing")


class Source(BaseModel):
    file: str
    line: int
    message_id: str | None = None


class ChatHit(BaseModel):
    id: int
    time: datetime | None
    sender: str
    conversation: str
    text: str
    kind: str
    source: Source
    score: float
    context: list[dict] = Field(default_factory=list)


def _sender_names(session: Session, who: str) -> list[str]:
    names = {who.strip().lower()}
    for person in find_people(session, who):
        names |= {n.strip().lower() for n in [person.name, *person.aliases.split(",")] if n and n.strip()}
    return sorted(names)


def sender_known(session: Session, who: str) -> bool:
    """Whether ``who`` is a known person or has sent a chat message under that name."""
    if find_people(session, who):
        return True
    return session.exec(select(ChatMeta.item_id).where(func.lower(ChatMeta.sender) == who.strip().lower())
                        .limit(1)).first() is not None


def _mentioned_senders(session: Session, text: str, owner: str) -> list[str]:
    """Chat partners (conversation names, people's names and aliases) the question names."""
    low = text.lower()
    names = set(session.exec(select(Conversation.name)).all()) | {owner}
    for person in session.exec(select(Person).where(Person.name.is_not(None))):
        names |= {n.strip() for n in [person.name, *person.aliases.split(",")] if n and n.strip()}
    return sorted(n for n in names if len(n) > 1 and re.search(rf"(?<!\w){re.escape(n.lower())}(?!\w)", low))


def search_chats(session: Session, q: ChatQuery, library, today: date | None = None) -> list[ChatHit]:
    f = TextFilter(date_from=q.date_from, date_to=q.date_to, conversation=q.conversation, kinds=q.kinds)
    inferred = False
    prefer = replace(f, date_from=q.recent_from, date_to=None) if q.recent_from else None
    if q.use_time_words and not (q.date_from or q.date_to):
        found = find_time_range(q.text, memory_today(session, q.kinds, today))
        if found and found.vague and _asks_about_something(q.text, found, _mentioned_senders(session, q.text, library.settings.owner_name)):
            # "Whose birthday did she celebrate recently?": the asker's "recently" is seldom the
            # memory's last month; it ranks those weeks first instead of hiding the rest.
            prefer = replace(f, date_from=found.start, date_to=found.end)
        elif found:
            f.date_from, f.date_to = found.start, found.end
            inferred = True
    if q.with_person:
        f.senders = _sender_names(session, q.with_person)
    if not q.text.strip():
        return hits_to_rows(session, _latest(session, q, f), q.context)
    boost = _mentioned_senders(session, q.text, library.settings.owner_name)
    hits = library.text_index.search(q.text, k=q.limit, f=f, boost_senders=boost, prefer=prefer)
    if not hits and inferred:
        # Time words in a question often describe what happened ("where did she move from
        # four years ago?"), not when it was said: a range that holds nothing hides nothing.
        hits = library.text_index.search(q.text, k=q.limit, f=replace(f, date_from=None, date_to=None),
                                         boost_senders=boost)
    return hits_to_rows(session, hits, q.context)


def _asks_about_something(text: str, when, names: list[str]) -> bool:
    """Whether the question names something to look for beyond its time words and people
    ("whose birthday ... recently" does; "what did Bob say lately" does not)."""
    rest = text[:when.span[0]] + " " + text[when.span[1]:] if when.span else text.replace(when.text, " ")
    for name in sorted(names, key=len, reverse=True):
        rest = re.sub(re.escape(name), " ", rest, flags=re.IGNORECASE)
    rest = without_frame(rest)
    return any(t not in frame_terms() for t in tokens(rest))


def memory_today(session: Session, kinds: list[str], today: date | None = None) -> date:
    """The day relative time words count from: today, or the newest message's day when the
    memory ends earlier (an imported archive's "recently" means the end of that archive)."""
    today = today or date.today()
    newest = session.exec(select(func.max(Item.taken_at)).where(Item.kind.in_(kinds))).first()
    return min(today, newest.date()) if newest else today


def _latest(session: Session, q: ChatQuery, f: TextFilter) -> list[tuple[int, float]]:
    """With nothing to look for, the newest messages that pass the filters ("what did Bob say last month?")."""
    from sqlalchemy import func

    stmt = (select(Item.id).join(ChatMeta, ChatMeta.item_id == Item.id, isouter=True)
            .where(Item.kind.in_(q.kinds)).order_by(Item.taken_at.desc(), Item.id.desc()).limit(q.limit))
    if f.date_from:
        stmt = stmt.where(Item.taken_at >= f.date_from)
    if f.date_to:
        stmt = stmt.where(Item.taken_at <= f.date_to)
    if f.senders:
        stmt = stmt.where(func.lower(ChatMeta.sender).in_(f.senders))
    if q.conversation:
        stmt = stmt.join(Conversation, Conversation.id == ChatMeta.conversation_id).where(Conversation.name == q.conversation)
    return [(i, 0.0) for i in session.exec(stmt)]


def hits_to_rows(session: Session, hits: list[tuple[int, float]], context: int = 0) -> list[ChatHit]:
    ids = [i for i, _ in hits]
    items = {i.id: i for i in session.exec(select(Item).where(Item.id.in_(ids)))}
    chats = {c.item_id: c for c in session.exec(select(ChatMeta).where(ChatMeta.item_id.in_(ids)))}
    diaries = {d.item_id: d for d in session.exec(select(DiaryMeta).where(DiaryMeta.item_id.in_(ids)))}
    convs = {c.id: c.name for c in session.exec(select(Conversation))}
    rows = []
    for item_id, score in hits:
        item = items.get(item_id)
        if item is None:
            continue  # deleted since it was indexed
        if item_id in chats:
            m = chats[item_id]
            hit = ChatHit(id=item_id, time=item.taken_at, sender=m.sender, conversation=convs[m.conversation_id],
                          text=item.text or "", kind=m.msg_kind, score=round(score, 5),
                          source=Source(file=m.source_file, line=m.source_line, message_id=m.source_id))
            if context:
                hit.context = _neighbours(session, m, item_id, context)
        else:
            d = diaries[item_id]
            hit = ChatHit(id=item_id, time=item.taken_at, sender="diary", conversation=item.title or "diary",
                          text=item.text or "", kind="diary", score=round(score, 5),
                          source=Source(file=d.source_file, line=d.source_line))
        rows.append(hit)
    return rows


def _neighbours(session: Session, meta: ChatMeta, item_id: int, n: int) -> list[dict]:
    rows = session.exec(
        select(Item, ChatMeta).join(ChatMeta, ChatMeta.item_id == Item.id)
        .where(ChatMeta.conversation_id == meta.conversation_id, Item.id.between(item_id - n, item_id + n),
               Item.id != item_id).order_by(Item.id)).all()
    return [{"id": i.id, "time": i.taken_at.isoformat() if i.taken_at else None, "sender": c.sender,
             "text": i.text} for i, c in rows]
