"""Chats, diaries and tracks through the real connectors into a real library."""

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import gpxpy
import networkx as nx
from sqlmodel import select

from deepdiary.memory.library import Library
from deepdiary.memory.tables import ChatMeta, Person, Track, TrackPointRow
from deepdiary.core.settings import Settings
from tests.photo_factory import make_photo

MEMOTRACE_HEADER = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent",
                    "StrTime", "Remark", "NickName", "Sender"]


def cli(lib: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "250", **(env or {})})
    # 1 means some files were reported (the sample folders hold a few non-location files on purpose).
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    return done


def cli_json(lib: Path, *args: str, env: dict | None = None):
    return json.loads(cli(lib, *args, "--json", env=env).stdout)


def memotrace(path: Path, rows: list[tuple[int, int, str, datetime]], partner: str = "Alice") -> Path:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(MEMOTRACE_HEADER)
        for local_id, is_me, text, when in rows:
            w.writerow([local_id, "wxid_alice", 1, 0, is_me, int(when.timestamp()), 2, text,
                        when.strftime("%Y-%m-%d %H:%M:%S"), partner, partner, ""])
    return path


def test_wechat_samples_and_overlapping_reimport(tmp_path, samples):
    lib = tmp_path / "lib"
    chats = samples / "chats"
    files = [chats / n for n in ("weclone_test_person_pywxdump.csv", "weclone_test_PII_pywxdump.csv",
                                 "weclone_example_chat_pywxdump_old.csv")]
    report = cli_json(lib, "ingest", "chats", str(chats))  # every sample, LoCoMo's JSON included
    # LoCoMo's benchmark files sit beside the exports (two of them since locomo_dev2.json came).
    benchmarks = len(list(chats.glob("locomo_*.json")))
    assert (report["added"], report["failed"]) == (95 + 61 + 35, benchmarks)
    assert any(p["severity"] == "error" and p["path"].endswith("locomo_dev.json") for p in report["problems"])
    assert any("line 8: empty text message" in p["reason"] for p in report["problems"])
    assert cli_json(lib, "ingest", "chats", *map(str, files))["added"] == 0
    # Pasting a message finds it first, even among pairs of near matches ("啊哈哈哈" beside "哈哈哈哈...").
    pasted = cli_json(lib, "search", "chats", "哈哈哈哈哈哈哈", "--limit", "3")
    assert pasted[0]["text"] == "哈哈哈哈哈哈哈" and pasted[0]["source"]["line"] == 72

    start = datetime(2024, 5, 1, 9, 0)
    rows = [(i, i % 2, f"message number {i} about the harbour", start + timedelta(minutes=i)) for i in range(1, 16)]
    first = memotrace(tmp_path / "a.csv", rows[:10])
    second = memotrace(tmp_path / "b.csv", rows[4:])  # overlaps messages 5..10
    assert cli_json(lib, "ingest", "chats", str(first))["added"] == 10
    again = cli_json(lib, "ingest", "chats", str(second))
    assert (again["added"], again["unchanged"]) == (5, 6)

    hits = cli_json(lib, "search", "chats", "message number 13 harbour", "--limit", "1")
    assert hits[0]["text"] == "message number 13 about the harbour"
    assert hits[0]["sender"] == "me" and hits[0]["conversation"] == "Alice"  # 13 is odd: the owner wrote it
    assert hits[0]["source"] == {"file": str(second), "line": 10, "message_id": "13"}
    assert hits[0]["time"] == "2024-05-01T09:13:00"


def test_senders_become_people_and_time_words_filter(tmp_path):
    lib_dir = tmp_path / "lib"
    lib = Library.open(Settings(home=lib_dir))
    with lib.session() as s:
        s.add(Person(name="Alice", aliases="爱丽丝"))
    lib.close()
    rows = [
        (1, 0, "Let's have dinner at the noodle place", datetime(2023, 5, 20, 19, 0)),
        (2, 1, "Sure, dinner at seven", datetime(2023, 5, 20, 19, 1)),
        (3, 0, "Dinner at the noodle place again?", datetime(2024, 5, 18, 19, 0)),
        (4, 0, "我们明天去西湖划船吧", datetime(2024, 7, 1, 10, 0)),
    ]
    export = memotrace(tmp_path / "alice.csv", rows)
    cli_json(lib_dir, "ingest", "chats", str(export), env={"DEEPDIARY_OWNER_NAME": "Bob"})
    lib = Library.open(Settings(home=lib_dir))
    with lib.session() as s:
        alice = s.exec(select(Person).where(Person.name == "Alice")).one()
        metas = s.exec(select(ChatMeta).order_by(ChatMeta.item_id)).all()
        assert [m.sender_person_id for m in metas] == [alice.id, None, alice.id, alice.id]
        assert [m.sender for m in metas] == ["Alice", "Bob", "Alice", "Alice"]
    in_2023 = cli_json(lib_dir, "search", "chats", "dinner at the noodle place in 2023")
    assert [h["time"][:4] for h in in_2023] == ["2023", "2023"]
    assert cli_json(lib_dir, "search", "chats", "noodle dinner", "--from", "2024")[0]["time"] == "2024-05-18T19:00:00"
    # Only what a person said, by name or by alias; and a Chinese question finds the Chinese message.
    assert {h["sender"] for h in cli_json(lib_dir, "search", "chats", "dinner", "--with", "爱丽丝")} == {"Alice"}
    assert cli_json(lib_dir, "search", "chats", "西湖划船", "--limit", "1")[0]["text"] == "我们明天去西湖划船吧"
    assert cli_json(lib_dir, "search", "chats", "rowing a boat on the lake", "--limit", "1")[0]["id"] == 4


