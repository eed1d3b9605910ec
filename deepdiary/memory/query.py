"""Faceted photo search: one function behind the CLI, the API and the agent's tools.

Facets combine with AND. Results are ordered by the time the photo was taken (oldest
first unless ``newest_first``), then by id, and paged with ``limit``/``offset``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Integer, and_, cast, exists, extract, func, or_
from sqlmodel import Session, select

from deepdiary.core.colours import ColourFacet, Region  # noqa: F401 - part of this module's API
from deepdiary.core.errors import NotFound
from deepdiary.core.geo import EARTH_RADIUS_KM, KM_PER_DEGREE
from deepdiary.core.text import has_cjk
from deepdiary.memory.blobs import Blobs
from deepdiary.memory.people import find_people
from deepdiary.memory.tables import (
    Category, Face, Item, ItemCategory, ItemColour, ItemPath, ItemTag, PhotoMeta, Place,
)

Layout = Literal["wide", "tall", "square"]


class PhotoQuery(BaseModel):
    """What to look for. Every field is optional; set fields must all match."""

    date_from: datetime | None = Field(default=None, description="taken at or after (local time)")
    date_to: datetime | None = Field(default=None, description="taken at or before (local time)")
    weekdays: list[int] = Field(default_factory=list, description="0=Monday..6=Sunday")
    place: str | None = Field(
        default=None, description="city, region or country name (English or Chinese) or country code"
    )
    near_lat: float | None = None
    near_lon: float | None = None
    radius_km: float = 25.0
    layout: Layout | None = None
    colours: list[ColourFacet] = Field(default_factory=list)
    colour_min_share: float = 0.15
    camera: str | None = Field(default=None, description="part of the camera make or model")
    min_rating: int | None = Field(default=None, ge=0, le=5)
    tags: list[str] = Field(default_factory=list, description="every tag must be present (English or Chinese)")
    scenes: list[str] = Field(default_factory=list, description="every scene must be present, e.g. beach, 海滩")
    persons: list[str] = Field(default_factory=list, description="names of people who must all appear")
    only_persons: bool = Field(default=False, description="nobody but `persons` appears")
    any_person: bool = Field(default=False, description="at least one face")
    people_count: int | None = Field(default=None, ge=0, description="exactly this many faces")
    category: str | None = None
    text: str | None = Field(default=None, description="free text, English or Chinese; ranks by relevance")
    like_item: int | None = Field(default=None, description="rank by visual similarity to this photo")
    like_vector: list[float] | None = Field(default=None, description="rank by similarity to these image features")
    newest_first: bool = False
    by_date: bool = Field(default=False, description="date order even when text or likeness picks the matches")
    limit: int = Field(default=50, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0)

    @field_validator("date_to", mode="before")
    @classmethod
    def _end_of_day(cls, value):
        # A bare date as the upper bound means the whole of that day.
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime.combine(value, time.max)
        return value


class PlaceOut(BaseModel):
    id: int
    city: str
    region: str
    country: str
    country_code: str
    city_zh: str | None = None
    region_zh: str | None = None
    country_zh: str | None = None

    @classmethod
    def of(cls, place: Place | None) -> "PlaceOut | None":
        if place is None:
            return None
        return cls(
            id=place.id, city=place.city, region=place.admin1, country=place.country,
            country_code=place.country_code, city_zh=place.city_zh, region_zh=place.admin1_zh,
            country_zh=place.country_zh,
        )


class PhotoResult(BaseModel):
    id: int
    path: str | None
    taken_at: datetime | None
    place: PlaceOut | None
    thumbnail: str
    lat: float | None = None
    lon: float | None = None
    layout: str
    width: int
    height: int
    camera: str | None = None
    rating: int | None = None
    people_count: int | None = None
    description: str | None = None
    score: float | None = None


class PhotoPage(BaseModel):
    results: list[PhotoResult]
    offset: int
    limit: int
    has_more: bool


def place_ids_matching(session: Session, name: str) -> list[int]:
    text = name.strip().lower()
    if not text:
        return []
    cols = (Place.city, Place.admin1, Place.admin2, Place.country, Place.country_code,
            Place.city_zh, Place.admin1_zh, Place.country_zh)
    stmt = select(Place.id).where(or_(*(func.lower(c) == text for c in cols)))
    return list(session.exec(stmt))


def sql_distance_km(lat_col, lon_col, lat: float, lon: float):
    """Great-circle distance as SQL that SQLite (3.35+, math functions) and PostgreSQL run."""
    dphi = func.radians(lat_col - lat) / 2
    dlmb = func.radians(lon_col - lon) / 2
    a = func.sin(dphi) * func.sin(dphi) + math.cos(math.radians(lat)) * func.cos(func.radians(lat_col)) * func.sin(dlmb) * func.sin(dlmb)
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def _date_range(q: PhotoQuery) -> list:
    """The facets the (kind, taken_at) index answers by itself."""
    cond = [Item.kind == "photo"]
    if q.date_from:
        cond.append(Item.taken_at >= q.date_from)
    if q.date_to:
        cond.append(Item.taken_at <= q.date_to)
    return cond


def _conditions(session: Session, q: PhotoQuery, models=None) -> tuple[list, list]:
    """Every other facet, twice: as written, and with the items columns kept off their own
    indexes (``col + 0`` is the same value but no index's key) for a scan that already walks
    the date index. One pass, so each name is looked up once."""
    cond: list = []  # each entry: a condition, or an (as written, row only) pair

    def on_items(make):
        cond.append((make(lambda c: c), make(lambda c: c + 0)))

    if q.weekdays:
        cond.append(_weekday(session, Item.taken_at).in_([(d + 1) % 7 for d in q.weekdays]))
    if q.place:
        places = place_ids_matching(session, q.place)
        on_items(lambda col: col(Item.place_id).in_(places))
    if q.near_lat is not None and q.near_lon is not None:
        # A bounding box the lat/lon index can use, then the haversine distance.
        dlat = q.radius_km / KM_PER_DEGREE
        coslat = math.cos(math.radians(q.near_lat))
        dlon = 360.0 if coslat < 1e-6 else min(dlat / coslat, 360.0)
        on_items(lambda col: col(Item.lat).between(q.near_lat - dlat, q.near_lat + dlat))
        on_items(lambda col: col(Item.lon).between(q.near_lon - dlon, q.near_lon + dlon) if dlon < 180
                 else Item.lon.is_not(None))
    if q.layout:
        cond.append(PhotoMeta.layout == q.layout)
    if q.camera:
        like = f"%{q.camera.lower()}%"
        cond.append(or_(func.lower(PhotoMeta.camera_make).like(like), func.lower(PhotoMeta.camera_model).like(like)))
    if q.min_rating is not None:
        on_items(lambda col: col(Item.rating) >= q.min_rating)
    for c in q.colours:
        cond.append(exists().where(and_(
            ItemColour.item_id == Item.id, ItemColour.name == c.name,
            ItemColour.region == c.region, ItemColour.share >= q.colour_min_share,
        )))
    if q.near_lat is not None and q.near_lon is not None:
        # Last, so the cheaper facets have already thinned the rows it is computed for.
        cond.append(sql_distance_km(Item.lat, Item.lon, q.near_lat, q.near_lon) <= q.radius_km)
    for tag in q.tags:
        names = {tag.strip().lower()} | {n.lower() for n in (tag_names(tag, models) if has_cjk(tag) and models else [])}
        cond.append(exists().where(and_(
            ItemTag.item_id == Item.id, ItemTag.kind != "scene",
            or_(func.lower(ItemTag.name).in_(names), ItemTag.name_zh == tag.strip()),
        )))
    for word in q.scenes:
        from deepdiary.core.vocab import scene_word

        scene = scene_word(word) or word.strip().lower()
        cond.append(exists().where(and_(ItemTag.item_id == Item.id, ItemTag.kind == "scene", ItemTag.name == scene)))
    person_ids: list[int] = []
    for name in q.persons:
        ids = [p.id for p in find_people(session, name)]
        person_ids += ids
        cond.append(exists().where(and_(Face.item_id == Item.id, Face.person_id.in_(ids or [-1]))))
    if q.only_persons and q.persons:
        cond.append(~exists().where(and_(Face.item_id == Item.id, or_(
            Face.person_id.is_(None), Face.person_id.not_in(person_ids or [-1])))))
    if q.any_person:
        cond.append(PhotoMeta.people_count >= 1)
    if q.people_count is not None:
        cond.append(PhotoMeta.people_count == q.people_count)
    if q.category:
        cond.append(exists().where(and_(
            ItemCategory.item_id == Item.id, ItemCategory.category_id == Category.id,
            func.lower(Category.name) == q.category.strip().lower())))
    written = [c[0] if isinstance(c, tuple) else c for c in cond]
    return written, [c[1] if isinstance(c, tuple) else c for c in cond]


def _weekday(session: Session, column):
    """The day of the week as SQL, Sunday=0 (both databases count that way; PhotoQuery from Monday=0)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(extract("dow", column), Integer)
    return cast(func.strftime("%w", column), Integer)


def tag_names(word: str, models) -> list[str]:
    from deepdiary.memory.semantic import tag_names_for

    return tag_names_for(models, word)


def search_photos(session: Session, q: PhotoQuery, library) -> PhotoPage:
    """Photos matching every facet; by date, or by relevance when ``text`` or ``like_*`` is set."""
    scores = _relevance(session, q, library)
    order = (Item.taken_at.desc(), Item.id.desc()) if q.newest_first else (Item.taken_at.asc(), Item.id.asc())
    if scores is None or q.by_date:
        written, row_only = _conditions(session, q, library.models)
        ids = _ids_in_date_window(session, q, row_only) if scores is None and row_only else None
        if ids is None:
            conditions = _date_range(q) + written
            # The page's ids first, from the (kind, taken_at) index alone: skipping 50,000 rows of
            # a deep gallery page costs milliseconds there, but a join for every skipped row.
            ids_stmt = select(Item.id).where(*conditions)
            if _filters_meta(q):
                ids_stmt = ids_stmt.join(PhotoMeta, PhotoMeta.item_id == Item.id)
            if scores is not None:
                ids_stmt = ids_stmt.where(Item.id.in_(list(scores)))
            ids = list(session.exec(ids_stmt.order_by(*order).offset(q.offset).limit(q.limit + 1)))
    else:
        conditions = _date_range(q) + _conditions(session, q, library.models)[0]
        matching = session.exec(select(Item.id).join(PhotoMeta, PhotoMeta.item_id == Item.id)
                                .where(*conditions, Item.id.in_(list(scores)))).all()
        ids = sorted(matching, key=lambda i: (-scores[i], i))[q.offset: q.offset + q.limit + 1]
    has_more = len(ids) > q.limit
    results = photo_results(session, ids[: q.limit], library.blobs)
    if scores is not None:
        for r in results:
            r.score = round(scores[r.id], 4)
    return PhotoPage(results=results, offset=q.offset, limit=q.limit, has_more=has_more)


# How many photos, in date order, a faceted page looks through before it asks the database's
# planner instead. Facets that keep one photo in a few hundred fill a page within it, and the
# work stays the same at a hundred thousand photos or ten million; rarer matches fall back.
DATE_WINDOW = 50_000
WINDOW_PER_RESULT = 20


def _ids_in_date_window(session: Session, q: PhotoQuery, facets: list) -> list[int] | None:
    """A page of ids from the first photos of the date range, in order, tested facet by facet.

    With a LIMIT and an ORDER BY, both planners tend to start from the most selective-looking
    index (a place, a rating, a latitude band), read every photo it names and sort them: a cost
    that grows with the library. Walking the date index instead stops at the page's last photo,
    and an upper bound on the date (the window's last photo) keeps a page that does not fill
    from walking the whole library. None when the window held too few matches: then the
    planner's own plan runs.

    Undated photos are one group at an end of the order: first oldest-first on SQLite and
    newest-first on PostgreSQL (where each database sorts NULL), the other end otherwise.
    """
    need = q.offset + q.limit + 1
    window = max(DATE_WINDOW, WINDOW_PER_RESULT * need)
    desc = q.newest_first
    by_date = (Item.taken_at.desc(), Item.id.desc()) if desc else (Item.taken_at, Item.id)

    def matching(*where, order=by_date, limit=need) -> list[int]:
        stmt = select(Item.id).where(*where, *facets)
        if _filters_meta(q):
            stmt = stmt.join(PhotoMeta, PhotoMeta.item_id == Item.id)
        return list(session.exec(stmt.order_by(*order).limit(limit)))

    dated = [*_date_range(q), Item.taken_at.is_not(None)]
    with_undated = not (q.date_from or q.date_to)
    undated_first = with_undated and (session.get_bind().dialect.name == "sqlite") != desc

    def undated(limit: int) -> list[int]:
        return matching(Item.kind == "photo", Item.taken_at.is_(None),
                        order=(Item.id.desc() if desc else Item.id,), limit=limit)

    ids = undated(need) if undated_first else []
    if len(ids) < need:
        # By date alone: ties do not move the bound, and PostgreSQL's (kind, taken_at) index
        # then answers it without a sort.
        last = session.exec(select(Item.taken_at).where(*dated).order_by(by_date[0])
                            .offset(window - 1).limit(1)).first()
        bound = [] if last is None else [Item.taken_at >= last if desc else Item.taken_at <= last]
        ids += matching(*dated, *bound, limit=need - len(ids))
        if len(ids) < need:
            if last is not None:
                return None
            if with_undated and not undated_first:
                ids += undated(need - len(ids))
    return ids[q.offset: need]


def photo_results(session: Session, ids: list[int], blobs: Blobs) -> list[PhotoResult]:
    """The result rows for these photo ids, in the order given, from one query of plain
    columns (no ORM objects: a gallery page builds sixty of these per request)."""
    if not ids:
        return []
    first_path = (select(ItemPath.path).where(ItemPath.item_id == Item.id).order_by(ItemPath.id).limit(1)
                  .correlate(Item).scalar_subquery())
    stmt = (select(Item.id, Item.taken_at, Item.lat, Item.lon, Item.sha256, Item.rating, PhotoMeta.layout,
                   PhotoMeta.width, PhotoMeta.height, PhotoMeta.camera_make, PhotoMeta.camera_model,
                   PhotoMeta.people_count, PhotoMeta.description, Place.id, Place.city, Place.admin1, Place.country,
                   Place.country_code, Place.city_zh, Place.admin1_zh, Place.country_zh, first_path)
            .join(PhotoMeta, PhotoMeta.item_id == Item.id).outerjoin(Place, Place.id == Item.place_id)
            .where(Item.id.in_(ids)))
    found = {}
    for (item_id, taken, lat, lon, sha, rating, layout, width, height, make, model, people, description,
         place_id, city, region, country, cc, city_zh, region_zh, country_zh, path) in session.exec(stmt):
        place = None if place_id is None else PlaceOut.model_construct(
            id=place_id, city=city, region=region, country=country, country_code=cc, city_zh=city_zh,
            region_zh=region_zh, country_zh=country_zh)
        found[item_id] = PhotoResult.model_construct(
            id=item_id, path=path,
            taken_at=taken, place=place, thumbnail=blobs.thumbnail_file(sha), lat=lat, lon=lon, layout=layout,
            width=width, height=height, camera=" ".join(x for x in (make, model) if x) or None, rating=rating,
            people_count=people, description=description, score=None)
    return [found[i] for i in ids if i in found]


def _filters_meta(q: PhotoQuery) -> bool:
    """Whether a facet reads photo_meta (layout, camera, faces) rather than items alone."""
    return bool(q.layout or q.camera or q.any_person or q.people_count is not None)


def _relevance(session: Session, q: PhotoQuery, library) -> dict[int, float] | None:
    if q.text is None and q.like_item is None and q.like_vector is None:
        return None
    import numpy as np

    from deepdiary.memory import semantic
    from deepdiary.memory.vectors import IMAGE_FEATURES

    k = max(500, q.offset + q.limit + 1)
    combined: dict[int, float] = {}
    if q.text:
        for i, v in semantic.text_scores(session, library.vectors, library.models, q.text, k=k).items():
            combined[i] = combined.get(i, 0.0) + v
    vector = None
    if q.like_item is not None:
        vector = library.vectors.get(IMAGE_FEATURES, [q.like_item]).get(q.like_item)
        if vector is None:
            raise NotFound(f"photo {q.like_item} has no image features yet: run `deepdiary enrich`")
    elif q.like_vector is not None:
        vector = np.asarray(q.like_vector, dtype=np.float32)
    if vector is not None:
        for i, v in semantic.like_scores(library.vectors, vector, k=k, exclude=q.like_item).items():
            combined[i] = combined.get(i, 0.0) + v
    return combined


def photos_by_id(session: Session, item_ids: list[int], library) -> list[PhotoResult]:
    """These photos, in date order (ids that are not photos are skipped)."""
    ordered = session.exec(select(Item.id).where(Item.id.in_(list(item_ids)), Item.kind == "photo")
                           .order_by(Item.taken_at, Item.id)).all() if item_ids else []
    return photo_results(session, list(ordered), library.blobs)


def primary_paths(session: Session, item_ids: list[int]) -> dict[int, str]:
    """The first path each item was ingested from."""
    if not item_ids:
        return {}
    out: dict[int, str] = {}
    stmt = select(ItemPath.item_id, ItemPath.path).where(ItemPath.item_id.in_(item_ids)).order_by(ItemPath.id)
    for item_id, path in session.exec(stmt):
        out.setdefault(item_id, path)
    return out
