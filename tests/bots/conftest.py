"""The bots' tests run over a copy of the demo library (its real photos, chats and diary,
enriched by the real models) with the parser-only housekeeper (``llm_backend="none"``): exact
citations, fast, and the channel, not the model, is what is tested."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import select

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext

TOKEN = "123456:SECRET-telegram-token-never-logged"
OWNER = 4242  # the allowed Telegram user


@pytest.fixture(scope="session")
def bot_demo(tmp_path_factory) -> Path:
    from deepdiary.services.demo import run_demo

    folder = tmp_path_factory.mktemp("bot-demo")
    run_demo(folder, Console(file=io.StringIO()), ask=False)
    return folder


def copy_library(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("models"))
    return target


def photo_refs(folder: Path) -> dict[str, int]:
    """The demo's photos by file name: name -> item id."""
    from deepdiary.memory.library import Library
    from deepdiary.memory.tables import Item, ItemPath

    lib = Library.open(Settings(home=folder))
    try:
        with lib.session() as s:
            return {Path(p.path).name: i.id for i, p in s.exec(
                select(Item, ItemPath).join(ItemPath, ItemPath.item_id == Item.id)) if i.kind == "photo"}
    finally:
        lib.close()


@pytest.fixture(scope="module")
def bot_library(bot_demo, tmp_path_factory) -> Path:
    """A copy of the demo library that this module's tests may change."""
    return copy_library(bot_demo, tmp_path_factory.mktemp("bot-lib") / "library")


def make_ctx(folder: Path, **settings) -> AppContext:
    return AppContext(Settings(home=folder, llm_backend="none", **settings))


def hangzhou_portrait(folder: Path) -> bytes:
    """A new photo with GPS by West Lake in Hangzhou (EXIF), as a phone sends it."""
    from deepdiary.services.demo import IPHONE, Sample, _skimage, write_samples

    write_samples(folder, [Sample("west-lake.jpg", _skimage("astronaut.png", (32, 0, 512, 480), 0.9),
                                  "2025-05-01 10:00:00", "+08:00", IPHONE, (30.2745, 120.1560, 10))])
    return (folder / "west-lake.jpg").read_bytes()


def espeak(text: str, folder: Path, voice: str = "en") -> Path:
    """A spoken question recorded with espeak-ng (WAV)."""
    out = folder / "question.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(out), text], check=True, timeout=60)
    return out


def encode(wav: Path, target: Path, *args: str) -> bytes:
    """``wav`` re-encoded by Debian's ffmpeg (OGG/Opus for Telegram, AMR for WeChat)."""
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), *args, str(target)], check=True, timeout=60)
    return target.read_bytes()


def amr(wav: Path, target: Path) -> bytes:
    """``wav`` as AMR-NB (8 kHz mono, 12.2 kbit/s), as WeChat stores voice messages; PyAV's own
    encoder, Debian's ffmpeg has none."""
    import av

    with av.open(str(wav)) as inp, av.open(str(target), "w", format="amr") as out:
        stream = out.add_stream("libopencore_amrnb", rate=8000, layout="mono")
        stream.bit_rate = 12200
        resampler = av.AudioResampler(format="s16", layout="mono", rate=8000)
        frames = [f for frame in inp.decode(audio=0) for f in resampler.resample(frame)] + resampler.resample(None)
        for frame in frames + [None]:
            for packet in stream.encode(frame):
                out.mux(packet)
    return target.read_bytes()
