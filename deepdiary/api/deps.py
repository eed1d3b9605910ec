"""What every route needs: the application context."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from deepdiary.core.errors import Unauthorized
from deepdiary.services import AppContext

COOKIE = "dd_token"


async def app_context(request: Request) -> AppContext:
    # async: FastAPI would run a plain function in the thread pool, a thread hop per request for nothing.
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(app_context)]


def bearer(request: Request) -> str | None:
    """The token a request carries: ``Authorization: Bearer …`` or the web UI's HttpOnly cookie."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


def require_token(request: Request) -> None:
    """Once a token exists, every API request needs a valid one."""
    from deepdiary.services import tokens

    ctx = request.app.state.ctx
    if not tokens.tokens_exist(ctx):
        return  # a fresh library on loopback: `serve` refuses other hosts until a token exists
    if tokens.check_token(ctx, bearer(request)) is None:
        raise Unauthorized("a valid token is needed: `deepdiary token create NAME`, then "
                           "'Authorization: Bearer <token>'")
