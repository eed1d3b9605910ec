"""Work for Celery workers: what ingest hands them when ``DEEPDIARY_BROKER_URL`` is set, and
what each of their tasks does (``deepdiary.workers`` runs them; ``deepdiary worker``).

A photo ingest enqueues one task per photo that lacks enrichment stages; a chat import
one task that embeds and indexes what it stored. Both are recorded as jobs that the
workers carry (``deepdiary.pipeline.jobs``: a heartbeat, and a row per photo), so their
progress shows in ``deepdiary jobs`` and ``GET /api/jobs`` wherever the workers run.

A task carries the library's namespace, not its settings: a worker opens the library its
own settings name (the same ``DEEPDIARY_*`` environment, or ``--library``), consumes only
that library's queue (``deepdiary.<namespace>``) and refuses a task of another library.
No credentials travel through the broker.

Tasks are acknowledged late, after their results are committed, and are idempotent (the
photo's row locked, its missing stages looked up again, the job's row for it settled in
the same transaction): a worker killed mid-task leaves the task to be delivered again
(after ``broker_visibility_timeout``), and a delivery of a task already done does nothing.
Without a broker the same pipeline code runs in the calling process.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from deepdiary.core.errors import InvalidInput
from deepdiary.core.settings import Settings
from deepdiary.services.context import AppContext

ENRICH_PHOTO = "deepdiary.enrich_photo"
INDEX_TEXT = "deepdiary.index_text"
# A deadlock or a dropped connection is tried again this many times before the task fails.
DB_ATTEMPTS = 4
# Seconds between a running task's heartbeats on its job (well inside the stale limit): a long
# task (a big chat import's embedding) keeps its job alive for `deepdiary jobs` and new jobs.
HEARTBEAT_EVERY = 30.0


def queue_name(settings: Settings) -> str:
    """The broker queue of one library's tasks: workers of other libraries never take them."""
    return f"deepdiary.{settings.library_namespace}"


