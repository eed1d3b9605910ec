"""check, repair, backup and restore over a real library (real photos enriched by the real
models, a real WeChat export), damaged the ways a crash or a disk would damage it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from deepdiary.core.errors import InvalidInput
from deepdiary.memory.text_index import TEXTS
from deepdiary.memory.vectors import IMAGE_FEATURES
from deepdiary.services import AppContext, ingest, maintenance
from tests.library_builder import build_library, file_hashes, settings_for


@pytest.fixture(scope="module")
def built(tmp_path_factory, samples) -> Path:
    return build_library(tmp_path_factory.mktemp("maintenance"), samples)


@pytest.fixture
def ctx(built, tmp_path):
    library = tmp_path / "library"
    shutil.copytree(built, library)
    context = AppContext(settings_for(library))
    yield context
    context.close()


def _photo(ctx, n: int = 0):
    con = sqlite3.connect(ctx.settings.library_dir / "catalogue.db")
    try:
        return con.execute("SELECT id, sha256, ext FROM items WHERE kind = 'photo' ORDER BY id").fetchall()[n]
    finally:
        con.close()


def _kinds(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for p in report.problems:
        out.setdefault(p.kind, []).append(p)
    return out


def test_a_sound_library_checks_clean_and_checking_writes_nothing(ctx):
    before = file_hashes(ctx.settings.library_dir)
    report = maintenance.check_library(ctx)
    assert report.ok and report.problems == []
    assert report.counts["photos"] == 5 and report.counts["texts"] > 20
    assert report.counts["vectors_image_features"] == 5 and report.counts["text_vectors"] > 0
    ctx.close()
    assert file_hashes(ctx.settings.library_dir) == before


def test_damage_is_reported_then_repaired(ctx):
    lib = ctx.library
    thumb_id, thumb_sha, _ = _photo(ctx, 0)
    lib.blobs.thumbnail_path(thumb_sha).unlink()
    bad_id, bad_sha, bad_ext = _photo(ctx, 1)
    original = lib.blobs.original_path(bad_sha, bad_ext)
    original.write_bytes(original.read_bytes()[:2000])  # a torn write
    vec_id, _, _ = _photo(ctx, 2)
    lib.vectors.delete(IMAGE_FEATURES, [vec_id])
    orphan = lib.blobs.original_path("ab" * 32, ".jpg")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind by a crash")
    os.utime(orphan, (time.time() - 7200,) * 2)  # a young one may be an ingest in flight
    lib.vectors.upsert(TEXTS, [987654], [[0.1] * len(next(iter(lib.vectors.get(TEXTS).values())))])
    lost_id, lost_sha, lost_ext = _photo(ctx, 3)
    lib.blobs.original_path(lost_sha, lost_ext).unlink()
    unembedded = max(lib.vectors.existing_ids(TEXTS) - {987654})
    lib.vectors.delete(TEXTS, [unembedded])
    con = sqlite3.connect(lib.text_index_path)
    (gone,) = con.execute("SELECT item_id FROM meta ORDER BY item_id LIMIT 1").fetchone()
    con.execute("DELETE FROM meta WHERE item_id = ?", (gone,))
    con.execute("DELETE FROM docs WHERE item_id = ?", (gone,))
    con.commit()
    con.close()

    found = _kinds(maintenance.check_library(ctx))
    assert [p.item_id for p in found.pop("missing_thumbnail")] == [thumb_id]
    assert [p.item_id for p in found.pop("corrupt_original")] == [bad_id]
    assert [(p.item_id, p.file) for p in found.pop("missing_vector")] == [(vec_id, IMAGE_FEATURES)]
    assert [Path(p.file).name for p in found.pop("orphan_blob")] == [orphan.name]
    assert [(p.item_id, p.file) for p in found.pop("orphan_vector")] == [(987654, TEXTS)]
    assert [p.item_id for p in found.pop("missing_text_entry")] == [gone]
    assert [p.item_id for p in found.pop("missing_original")] == [lost_id]
    assert [(p.item_id, p.file) for p in found.pop("missing_text_vector")] == [(unembedded, TEXTS)]
    assert found == {}

    repaired = maintenance.check_library(ctx, repair=True)
    assert repaired.ok and all(p.repaired and p.action for p in repaired.problems)
    assert maintenance.check_library(ctx).problems == []
    assert lib.blobs.thumbnail_path(thumb_sha).exists() and not orphan.exists()
    assert lib.blobs.original_path(lost_sha, lost_ext).exists() and unembedded in lib.vectors.existing_ids(TEXTS)
    # The photo whose vector was lost gets it back from the next enrich.
    assert ingest.enrich_photos(ctx).stages_run == {"features": 1}
    assert vec_id in lib.vectors.existing_ids(IMAGE_FEATURES)
    orphan.write_bytes(b"written a moment ago by an ingest not yet committed")
    fresh = maintenance.check_library(ctx, repair=True)
    assert fresh.problems == [] and fresh.counts["unreferenced_recent_blobs"] == 1 and orphan.exists()


def test_a_damaged_original_with_no_good_copy_left_is_reported_as_unrepairable(ctx):
    item_id, sha, ext = _photo(ctx, 0)
    original = ctx.library.blobs.original_path(sha, ext)
    original.write_bytes(b"\0" * 100)
    with ctx.write() as s:
        s.exec(text("UPDATE item_paths SET path = '/nowhere/' || path WHERE item_id = :i").bindparams(i=item_id))
    report = maintenance.check_library(ctx, repair=True)
    (problem,) = report.problems
    assert problem.kind == "corrupt_original" and not problem.repaired and not problem.repairable
    assert "cannot be repaired" in problem.action and not report.ok


def test_backup_while_photos_are_ingested_restores_a_library_that_checks_clean(ctx, samples, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    for name in ("obama2.jpg", "t1.jpg"):
        shutil.copy(samples / "faces" / name, more / name)
    for name in ("Canon_40D_photoshop_import.jpg", "Fujifilm_FinePix_E500.jpg", "Nikon_D70.jpg"):
        shutil.copy(samples / "photos" / "exif-samples" / "jpg" / name, more / name)
    writer = AppContext(settings_for(ctx.settings.library_dir))  # another "process" writing the same library
    failures: list[BaseException] = []

    def keep_ingesting():
        try:
            for path in sorted(more.iterdir()):
                ingest.ingest_photos(writer, [path])
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    thread = threading.Thread(target=keep_ingesting)
    thread.start()
    backups = []
    try:
        while thread.is_alive() or not backups:
            out = tmp_path / f"backup-{len(backups)}"
            backups.append((out, maintenance.backup_library(ctx, out)))
            time.sleep(0.3)
    finally:
        thread.join()
        writer.close()
    assert failures == [] and len(backups) >= 2
    for n, (out, result) in enumerate(backups):
        assert not any(p.name.startswith(".") for p in out.parent.iterdir() if "partial" in p.name)
        restored = AppContext(settings_for(tmp_path / f"restored-{n}"))
        try:
            maintenance.restore_library(restored, out)
            report = maintenance.check_library(restored)
            assert report.problems == [], (n, report.problems)
            assert report.counts["photos"] == result.counts["items_photo"]
        finally:
            restored.close()
    assert backups[-1][1].counts["items_photo"] == 10


def test_backup_while_another_process_ingests_and_enriches(ctx, samples, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    for name in ("Canon_PowerShot_S40.jpg", "Kodak_CX7530.jpg", "Pentax_K10D.jpg", "Sony_HDR-HC3.jpg"):
        shutil.copy(samples / "photos" / "exif-samples" / "jpg" / name, more / name)
    env = {**os.environ, "DEEPDIARY_ENRICH_WORKERS": "1"}
    writer = subprocess.Popen([sys.executable, "-m", "deepdiary", "--library", str(ctx.settings.library_dir),
                               "ingest", "photos", str(more), "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    backups = []
    try:
        while writer.poll() is None or len(backups) < 2:
            out = tmp_path / f"backup-{len(backups)}"
            backups.append((out, maintenance.backup_library(ctx, out)))
            time.sleep(0.5)  # a dozen snapshots across the run are plenty
    finally:
        stdout, stderr = writer.communicate(timeout=300)
    assert writer.returncode == 0, stderr
    assert json.loads(stdout)["added"] == 4
    photos = set()
    for n, (out, result) in enumerate(backups):
        restored = AppContext(settings_for(tmp_path / f"restored-{n}"))
        try:
            maintenance.restore_library(restored, out)
            report = maintenance.check_library(restored)
            assert report.problems == [], (n, report.problems)
            photos.add(report.counts["photos"])
        finally:
            restored.close()
    assert 9 in photos  # the last backup has them all


def test_backup_and_restore_refuse_what_they_must_not_overwrite(ctx, tmp_path):
    out = tmp_path / "bk"
    maintenance.backup_library(ctx, out)
    with pytest.raises(InvalidInput, match="already exists"):
        maintenance.backup_library(ctx, out)
    with pytest.raises(InvalidInput, match="not empty"):
        maintenance.restore_library(ctx, out)  # the live library
    with pytest.raises(InvalidInput, match="inside the library"):
        maintenance.backup_library(ctx, ctx.settings.library_dir / "bk")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert maintenance.restore_library(ctx, out, empty).library == str(empty)
    assert (empty / "catalogue.db").exists() and not list(tmp_path.glob(".*restoring*"))
    with pytest.raises(InvalidInput, match="not a Deep Diary backup"):
        maintenance.restore_library(ctx, tmp_path, tmp_path / "new")
    (out / "catalogue.db").write_bytes(b"damaged")
    with pytest.raises(Exception, match="does not match"):
        maintenance.restore_library(ctx, out, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_the_api_checks_and_never_repairs(ctx):
    from deepdiary.api.app import create_app

    thumb = ctx.library.blobs.thumbnail_path(_photo(ctx, 0)[1])
    thumb.unlink()
    from deepdiary.services import tokens

    made = tokens.create_token(ctx, "laptop")
    with TestClient(create_app(ctx)) as client:
        assert client.get("/api/check").status_code == 401  # behind the token like every route
        auth = {"Authorization": f"Bearer {made.token}"}
        body = client.get("/api/check", headers=auth).json()
        assert client.post("/api/check", headers=auth).status_code == 405
    assert not body["ok"] and [p["kind"] for p in body["problems"]] == ["missing_thumbnail"]
    assert not thumb.exists()
