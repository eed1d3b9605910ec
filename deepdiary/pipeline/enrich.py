"""Enrichment: ordered model stages over catalogue items, recorded per item and stage.

Stages run in order (faces, tags, features, description, category) because later ones
use earlier results: scenes need the face count, descriptions use everything. A failed
stage is recorded with its error and the item keeps what the other stages gave. Models
load lazily, once per process (``ModelCache``).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image
from sqlmodel import Session, delete, select

from deepdiary.memory.library import Library
from deepdiary.memory.people import FaceClusterer, refresh_people_counts
from deepdiary.memory.tables import (
    Face, Item, ItemColour, ItemPath, ItemStage, ItemTag, Person, PhotoMeta, Place,
)
from deepdiary.memory.vectors import IMAGE_FEATURES, PHOTO_TEXT
from deepdiary.pipeline.describe import PhotoFacts, describe_en, describe_zh
from deepdiary.pipeline.scenes import SCENES, scenes_for
from deepdiary.models.photo_workers import BrokenProcessPool, PhotoAnalysis, analyse_photo, load_upright
from deepdiary.models.registry import ModelCache

__all__ = ["STAGES", "EnrichReport", "Enricher", "load_upright"]
# The stages whose models can run in worker processes (the rest read and write the catalogue).
OFFLOADED = ("faces", "tags", "features")

STAGES = ("faces", "tags", "features", "description", "category")
Progress = Callable[[int, int, int], None]
# Photos enriched in one transaction, their vectors written in one call per collection
# just before it commits: a Chroma write costs ~7 ms whatever it holds, and a stage is
# never recorded done without its vectors. A crash loses at most this many photos' work.
GROUP = 8


@dataclass
class EnrichReport:
    items: int = 0
    stages_run: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    faces_added: int = 0

    def as_dict(self) -> dict:
        return {"id": "enrich", "items": self.items, "stages_run": dict(self.stages_run),
                "failures": self.failures, "faces_added": self.faces_added,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


class StageFailed(Exception):
    """A stage's model failed in a worker process; the message is the worker's."""


class Enricher:
    def __init__(self, library: Library, models: ModelCache | None = None):
        self.library = library
        self.settings = library.settings
        self.models = models or library.models

    def pending(self, session: Session, stages: tuple[str, ...]) -> dict[int, list[str]]:
        """Photo ids and the stages each still lacks (a failed stage counts as missing)."""
        done: dict[int, set[str]] = defaultdict(set)
        for item_id, stage in session.exec(
                select(ItemStage.item_id, ItemStage.stage).where(ItemStage.status == "done")):
            done[item_id].add(stage)
        ids = session.exec(select(Item.id).where(Item.kind == "photo").order_by(Item.id)).all()
        out = {}
        for item_id in ids:
            missing = [s for s in stages if s not in done[item_id]]
            if missing:
                out[item_id] = missing
        return out

    def run(self, item_ids: list[int] | None = None, stages: tuple[str, ...] = STAGES, force: bool = False,
            progress: Progress | None = None, recluster: bool = True) -> EnrichReport:
        report = EnrichReport()
        with self.library.session() as s:
            todo = self.pending(s, stages)
            if force:
                ids = item_ids or s.exec(select(Item.id).where(Item.kind == "photo").order_by(Item.id)).all()
                todo = {i: list(stages) for i in ids}
            elif item_ids is not None:
                todo = {i: todo[i] for i in item_ids if i in todo}
        items = list(todo.items())
        analyses = self._worker_analyses(items)
        for start in range(0, len(items), GROUP):
            with self.library.session() as s:
                vectors: list[tuple[str, int, np.ndarray]] = []
                for n, (item_id, missing) in enumerate(items[start:start + GROUP], start + 1):
                    pre = None
                    if analyses is not None:
                        t = time.perf_counter()
                        try:
                            pre = next(analyses)
                        except BrokenProcessPool:
                            # A worker died (a photo that crashes a decoder, say): the rest run here.
                            analyses = None
                            self.models.forget("photo_workers")
                        report.seconds["waiting for workers"] += time.perf_counter() - t
                    self._enrich_item(s, item_id, missing, report, vectors, pre)
                    report.items += 1
                    if progress:
                        progress(n, len(todo), item_id)
                t = time.perf_counter()
                self._write_vectors(vectors)
                report.seconds["vectors"] += time.perf_counter() - t
        if recluster and report.faces_added:
            t = time.perf_counter()
            with self.library.session() as s:
                self._clusterer(s).recluster()
                self._refresh_descriptions_after_recluster(s)
            report.seconds["recluster"] += time.perf_counter() - t
        return report

    def missing_stages(self, s: Session, item_id: int, stages: tuple[str, ...] = STAGES) -> list[str]:
        """The stages one photo still lacks (a failed stage counts as missing); [] for no photo."""
        item = s.get(Item, item_id)
        if item is None or item.kind != "photo":
            return []
        done = set(s.exec(select(ItemStage.stage).where(ItemStage.item_id == item_id, ItemStage.status == "done")))
        return [x for x in stages if x not in done]

    def enrich_one(self, item_id: int, job_id: int | None = None, stages: tuple[str, ...] = STAGES) -> tuple[str, bool]:
        """One photo's missing stages, idempotently: a Celery task's whole work, and safe to
        run again however often (a task is redone when its worker was killed before it
        acknowledged it). Returns (outcome, whether it settled the last item of ``job_id``):
        "done", "failed" (a stage failed, recorded), "unchanged" (nothing was missing) or
        "settled" (``job_id``'s item was settled before: a second delivery, nothing done).

        The models run before the write transaction; the transaction locks the photo's row
        (on PostgreSQL; SQLite writes one at a time anyway), looks again at what is missing,
        writes faces (the photo's automatic faces replaced), tags, stages, the vectors (just
        before the commit; an upsert by id) and the job item's settlement, and commits them
        together: killed before the commit, nothing of it is kept and the redo starts over."""
        from deepdiary.pipeline.jobs import job_item_status, settle_job_item

        with self.library.read_session() as s:
            missing = self.missing_stages(s, item_id, stages)
            settled = job_id is not None and job_item_status(s, item_id=item_id, job_id=job_id) not in (None, "queued")
            original = self._original(s, item_id) if missing and not settled else None
        pre = None
        # (CLIP and BLIP want the decoded photo itself: with them the models run in the transaction.)
        if (original is not None and set(missing) & set(OFFLOADED)
                and not (self.settings.clip_checkpoint or self.settings.blip_weights)):
            try:
                source = self.library.blobs.image_source(original)
            except Exception as exc:  # noqa: BLE001 - recorded as the photo's failure below
                pre = PhotoAnalysis(unreadable=f"cannot open the photo: {exc}")
            else:
                pre = analyse_photo(self.models, source, tuple(x for x in missing if x in OFFLOADED))
        report = EnrichReport()
        with self.library.session() as s:
            s.exec(select(Item.id).where(Item.id == item_id).with_for_update())
            if job_id is not None and job_item_status(s, job_id, item_id) not in (None, "queued"):
                return "settled", False
            missing = self.missing_stages(s, item_id, stages)
            vectors: list[tuple[str, int, np.ndarray]] = []
            if missing:
                self._enrich_item(s, item_id, missing, report, vectors, pre)
                report.items += 1
            outcome = "unchanged" if not missing else "failed" if report.failures else "done"
            self._write_vectors(vectors)
            closed = settle_job_item(s, job_id, item_id, outcome) if job_id is not None else False
        return outcome, closed

    def recluster(self) -> None:
        """Regroup every face into people, and rebuild the descriptions that name them (after
        a worker job's photos, as ``run`` does after its own)."""
        with self.library.session() as s:
            self._clusterer(s).recluster()
            self._refresh_descriptions_after_recluster(s)

    def _worker_analyses(self, items: list[tuple[int, list[str]]]):
        """The models' outputs for ``items`` from the worker processes, in order, or None to run them here."""
        st = self.settings
        if (len(items) < st.enrich_workers_min_photos or st.clip_checkpoint or st.blip_weights
                or not any(set(missing) & set(OFFLOADED) for _, missing in items)):
            return None
        pool = self.models.photo_workers
        if pool is None:
            return None
        with self.library.read_session() as s:
            refs = [self._original(s, item_id) for item_id, _ in items]
        # Sealed blobs (and blobs in S3) go to the workers as bytes (a few photos ahead), never as
        # plaintext files; a plain blob in the folder goes as its path.
        return pool.analyse((self._worker_source(ref), tuple(x for x in missing if x in OFFLOADED))
                            for ref, (_, missing) in zip(refs, items))

    def _worker_source(self, ref):
        blobs = self.library.blobs
        if isinstance(ref, Path):  # a blob file, or an original kept in place
            return blobs.read(ref) if blobs.sealed else ref
        return blobs.local_path(ref) or blobs.read(ref)

    def _original(self, s: Session, item_id: int):
        """The blob ref of the item's original, or the path it was ingested from when originals
        are kept in place rather than copied."""
        item = s.get(Item, item_id)
        original = self.library.blobs.original(item.sha256, item.ext)
        if not self.library.blobs.exists(original):  # originals kept in place rather than copied
            original = Path(s.exec(select(ItemPath.path).where(ItemPath.item_id == item_id)).first())
        return original

    def redescribe(self, item_ids: list[int]) -> None:
        """Rebuild descriptions after the user changed who is in these photos."""
        with self.library.session() as s:
            self._redescribe(s, item_ids)

    def _redescribe(self, s: Session, item_ids) -> None:
        vectors = []
        for item_id in item_ids:
            work = _ItemWork(item_id)
            self._description(s, item_id, work)
            vectors += work.vectors
        self._write_vectors(vectors)

    def _write_vectors(self, vectors: list[tuple[str, int, np.ndarray]]) -> None:
        """Each collection's vectors in one write (the last of an item's duplicates wins)."""
        by_name: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
        for name, item_id, vector in vectors:
            by_name[name][item_id] = vector
        for name, rows in by_name.items():
            self.library.vectors.upsert(name, list(rows), np.stack(list(rows.values())))

    def _refresh_descriptions_after_recluster(self, s: Session) -> None:
        # Names only change through the user; after re-clustering, descriptions of
        # photos with named people are rebuilt so they never cite a stale name.
        ids = s.exec(select(Face.item_id).join(Person, Person.id == Face.person_id)
                     .where(Person.name.is_not(None)).distinct()).all()
        self._redescribe(s, ids)

    def _enrich_item(self, s: Session, item_id: int, stages: list[str], report: EnrichReport,
                     vectors: list[tuple[str, int, np.ndarray]], pre: PhotoAnalysis | None = None) -> None:
        """One photo's missing stages in ``s``; the vectors of the stages that worked join ``vectors``.
        ``pre``: what worker processes' models made of the photo; without it the models run here."""
        work = _ItemWork(item_id)
        try:
            if pre is not None and pre.unreadable:
                raise StageFailed(pre.unreadable.removeprefix("cannot open the photo: "))
            if pre is None:
                work.image = load_upright(self.library.blobs.image_source(self._original(s, item_id)))
        except Exception as exc:
            for stage in stages:
                self._record(s, item_id, stage, "failed", None, f"cannot open the photo: {exc}")
                report.failures.append({"item_id": item_id, "stage": stage, "error": str(exc)})
            return
        if pre is not None:
            work.faces, work.analysis, work.phash, work.errors = pre.faces, pre.analysis, pre.phash, pre.errors
        for stage in stages:
            t = time.perf_counter()
            try:
                if stage in work.errors:
                    raise StageFailed(work.errors[stage])
                # A savepoint per stage: a failure undoes that stage alone, its vectors with it.
                with s.begin_nested():
                    model = getattr(self, f"_{stage}")(s, item_id, work)
                self._record(s, item_id, stage, "done", model, None)
                report.stages_run[stage] += 1
                vectors += work.vectors
            except Exception as exc:  # one stage failing must not cost the others
                error = str(exc) if isinstance(exc, StageFailed) else f"{type(exc).__name__}: {exc}"
                self._record(s, item_id, stage, "failed", None, error)
                report.failures.append({"item_id": item_id, "stage": stage, "error": error})
            work.vectors.clear()
            report.seconds[stage] += time.perf_counter() - t
        report.faces_added += work.faces_added

    @staticmethod
    def _record(s: Session, item_id: int, stage: str, status: str, model: str | None, error: str | None) -> None:
        row = s.get(ItemStage, (item_id, stage)) or ItemStage(item_id=item_id, stage=stage, status=status)
        row.status, row.model, row.error, row.updated_at = status, model, error, datetime.now(UTC)
        s.add(row)
        s.flush()

    # -- stages ---------------------------------------------------------------------------

    def _faces(self, s: Session, item_id: int, work: "_ItemWork") -> str:
        # The analyzer takes the upright photo at full resolution: the detector looks at
        # the size that suits it, and faces are aligned and embedded from the full photo.
        analyzer = self.models.faces
        detected = work.faces if work.faces is not None else analyzer.analyze(work.image)
        for old in s.exec(select(Face).where(Face.item_id == item_id, Face.assigned_by == "auto")):
            s.delete(old)
        s.flush()
        clusterer = self._clusterer(s)
        for f in detected:
            x, y, w, h = f.box
            face = Face(item_id=item_id, x=x, y=y, width=w, height=h, score=f.score, quality=f.quality,
                        model=analyzer.name, landmarks=json.dumps([[px, py] for px, py in f.landmarks]),
                        embedding=f.embedding.astype(np.float32).tobytes())
            s.add(face)
            s.flush()
            clusterer.assign(face)
        work.faces_added += len(detected)
        refresh_people_counts(s, [item_id])
        return analyzer.name

    def _clusterer(self, s: Session) -> FaceClusterer:
        st = self.settings
        return FaceClusterer(s, st.face_match_threshold, st.face_min_quality, st.face_weak_match_threshold)

    def _analysis(self, work: "_ItemWork"):
        if work.analysis is None:
            work.analysis = self.models.tagger.analyze([work.image])[0]
        return work.analysis

    def _tags(self, s: Session, item_id: int, work: "_ItemWork") -> str:
        from deepdiary.models.imagenet import imagenet_class_names

        analysis = self._analysis(work)
        names = imagenet_class_names()
        s.exec(delete(ItemTag).where(ItemTag.item_id == item_id, ItemTag.kind.in_(["tag", "scene"])))
        top = analysis.top(5)
        for rank, (idx, p) in enumerate(top):
            if rank == 0 or p >= self.settings.tag_min_probability:
                s.add(ItemTag(item_id=item_id, kind="tag", name=names[idx], score=round(p, 4), source=self.models.tagger.name))
        meta = s.get(PhotoMeta, item_id)
        faces = meta.people_count if meta else None
        for scene, score in scenes_for(analysis.probabilities, faces):
            s.add(ItemTag(item_id=item_id, kind="scene", name=scene, name_zh=SCENES[scene], score=min(score, 1.0),
                          source=self.models.tagger.name))
        return self.models.tagger.name

    def _features(self, s: Session, item_id: int, work: "_ItemWork") -> str:
        import imagehash

        analysis = self._analysis(work)
        work.vectors.append((IMAGE_FEATURES, item_id, analysis.features))
        meta = s.get(PhotoMeta, item_id)
        if meta is not None:
            meta.phash = work.phash or str(imagehash.phash(work.image))
            s.add(meta)
        if self.models.clip is not None:
            from deepdiary.memory.vectors import CLIP_IMAGE

            work.vectors.append((CLIP_IMAGE, item_id, np.asarray(self.models.clip.embed_images([work.image]))[0]))
        return self.models.tagger.name + ("+clip" if self.models.clip is not None else "")

    def _description(self, s: Session, item_id: int, work: "_ItemWork") -> str:
        item = s.get(Item, item_id)
        meta = s.get(PhotoMeta, item_id)
        place = s.get(Place, item.place_id) if item.place_id else None
        people = s.exec(select(Person.name).join(Face, Face.person_id == Person.id)
                        .where(Face.item_id == item_id, Person.name.is_not(None)).order_by(Face.x)).all()
        tags = s.exec(select(ItemTag).where(ItemTag.item_id == item_id).order_by(ItemTag.score.desc())).all()
        colour = s.exec(select(ItemColour.name).where(ItemColour.item_id == item_id, ItemColour.region == "image")
                        .order_by(ItemColour.rank)).first()
        facts = PhotoFacts(
            people=list(dict.fromkeys(people)), face_count=meta.people_count or 0 if meta else 0,
            scenes=[t.name for t in tags if t.kind == "scene"], tags=[t.name for t in tags if t.kind == "tag"],
            city=place.city if place else None, country=place.country if place else None,
            city_zh=place.city_zh if place else None, country_zh=place.country_zh if place else None,
            taken_at=item.taken_at if item.date_source != "file:mtime" else None, colour=colour,
        )
        model = "facts"
        english = describe_en(facts)
        if self.settings.blip_weights and work.image is not None:
            from deepdiary.models.caption import BlipCaptioner

            english = BlipCaptioner(self.settings.blip_weights).caption(work.image)
            model = "blip"
        meta.description, meta.description_zh = english, describe_zh(facts)
        s.add(meta)
        # The text index holds both languages so a query in either finds the photo.
        vec = self.models.text.embed([f"{meta.description} {meta.description_zh}"])
        work.vectors.append((PHOTO_TEXT, item_id, np.asarray(vec)[0]))
        return model

    def _category(self, s: Session, item_id: int, work: "_ItemWork") -> str:
        from deepdiary.memory.categories import CategoryModel

        features = work.analysis.features if work.analysis is not None else None  # not written until the group commits
        return CategoryModel(self.library).label_item(s, item_id, features)


@dataclass
class _ItemWork:
    item_id: int
    image: Image.Image | None = None
    analysis: object = None
    faces: list | None = None  # found by a worker process
    phash: str | None = None  # computed by a worker process
    errors: dict = field(default_factory=dict)  # stage -> why its model failed in a worker
    faces_added: int = 0
    vectors: list = field(default_factory=list)  # (collection, item id, vector) the stage wants written
