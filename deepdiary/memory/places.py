"""Where you have been: places with the photos taken and the stays recorded there."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from deepdiary.memory.tables import Item, Place, Visit


def places_visited(s: Session, date_from: datetime | None = None, date_to: datetime | None = None,
                   limit: int | None = None) -> list[dict]:
    """Places with photos or stays in the period, in the order first been to: counts and first/last time.

    Photo times are the local wall clock and stay times UTC; at the scale of days that is close enough.
    """
    photos = select(Item.place_id, func.count(), func.min(Item.taken_at), func.max(Item.taken_at)).where(
        Item.kind == "photo", Item.place_id.is_not(None))
    visits = select(Visit.place_id, func.count(), func.min(Visit.start), func.max(Visit.end)).where(
        Visit.place_id.is_not(None))
    if date_from:
        photos, visits = photos.where(Item.taken_at >= date_from), visits.where(Visit.end >= date_from)
    if date_to:
        photos, visits = photos.where(Item.taken_at <= date_to), visits.where(Visit.start <= date_to)
    found: dict[int, dict] = {}
    for key, stmt in (("photos", photos.group_by(Item.place_id)), ("visits", visits.group_by(Visit.place_id))):
        for place_id, n, first, last in s.exec(stmt):
            row = found.setdefault(place_id, {"id": place_id, "photos": 0, "visits": 0, "first": first, "last": last})
            row[key] = n
            row["first"], row["last"] = _bound(min, row["first"], first), _bound(max, row["last"], last)
    places = {p.id: p for p in s.exec(select(Place).where(Place.id.in_(list(found))))}
    for place_id, row in found.items():
        p = places[place_id]
        row.update(city=p.city, region=p.admin1, country=p.country, city_zh=p.city_zh)
    rows = sorted(found.values(), key=lambda r: (r["first"] or datetime.max, r["id"]))
    return rows[:limit] if limit else rows


def _bound(pick, *times):
    known = [t for t in times if t is not None]
    return pick(known) if known else None
