"""Share links: read-only links, without a token, to a photo, an event's photos or a search's results.

What a link shows is fixed when it is made: the photo, the photos the event had, or the
photos the search found (at most ``share_search_limit``). A photo added later never
appears through an old link, and a photo deleted since simply drops out. Re-deriving
events cannot make an event link show another event, and a search link shows what its
maker saw. A link shows those photos (thumbnail, the picture itself, date, place and
caption) and nothing else: no people, no paths, no other photo.

Every link has an expiry (``share_expiry`` unless told, at most ``share_max_days``) and
can be revoked. Only a SHA-256 of its secret is stored; the secret is in the URL the
maker is given once (``/s/<secret>``). An unknown secret is NotFound (404); an expired
or revoked one is Gone (410).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel

from deepdiary.core.errors import Gone, InvalidInput, NotFound
from deepdiary.services.context import AppContext

PREFIX = "dds_"
KINDS = ("photo", "event", "search")
_SECRET = re.compile(r"^dds_[A-Za-z0-9_-]{20,64}$")
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?|w|weeks?|分钟|小时|天|日|周|星期)\s*$", re.I)
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080, "分": 1, "小": 60, "天": 1440, "日": 1440, "周": 10080,
                 "星": 10080}


class ShareLink(BaseModel):
    id: int
    kind: str
    target: str
    title: str
    photos: int
    created_at: datetime
    expires_at: datetime
    revoked: bool
    expired: bool


class NewShareLink(ShareLink):
    url: str  # /s/<secret>: shown once, only the secret's hash is kept
    secret: str


class SharedPhoto(BaseModel):
    id: int
    taken_at: str | None
    width: int | None
    height: int | None
    layout: str | None
    place: str | None
    place_zh: str | None
    description: str | None
    description_zh: str | None
    thumbnail: str
    original: str


class SharedView(BaseModel):
    id: int
    kind: str
    title: str
    created_at: datetime
    expires_at: datetime
    photos: list[SharedPhoto]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_expiry(text: str | None, max_days: int, now: datetime | None = None) -> datetime:
    """When a link made now with ``--expires TEXT`` ends: 30m, 12h, 7d, 2w (7天, 12小时), or a
    date or time (2026-12-31, 2026-12-31T18:00, UTC unless an offset is given)."""
    now = now or datetime.now(UTC)
    raw = (text or "").strip()
    if not raw:
        raise InvalidInput("--expires: give a duration (30m, 12h, 7d, 2w) or a date (2026-12-31)")
    match = _DURATION.match(raw)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        ends = now + timedelta(minutes=amount * _UNIT_MINUTES[unit[0]])
    else:
        try:
            ends = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"--expires: {raw!r} is neither a duration (30m, 12h, 7d, 2w) nor a date "
                               "(2026-12-31)") from None
        if ends.tzinfo is None:
            ends = ends.replace(tzinfo=UTC)
    if ends <= now:
        raise InvalidInput(f"--expires: {raw!r} is not in the future")
    if ends - now > timedelta(days=max_days):
        raise InvalidInput(f"--expires: {raw!r} is more than {max_days} days away (share_max_days)")
    return ends


def _link(row, now: datetime | None = None) -> ShareLink:
    now = now or datetime.now(UTC)
    return ShareLink(id=row.id, kind=row.kind, target=row.target, title=row.title, photos=len(row.item_ids),
                     created_at=row.created_at, expires_at=row.expires_at, revoked=row.revoked_at is not None,
                     expired=row.expires_at <= now)


def _create(ctx: AppContext, kind: str, target: str, title: str, item_ids: list[int],
            expires: str | None) -> NewShareLink:
    ends = parse_expiry(expires or ctx.settings.share_expiry, ctx.settings.share_max_days)
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ctx.access.add_share(ctx.user.id if ctx.user else None, secret_hash(secret), kind, target, title,
                               item_ids, ends)
    return NewShareLink(**_link(row).model_dump(), url=f"/s/{secret}", secret=secret)


def share_photo(ctx: AppContext, item_id: int, expires: str | None = None) -> NewShareLink:
    """A link to one photo: it, its thumbnail, its date, place and caption."""
    from deepdiary.services.photos import show_item

    details = show_item(ctx, item_id).root  # NotFound for an id not in this library
    if details["kind"] != "photo":
        raise InvalidInput(f"item {item_id} is a {details['kind']}, not a photo; only photos can be shared")
    taken = (details.get("taken_at") or "")[:10]
    return _create(ctx, "photo", str(item_id), f"Photo {item_id}" + (f", {taken}" if taken else ""),
                   [item_id], expires)


def share_event(ctx: AppContext, event_id: int, expires: str | None = None) -> NewShareLink:
    """A link to the photos of one event, as the event has them now."""
    from deepdiary.services.memories import event_detail

    event = event_detail(ctx, event_id)
    photo_ids = [p.id for p in event.photo_items]
    if not photo_ids:
        raise InvalidInput(f"event {event_id} has no photos to share")
    return _create(ctx, "event", str(event_id), event.title, photo_ids, expires)


def _photo_search(params: dict, limit: int):
    """The natural-language box's parameters (``search.parse_photo_text``) as a photo search."""
    from deepdiary.services.search import PhotoSearch

    names = {"from": "date_from", "to": "date_to", "q": "query", "people-count": "people_count"}
    return PhotoSearch(**{names.get(k, k): v for k, v in params.items()}, limit=limit)


