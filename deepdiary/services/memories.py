"""Events, places and the knowledge graph: what happened, where, and who connects to whom."""

from __future__ import annotations

from pathlib import Path

from deepdiary.core.dates import optional_bound
from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.progress import ProgressFn
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import (
    DemandMatch, EventDetail, EventEntryRow, EventRow, EventWriteRun, GraphFile, GraphPath, GraphView, MetRow, OnThisDay,
    OnThisDayYear, Record,
)


def list_events(ctx: AppContext, date_from: str | None = None, date_to: str | None = None,
                place: str | None = None, limit: int | None = None) -> list[EventRow]:
    """The event diary: photos, stays and chat bursts grouped by time and place."""
    from deepdiary.memory.events import list_events as rows

    lo, hi = optional_bound(date_from, option="--from"), optional_bound(date_to, end=True, option="--to")
    with ctx.read() as s:
        return [EventRow(**e) for e in rows(s, lo, hi, place=place, limit=limit)]


def event_detail(ctx: AppContext, event_id: int) -> EventDetail:
    """One event with its photos, the people in them, its diary lines, messages and diary entry."""
    from deepdiary.memory.events import event_detail as detail
    from deepdiary.memory.query import photos_by_id
    from deepdiary.pipeline.event_diary import entry_row

    with ctx.read() as s:
        row = detail(s, event_id)
        entry = entry_row(s, event_id, ctx.settings.diary_language)
        return EventDetail(**row, photo_items=photos_by_id(s, row.pop("photo_ids"), ctx.library),
                           entry=EventEntryRow(**entry) if entry else None)


def write_event_entries(ctx: AppContext, event_id: int | None = None, progress: ProgressFn | None = None
                        ) -> EventWriteRun:
    """Have the local LLM write the diary entry of one event, or of every event (``None``)
    whose entry is missing or stale; entries the user wrote are kept as they are."""
    from deepdiary.pipeline.event_diary import DiaryWriter, entry_row

    report = DiaryWriter(ctx.library).run(None if event_id is None else [event_id], progress=progress)
    with ctx.read() as s:
        entries = [EventEntryRow(**e) for e in (entry_row(s, i, ctx.settings.diary_language)
                                                for i in report.event_ids) if e]
    return EventWriteRun(id=f"event:{event_id}" if event_id is not None else "events", events=report.events,
                         written=report.written, unchanged=report.unchanged, kept_user=report.kept_user,
                         failed=report.failed, seconds=report.seconds, entries=entries)


def set_event_entry(ctx: AppContext, event_id: int, text: str) -> EventEntryRow:
    """The user's own diary entry for an event; the LLM never rewrites it."""
    from deepdiary.pipeline.event_diary import entry_row, set_user_entry

    with ctx.write() as s:
        set_user_entry(s, event_id, text)
    with ctx.read() as s:
        return EventEntryRow(**entry_row(s, event_id, ctx.settings.diary_language))


def on_this_day(ctx: AppContext, day: str | None = None) -> OnThisDay:
    """Photos and events from this day (``MM-DD`` or a date; default today) in earlier years."""
    from datetime import date, datetime, timedelta

    from deepdiary.memory.events import list_events as event_rows
    from deepdiary.memory.events import on_this_day as rows
    from deepdiary.memory.query import photos_by_id

    today = date.today()
    try:
        if day is None:
            when = today
        elif len(day) == 5:
            when = date(today.year, int(day[:2]), int(day[3:]))
        else:
            when = date.fromisoformat(day)
    except ValueError:
        raise InvalidInput(f"date: cannot read {day!r}; give YYYY-MM-DD or MM-DD") from None
    years = []
    with ctx.read() as s:
        for y in rows(s, when.month, when.day, before_year=when.year):
            start = datetime(y["year"], when.month, when.day)
            events = [EventRow(**e) for e in event_rows(s, start, start + timedelta(days=1) - timedelta(seconds=1))
                      if e["id"] in set(y["event_ids"])]
            years.append(OnThisDayYear(year=y["year"], photos=photos_by_id(s, y["photo_ids"], ctx.library),
                                       events=events))
    return OnThisDay(id=when.strftime("%m-%d"), date=when.isoformat(), years=years)


def map_features(ctx: AppContext, bbox: str | None = None, date_from: str | None = None,
                 date_to: str | None = None) -> dict:
    """GeoJSON of photo points, stays and tracks for a box ``west,south,east,north`` and a period."""
    from deepdiary.memory.places import map_features as features

    box = None
    if bbox:
        try:
            box = tuple(float(v) for v in bbox.split(","))
        except ValueError:
            box = ()
        if len(box) != 4 or not (-90 <= box[1] <= box[3] <= 90) or not all(-180 <= box[i] <= 180 for i in (0, 2)):
            raise InvalidInput(f"bbox: {bbox!r} is not west,south,east,north in degrees")
    lo, hi = optional_bound(date_from, option="--from"), optional_bound(date_to, end=True, option="--to")
    with ctx.read() as s:
        return features(s, box, lo, hi)


def graph_view(ctx: AppContext, year: int | None = None, person: str | None = None) -> GraphView:
    """People, places and events with who appears with whom, for drawing; by year and around one person."""
    from deepdiary.memory.graph import graph_view as view
    from deepdiary.memory.people import person_or_fail

    if year is not None and not 1800 <= year <= 2200:
        raise InvalidInput(f"year: {year} is out of range")
    with ctx.read() as s:
        person_id = person_or_fail(s, person).id if person else None
        return GraphView(**view(s, ctx.settings.owner_name, year, person_id))


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
