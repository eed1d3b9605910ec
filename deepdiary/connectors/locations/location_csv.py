"""CSV of positions, GPSLogger for Android's first of all.

GPSLogger writes (older versions stop after ``provider``; newer ones add more at the end)::

    time,lat,lon,elevation,accuracy,bearing,speed,satellites,provider,hdop,vdop,pdop,
    geoidheight,ageofdgpsdata,dgpsid,activity,battery,annotation,timestamp_ms,time_offset,
    distance,starttimestamp_ms,profile_name,battery_charging

``time`` is ISO 8601 UTC (``2024-03-01T08:00:00.000Z``); ``timestamp_ms`` the same instant
in epoch milliseconds. Columns are found by name, so any CSV with latitude and longitude
columns is read the same way; a second header (a log appended to) is skipped.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

from deepdiary.connectors.locations.model import Track, TrackFile, TrackFormatError, TrackProblem
from deepdiary.connectors.locations.sniff import LAT_COLUMNS, LON_COLUMNS, csv_delimiter
from deepdiary.connectors.locations.vetting import clean_points, in_time_order, parse_epoch, parse_time, plural

_GPSLOGGER_HEAD = ["time", "lat", "lon"]
_TIME_COLUMNS = ("time", "timestamp", "datetime", "date_time", "date")
_EPOCH_MS_COLUMNS = ("timestamp_ms",)
_ELE_COLUMNS = ("elevation", "ele", "altitude", "alt")


def read_location_csv(path: Path, text: str, problems: list[TrackProblem], now: datetime) -> TrackFile:
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip())  # the sniffer saw a header
    rows = csv.reader(lines[first:], delimiter=csv_delimiter(lines[first]))
    header = [name.strip().lower() for name in next(rows)]
    fmt = "gpslogger-csv" if header[:3] == _GPSLOGGER_HEAD else "csv"
    columns = _columns(header)
    if columns["lat"] is None or columns["lon"] is None:
        raise TrackFormatError(f"not a location file: CSV with columns {', '.join(header[:8])}: no latitude and longitude")
    raw: list[tuple] = []
    short: list[int] = []
    for row in _rows_until_damage(rows, first, problems):
        number = first + rows.line_num  # the csv module counts the lines it was given
        if not any(cell.strip() for cell in row) or [c.strip().lower() for c in row] == header:
            continue
        if len(row) <= max(columns["lat"], columns["lon"]):
            short.append(number)
            continue
        raw.append(_row_point(row, columns))
    if short:
        problems.append(
            TrackProblem(f"line {short[0]}", f"{plural(len(short), 'row')} with fewer columns than the header; skipped")
        )
    out = TrackFile(path=path, format=fmt, problems=problems)
    points = clean_points(raw, "rows", problems, now, noun="row")
    if points:
        out.tracks.append(Track(name=None, kind="csv-track", segments=[in_time_order(points)]))
    else:
        problems.append(TrackProblem("file", "no rows with coordinates"))
    return out


def _rows_until_damage(rows, first: int, problems: list[TrackProblem]):
    """The CSV's rows; a row the csv module cannot read (a runaway quote) ends the file, reported."""
    while True:
        try:
            yield next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            where = f"line {first + rows.line_num}"
            problems.append(TrackProblem(where, f"not readable as CSV ({exc}); the rest was not read"))
            return


def _first_of(header: list[str], names: tuple[str, ...]) -> int | None:
    return next((header.index(n) for n in names if n in header), None)


def _columns(header: list[str]) -> dict[str, int | None]:
    return {
        "lat": _first_of(header, LAT_COLUMNS),
        "lon": _first_of(header, LON_COLUMNS),
        "time": _first_of(header, _TIME_COLUMNS),
        "epoch_ms": _first_of(header, _EPOCH_MS_COLUMNS),
        "ele": _first_of(header, _ELE_COLUMNS),
    }


def _cell(row: list[str], index: int | None) -> str | None:
    if index is None or index >= len(row):
        return None
    return row[index].strip() or None


def _row_point(row: list[str], columns: dict[str, int | None]) -> tuple[Any, Any, Any, Any]:
    # The ISO time is what GPSLogger's users see; the epoch column is the fallback.
    text_time = _cell(row, columns["time"])
    if text_time is not None:
        when = parse_time(text_time)
    else:
        when = parse_epoch(_cell(row, columns["epoch_ms"]), "ms")
    return _cell(row, columns["lat"]), _cell(row, columns["lon"]), _cell(row, columns["ele"]), when
