"""Keeping search in step with the catalogue: the index queue, its drain, and reindex.

The catalogue is the truth; the text index (FTS5 words) and the text vectors (Chroma)
are derived from it. Storing an item and indexing it are two stores that no transaction
spans, so the catalogue keeps a queue: the transaction that stores (or removes) a
message or diary chunk also adds its id to ``index_queue``. Draining writes both indexes
for a batch of queued ids, then deletes exactly those queue rows. A run killed anywhere
leaves its ids queued, and the next run (any ingest, or ``reindex``) writes what either
index lacks, so an item can be stored and not searchable only until then, and
``library_stats`` says how many are waiting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Iterable

from sqlalchemy import delete, func, insert
from sqlmodel import Session, select

from deepdiary.memory.library import Library
from deepdiary.memory.tables import ChatMeta, Conversation, DiaryMeta, IndexQueue, Item
from deepdiary.memory.text_index import VECTOR_BATCH, IndexedText

PhaseProgress = Callable[[str, int, "int | None"], None]
INDEXED_KINDS = ("message", "diary")
# Placeholders of these kinds say nothing a question could match.
UNINDEXED_KINDS = {"image", "sticker", "voice", "video", "call"}


@dataclass
class IndexResult:
    indexed: int = 0   # items whose entries were written
    removed: int = 0   # removed items whose entries were dropped
    skipped: int = 0   # queued items both indexes already held
    pending: int = 0   # still queued when it ended
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def queue_for_index(session: Session, item_ids: Iterable[int], job_id: int | None = None) -> None:
    """Queue items (stored or removed in this transaction) for the indexes."""
    now = datetime.now(UTC)
    rows = [{"item_id": i, "job_id": job_id, "queued_at": now} for i in item_ids]
    if rows:
        session.execute(insert(IndexQueue), rows)


def pending_index(session: Session, job_id: int | None = None) -> int:
    """How many items wait for the indexes (those ``job_id`` stored, when given)."""
    query = select(func.count(func.distinct(IndexQueue.item_id)))
    if job_id is not None:
        query = query.where(IndexQueue.job_id == job_id)
    return session.exec(query).one()


def drain_index_queue(library: Library, phase_progress: PhaseProgress | None = None,
                      batch: int = VECTOR_BATCH) -> IndexResult:
    """Write what the indexes lack for every queued item, oldest first, in batches.

    Progress: ("embed", done, total) while the batch is embedded, ("index", done, total)
    once it is written; ``total`` is the queue's length when the drain began.
    """
    started = time.perf_counter()
    result = IndexResult()
    with library.session() as s:
        total = pending_index(s)
    done = 0
    while total:
        with library.session() as s:
            queued = s.exec(select(IndexQueue.id, IndexQueue.item_id).order_by(IndexQueue.id).limit(batch)).all()
            if not queued:
                break
            ids = sorted({item_id for _, item_id in queued})
            rows = indexed_rows(s, ids, library.settings.owner_name)
        _write_batch(library, ids, rows, result, _embed_progress(phase_progress, done, total, len(ids)))
        with library.session() as s:
            s.exec(delete(IndexQueue).where(IndexQueue.id.in_([q for q, _ in queued])))
        done += len(ids)
        if phase_progress:
            phase_progress("index", min(done, total), max(total, done))
    with library.session() as s:
        result.pending = pending_index(s)
    result.seconds = time.perf_counter() - started
    return result


def _write_batch(library: Library, ids: list[int], rows: list[IndexedText], result: IndexResult,
                 progress: Callable[[int, int], None] | None) -> None:
    index = library.text_index
    stored = {r.item_id for r in rows}
    gone = [i for i in ids if i not in stored]
    if gone:  # removed since they were queued (an edited diary entry)
        index.remove(gone)
        result.removed += len(gone)
    todo = index.missing(rows)
    result.skipped += len(rows) - len(todo)
    if todo:
        index.add(todo, progress=progress)
        result.indexed += len(todo)


def _embed_progress(phase_progress: PhaseProgress | None, before: int, total: int,
                    in_batch: int) -> Callable[[int, int], None] | None:
    """Embedding progress within a batch, as a share of the whole drain."""
    if phase_progress is None:
        return None

    def report(done: int, of: int) -> None:
        phase_progress("embed", before + round(in_batch * done / max(of, 1)), total)

    return report


def reindex(library: Library, progress: PhaseProgress | None = None) -> dict:
    """Rebuild the text index and the text vectors from the catalogue.

    Every message and diary chunk is queued first (in one transaction), then both
    indexes are emptied and the queue drained: killed part-way, the next ingest or
    reindex carries on from the queue. Recorded as a job of kind "reindex". Returns the
    job id, the number of items, and the drain's counts (indexed, removed, skipped,
    pending, seconds).
    """
    from deepdiary.pipeline.jobs import JobRecorder

    with library.session() as s:
        ids = list(s.exec(select(Item.id).where(Item.kind.in_(INDEXED_KINDS)).order_by(Item.id)))
    with JobRecorder(library, "reindex", [library.settings.library_dir], len(ids), progress) as job:
        with library.session() as s:
            queue_for_index(s, ids, job.job_id)
        library.text_index.clear()
        result = drain_index_queue(library, progress)
        job.report.added = result.indexed
        job.finish()
    return {"id": job.job_id, "items": len(ids), **result.as_dict()}


def indexed_rows(s: Session, ids: list[int], owner: str) -> list[IndexedText]:
    """What the indexes hold for each of ``ids`` that is a stored message or diary chunk."""
    items = {i.id: i for i in s.exec(select(Item).where(Item.id.in_(ids), Item.kind.in_(INDEXED_KINDS)))}
    chats = {c.item_id: c for c in s.exec(select(ChatMeta).where(ChatMeta.item_id.in_(list(items))))}
    diaries = {d.item_id: d for d in s.exec(select(DiaryMeta).where(DiaryMeta.item_id.in_(list(items))))}
    convs = {c.id: c.name for c in s.exec(select(Conversation))}
    # Messages are stored in export order, so a message's neighbours are the ids beside it
    # in the same conversation; one query fetches them for the whole batch.
    around = {i: (conv, text) for i, conv, text in s.exec(
        select(Item.id, ChatMeta.conversation_id, Item.text).join(ChatMeta, ChatMeta.item_id == Item.id)
        .where(Item.id.in_({j for i in chats for j in (i - 1, i + 1)})))} if chats else {}
    rows = []
    for item_id in ids:
        item = items.get(item_id)
        if item is None:
            continue
        if item.kind == "diary":
            d = diaries.get(item_id)
            if d is None:  # half-written by a version without one transaction per file
                continue
            rows.append(IndexedText(item_id, (item.title + "\n" if item.title else "") + (item.text or ""), "",
                                    item.taken_at, owner, "diary", "diary", f"{d.source_file}:{d.source_line}"))
            continue
        meta = chats.get(item_id)
        if meta is None:
            continue
        if meta.msg_kind in UNINDEXED_KINDS or not item.text:
            rows.append(IndexedText(item_id, "", "", item.taken_at, meta.sender, convs[meta.conversation_id], "message"))
            continue
        neighbours = [around[j][1] for j in (item_id - 1, item_id + 1)
                      if j in around and around[j][0] == meta.conversation_id and around[j][1]]
        rows.append(IndexedText(item_id, item.text, " ".join(neighbours), item.taken_at,
                                meta.sender, convs[meta.conversation_id], "message",
                                f"{meta.source_file}:{meta.source_line}#{meta.source_id}"))
    return rows
