"""Enrichment with the vision models in worker processes gives what one process gives."""

import shutil
import sqlite3

import sklearn.datasets
from pathlib import Path
from sqlmodel import select

from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Item, ItemPath, ItemStage
from deepdiary.memory.vectors import IMAGE_FEATURES
from deepdiary.pipeline.enrich import Enricher
from deepdiary.pipeline.ingest import PhotoIngester

SKLEARN_IMAGES = Path(sklearn.datasets.__file__).parent / "images"
EXIF = ("Canon_40D.jpg", "Fujifilm_FinePix_E500.jpg", "Nikon_D70.jpg", "Pentax_K10D.jpg", "Sony_HDR-HC3.jpg",
        "gps/DSCN0010.jpg", "gps/DSCN0021.jpg", "orientation/portrait_6.jpg")


def _what_a_user_sees(db: Path) -> dict:
    con = sqlite3.connect(db)
    out = {
        "faces": con.execute("SELECT item_id, x, y, width, height, person_id IS NOT NULL FROM faces "
                             "ORDER BY item_id, x").fetchall(),
        "people": con.execute("SELECT COUNT(*) FROM people").fetchone(),
        "tags": con.execute("SELECT item_id, kind, name, round(score, 2) FROM item_tags ORDER BY 1, 2, 3").fetchall(),
        "meta": con.execute("SELECT item_id, phash, description, description_zh, people_count FROM photo_meta "
                            "ORDER BY 1").fetchall(),
        "stages": con.execute("SELECT item_id, stage, status, model, error FROM item_stages ORDER BY 1, 2").fetchall(),
    }
    con.close()
    return out


def test_worker_processes_enrich_as_one_process_does(tmp_path, samples, exif_samples):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg"):
        shutil.copy(samples / "faces" / name, photos / name)
    for name in ("china.jpg", "flower.jpg"):
        shutil.copy(SKLEARN_IMAGES / name, photos / name)
    for rel in EXIF:
        shutil.copy(exif_samples / "jpg" / rel, photos / rel.replace("/", "-"))

    seen = {}
    for workers in (1, 2):
        settings = Settings(home=tmp_path / f"lib-{workers}", enrich_workers=workers, enrich_workers_min_photos=2)
        lib = Library.open(settings)
        ids = PhotoIngester(lib).run([photos]).item_ids
        # One stored original is damaged after ingest: its stages fail with the reason, the rest go on.
        with lib.session() as s:
            damaged = s.exec(select(ItemPath).where(ItemPath.path.endswith("Nikon_D70.jpg"))).one().item_id
            item = s.get(Item, damaged)
            lib.blobs.original_path(item.sha256, item.ext).write_bytes(b"\xff\xd8 not a jpeg any more")
        report = Enricher(lib).run()
        assert report.items == len(ids) == 14
        assert {f["item_id"] for f in report.failures} == {damaged}
        assert ("waiting for workers" in report.seconds) == (workers == 2)
        with lib.session() as s:
            failed = s.exec(select(ItemStage).where(ItemStage.status == "failed")).all()
        assert len(failed) == 5 and all(f.error.startswith("cannot open the photo: ") for f in failed)
        assert len(lib.vectors.get(IMAGE_FEATURES)) == 13
        lib.close()
        seen[workers] = _what_a_user_sees(settings.home / "catalogue.db")
        seen[workers]["stages"] = [row[:4] + ((row[4] or "").replace(str(settings.home), "LIB"),)
                                   for row in seen[workers]["stages"]]

    one, two = seen[1], seen[2]
    assert len(one["faces"]) >= 9 and one["people"][0] >= 7  # Obama twice, Biden, t1's six
    assert one == two
