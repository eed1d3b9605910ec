"""Events, the seed's "event diary": photos, stays and chat bursts close in time become one
event with a place, the people in it and a generated diary line.

Items are walked in time order and an event closes when the next item is more than
``gap`` later, or far away (a new place more than ``far_km`` off). Chat messages only
count in bursts (``burst_min`` messages, no pause over ``burst_gap``), so a lone "ok" is not
an event. Events are derived: ``rebuild_events`` replaces them all from the catalogue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from deepdiary.core.geo import haversine_km
from deepdiary.memory.tables import (
    ChatMeta, Conversation, Event, EventItem, Face, Item, Person, Place, Visit,
)


@dataclass
class _Moment:
    time: datetime
    end: datetime
    kind: str  # photo, visit, chat
    lat: float | None
    lon: float | None
    place_id: int | None
    item_ids: list[int] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    messages: int = 0


def _km(a: _Moment, b: _Moment) -> float:
    if a.lat is None or b.lat is None:
        return 0.0
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


def _moments(s: Session, burst_gap: timedelta, burst_min: int) -> list[_Moment]:
    named = {p.id: p.name for p in s.exec(select(Person).where(Person.name.is_not(None)))}
    faces: dict[int, list[str]] = {}
    for item_id, person_id in s.exec(select(Face.item_id, Face.person_id)):
        if person_id in named:
            faces.setdefault(item_id, []).append(named[person_id])
    out = []
    for item in s.exec(select(Item).where(Item.kind == "photo", Item.taken_at.is_not(None),
                                          Item.date_source != "file:mtime")):
        out.append(_Moment(item.taken_at, item.taken_at, "photo", item.lat, item.lon, item.place_id, [item.id],
                           faces.get(item.id, [])))
    for v in s.exec(select(Visit)):
        out.append(_Moment(v.start, v.end, "visit", v.lat, v.lon, v.place_id))
    convs = {c.id: c.name for c in s.exec(select(Conversation))}
    rows = s.exec(select(Item.id, Item.taken_at, ChatMeta.conversation_id, ChatMeta.sender, ChatMeta.is_me)
                  .join(ChatMeta, ChatMeta.item_id == Item.id).where(Item.taken_at.is_not(None))
                  .order_by(ChatMeta.conversation_id, Item.taken_at)).all()
    burst: list = []

    def flush():
        if len(burst) >= burst_min:
            partners = sorted({r[3] for r in burst if not r[4]})
            out.append(_Moment(burst[0][1], burst[-1][1], "chat", None, None, None, [r[0] for r in burst],
                               partners or [convs[burst[0][2]]], len(burst)))
        burst.clear()

    for r in rows:
        if burst and (r[2] != burst[-1][2] or r[1] - burst[-1][1] > burst_gap):
            flush()
        burst.append(r)
    flush()
    return sorted(out, key=lambda m: m.time)


def _span(start: datetime, end: datetime) -> str:
    if start.date() == end.date():
        return start.strftime("%Y-%m-%d")
    if (start.year, start.month) == (end.year, end.month):
        return f"{start:%Y-%m-%d}–{end:%d}"
    return f"{start:%Y-%m-%d}–{end:%Y-%m-%d}"


def rebuild_events(s: Session, gap: timedelta = timedelta(hours=8), far_km: float = 50.0,
                   burst_gap: timedelta = timedelta(minutes=30), burst_min: int = 5) -> int:
    s.exec(delete(EventItem))
    s.exec(delete(Event))
    moments = _moments(s, burst_gap, burst_min)
    groups: list[list[_Moment]] = []
    for m in moments:
        if groups:
            last = groups[-1]
            end = max(x.end for x in last)
            located = [x for x in last if x.lat is not None]
            if m.time - end <= gap and not (located and m.lat is not None and _km(located[-1], m) > far_km):
                last.append(m)
                continue
        groups.append([m])
    places = {p.id: p for p in s.exec(select(Place))}
    for g in groups:
        start, end = g[0].time, max(x.end for x in g)
        place_counts = Counter(x.place_id for x in g if x.place_id)
        place = places.get(place_counts.most_common(1)[0][0]) if place_counts else None
        photos = sum(1 for x in g if x.kind == "photo")
        messages = sum(x.messages for x in g)
        visits = sum(1 for x in g if x.kind == "visit")
        people = [p for p, _ in Counter(p for x in g for p in x.people).most_common()]
        where = place.city if place else None
        title = ", ".join(x for x in (_span(start, end), where) if x)
        parts = [title]
        if photos:
            parts.append(f"{photos} photo{'s' if photos > 1 else ''}")
        if visits:
            parts.append(f"{visits} stop{'s' if visits > 1 else ''}")
        if messages:
            parts.append(f"{messages} messages")
        line = ", ".join(parts)
        if people:
            line += ", with " + (people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1])
        event = Event(start=start, end=end, place_id=place.id if place else None, title=title,
                      diary_line=line + ".", photos=photos, messages=messages, visits=visits)
        s.add(event)
        s.flush()
        for item_id in dict.fromkeys(i for x in g for i in x.item_ids):
            s.add(EventItem(event_id=event.id, item_id=item_id))
    return len(groups)


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
