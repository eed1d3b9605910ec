"""deepdiary check [--repair], backup and restore from the command line, over a real library:
exit codes, JSON only on stdout, one clear line for bad usage, and a restored library that
answers the same searches as the original."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.library_builder import build_library


def cli(lib: Path | None, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250", "DEEPDIARY_ENRICH_WORKERS": "1"}
    pre = ["--library", str(lib)] if lib is not None else []
    return subprocess.run([sys.executable, "-m", "deepdiary", *pre, *args], capture_output=True, text=True, env=env)


def cli_json(lib: Path, *args: str, code: int = 0):
    done = cli(lib, *args, "--json")
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory, samples) -> Path:
    return build_library(tmp_path_factory.mktemp("check-cli"), samples)


@pytest.fixture
def lib(built, tmp_path) -> Path:
    shutil.copytree(built, tmp_path / "library")
    return tmp_path / "library"


def _blob_files(lib: Path, suffix: str) -> list[Path]:
    return sorted((lib / "blobs").glob(f"*/*/*{suffix}"))


def test_check_reports_damage_exits_1_and_repair_fixes_it(lib):
    clean = cli_json(lib, "check")
    assert clean["id"] == "check" and clean["ok"] and clean["problems"] == []
    thumb = _blob_files(lib, ".thumb.webp")[0]
    thumb.unlink()
    orphan = lib / "blobs" / "00" / "00" / ("00" * 32 + ".jpg")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"no item has me")
    os.utime(orphan, (time.time() - 7200,) * 2)  # a young one may be an ingest in flight

    found = cli_json(lib, "check", code=1)
    assert sorted((p["kind"], Path(p["file"]).name) for p in found["problems"]) == [
        ("missing_thumbnail", thumb.name), ("orphan_blob", orphan.name)]
    assert all(p["id"] and not p["repaired"] for p in found["problems"])
    text = cli(lib, "check")
    assert text.returncode == 1 and "missing_thumbnail" in text.stdout and "2 problem(s)" in text.stdout

    fixed = cli_json(lib, "check", "--repair")
    assert fixed["ok"] and {p["action"] for p in fixed["problems"]} == {"rebuilt from the original", "deleted"}
    assert thumb.exists() and not orphan.exists()
    assert cli(lib, "check").returncode == 0


def test_restored_library_checks_clean_and_answers_the_same_searches(lib, tmp_path):
    placed = next(p for p in cli_json(lib, "search", "photos") if p["place"])
    queries = [("search", "photos", "--near", placed["place"]["city"]), ("search", "photos", "--from", "2008", "--to", "2009"),
               ("search", "chats", "马尔代夫"), ("people", "list", "--all"), ("stats",)]
    before = [cli_json(lib, *q) for q in queries]
    assert before[0] and before[1] and before[2] and before[3]

    backup = tmp_path / "backup"
    made = cli_json(lib, "backup", str(backup))
    assert made["id"] == str(backup) and made["counts"]["items_photo"] == 5
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["version"] == 1 and manifest["catalogue_sha256"] == made["catalogue_sha256"]

    restored = tmp_path / "restored"
    assert cli_json(None, "restore", str(backup), "--library", str(restored))["library"] == str(restored)
    assert cli_json(restored, "check")["ok"]
    after = [cli_json(restored, *q) for q in queries]
    same = json.loads(json.dumps(after).replace(str(restored), str(lib)))
    assert same == before


def test_bad_usage_is_one_line_and_exit_2(lib, tmp_path):
    backup = tmp_path / "backup"
    assert cli(lib, "backup", str(backup)).returncode == 0
    for args, words in (
            (("backup", str(backup)), "already exists"),
            (("restore", str(backup), "--library", str(lib)), "not empty"),
            (("restore", str(tmp_path / "nothing-here"), "--library", str(tmp_path / "new")), "not a Deep Diary backup"),
            (("backup", str(tmp_path / "no" / "such" / "parent")), "does not exist")):
        done = cli(lib, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    missing = cli(tmp_path / "no-library", "check")
    assert missing.returncode == 2 and "no library at" in missing.stderr
    assert not (tmp_path / "no-library").exists()
