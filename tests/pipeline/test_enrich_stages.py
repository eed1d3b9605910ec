"""Stage bookkeeping: what is missing runs, a failed stage is recorded and costs nothing else."""

from datetime import datetime

from sqlmodel import select

from deepdiary.memory.library import Library
from deepdiary.memory.tables import ItemStage, ItemTag, PhotoMeta
from deepdiary.pipeline.enrich import STAGES, Enricher
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings
from tests.photo_factory import make_photo


def test_failed_stage_is_recorded_and_the_rest_is_kept(tmp_path):
    make_photo(tmp_path / "p" / "a.jpg", taken=datetime(2024, 5, 1, 10), background=(30, 90, 210))
    # A configured BLIP folder that does not exist: the description stage must fail, loudly.
    lib = Library.open(Settings(home=tmp_path / "lib", blip_weights=tmp_path / "no-such-blip"))
    item_id = PhotoIngester(lib).run([tmp_path / "p"]).item_ids[0]
    report = Enricher(lib).run()
    assert [f["stage"] for f in report.failures] == ["description"]
    assert "BLIP weights folder not found" in report.failures[0]["error"]
    with lib.session() as s:
        stages = {st.stage: st for st in s.exec(select(ItemStage).where(ItemStage.item_id == item_id))}
        assert {k: v.status for k, v in stages.items()} == {
            "faces": "done", "tags": "done", "features": "done", "description": "failed", "category": "done"}
        assert "no-such-blip" in stages["description"].error
        assert s.exec(select(ItemTag).where(ItemTag.item_id == item_id, ItemTag.kind == "tag")).first() is not None
        assert s.get(PhotoMeta, item_id).people_count == 0

    # Once fixed, `enrich` runs only what is missing: the failed stage.
    fixed = Library.open(Settings(home=tmp_path / "lib"))
    again = Enricher(fixed).run()
    assert dict(again.stages_run) == {"description": 1} and again.failures == []
    with fixed.session() as s:
        assert s.get(PhotoMeta, item_id).description.endswith("May 2024, mostly blue.")
    assert Enricher(fixed).run().items == 0
    assert STAGES == ("faces", "tags", "features", "description", "category")


def test_vectors_are_written_with_their_group_and_a_failed_write_records_nothing(tmp_path, monkeypatch):
    from deepdiary.memory.vectors import IMAGE_FEATURES, PHOTO_TEXT
    from deepdiary.pipeline import enrich

    colours = [(30, 90, 210), (200, 40, 40), (40, 160, 60), (240, 240, 240), (20, 20, 20)]
    for i, colour in enumerate(colours):
        make_photo(tmp_path / "p" / f"{i}.jpg", taken=datetime(2024, 5, 1 + i, 10), background=colour)
    lib = Library.open(Settings(home=tmp_path / "lib"))
    ids = PhotoIngester(lib).run([tmp_path / "p"]).item_ids
    monkeypatch.setattr(enrich, "GROUP", 2)  # three groups: 2, 2 and 1 photos

    # The vector store refuses the second group's write (a full disk, say): the run stops there,
    # and no stage of that group's photos is recorded done without its vectors.
    real_upsert, calls = lib.vectors.upsert, []

    def upsert(name, item_ids, vectors, metadatas=None):
        calls.append((name, list(item_ids)))
        if len(calls) > 2:
            raise OSError("no space left on device")
        return real_upsert(name, item_ids, vectors, metadatas)

    monkeypatch.setattr(lib.vectors, "upsert", upsert)
    try:
        Enricher(lib).run()
    except OSError:
        pass
    else:
        raise AssertionError("the failed vector write should stop the run")
    # One write per collection per group, not one per photo and stage.
    assert calls[:2] == [(IMAGE_FEATURES, ids[:2]), (PHOTO_TEXT, ids[:2])]
    with lib.session() as s:
        done = set(s.exec(select(ItemStage.item_id).where(ItemStage.status == "done")))
    assert done == set(ids[:2])

    monkeypatch.setattr(lib.vectors, "upsert", real_upsert)
    report = Enricher(lib).run()
    assert report.items == 3 and report.failures == []
    assert set(lib.vectors.get(IMAGE_FEATURES)) == set(ids) == set(lib.vectors.get(PHOTO_TEXT))
