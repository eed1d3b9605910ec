"""The FastAPI application: lifespan, error mapping and routers."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from deepdiary.core.errors import DeepDiaryError
from deepdiary.services import AppContext


def create_app(ctx: AppContext, warm_models: bool = False) -> FastAPI:
    """The app over one context. ``warm_models`` loads the models at start-up (in the
    background, so the gallery answers at once; a question asked meanwhile waits for them)."""

    from deepdiary.services.users import Libraries

    libraries = Libraries(ctx)  # the owner's library, and each user's as their token first reaches it

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.library  # migrate and open once, at start-up, never per request
        if warm_models:
            import logging
            import threading

            log = logging.getLogger("deepdiary.api").warning
            threading.Thread(target=ctx.warm_up, args=(log,), name="warm-up", daemon=True).start()
        yield
        libraries.close()
        ctx.close()

    app = FastAPI(title="Deep Diary", version="0.1.0", lifespan=lifespan,
                  description="Your private memory: photos, chats, diaries and places, and a housekeeper to ask.")
    app.state.ctx = ctx  # the owner's (home) library
    app.state.libraries = libraries

    # The API's one mapping of typed errors to HTTP statuses.
    @app.exception_handler(DeepDiaryError)
    async def deepdiary_error(request: Request, exc: DeepDiaryError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "kind": type(exc).__name__}, status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'body', 'path'))}: {e['msg']}"
                    for e in exc.errors()]
        return JSONResponse({"error": "; ".join(problems), "kind": "InvalidInput"}, status_code=422)

    from fastapi import Depends

    from deepdiary.api.deps import require_token
    from fastapi.staticfiles import StaticFiles

    from deepdiary.api.routers import (
        ask, maintenance, memories, pages, people, photos, session, shared, shares, uploads, voice,
    )

    app.include_router(session.router, prefix="/api")  # signing in needs no token
    app.include_router(shared.router)  # a share link's secret is its own key: read-only, no token
    for module in (photos, people, memories, ask, uploads, voice, maintenance, shares):
        app.include_router(module.router, prefix="/api", dependencies=[Depends(require_token)])
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.include_router(pages.router)  # the web UI; each page signs in through the same tokens
    return app
