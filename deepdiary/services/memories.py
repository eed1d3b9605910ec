"""Events, places and the knowledge graph: what happened, where, and who connects to whom."""

from __future__ import annotations

from pathlib import Path

from deepdiary.core.dates import optional_bound
from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import DemandMatch, EventRow, GraphFile, GraphPath, MetRow, Record


def list_events(ctx: AppContext, date_from: str | None = None, date_to: str | None = None,
                place: str | None = None, limit: int | None = None) -> list[EventRow]:
    """The event diary: photos, stays and chat bursts grouped by time and place."""
    from deepdiary.memory.events import list_events as rows

    lo, hi = optional_bound(date_from, option="--from"), optional_bound(date_to, end=True, option="--to")
    with ctx.read() as s:
        return [EventRow(**e) for e in rows(s, lo, hi, place=place, limit=limit)]


def places_visited(ctx: AppContext, date_from: str | None = None, date_to: str | None = None) -> list[Record]:
    """Places been to, from photos and location history, in the order first visited."""
    from deepdiary.memory.places import places_visited as rows

    lo, hi = optional_bound(date_from, option="--from"), optional_bound(date_to, end=True, option="--to")
    with ctx.read() as s:
        return [Record(r) for r in rows(s, lo, hi)]


def export_graph(ctx: AppContext, path: Path) -> GraphFile:
    """The graph as GraphML (Gephi, yEd) or node-link JSON."""
    from deepdiary.memory.graph import build_graph, export_graph as write

    path = Path(path)
    if path.suffix.lower() not in (".graphml", ".json"):
        raise InvalidInput("export to .graphml or .json")
    with ctx.read() as s:
        g = build_graph(s, ctx.settings.owner_name)
    write(g, path)
    return GraphFile(id=str(path), path=str(path.resolve()), nodes=g.number_of_nodes(), edges=g.number_of_edges())


def met_most(ctx: AppContext, year: int | None = None, limit: int = 10) -> list[MetRow]:
    """Who the owner spent the most days with (photos together or chatting)."""
    from deepdiary.memory.graph import who_i_met_most

    if not 1 <= limit <= 1000:
        raise InvalidInput(f"--limit: {limit} is out of range (1 to 1000)")
    with ctx.read() as s:
        return [MetRow(**r) for r in who_i_met_most(s, year, limit)]


def connect(ctx: AppContext, a: str, b: str) -> GraphPath:
    """What connects two people (names or ids): the shortest chain of relations."""
    import networkx as nx

    from deepdiary.memory.graph import build_graph, connection
    from deepdiary.memory.people import person_or_fail

    with ctx.read() as s:
        nodes = [f"person:{person_or_fail(s, x).id}" for x in (a, b)]
        g = build_graph(s, ctx.settings.owner_name)
    try:
        chain = connection(g, *nodes)
    except nx.NetworkXNoPath:
        raise NotFound(f"nothing connects {a} and {b} yet") from None
    return GraphPath(id=f"{nodes[0]}..{nodes[1]}", path=chain)


def match_demand(ctx: AppContext, demand_id: int, limit: int = 5) -> list[DemandMatch]:
    """People whose resources fit a noted demand, by meaning and closeness to its owner."""
    from deepdiary.memory.graph import build_graph, match_demand as match

    with ctx.read() as s:
        g = build_graph(s, ctx.settings.owner_name)
        return [DemandMatch(**r) for r in match(s, g, ctx.models.text, demand_id, limit)]
