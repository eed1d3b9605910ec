"""Searching: photos by every facet, free text or likeness; chats and diaries by words and meaning.

The parameters are named as the CLI's options (and the web API's query parameters), so
one vocabulary serves both, and every value is read by the one parser for its kind.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from deepdiary.core.colours import parse_colour
from deepdiary.core.dates import optional_bound
from deepdiary.core.errors import InvalidInput
from deepdiary.core.geo import looks_like_latlon, parse_latlon, parse_radius_km
from deepdiary.memory.chat_query import ChatHit, ChatQuery
from deepdiary.memory.query import PhotoPage, PhotoQuery
from deepdiary.services.context import AppContext

LAYOUTS = ("wide", "tall", "square")


class PhotoSearch(BaseModel):
    date_from: str | None = Field(None, description="taken on or after: 2023, 2023-07, 2023-07-14, 'last May'")
    date_to: str | None = Field(None, description="taken on or before (the whole period named)")
    near: str | None = Field(None, description="a place name (city, region, country; English or 中文) or 'lat,lon'")
    radius: float | None = Field(None, description="km around a lat,lon near")
    layout: str | None = Field(None, description="wide, tall or square")
    color: list[str] = Field(default_factory=list, description="colour name, optionally fg:red or bg:blue")
    camera: str | None = None
    rating: int | None = Field(None, description="at least this many stars")
    tag: list[str] = Field(default_factory=list)
    weekday: list[int] = Field(default_factory=list, description="0=Monday..6=Sunday")
    scene: list[str] = Field(default_factory=list)
    person: list[str] = Field(default_factory=list)
    only: bool = False
    any_person: bool = False
    people_count: int | None = None
    category: str | None = None
    query: str | None = None
    like: str | None = Field(None, description="a photo id or an image file")
    limit: int = 50
    offset: int = 0
    newest: bool = False
    order: str | None = Field(None, description="date or relevance (the default for free text and likeness)")


ORDERS = ("date", "relevance")


def photo_query(ctx: AppContext, p: PhotoSearch) -> PhotoQuery:
    """The search the parameters describe, each value checked and read by its one parser."""
    if p.layout and p.layout.lower() not in LAYOUTS:
        raise InvalidInput(f"--layout: {p.layout!r} is not one of {', '.join(LAYOUTS)}")
    if p.rating is not None and not 0 <= p.rating <= 5:
        raise InvalidInput(f"--rating: {p.rating} is out of range (0 to 5 stars)")
    if p.people_count is not None and p.people_count < 0:
        raise InvalidInput(f"--people-count: {p.people_count} is out of range (0 or more)")
    if not 1 <= p.limit <= 10_000:
        raise InvalidInput(f"--limit: {p.limit} is out of range (1 to 10000)")
    if p.offset < 0:
        raise InvalidInput(f"--offset: {p.offset} is out of range (0 or more)")
    if any(not 0 <= d <= 6 for d in p.weekday):
        raise InvalidInput("--weekday: 0 (Monday) to 6 (Sunday)")
    if p.order is not None and p.order not in ORDERS:
        raise InvalidInput(f"--order: {p.order!r} is not one of {', '.join(ORDERS)}")
    if p.near is not None and not p.near.strip():
        raise InvalidInput("--near: empty; give a place name or 'lat,lon'")
    q = PhotoQuery(
        date_from=optional_bound(p.date_from, option="--from"),
        date_to=optional_bound(p.date_to, end=True, option="--to"),
        layout=p.layout.lower() if p.layout else None,
        colours=[parse_colour(c) for c in p.color],
        colour_min_share=ctx.settings.colour_search_min_share,
        camera=p.camera, min_rating=p.rating, tags=p.tag, weekdays=p.weekday, scenes=p.scene, persons=p.person,
        only_persons=p.only, any_person=p.any_person, people_count=p.people_count, category=p.category,
        text=p.query, limit=p.limit, offset=p.offset, newest_first=p.newest, by_date=p.order == "date",
        radius_km=parse_radius_km(p.radius, ctx.settings.near_radius_km),
    )
    if p.near:
        if looks_like_latlon(p.near):
            q.near_lat, q.near_lon = parse_latlon(p.near)
        else:
            q.place = p.near
    if p.like:
        if p.like.strip().isdigit():
            q.like_item = int(p.like)
        else:
            q.like_vector = image_features(ctx, Path(p.like))
    return q


def image_features(ctx: AppContext, path: Path) -> list[float]:
    """The features of an image file that is not in the library, for a likeness search."""
    from PIL import Image, UnidentifiedImageError

    from deepdiary.pipeline.enrich import load_upright

    if not path.is_file():
        raise InvalidInput(f"--like takes a photo id or an image file; {str(path)!r} is neither")
    try:
        image = load_upright(path)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"--like: {path} is not an image we can read ({type(exc).__name__}: {exc})") from None
    return ctx.models.tagger.analyze([image])[0].features.tolist()


def search_photos(ctx: AppContext, params: PhotoSearch) -> PhotoPage:
    """Photos matching every facet, by date, or by relevance for free text and likeness."""
    from deepdiary.memory.query import search_photos as run

    q = photo_query(ctx, params)
    with ctx.read() as s:
        return run(s, q, ctx.library)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_REGION_PREFIX = {"foreground": "fg:", "background": "bg:", "image": ""}
REPEATABLE = {"person", "color", "scene", "tag", "weekday"}  # /api/photos parameters that take a list


class Chip(BaseModel):
    facet: str = Field(description="the photo search parameter it sets (person, near, from, to, color, ...)")
    value: str
    label: str


class ParsedSearch(BaseModel):
    id: str
    q: str
    intent: str
    chips: list[Chip]
    params: dict[str, Any] = Field(description="the /api/photos parameters the chips make")


def parse_photo_text(ctx: AppContext, text: str, today: date | None = None) -> ParsedSearch:
    """What the natural-language box understood, as removable chips: the agent's own parser."""
    from deepdiary.nlu.question import parse_question

    if not text.strip():
        raise InvalidInput("q: type what to look for, e.g. 'Alice at the beach last summer'")
    with ctx.read() as s:
        parsed = parse_question(s, text, today or date.today())
    chips: list[Chip] = []
    chips += [Chip(facet="person", value=name, label=name) for name in parsed.persons]
    if parsed.places:
        chips.append(Chip(facet="near", value=parsed.places[0], label=parsed.places[0]))
    if parsed.date_from:
        chips.append(Chip(facet="from", value=parsed.date_from.date().isoformat(),
                          label=f"from {parsed.date_from.date().isoformat()}"))
    if parsed.date_to:
        chips.append(Chip(facet="to", value=parsed.date_to.date().isoformat(),
                          label=f"to {parsed.date_to.date().isoformat()}"))
    chips += [Chip(facet="weekday", value=str(d), label=WEEKDAYS[d]) for d in parsed.weekdays]
    chips += [Chip(facet="color", value=_REGION_PREFIX[c.region] + c.name,
                   label=f"{c.name} {'' if c.region == 'image' else c.region}".strip()) for c in parsed.colours]
    if parsed.people_count is not None:
        chips.append(Chip(facet="people-count", value=str(parsed.people_count),
                          label=f"{parsed.people_count} people"))
    chips += [Chip(facet="scene", value=v, label=v) for v in parsed.scenes]
    chips += [Chip(facet="tag", value=v, label=v) for v in parsed.tags]
    if parsed.layout:
        chips.append(Chip(facet="layout", value=parsed.layout, label=parsed.layout))
    if parsed.photo_id is not None:
        chips.append(Chip(facet="like", value=str(parsed.photo_id), label=f"like photo {parsed.photo_id}"))
    if parsed.keywords:
        chips.append(Chip(facet="q", value=parsed.keywords, label=f"“{parsed.keywords}”"))
    params: dict[str, Any] = {}
    for chip in chips:
        if chip.facet in REPEATABLE:
            params.setdefault(chip.facet, []).append(chip.value)
        else:
            params[chip.facet] = chip.value
    return ParsedSearch(id=text, q=text, intent=parsed.intent, chips=chips, params=params)


