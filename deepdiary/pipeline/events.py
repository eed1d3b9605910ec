"""Events, the seed's "event diary": photos, stays and chat bursts close in time become one
event with a place, the people in it and a generated diary line.

Items are walked in time order and an event closes when the next item is more than
``gap`` later, or far away (a new place more than ``far_km`` off). Chat messages only
count in bursts (``burst_min`` messages, no pause over ``burst_gap``), so a lone "ok" is not
an event.

Events are derived data, refreshed by the services after whatever feeds them changes
(an ingest, enrichment, people named, merged or split), never by a read. Their ids are
stable: a refreshed event that keeps its members keeps its id, and one that gained or
lost a few members keeps the id of the old event it overlaps most, so a saved citation
(``event:12``) still opens the same event.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from deepdiary.core.geo import haversine_km
from deepdiary.memory.tables import (
    ChatMeta, Conversation, Event, EventEntry, EventItem, Face, Item, Person, Place, Visit,
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


def _groups(moments: list[_Moment], gap: timedelta, far_km: float) -> list[list[_Moment]]:
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
    return groups


def _event_row(g: list[_Moment], places: dict[int, Place]) -> tuple[Event, list[int]]:
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
    return event, list(dict.fromkeys(i for x in g for i in x.item_ids))


_FIELDS = ("start", "end", "place_id", "title", "diary_line", "photos", "messages", "visits")


def _match(old: dict[int, tuple[Event, frozenset[int]]], new: list[tuple[Event, list[int]]]) -> dict[int, int]:
    """New event index -> the id of the old event it continues."""
    matched: dict[int, int] = {}
    by_members = {members: eid for eid, (_, members) in old.items() if members}
    for n, (event, items) in enumerate(new):
        eid = by_members.get(frozenset(items))
        if eid is not None:
            matched[n] = eid
    by_time = {(e.start, e.end): eid for eid, (e, members) in old.items() if not members}
    for n, (event, items) in enumerate(new):
        if n not in matched and not items and (event.start, event.end) in by_time:
            matched[n] = by_time[(event.start, event.end)]
    taken = set(matched.values())
    overlaps = sorted(((len(members & set(items)), n, eid) for n, (_, items) in enumerate(new) if n not in matched
                       for eid, (_, members) in old.items() if eid not in taken and members & set(items)),
                      key=lambda t: (-t[0], t[1], t[2]))
    for _, n, eid in overlaps:
        if n not in matched and eid not in taken:
            matched[n] = eid
            taken.add(eid)
    return matched


def derive_events(s: Session, gap: timedelta = timedelta(hours=8), far_km: float = 50.0,
                  burst_gap: timedelta = timedelta(minutes=30), burst_min: int = 5) -> int:
    """Bring the events up to date with the catalogue, keeping the ids of events that continue."""
    places = {p.id: p for p in s.exec(select(Place))}
    new = [_event_row(g, places) for g in _groups(_moments(s, burst_gap, burst_min), gap, far_km)]
    members: dict[int, set[int]] = {}
    for event_id, item_id in s.exec(select(EventItem.event_id, EventItem.item_id)):
        members.setdefault(event_id, set()).add(item_id)
    old = {e.id: (e, frozenset(members.get(e.id, ()))) for e in s.exec(select(Event))}
    matched = _match(old, new)
    gone = [eid for eid in old if eid not in set(matched.values())]
    # The user's own diary entry outlives its event (see _keep_user_entries); the LLM's is rewritten.
    orphans = [(e.text, e.language, old[e.event_id][1]) for e in s.exec(
        select(EventEntry).where(EventEntry.event_id.in_(gone), EventEntry.source == "user"))] if gone else []
    if gone:
        s.exec(delete(EventEntry).where(EventEntry.event_id.in_(gone)))
        s.exec(delete(EventItem).where(EventItem.event_id.in_(gone)))
        s.exec(delete(Event).where(Event.id.in_(gone)))
    now: dict[int, set[int]] = {}
    for n, (event, items) in enumerate(new):
        eid = matched.get(n)
        if eid is None:
            s.add(event)
            s.flush()
            s.add_all(EventItem(event_id=event.id, item_id=i) for i in items)
            now[event.id] = set(items)
            continue
        now[eid] = set(items)
        current, had = old[eid]
        for name in _FIELDS:
            if getattr(current, name) != getattr(event, name):
                setattr(current, name, getattr(event, name))
        s.add(current)
        if had != frozenset(items):
            s.exec(delete(EventItem).where(EventItem.event_id == eid))
            s.flush()
            s.add_all(EventItem(event_id=eid, item_id=i) for i in items)
    s.flush()
    _keep_user_entries(s, orphans, now)
    return len(new)


def _keep_user_entries(s: Session, orphans: list[tuple[str, str, frozenset[int]]], now: dict[int, set[int]]) -> None:
    """The user's entries of events that are gone (merged into another) move to the event that
    holds most of their items: in place of its LLM entry, or after its own user entry. Only an
    entry none of whose items is left in any event goes with its event."""
    for text, language, members in orphans:
        best = max(now, key=lambda eid: (len(now[eid] & members), -eid), default=None)
        if best is None or not now[best] & members:
            continue
        entry = s.get(EventEntry, best)
        if entry is not None and entry.source == "user":
            entry.text = f"{entry.text}\n\n{text}"
        else:
            entry = entry or EventEntry(event_id=best, text=text)
            entry.text, entry.language, entry.source, entry.fingerprint = text, language, "user", ""
            entry.citations, entry.model = "[]", None
        s.add(entry)
        s.flush()

