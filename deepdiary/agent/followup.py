"""Follow-up questions that lean on the previous turn: "who else was there?", "the second day".

They are resolved in code from the turn's stored tool calls and citations, and become
tool calls made before the model plans, so every backend answers them the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from deepdiary.agent.hint import ToolCall
from deepdiary.memory.tables import AgentTurn

WHO_ELSE = re.compile(r"\bwho else\b|\banyone else\b|\bwho was (also )?there\b|还有谁|还有哪些人|其他人|别的人")
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": -1,
            "一": 1, "二": 2, "三": 3, "四": 4, "最后一": -1}
NTH_DAY = re.compile(r"\b(first|1st|second|2nd|third|3rd|fourth|4th|last) day\b|\bday (\d)\b|第(一|二|三|四|\d)天|(最后一)天")
DAY_SEARCHES = ("search_photos", "search_chats", "search_diary")


@dataclass
class FollowUp:
    calls: list[ToolCall] = field(default_factory=list)
    known_people: list[str] = field(default_factory=list)  # already named, so "who else" leaves them out
    kind: str = ""


def _nth(m: re.Match) -> int:
    word = next(g for g in m.groups() if g)
    return int(word) if word.isdigit() else ORDINALS[word]


def _calls(turn: AgentTurn) -> list[ToolCall]:
    return [ToolCall(tool=c["tool"], arguments=c["arguments"]) for c in json.loads(turn.tool_calls)]


def resolve_followup(question: str, history: list[AgentTurn],
                     run: Callable[[ToolCall], dict]) -> FollowUp | None:
    """The calls that answer a follow-up to the conversation's last turn, or None when it is not one."""
    if not history:
        return None
    previous = history[-1]
    low = question.lower()
    if WHO_ELSE.search(low):
        # Asked twice in a row, it still means the photos the conversation was about.
        origin = next((t for t in reversed(history) if not WHO_ELSE.search(t.question.lower())), previous)
        photos = [c["item_id"] for c in json.loads(origin.citations) if c.get("kind") == "photo"][:5]
        if not photos:
            photos = [int(r.split(":")[1]) for c in json.loads(origin.tool_calls)
                      for r in c.get("refs", []) if r.startswith("photo:")][:5]
        if not photos:
            return None
        named = [p for c in _calls(origin) for p in c.arguments.get("people", [])]
        return FollowUp([ToolCall(tool="describe_photo", arguments={"photo_id": i}) for i in photos], named, "who_else")
    m = NTH_DAY.search(low)
    if m:
        # "the first day" after "the second day" still means the first day of the original search.
        origin = next((t for t in reversed(history) if not NTH_DAY.search(t.question.lower())), previous)
        base = next((c for c in reversed(_calls(origin)) if c.tool in DAY_SEARCHES), None)
        if base is None:
            return None
        wide = run(ToolCall(tool=base.tool, arguments={**base.arguments, "limit": 50}))
        days = sorted({(r.get("taken_at") or r.get("time") or "")[:10] for r in wide.get("results", [])} - {""})
        n = _nth(m)
        if not days or n > len(days):
            return FollowUp([], [], "no_such_day")
        day = days[n - 1] if n > 0 else days[-1]
        return FollowUp([ToolCall(tool=base.tool, arguments={**base.arguments, "date_from": day, "date_to": day})],
                        [], "day")
    return None
