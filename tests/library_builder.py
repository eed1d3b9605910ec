"""A small real library for the maintenance tests: real photos enriched by the real models,
and a real WeChat export, built once per test module and copied per test."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext
from deepdiary.services import ingest

PHOTOS = (("faces", "obama.jpg"), ("faces", "biden.jpg"),
          ("photos/exif-samples/jpg/gps", "DSCN0010.jpg"), ("photos/exif-samples/jpg/gps", "DSCN0012.jpg"),
          ("photos/exif-samples/jpg", "Canon_40D.jpg"))
CHAT = "chats/weclone_test_person_pywxdump.csv"


def settings_for(library: Path) -> Settings:
    return Settings(home=library, enrich_workers=1)


def build_library(root: Path, samples: Path) -> Path:
    photos = root / "photos"
    photos.mkdir(parents=True)
    for folder, name in PHOTOS:
        shutil.copy(samples / folder / name, photos / name)
    chats = root / "chats"
    chats.mkdir()
    shutil.copy(samples / CHAT, chats / Path(CHAT).name)
    library = root / "library"
    ctx = AppContext(settings_for(library))
    try:
        report = ingest.ingest_photos(ctx, [photos])
        assert report.added == len(PHOTOS) and report.enrich.failures == []
        assert ingest.ingest_text(ctx, "chats", [chats]).added > 20
    finally:
        ctx.close()
    return library


def file_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
