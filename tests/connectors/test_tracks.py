"""GPS files read into tracks, visits and waypoints: real samples checked against gpxpy and
the raw files, bogus input reported (never trusted, never fatal), and stay detection."""

import json
import random
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET

import gpxpy
import pytest

from deepdiary.connectors.tracks import (
    TRACK_EXTENSIONS,
    TrackFormatError,
    TrackPoint,
    find_stays,
    haversine_m,
    iter_track_files,
    read_tracks,
)

UTC = timezone.utc
GPX_DIRS = ("gpxpy", "togeojson")
GX = "{http://www.google.com/kml/ext/2.2}"
KML = "{http://www.opengis.net/kml/2.2}"


def gpx_samples(samples):
    files = sorted(p for d in GPX_DIRS for p in (samples / "gps" / d).glob("*.gpx"))
    assert len(files) >= 16, files
    return files


def takeout(samples, name):
    path = samples / "gps" / "google_takeout" / name
    assert path.is_file(), path
    return path


def utc(t):
    """gpxpy's time as our rules want it: UTC-aware (GPX times without a zone are UTC)."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.utcoffset() is None else t.astimezone(UTC)


def trusted(t):
    return t is not None and datetime(1990, 1, 1, tzinfo=UTC) <= utc(t) <= datetime.now(UTC) + timedelta(days=1)


def points(track_file):
    return [p for t in track_file.tracks for s in t.segments for p in s]


def where_reasons(track_file):
    return [(p.where, p.reason) for p in track_file.problems]


def parse_iso(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------- GPX


def test_every_gpx_sample_matches_gpxpy(samples):
    """Per segment: same points, same positions, same times as gpxpy, except what the rules drop."""
    for path in gpx_samples(samples):
        ref = gpxpy.parse(path.read_text(encoding="utf-8-sig"))
        got = read_tracks(path)
        assert got.format == "gpx", path
        problems = where_reasons(got)

        expected = []  # (kind, name, [segments]) in file order: tracks, then routes
        for ti, trk in enumerate(ref.tracks, 1):
            segments = []
            for si, seg in enumerate(trk.segments, 1):
                if seg.points:
                    segments.append((f"track {ti} segment {si}", seg.points))
                elif any(s.points for s in trk.segments):
                    assert (f"track {ti} segment {si}", "empty segment; dropped") in problems, path
            if segments:
                expected.append(("gpx-track", trk.name, segments))
            else:
                assert any(w == f"track {ti}" and "no points" in r for w, r in problems), (path, ti)
        for ri, rte in enumerate(ref.routes, 1):
            if rte.points:
                expected.append(("gpx-route", rte.name, [(f"route {ri}", rte.points)]))

        assert [(t.kind, t.name, len(t.segments)) for t in got.tracks] == [
            (kind, name, len(segs)) for kind, name, segs in expected
        ], path
        for track, (_, _, segments) in zip(got.tracks, expected):
            for mine, (where, theirs) in zip(track.segments, segments):
                assert len(mine) == len(theirs), (path, where)
                assert [(p.lat, p.lon) for p in mine] == [(q.latitude, q.longitude) for q in theirs]
                assert [p.ele for p in mine] == [q.elevation for q in theirs]
                want = [utc(q.time) if trusted(q.time) else None for q in theirs]
                assert [p.time for p in mine] == want, (path, where)
                assert (mine[0].time, mine[-1].time) == (want[0], want[-1])
                assert all(p.time is None or p.time.tzinfo == UTC for p in mine)
                distrusted = [q for q in theirs if q.time is not None and not trusted(q.time)]
                if distrusted:
                    year = str(utc(distrusted[0].time).year)
                    assert any(
                        w == where and f"{len(distrusted)} point" in r and year in r and "not trusted" in r
                        for w, r in problems
                    ), (path, where, problems)

        assert len(got.waypoints) == len(ref.waypoints), path
        for mine, theirs in zip(got.waypoints, ref.waypoints):
            assert (mine.lat, mine.lon, mine.ele) == (theirs.latitude, theirs.longitude, theirs.elevation)
            assert mine.time == (utc(theirs.time) if trusted(theirs.time) else None)


def test_mojstrovka_1901_timestamps_are_distrusted(samples):
    path = samples / "gps" / "gpxpy" / "Mojstrovka.gpx"
    ref = gpxpy.parse(path.read_text(encoding="utf-8"))
    theirs = ref.tracks[0].segments[0].points
    got = read_tracks(path)
    (track,) = got.tracks
    (segment,) = track.segments
    assert len(segment) == len(theirs) == 184
    assert all(p.time is None for p in segment)
    assert [(p.lat, p.lon, p.ele) for p in segment] == [(q.latitude, q.longitude, q.elevation) for q in theirs]
    (problem,) = got.problems
    assert problem.where == "track 1 segment 1"
    assert "184 points dated 1901-12-13" in problem.reason and "before 1990" in problem.reason


def test_empty_segment_is_reported_and_the_rest_kept(samples):
    got = read_tracks(samples / "gps" / "gpxpy" / "track-with-empty-segment.gpx")
    (track,) = got.tracks
    assert [len(s) for s in track.segments] == [9]
    assert track.segments[0][0].time == datetime(2013, 7, 6, 17, 26, 26, tzinfo=UTC)
    assert track.segments[0][-1].time == datetime(2013, 7, 6, 17, 27, 42, tzinfo=UTC)
    assert where_reasons(got) == [("track 1 segment 2", "empty segment; dropped")]


def test_empty_tracks_are_reported(samples):
    got = read_tracks(samples / "gps" / "gpxpy" / "korita-zbevnica.gpx")
    assert [t.name for t in got.tracks] == ["03-OCT-10 #2", "ACTIVE LOG", "ACTIVE LOG #2"]
    assert where_reasons(got) == [("track 1", "track '03-OCT-10' has no points; dropped")]
    assert len(got.waypoints) == 2


def test_files_without_times_are_not_problems(samples):
    got = read_tracks(samples / "gps" / "gpxpy" / "cerknicko-without-times.gpx")
    assert not any("time" in r or "trusted" in r for _, r in where_reasons(got))
    pts = points(got)
    assert len(pts) == 173 + 52 + 2 + 44 + 2 + 2 + 21
    assert sum(p.time is not None for p in pts) == 5  # the last track kept five of its times
    assert all(p.time is None for p in got.waypoints)


def test_bom_file(samples):
    got = read_tracks(samples / "gps" / "gpxpy" / "unicode_with_bom.gpx")
    assert got.tracks == [] and got.problems == []
    (wpt,) = got.waypoints
    assert (wpt.lat, wpt.lon) == (43.309634, 3.515386)
    assert wpt.time == datetime(2016, 5, 27, 10, 8, 47, 800000, tzinfo=UTC)


def test_naive_gpx_time_is_utc_and_routes_are_read(samples):
    got = read_tracks(samples / "gps" / "gpxpy" / "gpx1.1_with_all_fields.gpx")
    assert [t.kind for t in got.tracks] == ["gpx-track", "gpx-route", "gpx-route"]
    assert got.tracks[0].segments[0][0].time == datetime(2013, 1, 1, 12, 0, 4, tzinfo=UTC)
    route = read_tracks(samples / "gps" / "gpxpy" / "route.gpx")
    assert [(t.kind, len(t.segments[0])) for t in route.tracks] == [("gpx-route", 55)]


def test_bad_gpx_points_are_reported_not_trusted(tmp_path):
    path = tmp_path / "bad.gpx"
    path.write_text(
        """<?xml version="1.0"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>t</name><trkseg>
