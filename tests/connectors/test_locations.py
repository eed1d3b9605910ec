"""Location exports people have in 2026, read from small hand-written samples (each written
from its format's public documentation): Google's on-device Timeline, the phone's
location-history.json, GeoJSON from GPSLogger and Overland, OwnTracks .rec, GPSLogger CSV,
and Immich's markers and assets. Plus: unknown files reported, bad fixes counted, and a
re-import of unchanged files reported as unchanged."""

import json
import random
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import select

from deepdiary.connectors.tracks import LOCATION_EXTENSIONS, TrackFormatError, iter_track_files, read_tracks
from deepdiary.memory.tables import Track, TrackPointRow, Visit
from deepdiary.pipeline.text_ingest import TrackIngester

UTC = timezone.utc
SAMPLES = Path(__file__).parent / "samples" / "locations"


def at(*parts):
    return datetime(*parts, tzinfo=UTC)


def rows(track):
    """(lat, lon, ele, time) per segment."""
    return [[(p.lat, p.lon, p.ele, p.time) for p in seg] for seg in track.segments]


def visits(track_file):
    return [(v.start, v.end, v.lat, v.lon, v.name, v.address, v.source) for v in track_file.visits]


def where_reasons(track_file):
    return [(p.where, p.reason) for p in track_file.problems]


# --------------------------------------------------------------------------- one test per format


def test_google_on_device_timeline():
    got = read_tracks(SAMPLES / "Timeline.json")
    assert got.format == "google-timeline" and got.problems == []
    # Times carry +02:00 and -04:00 offsets; everything comes back in UTC. The hierarchyLevel 1
    # bakery inside the home visit is not a second visit.
    assert visits(got) == [
        (at(2024, 5, 4, 6), at(2024, 5, 4, 8, 30), 48.8566, 2.3522, "Home", None, "timeline"),
        (at(2024, 5, 4, 9), at(2024, 5, 4, 11, 15), 48.8738, 2.295, None, None, "timeline"),
    ]
    activity, path, raw = got.tracks
    assert (activity.kind, activity.name) == ("timeline-activity", "IN_PASSENGER_VEHICLE")
    assert rows(activity) == [[(48.8566, 2.3522, None, at(2024, 5, 4, 8, 30)), (48.8738, 2.295, None, at(2024, 5, 4, 9))]]
    assert (path.kind, path.name) == ("timeline-path", None)
    assert rows(path) == [[
        (48.8566, 2.3522, None, at(2024, 5, 4, 8, 31)),
        (48.865, 2.321, None, at(2024, 5, 4, 8, 42)),
        (48.8738, 2.295, None, at(2024, 5, 4, 8, 58)),
    ]]
    # Raw positions in time order; a negative longitude keeps its sign; Wi-Fi and activity records are not positions.
    assert raw.kind == "timeline-raw"
    assert rows(raw) == [[(48.8567, 2.3521, 41.5, at(2024, 5, 4, 6, 5)), (40.7128, -74.006, 10.0, at(2024, 5, 10, 18))]]


def test_phone_location_history_list():
    got = read_tracks(SAMPLES / "location-history.json")
    assert got.format == "google-timeline-list" and got.problems == []
    assert visits(got) == [
        (at(2024, 1, 1, 8), at(2024, 1, 1, 9), 52.520008, 13.404954, "Work", None, "timeline"),
        (at(2024, 1, 1, 22), at(2024, 1, 1, 23, 30), 40.758, -73.9855, None, None, "timeline"),  # -05:00
    ]
    activity, path = got.tracks
    assert (activity.kind, activity.name) == ("timeline-activity", "walking")
    assert rows(activity) == [[(52.520008, 13.404954, None, at(2024, 1, 1, 9)), (52.516275, 13.377704, None, at(2024, 1, 1, 9, 30))]]
    # A path point's time is the entry's start plus its offset in minutes.
    assert rows(path) == [[
        (52.520008, 13.404954, None, at(2024, 1, 1, 9)),
        (52.5185, 13.39, None, at(2024, 1, 1, 9, 12)),
        (52.516275, 13.377704, None, at(2024, 1, 1, 9, 29)),
    ]]


