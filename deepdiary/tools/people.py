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


def _fact(f: dict) -> dict:
    """A learnt fact for the model: cited by its first message, which the answer can open."""
    return compact({"ref": f"message:{f['message_ids'][0]}" if f["message_ids"] else None, "person": f["subject"],
                    "kind": f["kind"], "attribute": f["attribute"], "fact": f["value"], "since": when(f["valid_from"])})


def person_profile_tool(ctx: ToolContext, a: PersonProfileArgs) -> dict:
    """One person in full: first and last time seen, photo and message counts, who they appear with, notes,
    and what their chats said about them (job, city, family, likes, plans)."""
    with ctx.library.read_session() as s:
        p = person_profile(s, person_or_fail(s, a.name))
    person = compact({"ref": f"person:{p['id']}", "name": p["name"], "aliases": p["aliases"]})
    first, last = _seen(p["first_seen"]), _seen(p["last_seen"])
    return compact({
        "person": person, "photos": p["photos"], "messages": p["messages"], "first_seen": first, "last_seen": last,
        "companions": [{"ref": f"person:{c['id']}", "name": c["name"], "photos": c["photos"]} for c in p["companions"]],
        "notes": [{"ref": f"note:{n['id']}", "kind": n["kind"], "text": n["text"]} for n in p["notes"]],
        "facts": [_fact(f) for f in p["facts"]],
    }) | {"results": [person] + [x for x in (first, last) if x] + [_fact(f) for f in p["facts"] if f["message_ids"]]}


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
    return {"results": [compact({
        # A learnt resource is cited by the message that said it; a hand-made note by itself.
        "ref": f"person:{r['person_id']}" if r["person_id"] else f"message:{r['message_ids'][0]}",
        "name": r["person"], "resource": r["resource"],
        "note": f"note:{r['id']}" if r["source"] == "note" else f"message:{r['message_ids'][0]}",
        "score": r["score"], "hops": r["hops"]}) for r in rows]}


# Below this cosine a fact shares no meaning with the question: a widened search that finds
# only such facts has found nothing.
FACT_MIN_SIMILARITY = 0.3


class SearchFactsArgs(Args):
    query: str = Field(description="what to look for, in words, e.g. 'where does Alice live' or '谁养狗'")
    person: str | None = Field(None, description="only facts about this person, e.g. 'Alice'")
    limit: int = Field(5, ge=1, le=20, description="how many facts at most, e.g. 5")


def search_facts_tool(ctx: ToolContext, a: SearchFactsArgs) -> dict:
    """Facts the chats taught about people (job, city, family, likes, plans, what they have or need), closest
    in meaning to the query, each cited by the message that said it."""
    from deepdiary.memory.facts import search_facts

    with ctx.library.read_session() as s:
        subjects = None
        if a.person:
            p = person_or_fail(s, a.person)
            subjects = [n for n in [p.name or "", *p.aliases.split(",")] if n.strip()]
        rows = search_facts(s, a.query, ctx.library.models.text, limit=a.limit, subjects=subjects,
                            min_similarity=FACT_MIN_SIMILARITY)
    rows = near_best(rows, lambda r: r["similarity"])
    return {"results": [_fact(f) | {"similarity": f["similarity"]} for f in rows if f["message_ids"]]}
