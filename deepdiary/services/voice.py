"""Talking to the housekeeper: speech to text, the same ``ask`` as every channel, text to speech.

Every interface (the CLI, the web chat's voice button, the Telegram bot, the WeChat
channel) calls these. A recording is accepted as bytes (an upload, a chat app's voice
note) or as a file; anything PyAV decodes works, AMR through Debian's ffmpeg. The models
come from the shared cache, so a server or a bot loads Whisper once.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date
from pathlib import Path
from typing import Callable, Iterator

from deepdiary.core.errors import InvalidInput
from deepdiary.services import ask as ask_service
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import Transcript, VoiceAnswer

FORMATS = ("wav", "ogg")
OGG_SUFFIXES = (".ogg", ".oga", ".opus")


def _recording(audio: bytes | Path, filename: str | None) -> tuple[bytes, str]:
    """The recording's bytes and the name its errors use."""
    if isinstance(audio, (str, Path)):
        path = Path(audio).expanduser()
        name = filename or str(path)
        if not path.is_file():
            raise InvalidInput(f"file {name}: does not exist" if not path.exists() else f"file {name}: is not a file")
        data = path.read_bytes()
    elif isinstance(audio, (bytes, bytearray, memoryview)):
        data, name = bytes(audio), filename or "audio"
    else:
        raise InvalidInput(f"audio: expected bytes or a file path, not {type(audio).__name__}")
    if not data:
        raise InvalidInput(f"file {name}: is empty, not audio")
    return data, name


def _language(language: str | None) -> str | None:
    """A language as Whisper names it: ``zh-CN``, ``cmn`` and ``ZH`` are all ``zh``."""
    if not language or not language.strip():
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return {"cmn": "zh", "chinese": "zh", "english": "en"}.get(code, code)


def vocabulary(ctx: AppContext, limit: int = 40) -> dict[str, list[str]]:
    """The names in the library speech to text should listen for: people, then the places with
    the most photos; Chinese ones (for Mandarin speech) apart from the others."""
    from sqlalchemy import func
    from sqlmodel import select

    from deepdiary.core.text import has_cjk
    from deepdiary.memory.tables import Item, Person, Place

    names: list[str] = []
    with ctx.read() as s:
        for name, aliases in s.exec(select(Person.name, Person.aliases).where(Person.name.is_not(None),
                                                                              Person.hidden.is_(False))):
            names += [name, *(a.strip() for a in (aliases or "").split(","))]
        for city, city_zh in s.exec(select(Place.city, Place.city_zh).join(Item, Item.place_id == Place.id)
                                    .group_by(Place.id).order_by(func.count(Item.id).desc()).limit(limit)):
            names += [city, city_zh]
    seen: dict[str, list[str]] = {"zh": [], "en": []}
    for n in names:
        if n and n not in seen["zh"] and n not in seen["en"]:
            seen["zh" if has_cjk(n) else "en"].append(n)
    return {k: v[:limit] for k, v in seen.items()}


def transcribe(ctx: AppContext, audio: bytes | Path, language: str | None = None,
               filename: str | None = None) -> Transcript:
    """What was said in a recording, in which language (detected unless given); Mandarin in
    Simplified characters. Undecodable audio is an ``InvalidInput`` naming the file."""
    from deepdiary.models.speech import SAMPLE_RATE, decode_audio

    data, name = _recording(audio, filename)
    samples = decode_audio(data, name, ctx.settings.audio_decode_timeout)
    duration = samples.shape[0] / SAMPLE_RATE
    if duration > ctx.settings.stt_max_seconds:
        raise InvalidInput(f"file {name}: {duration:.0f} s of audio is longer than the "
                           f"{ctx.settings.stt_max_seconds:g} s allowed (DEEPDIARY_STT_MAX_SECONDS)")
    hotwords = vocabulary(ctx) if ctx.settings.stt_hotwords else None
    heard = ctx.models.stt().transcribe(samples, _language(language), hotwords)
    return Transcript(id=hashlib.sha256(data).hexdigest()[:16], transcript=heard.text, language=heard.language,
                      seconds=round(heard.seconds, 3), duration=round(duration, 3))


def speak(ctx: AppContext, text: str, language: str | None = None, fmt: str = "wav") -> bytes:
    """``text`` read aloud by espeak-ng (Mandarin for Chinese text): a WAV, or with ``fmt="ogg"``
    OGG/Opus as chat apps send voice notes."""
    fmt = (fmt or "wav").lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if not text or not text.strip():
        raise InvalidInput("nothing to say: the text is empty")
    tts = ctx.models.tts
    return tts.ogg(text, language) if fmt == "ogg" else tts.wav(text, language)


