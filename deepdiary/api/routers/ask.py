"""Asking the housekeeper: one JSON answer, or a Server-Sent Events stream."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.core.errors import DeepDiaryError
from deepdiary.services import ask as ask_service

router = APIRouter(tags=["ask"])


class Question(BaseModel):
    question: str = Field(min_length=1)
    conversation_id: int | None = None
    backend: str | None = Field(None, description="llamacpp, openai or none (default: the server's setting)")


def _keeper(request: Request, backend: str | None):
    # One housekeeper per backend for the server's life; the model itself is in the shared cache.
    keepers = request.app.state.__dict__.setdefault("keepers", {})
    if backend not in keepers:
        keepers[backend] = ask_service.housekeeper(request.app.state.ctx, backend)
    return keepers[backend]


@router.post("/ask")
def ask(ctx: Ctx, request: Request, body: Question):
    """The answer with its citations and the tool calls behind it."""
    answer = ask_service.ask(ctx, body.question, body.conversation_id, channel="api",
                             keeper=_keeper(request, body.backend))
    return answer.model_dump(mode="json")


def _event(kind: str, data) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.get("/ask/stream", response_class=StreamingResponse)
async def ask_stream(ctx: Ctx, request: Request, q: str, conversation_id: int | None = None,
                     backend: str | None = None) -> StreamingResponse:
    """Events: `status` at once, then `tool_call` for each search, `answer`, `citations` and `done`."""
    keeper = _keeper(request, backend)

    async def events() -> AsyncIterator[str]:
        yield _event("status", {"state": "thinking", "question": q})
        try:
            answer = await asyncio.to_thread(ask_service.ask, ctx, q, conversation_id, None, None, "api", None,
                                             keeper)
        except DeepDiaryError as exc:
            yield _event("error", {"error": str(exc), "kind": type(exc).__name__})
            yield _event("done", {})
            return
        for call in answer.tool_calls:
            yield _event("tool_call", call.model_dump(mode="json"))
        yield _event("answer", {"id": answer.id, "conversation_id": answer.conversation_id, "text": answer.answer,
                                "language": answer.language})
        yield _event("citations", answer.citations)
        yield _event("done", {"seconds": answer.seconds, "backend": answer.backend})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
