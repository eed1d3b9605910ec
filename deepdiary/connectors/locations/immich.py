"""Photo positions saved from an Immich server (its API answers; Immich has no export button).

* Map markers, ``GET /api/map/markers``: ``[{"id", "lat", "lon", "city", "state", "country"}]``.
  They carry no time, so they are kept as positions without a time: on the map, but they
  neither geotag other photos nor count as stays.
* Assets, ``GET /api/assets/...`` or ``POST /api/search/metadata`` (``{"assets": {"items": [...]}}``):
  each with ``exifInfo.latitude``/``longitude`` and ``exifInfo.dateTimeOriginal``; when that is
  missing, ``fileCreatedAt`` (Immich's own "taken at", in UTC). Assets without a position
  (no GPS in the photo) are counted, not read.

A photo's date may be far older than GPS (a scan tagged with a place later), so the
earliest trusted time here is the first photograph's year, not GPS's.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.model import Track, TrackFile, TrackProblem
from deepdiary.connectors.locations.vetting import EARLIEST_PHOTO, clean_points, in_time_order, parse_iso, plural


def read_markers(path: Path, markers: list, now: datetime) -> TrackFile:
    problems: list[TrackProblem] = []
    out = TrackFile(path=path, format="immich-markers", problems=problems)
    raw = [(m.get("lat"), m.get("lon"), None, None) for m in markers if isinstance(m, dict)]
    points = clean_points(raw, "markers", problems, now, noun="marker")
    if not points:
        problems.append(TrackProblem("file", "no markers with coordinates"))
        return out
    problems.append(
        TrackProblem(
            "markers",
            f"{plural(len(points), 'photo position')} without a time (Immich's map markers carry none): "
            "kept on the map, but they cannot geotag photos or show where you were when",
        )
    )
    out.tracks.append(Track(name="Immich map markers", kind="immich-photos", segments=[points]))
    return out


def read_assets(path: Path, assets: list, now: datetime) -> TrackFile:
    problems: list[TrackProblem] = []
    out = TrackFile(path=path, format="immich-assets", problems=problems)
    raw, unplaced = [], 0
    for asset in assets:
        exif = asset.get("exifInfo") if isinstance(asset, dict) else None
        exif = exif if isinstance(exif, dict) else {}
        if exif.get("latitude") is None and exif.get("longitude") is None:
            unplaced += 1
            continue
        raw.append((exif.get("latitude"), exif.get("longitude"), None, _taken_at(asset, exif)))
    if unplaced:
        problems.append(TrackProblem("assets", f"{plural(unplaced, 'asset')} without a position (no GPS); skipped"))
    points = clean_points(raw, "assets", problems, now, noun="photo position", earliest=EARLIEST_PHOTO)
    if points:
        out.tracks.append(Track(name="Immich photos", kind="immich-photos", segments=[in_time_order(points)]))
    else:
        problems.append(TrackProblem("file", "no assets with a position"))
    return out


def _taken_at(asset: dict, exif: dict) -> Any:
    return parse_iso(exif.get("dateTimeOriginal") or asset.get("fileCreatedAt"))
