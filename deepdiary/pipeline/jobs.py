"""Ingest jobs: one row per run with its counts, and every problem file with its reason.

A job records the process running it (pid and host name). A job left "running" whose
process is gone (killed, crashed) is interrupted: the next job marks it so, and listings
show it so at once. A job another live process is running is left alone, so two
ingests at the same time do not mark each other interrupted.

A job that Celery workers carry (``deepdiary worker``) outlives the process that opened
it: it has a heartbeat instead, refreshed by every task of it a worker takes or settles,
and it is alive while that is fresh (``HEARTBEAT_STALE_SECONDS``), wherever its workers run.
One whose heartbeat went stale (no worker took its tasks) shows as interrupted, and runs
again once a worker takes one of its tasks. Its items are ``JobItem`` rows, each settled in
the transaction that commits the item's results; the job's counts are theirs, and the
task that settles the last one finishes the job (regroups the faces, say) and closes it.

Paths are recorded under their ``path_key`` and reasons through ``display_text``, so a
file name that is not UTF-8, or an error message quoting one, is stored and shown
instead of crashing the run that reports it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import func, insert
from sqlmodel import Session, select

from deepdiary.core.processes import job_alive, this_host
from deepdiary.core.text import display_text, path_key
from deepdiary.memory.library import Library
from deepdiary.memory.tables import IndexQueue, IngestError, IngestJob, JobItem

# (phase, done, total): phases are "read", "store", "embed" and "index"; total is None
# while unknown. deepdiary.core.progress.ProgressFn fits (its label is optional).
PhaseProgress = Callable[[str, int, "int | None"], None]

# Jobs this process has open: a "running" job with our own pid that is not among them
# was left behind by a run that raised, and is as dead as a killed one.
_OPEN_JOBS: set[int] = set()

# A job with a heartbeat is alive while a worker touched it this recently: well above the
# longest single task (one photo, the first also loading the models).
HEARTBEAT_STALE_SECONDS = 300.0


@dataclass
class FileProblem:
    path: str
    severity: str
    reason: str


@dataclass
class IngestReport:
    job_id: int
    kind: str = "photos"
    total: int = 0
    added: int = 0
    linked: int = 0
    unchanged: int = 0
    failed: int = 0
    item_ids: list[int] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)
    # Items stored but not yet searchable when the run ended (the index could not catch
    # up); left out of as_dict, whose keys the CLI prints as they always were.
    pending_index: int = 0
    # The index is left to a worker's task (``JobRecorder.finish(defer_index=True)``).
    index_deferred: bool = False

    @property
    def warned(self) -> int:
        return len({p.path for p in self.problems if p.severity == "warning"})

    def as_dict(self) -> dict:
        return {
            "id": self.job_id, "kind": self.kind, "total": self.total, "added": self.added, "linked": self.linked,
            "unchanged": self.unchanged, "failed": self.failed, "warned": self.warned,
            "item_ids": self.item_ids, "problems": [p.__dict__ for p in self.problems],
        }


def job_running(job: IngestJob) -> bool:
    """Whether a job's status is "running" and its process is still at it."""
    if job.status != "running":
        return False
    if job.heartbeat_at is not None:  # carried by workers: its opener's process does not matter
        return heartbeat_fresh(job.heartbeat_at)
    if job.pid == os.getpid() and job.hostname == this_host():
        return job.id in _OPEN_JOBS
    return job_alive(job.pid, job.hostname, job.started_at)


def heartbeat_fresh(when: datetime, now: datetime | None = None) -> bool:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - when).total_seconds() < HEARTBEAT_STALE_SECONDS


def shown_status(job: IngestJob) -> str:
    """The status to show: a "running" job whose process is gone is "interrupted"."""
    if job.status == "running" and not job_running(job):
        return "interrupted"
    return job.status


def interrupt_dead_jobs(session: Session) -> list[int]:
    """Mark every "running" job whose process is gone as interrupted; their ids."""
    dead = []
    for job in session.exec(select(IngestJob).where(IngestJob.status == "running")):
        if not job_running(job):
            job.status = "interrupted"
            session.add(job)
            dead.append(job.id)
    return dead


