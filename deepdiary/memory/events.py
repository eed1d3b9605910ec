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


def event_detail(s: Session, event_id: int) -> dict:
    """One event: its row, the photo ids, who was in the photos, its diary lines and messages."""
    from deepdiary.core.errors import NotFound
    from deepdiary.memory.tables import ChatMeta, DiaryMeta, Face, Item, Person

    e = s.get(Event, event_id)
    if e is None:
        raise NotFound(f"no event {event_id}")
    row = next(r for r in list_events(s, e.start, e.end) if r["id"] == e.id)
    items = s.exec(select(Item).where(Item.id.in_(row["item_ids"])).order_by(Item.taken_at, Item.id)).all()
    photo_ids = [i.id for i in items if i.kind == "photo"]
    people = s.exec(select(Person).join(Face, Face.person_id == Person.id)
                    .where(Face.item_id.in_(photo_ids)).distinct().order_by(Person.id)).all()
    senders = dict(s.exec(select(ChatMeta.item_id, ChatMeta.sender).where(ChatMeta.item_id.in_(row["item_ids"]))).all())
    diary_ids = set(s.exec(select(DiaryMeta.item_id).where(DiaryMeta.item_id.in_(row["item_ids"]))))
    return {**row, "photo_ids": photo_ids,
            "people": [{"id": p.id, "name": p.name} for p in people],
            "diary_lines": [i.text for i in items if i.id in diary_ids and i.text],
            "message_items": [{"id": i.id, "sender": senders[i.id], "text": i.text,
                          "time": i.taken_at.isoformat() if i.taken_at else None}
                         for i in items if i.id in senders]}


def on_this_day(s: Session, month: int, day: int, before_year: int) -> list[dict]:
    """Each earlier year's photos and events on this month and day, newest year first."""
    from sqlalchemy import extract

    from deepdiary.memory.tables import Item

    photos = s.exec(select(Item.id, Item.taken_at).where(
        Item.kind == "photo", extract("month", Item.taken_at) == month, extract("day", Item.taken_at) == day,
        extract("year", Item.taken_at) < before_year).order_by(Item.taken_at, Item.id)).all()
    events = s.exec(select(Event).where(
        extract("month", Event.start) == month, extract("day", Event.start) == day,
        extract("year", Event.start) < before_year).order_by(Event.start, Event.id)).all()
    years: dict[int, dict] = {}
    for item_id, taken in photos:
        years.setdefault(taken.year, {"year": taken.year, "photo_ids": [], "event_ids": []})["photo_ids"].append(item_id)
    for e in events:
        years.setdefault(e.start.year, {"year": e.start.year, "photo_ids": [], "event_ids": []})["event_ids"].append(e.id)
    return [years[y] for y in sorted(years, reverse=True)]
