"""User-defined photo categories, learnt from a few labelled photos and every correction.

The classifier is a nearest-centroid model on the EfficientNet image features (cosine
similarity to each category's mean feature). With a handful of examples per category it
beats a fitted classifier, and it retrains instantly, so every ``category set`` simply
rebuilds the centroids and relabels the photos nobody labelled by hand. The confidence
is a softmax over the similarities.
"""

from __future__ import annotations

from deepdiary.core.errors import NotFound

import numpy as np
from sqlmodel import Session, select

from deepdiary.memory.tables import Category, Item, ItemCategory
from deepdiary.memory.vectors import IMAGE_FEATURES

TEMPERATURE = 0.05


class CategoryModel:
    def __init__(self, library):
        self.library = library

    def _category(self, s: Session, name: str) -> Category:
        cat = s.exec(select(Category).where(Category.name == name.strip())).first()
        if cat is None:
            cat = Category(name=name.strip())
            s.add(cat)
            s.flush()
        return cat

    def label(self, s: Session, name: str, item_ids: list[int]) -> int:
        """The user says these items are ``name``; then everything else is relabelled."""
        cat = self._category(s, name)
        for item_id in item_ids:
            if s.get(Item, item_id) is None:
                raise NotFound(f"no item with id {item_id}")
            row = s.get(ItemCategory, item_id) or ItemCategory(item_id=item_id, category_id=cat.id, source="user")
            row.category_id, row.source, row.confidence = cat.id, "user", 1.0
            s.add(row)
        s.flush()
        return self.relabel(s)

    def centroids(self, s: Session) -> tuple[list[int], np.ndarray] | None:
        labels = s.exec(select(ItemCategory.item_id, ItemCategory.category_id).where(ItemCategory.source == "user")).all()
        if not labels:
            return None
        feats = self.library.vectors.get(IMAGE_FEATURES, [i for i, _ in labels])
        groups: dict[int, list[np.ndarray]] = {}
        for item_id, cat_id in labels:
            if item_id in feats:
                groups.setdefault(cat_id, []).append(feats[item_id])
        if len(groups) < 2:
            return None  # one category alone cannot be told apart from anything
        ids = sorted(groups)
        c = np.stack([np.mean(groups[i], axis=0) for i in ids])
        c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-12
        return ids, c

    @staticmethod
    def predict(model: tuple[list[int], np.ndarray], features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids, c = model
        sims = features @ c.T
        z = np.exp((sims - sims.max(axis=1, keepdims=True)) / TEMPERATURE)
        p = z / z.sum(axis=1, keepdims=True)
        best = p.argmax(axis=1)
        return np.asarray(ids)[best], p[np.arange(len(best)), best]

    def relabel(self, s: Session) -> int:
        """Predict a category for every photo the user has not labelled. Returns how many."""
        model = self.centroids(s)
        user = set(s.exec(select(ItemCategory.item_id).where(ItemCategory.source == "user")).all())
        for row in s.exec(select(ItemCategory).where(ItemCategory.source == "auto")):
            s.delete(row)
        s.flush()
        if model is None:
            return 0
        feats = self.library.vectors.get(IMAGE_FEATURES)
        todo = [i for i in sorted(feats) if i not in user]
        if not todo:
            return 0
        cats, conf = self.predict(model, np.stack([feats[i] for i in todo]))
        for item_id, cat_id, p in zip(todo, cats, conf):
            s.add(ItemCategory(item_id=item_id, category_id=int(cat_id), source="auto", confidence=round(float(p), 4)))
        s.flush()
        return len(todo)

    def label_item(self, s: Session, item_id: int, features: np.ndarray | None = None) -> str:
        """The enrichment stage: label one new photo with the current model (``features``: its image
        features, when they are not yet in the vector index)."""
        existing = s.get(ItemCategory, item_id)
        if existing is not None and existing.source == "user":
            return "user"
        model = self.centroids(s)
        if model is None:
            return "no-categories"
        feats = {item_id: features} if features is not None else self.library.vectors.get(IMAGE_FEATURES, [item_id])
        if item_id not in feats:
            raise RuntimeError("no image features yet: the features stage must run first")
        cats, conf = self.predict(model, feats[item_id][None, :])
        row = existing or ItemCategory(item_id=item_id, category_id=int(cats[0]), source="auto")
        row.category_id, row.confidence = int(cats[0]), round(float(conf[0]), 4)
        s.add(row)
        return "nearest-centroid"

    def summary(self, s: Session) -> list[dict]:
        out = []
        for cat in s.exec(select(Category).order_by(Category.name)):
            rows = s.exec(select(ItemCategory).where(ItemCategory.category_id == cat.id)).all()
            out.append({"id": cat.id, "name": cat.name, "labelled": sum(r.source == "user" for r in rows),
                        "predicted": sum(r.source == "auto" for r in rows)})
        return out
