"""GPS files to time-stamped points and visits: GPX, KML and Google Takeout location history.

No catalogue and no ML here. ``read_tracks`` turns one file into a ``TrackFile`` (tracks of
points, visits, waypoints, and the problems met on the way) or raises ``TrackFormatError``
when the whole file is unusable; ``iter_track_files`` walks folders; ``find_stays`` finds
the places someone stayed in a run of points.

What a user can rely on:

* Bad input is reported, never trusted and never fatal. A point whose timestamp is
  impossible (before 1990, or more than a day in the future: GPS week roll-overs,
  32-bit clock overflows such as 1901-12-13, unset device clocks) keeps its position but
  loses its time, and a ``TrackProblem`` says how many points and why. Points with
  impossible coordinates, empty segments and empty tracks are dropped with a problem.
* A cut-off or garbled GPX/KML file keeps everything before the damage (a device that
  died mid-recording still leaves a usable track), with a problem naming the line; if
  nothing before the damage is usable, it raises ``TrackFormatError`` with the parser's
  reason.
* The format comes from the content, not the extension; a JSON file that is not a
  Takeout location file (schemas, settings, timeline edits) raises
  ``TrackFormatError("not a location file: ...")``.

All times are timezone-aware UTC. Times without a zone are read as UTC, which is what
GPX and Takeout specify.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator
from xml.etree import ElementTree as ET
from xml.parsers import expat

import gpxpy
import gpxpy.gpx
from gpxpy.gpxfield import parse_time as _gpxpy_parse_time

from deepdiary.connectors.files import iter_files
from deepdiary.core.geo import haversine_m

TRACK_EXTENSIONS = {".gpx", ".kml", ".json"}

# Before this, a consumer GPS timestamp is a device fault, not a memory.
EARLIEST_TRUSTED = datetime(1990, 1, 1, tzinfo=timezone.utc)
# Clocks drift and zones get mislabelled by hours; beyond a day ahead it is a wrong clock.
FUTURE_SLACK = timedelta(days=1)
# Mean Earth radius (IUGG); the choice moves distances by < 0.5%, well below GPS noise.

UTC = timezone.utc


class TrackFormatError(Exception):
    """The whole file is unreadable or is not a location file; the message says why."""


@dataclass
class TrackPoint:
    time: datetime | None  # timezone-aware UTC, or None when the file has no (trusted) time
    lat: float
    lon: float
    ele: float | None = None


@dataclass
class Track:
    name: str | None
    kind: str  # gpx-track, gpx-route, kml-track, kml-line, takeout-records, takeout-activity
    segments: list[list[TrackPoint]]


@dataclass
class Visit:
    """A place someone stayed: from Takeout placeVisit, a KML place with an address, or find_stays."""

    start: datetime
    end: datetime
    lat: float
    lon: float
    name: str | None = None
    address: str | None = None
    source: str = "takeout"  # "takeout", "kml" or "stay"


@dataclass
class TrackProblem:
    where: str  # "track 1 segment 2", "waypoint 3", "line 40": something a user can find
    reason: str


@dataclass
class TrackFile:
    path: Path
    format: str  # gpx, kml, takeout-records, takeout-semantic
    tracks: list[Track] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    waypoints: list[TrackPoint] = field(default_factory=list)
    problems: list[TrackProblem] = field(default_factory=list)


# --------------------------------------------------------------------------- public API


def iter_track_files(paths: Iterable[Path] | Path | str) -> Iterator[Path]:
    """Track files under ``paths``: sorted, hidden entries skipped (see ``iter_files``)."""
    return iter_files(paths, TRACK_EXTENSIONS)


def read_tracks(path: Path) -> TrackFile:
    """Read one GPX, KML or Takeout location file; the format is detected from the content."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrackFormatError(f"cannot read the file: {exc}") from exc
    kind = _sniff(data)
    now = datetime.now(UTC)
    if kind == "json":
        return _read_takeout(path, data, now)
    problems: list[TrackProblem] = []
    text = _decode_xml(data, problems)
    if kind == "gpx":
        return _read_gpx(path, text, problems, now)
    return _read_kml(path, text, problems, now)


