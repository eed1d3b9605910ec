"""The command line as a script drives it: --json on stdout, messages on stderr."""

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from tests.photo_factory import make_photo


def run(lib: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # Wide enough that rich never wraps a reason mid-phrase.
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args],
                          capture_output=True, text=True, check=check, env=env)


def test_ingest_show_rate_stats(tmp_path):
    photos, lib = tmp_path / "photos", tmp_path / "lib"
    make_photo(photos / "lake.jpg", taken=datetime(2023, 7, 14, 9, 30), gps=(30.2741, 120.1551),
               make="Apple", model="iPhone 13", background=(30, 90, 210), foreground=(220, 30, 30))
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")

    first = run(lib, "ingest", "photos", str(photos), "--json", check=False)
    assert first.returncode == 1  # a file was reported: scripts must notice
    summary = json.loads(first.stdout)
    assert (summary["added"], summary["failed"]) == (1, 1)
    broken = [p for p in summary["problems"] if p["severity"] == "error"]
    assert broken == [{"path": str((photos / "broken.jpg").resolve()), "severity": "error",
                       "reason": broken[0]["reason"]}]
    assert broken[0]["reason"] == "image data is corrupt: Truncated File Read"
    item_id = summary["item_ids"][0]

    text = run(lib, "ingest", "photos", str(photos), check=False).stdout
    assert "broken.jpg" in text and "image data is corrupt" in text and "unchanged" in text

    shown = json.loads(run(lib, "show", str(item_id), "--json").stdout)
    assert shown["id"] == item_id and shown["camera_model"] == "iPhone 13"
    assert shown["place"]["city"] == "Hangzhou" and shown["place"]["country_zh"] == "中国"
    assert shown["taken_at"] == "2023-07-14T09:30:00"
    assert shown["cid"].startswith("bafkrei") and Path(shown["original"]).is_file()
    fg = [c for c in shown["colours"] if c["region"] == "foreground"][0]
    assert (fg["name"], fg["name_zh"]) == ("red", "红色")

    assert json.loads(run(lib, "rate", str(item_id), "4", "--json").stdout) == {"id": item_id, "rating": 4}
    found = json.loads(run(lib, "search", "photos", "--rating", "4", "--json").stdout)
    assert [r["id"] for r in found] == [item_id]

    stats = json.loads(run(lib, "stats", "--json").stdout)
    assert stats["items"] == 1 and stats["countries"] == [{"country": "China", "photos": 1}]

    missing = run(lib, "show", "999", check=False)
    assert missing.returncode == 1 and "no item with id 999" in missing.stderr and missing.stdout == ""


def test_bad_search_arguments_are_explained(tmp_path):
    result = run(tmp_path / "lib", "search", "photos", "--color", "chartreuse", check=False)
    assert result.returncode == 2 and "unknown colour 'chartreuse'" in result.stderr
    result = run(tmp_path / "lib", "search", "photos", "--from", "not a date at all", check=False)
    assert result.returncode == 2 and "cannot read 'not a date at all' as a date" in result.stderr


def test_jobs_and_reindex(tmp_path):
    chats = tmp_path / "chats.json"
    chats.write_text(json.dumps([{"id": f"m{i}", "conversation": "Bob", "time": f"2023-05-0{i + 1}T20:00:00",
                                  "sender": "Bob", "text": f"the ferry leaves at {i + 7} tomorrow"} for i in range(3)]))
    lib = tmp_path / "lib"
    assert json.loads(run(lib, "ingest", "chats", str(chats), "--json").stdout)["added"] == 3
    rebuilt = json.loads(run(lib, "reindex", "--json").stdout)
    assert (rebuilt["items"], rebuilt["indexed"], rebuilt["pending"]) == (3, 3, 0)
    jobs = json.loads(run(lib, "jobs", "--json").stdout)
    assert [(j["kind"], j["status"], j["pending"]) for j in jobs] == [("reindex", "done", 0), ("chats", "done", 0)]
    hits = json.loads(run(lib, "search", "chats", "ferry", "--json").stdout)
    assert len(hits) == 3