def reply_format(path: Path) -> str:
    """The audio format a reply file's name asks for: OGG/Opus for .ogg, .oga, .opus; else WAV."""
    return "ogg" if Path(path).suffix.lower() in OGG_SUFFIXES else "wav"


def voice(ctx: AppContext, audio: bytes | Path, reply_path: Path | None = None, channel: str = "cli",
          external_id: str | None = None, language: str | None = None, today: date | None = None,
          *, filename: str | None = None, conversation_id: int | None = None, backend: str | None = None,
          keeper=None) -> VoiceAnswer:
    """A spoken question answered: transcribe it, ``ask`` it in the channel's conversation (so
    follow-ups work), and, with ``reply_path``, write the answer spoken (OGG/Opus for .ogg/.opus,
    else WAV). The seconds of each stage come back with it."""
    if reply_path is not None:
        reply_path = Path(reply_path).expanduser()
        if not reply_path.parent.is_dir():
            raise InvalidInput(f"--reply: folder {reply_path.parent} does not exist")
    heard = transcribe(ctx, audio, language, filename)
    if not heard.transcript.strip():
        raise InvalidInput(f"file {filename or (audio if isinstance(audio, Path) else 'audio')}: "
                           "no speech heard in the recording")
    return _answer(ctx, heard, channel, external_id, today, conversation_id, backend, keeper, reply_path)[0]


def _answer(ctx: AppContext, heard: Transcript, channel: str, external_id: str | None, today: date | None,
            conversation_id: int | None, backend: str | None, keeper, reply_path: Path | None = None,
            reply_fmt: str | None = None) -> tuple[VoiceAnswer, bytes | None]:
    """``ask`` the transcript; speak the answer into ``reply_path`` and/or as ``reply_fmt`` bytes."""
    started = time.perf_counter()
    answer = ask_service.ask(ctx, heard.transcript, conversation_id, backend=backend, today=today, channel=channel,
                             external_id=external_id, keeper=keeper)
    ask_seconds = time.perf_counter() - started
    tts_seconds, reply, data = 0.0, None, None
    if reply_path is not None or reply_fmt:
        started = time.perf_counter()
        data = speak(ctx, answer.answer, answer.language, reply_format(reply_path) if reply_path else reply_fmt)
        if reply_path is not None:
            tmp = reply_path.with_name(f".{reply_path.name}.part")
            tmp.write_bytes(data)
            tmp.replace(reply_path)
            reply = str(reply_path)
        tts_seconds = time.perf_counter() - started
    result = VoiceAnswer(id=heard.id, transcript=heard.transcript, language=answer.language, answer=answer.answer,
                         citations=answer.citations, reply_audio=reply, conversation_id=answer.conversation_id,
                         turn_id=answer.id, stt_seconds=heard.seconds, ask_seconds=round(ask_seconds, 3),
                         tts_seconds=round(tts_seconds, 3))
    return result, data


def listen(ctx: AppContext, seconds: float = 5.0, turns: int | None = None, speak_replies: bool = True,
           device: str | None = None, language: str | None = None, backend: str | None = None,
           today: date | None = None, on_listening: Callable[[], None] | None = None) -> Iterator[VoiceAnswer | None]:
    """Questions from the microphone, one recording of ``seconds`` at a time, each answered in one
    conversation and, with ``speak_replies``, said aloud; None for a recording with no speech in it.
    Without a capture device it raises ``DeviceUnavailable`` before anything else."""
    from deepdiary.connectors.microphone import Microphone, play

    if seconds <= 0 or seconds > 60:
        raise InvalidInput(f"--seconds: {seconds:g} is out of range (0 to 60)")
    mic = Microphone(device)
    keeper = ask_service.housekeeper(ctx, backend)
    conversation_id, done = None, 0
    while turns is None or done < turns:
        if on_listening:
            on_listening()
        recording = mic.record(seconds)
        done += 1
        heard = transcribe(ctx, recording, language, filename="microphone")
        if not heard.transcript.strip():
            yield None
            continue
        result, wav = _answer(ctx, heard, "voice", None, today, conversation_id, backend, keeper,
                              reply_fmt="wav" if speak_replies else None)
        conversation_id = result.conversation_id
        if wav:
            play(wav)
        yield result
