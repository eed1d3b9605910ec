"""KML: placemarks with Point, LineString, gx:Track and gx:MultiTrack; Location History places as visits."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator
from xml.etree import ElementTree as ET

from deepdiary.connectors.locations.model import Track, TrackFile, TrackFormatError, TrackProblem, Visit
from deepdiary.connectors.locations.vetting import Unreadable, as_float, clean_points, make_visit, parse_iso, valid_position
from deepdiary.connectors.locations.xml_repair import XmlScan, local_name
from deepdiary.connectors.xml_safety import parse_xml
from deepdiary.core.geo import haversine_m

_KML_CUT_POINTS = {"Placemark", "Folder", "Document", "Track", "MultiTrack", "when", "coord", "MultiGeometry"}
_NEAR_ONE_PLACE_M = 100.0
_GX_NS = "http://www.google.com/kml/ext/2.2"


def _child(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if local_name(c.tag) == name:
            return c
    return None


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local_name(c.tag) == name]


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
    whens = [parse_iso(_text(w)) for w in _children(track, "when")]
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
        name = local_name(c.tag)
        if name == "MultiGeometry":
            yield from _geometries(c)
        elif name in ("Point", "LineString", "LinearRing", "Track", "MultiTrack", "Polygon"):
            yield c


def read_kml(path: Path, text: str, problems: list[TrackProblem], now: datetime) -> TrackFile:
    damage = None
    if "<gx:" in text and "xmlns:gx" not in text:
        # Hand-made KML often uses gx:Track without declaring the prefix; XML refuses that.
        text = re.sub(r"<kml\b", f'<kml xmlns:gx="{_GX_NS}"', text, count=1)
        problems.append(TrackProblem("line 1", "the gx: prefix is used but not declared; assumed Google's KML extensions"))
    try:
        root = parse_xml(text)
    except ET.ParseError as exc:
        damage = str(exc)
        scan = XmlScan(text, _KML_CUT_POINTS).run()
        repaired = scan.repaired() if scan.error is not None else None
        if repaired is None:
            raise TrackFormatError(f"not readable KML: {exc}") from exc
        problems.append(scan.error_problem())
        try:
            root = parse_xml(repaired)
        except ET.ParseError as exc2:
            raise TrackFormatError(f"not readable KML: {exc}") from exc2
    out = TrackFile(path=path, format="kml", problems=problems)
    placemarks = [el for el in root.iter() if isinstance(el.tag, str) and local_name(el.tag) == "Placemark"]
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
        value = parse_iso(_text(_child(el, tag))) if el is not None else None
        if isinstance(value, Unreadable):
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
        kind = local_name(geom.tag)
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
        usable = [i for i, p in enumerate(seg) if valid_position(p[0], p[1])]
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
            cleaned = clean_points(timed(seg), seg_where, problems, now)
            if cleaned:
                segments.append(cleaned)
            else:
                problems.append(TrackProblem(seg_where, "no usable points left; segment dropped"))
        if segments:
            out.tracks.append(Track(name=name, kind=kind, segments=segments))

    when = stamp or begin or end  # a waypoint is where someone was at the start of the span
    out.waypoints.extend(
        clean_points([p[:3] + (when,) for p in points], where, problems, now, noun="waypoint")
    )
    if not located and not polygons:
        problems.append(TrackProblem(where, "no coordinates; skipped"))


def _kml_visit(located, begin, end, name, address, where, problems, now) -> Visit | None:
    coords = [(as_float(lat), as_float(lon)) for lat, lon, _, _ in located]
    if any(lat is None or lon is None for lat, lon in coords):
        return None
    lat0, lon0 = coords[0]
    if any(haversine_m(lat0, lon0, lat, lon) > _NEAR_ONE_PLACE_M for lat, lon in coords):
        return None  # it moved: a path, not a place
    return make_visit(begin, end, coords, name, address, "kml", where, problems, now)


