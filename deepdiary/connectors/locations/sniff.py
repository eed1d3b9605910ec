"""Which kind of location file some bytes are, from the content rather than the name.

Files get renamed (a GPX saved as .txt, a Timeline export as "export (1).json"), so the first
bytes decide. What matches no known kind is refused with what it looked like, so a user can
tell a wrong file from a broken one.
"""

from __future__ import annotations

import codecs
import csv
import re

from deepdiary.connectors.locations.model import TrackFormatError, TrackProblem
from deepdiary.connectors.locations.xml_repair import local_name

# The first element name; "<?xml" and "<!--" do not match, so the prolog is skipped.
_FIRST_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)")
# The OwnTracks Recorder's .rec line: UTC time, TAB, topic padded to 18, TAB, JSON payload.
OWNTRACKS_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\t")
_ZIP_MAGIC = b"PK\x03\x04"
_CSV_DELIMITERS = ",;\t"

# Column names (lower-cased) a CSV of positions uses; GPSLogger writes the first of each.
LAT_COLUMNS = ("lat", "latitude")
LON_COLUMNS = ("lon", "lng", "long", "longitude")


def _head_text(data: bytes) -> str:
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", "replace")
    else:
        text = head.decode("utf-8", "replace")
    return text.lstrip("\ufeff \t\r\n")


def _looks_binary(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))


def csv_columns(line: str) -> list[str] | None:
    """The column names of a CSV header line, or None when the line has no delimiter."""
    counts = {d: line.count(d) for d in _CSV_DELIMITERS}
    delimiter = max(counts, key=counts.get)
    if counts[delimiter] == 0:
        return None
    return [name.strip() for name in next(csv.reader([line], delimiter=delimiter))]


def csv_delimiter(line: str) -> str:
    return max(_CSV_DELIMITERS, key=line.count)


def has_position_columns(columns: list[str]) -> bool:
    names = {c.lower() for c in columns}
    return any(c in names for c in LAT_COLUMNS) and any(c in names for c in LON_COLUMNS)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _shorten(items: list[str], most: int = 8) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def sniff(data: bytes) -> str:
    """'gpx', 'kml', 'json', 'owntracks' or 'csv'; anything else raises TrackFormatError."""
    if not data.strip():
        raise TrackFormatError("not a location file: the file is empty")
    if data.startswith(_ZIP_MAGIC):
        raise TrackFormatError(
            "not a location file: a ZIP archive (a Takeout download or a KMZ?); unpack it and import what is inside"
        )
    text = _head_text(data)
    if text.startswith(("{", "[")):
        return "json"
    if text.startswith("<"):
        match = _FIRST_ELEMENT.search(text)
        root = local_name(match.group(1)) if match else None
        if root in ("gpx", "kml"):
            return root
        raise TrackFormatError(f"not a location file: XML with root <{root}>, neither GPX nor KML")
    if _looks_binary(data):
        raise TrackFormatError("not a location file: binary data, neither GPX, KML, JSON, an OwnTracks log nor CSV")
    line = _first_line(text)
    if OWNTRACKS_LINE.match(line):
        return "owntracks"
    columns = csv_columns(line)
    if columns is not None and len(columns) > 1:
        if has_position_columns(columns):
            return "csv"
        raise TrackFormatError(
            f"not a location file: CSV with columns {_shorten(columns)}: no latitude and longitude "
            "columns, not a known location export"
        )
    raise TrackFormatError(
        f"not a location file: text starting {line[:40]!r}: neither GPX, KML, JSON, an OwnTracks log nor CSV"
    )


def looks_like_location_text(head: bytes) -> bool:
    """Whether the first bytes of a .txt file are an OwnTracks log or a CSV of positions.

    A folder holds notes and READMEs as .txt too; only these two kinds are worth trying
    (GPSLogger's older versions and OwnTracks exports are saved as .txt).
    """
    try:
        return sniff(head) in ("owntracks", "csv")
    except TrackFormatError:
        return False


def decode_text(data: bytes, problems: list[TrackProblem]) -> str:
    """Bytes of a text format to str: BOM honoured, UTF-8 assumed; bad bytes replaced and reported."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(TrackProblem(f"line {line}", "bytes that are not valid UTF-8; unreadable characters replaced"))
        return data.decode("utf-8-sig", "replace")
