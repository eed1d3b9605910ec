"""Which JSON location export a document is, by its shape, and the reader for it.

Many apps write JSON and none of them says what it is, so the keys decide: Takeout's
``locations``/``timelineObjects``, the on-device Timeline's ``semanticSegments``, the phone's
list of ``startTime`` entries, GeoJSON's ``type``, OwnTracks' ``_type``, Immich's assets
and map markers. Anything else is refused with a description of what it holds.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from deepdiary.connectors.locations import geojson, google_timeline, google_timeline_list, immich, owntracks, takeout
from deepdiary.connectors.locations.model import TrackFile, TrackFormatError

# How many list items to look at when telling one list-shaped export from another; a
# Timeline list may open with trip summaries before the first visit.
_SAMPLE = 50
_GEOJSON_TYPES = {
    "FeatureCollection", "Feature", "GeometryCollection", "Point", "MultiPoint", "LineString", "MultiLineString",
}

Reader = Callable[[Path, Any, datetime], TrackFile]


def read_json_export(path: Path, data: bytes, now: datetime) -> TrackFile:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrackFormatError(f"not readable JSON: {exc}") from exc
    if isinstance(doc, dict):
        return _reader_for_object(doc)(path, doc, now)
    if isinstance(doc, list):
        return _reader_for_list(doc)(path, doc, now)
    raise TrackFormatError(f"not a location file: a JSON {type(doc).__name__}, not a known location export")


def _reader_for_object(doc: dict) -> Reader:
    if "$schema" in doc:
        raise TrackFormatError("not a location file: a JSON Schema describing the format, holding no locations")
    if isinstance(doc.get("timelineObjects"), list):
        return lambda path, d, now: takeout.read_semantic(path, d["timelineObjects"], now)
    if isinstance(doc.get("semanticSegments"), list) or isinstance(doc.get("rawSignals"), list):
        return google_timeline.read_timeline
    if isinstance(doc.get("type"), str) and doc["type"] in _GEOJSON_TYPES:
        return geojson.read_geojson
    if isinstance(doc.get("locations"), list):
        return _reader_for_locations(doc["locations"])
    assets = doc.get("assets")
    if isinstance(assets, dict) and isinstance(assets.get("items"), list):  # Immich's search answer
        return lambda path, d, now: immich.read_assets(path, d["assets"]["items"], now)
    raise TrackFormatError(f"not a location file: {describe_json(doc)}: not a known location export")


def _reader_for_locations(items: list) -> Reader:
    """``{"locations": [...]}`` is written by Takeout (Records), Overland (GeoJSON) and OwnTracks."""
    sample = _dicts(items)
    if any(item.get("type") == "Feature" for item in sample):
        return geojson.read_geojson
    if any("_type" in item for item in sample):
        return lambda path, d, now: owntracks.read_payloads(path, d["locations"], now)
    # Records, and anything else under that key: the Records reader reports what it cannot use.
    return lambda path, d, now: takeout.read_records(path, d["locations"], now)


def _reader_for_list(doc: list) -> Reader:
    sample = _dicts(doc)
    timeline_keys = ("visit", "activity", "timelinePath", "timelineMemory")
    if any("startTime" in item and any(k in item for k in timeline_keys) for item in sample):
        return google_timeline_list.read_timeline_list
    if any(isinstance(item.get("exifInfo"), dict) for item in sample):
        return immich.read_assets
    if any("_type" in item for item in sample):
        return owntracks.read_payloads
    if any({"id", "lat", "lon"} <= item.keys() for item in sample):
        return immich.read_markers
    if any(item.get("type") == "Feature" for item in sample):
        return lambda path, d, now: geojson.read_geojson(path, {"type": "FeatureCollection", "features": d}, now)
    raise TrackFormatError(f"not a location file: {describe_json(doc)}: not a known location export")


def _dicts(items: list) -> list[dict]:
    return [item for item in items[:_SAMPLE] if isinstance(item, dict)]


def _keys(obj: dict, most: int = 8) -> str:
    names = sorted(str(k) for k in obj)
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def describe_json(doc: Any) -> str:
    """'JSON object with keys a, b, c', 'JSON list of numbers': what a user can recognise."""
    if isinstance(doc, dict):
        return f"JSON object with keys {_keys(doc)}" if doc else "an empty JSON object"
    if not doc:
        return "an empty JSON list"
    first = doc[0]
    if isinstance(first, dict):
        return f"JSON list of objects with keys {_keys(first)}"
    kinds = {bool: "true/false values", int: "numbers", float: "numbers", str: "strings", list: "lists"}
    return f"JSON list of {kinds.get(type(first), 'nulls')}"