class JobRecorder:
    """Opens a job (marking jobs whose process died as interrupted), records problems,
    and closes it once what it stored is searchable.

    Use it as a context manager: a run that raises leaves its job "failed" with the error
    recorded, not "running" forever.
    """

    def __init__(self, library: Library, kind: str, roots: list[Path], total: int,
                 phase_progress: PhaseProgress | None = None):
        self.library = library
        self.phase_progress = phase_progress
        with library.session() as s:
            interrupt_dead_jobs(s)
            job = IngestJob(kind=kind, roots=json.dumps([path_key(p) for p in roots]), total=total,
                            pid=os.getpid(), hostname=this_host())
            s.add(job)
            s.flush()
            self.report = IngestReport(job_id=job.id, kind=kind, total=total)
        _OPEN_JOBS.add(self.report.job_id)

    def __enter__(self) -> "JobRecorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is not None and self.report.job_id in _OPEN_JOBS:
            self._close("failed", f"{type(exc).__name__}: {exc}")

    @property
    def job_id(self) -> int:
        return self.report.job_id

    def problem(self, session, path: str | Path, severity: str, reason: str) -> FileProblem:
        """Record a problem inside the caller's transaction; it counts once that commits."""
        found = FileProblem(path_key(path), severity, display_text(str(reason)))
        session.add(IngestError(job_id=self.report.job_id, path=found.path, severity=severity, reason=found.reason))
        return found

    def problem_now(self, path: str | Path, severity: str, reason: str) -> None:
        with self.library.session() as s:
            found = self.problem(s, path, severity, reason)
        self.report.problems.append(found)

    def problems_now(self, path: str | Path, severity: str, reasons: list[str]) -> None:
        """Record many problems of one file in one transaction (a broken export may have thousands)."""
        if not reasons:
            return
        with self.library.session() as s:
            found = [self.problem(s, path, severity, r) for r in reasons]
        self.report.problems.extend(found)

    def phase(self, phase: str, done: int, total: int | None) -> None:
        if self.phase_progress is not None:
            self.phase_progress(phase, done, total)

    def finish(self, defer_index: bool = False) -> IngestReport:
        """Bring the search index up to date (this run's items and any a killed run left),
        then close the job as done. ``defer_index``: leave the index to a worker's task
        instead (``close_worker_job`` closes the job once it drained the queue); the job stays
        running, with a heartbeat, until then."""
        if defer_index:
            with self.library.session() as s:
                defer_index = pending_index_of(s) > 0  # with nothing to index the job closes now
        if defer_index:
            self.report.index_deferred = True
            with self.library.session() as s:
                job = s.get(IngestJob, self.report.job_id)
                for key in ("added", "linked", "unchanged", "failed"):
                    setattr(job, key, getattr(self.report, key))
                s.add(job)
                beat(s, self.report.job_id)
                self.report.pending_index = pending_index_of(s)
            _OPEN_JOBS.discard(self.report.job_id)
            return self.report
        self._catch_up_index()
        self._close("done")
        return self.report

    def _catch_up_index(self) -> None:
        from deepdiary.pipeline.indexing import drain_index_queue, pending_index

        try:
            drain_index_queue(self.library, self.phase_progress)
        except Exception as exc:  # items stay queued; the next run or `reindex` resumes
            with self.library.session() as s:
                left = pending_index(s)
            self.problem_now(self.library.settings.library_dir, "warning",
                             f"search index not brought up to date ({type(exc).__name__}: {exc}); "
                             f"{left} item(s) wait for the next ingest or reindex")
        with self.library.session() as s:
            self.report.pending_index = pending_index(s)

    def _close(self, status: str, error: str | None = None) -> None:
        with self.library.session() as s:
            job = s.get(IngestJob, self.report.job_id)
            job.status, job.finished_at = status, datetime.now(UTC)
            for key in ("added", "linked", "unchanged", "failed"):
                setattr(job, key, getattr(self.report, key))
            s.add(job)
            if error:
                self.report.problems.append(self.problem(s, self.library.settings.library_dir, "error", error))
        _OPEN_JOBS.discard(self.report.job_id)


def pending_index_of(session: Session) -> int:
    from deepdiary.pipeline.indexing import pending_index

    return pending_index(session)


# -- jobs that workers carry -------------------------------------------------------------

def open_worker_job(library: Library, kind: str, roots: list[Path], item_ids: list[int]) -> int:
    """A job whose ``item_ids`` workers will process, each queued as a ``JobItem``; its id.
    A job with nothing to do is done at once."""
    now = datetime.now(UTC)
    with library.session() as s:
        interrupt_dead_jobs(s)
        job = IngestJob(kind=kind, roots=json.dumps([path_key(p) for p in roots]), total=len(item_ids),
                        pid=os.getpid(), hostname=this_host(), heartbeat_at=now)
        if not item_ids:
            job.status, job.finished_at = "done", now
        s.add(job)
        s.flush()
        if item_ids:
            s.execute(insert(JobItem), [{"job_id": job.id, "item_id": i, "status": "queued", "updated_at": now}
                                        for i in item_ids])
        return job.id


def beat(session: Session, job_id: int) -> None:
    """A worker is at the job: refresh its heartbeat (and run it again if it was taken for dead)."""
    job = session.get(IngestJob, job_id)
    if job is None:
        return
    job.heartbeat_at = datetime.now(UTC)
    if job.status == "interrupted":
        job.status, job.finished_at = "running", None
    session.add(job)
    session.flush()


def job_item_status(session: Session, job_id: int, item_id: int) -> str | None:
    row = session.get(JobItem, (job_id, item_id))
    return row.status if row is not None else None


