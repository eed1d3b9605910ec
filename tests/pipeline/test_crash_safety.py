"""Crash safety: real ``deepdiary`` processes SIGKILLed at chosen and timed points, started
again, and compared with an uninterrupted run of the same input. Afterwards ``check`` finds
nothing, and no item is lost, duplicated or left without its vectors; no blob is orphaned and
no enrichment worker outlives its killed parent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
FACES = ("biden.jpg", "obama.jpg", "obama2.jpg", "t1.jpg")
EXIF = ("Canon_40D.jpg", "Canon_DIGITAL_IXUS_400.jpg", "Canon_PowerShot_S40.jpg", "Fujifilm_FinePix6900ZOOM.jpg",
        "Fujifilm_FinePix_E500.jpg", "Kodak_CX7530.jpg", "Konica_Minolta_DiMAGE_Z3.jpg", "Nikon_COOLPIX_P1.jpg",
        "Nikon_D70.jpg", "Olympus_C8080WZ.jpg")
ENV = {"DEEPDIARY_ENRICH_WORKERS": "2"}


def photos_folder(samples: Path, exif_samples: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in FACES:
        shutil.copy(samples / "faces" / name, dest / name)
    for name in EXIF:
        shutil.copy(exif_samples / "jpg" / name, dest / name)
    return dest


def start(lib: Path, *args: str) -> subprocess.Popen:
    """``deepdiary --library lib ARGS`` in its own process group (so its children can be found)."""
    return subprocess.Popen([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], cwd=REPO,
                            env={**os.environ, **ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def run(lib: Path, *args: str, timeout: float = 300) -> str:
    out = subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], cwd=REPO,
                         env={**os.environ, **ENV}, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-2000:])
    return out.stdout


def query(lib: Path, sql: str) -> list[tuple]:
    """The catalogue read-only (a missing or still-empty catalogue reads as no rows)."""
    db = lib / "catalogue.db"
    if not db.exists():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    except sqlite3.OperationalError:  # tables not created yet, or locked for a moment
        return []


def count(lib: Path, sql: str) -> int:
    rows = query(lib, sql)
    return rows[0][0] if rows else 0


def group_alive(pgid: int) -> list[int]:
    """Processes (not zombies) still in process group ``pgid``."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(int(entry.name))
    return alive