def test_recently_ranks_the_last_weeks_first_and_hides_nothing_older(tmp_path):
    lib_dir = tmp_path / "lib"
    rows = [
        (1, 0, "We celebrated my daughter's birthday at the lake", datetime(2023, 3, 1, 18, 0)),
        (2, 1, "How lovely, happy birthday to her!", datetime(2023, 3, 1, 18, 5)),
        (3, 0, "Back from the office", datetime(2023, 5, 2, 9, 0)),
        (4, 0, "My brother's birthday party was loud", datetime(2023, 6, 10, 21, 0)),
        (5, 1, "Sounds fun", datetime(2023, 6, 20, 8, 0)),
    ]
    cli_json(lib_dir, "ingest", "chats", str(memotrace(tmp_path / "alice.csv", rows)), env={"DEEPDIARY_OWNER_NAME": "Bob"})
    # "Recently" counts from the archive's end (20 June): June first, March still found.
    hits = cli_json(lib_dir, "search", "chats", "Whose birthday did Alice celebrate recently?")
    assert hits[0]["id"] == 4 and 1 in [h["id"] for h in hits]
    # With nothing but a name and "recently", the last weeks are all there is to show.
    assert {h["time"][:7] for h in cli_json(lib_dir, "search", "chats", "what did Alice say recently")} == {"2023-06"}


def test_the_words_that_frame_a_question_do_not_pick_the_answer(tmp_path):
    lib_dir = tmp_path / "lib"
    rows = [
        (1, 1, "What kind of things do you like to do, any type of sport?", datetime(2023, 4, 1, 10, 0)),
        (2, 0, "Sure!", datetime(2023, 4, 1, 10, 1)),
        (3, 0, "I started pottery, I make bowls and cups", datetime(2023, 5, 3, 10, 0)),
        (4, 1, "Nice", datetime(2023, 5, 3, 10, 1)),
    ]
    cli_json(lib_dir, "ingest", "chats", str(memotrace(tmp_path / "alice.csv", rows)), env={"DEEPDIARY_OWNER_NAME": "Bob"})
    hits = cli_json(lib_dir, "search", "chats", "What kind of things did Alice say she makes in pottery?")
    assert hits[0]["id"] == 3


def test_diary_entries_are_searchable(tmp_path):
    diary = tmp_path / "diary"
    diary.mkdir()
    (diary / "2023-07-14.md").write_text("# Hangzhou\n\nWalked around West Lake with Alice. The lotus flowers were out.\n")
    (diary / "notes.md").write_text("## 2023年8月1日 星期二\n\n今天在杭州吃了西湖醋鱼，味道很好。\n")
    (diary / "undated.md").write_text("just some thoughts with no date\n")
    lib = tmp_path / "lib"
    report = cli_json(lib, "ingest", "diary", str(diary))
    assert (report["added"], report["failed"]) == (2, 1)
    assert any("no date" in p["reason"] for p in report["problems"] if p["path"].endswith("undated.md"))
    hits = cli_json(lib, "search", "chats", "lotus flowers at West Lake", "--diary", "--limit", "1")
    assert hits[0]["kind"] == "diary" and hits[0]["time"] == "2023-07-14T00:00:00"
    assert cli_json(lib, "search", "chats", "西湖醋鱼", "--diary", "--limit", "1")[0]["time"] == "2023-08-01T00:00:00"
    # Editing a diary file replaces its entries rather than adding to them.
    (diary / "2023-07-14.md").write_text("# Hangzhou\n\nWalked around West Lake with Alice and Bob.\n")
    again = cli_json(lib, "ingest", "diary", str(diary))
    assert (again["added"], again["unchanged"]) == (1, 1)
    assert "Bob" in cli_json(lib, "search", "chats", "West Lake walk", "--diary", "--limit", "1")[0]["text"]