def test_gpslogger_geojson_points():
    got = read_tracks(SAMPLES / "gpslogger-points.geojson")
    assert got.format == "geojson" and got.problems == []
    (track,) = got.tracks
    assert track.kind == "geojson-points"
    # Sorted by time (the file has 08:02 before 08:01); altitude from the properties;
    # the last point has only the epoch-millisecond time_long.
    assert rows(track) == [[
        (51.5072, -0.1276, 35.0, at(2024, 3, 1, 8, 0)),
        (51.5075, -0.127, None, at(2024, 3, 1, 8, 1)),
        (51.5079, -0.1262, 36.5, at(2024, 3, 1, 8, 2)),
        (51.5082, -0.1255, None, at(2024, 3, 1, 8, 3)),
    ]]


def test_overland_batch():
    got = read_tracks(SAMPLES / "overland.json")
    assert got.format == "geojson" and got.problems == []
    (track,) = got.tracks
    assert rows(track) == [[
        (45.535, -122.621, 80.0, at(2017, 1, 1, 17, 0)),  # 10:00-0700
        (45.536, -122.622, 82.0, at(2017, 1, 1, 17, 0, 30)),
    ]]


def test_geojson_lines_with_and_without_times():
    got = read_tracks(SAMPLES / "lines.geojson")
    ride, legs, gpslogger_line, drawn = got.tracks
    assert [t.kind for t in got.tracks] == ["geojson-line"] * 4
    assert ride.name == "Morning ride"
    assert rows(ride) == [[
        (52.52, 13.4, 34.0, at(2024, 6, 1, 7, 0)),
        (52.53, 13.41, 36.0, at(2024, 6, 1, 7, 5)),
        (52.54, 13.42, 38.0, at(2024, 6, 1, 7, 10)),
    ]]
    assert rows(legs) == [
        [(52.52, 13.4, None, at(2024, 6, 2, 9, 0)), (52.521, 13.401, None, at(2024, 6, 2, 9, 1))],
        [(52.5, 13.45, None, at(2024, 6, 2, 10, 0)), (52.501, 13.451, None, at(2024, 6, 2, 10, 2))],
    ]
    # GPSLogger's line: "start" dates the first point only.
    assert rows(gpslogger_line) == [[(52.5, 13.3, None, at(2024, 6, 3, 18)), (52.51, 13.31, None, None), (52.52, 13.32, None, None)]]
    assert rows(drawn) == [[(52.51, 13.35, None, None), (52.515, 13.36, None, None)]]
    assert where_reasons(got) == [("feature 5", "a Polygon is an area, not a path or a place visited; skipped")]


def test_owntracks_rec():
    got = read_tracks(SAMPLES / "2024-03.rec")
    assert got.format == "owntracks" and got.problems == []
    (track,) = got.tracks
    assert track.kind == "owntracks"
    # Only _type location lines: the transition, lwt and waypoint lines are not positions.
    assert rows(track) == [[
        (51.5072, -0.1276, 35.0, at(2024, 3, 1, 8, 0)),
        (51.508, -0.1281, None, at(2024, 3, 1, 8, 5)),
        (51.5033, -0.1196, 40.0, at(2024, 3, 1, 12, 0)),
    ]]


def test_gpslogger_csv():
    got = read_tracks(SAMPLES / "gpslogger.csv")
    assert got.format == "gpslogger-csv" and got.problems == []
    (track,) = got.tracks
    assert track.kind == "csv-track"
    # A quoted annotation with a comma in it does not shift the columns.
    assert rows(track) == [[
        (51.5072, -0.1276, 35.0, at(2024, 3, 1, 8, 0)),
        (51.5075, -0.127, 35.5, at(2024, 3, 1, 8, 1)),
        (51.5079, -0.1262, None, at(2024, 3, 1, 8, 2)),
    ]]


