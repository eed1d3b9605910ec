"""Voice: speech-to-text real-time factor, and a voice round trip next to ``ask`` alone.

Printed:

- the real-time factor (seconds of transcribing per second of audio; lower is faster) of
  the packaged Whisper models, base and tiny.en, on $DEEPDIARY_SAMPLES/audio/jfk.flac
  (11 s, English) and, for base, the Mandarin sample (5.5 s), model load excluded, with
  ``--threads`` CPU threads (default 2); the goal is 0.3 or less for base on 2 threads;
- the seconds per stage of a voice round trip over the demo library (speech to text,
  ask, text to speech into an OGG/Opus reply) for the question "Which photos did I take
  in Hangzhou?" spoken by espeak-ng, next to ``ask`` of the same words alone, and their
  ratio, per housekeeper backend (``none``: the parser alone; ``llamacpp``: Qwen 1.5B);
  the goal is a round trip of at most 1.5 times ``ask`` alone.

    python bench/voice.py [--threads 2] [--runs 3] [--backends none,llamacpp] [--library DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deepdiary.core.settings import Settings  # noqa: E402
from deepdiary.models import speech  # noqa: E402
from deepdiary.services import AppContext, voice  # noqa: E402
from deepdiary.services.ask import ask, housekeeper  # noqa: E402
from deepdiary.services.demo import run_demo  # noqa: E402

TODAY = date(2026, 11, 24)
QUESTION = "Which photos did I take in Hangzhou?"


def samples_dir() -> Path:
    root = Path(os.environ.get("DEEPDIARY_SAMPLES", ROOT.parent / "shared" / "data"))
    if not (root / "audio").is_dir():
        sys.exit(f"sample audio not found in {root}/audio: set DEEPDIARY_SAMPLES")
    return root / "audio"


def rtf(model_name: str, settings: Settings, clips: list[Path], runs: int) -> list[tuple[str, float, float, str]]:
    loaded = time.perf_counter()
    stt = speech.WhisperSTT.from_settings(settings, model_name)
    load = time.perf_counter() - loaded
    rows = []
    for clip in clips:
        audio = speech.decode_audio(clip.read_bytes(), clip.name)
        duration = audio.shape[0] / speech.SAMPLE_RATE
        stt.transcribe(audio)  # warm
        times, text = [], ""
        for _ in range(runs):
            heard = stt.transcribe(audio)
            times.append(heard.seconds)
            text = heard.text
        rows.append((clip.name, duration, statistics.median(times), text))
    print(f"  {model_name}: loaded in {load:.1f} s")
    return rows


def round_trip(ctx: AppContext, backend: str, runs: int, folder: Path) -> dict[str, float]:
    keeper = housekeeper(ctx, backend)
    recording = voice.speak(ctx, QUESTION, "en")
    # Warm every model (Whisper, espeak-ng, the housekeeper's LLM) before timing anything.
    voice.voice(ctx, recording, folder / "warm.ogg", channel="bench", external_id="warm", today=TODAY,
                backend=backend, keeper=keeper)
    ask(ctx, QUESTION, backend=backend, today=TODAY, channel="bench", external_id="warm-ask", keeper=keeper)
    stages: dict[str, list[float]] = {"stt": [], "ask": [], "tts": [], "round trip": [], "ask alone": []}
    for i in range(runs):
        started = time.perf_counter()
        result = voice.voice(ctx, recording, folder / f"reply-{i}.ogg", channel="bench", external_id=f"voice-{i}",
                             today=TODAY, backend=backend, keeper=keeper)
        stages["round trip"].append(time.perf_counter() - started)
        stages["stt"].append(result.stt_seconds)
        stages["ask"].append(result.ask_seconds)
        stages["tts"].append(result.tts_seconds)
        started = time.perf_counter()
        ask(ctx, QUESTION, backend=backend, today=TODAY, channel="bench", external_id=f"ask-{i}", keeper=keeper)
        stages["ask alone"].append(time.perf_counter() - started)
    out = {k: statistics.median(v) for k, v in stages.items()}
    out["heard"] = result.transcript  # type: ignore[assignment]
    out["citations"] = len(result.citations)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper and llama.cpp")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each measurement (the median is shown)")
    parser.add_argument("--backends", default="none,llamacpp", help="housekeeper backends for the round trip")
    parser.add_argument("--library", type=Path, help="a demo library to reuse (built in a temporary folder otherwise)")
    args = parser.parse_args()

    audio = samples_dir()
    jfk, zh = audio / "jfk.flac", audio / "rapidasr_asr_example_zh.wav"
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        tmp_path = Path(tmp)
        folder = args.library
        if folder is None:
            folder = tmp_path / "demo"
            print("building the demo library…", flush=True)
            run_demo(folder, Console(file=io.StringIO()), ask=False)
        settings = Settings(home=folder, stt_threads=args.threads, llm_threads=args.threads)

        print(f"\nSpeech to text, real-time factor at {args.threads} threads (median of {args.runs}; goal ≤ 0.3 for base)")
        table = [("base", rtf("base", settings, [jfk, zh], args.runs)), ("tiny.en", rtf("tiny.en", settings, [jfk], args.runs))]
        print(f"  {'model':8} {'clip':30} {'audio s':>8} {'stt s':>7} {'RTF':>6}  transcript")
        for name, rows in table:
            for clip, duration, seconds, text in rows:
                print(f"  {name:8} {clip:30} {duration:8.1f} {seconds:7.2f} {seconds / duration:6.3f}  {text}")

        print(f"\nVoice round trip over the demo library, {QUESTION!r} spoken by espeak-ng (median of {args.runs}; "
              "goal: round trip ≤ 1.5 × ask alone)")
        print(f"  {'backend':9} {'stt s':>6} {'ask s':>6} {'tts s':>6} {'round trip s':>12} {'ask alone s':>11} {'ratio':>6}  heard")
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            ctx = AppContext(Settings(home=folder, stt_threads=args.threads, llm_threads=args.threads,
                                      llm_backend=backend))
            try:
                r = round_trip(ctx, backend, args.runs, tmp_path)
            finally:
                ctx.close()
            print(f"  {backend:9} {r['stt']:6.2f} {r['ask']:6.2f} {r['tts']:6.2f} {r['round trip']:12.2f} "
                  f"{r['ask alone']:11.2f} {r['round trip'] / r['ask alone']:6.2f}  {r['heard']} "
                  f"({r['citations']} citations)", flush=True)


if __name__ == "__main__":
    main()
