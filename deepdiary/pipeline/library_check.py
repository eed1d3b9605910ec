"""Checking a library against itself, and repairing what can be repaired.

The catalogue is the truth; everything else is either content it names (originals in the
blob store, addressed by their sha256) or derived from it (thumbnails, the photo vectors,
the text index's words and vectors). Each concern below compares one of them with the
catalogue and returns ``Finding``s; ``repair`` then fixes a finding where the data to do
so still exists:

- an original missing or not matching its sha256: copied again from the file it was
  ingested from when that still has the same bytes, otherwise unrepairable;
- a thumbnail missing: rebuilt from the original;
- a blob or a vector no item references: deleted;
- a photo stage recorded done without its vector: its ``item_stages`` row deleted, so the
  next ``enrich`` runs that stage again;
- a message or diary chunk missing from the words or the text vectors: queued on the
  durable index queue and, unless told otherwise, the queue drained.

Checking never writes: the catalogue is read in a read-only session, Chroma collections are
looked up (never created) and the FTS file is opened read-only. Face crops are not stored
(they are cut from the original on request), so an original that checks out is all a face
needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import delete, select

from deepdiary.memory.blobs import blob_digest, sha256_file
from deepdiary.memory.library import Library
from deepdiary.memory.sealing import SealBroken, sqlite_connect
from deepdiary.memory.tables import IndexQueue, Item, ItemPath, ItemStage
from deepdiary.memory.text_index import TEXTS
from deepdiary.memory.vectors import CLIP_IMAGE, IMAGE_FEATURES, PHOTO_TEXT
from deepdiary.pipeline.indexing import INDEXED_KINDS, drain_index_queue, indexed_rows, queue_for_index

# The photo collections and the enrichment stage whose "done" promises a vector in each.
PHOTO_VECTORS = {IMAGE_FEATURES: "features", PHOTO_TEXT: "description"}
# An ingest writes a photo's blob and thumbnail before the transaction that names them
# commits, so a young unreferenced blob may be one in flight: left alone for this long.
ORPHAN_GRACE_SECONDS = 3600.0


@dataclass
class Finding:
    kind: str            # what is wrong, e.g. "missing_thumbnail"
    detail: str          # in words, naming the file or collection
    item_id: int | None = None
    file: str | None = None
    repairable: bool = True
    repaired: bool = False
    action: str | None = None  # what repair did, or why it could not

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.item_id if self.item_id is not None else self.file}"


@dataclass
class CheckOutcome:
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # what was looked at


class LibraryChecker:
    """One library's consistency: ``check()`` reads, ``repair(findings)`` fixes."""

    def __init__(self, library: Library, orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS):
        self.library = library
        self.blobs = library.blobs
        self.orphan_grace_seconds = orphan_grace_seconds

    # -- checking -------------------------------------------------------------------------

    def check(self) -> CheckOutcome:
        outcome = CheckOutcome()
        with self.library.read_session() as s:
            photos = s.exec(select(Item.id, Item.sha256, Item.ext).where(Item.kind == "photo",
                                                                          Item.sha256.is_not(None))).all()
            done = {(i, st) for i, st in s.exec(select(ItemStage.item_id, ItemStage.stage)
                                                .where(ItemStage.status == "done"))}
            texts = s.exec(select(Item.id).where(Item.kind.in_(INDEXED_KINDS))).all()
            queued = set(s.exec(select(IndexQueue.item_id)).all())
            all_ids = set(s.exec(select(Item.id)).all())
            rows = indexed_rows(s, list(texts), self.library.settings.owner_name) if texts else []
        outcome.counts = {"photos": len(photos), "texts": len(texts), "queued": len(queued)}
        outcome.findings += self._check_blobs(photos, outcome.counts)
        outcome.findings += self._check_photo_vectors({i for i, _, _ in photos}, done, outcome.counts)
        outcome.findings += self._check_text_index(rows, all_ids, queued, outcome.counts)
        return outcome

    def _check_blobs(self, photos, counts) -> list[Finding]:
        found: list[Finding] = []
        copied = self.library.settings.copy_originals
        known = set()
        # One listing of the store (a folder's files, a bucket's objects under the library's
        # prefix), after the catalogue was read: every blob it names was written before that.
        where = self.blobs.location
        stored = {where(blob.ref): blob for blob in self.blobs.iter_blobs()}
        for item_id, sha, ext in photos:
            known.add(sha)
            original = self.blobs.original(sha, ext or "")
            if copied:
                if where(original) not in stored:
                    found.append(Finding("missing_original", f"original {original.name} is missing",
                                         item_id, where(original)))
                elif self._digest(original) != sha:
                    found.append(Finding("corrupt_original", f"original {original.name} does not match "
                                         "its sha256 (damaged on disk)", item_id, where(original)))
            thumb = self.blobs.thumbnail(sha)
            if where(thumb) not in stored:
                found.append(Finding("missing_thumbnail", f"thumbnail {thumb.name} is missing", item_id, where(thumb)))
        files = young = 0
        cutoff = time.time() - self.orphan_grace_seconds
        for location, blob in stored.items():
            files += 1
            if blob_digest(blob.name) not in known:
                if blob.modified > cutoff:
                    young += 1
                    continue
                found.append(Finding("orphan_blob", f"{blob.name}: no item has this content", None, location))
        counts["blob_files"] = files
        counts["unreferenced_recent_blobs"] = young
        return found

    def _check_photo_vectors(self, photo_ids: set[int], done: set[tuple[int, str]], counts) -> list[Finding]:
        found: list[Finding] = []
        vectors = self.library.vectors
        for name, stage in PHOTO_VECTORS.items():
            ids = vectors.existing_ids(name)
            counts[f"vectors_{name}"] = len(ids)
            for item_id in sorted(ids - photo_ids):
                found.append(Finding("orphan_vector", f"vector {item_id} in {name} has no photo", item_id, name))
            for item_id in sorted(i for i in photo_ids if (i, stage) in done and i not in ids):
                found.append(Finding("missing_vector", f"stage {stage} is recorded done but {name} has "
                                     "no vector", item_id, name))
        clip = vectors.existing_ids(CLIP_IMAGE)
        for item_id in sorted(clip - photo_ids):
            found.append(Finding("orphan_vector", f"vector {item_id} in {CLIP_IMAGE} has no photo", item_id, CLIP_IMAGE))
        return found

    def _check_text_index(self, rows, all_ids: set[int], queued: set[int], counts) -> list[Finding]:
        found: list[Finding] = []
        worded = self._worded_ids()
        embedded = self.library.vectors.existing_ids(TEXTS)
        counts["text_words"], counts["text_vectors"] = len(worded), len(embedded)
        stored = {r.item_id for r in rows}
        for r in rows:
            if r.item_id in queued:
                continue  # waiting for the next drain: not searchable yet, but not lost
            if r.item_id not in worded:
                found.append(Finding("missing_text_entry", "not in the text index (words)", r.item_id,
                                     self._text_index_path))
            elif r.text.strip() and r.item_id not in embedded:
                found.append(Finding("missing_text_vector", f"no vector in {TEXTS}", r.item_id, TEXTS))
        for item_id in sorted(worded - stored - queued):
            found.append(Finding("orphan_text_entry", "the text index holds an item the catalogue does not",
                                 item_id, self._text_index_path))
        for item_id in sorted(embedded - stored - queued):
            found.append(Finding("orphan_vector", f"vector {item_id} in {TEXTS} has no message or diary chunk",
                                 item_id, TEXTS))
        return found

    @property
    def _text_index_path(self) -> str:
        if self.library.engine.dialect.name == "postgresql":
            return "text_docs"  # the table in the library's schema
        return str(self.library.text_index_path)

    def _worded_ids(self) -> set[int]:
        if self.library.engine.dialect.name == "postgresql":
            return self.library.text_index.indexed_ids()  # reads only: creates no table
        path = self.library.text_index_path
        if not path.exists():
            return set()
        # Only read, never through TextIndex (which creates its tables); not opened with
        # mode=ro either: a read-only connection to a WAL file leaves -wal and -shm behind,
        # where the last ordinary connection to close removes them.
        con = sqlite_connect(path, self.library.key, timeout=30)
        try:
            return {i for (i,) in con.execute("SELECT item_id FROM meta")}
        except con.OperationalError:  # sqlite3's or SQLCipher's
            return set()
        finally:
            con.close()

    # -- repairing ------------------------------------------------------------------------

    def repair(self, findings: list[Finding], drain: bool = True) -> None:
        """Fix each finding that can be fixed, recording on it what was done.

        ``drain=False`` only queues missing text entries (a backup's snapshot, which
        should not need the text encoder); the next ingest or ``reindex`` writes them."""
        by_kind: dict[str, list[Finding]] = {}
        for f in findings:
            by_kind.setdefault(f.kind, []).append(f)
        for f in by_kind.get("missing_original", []) + by_kind.get("corrupt_original", []):
            self._restore_original(f)
        for f in by_kind.get("missing_thumbnail", []):
            self._rebuild_thumbnail(f)
        for f in by_kind.get("orphan_blob", []):
            self.blobs.delete(self.blobs.ref_at(f.file))
            f.repaired, f.action = True, "deleted"
        orphans: dict[str, list[Finding]] = {}
        for f in by_kind.get("orphan_vector", []):
            orphans.setdefault(f.file, []).append(f)
        for name, group in orphans.items():
            self.library.vectors.delete(name, [f.item_id for f in group])
            for f in group:
                f.repaired, f.action = True, "vector deleted"
        missing_vectors = by_kind.get("missing_vector", [])
        if missing_vectors:
            stage_of = {name: stage for name, stage in PHOTO_VECTORS.items()}
            with self.library.session() as s:
                for f in missing_vectors:
                    stage = stage_of[f.file]
                    s.exec(delete(ItemStage).where(ItemStage.item_id == f.item_id, ItemStage.stage == stage))
                    f.repaired, f.action = True, f"stage {stage} marked to redo: run `deepdiary enrich`"
        orphan_words = by_kind.get("orphan_text_entry", [])
        if orphan_words:
            self.library.text_index.remove([f.item_id for f in orphan_words])
            for f in orphan_words:
                f.repaired, f.action = True, "entry removed"
        requeue = by_kind.get("missing_text_entry", []) + by_kind.get("missing_text_vector", [])
        if requeue:
            with self.library.session() as s:
                queue_for_index(s, sorted({f.item_id for f in requeue}))
            if drain:
                drain_index_queue(self.library)
            for f in requeue:
                f.repaired, f.action = True, "re-indexed" if drain else "queued for the index"

    def _restore_original(self, f: Finding) -> None:
        with self.library.read_session() as s:
            item = s.get(Item, f.item_id)
            sources = s.exec(select(ItemPath.path).where(ItemPath.item_id == f.item_id)).all()
        for source in sources:
            path = Path(source)
            if path.is_file() and sha256_file(path) == item.sha256:
                self.blobs.delete(self.blobs.original(item.sha256, item.ext or ""))
                self.blobs.put_file(path, item.sha256, item.ext or "")
                f.repaired, f.action = True, f"copied again from {path}"
                return
        f.repairable = False
        f.action = "cannot be repaired: no ingested file has these bytes any more; restore it from a backup"

    def _rebuild_thumbnail(self, f: Finding) -> None:
        from deepdiary.connectors.photos import PhotoReadError, read_photo

        with self.library.read_session() as s:
            item = s.get(Item, f.item_id)
        original = self.blobs.original(item.sha256, item.ext or "")
        if not self.blobs.exists(original) or self._digest(original) != item.sha256:
            f.repairable = False
            f.action = "cannot be rebuilt: the original is missing or damaged"
            return
        plain = self.blobs.local_path(original)
        if plain is None:  # sealed or in S3: decoded in memory (a sealed plaintext never goes to disk)
            from deepdiary.models.photo_workers import load_upright

            try:
                preview = load_upright(self.blobs.image_source(original))
            except Exception as exc:  # noqa: BLE001 - reported as the finding's reason
                f.repairable, f.action = False, f"cannot be rebuilt: {exc}"
                return
            size = self.library.settings.thumbnail_size
            preview.thumbnail((size, size))
            self.blobs.put_thumbnail(item.sha256, preview)
            f.repaired, f.action = True, "rebuilt from the original"
            return
        try:
            record = read_photo(plain, preview_size=self.library.settings.thumbnail_size)
        except PhotoReadError as exc:
            f.repairable, f.action = False, f"cannot be rebuilt: {exc}"
            return
        self.blobs.put_thumbnail(item.sha256, record.preview)
        f.repaired, f.action = True, "rebuilt from the original"


    def _digest(self, original) -> str | None:
        """The sha256 of a blob's plaintext; None when a sealed blob does not open (damaged)."""
        try:
            return self.blobs.sha256_of(original)
        except SealBroken:
            return None

