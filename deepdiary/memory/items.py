"""Reading one item in full, editing what the user owns (rating), and library totals."""

from __future__ import annotations

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.processes import job_alive

from sqlalchemy import func
from sqlmodel import Session, select

from deepdiary.memory.blobs import Blobs
from deepdiary.memory.query import PlaceOut
from deepdiary.memory.tables import (
    Category,
    Face,
    IndexQueue,
    IngestError,
    ItemCategory,
    ItemStage,
    Person,
    IngestJob,
    Item,
    ItemColour,
    ItemPath,
    ItemTag,
    PhotoMeta,
    Place,
)
from deepdiary.core.palette import colour_zh


class ItemNotFound(NotFound):
    pass


def photo_ids(session: Session) -> list[int]:
    """Every item with a stored file, oldest first."""
    return list(session.exec(select(Item.id).where(Item.sha256.is_not(None), Item.ext.is_not(None)).order_by(Item.id)))


def content_cid(item: Item, blobs: Blobs) -> str | None:
    """The CID ``ipfs add --cid-version 1 --raw-leaves`` gives the item's file. Libraries made
    before UnixFS chunking stored a photo over one chunk (256 KiB) under its raw CID, which no
    IPFS node gives it; that one is recomputed from the stored original (not written back:
    reads never write)."""
    from deepdiary.memory.unixfs import CHUNK_SIZE, file_dag, raw_cid

    if not item.sha256 or not item.ext or (item.size or 0) <= CHUNK_SIZE or item.cid not in (None, raw_cid(item.sha256)):
        return item.cid
    ref = blobs.original(item.sha256, item.ext)
    if not blobs.exists(ref):
        return item.cid
    path = blobs.local_path(ref)
    if path is None:  # sealed, or not a file here
        return file_dag(blobs.read(ref)).cid_text
    with open(path, "rb") as fh:
        return file_dag(fh).cid_text


def item_details(session: Session, item_id: int, blobs: Blobs) -> dict:
    item = session.get(Item, item_id)
    if item is None:
        raise ItemNotFound(f"no item with id {item_id}")
    meta = session.get(PhotoMeta, item_id)
    place = session.get(Place, item.place_id) if item.place_id else None
    paths = list(session.exec(select(ItemPath).where(ItemPath.item_id == item_id).order_by(ItemPath.id)))
    colours = list(session.exec(
        select(ItemColour).where(ItemColour.item_id == item_id).order_by(ItemColour.region, ItemColour.rank)
    ))
    tags = list(session.exec(select(ItemTag).where(ItemTag.item_id == item_id).order_by(ItemTag.score.desc())))
    out = {
        "id": item.id,
        "kind": item.kind,
        "title": item.title,
        "path": paths[0].path if paths else None,
        "paths": [p.path for p in paths],
        "sha256": item.sha256,
        "cid": content_cid(item, blobs),
        "size": item.size,
        "taken_at": item.taken_at.isoformat() if item.taken_at else None,
        "tz_offset_min": item.tz_offset_min,
        "date_source": item.date_source,
        "lat": item.lat,
        "lon": item.lon,
        "alt": item.alt,
        "gps_source": item.gps_source,
        "place": PlaceOut.of(place).model_dump() if place else None,
        "rating": item.rating,
        "colours": [
            {"region": c.region, "rank": c.rank, "name": c.name, "name_zh": colour_zh(c.name),
             "rgb": [c.r, c.g, c.b], "hex": "#%02x%02x%02x" % (c.r, c.g, c.b), "share": c.share}
            for c in colours
        ],
        "tags": [{"kind": t.kind, "name": t.name, "name_zh": t.name_zh, "score": t.score, "source": t.source} for t in tags],
    }
    if item.sha256 and item.ext:
        out["original"] = blobs.location(blobs.original(item.sha256, item.ext))
        out["thumbnail"] = blobs.thumbnail_file(item.sha256)
    if meta:
        out.update(
            format=meta.format, width=meta.width, height=meta.height, orientation=meta.orientation,
            layout=meta.layout, camera_make=meta.camera_make, camera_model=meta.camera_model, lens=meta.lens,
            people_count=meta.people_count, phash=meta.phash, description=meta.description,
            description_zh=meta.description_zh,
        )
    faces = session.exec(select(Face, Person).join(Person, Person.id == Face.person_id, isouter=True)
                         .where(Face.item_id == item_id).order_by(Face.x)).all()
    out["faces"] = [{"id": f.id, "person_id": f.person_id, "person": p.name if p else None,
                     "box": [f.x, f.y, f.width, f.height], "score": round(f.score, 3)} for f, p in faces]
    cat = session.exec(select(ItemCategory, Category).join(Category, Category.id == ItemCategory.category_id)
                       .where(ItemCategory.item_id == item_id)).first()
    out["category"] = {"name": cat[1].name, "source": cat[0].source, "confidence": cat[0].confidence} if cat else None
    out["stages"] = {st.stage: {"status": st.status, "model": st.model, "error": st.error}
                     for st in session.exec(select(ItemStage).where(ItemStage.item_id == item_id))}
    return out


def set_rating(session: Session, item_id: int, rating: int | None) -> Item:
    if rating is not None and not 0 <= rating <= 5:
        raise InvalidInput("a rating is 0 to 5 stars")
    item = session.get(Item, item_id)
    if item is None:
        raise ItemNotFound(f"no item with id {item_id}")
    item.rating = rating
    session.add(item)
    return item


def library_stats(session: Session) -> dict:
    by_kind = dict(session.exec(select(Item.kind, func.count()).group_by(Item.kind)).all())
    first, last = session.exec(select(func.min(Item.taken_at), func.max(Item.taken_at))).one()
    layouts = dict(session.exec(select(PhotoMeta.layout, func.count()).group_by(PhotoMeta.layout)).all())
    cameras = session.exec(
        select(PhotoMeta.camera_model, func.count()).where(PhotoMeta.camera_model.is_not(None))
        .group_by(PhotoMeta.camera_model).order_by(func.count().desc()).limit(10)
    ).all()
    countries = session.exec(
        select(Place.country, func.count(Item.id)).join(Item, Item.place_id == Place.id)
        .group_by(Place.country).order_by(func.count(Item.id).desc())
    ).all()
    last_job = session.exec(select(IngestJob).order_by(IngestJob.id.desc())).first()
    last_status = last_job.status if last_job else None
    if last_status == "running" and not job_alive(last_job.pid, last_job.hostname, last_job.started_at):
        last_status = "interrupted"  # its process is gone: it will never finish
    return {
        "id": "library",
        "items": sum(by_kind.values()),
        "by_kind": by_kind,
        "with_gps": session.exec(select(func.count()).select_from(Item).where(Item.lat.is_not(None))).one(),
        "places": session.exec(select(func.count()).select_from(Place)).one(),
        "first_taken": first.isoformat() if first else None,
        "last_taken": last.isoformat() if last else None,
        "layouts": layouts,
        "top_cameras": [{"camera": c, "photos": n} for c, n in cameras],
        "countries": [{"country": c, "photos": n} for c, n in countries],
        "ingest_errors": session.exec(select(func.count()).select_from(IngestError).where(IngestError.severity == "error")).one(),
        "last_job": {"id": last_job.id, "status": last_status, "added": last_job.added,
                     "failed": last_job.failed} if last_job else None,
        # Stored but not yet searchable: a run was killed before indexing them, or is indexing now.
        "pending_index": session.exec(select(func.count(func.distinct(IndexQueue.item_id)))).one(),
    }
