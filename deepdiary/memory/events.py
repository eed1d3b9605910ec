"""Reading the event diary. Events themselves are derived by ``deepdiary.pipeline.events``."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from deepdiary.memory.tables import Event, EventItem, Place


def list_events(s: Session, date_from: datetime | None = None, date_to: datetime | None = None,
                place: str | None = None, limit: int | None = None) -> list[dict]:
    """Events overlapping the period, at a place (city, region or country, English or Chinese) if given."""
    stmt = select(Event).order_by(Event.start, Event.id)
    if date_from:
        stmt = stmt.where(Event.end >= date_from)
    if date_to:
        stmt = stmt.where(Event.start <= date_to)
    if place:
        from deepdiary.memory.query import place_ids_matching

        stmt = stmt.where(Event.place_id.in_(place_ids_matching(s, place)))
    if limit:
        stmt = stmt.limit(limit)
    places = {p.id: p for p in s.exec(select(Place))}
    out = []
    for e in s.exec(stmt):
        p = places.get(e.place_id)
        items = s.exec(select(EventItem.item_id).where(EventItem.event_id == e.id)).all()
        out.append({"id": e.id, "start": e.start.isoformat(), "end": e.end.isoformat(), "title": e.title,
                    "diary": e.diary_line, "place": p.city if p else None, "place_zh": p.city_zh if p else None,
                    "photos": e.photos, "messages": e.messages, "visits": e.visits, "item_ids": items})
    return out
