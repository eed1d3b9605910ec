"""Photos: faceted search (the CLI's option names), one photo, its files, rating, likeness, duplicates."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.api.files import file_response
from deepdiary.services import photos as photo_service
from deepdiary.services import search
from deepdiary.services import stats as stats_service
from deepdiary.services.schemas import DuplicateGroup, PhotoPage, Rating, Record

router = APIRouter(tags=["photos"])


# Searches are CPU-bound Python; with the GIL, eight at once in eight threads all finish late
# (each shares the CPU with the others). Two at a time - SQLite runs without the GIL - and
# the rest queued in order keeps the typical wait short and the slowest one bounded.
_searches = anyio.CapacityLimiter(2)


@router.get("/photos", response_model=PhotoPage)
async def search_photos(
    ctx: Ctx,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    near: str | None = None,
    radius: float | None = None,
    layout: str | None = None,
    color: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    camera: str | None = None,
    rating: int | None = None,
    tag: Annotated[list[str], Query()] = [],  # noqa: B006
    weekday: Annotated[list[int], Query(description="0=Monday..6=Sunday")] = [],  # noqa: B006
    scene: Annotated[list[str], Query()] = [],  # noqa: B006
    person: Annotated[list[str], Query()] = [],  # noqa: B006
    only: bool = False,
    any_person: Annotated[bool, Query(alias="any-person")] = False,
    people_count: Annotated[int | None, Query(alias="people-count")] = None,
    category: str | None = None,
    q: Annotated[str | None, Query(description="free text")] = None,
    like: str | None = None,
    limit: int = 50,
    offset: int = 0,
    newest: bool = False,
    order: Annotated[str | None, Query(description="date, or relevance (the default with q or like)")] = None,
) -> PhotoPage:
    """Photos matching every facet; names as the CLI's options (`?near=Hangzhou&from=2023-07&person=Alice`)."""
    params = search.PhotoSearch(
        date_from=date_from, date_to=date_to, near=near, radius=radius, layout=layout, color=color, camera=camera,
        rating=rating, tag=tag, weekday=weekday, scene=scene, person=person, only=only, any_person=any_person,
        people_count=people_count, category=category, query=q, like=like, limit=limit, offset=offset,
        newest=newest, order=order)
    page = await anyio.to_thread.run_sync(search.search_photos, ctx, params, limiter=_searches)
    # The page is already a validated model: serialise it once in pydantic-core rather than
    # have FastAPI validate it again (a third of a gallery request's time).
    return Response(page.model_dump_json(), media_type="application/json")


@router.get("/parse", response_model=search.ParsedSearch)
def parse(ctx: Ctx, q: str) -> search.ParsedSearch:
    """The natural-language box: what the agent's parser understood, as chips and /api/photos parameters."""
    return search.parse_photo_text(ctx, q)


@router.get("/photos/{item_id}", response_model=Record)
def photo(ctx: Ctx, item_id: int) -> Record:
    return photo_service.show_item(ctx, item_id)


def _file(ctx: Ctx, item_id: int, key: str, media: str | None = None) -> Response:
    return file_response(photo_service.photo_file(ctx, item_id, key), media)


@router.get("/photos/{item_id}/thumbnail", response_class=FileResponse)
def thumbnail(ctx: Ctx, item_id: int) -> FileResponse:
    return _file(ctx, item_id, "thumbnail", "image/webp")


@router.get("/photos/{item_id}/original", response_class=FileResponse)
def original(ctx: Ctx, item_id: int) -> FileResponse:
    return _file(ctx, item_id, "original")


class RatingIn(BaseModel):
    stars: int = Field(ge=0, le=5)


@router.put("/photos/{item_id}/rating", response_model=Rating)
def rate(ctx: Ctx, item_id: int, body: RatingIn) -> Rating:
    return photo_service.rate_item(ctx, item_id, body.stars)


@router.get("/photos/{item_id}/similar", response_model=PhotoPage)
def similar(ctx: Ctx, item_id: int, limit: int = 12) -> PhotoPage:
    return search.similar_photos(ctx, item_id, limit)


@router.get("/duplicates", response_model=list[DuplicateGroup])
def duplicates(ctx: Ctx) -> list[DuplicateGroup]:
    return photo_service.duplicates(ctx)


@router.get("/stats", response_model=Record, tags=["library"])
def stats(ctx: Ctx) -> Record:
    return stats_service.library_stats(ctx)
