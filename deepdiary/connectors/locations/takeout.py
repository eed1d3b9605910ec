"""Google Takeout Location History (until 2024): Records.json and the Semantic Location History months."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.model import Track, TrackFile, TrackProblem, Visit
from deepdiary.connectors.locations.vetting import (
    UTC, Unreadable, clean_points, in_time_order, make_visit, parse_iso, plural,
)

_E7 = 1e7
# Old Takeout exports stored some E7 values as unsigned 32-bit: a latitude of -33 came out
# as 4_000_000_000-something. Undoing the overflow recovers the real place.
_INT32 = 2**32


def _e7(value: Any, limit: int) -> tuple[float | None, bool]:
    """(degrees or None, whether an overflowed value was corrected)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None, False
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None, False
    fixed = False
    if number > limit * 10**7 and number - _INT32 >= -limit * 10**7:
        number -= _INT32
        fixed = True
    return number / _E7, fixed


def _takeout_time(obj: dict, iso_key: str, ms_key: str) -> datetime | Unreadable | None:
    """Takeout times: ISO 8601 under iso_key, or epoch milliseconds (string or int) under ms_key."""
    if obj.get(iso_key) is not None:
        return parse_iso(obj[iso_key])
    ms = obj.get(ms_key)
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return Unreadable(str(ms))


def read_records(path: Path, locations: list, now: datetime) -> TrackFile:
    """Records.json: every raw fix, E7 coordinates, ISO or epoch-millisecond times."""
    problems: list[TrackProblem] = []
    raw, fixed = [], 0
    for loc in locations:
        if not isinstance(loc, dict):
            raw.append((None, None, None, None))
            continue
        lat, fixed_lat = _e7(loc.get("latitudeE7"), 90)
        lon, fixed_lon = _e7(loc.get("longitudeE7"), 180)
        fixed += fixed_lat or fixed_lon
        raw.append((lat, lon, loc.get("altitude"), _takeout_time(loc, "timestamp", "timestampMs")))
    if fixed:
        problems.append(
            TrackProblem("locations", f"{plural(fixed, 'location')} stored as overflowed 32-bit numbers; corrected")
        )
    points = clean_points(raw, "locations", problems, now, noun="location")
    out = TrackFile(path=path, format="takeout-records", problems=problems)
    if not points:
        problems.append(TrackProblem("locations", "no usable locations"))
        return out
    out.tracks.append(Track(name=None, kind="takeout-records", segments=[in_time_order(points)]))
    return out


def read_semantic(path: Path, objects: list, now: datetime) -> TrackFile:
    """A Semantic Location History month: placeVisits become visits, activitySegments tracks."""
    problems: list[TrackProblem] = []
    out = TrackFile(path=path, format="takeout-semantic", problems=problems)
    for oi, obj in enumerate(objects, 1):
        if isinstance(obj, dict) and isinstance(obj.get("placeVisit"), dict):
            visit = _place_visit(obj["placeVisit"], f"timeline object {oi} (placeVisit)", problems, now)
            if visit is not None:
                out.visits.append(visit)
        elif isinstance(obj, dict) and isinstance(obj.get("activitySegment"), dict):
            track = _activity(obj["activitySegment"], f"timeline object {oi} (activitySegment)", problems, now)
            if track is not None:
                out.tracks.append(track)
        else:
            problems.append(TrackProblem(f"timeline object {oi}", "neither a placeVisit nor an activitySegment; skipped"))
    return out


def _place_visit(pv: dict, where: str, problems: list[TrackProblem], now: datetime) -> Visit | None:
    # Only top-level visits: childVisits are finer places inside the same stay and would
    # count the same hours twice.
    loc = pv.get("location") if isinstance(pv.get("location"), dict) else {}
    lat, _ = _e7(loc.get("latitudeE7"), 90)
    lon, _ = _e7(loc.get("longitudeE7"), 180)
    if lat is None or lon is None:  # a place known only by id: use the visit's centre
        lat, _ = _e7(pv.get("centerLatE7"), 90)
        lon, _ = _e7(pv.get("centerLngE7"), 180)
    duration = pv.get("duration") if isinstance(pv.get("duration"), dict) else {}
    begin = _takeout_time(duration, "startTimestamp", "startTimestampMs")
    end = _takeout_time(duration, "endTimestamp", "endTimestampMs")
    name = loc.get("name") if isinstance(loc.get("name"), str) else None
    address = loc.get("address") if isinstance(loc.get("address"), str) else None
    return make_visit(begin, end, [(lat, lon)], name, address, "takeout", where, problems, now)


def _activity(seg: dict, where: str, problems: list[TrackProblem], now: datetime) -> Track | None:
    duration = seg.get("duration") if isinstance(seg.get("duration"), dict) else {}
    begin = _takeout_time(duration, "startTimestamp", "startTimestampMs")
    end = _takeout_time(duration, "endTimestamp", "endTimestampMs")

    def place(key: str, when) -> list[tuple]:
        loc = seg.get(key)
        if not isinstance(loc, dict) or "latitudeE7" not in loc:
            return []
        return [(_e7(loc.get("latitudeE7"), 90)[0], _e7(loc.get("longitudeE7"), 180)[0], None, when)]

    # Raw fixes carry their own times, so they beat the road-snapped waypointPath, which has none.
    middle: list[tuple] = []
    raw_path = seg.get("simplifiedRawPath")
    waypoint_path = seg.get("waypointPath")
    if isinstance(raw_path, dict) and isinstance(raw_path.get("points"), list):
        for p in raw_path["points"]:
            if isinstance(p, dict):
                middle.append(
                    (_e7(p.get("latE7"), 90)[0], _e7(p.get("lngE7"), 180)[0], None, _takeout_time(p, "timestamp", "timestampMs"))
                )
    elif isinstance(waypoint_path, dict) and isinstance(waypoint_path.get("waypoints"), list):
        for p in waypoint_path["waypoints"]:
            if isinstance(p, dict):
                middle.append((_e7(p.get("latE7"), 90)[0], _e7(p.get("lngE7"), 180)[0], None, None))
    raw = place("startLocation", begin) + middle + place("endLocation", end)
    if not raw:
        problems.append(TrackProblem(where, "no start, end or path locations; dropped"))
        return None
    points = clean_points(raw, where, problems, now)
    if not points:
        problems.append(TrackProblem(where, "no usable points left; dropped"))
        return None
    name = seg.get("activityType") if isinstance(seg.get("activityType"), str) else None
    return Track(name=name, kind="takeout-activity", segments=[points])
