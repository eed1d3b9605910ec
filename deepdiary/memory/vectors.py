"""The vector index: Chroma collections stored inside the library folder.

Vectors are always computed by our own models and passed in; Chroma's default
embedding function would try to download a model, so no collection ever gets one.
Ids are the catalogue's item ids as strings, so the catalogue stays the source of truth.
"""

from __future__ import annotations

import os
import struct
import threading
from functools import cached_property
from pathlib import Path

import numpy as np

IMAGE_FEATURES = "image_features"
CLIP_IMAGE = "clip_image"
PHOTO_TEXT = "photo_text"


class VectorIndex:
    def __init__(self, path: Path, scrub_unused: bool = False):
        self.path = Path(path)
        self.scrub_unused = scrub_unused  # an encrypted library's: see scrub_unused_slots
        self._lock = threading.Lock()

    @cached_property
    def client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )

    def collection(self, name: str):
        return self.client.get_or_create_collection(
            name=name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def upsert(self, name: str, ids: list[int], vectors: np.ndarray, metadatas: list[dict] | None = None) -> None:
        with self._lock:
            self.collection(name).upsert(
                ids=[str(i) for i in ids], embeddings=np.asarray(vectors, dtype=np.float32).tolist(),
                metadatas=metadatas,
            )
            self.scrub()

    def get(self, name: str, ids: list[int] | None = None) -> dict[int, np.ndarray]:
        """Stored vectors by item id (all of them when ``ids`` is None)."""
        col = self.collection(name)
        got = col.get(ids=[str(i) for i in ids] if ids is not None else None, include=["embeddings"])
        return {int(i): np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def existing_ids(self, name: str) -> set[int]:
        """Every item id in collection ``name`` (none when there is no such collection).

        Read from Chroma's SQLite file, opened read-only, not through a client: opening a
        PersistentClient rewrites its HNSW files, and a check must not change a byte. The
        file's metadata segment is written in the same call as the log, so it holds every
        id an ``upsert`` returned from."""
        import sqlite3

        db = self.path / "chroma.sqlite3"
        if not db.exists():
            return set()
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute(
                "SELECT e.embedding_id FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = 'METADATA'", (name,))
            return {int(i) for (i,) in rows}
        finally:
            con.close()

    def nearest(self, name: str, vector: np.ndarray, k: int = 50, where: dict | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest items as (item id, cosine similarity), closest first."""
        col = self.collection(name)
        try:
            res = col.query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                            n_results=k, where=where, include=["distances"])
        except Exception:
            # Fewer vectors than asked for (or none): ask for what there is.
            count = col.count()
            if count == 0:
                return []
            res = col.query(query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                            n_results=min(k, count), where=where, include=["distances"])
        return [(int(i), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def delete(self, name: str, ids: list[int]) -> None:
        with self._lock:
            self.collection(name).delete(ids=[str(i) for i in ids])
            self.scrub()

    def scrub(self) -> None:
        if self.scrub_unused:
            scrub_unused_slots(self.path)


def close_client(index: VectorIndex) -> None:
    """Release the Chroma client of ``index`` (its files can then be moved)."""
    client = index.__dict__.pop("client", None)
    if client is not None and hasattr(client, "close"):
        client.close()
    if client is not None:
        index.scrub()


# Chroma's hnswlib writes a segment's whole element buffer, max_elements slots, into
# data_level0.bin, and allocates it with malloc, so the slots past the last element hold
# whatever the process had freed there: a chat line or a name an encrypted library must
# never show on disk. header.bin: int32 format version 1, then size_t offset_level0,
# max_elements, cur_element_count, size_data_per_element.
_HEADER = struct.Struct("<i4Q")
_CHUNK = 1 << 20


def scrub_unused_slots(folder: Path) -> int:
    """Zero the unused slots of every HNSW segment under ``folder``; returns the bytes zeroed.

    hnswlib never reads a slot past cur_element_count and clears a slot as it fills it, so
    zeros there change no search."""
    zeroed = 0
    for header in Path(folder).glob("*/header.bin"):
        data = header.parent / "data_level0.bin"
        raw = header.read_bytes()
        if len(raw) < _HEADER.size or not data.exists():
            continue
        version, _offset, _max, count, slot = _HEADER.unpack_from(raw)
        if version != 1 or slot == 0:
            continue
        with open(data, "r+b") as fh:
            at = count * slot
            end = fh.seek(0, os.SEEK_END)
            while at < end:
                fh.seek(at)
                chunk = fh.read(min(_CHUNK, end - at))
                if chunk.count(0) != len(chunk):
                    fh.seek(at)
                    fh.write(bytes(len(chunk)))
                    zeroed += len(chunk)
                at += len(chunk)
    return zeroed
