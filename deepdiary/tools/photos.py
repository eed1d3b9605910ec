"""Photo tools: faceted search and one photo in detail."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from deepdiary.core.errors import InvalidInput, NotFound

from deepdiary.core.colours import parse_colour
from deepdiary.memory.items import item_details
from deepdiary.memory.people import find_people, named_people_in
from deepdiary.memory.query import (
    PhotoQuery,
    place_ids_matching,
    search_photos,
)
from deepdiary.tools.context import (
    DATE_HELP,
    Args,
    ToolContext,
    compact,
    day_bound,
    place_label,
    when,
)

class SearchPhotosArgs(Args):
    query: str | None = Field(None, description="what the photo shows, free text, e.g. 'dog on the beach' or '海边的狗'")
    people: list[str] = Field(default_factory=list, description="names of people who must all be in it, e.g. ['Alice']")
    place: str | None = Field(None, description="city, region or country, English or Chinese, e.g. 'Hangzhou' or '杭州'")
    date_from: str | None = Field(None, description=f"taken on or after this day, {DATE_HELP}")
    date_to: str | None = Field(None, description=f"taken on or before this day (inclusive), {DATE_HELP}")
    colours: list[str] = Field(default_factory=list,
                               description="colours, optionally of the background or foreground, e.g. ['red', 'blue background']")
    people_count: int | None = Field(None, ge=0, description="exactly this many faces, e.g. 2")
    scenes: list[str] = Field(default_factory=list, description="kinds of scene, e.g. ['beach'] or ['mountain']")
    layout: Literal["wide", "tall", "square"] | None = Field(None, description="picture shape, e.g. 'tall'")
    weekdays: list[int] = Field(default_factory=list, description="days of the week, 0=Monday .. 6=Sunday, e.g. [5, 6] for weekends")
    limit: int = Field(5, ge=1, le=50, description="how many photos at most, e.g. 5")


def search_photos_tool(ctx: ToolContext, a: SearchPhotosArgs) -> dict:
    """Find photos by what they show, who is in them, where, when, colours or shape. Use for any question about photos."""
    facets = {"text": a.query or None, "persons": a.people, "place": a.place, "date_from": day_bound(a.date_from),
              "date_to": day_bound(a.date_to, end=True), "colours": [parse_colour(c) for c in a.colours],
              "people_count": a.people_count, "scenes": a.scenes, "layout": a.layout, "limit": a.limit,
              "colour_min_share": ctx.library.settings.colour_search_min_share}
    if any(not 0 <= d <= 6 for d in a.weekdays):
        raise InvalidInput("weekdays are 0 (Monday) to 6 (Sunday)")
    facets["weekdays"] = a.weekdays
    with ctx.library.read_session() as s:
        for name in a.people:
            if not find_people(s, name):
                raise NotFound(f"no person named {name!r}; use find_people to see who is known")
        if a.place and not place_ids_matching(s, a.place):
            raise NotFound(f"no photos anywhere called {a.place!r}; use places_visited to see known places")
        page = search_photos(s, PhotoQuery(**facets), ctx.library)
        people = named_people_in(s, [r.id for r in page.results])
    results = [compact({
        "ref": f"photo:{r.id}", "path": r.path, "taken_at": when(r.taken_at),
        "place": place_label(r.place.city, r.place.country, r.place.city_zh) if r.place else None,
        "people": people.get(r.id, []), "description": r.description,
    }) for r in page.results]
    return {"results": results, "total_shown": len(results), "has_more": page.has_more}


class DescribePhotoArgs(Args):
    photo_id: int = Field(description="the number in a photo ref, e.g. 12 for 'photo:12'")


def describe_photo_tool(ctx: ToolContext, a: DescribePhotoArgs) -> dict:
    """Everything known about one photo: time, place, camera, description, tags, scenes, colours, people."""
    with ctx.library.read_session() as s:
        try:
            d = item_details(s, a.photo_id, ctx.library.blobs)
        except LookupError:
            d = None
    if d is None or d["kind"] != "photo":
        raise NotFound(f"no photo with id {a.photo_id}")
    place = d["place"] or {}
    tags = [t["name"] for t in d["tags"] if t["kind"] != "scene"][:5]
    people = list(dict.fromkeys(f["person"] for f in d["faces"] if f["person"]))
    photo = compact({
        "ref": f"photo:{d['id']}", "path": d["path"], "taken_at": when(d["taken_at"]),
        "place": place_label(place.get("city"), place.get("country"), place.get("city_zh")),
        "camera": " ".join(x for x in (d.get("camera_make"), d.get("camera_model")) if x) or None,
        "layout": d.get("layout"), "description": d.get("description"), "tags": tags,
        "scenes": [t["name"] for t in d["tags"] if t["kind"] == "scene"],
        "colours": [c["name"] if c["region"] == "image" else f"{c['name']} {c['region']}" for c in d["colours"]],
        "people": people, "people_count": d.get("people_count"), "rating": d["rating"],
    })
    return {"results": [photo]}
