"""OwnTracks: the Recorder's monthly ``.rec`` logs, and its JSON answers.

A ``.rec`` line is ``<UTC time>\\t<topic padded to 18>\\t<JSON payload>``, e.g.::

    2024-03-01T08:00:00Z	*                 	{"_type":"location","lat":48.85,"lon":2.35,"tst":1709280000}

Only ``_type: location`` payloads are positions of the device; ``lwt``, ``transition``,
``waypoint``, ``cmd`` and the rest are ignored. A position's time is its ``tst`` (Unix
seconds of the fix), else the line's own time; ``alt`` is the elevation. The Recorder's
JSON (``{"locations": [payload...]}``, or a bare list) holds the same payloads.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.model import Track, TrackFile, TrackProblem
from deepdiary.connectors.locations.vetting import clean_points, in_time_order, parse_epoch, parse_iso, plural

_REC_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\t[^\t]*\t(.*)$")


def read_rec(path: Path, text: str, problems: list[TrackProblem], now: datetime) -> TrackFile:
    rows: list[tuple] = []
    unreadable: list[int] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        payload, line_time = _rec_payload(line)
        if payload is None:
            unreadable.append(number)
        elif payload.get("_type") == "location":
            rows.append(_position(payload, line_time))
    if unreadable:
        problems.append(
            TrackProblem(
                f"line {unreadable[0]}",
                f"{plural(len(unreadable), 'line')} not in the Recorder's 'time, topic, JSON' form; skipped",
            )
        )
    return _track_file(path, "owntracks", rows, problems, now)


def read_payloads(path: Path, payloads: list, now: datetime) -> TrackFile:
    """The Recorder's JSON: a list of payloads, the same as in a .rec file."""
    rows = [_position(p, None) for p in payloads if isinstance(p, dict) and p.get("_type") == "location"]
    return _track_file(path, "owntracks", rows, [], now)


def _rec_payload(line: str) -> tuple[dict | None, str | None]:
    match = _REC_LINE.match(line)
    if not match:
        return None, None
    try:
        payload = json.loads(match.group(2))
    except json.JSONDecodeError:
        return None, None
    return (payload, match.group(1)) if isinstance(payload, dict) else (None, None)


def _position(payload: dict, line_time: str | None) -> tuple[Any, Any, Any, Any]:
    when = parse_epoch(payload["tst"], "s") if payload.get("tst") is not None else parse_iso(line_time)
    return payload.get("lat"), payload.get("lon"), payload.get("alt"), when


def _track_file(path: Path, fmt: str, rows: list[tuple], problems: list[TrackProblem], now: datetime) -> TrackFile:
    out = TrackFile(path=path, format=fmt, problems=problems)
    points = clean_points(rows, "locations", problems, now, noun="location")
    if points:
        out.tracks.append(Track(name=None, kind="owntracks", segments=[in_time_order(points)]))
    else:
        problems.append(TrackProblem("file", "no location messages with coordinates"))
    return out