def similar_photos(ctx: AppContext, photo_id: int, limit: int = 12) -> PhotoPage:
    """Photos that look like one in the library."""
    return search_photos(ctx, PhotoSearch(like=str(photo_id), limit=limit))


class ChatSearch(BaseModel):
    question: str
    date_from: str | None = None
    date_to: str | None = None
    with_person: str | None = None
    limit: int = 10
    context: int = 0
    diary: bool = False
    diary_only: bool = Field(False, description="diary entries only")


def search_chats(ctx: AppContext, p: ChatSearch) -> list[ChatHit]:
    """Chat messages (and diary entries): words and meaning, with time words understood."""
    from deepdiary.memory.chat_query import search_chats as run

    if not p.question.strip():
        raise InvalidInput("say what to look for")
    if not 1 <= p.limit <= 200:
        raise InvalidInput(f"--limit: {p.limit} is out of range (1 to 200)")
    if not 0 <= p.context <= 10:
        raise InvalidInput(f"--context: {p.context} is out of range (0 to 10)")
    q = ChatQuery(text=p.question, date_from=optional_bound(p.date_from, option="--from"),
                  date_to=optional_bound(p.date_to, end=True, option="--to"), with_person=p.with_person,
                  limit=p.limit, context=p.context, kinds=["diary"] if p.diary_only else ["message", "diary"] if p.diary else ["message"])
    with ctx.read() as s:
        return run(s, q, ctx.library)
