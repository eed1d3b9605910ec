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
from deepdiary.services import AppContext
from deepdiary.services import ask as ask_service

router = APIRouter(tags=["ask"])


class Question(BaseModel):
    question: str = Field(min_length=1)
    conversation_id: int | None = None
    backend: str | None = Field(None, description="llamacpp, openai or none (default: the server's setting)")


def _keeper(ctx: AppContext, request: Request, backend: str | None):
    # One housekeeper per library and backend for the server's life (each reads only its own
    # library); the model itself is in the shared cache.
    keepers = request.app.state.__dict__.setdefault("keepers", {})
    key = (ctx.settings.library_dir, backend)
    if key not in keepers:
        keepers[key] = ask_service.housekeeper(ctx, backend)
    return keepers[key]


@router.post("/ask")
def ask(ctx: Ctx, request: Request, body: Question):
    """The answer with its citations and the tool calls behind it."""
    answer = ask_service.ask(ctx, body.question, body.conversation_id, channel="api",
                             keeper=_keeper(ctx, request, body.backend))
    return answer.model_dump(mode="json")


def _event(kind: str, data) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


@router.get("/ask/stream", response_class=StreamingResponse)
async def ask_stream(ctx: Ctx, request: Request, q: str, conversation_id: int | None = None,
                     backend: str | None = None) -> StreamingResponse:
    """Events: `status` at once, `tool_call` as each search finishes, then `answer`, `citations` and `done`."""
    keeper = _keeper(ctx, request, backend)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def heard(record) -> None:  # on the worker thread: hand the event to the loop
        loop.call_soon_threadsafe(queue.put_nowait, ("tool_call", record.model_dump(mode="json")))

    def work() -> None:
        try:
            answer = ask_service.ask(ctx, q, conversation_id, channel="api", keeper=keeper, on_tool_call=heard)
            loop.call_soon_threadsafe(queue.put_nowait, ("result", answer))
        except DeepDiaryError as exc:
            loop.call_soon_threadsafe(queue.put_nowait, ("error", {"error": str(exc), "kind": type(exc).__name__}))
        except Exception as exc:  # noqa: BLE001 - a bug still ends the stream, with a message
            loop.call_soon_threadsafe(queue.put_nowait, ("error", {"error": f"unexpected {type(exc).__name__}",
                                                                   "kind": "InternalError"}))
            raise

    async def events() -> AsyncIterator[str]:
        yield _event("status", {"state": "thinking", "question": q})
        worker = asyncio.create_task(asyncio.to_thread(work))
        while True:
            kind, data = await queue.get()
            if kind == "tool_call":
                yield _event("tool_call", data)
                continue
            if kind == "error":
                yield _event("error", data)
                yield _event("done", {})
                break
            answer = data
            yield _event("answer", {"id": answer.id, "conversation_id": answer.conversation_id,
                                    "text": answer.answer, "language": answer.language})
            yield _event("citations", answer.citations)
            yield _event("done", {"seconds": answer.seconds, "backend": answer.backend,
                                  "conversation_id": answer.conversation_id})
            break
        try:
            await worker
        except Exception:  # noqa: BLE001 - already reported in the stream; the thread logged it
            pass

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
