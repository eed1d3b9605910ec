"""The user's own photo categories, learnt from examples and corrections."""

from __future__ import annotations

from deepdiary.core.errors import InvalidInput
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import CategoryRow, Labelled


def label_photos(ctx: AppContext, name: str, item_ids: list[int]) -> Labelled:
    """These photos are ``name``; the classifier retrains and relabels the rest."""
    from deepdiary.memory.categories import CategoryModel

    if not name.strip():
        raise InvalidInput("a category needs a name")
    if not item_ids:
        raise InvalidInput("name at least one photo id")
    with ctx.write() as s:
        relabelled = CategoryModel(ctx.library).label(s, name, item_ids)
        summary = CategoryModel(ctx.library).summary(s)
    return Labelled(id=name, labelled=item_ids, relabelled=relabelled,
                    categories=[CategoryRow(**c) for c in summary])


def list_categories(ctx: AppContext) -> list[CategoryRow]:
    """Categories with how many photos were labelled by the user and predicted."""
    from deepdiary.memory.categories import CategoryModel

    with ctx.read() as s:
        return [CategoryRow(**c) for c in CategoryModel(ctx.library).summary(s)]
