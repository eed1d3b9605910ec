"""check and backup when the catalogue lives in PostgreSQL: the same check, and a pg_dump in
the backup (or one clear error when pg_dump is not installed)."""

from __future__ import annotations

import json
import shutil

import pytest

from deepdiary.core.errors import DeepDiaryError, InvalidInput
from deepdiary.core.settings import Settings
from deepdiary.services import AppContext, ingest, maintenance
from tests.memory.test_postgres import pg_url  # noqa: F401 - a throwaway PostgreSQL server


def test_check_and_backup_of_a_postgres_catalogue(pg_url, exif_samples, tmp_path, monkeypatch):  # noqa: F811
    photos = tmp_path / "photos"
    photos.mkdir()
    for rel in ("gps/DSCN0010.jpg", "Canon_40D.jpg"):
        shutil.copy(exif_samples / "jpg" / rel, photos)
    ctx = AppContext(Settings(home=tmp_path / "lib", database_url=pg_url, enrich_workers=1))
    try:
        assert ingest.ingest_photos(ctx, [photos]).added == 2
        assert maintenance.check_library(ctx).problems == []
        thumb = next((tmp_path / "lib" / "blobs").glob("*/*/*.thumb.webp"))
        thumb.unlink()
        assert [p.kind for p in maintenance.check_library(ctx, repair=True).problems] == ["missing_thumbnail"]
        assert thumb.exists() and maintenance.check_library(ctx).ok

        other_photos = tmp_path / "other-photos"
        other_photos.mkdir()
        shutil.copy(exif_samples / "jpg" / "Nikon_D70.jpg", other_photos)
        other = AppContext(Settings(home=tmp_path / "other", database_url=pg_url, enrich_workers=1))
        try:
            assert ingest.ingest_photos(other, [other_photos]).added == 1
        finally:
            other.close()

        made = maintenance.backup_library(ctx, tmp_path / "backup")
        dump = (tmp_path / "backup" / "catalogue.sql").read_text()
        # Its own schema only: a second library on the same database stays out of its backup.
        schema = ctx.settings.library_namespace
        assert f"CREATE TABLE {schema}.items" in dump and "DSCN0010.jpg" in dump
        assert "Canon_40D.jpg" in dump and "Nikon_D70.jpg" not in dump
        manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
        assert manifest["catalogue"] == "catalogue.sql" and manifest["catalogue_sha256"] == made.catalogue_sha256
        with pytest.raises(InvalidInput, match="psql"):
            maintenance.restore_library(ctx, tmp_path / "backup", tmp_path / "restored")

        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        with pytest.raises(DeepDiaryError, match="pg_dump is not on PATH"):
            maintenance.backup_library(ctx, tmp_path / "backup-2")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "lib", "other", "other-photos", "photos"]  # nothing half-made
    finally:
        ctx.close()