def test_tracks_match_gpxpy_and_geotag_a_photo(tmp_path, samples):
    gps = samples / "gps"
    lib_dir = tmp_path / "lib"
    report = cli_json(lib_dir, "ingest", "tracks", str(gps))
    problems = [p for p in report["problems"]]
    assert any("Mojstrovka" in p["path"] and "1901" in p["reason"] for p in problems)
    assert any("empty segment" in p["reason"] for p in problems if "track-with-empty-segment" in p["path"])
    assert any(p["severity"] == "error" and "not a location file" in p["reason"] for p in problems)
    lib = Library.open(Settings(home=lib_dir))
    source = gps / "gpxpy" / "cerknicko-jezero.gpx"
    parsed = gpxpy.parse(source.read_text())
    with lib.session() as s:
        tracks = s.exec(select(Track).where(Track.source_file == str(source.resolve()), Track.kind == "gpx-track")).all()
        # gpxpy's figures, less the empty track the connector reports and drops.
        expected = [n for n in (sum(len(seg.points) for seg in t.segments) for t in parsed.tracks) if n]
        assert [t.points for t in tracks] == expected and expected[:2] == [173, 52]
        parsed.tracks = [t for t in parsed.tracks if t.get_points_no()]
        first = parsed.tracks[0].segments[0].points[0]
        assert tracks[0].start == first.time.replace(tzinfo=None)
        rows = s.exec(select(TrackPointRow).where(TrackPointRow.track_id == tracks[0].id).order_by(TrackPointRow.id)).all()
        assert (rows[0].lat, rows[0].lon) == (first.latitude, first.longitude)
    lib.close()

    # A photo without GPS, taken (camera clock in UTC) two minutes after a track point.
    point = parsed.tracks[0].segments[0].points[50]
    taken = point.time.replace(tzinfo=None) + timedelta(minutes=2)
    make_photo(tmp_path / "p" / "hike.jpg", taken=taken, make="Canon", model="EOS R6")
    cli_json(lib_dir, "ingest", "photos", str(tmp_path / "p"), "--no-enrich")
    again = cli_json(lib_dir, "ingest", "tracks", str(source))
    assert again["linked"] == 1
    photo = cli_json(lib_dir, "search", "photos", "--camera", "EOS")[0]
    shown = cli_json(lib_dir, "show", str(photo["id"]))
    assert shown["gps_source"] == "track"
    assert abs(shown["lat"] - point.latitude) < 0.01 and abs(shown["lon"] - point.longitude) < 0.01
    assert shown["place"]["country"] == "Slovenia"


def test_events_and_graph(tmp_path, samples):
    lib_dir = tmp_path / "lib"
    lib = Library.open(Settings(home=lib_dir))
    with lib.session() as s:
        s.add_all([Person(name="Alice"), Person(name="Bob"), Person(name="Carol")])
    lib.close()
    photos = tmp_path / "photos"
    day = datetime(2023, 7, 14, 10)
    for i in range(3):
        make_photo(photos / f"lake{i}.jpg", taken=day + timedelta(hours=i), gps=(30.2741, 120.1551))
    make_photo(photos / "paris.jpg", taken=datetime(2023, 9, 1, 12), gps=(48.8566, 2.3522))
    cli_json(lib_dir, "ingest", "photos", str(photos), "--no-enrich")
    rows = [(i, i % 2, f"see you at the lake {i}", day + timedelta(minutes=5 * i)) for i in range(1, 7)]
    cli_json(lib_dir, "ingest", "chats", str(memotrace(tmp_path / "alice.csv", rows)))
    bob = [(i, 0, "how was the trip", datetime(2024, 1, 2, 9, i)) for i in range(1, 3)]
    cli_json(lib_dir, "ingest", "chats", str(memotrace(tmp_path / "bob.csv", bob, partner="Bob")))

    events = cli_json(lib_dir, "events")
    assert [e["title"] for e in events] == ["2023-07-14, Hangzhou", "2023-09-01, Paris"]
    assert events[0]["photos"] == 3 and events[0]["messages"] == 6
    assert events[0]["diary"] == "2023-07-14, Hangzhou, 3 photos, 6 messages, with Alice."

    assert cli_json(lib_dir, "graph", "met-most", "--year", "2023") == [{"id": 1, "name": "Alice", "days": 1}]
    assert [r["name"] for r in cli_json(lib_dir, "graph", "met-most")] == ["Alice", "Bob"]
    chain = cli_json(lib_dir, "graph", "connect", "Alice", "Bob")["path"]
    assert [c["label"] for c in chain] == ["Alice", "me", "Bob"] and chain[1]["via"] == "knows"

    cli_json(lib_dir, "people", "note", "Bob", "resource", "can repair cars and motorbikes")
    cli_json(lib_dir, "people", "note", "Carol", "resource", "rents out a flat in Hangzhou")
    demand = cli_json(lib_dir, "people", "note", "Alice", "demand", "looking for an apartment to rent in Hangzhou")
    matches = cli_json(lib_dir, "graph", "match", str(demand["id"]))
    assert [m["person"] for m in matches] == ["Carol", "Bob"]
    out = tmp_path / "g.graphml"
    info = cli_json(lib_dir, "graph", "export", str(out))
    g = nx.read_graphml(out)
    assert g.number_of_nodes() == info["nodes"]
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert {"person", "place", "event", "conversation", "resource", "demand"} <= kinds