def settle_job_item(session: Session, job_id: int, item_id: int, status: str) -> bool:
    """Mark one item of a worker job (``done``, ``unchanged`` or ``failed``) in the caller's
    transaction, with the job's counts; True when it was the last, and the caller is to
    finish the job (what follows its items, then ``close_worker_job``). The job's row is
    locked first (on PostgreSQL), so two workers settling its last two items at once cannot
    both miss that it was the last."""
    now = datetime.now(UTC)
    job = session.exec(select(IngestJob).where(IngestJob.id == job_id).with_for_update()
                       .execution_options(populate_existing=True)).first()
    row = session.get(JobItem, (job_id, item_id)) or JobItem(job_id=job_id, item_id=item_id)
    row.status, row.updated_at = status, now
    session.add(row)
    session.flush()
    if job is None:
        return False
    counts = dict(session.exec(select(JobItem.status, func.count()).where(JobItem.job_id == job_id)
                               .group_by(JobItem.status)).all())
    job.added, job.unchanged, job.failed = counts.get("done", 0), counts.get("unchanged", 0), counts.get("failed", 0)
    job.heartbeat_at = now
    if job.status == "interrupted":
        job.status, job.finished_at = "running", None
    session.add(job)
    return not counts.get("queued")


def worker_job_settled(session: Session, job_id: int) -> bool:
    """Whether every item of a worker job is settled while the job is not yet closed (its
    finishing task was killed before it closed it: a second delivery finishes it)."""
    job = session.get(IngestJob, job_id)
    if job is None or job.status == "done":
        return False
    return not session.exec(select(func.count()).select_from(JobItem)
                            .where(JobItem.job_id == job_id, JobItem.status == "queued")).one()


def close_worker_job(session: Session, job_id: int) -> None:
    """Close a job that workers carried, once its last task finished what follows its items
    (an enrich job's regrouping of faces; a chat import's index, ``JobRecorder.finish(defer_index=True)``)."""
    job = session.get(IngestJob, job_id)
    if job is None or job.status == "done":
        return
    job.status, job.finished_at, job.heartbeat_at = "done", datetime.now(UTC), datetime.now(UTC)
    session.add(job)


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def list_jobs(session: Session, limit: int = 20, job_id: int | None = None) -> list[dict]:
    """The newest ``limit`` jobs, newest first, as plain dicts.

    Each has id, kind, status ("interrupted" for a running job whose process is gone),
    roots, the counts (total, added, linked, unchanged, failed, errors, warnings),
    started_at and finished_at (ISO 8601, UTC), pid, hostname, and pending: how many of
    the items it stored are not yet searchable; heartbeat_at (a job workers carry) and
    queued: how many of its items wait for a worker.
    """
    stmt = select(IngestJob) if job_id is None else select(IngestJob).where(IngestJob.id == job_id)
    jobs = session.exec(stmt.order_by(IngestJob.id.desc()).limit(limit)).all()
    ids = [j.id for j in jobs]
    pending = dict(session.exec(
        select(IndexQueue.job_id, func.count(func.distinct(IndexQueue.item_id)))
        .where(IndexQueue.job_id.in_(ids)).group_by(IndexQueue.job_id)).all()) if ids else {}
    # A worker job's items still waiting for their tasks.
    queued = dict(session.exec(
        select(JobItem.job_id, func.count()).where(JobItem.job_id.in_(ids), JobItem.status == "queued")
        .group_by(JobItem.job_id)).all()) if ids else {}
    problems: dict[tuple[int, str], int] = {}
    if ids:
        for job_id, severity, n in session.exec(
                select(IngestError.job_id, IngestError.severity, func.count())
                .where(IngestError.job_id.in_(ids)).group_by(IngestError.job_id, IngestError.severity)):
            problems[(job_id, severity)] = n
    return [{
        "id": j.id, "kind": j.kind, "status": shown_status(j), "roots": _roots(j.roots),
        "total": j.total, "added": j.added, "linked": j.linked, "unchanged": j.unchanged, "failed": j.failed,
        "errors": problems.get((j.id, "error"), 0), "warnings": problems.get((j.id, "warning"), 0),
        "started_at": _iso(j.started_at), "finished_at": _iso(j.finished_at),
        "pid": j.pid, "hostname": j.hostname, "pending": pending.get(j.id, 0),
        "heartbeat_at": _iso(j.heartbeat_at), "queued": queued.get(j.id, 0),
    } for j in jobs]


def _roots(raw: str) -> list[str]:
    try:
        roots = json.loads(raw or "[]")
    except ValueError:
        return []
    return [display_text(r) for r in roots if isinstance(r, str)]


def report_refused_links(job: JobRecorder, links: list[tuple[Path, str]]) -> None:
    """The links a folder walk refused (out of the folder, or to nothing), as warnings:
    nothing was read from them, and the rest of the folder goes in."""
    with job.library.session() as s:
        job.report.problems.extend(job.problem(s, path, "warning", reason) for path, reason in links)
