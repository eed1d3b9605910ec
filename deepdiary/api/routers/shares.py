"""Share links, made and revoked by the signed-in user: a photo, an event or a search."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.core.errors import InvalidInput
from deepdiary.services import shares as share_service

router = APIRouter(tags=["shares"])


class NewShare(BaseModel):
    kind: Literal["photo", "event", "search"]
    target: str = Field(min_length=1, description="the photo id, the event id, or the search text")
    expires: str | None = Field(None, description="30m, 12h, 7d, 2w or a date (default: the server's share_expiry)")


@router.post("/shares", response_model=share_service.NewShareLink, status_code=201)
def create_share(ctx: Ctx, body: NewShare) -> share_service.NewShareLink:
    """A read-only link (``url``, shown once) to what ``target`` names, frozen as it is now."""
    if body.kind == "search":
        return share_service.share_search(ctx, body.target, body.expires)
    if not body.target.strip().isdigit():
        raise InvalidInput(f"target: a {body.kind} is named by its id, not {body.target!r}")
    make = share_service.share_photo if body.kind == "photo" else share_service.share_event
    return make(ctx, int(body.target), body.expires)


@router.get("/shares", response_model=list[share_service.ShareLink])
def list_shares(ctx: Ctx) -> list[share_service.ShareLink]:
    return share_service.list_shares(ctx)


@router.delete("/shares/{share_id}", response_model=share_service.ShareLink)
def revoke_share(ctx: Ctx, share_id: int) -> share_service.ShareLink:
    return share_service.revoke_share(ctx, share_id)
