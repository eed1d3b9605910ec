"""GPX 1.0 / 1.1 through gpxpy, after cutting out what gpxpy would choke on or silently lose."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.parsers import expat

import gpxpy
import gpxpy.gpx
from gpxpy.gpxfield import parse_time as _gpxpy_parse_time

from deepdiary.connectors.locations.model import Track, TrackFile, TrackFormatError, TrackProblem
from deepdiary.connectors.locations.vetting import Unreadable, as_float, clean_points, is_number
from deepdiary.connectors.locations.xml_repair import XmlScan, local_name

_GPX_FLOAT_CHILDREN = {"ele", "magvar", "geoidheight", "hdop", "vdop", "pdop", "ageofdgpsdata", "course", "speed"}
_GPX_INT_CHILDREN = {"sat", "dgpsid"}


class _GpxScan(XmlScan):
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
        return local_name(self.stack[-2][0]) if len(self.stack) >= 2 else None

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local, parent = local_name(name), self._parent()
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
            faults = [f"{k} {attrs.get(k)!r} is not a number" for k in ("lat", "lon") if as_float(attrs.get(k)) is None]
            self.point["faults"] = faults
        elif self.point is not None and len(self.stack) == self.point["depth"] + 1:
            self.child, self.child_text = local, []

    def chars(self, text: str) -> None:
        if self.child is not None:
            self.child_text.append(text)

    def end(self, name: str, begin: int, stop: int) -> None:
        local = local_name(name)
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
            elif local in _GPX_FLOAT_CHILDREN and value and not is_number(value):
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


def read_gpx(path: Path, text: str, problems: list[TrackProblem], now: datetime) -> TrackFile:
    gpx, bad_times, damage = _parse_gpx(text, problems)
    out = TrackFile(path=path, format="gpx", problems=problems)

    def raw_points(container: str, points):
        # gpxpy silently gives None for a <time> it cannot read; mark those so they are counted.
        texts = iter(bad_times.get(container, []))
        for p in points:
            when = p.time
            if when is None and container in bad_times:
                nxt = next(texts, None)
                when = Unreadable(nxt) if nxt is not None else None
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
            points = clean_points(raw_points(where, seg.points), where, problems, now)
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
        points = clean_points(raw_points(where, rte.points), where, problems, now)
        if points:
            out.tracks.append(Track(name=rte.name, kind="gpx-route", segments=[points]))
        else:
            problems.append(TrackProblem(where, "no usable points left; route dropped"))
    for wi, wpt in enumerate(gpx.waypoints, 1):
        where = f"waypoint {wi}"
        out.waypoints.extend(clean_points(raw_points(where, [wpt]), where, problems, now, noun="waypoint"))
    if not (out.tracks or out.waypoints):
        if damage:
            raise TrackFormatError(f"not readable GPX: {damage}, and nothing usable before it")
        problems.append(TrackProblem("file", "no tracks, routes or waypoints with points"))
    return out

