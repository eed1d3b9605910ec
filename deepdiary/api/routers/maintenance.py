"""The library's health: a read-only check (repairs only from the CLI, never through a GET)."""

from __future__ import annotations

from fastapi import APIRouter

from deepdiary.api.deps import Ctx
from deepdiary.services import maintenance
from deepdiary.services.schemas import CheckReport

router = APIRouter()


@router.get("/check", response_model=CheckReport, tags=["maintenance"])
def check(ctx: Ctx) -> CheckReport:
    """Blobs against their hashes, thumbnails, and the vector and text indexes against the catalogue."""
    return maintenance.check_library(ctx, repair=False)