<trkpt lat="46.0" lon="14.0"><time>2020-05-01T10:00:00Z</time></trkpt>
<trkpt lat="95.0" lon="14.0"><time>2020-05-01T10:01:00Z</time></trkpt>
<trkpt lat="abc" lon="14.0"><time>2020-05-01T10:02:00Z</time></trkpt>
<trkpt lat="46.001" lon="14.0"><time>2999-01-01T00:00:00Z</time></trkpt>
<trkpt lat="46.002" lon="14.0"><time>yesterday</time></trkpt>
<trkpt lat="46.003" lon="14.0"><ele>oops</ele><time>2020-05-01T10:05:00+02:00</time></trkpt>
</trkseg><trkseg/></trk>
<trk><trkseg><trkpt lat="91" lon="0"/></trkseg></trk>
</gpx>"""
    )
    got = read_tracks(path)
    (track,) = got.tracks
    (segment,) = track.segments
    assert [(p.lat, p.time) for p in segment] == [
        (46.0, datetime(2020, 5, 1, 10, 0, tzinfo=UTC)),
        (46.001, None),  # year 2999: position kept, time not trusted
        (46.002, None),  # unreadable time
        (46.003, datetime(2020, 5, 1, 8, 5, tzinfo=UTC)),  # +02:00 read and turned into UTC
    ]
    assert segment[-1].ele is None
    problems = where_reasons(got)
    assert ("track 1 segment 1 point 3", "lat 'abc' is not a number; point dropped") in problems
    assert ("track 1 segment 1 point 6", "<ele> 'oops' is not a number; value ignored") in problems
    text = "\n".join(f"{w}: {r}" for w, r in problems)
    assert "track 1 segment 1: 1 point with missing or impossible coordinates dropped (e.g. lat 95.0" in text
    assert "track 1 segment 1: 1 point dated 2999-01-01: timestamps more than a day in the future" in text
    assert "'yesterday'" in text
    assert "track 1 segment 2: empty segment; dropped" in text
    assert "track 2 segment 1: no usable points left; segment dropped" in text


def test_format_comes_from_content(samples, tmp_path):
    disguised = tmp_path / "track.json"
    disguised.write_bytes((samples / "gps" / "gpxpy" / "track-with-empty-segment.gpx").read_bytes())
    assert read_tracks(disguised).format == "gpx"
    kml_as_gpx = tmp_path / "point.gpx"
    kml_as_gpx.write_bytes((samples / "gps" / "togeojson" / "point.kml").read_bytes())
    assert read_tracks(kml_as_gpx).format == "kml"


# --------------------------------------------------------------------------- KML


def test_gx_track_matches_the_file(samples):
    path = samples / "gps" / "togeojson" / "gxtrack.kml"
    root = ET.parse(path).getroot()
    whens = [parse_iso(w.text) for w in root.iter(f"{KML}when")]
    coords = [tuple(map(float, c.text.split())) for c in root.iter(f"{GX}coord")]
    assert len(whens) == len(coords) == 7
    got = read_tracks(path)
    assert got.format == "kml" and got.problems == []
    (track,) = got.tracks
    assert track.kind == "kml-track"
    (segment,) = track.segments
    assert len(segment) == len(whens)
    assert (segment[0].time, segment[-1].time) == (whens[0], whens[-1])
    assert [p.time for p in segment] == whens
    assert [(p.lon, p.lat, p.ele) for p in segment] == coords


def test_gx_multitrack(samples):
    path = samples / "gps" / "togeojson" / "gxmultitrack.kml"
    root = ET.parse(path).getroot()
    tracks = list(root.iter(f"{GX}Track"))
    got = read_tracks(path)
    (track,) = got.tracks
    assert track.kind == "kml-track" and track.name == "12/04/2014 11:24 AM"
    assert len(track.segments) == len(tracks) == 2
    for segment, ref in zip(track.segments, tracks):
        whens = [parse_iso(w.text) for w in ref.iter(f"{KML}when")]
        assert len(segment) == len(list(ref.iter(f"{GX}coord"))) == len(whens)
        assert (segment[0].time, segment[-1].time) == (whens[0], whens[-1])
    # The start and end placemarks are Points with a TimeStamp: waypoints with that time.
    assert [p.time for p in got.waypoints] == [
        datetime(2014, 4, 12, 14, 26, 16, 702000, tzinfo=UTC),
        datetime(2014, 4, 12, 15, 38, 7, 678000, tzinfo=UTC),
    ]
    assert (got.waypoints[0].lat, got.waypoints[0].lon) == (-40.139527, -71.324739)


def test_my_tracks_multitrack(samples):
    path = samples / "gps" / "togeojson" / "multitrack.kml"
    root = ET.parse(path).getroot()
    whens = [parse_iso(w.text) for t in root.iter(f"{GX}Track") for w in t.iter(f"{KML}when")]
    got = read_tracks(path)
    (track,) = got.tracks
    assert [p.time for p in track.segments[0]] == whens
    assert len(got.waypoints) == 2


def test_point_placemark_is_a_waypoint(samples):
    got = read_tracks(samples / "gps" / "togeojson" / "point.kml")
    assert got.tracks == [] and got.problems == []
    (wpt,) = got.waypoints
    assert (wpt.lat, wpt.lon, wpt.ele, wpt.time) == (37.42228990140251, -122.0822035425683, 0.0, None)


def test_location_history_kml(samples):
    """Google's Location History KML: places with an address are visits, moves are tracks."""
    path = samples / "gps" / "togeojson" / "addresses.kml"
    root = ET.parse(path).getroot()
    placemarks = list(root.iter(f"{KML}Placemark"))
    no_coords = [i for i, pm in enumerate(placemarks, 1) if not list(pm.iter(f"{GX}coord"))]
    got = read_tracks(path)
    assert [(v.name, v.address, v.source) for v in got.visits] == [
        ("Lub d - Bangkok Siam", "925/9 Rama 1 Rd. Wangmai, Pathum Wan, Bangkok 10330, Thailand", "kml"),
        ("Bang Kapi", "Huai Khwang, Bangkok, Thailand", "kml"),
    ]
    hotel = got.visits[0]
    assert (hotel.lat, hotel.lon) == (13.746737, 100.52868400000001)
    assert hotel.start == datetime(2015, 8, 1, 9, 43, 58, 715000, tzinfo=UTC)
    assert hotel.end == datetime(2015, 8, 1, 16, 31, 30, 753000, tzinfo=UTC)
    # A two-point move with a TimeSpan: it started at begin and ended at end.
    moving = got.tracks[0]
    assert moving.name == "Moving" and moving.kind == "kml-track"
    assert [p.time for p in moving.segments[0]] == [
        datetime(2015, 8, 1, 0, 0, tzinfo=UTC),
        datetime(2015, 8, 1, 9, 4, 32, 323000, tzinfo=UTC),
    ]
    assert len(got.tracks) + len(got.visits) == len(placemarks) - len(no_coords)
    empty = [p.where for p in got.problems if p.reason == "no coordinates; skipped"]
    assert [int(w.split()[1]) for w in empty] == no_coords


