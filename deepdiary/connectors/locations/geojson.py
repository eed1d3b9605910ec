"""GeoJSON (RFC 7946) as trackers write it: Point features with a time, lines with or without times.

* GPSLogger: a FeatureCollection of Points with ``properties.time`` (ISO) and ``time_long``
  (epoch ms), or a LineString whose ``properties.start`` is the time of its first point.
* Overland: ``{"locations": [Feature...]}`` with ``properties.timestamp``.
* togeojson and similar converters: LineStrings with per-coordinate times in
  ``properties.coordinateProperties.times`` (or the older ``properties.coordTimes``).

Coordinates are [longitude, latitude, elevation?]. All Point features of a file make one
track in time order; each line feature makes its own track.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.model import Track, TrackFile, TrackProblem
from deepdiary.connectors.locations.vetting import (
    Unreadable, clean_points, clean_segments, in_time_order, parse_epoch, parse_time, plural,
)

# Where trackers put a point's time, in the order they are tried.
_TIME_KEYS = ("time", "timestamp", "datetime", "date", "time_long", "tst")
_ELEVATION_KEYS = ("altitude", "elevation", "ele")
_LINE_TYPES = {"LineString", "MultiLineString"}
_POINT_TYPES = {"Point", "MultiPoint"}


def read_geojson(path: Path, doc: dict, now: datetime) -> TrackFile:
    problems: list[TrackProblem] = []
    out = TrackFile(path=path, format="geojson", problems=problems)
    point_rows: list[tuple] = []
    for fi, (geometry, props) in enumerate(_features(doc), 1):
        where = f"feature {fi}"
        for geom in _flatten(geometry):
            kind = _geometry_type(geom)
            if kind in _POINT_TYPES:
                point_rows.extend(_point_rows(geom, props))
            elif kind in _LINE_TYPES:
                track = _line_track(geom, props, where, problems, now)
                if track is not None:
                    out.tracks.append(track)
            elif kind in ("Polygon", "MultiPolygon"):
                problems.append(TrackProblem(where, "a Polygon is an area, not a path or a place visited; skipped"))
            elif kind is None:  # RFC 7946 allows an unlocated feature
                problems.append(TrackProblem(where, "no geometry; skipped"))
            else:
                problems.append(TrackProblem(where, f"geometry type {kind!r} is not GeoJSON; skipped"))
    points = clean_points(point_rows, "Point features", problems, now)
    if points:
        out.tracks.insert(0, Track(name=None, kind="geojson-points", segments=[in_time_order(points)]))
    if not out.tracks:
        problems.append(TrackProblem("file", "no points or lines with coordinates"))
    return out


def _features(doc: dict) -> list[tuple[Any, dict]]:
    """(geometry, properties) of every feature, whatever the wrapping."""
    if doc.get("type") == "FeatureCollection":
        items = doc.get("features")
    elif doc.get("type") == "Feature":
        items = [doc]
    elif isinstance(doc.get("locations"), list):  # Overland's batch
        items = doc["locations"]
    else:  # a bare geometry
        items = [{"type": "Feature", "geometry": doc}]
    out = []
    for item in items if isinstance(items, list) else []:
        item = item if isinstance(item, dict) else {}
        props = item.get("properties") if isinstance(item.get("properties"), dict) else {}
        out.append((item.get("geometry"), props))
    return out


def _flatten(geometry: Any) -> list[dict]:
    if not isinstance(geometry, dict):
        return [{"type": None}]
    if geometry.get("type") == "GeometryCollection":
        parts = geometry.get("geometries")
        return [g for part in (parts if isinstance(parts, list) else []) for g in _flatten(part)]
    return [geometry]


def _geometry_type(geom: dict) -> str | None:
    kind = geom.get("type")
    return kind if kind is None or isinstance(kind, str) else repr(kind)  # repr: quoted in the problem


def _position(coord: Any) -> tuple[Any, Any, Any]:
    """GeoJSON [lon, lat, ele?] -> (lat, lon, ele); malformed positions come back as (None, None, None)."""
    if not isinstance(coord, list) or len(coord) < 2:
        return None, None, None
    return coord[1], coord[0], coord[2] if len(coord) > 2 else None


def _feature_time(props: dict) -> datetime | Unreadable | None:
    for key in _TIME_KEYS:
        value = props.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str) and value.startswith("@"):  # PHP's "@<unix seconds>", as PhoneTrack sends
            return parse_epoch(value[1:], "s")
        if key == "time_long":
            return parse_epoch(value, "ms")
        return parse_time(value)
    return None


def _point_rows(geom: dict, props: dict) -> list[tuple]:
    coords = geom.get("coordinates")
    if geom.get("type") == "Point":
        coords = [coords]
    coords = coords if isinstance(coords, list) else []
    # One time (or altitude) in the properties belongs to a single position; a MultiPoint's
    # many cannot share it.
    single = len(coords) == 1
    when = _feature_time(props) if single else None
    rows = []
    for coord in coords:
        lat, lon, ele = _position(coord)
        if ele is None and single:  # GPSLogger and Overland put the altitude in the properties
            ele = next((props[k] for k in _ELEVATION_KEYS if props.get(k) is not None), None)
        rows.append((lat, lon, ele, when))
    return rows


def _coordinate_times(props: dict) -> Any:
    nested = props.get("coordinateProperties")
    if isinstance(nested, dict) and nested.get("times") is not None:
        return nested["times"]
    return props.get("coordTimes")


def _line_track(geom: dict, props: dict, where: str, problems: list[TrackProblem], now: datetime) -> Track | None:
    coords = geom.get("coordinates") if isinstance(geom.get("coordinates"), list) else []
    lines = [coords] if geom.get("type") == "LineString" else [c if isinstance(c, list) else [] for c in coords]
    times = _coordinate_times(props)
    if geom.get("type") == "LineString" and times is not None:
        times = [times]
    raw_segments = []
    for li, line in enumerate(lines):
        line_times = _line_times(times, li, len(line), where, problems)
        raw_segments.append([(*_position(c), t) for c, t in zip(line, line_times)])
    if raw_segments and raw_segments[0] and raw_segments[0][0][3] is None and props.get("start"):
        # GPSLogger's line: "start" is the time of its first point; the rest have none.
        raw_segments[0][0] = raw_segments[0][0][:3] + (parse_time(props["start"]),)
    segments = clean_segments(raw_segments, where, problems, now)
    if not segments:
        problems.append(TrackProblem(where, "no usable points in the line; dropped"))
        return None
    name = props.get("name") if isinstance(props.get("name"), str) else None
    return Track(name=name, kind="geojson-line", segments=segments)


def _line_times(times: Any, li: int, n: int, where: str, problems: list[TrackProblem]) -> list:
    """Per-coordinate times of line ``li``; None for each when absent or not one per coordinate."""
    line_times = times[li] if isinstance(times, list) and li < len(times) else None
    if not isinstance(line_times, list):
        return [None] * n
    if len(line_times) != n:
        # Pairing them up would put times on the wrong places.
        problems.append(
            TrackProblem(where, f"{plural(len(line_times), 'time')} for {plural(n, 'coordinate')}; times ignored")
        )
        return [None] * n
    return [parse_time(t) for t in line_times]
