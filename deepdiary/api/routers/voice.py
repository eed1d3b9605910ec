"""Voice: a recording to text (the web chat's voice button, any client), and text read aloud."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.services import voice as voice_service
from deepdiary.services.schemas import Transcript

router = APIRouter(tags=["voice"])

MEDIA_TYPES = {"wav": "audio/wav", "ogg": "audio/ogg"}


@router.post("/transcribe", response_model=Transcript)
async def transcribe(ctx: Ctx, audio: Annotated[UploadFile, File(description="a recording: WAV, MP3, OGG/Opus, WebM, FLAC, AMR...")],
                     language: Annotated[str | None, Form(description="en, zh, ... (default: detected)")] = None
                     ) -> Transcript:
    """What the recording says, and its language; Mandarin in Simplified characters."""
    return await run_in_threadpool(voice_service.transcribe, ctx, await audio.read(), language, audio.filename)


class SpeakRequest(BaseModel):
    text: str = Field(min_length=1, description="what to say")
    language: str | None = Field(None, description="en or zh (default: from the text)")
    format: Literal["ogg", "wav"] = Field("ogg", description="ogg (Opus) or wav")


@router.post("/speak", response_class=Response,
             responses={200: {"content": {"audio/ogg": {}, "audio/wav": {}}, "description": "the spoken text"}})
def speak(ctx: Ctx, body: SpeakRequest) -> Response:
    """The text read aloud by espeak-ng (Mandarin for Chinese text)."""
    return Response(voice_service.speak(ctx, body.text, body.language, body.format), media_type=MEDIA_TYPES[body.format])