def test_polygon_and_unreadable_timespan_are_reported(samples):
    got = read_tracks(samples / "gps" / "togeojson" / "timespan.kml")
    assert got.tracks == [] and got.waypoints == [] and got.visits == []
    text = " | ".join(r for _, r in where_reasons(got))
    assert "'0725' is not a date and time" in text and "Polygon" in text


def test_kml_lines_points_and_bad_input(tmp_path):
    path = tmp_path / "mixed.kml"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2"><Document>
 <Placemark><name>walk</name>
  <TimeSpan><begin>2019-06-01T10:00:00Z</begin><end>2019-06-01T11:00:00+01:00</end></TimeSpan>
  <LineString><coordinates>14.0,46.0,300 14.01, 46.01 14.02,46.02,310 200,46,0</coordinates></LineString>
 </Placemark>
 <Placemark><name>uneven</name><gx:Track>
  <when>2019-06-02T10:00:00Z</when><when>2019-06-02T10:01:00Z</when><when>1970-01-01T00:00:00Z</when>
  <gx:coord>14 46 1</gx:coord><gx:coord>14.1 46.1 2</gx:coord>
 </gx:Track></Placemark>
 <Placemark><name>both</name><MultiGeometry>
  <Point><coordinates>14.5,46.5</coordinates></Point>
  <LineString><coordinates>14.5,46.5 14.6,46.6</coordinates></LineString>
 </MultiGeometry></Placemark>