def test_older_gpslogger_txt():
    got = read_tracks(SAMPLES / "gpslogger-2015.txt")
    assert got.format == "gpslogger-csv" and got.problems == []
    (track,) = got.tracks
    assert rows(track) == [[(45.4642, 9.19, 122.0, at(2015, 7, 14, 10)), (45.4646, 9.1905, 121.0, at(2015, 7, 14, 10, 0, 30))]]


def test_immich_map_markers():
    got = read_tracks(SAMPLES / "immich-markers.json")
    assert got.format == "immich-markers"
    (track,) = got.tracks
    assert (track.kind, track.name) == ("immich-photos", "Immich map markers")
    # Markers carry no time: kept as positions without one, and the user is told.
    assert rows(track) == [[(41.9028, 12.4964, None, None), (43.7696, 11.2558, None, None)]]
    ((where, reason),) = where_reasons(got)
    assert where == "markers" and reason.startswith("2 photo positions without a time")


def test_immich_assets():
    got = read_tracks(SAMPLES / "immich-assets.json")
    assert got.format == "immich-assets"
    (track,) = got.tracks
    # dateTimeOriginal, else fileCreatedAt; a 1972 scan is a photo's date, trusted (GPS's 1990 floor
    # does not apply to photos); the screenshot without GPS is counted, not read.
    assert rows(track) == [[(43.7731, 11.256, None, at(1972, 8, 15, 9, 30)), (41.8902, 12.4922, None, at(2023, 6, 1, 10))]]
    assert where_reasons(got) == [("assets", "1 asset without a position (no GPS); skipped")]


def test_immich_search_answer_is_read_too(tmp_path):
    items = json.loads((SAMPLES / "immich-assets.json").read_text())
    path = tmp_path / "search.json"
    path.write_text(json.dumps({"albums": {"items": [], "total": 0}, "assets": {"items": items, "total": 3, "nextPage": None}}))
    assert rows(read_tracks(path).tracks[0]) == rows(read_tracks(SAMPLES / "immich-assets.json").tracks[0])


def test_format_comes_from_content_not_the_name(tmp_path):
    for source, disguise in (("2024-03.rec", "log.txt"), ("gpslogger.csv", "export.dat"), ("Timeline.json", "export (1)")):
        path = tmp_path / disguise
        shutil.copy(SAMPLES / source, path)
        assert rows(read_tracks(path).tracks[0]) == rows(read_tracks(SAMPLES / source).tracks[0])


# --------------------------------------------------------------------------- bad input


