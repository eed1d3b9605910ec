"""The process-wide model cache: every model enrichment, search and the housekeeper use.

Each model is created on first use, once per process and configuration, and handed out
behind a lock: the wrappers hold native state (dlib, llama.cpp, a numpy encoder) that is
not safe to call from two threads at once, and a web server or a bot runs several.
Threads that need the same model take turns; different models run side by side.
"""

from __future__ import annotations

import threading
from functools import wraps
from typing import Any

from deepdiary.core.errors import InvalidInput, ModelUnavailable
from deepdiary.core.settings import Settings

LLM_BACKENDS = ("llamacpp", "openai", "none")


class Locked:
    """A model whose method calls take one lock, so only one thread runs it at a time."""

    def __init__(self, model: Any):
        self.model = model
        self.lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.model, name)
        if not callable(attr):
            return attr

        @wraps(attr)
        def call(*args, **kwargs):
            with self.lock:
                return attr(*args, **kwargs)

        return call


class ModelCache:
    """The models one configuration uses, each loaded once on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._models: dict[str, Locked] = {}
        self._loading = threading.Lock()
        self.loads: dict[str, int] = {}  # how often each model was created; a test reads it

    def _get(self, name: str, create) -> Any:
        model = self._models.get(name)
        if model is None:
            with self._loading:
                model = self._models.get(name)
                if model is None:
                    made = create()
                    if made is None:
                        return None
                    model = self._models[name] = Locked(made)
                    self.loads[name] = self.loads.get(name, 0) + 1
        return model

    def loaded(self) -> list[str]:
        return sorted(self._models)

    @property
    def faces(self):
        def create():
            from deepdiary.models.face_detect import DETECTORS
            from deepdiary.models.faces import InsightFaceAnalyzer, make_analyzer

            s = self.settings
            if s.face_backend == "insightface":
                if not s.insightface_pack:
                    raise ModelUnavailable("face_backend=insightface needs DEEPDIARY_INSIGHTFACE_PACK")
                return InsightFaceAnalyzer(str(s.insightface_pack), max_side=s.detect_max_side)
            if s.face_detector not in DETECTORS:
                raise InvalidInput(f"unknown face detector {s.face_detector!r}; choose one of {', '.join(DETECTORS)}")
            if s.face_detector == "retinaface":
                return make_analyzer("retinaface", s.retinaface_max_side, threads=s.torch_threads)
            return make_analyzer(s.face_detector, s.detect_max_side, upsample=s.face_upsample)

        return self._get("faces", create)

    @property
    def tagger(self):
        def create():
            from deepdiary.models.imagenet import ImageNetTagger

            return ImageNetTagger()

        return self._get("tagger", create)

    @property
    def text(self):
        def create():
            from deepdiary.models.text import TextEmbedder

            return TextEmbedder(cache_dir=self.settings.model_dir)

        return self._get("text", create)

    @property
    def clip(self):
        def create():
            if not self.settings.clip_checkpoint:
                return None
            from deepdiary.models.clip import ClipModel

            return ClipModel(self.settings.clip_checkpoint, self.settings.clip_model)

        return self._get("clip", create)

    @property
    def photo_workers(self):
        """Worker processes for the vision models (``PhotoWorkers``), or None where one process is better:
        a single core, or ``enrich_workers`` 1."""
        def create():
            import os

            from deepdiary.models.photo_workers import PhotoWorkers

            n = self.settings.enrich_workers or (os.cpu_count() or 1)
            return PhotoWorkers(self.settings, n) if n > 1 else None

        return self._get("photo_workers", create)

    def forget(self, name: str) -> None:
        """Drop a model (a worker pool that broke), so the next use creates it anew."""
        with self._loading:
            model = self._models.pop(name, None)
        if model is not None and hasattr(model.model, "close"):
            model.model.close()

    def llm(self, backend: str | None = None):
        """The housekeeper's language model for ``backend`` (None for the parser-only backend)."""
        backend = backend or self.settings.llm_backend
        if backend not in LLM_BACKENDS:
            raise InvalidInput(f"unknown backend {backend!r}; choose one of {', '.join(LLM_BACKENDS)}")
        if backend == "none":
            return None

        def create():
            from deepdiary.models.llm import LlamaCppLLM, OpenAICompatibleLLM

            if backend == "openai":
                return OpenAICompatibleLLM.from_settings(self.settings)
            return LlamaCppLLM.from_settings(self.settings)

        return self._get(f"llm:{backend}", create)

    def stt(self, model: str | None = None):
        """Speech to text: the settings' Whisper model, or the packaged ``model`` named (base, tiny.en)."""
        def create():
            from deepdiary.models.speech import WhisperSTT

            return WhisperSTT.from_settings(self.settings, model)

        return self._get(f"stt:{model or ''}", create)

    @property
    def tts(self):
        """Text to speech (espeak-ng)."""
        def create():
            from deepdiary.models.speech import EspeakTTS

            return EspeakTTS.from_settings(self.settings)

        return self._get("tts", create)


_shared: dict[tuple, ModelCache] = {}
_shared_lock = threading.Lock()


def _key(settings: Settings) -> tuple:
    return (settings.face_backend, str(settings.insightface_pack), settings.face_upsample, settings.face_detector,
            settings.retinaface_max_side, settings.detect_max_side, settings.torch_threads,
            str(settings.clip_checkpoint), settings.clip_model, settings.llm_backend, settings.llm_model,
            str(settings.llm_model_path), settings.llm_threads, settings.llm_context, settings.llm_seed,
            settings.llm_grammar_first, settings.enrich_workers, settings.openai_base_url, settings.openai_model, settings.stt_model,
            str(settings.stt_model_path),
            settings.stt_threads, settings.stt_beam_size, settings.stt_languages, settings.tts_voice_en,
            settings.tts_voice_zh, settings.tts_speed, settings.tts_timeout)


def models_for(settings: Settings) -> ModelCache:
    """One cache per distinct model configuration, shared across the process."""
    key = _key(settings)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = ModelCache(settings)
        return _shared[key]