def share_search(ctx: AppContext, query: str, expires: str | None = None) -> NewShareLink:
    """A link to what a search finds now ('Alice in Hangzhou', '2023年在杭州的照片'), as the gallery's
    search box reads it; the results are frozen, later photos never join them."""
    from deepdiary.services.search import parse_photo_text, search_photos

    parsed = parse_photo_text(ctx, query)
    page = search_photos(ctx, _photo_search(parsed.params, ctx.settings.share_search_limit))
    ids = [r.id for r in page.results]
    if not ids:
        raise InvalidInput(f"the search {query.strip()!r} finds no photos to share")
    return _create(ctx, "search", query.strip(), query.strip(), ids, expires)


def list_shares(ctx: AppContext) -> list[ShareLink]:
    """This library's links, live, expired and revoked alike."""
    now = datetime.now(UTC)
    return [_link(r, now) for r in ctx.access.shares(ctx.user.id if ctx.user else None)]


def revoke_share(ctx: AppContext, share_id: int) -> ShareLink:
    """Revoke one of this library's links: it answers 410 from now on."""
    return _link(ctx.access.revoke_share(ctx.user.id if ctx.user else None, share_id))


def open_share(libraries, secret: str):
    """The library and the stored link a secret opens (``libraries``: a ``users.Libraries``)."""
    if not _SECRET.match(secret or ""):
        raise NotFound("no such share link")
    row = libraries.home.access.share_by_hash(secret_hash(secret))
    if row is None:
        raise NotFound("no such share link")
    if row.revoked_at is not None:
        raise Gone("this share link was revoked")
    if row.expires_at <= datetime.now(UTC):
        raise Gone(f"this share link expired on {row.expires_at:%Y-%m-%d %H:%M} UTC")
    ctx = libraries.for_user_id(row.user_id)
    if ctx is None:
        raise NotFound("no such share link")
    return ctx, row


def shared_view(libraries, secret: str) -> SharedView:
    """What a link shows: its title and its photos that are still in the library."""
    from deepdiary.services.photos import show_item

    ctx, row = open_share(libraries, secret)
    photos = []
    for item_id in row.item_ids:
        try:
            d = show_item(ctx, item_id).root
        except NotFound:
            continue  # deleted since the link was made
        if d["kind"] != "photo":
            continue
        place = d.get("place") or {}
        base = f"/api/shared/{secret}/photos/{item_id}"
        photos.append(SharedPhoto(
            id=item_id, taken_at=d.get("taken_at"), width=d.get("width"), height=d.get("height"),
            layout=d.get("layout"), place=", ".join(x for x in (place.get("city"), place.get("country")) if x) or None,
            place_zh=" ".join(x for x in (place.get("country_zh"), place.get("city_zh")) if x) or None,
            description=d.get("description"), description_zh=d.get("description_zh"),
            thumbnail=f"{base}/thumbnail", original=f"{base}/original"))
    return SharedView(id=row.id, kind=row.kind, title=row.title, created_at=row.created_at,
                      expires_at=row.expires_at, photos=photos)


def shared_photo(libraries, secret: str, item_id: int) -> AppContext:
    """The library to read ``item_id``'s files from, when the link names that photo; any other
    id is NotFound, exactly as if it did not exist."""
    ctx, row = open_share(libraries, secret)
    if item_id not in row.item_ids:
        raise NotFound(f"no photo {item_id} in this share link")
    return ctx
