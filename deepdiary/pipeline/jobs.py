"""Ingest jobs: one row per run with its counts, and every problem file with its reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from deepdiary.memory.library import Library
from deepdiary.memory.tables import IngestError, IngestJob


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

    @property
    def warned(self) -> int:
        return len({p.path for p in self.problems if p.severity == "warning"})

    def as_dict(self) -> dict:
        return {
            "id": self.job_id, "kind": self.kind, "total": self.total, "added": self.added, "linked": self.linked,
            "unchanged": self.unchanged, "failed": self.failed, "warned": self.warned,
            "item_ids": self.item_ids, "problems": [p.__dict__ for p in self.problems],
        }


class JobRecorder:
    """Opens a job (marking any job a killed run left "running" as interrupted) and closes it."""

    def __init__(self, library: Library, kind: str, roots: list[Path], total: int):
        self.library = library
        with library.session() as s:
            for stale in s.exec(select(IngestJob).where(IngestJob.status == "running")):
                stale.status = "interrupted"
                s.add(stale)
            job = IngestJob(kind=kind, roots=json.dumps([str(p) for p in roots]), total=total)
            s.add(job)
            s.flush()
            self.report = IngestReport(job_id=job.id, kind=kind, total=total)

    def problem(self, session, path: str, severity: str, reason: str) -> None:
        """Record a problem inside the caller's transaction; it counts once that commits."""
        session.add(IngestError(job_id=self.report.job_id, path=path, severity=severity, reason=reason))

    def problem_now(self, path: str, severity: str, reason: str) -> None:
        with self.library.session() as s:
            self.problem(s, path, severity, reason)
        self.report.problems.append(FileProblem(path, severity, reason))

    def finish(self) -> IngestReport:
        with self.library.session() as s:
            job = s.get(IngestJob, self.report.job_id)
            job.status, job.finished_at = "done", datetime.now(UTC)
            for key in ("added", "linked", "unchanged", "failed"):
                setattr(job, key, getattr(self.report, key))
            s.add(job)
        return self.report
