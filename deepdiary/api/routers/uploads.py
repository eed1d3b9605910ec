"""Uploads run as jobs in the background; their progress, problems and result are polled."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.core.errors import DeepDiaryError, InvalidInput, NotFound
from deepdiary.services import ingest
from deepdiary.services.schemas import JobRow

router = APIRouter(tags=["uploads"])
_ids = itertools.count(1)


class UploadJob(BaseModel):
    id: str
    kind: str
    files: list[str]
    status: str = "queued"  # queued, running, done, failed
    progress: dict[str, dict] = Field(default_factory=dict)
    result: dict | None = None
    error: str | None = None
    started: float = Field(default_factory=time.time)


def _jobs(ctx: Ctx, request: Request) -> dict[str, UploadJob]:
    # Kept per library: another user's job id is as unknown as one never made.
    uploads = request.app.state.__dict__.setdefault("uploads", {})
    return uploads.setdefault(ctx.settings.library_dir, {})


@router.post("/uploads", response_model=UploadJob, status_code=202)
async def upload(ctx: Ctx, request: Request, kind: Annotated[str, Form()] = "photos",
                 files: Annotated[list[UploadFile], File()] = [],  # noqa: B006
                 format: Annotated[str, Form()] = "auto") -> UploadJob:
    """Photos, chat exports, diaries or location files; the job ingests them while you poll it."""
    if kind not in ingest.UPLOAD_KINDS:
        raise InvalidInput(f"kind: {kind!r} is not one of {', '.join(ingest.UPLOAD_KINDS)}")
    if not files:
        raise InvalidInput("files: upload at least one file")
    payload = [(f.filename or "upload", await f.read()) for f in files]
    job = UploadJob(id=f"upload-{next(_ids)}", kind=kind, files=[name for name, _ in payload])
    _jobs(ctx, request)[job.id] = job

    def progress(phase: str, done: int, total: int | None, label: str = "") -> None:
        job.progress[phase] = {"done": done, "total": total}

    def run() -> None:
        job.status = "running"
        try:
            result = ingest.ingest_upload(ctx, kind, payload, fmt=format, progress=progress)
            job.result, job.status = result.model_dump(mode="json"), "done"
        except DeepDiaryError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - a bug is logged by the thread and shown as failed
            job.error, job.status = f"unexpected {type(exc).__name__}: {exc}", "failed"
            raise

    threading.Thread(target=run, name=job.id, daemon=True).start()
    return job


@router.get("/jobs", response_model=list[JobRow])
def jobs(ctx: Ctx, limit: int = 20) -> list[JobRow]:
    """Ingest jobs in the catalogue, newest first."""
    return ingest.list_jobs(ctx, limit)


@router.get("/jobs/{job_id}")
def job(ctx: Ctx, request: Request, job_id: str):
    """An upload job (``upload-N``) with its progress and result, or a catalogue job by number."""
    if job_id in _jobs(ctx, request):
        return _jobs(ctx, request)[job_id]
    if job_id.isdigit():
        return ingest.get_job(ctx, int(job_id))
    raise NotFound(f"no job {job_id}")