def test_bad_fixes_are_counted_per_file_and_the_rest_kept(tmp_path):
    rec = tmp_path / "bad.rec"
    rec.write_text(
        "2024-03-01T08:00:00Z\t*                 \t{\"_type\":\"location\",\"lat\":51.5,\"lon\":-0.12,\"tst\":1709280000}\n"
        "2024-03-01T08:01:00Z\t*                 \t{\"_type\":\"location\",\"lat\":95.0,\"lon\":-0.12,\"tst\":1709280060}\n"
        "2024-03-01T08:02:00Z\t*                 \t{\"_type\":\"location\",\"lat\":51.6,\"lon\":-0.12,\"tst\":32503680000}\n"
        "2024-03-01T08:03:00Z\t*                 \t{\"_type\":\"location\",\"lat\":51.7,\"lon\":-0.12,\"tst\":0}\n"
        "this line was cut off by a crash\n"
        "2024-03-01T08:04:00Z\t*                 \t{\"_type\":\"location\",\"lat\":51.8,\"lon\":-0.12,\"tst\":1709280240}\n"
    )
    got = read_tracks(rec)
    (track,) = got.tracks
    assert [(p.lat, p.time) for p in track.segments[0]] == [
        (51.5, at(2024, 3, 1, 8, 0)),
        (51.6, None),  # year 3000: position kept, time not trusted
        (51.7, None),  # 1970: likewise
        (51.8, at(2024, 3, 1, 8, 4)),
    ]
    assert where_reasons(got) == [
        ("line 5", "1 line not in the Recorder's 'time, topic, JSON' form; skipped"),
        ("locations", "1 location with missing or impossible coordinates dropped (e.g. lat 95.0, lon -0.12)"),
        ("locations", "1 location dated 1970-01-01: timestamps before 1990 are not trusted; positions kept without a time"),
        ("locations", "1 location dated 3000-01-01: timestamps more than a day in the future are not trusted; "
                      "positions kept without a time"),
    ]

    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "time,lat,lon\n2024-03-01T08:00:00Z,51.5,-0.12\nyesterday,51.6,-0.12\n2024-03-01T08:02:00Z,abc,-0.12\n"
        "2024-03-01T08:03:00Z,51.7,-190\n2024-03-01T08:04:00Z\n"
    )
    got = read_tracks(csv_file)
    assert [(p.lat, p.time) for p in got.tracks[0].segments[0]] == [(51.5, at(2024, 3, 1, 8)), (51.6, None)]
    assert where_reasons(got) == [
        ("line 6", "1 row with fewer columns than the header; skipped"),
        ("rows", "2 rows with missing or impossible coordinates dropped (e.g. lat 'abc', lon '-0.12')"),
        ("rows", "1 row with times that are not a date and time (e.g. 'yesterday'); positions kept without a time"),
    ]

    phone = tmp_path / "location-history.json"
    phone.write_text(json.dumps([
        {"startTime": "2024-01-01T10:00:00.000+01:00", "endTime": "2024-01-01T12:00:00.000+01:00", "timelinePath": [
            {"point": "geo:52.52,13.40", "durationMinutesOffsetFromStartTime": "0"},
            {"point": "geo:somewhere", "durationMinutesOffsetFromStartTime": "5"},
            {"point": "geo:52.53,13.41", "durationMinutesOffsetFromStartTime": "soon"},
        ]},
        {"startTime": "2024-01-01T13:00:00.000+01:00", "endTime": "2024-01-01T12:00:00.000+01:00",
         "visit": {"hierarchyLevel": "0", "topCandidate": {"placeLocation": "geo:52.52,13.40"}}},
    ]))
    got = read_tracks(phone)
    assert rows(got.tracks[0]) == [[(52.52, 13.4, None, at(2024, 1, 1, 9)), (52.53, 13.41, None, None)]]
    assert got.visits == []
    assert where_reasons(got) == [
        ("entry 2 (visit)", "visit ends (2024-01-01T11:00:00+00:00) before it starts (2024-01-01T12:00:00+00:00); dropped"),
        ("timelinePath", "1 point with missing or impossible coordinates dropped (e.g. lat 'geo:somewhere', lon None)"),
        ("timelinePath", "1 point with times that are not a date and time (e.g. 'soon minutes after the start'); "
                         "positions kept without a time"),
    ]


def test_cut_and_garbled_samples_never_crash(tmp_path):
    """A damaged export is read as far as it goes or refused with a reason; nothing else."""
    rng = random.Random(11)
    for source in sorted(SAMPLES.iterdir()):
        data = source.read_bytes()
        for trial in range(8):
            damaged = bytearray(data[: rng.randrange(1, len(data))] if trial % 2 else data)
            for _ in range(3 if trial % 2 == 0 else 0):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            path = tmp_path / source.name
            path.write_bytes(bytes(damaged))
            try:
                got = read_tracks(path)
            except TrackFormatError as exc:
                assert str(exc)
                continue
            assert all(-90 <= p.lat <= 90 and -180 <= p.lon <= 180 for t in got.tracks for s in t.segments for p in s)


@pytest.mark.parametrize(
    "name, data, looked_like",
    [
        ("settings.json", b'{"theme": "dark", "fontSize": 12, "sync": {"enabled": true}}',
         "JSON object with keys fontSize, sync, theme: not a known location export"),
        ("people.json", b'[{"name": "Ana", "born": "1990-02-01"}]',
         "JSON list of objects with keys born, name: not a known location export"),
        ("bank.csv", b"date,amount,payee\n2024-01-02,-12.50,Bakery\n",
         "CSV with columns date, amount, payee: no latitude and longitude columns, not a known location export"),
        ("notes.rec", b"call the plumber on monday\n",
         "text starting 'call the plumber on monday': neither GPX, KML, JSON, an OwnTracks log nor CSV"),
        ("takeout.json", b"PK\x03\x04" + bytes(40), "a ZIP archive"),
        ("feed.geojson", b'<?xml version="1.0"?><rss><channel/></rss>', "XML with root <rss>, neither GPX nor KML"),
    ],
)
def test_unknown_files_say_what_they_looked_like(tmp_path, name, data, looked_like):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(TrackFormatError) as info:
        read_tracks(path)
    assert str(info.value).startswith("not a location file: " + looked_like)