def find_stays(
    points: list[TrackPoint],
    radius_m: float = 150,
    min_duration: timedelta = timedelta(minutes=10),
) -> list[Visit]:
    """Places where the points stayed within ``radius_m`` for at least ``min_duration``.

    Classic stay-point detection (Li et al., 2008): from an anchor point, extend the run
    while points stay within ``radius_m`` of the anchor; a run lasting ``min_duration`` is
    a stay and the walk resumes after it, otherwise the next point becomes the anchor.
    Anchoring on the first point (not a moving centroid) keeps a slow walk from being
    swallowed into one endless "stay". Points without a time are ignored: a stay is a
    statement about time. There is no limit on the gap between two fixes, because phones
    record rarely when they are still; a long gap at one place reads as a long stay.
    """
    timed = sorted((p for p in points if p.time is not None), key=lambda p: p.time)
    stays: list[Visit] = []
    i, n = 0, len(timed)
    while i < n:
        anchor = timed[i]
        j = i + 1
        while j < n and haversine_m(anchor.lat, anchor.lon, timed[j].lat, timed[j].lon) <= radius_m:
            j += 1
        if timed[j - 1].time - anchor.time >= min_duration:
            run = timed[i:j]
            stays.append(
                Visit(
                    start=anchor.time,
                    end=run[-1].time,
                    lat=sum(p.lat for p in run) / len(run),
                    lon=sum(p.lon for p in run) / len(run),
                    source="stay",
                )
            )
            i = j
        else:
            i += 1
    return stays


# --------------------------------------------------------------------------- detection

# The first element name; "<?xml" and "<!--" do not match, so the prolog is skipped.
_FIRST_ELEMENT = re.compile(r"<([A-Za-z_][\w.:-]*)")


def _sniff(data: bytes) -> str:
    """'gpx', 'kml' or 'json' from the first bytes; anything else is not a location file."""
    if not data.strip():
        raise TrackFormatError("not a location file: the file is empty")
    head = data[:4096]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head_text = head.decode("utf-16", "replace")
    else:
        head_text = head.decode("utf-8", "replace")
    head_text = head_text.lstrip("\ufeff \t\r\n")
    if head_text.startswith(("{", "[")):
        return "json"
    if head_text.startswith("<"):
        match = _FIRST_ELEMENT.search(head_text)
        root = _local(match.group(1)) if match else None
        if root in ("gpx", "kml"):
            return root
        raise TrackFormatError(f"not a location file: XML with root <{root}>, neither GPX nor KML")
    raise TrackFormatError("not a location file: neither GPX, KML nor JSON")


_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _decode_xml(data: bytes, problems: list[TrackProblem]) -> str:
    """Bytes to text honouring BOM and XML declaration; bad bytes are replaced and reported."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        match = _XML_ENCODING.match(data.lstrip())
        encoding = match.group(1).decode("ascii") if match else "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            problems.append(TrackProblem("line 1", f"unknown encoding {encoding!r}; read as UTF-8"))
            encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # Devices often write Latin-1 names into files declared UTF-8; the points still count.
        line = data[: exc.start].count(b"\n") + 1
        problems.append(
            TrackProblem(f"line {line}", f"bytes that are not valid {encoding}; unreadable characters replaced")
        )
        return data.decode(encoding, "replace")


# --------------------------------------------------------------------------- vetting


def _to_utc(value: datetime) -> datetime:
    # GPX and Takeout specify UTC, so a time without a zone is UTC, not local time.
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: distrusted anyway, keep the wall time
        return value.replace(tzinfo=UTC)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _date_span(times: list[datetime]) -> str:
    first, last = min(times).date().isoformat(), max(times).date().isoformat()
    return first if first == last else f"{first} to {last}"


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _is_number(text: str) -> bool:
    """What float() accepts (so what gpxpy accepts), nan and inf included."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _valid_position(lat: Any, lon: Any) -> bool:
    flat, flon = _as_float(lat), _as_float(lon)
    return flat is not None and flon is not None and -90 <= flat <= 90 and -180 <= flon <= 180


class _Unreadable(str):
    """A time the file gave as text we could not read; kept to quote it in the problem."""


def _trusted_time(value: Any, now: datetime) -> tuple[datetime | None, str | None]:
    """(UTC time or None, why it was not trusted or None)."""
    if value is None:
        return None, None
    if isinstance(value, _Unreadable):
        return None, "unreadable"
    value = _to_utc(value)
    if value < EARLIEST_TRUSTED:
        return None, "early"
    if value > now + FUTURE_SLACK:
        return None, "future"
    return value, None


