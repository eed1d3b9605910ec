"""Text → photo and photo → photo scoring, offline.

With no CLIP weights, a text query is matched through words we *can* embed: the query's
multilingual sentence embedding is compared with the ImageNet class names (weighted by
each photo's class probability), the scene words, and each photo's composed description
(which carries its people, place, date and colours). Names of people and places that
appear literally in the query add a bonus. When an open_clip checkpoint is configured,
CLIP's own text and image embeddings are used instead.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sqlmodel import Session, select

from deepdiary.core.text import has_cjk
from deepdiary.memory.tables import Face, Item, ItemTag, Person, Place
from deepdiary.memory.vectors import CLIP_IMAGE, IMAGE_FEATURES, PHOTO_TEXT

# A class counts as named by the query when it stands out from the other 999: single
# words embed with a high shared baseline (Chinese more so), so a fixed cosine cut-off
# lets noise through; a z-score over all classes does not.
CLASS_MATCH = 0.35
CLASS_Z = 2.0
SCENE_MATCH = 0.5
NAME_BONUS = 0.3


@lru_cache(maxsize=1)
def _class_vectors(models) -> np.ndarray:
    from deepdiary.models.imagenet import imagenet_class_names

    return models.text.embed(imagenet_class_names())


@lru_cache(maxsize=1)
def _scene_vectors(models) -> tuple[list[str], np.ndarray]:
    from deepdiary.core.vocab import SCENES

    names = list(SCENES)
    return names, models.text.embed([f"{en} {zh}" for en, zh in SCENES.items()])


def tag_names_for(models, word: str, k: int = 3) -> list[str]:
    """ImageNet labels a (possibly Chinese) tag word means: itself, or its nearest labels."""
    from deepdiary.models.imagenet import imagenet_class_names

    names = imagenet_class_names()
    if not has_cjk(word):
        return [word]
    sims = _class_vectors(models) @ models.text.embed([word])[0]
    z = (sims - sims.mean()) / (sims.std() + 1e-9)
    order = np.argsort(-z)[:k]
    # Keep only labels nearly as clearly meant as the best one.
    return [names[i] for i in order if z[i] >= max(3.0, z[order[0]] - 2.0)] or [names[order[0]]]


def text_scores(session: Session, vectors, models, text: str, k: int = 500) -> dict[int, float]:
    """Item id → relevance of each photo to ``text`` (higher is better)."""
    if models.clip is not None:
        return dict(vectors.nearest(CLIP_IMAGE, models.clip.embed_texts([text])[0], k=k))
    from deepdiary.models.imagenet import imagenet_class_names

    q = models.text.embed([text])[0]
    scores: dict[int, float] = {}

    def bump(item_id: int, value: float) -> None:
        scores[item_id] = scores.get(item_id, 0.0) + value

    for item_id, sim in vectors.nearest(PHOTO_TEXT, q, k=k):
        bump(item_id, 0.5 * sim)

    names = imagenet_class_names()
    class_sims = _class_vectors(models) @ q
    z = (class_sims - class_sims.mean()) / (class_sims.std() + 1e-9)
    matched = {names[i]: float(class_sims[i]) for i in np.argsort(-z)[:50]
               if z[i] >= CLASS_Z and class_sims[i] >= CLASS_MATCH}
    if matched:
        best: dict[int, float] = {}
        for item_id, name, p in session.exec(select(ItemTag.item_id, ItemTag.name, ItemTag.score).where(
                ItemTag.kind == "tag", ItemTag.name.in_(list(matched)))):
            # A label the query names, weighted by how sure the model was of it.
            best[item_id] = max(best.get(item_id, 0.0), matched[name] * float(np.sqrt(p)))
        for item_id, v in best.items():
            bump(item_id, v)

    scene_names, scene_vecs = _scene_vectors(models)
    scene_sims = scene_vecs @ q
    wanted = {scene_names[i]: float(scene_sims[i]) for i in range(len(scene_names)) if scene_sims[i] >= SCENE_MATCH}
    if wanted:
        for item_id, name, p in session.exec(select(ItemTag.item_id, ItemTag.name, ItemTag.score).where(
                ItemTag.kind == "scene", ItemTag.name.in_(list(wanted)))):
            bump(item_id, 0.3 * wanted[name] * min(float(p), 1.0))

    lowered = text.lower()
    people = [p for p in session.exec(select(Person).where(Person.name.is_not(None)))
              if any(n and n.lower() in lowered for n in [p.name, *p.aliases.split(",")])]
    if people:
        with_them = select(Face.item_id).where(Face.person_id.in_([p.id for p in people])).distinct()
        for item_id in session.exec(with_them):
            bump(item_id, NAME_BONUS)
    places = [pl.id for pl in session.exec(select(Place)) if any(
        n and len(n) > 1 and n.lower() in lowered for n in (pl.city, pl.admin1, pl.country, pl.city_zh, pl.country_zh))]
    if places:
        for item_id in session.exec(select(Item.id).where(Item.place_id.in_(places))):
            bump(item_id, NAME_BONUS)
    return scores


def like_scores(vectors, vector: np.ndarray, k: int = 200, exclude: int | None = None) -> dict[int, float]:
    return {i: s for i, s in vectors.nearest(IMAGE_FEATURES, vector, k=k + 1) if i != exclude}