def test_folder_walk_tries_location_files_and_leaves_notes_alone(tmp_path):
    for name in ("2024-03.rec", "gpslogger-points.geojson", "gpslogger-2015.txt", "Timeline.json"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    (tmp_path / "README.txt").write_text("Exported from my phone, March 2024.\n")
    (tmp_path / "bank.csv").write_text("date,amount,payee\n2024-01-02,-12.50,Bakery\n")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    found = [p.name for p in iter_track_files(tmp_path)]
    assert found == ["2024-03.rec", "Timeline.json", "bank.csv", "gpslogger-2015.txt", "gpslogger-points.geojson"]
    assert {".geojson", ".rec", ".csv", ".json"} <= LOCATION_EXTENSIONS


# --------------------------------------------------------------------------- ingest


def _stored(library):
    with library.session() as s:
        tracks = s.exec(select(Track.id, Track.source_file, Track.kind, Track.points).order_by(Track.id)).all()
        points = len(s.exec(select(TrackPointRow.id)).all())
        stored_visits = s.exec(select(Visit.id, Visit.source, Visit.name).order_by(Visit.id)).all()
    return tracks, points, stored_visits


def test_every_format_ingests_and_unknown_files_fail_with_a_reason(library, tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(SAMPLES, folder)
    (folder / "bank.csv").write_text("date,amount,payee\n2024-01-02,-12.50,Bakery\n")
    report = TrackIngester(library).run([folder])
    assert report.total == len(list(SAMPLES.iterdir())) + 1
    assert report.failed == 1
    (error,) = [p for p in report.problems if p.severity == "error"]
    assert error.path.endswith("bank.csv") and "CSV with columns date, amount, payee" in error.reason
    tracks, points, stored_visits = _stored(library)
    kinds = {kind for _, _, kind, _ in tracks}
    assert {"timeline-activity", "timeline-path", "timeline-raw", "geojson-points", "geojson-line", "owntracks",
            "csv-track", "immich-photos"} <= kinds
    assert {(source, name) for _, source, name in stored_visits if source == "timeline"} == {
        ("timeline", "Home"), ("timeline", "Work"), ("timeline", None)}
    # Untimed Immich markers are stored as points without a time.
    with library.session() as s:
        assert len(s.exec(select(TrackPointRow).where(TrackPointRow.time.is_(None))).all()) >= 2


def test_reimporting_unchanged_files_is_a_no_op(library, tmp_path):
    folder = tmp_path / "exports"
    shutil.copytree(SAMPLES, folder)
    first = TrackIngester(library).run([folder])
    before = _stored(library)
    assert first.added > 0 and first.unchanged == 0

    again = TrackIngester(library).run([folder])
    assert (again.added, again.unchanged, again.failed) == (0, first.added, 0)
    assert _stored(library) == before  # same rows, same ids

    # One file changes: only its rows are replaced, the rest stay as they were.
    rec = folder / "2024-03.rec"
    rec.write_text(rec.read_text() + "2024-03-01T13:00:00Z\t*                 \t"
                   '{"_type":"location","lat":51.51,"lon":-0.12,"tst":1709298000}\n')
    third = TrackIngester(library).run([folder])
    assert (third.added, third.unchanged) == (1, first.added - 1)
    tracks, points, _ = _stored(library)
    assert points == before[1] + 1
    assert [t for t in tracks if not t[1].endswith(".rec")] == [t for t in before[0] if not t[1].endswith(".rec")]
    ((_, _, kind, count),) = [t for t in tracks if t[1].endswith(".rec")]
    assert (kind, count) == ("owntracks", 4)