def _clean_points(
    raw: Iterable[tuple[Any, Any, Any, Any]],
    where: str,
    problems: list[TrackProblem],
    now: datetime,
    noun: str = "point",
) -> list[TrackPoint]:
    """Vet (lat, lon, ele, time) tuples; one problem per kind of fault, not per point."""
    kept: list[TrackPoint] = []
    bad_coords: list[tuple[Any, Any]] = []
    early: list[datetime] = []
    future: list[datetime] = []
    unreadable: list[str] = []
    for lat, lon, ele, when in raw:
        if not _valid_position(lat, lon):
            bad_coords.append((lat, lon))
            continue
        flat, flon = float(lat), float(lon)
        time, why = _trusted_time(when, now)
        if why == "early":
            early.append(_to_utc(when))
        elif why == "future":
            future.append(_to_utc(when))
        elif why == "unreadable":
            unreadable.append(str(when))
        kept.append(TrackPoint(time=time, lat=flat, lon=flon, ele=_as_float(ele)))
    if bad_coords:
        lat, lon = bad_coords[0]
        problems.append(
            TrackProblem(
                where,
                f"{_plural(len(bad_coords), noun)} with missing or impossible coordinates dropped "
                f"(e.g. lat {lat!r}, lon {lon!r})",
            )
        )
    if early:
        problems.append(
            TrackProblem(
                where,
                f"{_plural(len(early), noun)} dated {_date_span(early)}: "
                "timestamps before 1990 are not trusted; positions kept without a time",
            )
        )
    if future:
        problems.append(
            TrackProblem(
                where,
                f"{_plural(len(future), noun)} dated {_date_span(future)}: timestamps more than "
                "a day in the future are not trusted; positions kept without a time",
            )
        )
    if unreadable:
        problems.append(
            TrackProblem(
                where,
                f"{_plural(len(unreadable), noun)} with times that are not a date and time "
                f"(e.g. {unreadable[0]!r}); positions kept without a time",
            )
        )
    return kept


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def _parse_iso(text: Any) -> datetime | _Unreadable | None:
    """ISO 8601 date-time with optional fraction (any length) and zone; None when empty."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    match = _ISO.match(text)
    if not match:
        return _Unreadable(text)
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    zone = match.group(8)
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return _Unreadable(text)


# --------------------------------------------------------------------------- damaged XML


def _local(tag: str) -> str:
    """Tag name without namespace: '{uri}Track' and 'gx:Track' both become 'Track'."""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


class _XmlScan:
    """One expat pass that remembers the last safe place to cut a damaged document.

    ElementTree gives nothing back from a broken file, but a track cut off by a flat
    battery is still a track: everything up to the last complete point is good. A "cut
    point" is the end of an element after which the document can be closed cleanly.
    Subclasses look at elements on the way (expat names keep their prefix, e.g. gx:Track).
    """

    def __init__(self, text: str, cut_points: set[str]):
        self.data = text.encode("utf-8")
        self.cut_points = cut_points
        self.stack: list[tuple[str, int]] = []  # (qualified name, byte offset of its start tag)
        self.cut: tuple[int, tuple[str, ...]] | None = None  # (end offset, names still open)
        self.error: expat.ExpatError | None = None
        # The text is already decoded: tell expat it is UTF-8 whatever the declaration says.
        self.parser = expat.ParserCreate(encoding="utf-8")
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self.chars

    def run(self) -> "_XmlScan":
        try:
            self.parser.Parse(self.data, True)
        except expat.ExpatError as exc:
            self.error = exc
        return self

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self.stack.append((name, self.parser.CurrentByteIndex))
        self.start(name, attrs)

    def _end(self, name: str) -> None:
        _, begin = self.stack.pop()
        idx = self.parser.CurrentByteIndex
        # Expat reports an empty element's end just past "<x/>", a normal one at "</x>".
        if self.data[idx - 2 : idx] == b"/>" and self.data.find(b"<", begin + 1, idx) == -1:
            stop = idx
        else:
            stop = self.data.index(b">", idx) + 1
        self.end(name, begin, stop)
        if _local(name) in self.cut_points:
            self.cut = (stop, tuple(n for n, _ in self.stack))

    def start(self, name: str, attrs: dict[str, str]) -> None:  # for subclasses
        pass

    def end(self, name: str, begin: int, stop: int) -> None:  # for subclasses
        pass

    def chars(self, text: str) -> None:  # for subclasses
        pass

    def error_problem(self) -> TrackProblem:
        assert self.error is not None
        reason = expat.ErrorString(self.error.code)
        return TrackProblem(
            f"line {self.error.lineno}",
            f"the file is cut off or damaged here ({reason}, column {self.error.offset + 1}); "
            "kept what came before, the rest was not read",
        )

    def repaired(self) -> str | None:
        """The document up to the last cut point, with the open elements closed."""
        if self.cut is None:
            return None
        stop, still_open = self.cut
        closing = "".join(f"</{name}>" for name in reversed(still_open))
        return self.data[:stop].decode("utf-8") + closing


# --------------------------------------------------------------------------- GPX

_GPX_FLOAT_CHILDREN = {"ele", "magvar", "geoidheight", "hdop", "vdop", "pdop", "ageofdgpsdata", "course", "speed"}
_GPX_INT_CHILDREN = {"sat", "dgpsid"}


class _GpxScan(_XmlScan):
    """Finds what gpxpy would choke on or silently lose, with the place a user can find it.

    gpxpy rejects a whole file for one point with lat="abc" or <ele>oops</ele>, and turns
    an unreadable <time> into None without a word. This pass finds them so that a point
    without a position is cut out, a bad value is cut out of its point (the position is
    still good), and unreadable times are counted.
    """

    def __init__(self, text: str):
        super().__init__(text, {"trkpt", "rtept", "wpt", "trkseg", "trk", "rte", "metadata"})
        self.trk = self.seg = self.rte = self.wpt = self.pt = 0
        self.point: dict[str, Any] | None = None  # the point element being read
        self.child: str | None = None
        self.child_text: list[str] = []
        self.cuts: list[tuple[int, int, str, str]] = []  # (begin, stop, where, reason), in file order
        self.bad_times: dict[str, list[str]] = {}  # where -> unreadable time texts

    def _parent(self) -> str | None:
        return _local(self.stack[-2][0]) if len(self.stack) >= 2 else None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local, parent = _local(name), self._parent()
        if local == "trk" and parent == "gpx":
            self.trk, self.seg = self.trk + 1, 0
        elif local == "trkseg" and parent == "trk":
            self.seg, self.pt = self.seg + 1, 0
        elif local == "rte" and parent == "gpx":
            self.rte, self.pt = self.rte + 1, 0
        elif local in ("trkpt", "rtept", "wpt"):
            if local == "trkpt":
                self.pt += 1
                where, container = f"track {self.trk} segment {self.seg} point {self.pt}", f"track {self.trk} segment {self.seg}"
            elif local == "rtept":
                self.pt += 1
                where, container = f"route {self.rte} point {self.pt}", f"route {self.rte}"
            else:
                self.wpt += 1
                where = container = f"waypoint {self.wpt}"
            self.point = {"where": where, "container": container, "depth": len(self.stack), "bad_values": []}
            faults = [f"{k} {attrs.get(k)!r} is not a number" for k in ("lat", "lon") if _as_float(attrs.get(k)) is None]
            self.point["faults"] = faults
        elif self.point is not None and len(self.stack) == self.point["depth"] + 1:
            self.child, self.child_text = local, []

    def chars(self, text: str) -> None:
        if self.child is not None:
            self.child_text.append(text)

    def end(self, name: str, begin: int, stop: int) -> None:
        local = _local(name)
        point = self.point
        if point is None:
            return
        if self.child is not None and local == self.child and len(self.stack) == point["depth"]:
            value = "".join(self.child_text).strip()
            if local == "time" and value:
                try:
                    _gpxpy_parse_time(value)
                except Exception:
                    point["bad_time"] = value
            elif local in _GPX_FLOAT_CHILDREN and value and not _is_number(value):
                point["bad_values"].append((begin, stop, f"<{local}> {value!r} is not a number"))
            elif local in _GPX_INT_CHILDREN and value and not re.fullmatch(r"\s*[+-]?\d+\s*", value):
                point["bad_values"].append((begin, stop, f"<{local}> {value!r} is not a whole number"))
            self.child = None
        elif len(self.stack) == point["depth"] - 1:
            if point["faults"]:
                self.cuts.append((begin, stop, point["where"], "; ".join(point["faults"]) + "; point dropped"))
            else:
                for b, e, why in point["bad_values"]:
                    self.cuts.append((b, e, point["where"], f"{why}; value ignored"))
                if "bad_time" in point:
                    self.bad_times.setdefault(point["container"], []).append(point["bad_time"])
            self.point = None


def _parse_gpx(text: str, problems: list[TrackProblem]) -> tuple[gpxpy.gpx.GPX, dict[str, list[str]], str | None]:
    """gpxpy on the text, after cutting off damage and cutting out points gpxpy would reject.

    Returns the GPX, unreadable time texts per container, and the parser's complaint when
    the file was damaged (so a caller that recovers nothing can still say why).
    """
    scan = _GpxScan(text).run()
    damage = None
    if scan.error is not None:
        damage = f"{expat.ErrorString(scan.error.code)} at line {scan.error.lineno}"
        repaired = scan.repaired()
        if repaired is None:
            raise TrackFormatError(f"not readable GPX: {damage}")
        problems.append(scan.error_problem())
        kept_bytes = scan.cut[0]
    else:
        repaired, kept_bytes = text, len(scan.data)
    data = repaired.encode("utf-8")
    # Cut from the end backwards so earlier offsets stay valid; report in file order.
    cuts = [c for c in scan.cuts if c[1] <= kept_bytes]
    for begin, stop, _, _ in reversed(cuts):
        data = data[:begin] + data[stop:]
    problems.extend(TrackProblem(where, reason) for _, _, where, reason in cuts)
    try:
        gpx = gpxpy.parse(data.decode("utf-8"))
    except Exception as exc:  # gpxpy raises GPXException and friends with a plain reason
        raise TrackFormatError(f"not readable GPX: {exc}") from exc
    return gpx, scan.bad_times, damage


def _read_gpx(path: Path, text: str, problems: list[TrackProblem], now: datetime) -> TrackFile:
    gpx, bad_times, damage = _parse_gpx(text, problems)
    out = TrackFile(path=path, format="gpx", problems=problems)

    def raw_points(container: str, points):
        # gpxpy silently gives None for a <time> it cannot read; mark those so they are counted.
        texts = iter(bad_times.get(container, []))
        for p in points:
            when = p.time
            if when is None and container in bad_times:
                nxt = next(texts, None)
                when = _Unreadable(nxt) if nxt is not None else None
            yield p.latitude, p.longitude, p.elevation, when

    for ti, trk in enumerate(gpx.tracks, 1):
        if not any(seg.points for seg in trk.segments):
            label = f"track {trk.name!r}" if trk.name else "the track"
            problems.append(TrackProblem(f"track {ti}", f"{label} has no points; dropped"))
            continue
        segments = []
        for si, seg in enumerate(trk.segments, 1):
            where = f"track {ti} segment {si}"
            if not seg.points:
                problems.append(TrackProblem(where, "empty segment; dropped"))
                continue
            points = _clean_points(raw_points(where, seg.points), where, problems, now)
            if points:
                segments.append(points)
            else:
                problems.append(TrackProblem(where, "no usable points left; segment dropped"))
        if segments:
            out.tracks.append(Track(name=trk.name, kind="gpx-track", segments=segments))
    for ri, rte in enumerate(gpx.routes, 1):
        where = f"route {ri}"
        if not rte.points:
            problems.append(TrackProblem(where, "route has no points; dropped"))
            continue
        points = _clean_points(raw_points(where, rte.points), where, problems, now)
        if points:
            out.tracks.append(Track(name=rte.name, kind="gpx-route", segments=[points]))
        else:
            problems.append(TrackProblem(where, "no usable points left; route dropped"))
    for wi, wpt in enumerate(gpx.waypoints, 1):
        where = f"waypoint {wi}"
        out.waypoints.extend(_clean_points(raw_points(where, [wpt]), where, problems, now, noun="waypoint"))
    if not (out.tracks or out.waypoints):
        if damage:
            raise TrackFormatError(f"not readable GPX: {damage}, and nothing usable before it")
        problems.append(TrackProblem("file", "no tracks, routes or waypoints with points"))
    return out


# --------------------------------------------------------------------------- KML

_KML_CUT_POINTS = {"Placemark", "Folder", "Document", "Track", "MultiTrack", "when", "coord", "MultiGeometry"}
_NEAR_ONE_PLACE_M = 100.0
_GX_NS = "http://www.google.com/kml/ext/2.2"


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if _local(c.tag) == name:
            return c
    return None


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _kml_coordinates(text: str | None) -> list[tuple[str, str, str | None]]:
    """<coordinates>: whitespace-separated 'lon,lat[,alt]' tuples -> (lat, lon, alt) strings."""
    if not text:
        return []
    # Some writers put spaces after the commas; join them back into tuples.
    text = re.sub(r"\s*,\s*", ",", text.strip())
    out = []
    for token in text.split():
        parts = token.split(",")
        out.append((parts[1] if len(parts) > 1 else None, parts[0], parts[2] if len(parts) > 2 else None))
    return out


def _kml_track(track: ET.Element, where: str, problems: list[TrackProblem]) -> list[tuple[Any, Any, Any, Any]]:
    """gx:Track: parallel lists of <when> and <gx:coord> 'lon lat alt'."""
    whens = [_parse_iso(_text(w)) for w in _children(track, "when")]
    coords = []
    for c in _children(track, "coord"):
        parts = (_text(c) or "").split()
        coords.append((parts[1] if len(parts) > 1 else None, parts[0] if parts else None, parts[2] if len(parts) > 2 else None))
    if whens and len(whens) != len(coords):
        problems.append(
            TrackProblem(
                where,
                f"{len(whens)} times but {len(coords)} coordinates; only the first "
                f"{min(len(whens), len(coords))} pairs used",
            )
        )
        n = min(len(whens), len(coords))
        whens, coords = whens[:n], coords[:n]
    if not whens:
        whens = [None] * len(coords)
    return [(lat, lon, alt, when) for (lat, lon, alt), when in zip(coords, whens)]


def _geometries(el: ET.Element) -> Iterator[ET.Element]:
    for c in el:
        name = _local(c.tag)
        if name == "MultiGeometry":
            yield from _geometries(c)
        elif name in ("Point", "LineString", "LinearRing", "Track", "MultiTrack", "Polygon"):
            yield c


def _read_kml(path: Path, text: str, problems: list[TrackProblem], now: datetime) -> TrackFile:
    damage = None
    if "<gx:" in text and "xmlns:gx" not in text:
        # Hand-made KML often uses gx:Track without declaring the prefix; XML refuses that.
        text = re.sub(r"<kml\b", f'<kml xmlns:gx="{_GX_NS}"', text, count=1)
        problems.append(TrackProblem("line 1", "the gx: prefix is used but not declared; assumed Google's KML extensions"))
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        damage = str(exc)
        scan = _XmlScan(text, _KML_CUT_POINTS).run()
        repaired = scan.repaired() if scan.error is not None else None
        if repaired is None:
            raise TrackFormatError(f"not readable KML: {exc}") from exc
        problems.append(scan.error_problem())
        try:
            root = ET.fromstring(repaired)
        except ET.ParseError as exc2:
            raise TrackFormatError(f"not readable KML: {exc}") from exc2
    out = TrackFile(path=path, format="kml", problems=problems)
    placemarks = [el for el in root.iter() if isinstance(el.tag, str) and _local(el.tag) == "Placemark"]
    for pi, pm in enumerate(placemarks, 1):
        _read_placemark(pm, pi, out, problems, now)
    if not (out.tracks or out.waypoints or out.visits):
        if damage:
            raise TrackFormatError(f"not readable KML: {damage}, and nothing usable before it")
        if placemarks or problems:
            problems.append(TrackProblem("file", "no tracks, places or points with coordinates"))
        else:
            raise TrackFormatError("not a location file: KML without placemarks")
    return out


def _placemark_times(pm: ET.Element, where: str, problems: list[TrackProblem]):
    """(stamp, begin, end) from the placemark's own TimeStamp / TimeSpan; unreadable ones reported."""
    found = {}
    stamp, span = _child(pm, "TimeStamp"), _child(pm, "TimeSpan")
    for key, el, tag in (("stamp", stamp, "when"), ("begin", span, "begin"), ("end", span, "end")):
        value = _parse_iso(_text(_child(el, tag))) if el is not None else None
        if isinstance(value, _Unreadable):
            problems.append(TrackProblem(where, f"{tag} {str(value)!r} is not a date and time; ignored"))
            value = None
        found[key] = value
    return found["stamp"], found["begin"], found["end"]