</Document></kml>"""
    )
    got = read_tracks(path)
    walk, uneven, both = got.tracks
    assert walk.kind == "kml-line"
    # Spaces after a comma are tolerated; the point with longitude 200 is dropped.
    assert [(p.lat, p.lon, p.time) for p in walk.segments[0]] == [
        (46.0, 14.0, datetime(2019, 6, 1, 10, 0, tzinfo=UTC)),
        (46.01, 14.01, None),
        (46.02, 14.02, datetime(2019, 6, 1, 10, 0, tzinfo=UTC)),  # 11:00+01:00
    ]
    assert uneven.kind == "kml-track" and len(uneven.segments[0]) == 2
    assert both.kind == "kml-line" and len(got.waypoints) == 1
    problems = where_reasons(got)
    assert any(w == "placemark 1 'walk'" and "impossible coordinates" in r for w, r in problems)
    assert ("placemark 2 'uneven'", "3 times but 2 coordinates; only the first 2 pairs used") in problems


# --------------------------------------------------------------------------- Takeout


@pytest.mark.parametrize("name", ["kgeo_records.json", "rickprice_stubbylocation_Records.json"])
def test_takeout_records_match_the_file(samples, name):
    path = takeout(samples, name)
    locations = json.loads(path.read_text())["locations"]
    expected = sorted(
        (parse_iso(loc["timestamp"]), loc["latitudeE7"] / 1e7, loc["longitudeE7"] / 1e7, loc.get("altitude"))
        for loc in locations
    )
    got = read_tracks(path)
    assert got.format == "takeout-records" and got.problems == []
    (track,) = got.tracks
    assert track.kind == "takeout-records"
    (segment,) = track.segments
    assert len(segment) == len(locations)
    assert segment[0].time == expected[0][0] and segment[-1].time == expected[-1][0]
    assert [(p.time, p.lat, p.lon, p.ele) for p in segment] == expected


def test_takeout_records_variants(tmp_path):
    path = tmp_path / "Records.json"
    e7 = lambda v: round(v * 1e7)  # noqa: E731
    path.write_text(
        json.dumps(
            {
                "locations": [
                    {"latitudeE7": e7(52.1), "longitudeE7": e7(4.3), "timestampMs": "1600000060000"},
                    {"latitudeE7": e7(52.0), "longitudeE7": e7(4.2), "timestampMs": 1600000000000, "altitude": 5},
                    {"latitudeE7": e7(52.2), "longitudeE7": e7(4.4), "timestamp": "2020-09-13T14:28:00.123456789+02:00"},
                    # Old exports overflowed negative E7 values into unsigned 32-bit numbers.
                    {"latitudeE7": e7(-33.9) + 2**32, "longitudeE7": e7(151.2), "timestamp": "2020-09-14T00:00:00Z"},
                    {"latitudeE7": e7(52.3), "longitudeE7": e7(4.5), "timestampMs": "0"},
                    {"longitudeE7": e7(4.5), "timestamp": "2020-09-14T00:00:00Z"},
                ]
            }
        )
    )
    got = read_tracks(path)
    (segment,) = got.tracks[0].segments
    assert [(p.lat, p.time) for p in segment] == [
        (52.0, datetime(2020, 9, 13, 12, 26, 40, tzinfo=UTC)),
        (52.1, datetime(2020, 9, 13, 12, 27, 40, tzinfo=UTC)),
        (52.2, datetime(2020, 9, 13, 12, 28, 0, 123456, tzinfo=UTC)),
        (-33.9, datetime(2020, 9, 14, tzinfo=UTC)),
        (52.3, None),  # 1970: kept right after the location before it in the file, undated
    ]
    assert segment[0].ele == 5.0
    text = " | ".join(r for _, r in where_reasons(got))
    assert "1 location stored as overflowed 32-bit numbers; corrected" in text
    assert "1 location dated 1970-01-01: timestamps before 1990 are not trusted" in text
    assert "1 location with missing or impossible coordinates dropped" in text


def test_takeout_semantic(samples):
    path = takeout(samples, "kgeo_semantic-2021-august.json")
    objects = json.loads(path.read_text())["timelineObjects"]
    visits = [o["placeVisit"] for o in objects if "placeVisit" in o]
    activities = [o["activitySegment"] for o in objects if "activitySegment" in o]
    got = read_tracks(path)
    assert got.format == "takeout-semantic" and got.problems == []

    assert len(got.visits) == len(visits) == 64
    assert [v.name for v in got.visits] == [pv["location"].get("name") for pv in visits]
    assert sum(v.name is not None for v in got.visits) == 37
    assert [v.address for v in got.visits] == [pv["location"].get("address") for pv in visits]
    for mine, pv in zip(got.visits, visits):
        assert mine.source == "takeout"
        assert (mine.lat, mine.lon) == (pv["location"]["latitudeE7"] / 1e7, pv["location"]["longitudeE7"] / 1e7)
        assert mine.start == parse_iso(pv["duration"]["startTimestamp"])
        assert mine.end == parse_iso(pv["duration"]["endTimestamp"])

    assert len(got.tracks) == len(activities)
    for track, seg in zip(got.tracks, activities):
        assert track.kind == "takeout-activity" and track.name == seg["activityType"]
        (points,) = track.segments
        assert points[0].time == parse_iso(seg["duration"]["startTimestamp"])
        assert points[-1].time == parse_iso(seg["duration"]["endTimestamp"])
        assert (points[0].lat, points[0].lon) == (seg["startLocation"]["latitudeE7"] / 1e7, seg["startLocation"]["longitudeE7"] / 1e7)
        raw = seg.get("simplifiedRawPath", {}).get("points")
        if raw:  # raw fixes (with their own times) between start and end
            assert [p.time for p in points[1:-1]] == [parse_iso(r["timestamp"]) for r in raw]
        else:
            assert len(points) == 2 + len(seg.get("waypointPath", {}).get("waypoints", []))


def test_takeout_semantic_bad_objects(tmp_path):
    path = tmp_path / "2020_MAY.json"
    path.write_text(
        json.dumps(
            {
                "timelineObjects": [
                    {"placeVisit": {"location": {"latitudeE7": 520000000, "longitudeE7": 40000000, "name": "Home"},
                                    "duration": {"startTimestampMs": "1588320000000", "endTimestampMs": "1588323600000"}}},
                    {"placeVisit": {"location": {"latitudeE7": 520000000, "longitudeE7": 40000000},
                                    "duration": {"startTimestamp": "2020-05-01T10:00:00Z", "endTimestamp": "2020-05-01T09:00:00Z"}}},
                    {"somethingNew": {}},
                    {"activitySegment": {"duration": {}}},
                ]
            }
        )
    )
    got = read_tracks(path)
    (home,) = got.visits
    assert (home.name, home.start, home.end) == ("Home", datetime(2020, 5, 1, 8, tzinfo=UTC), datetime(2020, 5, 1, 9, tzinfo=UTC))
    assert [w for w, _ in where_reasons(got)] == [
        "timeline object 2 (placeVisit)",
        "timeline object 3",
        "timeline object 4 (activitySegment)",
    ]


@pytest.mark.parametrize(
    "name", ["Records.schema.json", "Semantic.schema.json", "kgeo_settings.json", "kgeo_timeline-edits.json"]
)
def test_non_location_json_is_refused(samples, name):
    with pytest.raises(TrackFormatError, match="^not a location file: "):
        read_tracks(takeout(samples, name))


# --------------------------------------------------------------------------- damaged files


def _damaged_outcome(path, full):
    """A damaged file raises TrackFormatError or reports the damage; never anything else."""
    try:
        got = read_tracks(path)
    except TrackFormatError as exc:
        assert str(exc)
        return "error"
    assert any(p.where.startswith("line ") for p in got.problems), got.problems
    # What was recovered is the start of the real data, not something invented. A time may
    # be missing (a KML TimeSpan after the cut), never different.
    mine, theirs = points(got), points(full)
    assert [(p.lat, p.lon) for p in mine] == [(p.lat, p.lon) for p in theirs][: len(mine)]
    assert all(a.time in (None, b.time) for a, b in zip(mine, theirs))
    return "recovered"


def test_truncated_gpx_keeps_what_came_before(samples, tmp_path):
    source = samples / "gps" / "gpxpy" / "korita-zbevnica.gpx"
    data = source.read_bytes()
    path = tmp_path / "cut.gpx"
    path.write_bytes(data[: len(data) // 2])
    got = read_tracks(path)
    (problem,) = [p for p in got.problems if p.where.startswith("line ")]
    assert "cut off or damaged" in problem.reason
    full = read_tracks(source)
    assert 0 < len(points(got)) < len(points(full))
    assert _damaged_outcome(path, full) == "recovered"


def test_truncated_and_garbled_samples_never_crash(samples, tmp_path):
    rng = random.Random(7)
    outcomes = set()
    files = [*gpx_samples(samples), *sorted((samples / "gps" / "togeojson").glob("*.kml"))]
    files += [takeout(samples, "kgeo_records.json"), takeout(samples, "kgeo_semantic-2021-august.json")]
    for source in files:
        data = source.read_bytes()
        full = read_tracks(source)
        for _ in range(6):
            path = tmp_path / f"cut{source.suffix}"
            path.write_bytes(data[: rng.randrange(1, len(data.rstrip()))])
            outcomes.add(_damaged_outcome(path, full))
            garbled = bytearray(data)
            for _ in range(4):
                garbled[rng.randrange(len(garbled))] = rng.randrange(256)
            path.write_bytes(bytes(garbled))
            try:
                read_tracks(path)
            except TrackFormatError:
                pass
    assert outcomes == {"error", "recovered"}


def test_garbage_files(tmp_path):
    cases = {
        "noise.gpx": bytes(random.Random(1).randrange(256) for _ in range(2000)),
        "empty.kml": b"",
        "html.gpx": b"<!doctype html><html><body>404</body></html>",
        "broken.gpx": b"<?xml version='1.0'?><gpx><trk><trkseg><trkpt lat='1' lon='2'>&&&",
        "broken.json": b'{"locations": [{"latitudeE7": 1',
        "list.json": b"[1, 2, 3]",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(TrackFormatError) as info:
            read_tracks(path)
        assert str(info.value), name
    with pytest.raises(TrackFormatError, match="cannot read"):
        read_tracks(tmp_path / "missing.gpx")


def test_latin1_bytes_in_a_utf8_file_are_replaced_and_reported(tmp_path):
    path = tmp_path / "latin.gpx"
    path.write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1"><wpt lat="45" lon="14">'
        b"<name>Cerkni\xe8ko</name></wpt></gpx>"
    )
    got = read_tracks(path)
    assert len(got.waypoints) == 1
    assert [p.where for p in got.problems] == ["line 1"]


# --------------------------------------------------------------------------- stays and geometry


def test_haversine():
    assert haversine_m(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343_560, rel=0.005)  # Paris-London
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=0.001)
    assert haversine_m(46.0, 14.0, 46.0, 14.0) == 0.0


def _walk(start, lat, lon, minutes, step_m=0.0, jitter_m=0.0, rng=None):
    """One point a minute; each moves step_m north, plus up to jitter_m of noise."""
    out = []
    for i in range(minutes):
        dlat = (i * step_m + (rng.uniform(-jitter_m, jitter_m) if rng else 0)) / 111_195
        out.append(TrackPoint(time=start + timedelta(minutes=i), lat=lat + dlat, lon=lon))
    return out


def test_find_stays_on_a_synthetic_day():
    rng = random.Random(3)
    t0 = datetime(2021, 5, 1, 9, 0, tzinfo=UTC)
    stay = _walk(t0, 46.05, 14.50, 21, jitter_m=15, rng=rng)  # 20 minutes within 30 m
    leave = _walk(t0 + timedelta(minutes=21), 46.05 + 200 / 111_195, 14.50, 20, step_m=100)  # 2 km away
    undated = [TrackPoint(time=None, lat=10.0, lon=10.0)] * 50
    (found,) = find_stays(leave[::-1] + undated + stay)  # order and undated points do not matter
    assert found.source == "stay"
    assert found.start == t0 and found.end == t0 + timedelta(minutes=20)
    assert haversine_m(found.lat, found.lon, 46.05, 14.50) < 30
    assert find_stays(stay, min_duration=timedelta(minutes=30)) == []
    assert find_stays(leave) == []
    assert find_stays([]) == []


def test_find_stays_on_takeout_data(samples):
    # Stubby records: one place, a fix a day -> one stay covering them all.
    records = read_tracks(takeout(samples, "rickprice_stubbylocation_Records.json"))
    (stay,) = find_stays(points(records))
    assert stay.start < stay.end and stay.end - stay.start == timedelta(days=3)

    # Semantic file: the activities' end and start points sit at the places visited in
    # between, so the stays found from them should match Google's own placeVisits.
    semantic = read_tracks(takeout(samples, "kgeo_semantic-2021-august.json"))
    stays = find_stays(points(semantic))
    assert len(stays) >= 20
    matched = 0
    for s in stays:
        assert s.start < s.end and s.end - s.start >= timedelta(minutes=10)
        assert s.source == "stay"
        overlapping = [v for v in semantic.visits if v.start < s.end and s.start < v.end]
        if any(haversine_m(s.lat, s.lon, v.lat, v.lon) < 500 for v in overlapping):
            matched += 1
    assert matched >= 0.9 * len(stays)
    kgeo = read_tracks(takeout(samples, "kgeo_records.json"))
    assert all(s.start < s.end for s in find_stays(points(kgeo)))


def test_iter_track_files(tmp_path, samples):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for name in ("z.gpx", "a.KML", "b/deep/c.json", "b/notes.txt", ".hidden/x.gpx", "b/.y.gpx"):
        (tmp_path / name).write_text("x")
    found = list(iter_track_files([tmp_path]))
    assert [p.relative_to(tmp_path.resolve()).as_posix() for p in found] == ["a.KML", "b/deep/c.json", "z.gpx"]
    assert list(iter_track_files(tmp_path / "b" / "notes.txt")) == [(tmp_path / "b" / "notes.txt").resolve()]
    assert TRACK_EXTENSIONS == {".gpx", ".kml", ".json"}
    every = list(iter_track_files([samples / "gps"]))
    assert len(every) == 9 + 13 + 7  # gpxpy, togeojson, google_takeout (the .md notes skipped)


def test_undeclared_gx_prefix_is_tolerated(tmp_path):
    path = tmp_path / "handmade.kml"
    path.write_text(
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><gx:Track>'
        "<when>2019-06-02T10:00:00Z</when><gx:coord>14 46 1</gx:coord></gx:Track></Placemark></kml>"
    )
    got = read_tracks(path)
    assert [(p.lat, p.lon, p.time) for p in points(got)] == [(46.0, 14.0, datetime(2019, 6, 2, 10, tzinfo=UTC))]
    assert [p.where for p in got.problems] == ["line 1"]


def test_truncated_kml_keeps_whole_points(samples, tmp_path):
    source = samples / "gps" / "togeojson" / "gxmultitrack.kml"
    data = source.read_bytes()
    cut = data.index(b"<gx:Track>", data.index(b"<gx:Track>") + 1) + 400  # inside the second track
    path = tmp_path / "cut.kml"
    path.write_bytes(data[:cut])
    got = read_tracks(path)
    (track,) = got.tracks
    assert len(track.segments) == 2 and len(track.segments[0]) == 13 and 0 < len(track.segments[1]) < 13
    assert all(p.time is not None for s in track.segments for p in s)
    assert any(p.where.startswith("line ") and "cut off" in p.reason for p in got.problems)
