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


def _in_box(lat_col, lon_col, bbox: tuple[float, float, float, float] | None) -> list:
    if bbox is None:
        return []
    west, south, east, north = bbox
    lon = (lon_col >= west) & (lon_col <= east) if west <= east else (lon_col >= west) | (lon_col <= east)
    return [lat_col >= south, lat_col <= north, lon]


def map_features(s: Session, bbox: tuple[float, float, float, float] | None = None,
                 date_from: datetime | None = None, date_to: datetime | None = None,
                 max_track_points: int = 2000) -> dict:
    """GeoJSON of photo points, stays and tracks inside ``bbox`` (west, south, east, north;
    a west greater than east crosses the antimeridian) and the period. Long tracks are
    thinned to ``max_track_points`` so a year of GPS stays drawable."""
    from deepdiary.memory.tables import Track, TrackPointRow

    features: list[dict] = []
    photos = select(Item.id, Item.lat, Item.lon, Item.taken_at, Item.place_id).where(
        Item.kind == "photo", Item.lat.is_not(None), Item.lon.is_not(None), *_in_box(Item.lat, Item.lon, bbox))
    if date_from:
        photos = photos.where(Item.taken_at >= date_from)
    if date_to:
        photos = photos.where(Item.taken_at <= date_to)
    for item_id, lat, lon, taken, place_id in s.exec(photos.order_by(Item.taken_at, Item.id)):
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {"kind": "photo", "id": item_id, "place_id": place_id,
                                        "taken_at": taken.isoformat() if taken else None}})
    visits = select(Visit).where(*_in_box(Visit.lat, Visit.lon, bbox))
    if date_from:
        visits = visits.where(Visit.end >= date_from)
    if date_to:
        visits = visits.where(Visit.start <= date_to)
    for v in s.exec(visits.order_by(Visit.start, Visit.id)):
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
                         "properties": {"kind": "stay", "id": v.id, "name": v.name or v.address,
                                        "start": v.start.isoformat(), "end": v.end.isoformat()}})
    tracks = select(Track)
    if date_from:
        tracks = tracks.where((Track.end >= date_from) | Track.end.is_(None))
    if date_to:
        tracks = tracks.where((Track.start <= date_to) | Track.start.is_(None))
    for t in s.exec(tracks.order_by(Track.start, Track.id)):
        points = select(TrackPointRow.segment, TrackPointRow.lat, TrackPointRow.lon).where(
            TrackPointRow.track_id == t.id, *_in_box(TrackPointRow.lat, TrackPointRow.lon, bbox))
        segments: dict[int, list[list[float]]] = {}
        rows = s.exec(points.order_by(TrackPointRow.segment, TrackPointRow.id)).all()
        step = max(1, len(rows) // max_track_points)
        for i, (segment, lat, lon) in enumerate(rows):
            if i % step == 0 or i == len(rows) - 1:
                segments.setdefault(segment, []).append([lon, lat])
        lines = [line for line in segments.values() if len(line) >= 2]
        if not lines:
            continue
        features.append({"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": lines},
                         "properties": {"kind": "track", "id": t.id, "name": t.name, "points": len(rows),
                                        "start": t.start.isoformat() if t.start else None,
                                        "end": t.end.isoformat() if t.end else None}})
    return {"type": "FeatureCollection", "features": features}
