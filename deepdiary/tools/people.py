"""People tools: who is known, one person's profile, how people connect, who can help."""

from __future__ import annotations

from typing import Literal

import networkx as nx
from pydantic import Field

from deepdiary.core.errors import InvalidInput, NotFound

from deepdiary.memory import graph
from deepdiary.memory.people import (
    people_summary,
    person_or_fail,
    person_profile,
    search_people,
)
from deepdiary.tools.context import Args, ToolContext, compact, near_best, when

# Graph node kinds to citation refs; conversations and the owner keep their node ids.
_REF_KINDS = {"resource": "note", "demand": "note"}


def _ref(node: str) -> str:
    kind, _, rest = node.partition(":")
    return f"{_REF_KINDS.get(kind, kind)}:{rest}"


class FindPeopleArgs(Args):
    name: str | None = Field(None, description="a name, alias or part of one, e.g. 'Alice' or '爱丽丝'; leave out to list everyone")


def find_people_tool(ctx: ToolContext, a: FindPeopleArgs) -> dict:
    """Look up people by name (or list everyone named), with how many photos and messages each has."""
    with ctx.library.read_session() as s:
        people = people_summary(s, search_people(s, a.name))
    if a.name and not people:
        raise NotFound(f"nobody named {a.name!r}; call find_people without a name to list everyone")
    return {"results": [compact({"ref": f"person:{p['id']}", "name": p["name"], "aliases": p["aliases"],
                                 "photos": p["photos"], "messages": p["messages"]}) for p in people]}


class PersonProfileArgs(Args):
    name: str = Field(description="the person's name or alias, e.g. 'Alice'")


def _seen(x: dict | None) -> dict | None:
    return {"ref": f"{x['kind']}:{x['item_id']}", "time": when(x["time"])} if x else None


def person_profile_tool(ctx: ToolContext, a: PersonProfileArgs) -> dict:
    """One person in full: first and last time seen, photo and message counts, who they appear with, and notes."""
    with ctx.library.read_session() as s:
        p = person_profile(s, person_or_fail(s, a.name))
    person = compact({"ref": f"person:{p['id']}", "name": p["name"], "aliases": p["aliases"]})
    first, last = _seen(p["first_seen"]), _seen(p["last_seen"])
    return compact({
        "person": person, "photos": p["photos"], "messages": p["messages"], "first_seen": first, "last_seen": last,
        "companions": [{"ref": f"person:{c['id']}", "name": c["name"], "photos": c["photos"]} for c in p["companions"]],
        "notes": [{"ref": f"note:{n['id']}", "kind": n["kind"], "text": n["text"]} for n in p["notes"]],
    }) | {"results": [person] + [x for x in (first, last) if x]}


class GraphQueryArgs(Args):
    kind: Literal["connect", "met_most"] = Field(
        description="'connect': the chain linking two people; 'met_most': who the owner spent the most days with")
    person_a: str | None = Field(None, description="for connect: the first person, e.g. 'Alice'")
    person_b: str | None = Field(None, description="for connect: the second person, e.g. 'Bob'; leave out for the owner")
    year: int | None = Field(None, description="for met_most: only this year, e.g. 2023")


def graph_query_tool(ctx: ToolContext, a: GraphQueryArgs) -> dict:
    """Relations between people: how two people are connected, or whom the owner met most (in a year)."""
    if a.kind == "met_most":
        with ctx.library.read_session() as s:
            rows = graph.who_i_met_most(s, a.year)
        return {"results": [{"ref": f"person:{r['id']}", "name": r["name"], "days": r["days"]} for r in rows]}
    if not a.person_a:
        raise InvalidInput("connect needs person_a (and person_b, or the owner is used)")
    with ctx.library.read_session() as s:
        nodes = [f"person:{person_or_fail(s, x).id}" if x else graph.ME for x in (a.person_a, a.person_b)]
        g = graph.build_graph(s, ctx.library.settings.owner_name)
    try:
        chain = graph.connection(g, *nodes)
    except nx.NetworkXNoPath:
        raise NotFound(f"nothing connects {a.person_a} and {a.person_b or 'the owner'} yet") from None
    return {"results": [compact({"ref": _ref(c["node"]), "label": c["label"], "kind": c["kind"], "via": c["via"]})
                        for c in chain]}


class MatchDemandArgs(Args):
    demand: str = Field(description="what is needed, in words, e.g. 'someone who can fix a car' or '找律师'")
    limit: int = Field(5, ge=1, le=20, description="how many people at most, e.g. 5")


def match_demand_tool(ctx: ToolContext, a: MatchDemandArgs) -> dict:
    """Who could help with a need: people whose noted skills or resources fit it, closer acquaintances first."""
    with ctx.library.read_session() as s:
        g = graph.build_graph(s, ctx.library.settings.owner_name)
        rows = graph.match_demand_text(s, g, ctx.library.models.text, a.demand, limit=a.limit)
    rows = near_best(rows, lambda r: r["score"])
    return {"results": [compact({"ref": f"person:{r['person_id']}", "name": r["person"], "resource": r["resource"],
                                 "note": f"note:{r['id']}", "score": r["score"], "hops": r["hops"]}) for r in rows]}
