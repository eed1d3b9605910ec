"""The local vector index on a real Chroma folder."""

from __future__ import annotations

import numpy as np

from deepdiary.memory.vectors import VectorIndex, close_client, scrub_unused_slots

SECRET = "環島騎一圈 test_person".encode("utf-8")


def _vectors(n: int, dim: int = 64) -> np.ndarray:
    got = np.random.default_rng(7).normal(size=(n, dim)).astype(np.float32)
    return got / np.linalg.norm(got, axis=1, keepdims=True)


def test_freed_memory_in_unused_hnsw_slots_is_zeroed_and_search_is_unchanged(tmp_path):
    """Chroma writes every slot of a segment's buffer, used or not, from unzeroed memory; in an
    encrypted library the unused ones are zeroed after each write, so no freed text stays."""
    vectors = _vectors(30)
    index = VectorIndex(tmp_path / "vectors")
    index.upsert("photo_text", list(range(1, 31)), vectors)
    before = index.nearest("photo_text", vectors[4], k=5)
    close_client(index)
    data = next((tmp_path / "vectors").glob("*/data_level0.bin"))
    size = data.stat().st_size
    with open(data, "r+b") as fh:  # what a reused heap block leaves in the slots past the last
        fh.seek(size - 4000)
        fh.write(SECRET * (3000 // len(SECRET)))
    assert SECRET in data.read_bytes()

    assert scrub_unused_slots(tmp_path / "vectors") > 0
    assert SECRET not in data.read_bytes() and data.stat().st_size == size
    assert scrub_unused_slots(tmp_path / "vectors") == 0  # nothing left to zero: no write
    again = VectorIndex(tmp_path / "vectors", scrub_unused=True)
    assert again.nearest("photo_text", vectors[4], k=5) == before
    again.upsert("photo_text", [31], _vectors(31)[30:])
    assert again.nearest("photo_text", vectors[4], k=5)[0][0] == 5
