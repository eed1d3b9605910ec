"""Near-duplicate photos: a close perceptual hash *and* close image features.

The hash alone confuses different photos of flat scenes (sky, walls); features alone
confuse two shots of the same place. Requiring both keeps groups to true re-saves,
resizes, light edits and burst shots. Candidate pairs come from the feature index
(nearest neighbours), so this scales without comparing every pair.
"""

from __future__ import annotations

from sqlmodel import Session, select

from deepdiary.memory.query import primary_paths
from deepdiary.memory.tables import PhotoMeta
from deepdiary.memory.vectors import IMAGE_FEATURES


def hash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def duplicate_groups(session: Session, vectors, max_hash_distance: int = 10, min_similarity: float = 0.9,
                     neighbours: int = 8) -> list[dict]:
    hashes = dict(session.exec(select(PhotoMeta.item_id, PhotoMeta.phash).where(PhotoMeta.phash.is_not(None))).all())
    feats = vectors.get(IMAGE_FEATURES)
    parent = {i: i for i in hashes}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pair_scores: dict[tuple[int, int], tuple[float, int]] = {}
    for item_id, vec in feats.items():
        if item_id not in hashes:
            continue
        for other, sim in vectors.nearest(IMAGE_FEATURES, vec, k=neighbours + 1):
            if other == item_id or other not in hashes or sim < min_similarity:
                continue
            d = hash_distance(hashes[item_id], hashes[other])
            if d <= max_hash_distance:
                pair_scores[tuple(sorted((item_id, other)))] = (sim, d)
                parent[root(item_id)] = root(other)
    groups: dict[int, list[int]] = {}
    for i in hashes:
        groups.setdefault(root(i), []).append(i)
    found = [sorted(g) for g in groups.values() if len(g) > 1]
    paths = primary_paths(session, [i for g in found for i in g])
    out = []
    for members in sorted(found):
        sims = [v[0] for k, v in pair_scores.items() if k[0] in members]
        out.append({"id": members[0], "items": [{"id": i, "path": paths.get(i)} for i in members],
                    "min_similarity": round(min(sims), 4) if sims else None})
    return out