def _read_placemark(pm: ET.Element, pi: int, out: TrackFile, problems: list[TrackProblem], now: datetime) -> None:
    name = _text(_child(pm, "name"))
    where = f"placemark {pi}" + (f" {name!r}" if name else "")
    stamp, begin, end = _placemark_times(pm, where, problems)
    address = _text(_child(pm, "address"))

    track_segments: list[list[tuple]] = []
    line_segments: list[list[tuple]] = []
    points: list[tuple] = []
    polygons = 0
    for geom in _geometries(pm):
        kind = _local(geom.tag)
        if kind == "Point":
            pts = _kml_coordinates(_text(_child(geom, "coordinates")))
            # Google's KML puts an empty <Point/> next to every track: not worth a problem.
            points.extend((lat, lon, alt, None) for lat, lon, alt in pts)
        elif kind in ("LineString", "LinearRing"):
            seg = [(lat, lon, alt, None) for lat, lon, alt in _kml_coordinates(_text(_child(geom, "coordinates")))]
            line_segments.append(seg)
        elif kind == "Track":
            track_segments.append(_kml_track(geom, where, problems))
        elif kind == "MultiTrack":
            track_segments.extend(_kml_track(t, where, problems) for t in _children(geom, "Track"))
        else:
            polygons += 1
    if polygons:
        problems.append(TrackProblem(where, "a Polygon is an area, not a path or a place visited; skipped"))

    # A placemark with an address, a time span and one location is a place someone was
    # (Google's Location History KML writes visits this way); keep it as a visit.
    located = [p for seg in track_segments + line_segments for p in seg] + points
    if address and begin and end and located:
        visit = _kml_visit(located, begin, end, name, address, where, problems, now)
        if visit is not None:
            out.visits.append(visit)
            return

    single = len(track_segments) + len(line_segments) == 1

    # Without times of its own, a lone path with a TimeSpan started at begin and ended at
    # end; the points in between get no time, because interpolating would invent one.
    def timed(seg: list[tuple]) -> list[tuple]:
        if not seg or any(p[3] is not None for p in seg) or not single:
            return seg
        # The span belongs to the first and last points that will survive vetting.
        usable = [i for i, p in enumerate(seg) if _valid_position(p[0], p[1])]
        seg = list(seg)
        if len(usable) >= 2 and (begin or end):
            first, last = usable[0], usable[-1]
            seg[first], seg[last] = seg[first][:3] + (begin,), seg[last][:3] + (end,)
        elif len(usable) == 1 and stamp:
            seg[usable[0]] = seg[usable[0]][:3] + (stamp,)
        return seg

    for kind, raw_segments in (("kml-track", track_segments), ("kml-line", line_segments)):
        segments = []
        for si, seg in enumerate(raw_segments, 1):
            seg_where = where if len(raw_segments) == 1 else f"{where} segment {si}"
            if not seg:
                # When nothing in the placemark has coordinates, "no coordinates" below says it once.
                if located:
                    problems.append(TrackProblem(seg_where, "empty segment; dropped"))
                continue
            cleaned = _clean_points(timed(seg), seg_where, problems, now)
            if cleaned:
                segments.append(cleaned)
            else:
                problems.append(TrackProblem(seg_where, "no usable points left; segment dropped"))
        if segments:
            out.tracks.append(Track(name=name, kind=kind, segments=segments))

    when = stamp or begin or end  # a waypoint is where someone was at the start of the span
    out.waypoints.extend(
        _clean_points([p[:3] + (when,) for p in points], where, problems, now, noun="waypoint")
    )
    if not located and not polygons:
        problems.append(TrackProblem(where, "no coordinates; skipped"))


