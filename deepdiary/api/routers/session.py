"""Signing the web UI in: a token, checked once, then kept in an HttpOnly cookie."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from deepdiary.api.deps import COOKIE, Ctx
from deepdiary.core.errors import Unauthorized
from deepdiary.services import tokens

router = APIRouter(tags=["session"])


class SignIn(BaseModel):
    token: str


@router.post("/session")
def sign_in(ctx: Ctx, body: SignIn, response: Response) -> dict:
    info = tokens.check_token(ctx, body.token)
    if info is None:
        raise Unauthorized("that token is not valid (or was revoked)")
    response.set_cookie(COOKIE, body.token, httponly=True, samesite="strict", max_age=30 * 24 * 3600)
    return {"id": info.id, "name": info.name}


@router.delete("/session")
def sign_out(response: Response) -> dict:
    response.delete_cookie(COOKIE)
    return {"id": None, "signed_out": True}
