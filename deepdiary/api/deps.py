"""What every route needs: the application context of the library its token opens."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from deepdiary.services import AppContext

COOKIE = "dd_token"


def bearer(request: Request) -> str | None:
    """The token a request carries: ``Authorization: Bearer …`` or the web UI's HttpOnly cookie."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


def libraries(request: Request):
    """The server's ``services.users.Libraries``: the owner's library and each user's."""
    return request.app.state.libraries


def app_context(request: Request) -> AppContext:
    """The context of the library the request's token opens: the owner's, or its user's.
    Once a token or a user exists, a request without a valid token is refused (401).
    A plain function, run in the thread pool: the lookup reads SQLite. FastAPI calls it
    once per request however many of a route's dependencies name it."""
    return libraries(request).for_token(bearer(request))


Ctx = Annotated[AppContext, Depends(app_context)]

# The routers' guard: the same dependency, so the route's own ``Ctx`` reuses its answer.
require_token = app_context
