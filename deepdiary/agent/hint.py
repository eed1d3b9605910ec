"""From the parser's reading of a question to a tool call, and the arguments code owns.

The suggested call is the hint a model sees, the whole plan of the ``none`` backend, and
the expected answer of the parser in ``bench/agent_eval.py``. Dates, weekdays and years
are never left to a model: ``code_arguments`` puts the parser's resolved values into
whichever tool the model picked and drops any the model wrote.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from deepdiary.nlu.question import ParsedQuestion
from deepdiary.tools.context import compact

# Arguments filled in by code only; the model's schemas do not offer them.
CODE_ARGS = ("date_from", "date_to", "weekdays", "year")
# Left at the tool's default: a small model asks for 100 results and then reads none of them.
HIDDEN_ARGS = (*CODE_ARGS, "limit")
# A model that cannot put a date anywhere else puts it in a place or a name.
TIME_LIKE = re.compile(r"\d{4}-\d{1,2}|\b(19|20)\d\d\b|weekend|weekday|monday|tuesday|wednesday|thursday|friday|"
                       r"saturday|sunday|周末|星期|礼拜|\d+月|\d+年")


class ToolCall(BaseModel):
    tool: str
    arguments: dict = Field(default_factory=dict)


def _colour(c) -> str:
    return c.name if c.region == "image" else f"{c.name} {c.region}"


def suggest_call(p: ParsedQuestion) -> ToolCall:
    """The one tool call that answers the question as the parser read it."""
    who = p.persons[0] if p.persons else None
    # With a time range or a speaker to filter by, no words left means "everything in it".
    text = p.keywords or ("" if p.date_from or p.speaker else p.text)
    match p.intent:
        case "photos":
            args = {"query": p.keywords, "people": p.persons, "place": p.places[0] if p.places else None,
                    "colours": [_colour(c) for c in p.colours], "people_count": p.people_count,
                    "scenes": p.scenes, "layout": p.layout}
            call = ToolCall(tool="search_photos", arguments=args)
        case "chats":
            call = ToolCall(tool="search_chats", arguments={"query": text, "with_person": p.speaker})
        case "diary":
            call = ToolCall(tool="search_diary", arguments={"query": text})
        case "people":
            call = ToolCall(tool="find_people", arguments={"name": who})
        case "person_profile":
            call = ToolCall(tool="person_profile", arguments={"name": who or p.keywords or p.text})
        case "events":
            call = ToolCall(tool="events", arguments={"place": p.places[0] if p.places else None})
        case "places":
            call = ToolCall(tool="places_visited")
        case "graph_connect":
            b = p.persons[1] if len(p.persons) > 1 else None
            call = ToolCall(tool="graph_query", arguments={"kind": "connect", "person_a": who, "person_b": b})
        case "graph_met_most":
            call = ToolCall(tool="graph_query", arguments={"kind": "met_most"})
        case "match_demand":
            call = ToolCall(tool="match_demand", arguments={"demand": p.keywords or p.text})
        case "describe_photo":
            call = ToolCall(tool="describe_photo", arguments={"photo_id": p.photo_id})
        case "stats":
            call = ToolCall(tool="stats")
        case "today":
            call = ToolCall(tool="today")
        case _:
            call = ToolCall(tool="search_chats", arguments={"query": p.keywords or p.text})
    return ToolCall(tool=call.tool, arguments=code_arguments(call.tool, compact(call.arguments), p))


def code_arguments(tool: str, args: dict, p: ParsedQuestion) -> dict:
    """``args`` with the parser's dates, weekdays and year in place of anything the model wrote."""
    out = {k: v for k, v in args.items() if k not in CODE_ARGS}
    for key in ("place", "people", "person_a", "person_b", "name", "with_person"):
        value = out.get(key)
        if isinstance(value, str) and _junk(value, p):
            del out[key]
        elif isinstance(value, list):
            out[key] = [v for v in value if not (isinstance(v, str) and _junk(v, p))] or None
            if out[key] is None:
                del out[key]
    if tool in {"search_photos", "search_chats", "search_diary", "events", "places_visited"}:
        if p.date_from:
            out["date_from"] = p.date_from.date().isoformat()
        if p.date_to:
            out["date_to"] = p.date_to.date().isoformat()
    if tool == "search_photos" and p.weekdays:
        out["weekdays"] = list(p.weekdays)
    if tool == "graph_query" and out.get("kind") == "met_most" and p.date_from and p.date_to \
            and p.date_from.year == p.date_to.year:
        out["year"] = p.date_from.year
    return out


# What a small model writes when it means "no value" (or the owner, who is never a filter).
PLACEHOLDERS = {"", "none", "null", "nil", "n/a", "na", "yes", "no", "unknown", "any", "all", "me", "i", "我"}


def _junk(value: str, p: ParsedQuestion) -> bool:
    """A placeholder, or a date or weekday put where a name or place belongs."""
    low = value.strip().lower()
    return (low in PLACEHOLDERS or bool(TIME_LIKE.search(low))
            or bool(p.time_words and low in p.time_words.lower()))
