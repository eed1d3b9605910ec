"""Event, place, library and calendar tools."""

from __future__ import annotations

from pydantic import Field

from deepdiary.core.errors import NotFound
from deepdiary.memory.events import list_events
from deepdiary.memory.items import library_stats
from deepdiary.memory.places import places_visited
from deepdiary.memory.query import place_ids_matching
from deepdiary.tools.context import (
    DATE_HELP,
    Args,
    ToolContext,
    compact,
    day_bound,
    place_label,
    when,
)


class EventsArgs(Args):
    date_from: str | None = Field(None, description=f"events ending on or after this day, {DATE_HELP}")
    date_to: str | None = Field(None, description=f"events starting on or before this day (inclusive), {DATE_HELP}")
    place: str | None = Field(None, description="city, region or country, English or Chinese, e.g. 'Paris'")
    limit: int = Field(10, ge=1, le=100, description="how many events at most, e.g. 10")


def events_tool(ctx: ToolContext, a: EventsArgs) -> dict:
    """The owner's diary of events (photos, stays and chats grouped by time and place). Use for 'what did I do when/where'."""
    lo, hi = day_bound(a.date_from), day_bound(a.date_to, end=True)
    with ctx.library.read_session() as s:
        if a.place and not place_ids_matching(s, a.place):
            raise NotFound(f"no place called {a.place!r} in the library; use places_visited to see known places")
        rows = list_events(s, lo, hi, place=a.place, limit=a.limit)
    return {"results": [compact({
        "ref": f"event:{e['id']}", "title": e["title"], "start": when(e["start"]), "end": when(e["end"]),
        "place": place_label(e["place"], None, e["place_zh"]), "photos": e["photos"], "messages": e["messages"],
        "visits": e["visits"], "diary": e["diary"]}) for e in rows]}


class PlacesVisitedArgs(Args):
    date_from: str | None = Field(None, description=f"from this day, {DATE_HELP}")
    date_to: str | None = Field(None, description=f"to this day (inclusive), {DATE_HELP}")
    limit: int = Field(20, ge=1, le=200, description="how many places at most, e.g. 20")


def places_visited_tool(ctx: ToolContext, a: PlacesVisitedArgs) -> dict:
    """Places the owner has been to (from photos and location history), in the order first visited, with counts."""
    with ctx.library.read_session() as s:
        rows = places_visited(s, day_bound(a.date_from), day_bound(a.date_to, end=True))
    return {"total": len(rows), "results": [{
        "ref": f"place:{r['id']}", "place": place_label(r["city"], r["country"], r["city_zh"]),
        "photos": r["photos"], "visits": r["visits"], "first": when(r["first"])[:10] if r["first"] else None,
        "last": when(r["last"])[:10] if r["last"] else None} for r in rows[: a.limit]]}


class NoArgs(Args):
    pass


def stats_tool(ctx: ToolContext, a: NoArgs) -> dict:
    """Totals of the library: how many photos, messages and diary entries, date span, places, cameras, countries."""
    with ctx.library.read_session() as s:
        stats = library_stats(s)
    stats.pop("id", None)
    # Counts by kind first and named plainly: a small model took "items" for the photo count.
    by_kind = stats.pop("by_kind", {})
    counts = {"photos": by_kind.get("photo", 0), "chat_messages": by_kind.get("message", 0),
              "diary_entries": by_kind.get("diary", 0), "all_items": stats.pop("items", None)}
    for noise in ("last_job", "ingest_errors"):
        stats.pop(noise, None)
    return {**counts, **stats, "results": []}


def today_tool(ctx: ToolContext, a: NoArgs) -> dict:
    """Today's date and weekday. Use it to turn 'last week' or 'yesterday' into dates."""
    return {"today": ctx.today.isoformat(), "weekday": ctx.today.strftime("%A"), "results": []}