def _kml_visit(located, begin, end, name, address, where, problems, now) -> Visit | None:
    coords = [(_as_float(lat), _as_float(lon)) for lat, lon, _, _ in located]
    if any(lat is None or lon is None for lat, lon in coords):
        return None
    lat0, lon0 = coords[0]
    if any(haversine_m(lat0, lon0, lat, lon) > _NEAR_ONE_PLACE_M for lat, lon in coords):
        return None  # it moved: a path, not a place
    return _make_visit(begin, end, coords, name, address, "kml", where, problems, now)


def _make_visit(begin, end, coords, name, address, source, where, problems, now) -> Visit | None:
    start, _ = _trusted_time(begin, now)
    stop, _ = _trusted_time(end, now)
    if start is None or stop is None:
        problems.append(TrackProblem(where, f"visit time {begin!s} to {end!s} is missing or not trusted; visit dropped"))
        return None
    if stop < start:
        problems.append(TrackProblem(where, f"visit ends ({stop.isoformat()}) before it starts ({start.isoformat()}); dropped"))
        return None
    good = [(la, lo) for la, lo in coords if _valid_position(la, lo)]
    if not good:
        problems.append(TrackProblem(where, "visit has no usable coordinates; dropped"))
        return None
    lat = sum(la for la, _ in good) / len(good)
    lon = sum(lo for _, lo in good) / len(good)
    return Visit(start=start, end=stop, lat=lat, lon=lon, name=name, address=address, source=source)


