"""The phone's ``location-history.json`` (Google Maps on iOS, and Android before 2024's format).

A top-level JSON list; each entry has ``startTime``/``endTime`` (ISO 8601 with the local
offset, e.g. ``2024-01-01T09:00:00.000+01:00``) and one of::

    "visit": {"hierarchyLevel": "0", "topCandidate": {"placeID", "semanticType",
              "placeLocation": "geo:48.8566,2.3522"}}
    "activity": {"start": "geo:..", "end": "geo:..", "topCandidate": {"type"}}
    "timelinePath": [{"point": "geo:48.85,2.35", "durationMinutesOffsetFromStartTime": "12"}]
    "timelineMemory": {...}   (a trip summary, no positions of its own)

Numbers are strings. Positions are RFC 5870 ``geo:`` URIs. A path point's time is the
entry's start plus its offset in minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.google_timeline import place_name
from deepdiary.connectors.locations.model import Track, TrackFile, TrackProblem, Visit
from deepdiary.connectors.locations.vetting import (
    Unreadable, as_float, clean_points, clean_segments, make_visit, parse_iso, parse_latlng_text,
)

# timelineMemory is a trip summary: a known entry, with no positions of its own.
_ENTRY_KINDS = ("visit", "activity", "timelinePath", "timelineMemory")


def read_timeline_list(path: Path, entries: list, now: datetime) -> TrackFile:
    problems: list[TrackProblem] = []
    out = TrackFile(path=path, format="google-timeline-list", problems=problems)
    path_segments: list[list[tuple]] = []
    unknown = 0
    for ei, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not any(k in entry for k in _ENTRY_KINDS):
            unknown += 1
            continue
        where = f"entry {ei}"
        begin, end = parse_iso(entry.get("startTime")), parse_iso(entry.get("endTime"))
        if isinstance(entry.get("visit"), dict):
            visit = _visit(entry["visit"], begin, end, f"{where} (visit)", problems, now)
            if visit is not None:
                out.visits.append(visit)
        if isinstance(entry.get("activity"), dict):
            track = _activity(entry["activity"], begin, end, f"{where} (activity)", problems, now)
            if track is not None:
                out.tracks.append(track)
        if isinstance(entry.get("timelinePath"), list):
            path_segments.append([_path_point(p, begin) for p in entry["timelinePath"]])
    if unknown:
        entries = "1 entry" if unknown == 1 else f"{unknown} entries"
        problems.append(TrackProblem("entries", f"{entries} with no visit, activity or path; skipped"))
    segments = clean_segments(path_segments, "timelinePath", problems, now)
    if segments:
        out.tracks.append(Track(name=None, kind="timeline-path", segments=segments))
    if not (out.tracks or out.visits):
        problems.append(TrackProblem("file", "no visits, activities or paths"))
    return out


def _visit(visit: dict, begin, end, where: str, problems: list[TrackProblem], now: datetime) -> Visit | None:
    # Only top-level visits: a higher level is a finer place inside the same stay.
    if str(visit.get("hierarchyLevel", "0")) != "0":
        return None
    candidate = visit.get("topCandidate") if isinstance(visit.get("topCandidate"), dict) else {}
    lat, lon = parse_latlng_text(candidate.get("placeLocation"))
    name = place_name(candidate.get("semanticType"))
    return make_visit(begin, end, [(lat, lon)], name, None, "timeline", where, problems, now)


def _activity(activity: dict, begin, end, where: str, problems: list[TrackProblem], now: datetime) -> Track | None:
    start, stop = parse_latlng_text(activity.get("start")), parse_latlng_text(activity.get("end"))
    raw = [(*start, None, begin), (*stop, None, end)]
    points = clean_points(raw, where, problems, now)
    if not points:
        problems.append(TrackProblem(where, "no usable start or end; dropped"))
        return None
    candidate = activity.get("topCandidate") if isinstance(activity.get("topCandidate"), dict) else {}
    name = candidate.get("type") if isinstance(candidate.get("type"), str) else None
    return Track(name=name, kind="timeline-activity", segments=[points])


def _path_point(point: Any, begin: datetime | Unreadable | None) -> tuple:
    if not isinstance(point, dict):
        return None, None, None, None
    lat, lon = parse_latlng_text(point.get("point"))
    return lat, lon, None, _offset_time(begin, point.get("durationMinutesOffsetFromStartTime"))


def _offset_time(begin: datetime | Unreadable | None, offset: Any) -> datetime | Unreadable | None:
    """The entry's start plus ``offset`` minutes; an unreadable part makes the time unreadable."""
    if begin is None or isinstance(begin, Unreadable):
        return begin
    if offset is None:
        return None
    minutes = as_float(offset)
    try:
        return begin + timedelta(minutes=minutes)
    except (TypeError, OverflowError):  # not a number, or beyond any calendar
        return Unreadable(f"{offset} minutes after the start")
