"""Ingest into a real library: counts, reported problems, idempotency, kill-and-resume."""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import select

from deepdiary.memory.library import Library
from deepdiary.memory.tables import IngestError, IngestJob, Item, ItemPath
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings
from tests.conftest import snapshot


def blob_files(lib_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(lib_dir)) for p in (lib_dir / "blobs").rglob("*") if p.is_file())


def test_ingest_all_samples_and_report_problems(library, exif_samples, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.jpg").write_bytes(b"not a jpeg at all" * 50)
    (bad / "empty.png").write_bytes(b"")
    report = PhotoIngester(library).run([exif_samples, bad])
    assert (report.total, report.added, report.failed) == (88, 86, 2)
    with library.session() as s:
        assert len(s.exec(select(Item)).all()) == 86
        errors = {(e.path, e.reason) for e in s.exec(select(IngestError).where(IngestError.severity == "error"))}
        warned = {e.path for e in s.exec(select(IngestError).where(IngestError.severity == "warning"))}
        job = s.get(IngestJob, report.job_id)
    assert errors == {
        (str((bad / "garbage.jpg").resolve()), "not a readable image: cannot identify image file "
         f"'{(bad / 'garbage.jpg').resolve()}'"),
        (str((bad / "empty.png").resolve()), "empty file"),
    }
    for rel in ["jpg/corrupted.jpg", *(f"jpg/invalid/{p.name}" for p in (exif_samples / "jpg/invalid").iterdir())]:
        assert str((exif_samples / rel).resolve()) in warned
    assert (job.status, job.added, job.failed) == ("done", 86, 2)
    # Originals are stored content-addressed, each with a thumbnail beside it.
    files = blob_files(library.settings.library_dir)
    assert len([f for f in files if f.endswith(".thumb.webp")]) == 86
    assert len(files) == 172


def test_reingest_is_a_no_op_and_a_renamed_copy_is_linked(library, exif_samples, tmp_path):
    src = tmp_path / "photos"
    shutil.copytree(exif_samples / "jpg/gps", src)
    first = PhotoIngester(library).run([src])
    assert (first.added, first.unchanged) == (6, 0)
    db = library.settings.library_dir / "catalogue.db"
    before = snapshot(db)
    again = PhotoIngester(library).run([src])
    assert (again.added, again.linked, again.unchanged, again.failed) == (0, 0, 6, 0)
    assert snapshot(db) == before

    shutil.copy(src / "DSCN0010.jpg", src / "holiday-renamed.jpg")
    linked = PhotoIngester(library).run([src])
    assert (linked.added, linked.linked, linked.unchanged) == (0, 1, 6)
    with library.session() as s:
        assert len(s.exec(select(Item)).all()) == 6
        item_id = s.exec(select(ItemPath.item_id).where(ItemPath.path == str(src / "DSCN0010.jpg"))).one()
        paths = s.exec(select(ItemPath.path).where(ItemPath.item_id == item_id)).all()
    assert sorted(Path(p).name for p in paths) == ["DSCN0010.jpg", "holiday-renamed.jpg"]


def _count_items(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM items").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _cli(lib: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepdiary", "--library", str(lib), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def test_kill_and_resume_gives_the_same_library(tmp_path, exif_samples):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert _cli(whole, "ingest", "photos", str(exif_samples)).wait(timeout=300) == 0

    proc = _cli(resumed, "ingest", "photos", str(exif_samples))
    db = resumed / "catalogue.db"
    deadline = time.time() + 120
    while _count_items(db) < 20 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _count_items(db)
    assert 20 <= killed_at < 86, "the kill must land mid-ingest"

    assert _cli(resumed, "ingest", "photos", str(exif_samples)).wait(timeout=300) == 0
    assert snapshot(db) == snapshot(whole / "catalogue.db")
    assert blob_files(resumed) == blob_files(whole)
    lib = Library.open(Settings(home=resumed))
    with lib.session() as s:
        statuses = [j.status for j in s.exec(select(IngestJob).order_by(IngestJob.id))]
    assert statuses == ["interrupted", "done"]