# --------------------------------------------------------------------------- Google Takeout

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


def _takeout_time(obj: dict, iso_key: str, ms_key: str) -> datetime | _Unreadable | None:
    """Takeout times: ISO 8601 under iso_key, or epoch milliseconds (string or int) under ms_key."""
    if obj.get(iso_key) is not None:
        return _parse_iso(obj[iso_key])
    ms = obj.get(ms_key)
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(int(ms) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return _Unreadable(str(ms))


def _read_takeout(path: Path, data: bytes, now: datetime) -> TrackFile:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TrackFormatError(f"not readable JSON: {exc}") from exc
    if isinstance(doc, dict) and "$schema" in doc:
        raise TrackFormatError("not a location file: a JSON Schema describing the format, holding no locations")
    if isinstance(doc, dict) and isinstance(doc.get("locations"), list):
        return _read_records(path, doc["locations"], now)
    if isinstance(doc, dict) and isinstance(doc.get("timelineObjects"), list):
        return _read_semantic(path, doc["timelineObjects"], now)
    if isinstance(doc, dict) and "semanticSegments" in doc:
        raise TrackFormatError(
            "not a location file we can read yet: the 2024 on-device Timeline export (semanticSegments)"
        )
    if isinstance(doc, dict):
        keys = ", ".join(sorted(doc)[:6]) or "none"
        raise TrackFormatError(f"not a location file: top-level keys are {keys}; expected 'locations' or 'timelineObjects'")
    raise TrackFormatError(f"not a location file: a JSON {type(doc).__name__}, expected an object with 'locations'")


def _read_records(path: Path, locations: list, now: datetime) -> TrackFile:
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
            TrackProblem("locations", f"{_plural(fixed, 'location')} stored as overflowed 32-bit numbers; corrected")
        )
    points = _clean_points(raw, "locations", problems, now, noun="location")
    out = TrackFile(path=path, format="takeout-records", problems=problems)
    if not points:
        problems.append(TrackProblem("locations", "no usable locations"))
        return out
    # Time order, with an undated location kept right after the one before it in the file.
    keys, last = [], datetime.min.replace(tzinfo=UTC)
    for p in points:
        last = p.time or last
        keys.append(last)
    order = sorted(range(len(points)), key=lambda i: keys[i])
    out.tracks.append(Track(name=None, kind="takeout-records", segments=[[points[i] for i in order]]))
    return out


def _read_semantic(path: Path, objects: list, now: datetime) -> TrackFile:
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
    return _make_visit(begin, end, [(lat, lon)], name, address, "takeout", where, problems, now)


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
    points = _clean_points(raw, where, problems, now)
    if not points:
        problems.append(TrackProblem(where, "no usable points left; dropped"))
        return None
    name = seg.get("activityType") if isinstance(seg.get("activityType"), str) else None
    return Track(name=name, kind="takeout-activity", segments=[points])
