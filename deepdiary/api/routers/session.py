"""Signing the web UI in: a token, checked once, then kept in an HttpOnly cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from deepdiary.api.deps import COOKIE, libraries
from deepdiary.core.errors import Unauthorized

router = APIRouter(tags=["session"])


class SignIn(BaseModel):
    token: str


@router.post("/session")
def sign_in(request: Request, body: SignIn, response: Response) -> dict:
    found = libraries(request).check(body.token)  # the owner's token or a user's
    if found is None:
        raise Unauthorized("that token is not valid (or was revoked)")
    ctx, info = found
    response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", max_age=30 * 24 * 3600)
    return {"id": info.id, "name": info.name, "user": ctx.user.name if ctx.user else None}


@router.delete("/session")
def sign_out(response: Response) -> dict:
    response.delete_cookie(COOKIE)
    return {"id": None, "signed_out": True}
