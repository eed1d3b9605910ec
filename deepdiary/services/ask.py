"""Asking the memory housekeeper, in a conversation kept per channel."""

from __future__ import annotations

from datetime import date

from deepdiary.agent.render import citation_line  # noqa: F401 - how interfaces show a citation
from deepdiary.core.errors import InvalidInput
from deepdiary.services.context import AppContext


def housekeeper(ctx: AppContext, backend: str | None = None):
    """A housekeeper over the context's library; its language model comes from the shared cache."""
    from deepdiary.agent.housekeeper import Housekeeper

    return Housekeeper(ctx.library, backend=backend)


def parse_today(text: str | None) -> date | None:
    """The ``--today`` override: a day to pretend it is, for relative dates."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--today: {text!r} is not a date (YYYY-MM-DD)") from None


def ask(ctx: AppContext, question: str, conversation_id: int | None = None, backend: str | None = None,
        today: date | None = None, channel: str = "cli", external_id: str | None = None, keeper=None,
        on_tool_call=None):
    """One answer with the items it relied on, recorded in its conversation; ``on_tool_call``
    hears of each search as it is made."""
    if not question.strip():
        raise InvalidInput("ask a question")
    keeper = keeper or housekeeper(ctx, backend)
    return keeper.ask(question, conversation_id=conversation_id, channel=channel, external_id=external_id,
                      today=today, on_tool_call=on_tool_call)
