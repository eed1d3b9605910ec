"""Google's on-device Timeline export (Android, 2024 on): ``Timeline.json``.

Since Google moved Timeline onto the phone, Settings > Location > Timeline > Export writes
one object::

    {"semanticSegments": [{"startTime", "endTime", and one of
         "visit": {"hierarchyLevel", "topCandidate": {"placeId", "semanticType",
                   "placeLocation": {"latLng": "48.8566°, 2.3522°"}}},
         "activity": {"start": {"latLng"}, "end": {"latLng"}, "distanceMeters",
                      "topCandidate": {"type"}},
         "timelinePath": [{"point": "48.85°, 2.35°", "time"}]}],
     "rawSignals": [{"position": {"LatLng", "accuracyMeters", "altitudeMeters", "timestamp"}}],
     "userLocationProfile": {...}}

Visits become visits (only ``hierarchyLevel`` 0: a higher level is a finer place inside
the same stay and would count the same hours twice); each activity becomes a track from
its start to its end; all timelinePath points make one track, a segment per semantic
segment; raw position fixes make one more track. ``userLocationProfile`` (frequent places,
with no times) and raw activity or Wi-Fi records hold no timed position and are not read.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.model import Track, TrackFile, TrackProblem, Visit
from deepdiary.connectors.locations.vetting import (
    clean_points, clean_segments, in_time_order, make_visit, parse_iso, parse_latlng_text, plural,
)

_UNKNOWN_PLACE_TYPES = {"", "unknown", "semantic_type_unknown"}
# timelineMemory is a trip summary: a known segment, with no positions of its own.
_SEGMENT_KINDS = ("visit", "activity", "timelinePath", "timelineMemory")


def read_timeline(path: Path, doc: dict, now: datetime) -> TrackFile:
    problems: list[TrackProblem] = []
    out = TrackFile(path=path, format="google-timeline", problems=problems)
    segments = doc.get("semanticSegments") if isinstance(doc.get("semanticSegments"), list) else []
    path_segments: list[list[tuple]] = []
    unknown = 0
    for si, seg in enumerate(segments, 1):
        if not isinstance(seg, dict) or not any(k in seg for k in _SEGMENT_KINDS):
            unknown += 1
            continue
        where = f"semantic segment {si}"
        begin, end = parse_iso(seg.get("startTime")), parse_iso(seg.get("endTime"))
        if isinstance(seg.get("visit"), dict):
            visit = _visit(seg["visit"], begin, end, f"{where} (visit)", problems, now)
            if visit is not None:
                out.visits.append(visit)
        if isinstance(seg.get("activity"), dict):
            track = _activity(seg["activity"], begin, end, f"{where} (activity)", problems, now)
            if track is not None:
                out.tracks.append(track)
        if isinstance(seg.get("timelinePath"), list):
            path_segments.append([_path_point(p) for p in seg["timelinePath"]])
    if unknown:
        problems.append(
            TrackProblem("semanticSegments", f"{plural(unknown, 'segment')} with no visit, activity or path; skipped")
        )
    path_track = _path_track(path_segments, problems, now)
    if path_track is not None:
        out.tracks.append(path_track)
    raw_track = _raw_signals_track(doc.get("rawSignals"), problems, now)
    if raw_track is not None:
        out.tracks.append(raw_track)
    if not (out.tracks or out.visits):
        problems.append(TrackProblem("file", "no visits, activities or positions"))
    return out


def place_name(semantic_type: Any) -> str | None:
    """'HOME' or 'Inferred Home' -> 'Home'-like names a user reads; unknown places get none."""
    if not isinstance(semantic_type, str) or semantic_type.strip().lower() in _UNKNOWN_PLACE_TYPES:
        return None
    return semantic_type.replace("_", " ").strip().capitalize()


def _visit(visit: dict, begin, end, where: str, problems: list[TrackProblem], now: datetime) -> Visit | None:
    if str(visit.get("hierarchyLevel", "0")) != "0":
        return None
    candidate = visit.get("topCandidate") if isinstance(visit.get("topCandidate"), dict) else {}
    location = candidate.get("placeLocation") if isinstance(candidate.get("placeLocation"), dict) else {}
    lat, lon = parse_latlng_text(location.get("latLng"))
    name = place_name(candidate.get("semanticType"))
    return make_visit(begin, end, [(lat, lon)], name, None, "timeline", where, problems, now)


def _latlng_of(obj: Any) -> tuple[Any, Any]:
    return parse_latlng_text(obj.get("latLng")) if isinstance(obj, dict) else (None, None)


def _activity(activity: dict, begin, end, where: str, problems: list[TrackProblem], now: datetime) -> Track | None:
    raw = [(*_latlng_of(activity.get("start")), None, begin), (*_latlng_of(activity.get("end")), None, end)]
    points = clean_points(raw, where, problems, now)
    if not points:
        problems.append(TrackProblem(where, "no usable start or end; dropped"))
        return None
    candidate = activity.get("topCandidate") if isinstance(activity.get("topCandidate"), dict) else {}
    name = candidate.get("type") if isinstance(candidate.get("type"), str) else None
    return Track(name=name, kind="timeline-activity", segments=[points])


def _path_point(point: Any) -> tuple:
    if not isinstance(point, dict):
        return None, None, None, None
    return (*parse_latlng_text(point.get("point")), None, parse_iso(point.get("time")))


def _path_track(path_segments: list[list[tuple]], problems: list[TrackProblem], now: datetime) -> Track | None:
    segments = clean_segments(path_segments, "timelinePath", problems, now)
    return Track(name=None, kind="timeline-path", segments=segments) if segments else None


def _raw_signals_track(signals: Any, problems: list[TrackProblem], now: datetime) -> Track | None:
    raw = []
    for signal in signals if isinstance(signals, list) else []:
        position = signal.get("position") if isinstance(signal, dict) else None
        if not isinstance(position, dict):
            continue  # activity records and Wi-Fi scans: no position
        lat, lon = parse_latlng_text(position.get("LatLng", position.get("latLng")))
        raw.append((lat, lon, position.get("altitudeMeters"), parse_iso(position.get("timestamp"))))
    points = clean_points(raw, "rawSignals", problems, now, noun="position")
    return Track(name=None, kind="timeline-raw", segments=[in_time_order(points)]) if points else None