def kill_when(proc: subprocess.Popen, ready, timeout: float = 240) -> int:
    """SIGKILL ``proc`` (only the parent) once ``ready()`` holds; returns how many processes were in
    its group just before. Then every one of them must be gone within a few seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"it finished before the kill point: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.05)
    group = len(group_alive(proc.pid))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    deadline = time.monotonic() + 10
    while (left := group_alive(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        for pid in left:
            os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} processes outlived their killed parent by 10 s"
    return group


def after(seconds: float):
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


def state(lib: Path) -> dict:
    """What a user would see, independent of item ids: after a clean ``check``."""
    out = subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), "check", "--json"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"] and report["problems"] == [], report
    counts = report["counts"]
    shas = [r[0] for r in query(lib, "SELECT sha256 FROM items WHERE kind = 'photo'")]
    assert len(shas) == len(set(shas)), "a duplicate photo"
    assert counts["photos"] == counts["vectors_image_features"] == counts["vectors_photo_text"] == len(shas)
    assert counts["queued"] == 0  # (messages with no words have no words index entry: compared below)
    # Every blob file belongs to a stored photo: an original and its thumbnail, nothing else.
    blobs = {p.name.split(".")[0] for p in (lib / "blobs").rglob("*") if p.is_file()}
    assert blobs == set(shas), ("orphan or missing blobs", blobs ^ set(shas))
    assert counts["blob_files"] == 2 * len(shas) and counts["unreferenced_recent_blobs"] == 0
    sha_of = dict(query(lib, "SELECT id, sha256 FROM items"))
    stages = query(lib, "SELECT i.sha256, s.stage FROM item_stages s JOIN items i ON i.id = s.item_id")
    assert len(stages) == len(set(stages)), "a stage recorded twice"
    ranked = json.loads(run(lib, "search", "photos", "--json", "--query", "a man in a suit"))
    everything = json.loads(run(lib, "search", "photos", "--json", "--limit", "100"))
    return {
        "counts": counts,
        "photos": sorted(shas),
        "paths": sorted(r[0] for r in query(lib, "SELECT path FROM item_paths")),
        "faces": sorted(query(lib, "SELECT i.sha256, count(*) FROM faces f JOIN items i ON i.id = f.item_id "
                                   "GROUP BY i.sha256")),
        "messages": count(lib, "SELECT count(*) FROM items WHERE kind = 'message'"),
        "stages": sorted(set(stages)),
        "ranked": [sha_of[r["id"]] for r in ranked],
        "all": [sha_of[r["id"]] for r in everything],
        "tags": sorted(query(lib, "SELECT i.sha256, t.tag FROM item_tags t JOIN items i ON i.id = t.item_id")),
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory, samples, exif_samples) -> dict:
    """The uninterrupted run, once for the module: its input folder and what it ends with."""
    root = tmp_path_factory.mktemp("reference")
    src = photos_folder(samples, exif_samples, root / "photos")
    lib = root / "lib"
    run(lib, "ingest", "photos", str(src), "--json")
    return {"state": state(lib), "lib": lib}


def same_as_reference(got: dict, want: dict, src: Path, ref_src: Path) -> None:
    want = {**want, "paths": [p.replace(str(ref_src.resolve()), str(src.resolve())) for p in want["paths"]]}
    assert got == want


# ---------------------------------------------------------------- photo ingest with enrichment

@pytest.mark.parametrize("point", ["5 stored", "mid-enrichment", "timed 3 s", "timed 6 s"])
def test_photo_ingest_killed_then_run_again_ends_as_an_uninterrupted_run(tmp_path, samples, exif_samples,
                                                                         reference, point):
    src = photos_folder(samples, exif_samples, tmp_path / "photos")
    lib = tmp_path / "lib"
    ready = {
        "5 stored": lambda: count(lib, "SELECT count(*) FROM items WHERE kind = 'photo'") >= 5,
        # Faces written for some photos: the worker pool is up and busy with the rest.
        "mid-enrichment": lambda: count(lib, "SELECT count(*) FROM item_stages WHERE stage = 'faces'") >= 3,
        "timed 3 s": after(3),
        "timed 6 s": after(6),
    }[point]
    proc = start(lib, "ingest", "photos", str(src))
    group = kill_when(proc, ready)
    if point == "mid-enrichment":
        assert group >= 3  # the parent and its two workers (at least) were killed or gone
        assert count(lib, "SELECT count(*) FROM item_stages WHERE stage = 'category'") < len(FACES + EXIF)
    run(lib, "ingest", "photos", str(src), "--json")
    same_as_reference(state(lib), reference["state"], src, reference["lib"].parent / "photos")
    jobs = json.loads(run(lib, "jobs", "--json"))
    assert "running" not in [j["status"] for j in jobs]


# ---------------------------------------------------------------- enrich alone

def test_enrich_killed_twice_then_finished_ends_as_an_uninterrupted_run(tmp_path, samples, exif_samples, reference):
    src = photos_folder(samples, exif_samples, tmp_path / "photos")
    lib = tmp_path / "lib"
    run(lib, "ingest", "photos", str(src), "--no-enrich", "--json")
    assert count(lib, "SELECT count(*) FROM item_stages WHERE stage = 'faces'") == 0
    kill_when(start(lib, "enrich"), lambda: count(lib, "SELECT count(*) FROM item_stages WHERE stage = 'faces'") >= 2)
    kill_when(start(lib, "enrich"), after(4))
    run(lib, "enrich", "--json")
    same_as_reference(state(lib), reference["state"], src, reference["lib"].parent / "photos")


# ---------------------------------------------------------------- an API upload

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(lib: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = start(lib, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        try:
            if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def upload(base: str, src: Path) -> str:
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in sorted(src.iterdir())]
    r = httpx.post(f"{base}/api/uploads", data={"kind": "photos"}, files=files, timeout=60)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def test_server_killed_mid_upload_job_then_uploaded_again(tmp_path, samples, exif_samples, reference):
    src = photos_folder(samples, exif_samples, tmp_path / "photos")
    lib = tmp_path / "lib"
    proc, base = serve(lib)
    job = upload(base, src)
    kill_when(proc, lambda: count(lib, "SELECT count(*) FROM item_stages WHERE stage = 'faces'") >= 3)
    assert count(lib, "SELECT count(*) FROM item_stages WHERE stage = 'category'") < len(FACES + EXIF)

    proc, base = serve(lib)
    try:
        job = upload(base, src)
        deadline = time.monotonic() + 300
        while (status := httpx.get(f"{base}/api/jobs/{job}", timeout=10).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert status["status"] == "done", status
        assert status["result"]["failed"] == 0, status["result"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stderr.close()
    # Uploads are kept under the library's uploads folder (twice here), not the reference's folder.
    got = {k: v for k, v in state(lib).items() if k != "paths"}
    assert got == {k: v for k, v in reference["state"].items() if k != "paths"}


# ---------------------------------------------------------------- a chat import through the CLI

WECHAT = ("weclone_test_person_pywxdump.csv", "weclone_test_PII_pywxdump.csv", "weclone_example_chat_pywxdump_old.csv")


def chats_state(lib: Path) -> dict:
    got = state(lib)
    messages = query(lib, "SELECT i.text, i.taken_at FROM items i WHERE i.kind = 'message'")
    assert len(messages) == got["messages"]
    hits = json.loads(run(lib, "search", "chats", "小马尔代夫", "--json"))
    text_of = dict(query(lib, "SELECT id, text FROM items"))
    found = [text_of[h["id"]] for h in (hits["results"] if isinstance(hits, dict) else hits)]
    return {**got, "texts": sorted(messages, key=repr), "found": found}


def test_chat_import_killed_then_run_again_ends_as_an_uninterrupted_run(tmp_path, samples):
    src = tmp_path / "exports"
    src.mkdir()
    for name in WECHAT:
        shutil.copy(samples / "chats" / name, src / name)
    ref = tmp_path / "reference"
    run(ref, "ingest", "chats", str(src), "--json")
    want = chats_state(ref)
    assert want["messages"] == 95 + 61 + 35 and want["found"]

    lib = tmp_path / "lib"
    kill_when(start(lib, "ingest", "chats", str(src)),
              lambda: count(lib, "SELECT count(*) FROM items WHERE kind = 'message'") >= 1)
    kill_when(start(lib, "ingest", "chats", str(src)), after(2))
    run(lib, "ingest", "chats", str(src), "--json")
    assert chats_state(lib) == want