def celery_config(settings: Settings) -> dict:
    """Celery's settings, the same for the ingest that sends tasks and the workers."""
    if not settings.broker_url:
        raise InvalidInput("no broker: set DEEPDIARY_BROKER_URL (redis://127.0.0.1:6379/0)")
    timeout = max(int(settings.broker_visibility_timeout), 1)
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        # An unacknowledged task (its worker died) goes back to the queue after the visibility
        # timeout; the sweep that puts it back runs often enough to notice it soon after.
        "broker_transport_options": {"visibility_timeout": timeout,
                                     "unacked_restore_interval": max(1, min(10, timeout // 4)),
                                     "unacked_restore_throttle": 1},
        "task_default_queue": queue_name(settings),
        "task_acks_late": True,  # acknowledged after the task returned: its results are committed by then
        "task_reject_on_worker_lost": True,  # a pool process killed mid-task: the task goes back at once
        "worker_prefetch_multiplier": 1,  # a worker holds no more tasks than it runs
        "task_ignore_result": True,  # results are in the catalogue, progress in its jobs
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_send_task_events": False,
    }


_producers: dict[tuple, object] = {}
_producers_lock = threading.Lock()


def _producer(settings: Settings):
    """A Celery app that only sends (one per broker and queue, kept for the process)."""
    from celery import Celery

    key = (settings.broker_url, queue_name(settings), settings.broker_visibility_timeout)
    with _producers_lock:
        if key not in _producers:
            app = Celery("deepdiary-ingest", set_as_current=False)
            app.conf.update(celery_config(settings))
            _producers[key] = app
        return _producers[key]


def _send(ctx: AppContext, name: str, **kwargs) -> None:
    _producer(ctx.settings).send_task(name, kwargs={"namespace": ctx.settings.library_namespace, **kwargs},
                                      queue=queue_name(ctx.settings))


# -- what ingest enqueues ----------------------------------------------------------------

def enqueue_enrichment(ctx: AppContext, roots: list[Path], item_ids: list[int] | None = None) -> int:
    """A job of kind "enrich" for every photo that lacks a stage (or those of ``item_ids`` that
    do), one task per photo; the job's id."""
    from deepdiary.pipeline.enrich import STAGES, Enricher
    from deepdiary.pipeline.jobs import open_worker_job

    with ctx.read() as s:
        todo = list(Enricher(ctx.library).pending(s, STAGES))
    if item_ids is not None:
        wanted = set(item_ids)
        todo = [i for i in todo if i in wanted]
    job_id = open_worker_job(ctx.library, "enrich", roots, todo)
    for item_id in todo:
        _send(ctx, ENRICH_PHOTO, job_id=job_id, item_id=item_id)
    return job_id


def enqueue_index(ctx: AppContext, job_id: int) -> None:
    """The task that embeds and indexes what job ``job_id`` stored (and anything else queued)."""
    _send(ctx, INDEX_TEXT, job_id=job_id)


# -- what a worker's task does -----------------------------------------------------------

def check_namespace(ctx: AppContext, namespace: str) -> None:
    if namespace != ctx.settings.library_namespace:
        raise InvalidInput(f"a task for library {namespace!r} reached a worker of {ctx.settings.library_namespace!r}: "
                           "give the worker that library's settings (DEEPDIARY_NAMESPACE, DEEPDIARY_HOME, ...)")


def _with_retries(fn):
    """``fn()``, tried again after a deadlock or a lost connection (its transaction rolled back whole)."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    for attempt in range(DB_ATTEMPTS):
        try:
            return fn()
        except (OperationalError, DBAPIError) as exc:
            if attempt == DB_ATTEMPTS - 1 or not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                raise
            time.sleep(0.2 * (attempt + 1))


def _beat(ctx: AppContext, job_id: int) -> None:
    from deepdiary.pipeline.jobs import beat

    with ctx.write() as s:
        beat(s, job_id)


@contextmanager
def heartbeat(ctx: AppContext, job_id: int, every: float = HEARTBEAT_EVERY) -> Iterator[None]:
    """Beat on the job every ``every`` seconds while the block runs (from a thread of its own,
    in short transactions of their own)."""
    _with_retries(lambda: _beat(ctx, job_id))
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every):
            try:
                _beat(ctx, job_id)
            except Exception:  # noqa: BLE001 - the next beat tries again
                pass

    thread = threading.Thread(target=run, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def enrich_photo_task(ctx: AppContext, namespace: str, job_id: int, item_id: int) -> dict:
    """One photo's enrichment for job ``job_id`` (idempotent). The task that settles the
    job's last photo regroups the faces into people and refreshes the events, as an
    in-process enrichment does at its end."""
    from deepdiary.pipeline.enrich import Enricher
    from deepdiary.pipeline.jobs import close_worker_job, worker_job_settled

    check_namespace(ctx, namespace)
    with heartbeat(ctx, job_id):
        enricher = Enricher(ctx.library)
        outcome, last = _with_retries(lambda: enricher.enrich_one(item_id, job_id))
        if outcome == "settled":
            # A second delivery: the first may have settled the last photo and been killed before
            # it regrouped the faces and closed the job. Regrouping again is harmless.
            with ctx.read() as s:
                last = worker_job_settled(s, job_id)
        if last:
            from deepdiary.services.ingest import refresh_events

            _with_retries(enricher.recluster)
            _with_retries(lambda: refresh_events(ctx))

            def close() -> None:
                with ctx.write() as s:
                    close_worker_job(s, job_id)

            _with_retries(close)
    return {"job_id": job_id, "item_id": item_id, "outcome": outcome, "job_done": last}


@contextmanager
def _one_drain_at_a_time(ctx: AppContext) -> Iterator[None]:
    """Two index tasks (two chat imports) drain the shared queue one after the other: an advisory
    lock on PostgreSQL (released if the worker dies with its connection), a file lock beside
    an SQLite catalogue (whose workers share the machine)."""
    engine = ctx.library.engine
    if engine.dialect.name == "postgresql":
        from sqlalchemy import text

        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            key = text("SELECT hashtext(:name)")
            lock_id = conn.execute(key, {"name": f"deepdiary-index:{ctx.settings.library_namespace}"}).scalar()
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
        return
    import fcntl

    path = ctx.settings.library_dir / ".index-drain.lock"
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def index_text_task(ctx: AppContext, namespace: str, job_id: int) -> dict:
    """Embed and index everything queued (job ``job_id``'s messages among them), then close the
    job. Idempotent: the queue's rows go only once both indexes hold their entries."""
    from deepdiary.pipeline.indexing import drain_index_queue, pending_index
    from deepdiary.pipeline.jobs import close_worker_job

    check_namespace(ctx, namespace)
    with heartbeat(ctx, job_id), _one_drain_at_a_time(ctx):
        result = drain_index_queue(ctx.library)
    with ctx.write() as s:
        left = pending_index(s, job_id)
        if not left:
            close_worker_job(s, job_id)
    return {"job_id": job_id, "indexed": result.indexed, "pending": left}
