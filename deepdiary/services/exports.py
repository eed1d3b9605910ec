"""Decentralised storage and exports: pinning blobs to IPFS, CAR archives, NFT metadata.

- ``pin_photos`` puts photos' originals and thumbnails, as stored (sealed in an encrypted
  library), into the storage backend ``DEEPDIARY_BLOB_BACKEND`` names, IPFS for ``ipfs pin``.
- ``export_car`` writes a CARv1 any IPFS node imports: a UnixFS directory root, one folder
  per photo holding the photo, its thumbnail and ``facts.json``. An export is a deliberate
  share, so it holds the plaintext even in an encrypted library.
- ``nft_metadata`` is ERC-721 metadata JSON with an ``ipfs://`` image and attributes from the facts.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import Record


class PinnedBlob(BaseModel):
    id: int  # the item
    original: str  # CID of the original as stored
    thumbnail: str | None
    sealed: bool  # the CIDs name ciphertext (an encrypted library)
    photo_cid: str | None  # the photo's own CID (of its plaintext), as ``show`` gives it


class PinReport(BaseModel):
    id: str = "pin"
    backend: str
    node: str
    items: list[PinnedBlob]
    blobs: int
    bytes: int
    seconds: float


class CarItem(BaseModel):
    id: int
    folder: str  # CID of the item's folder in the CAR
    photo: str
    thumbnail: str | None
    facts: str


class CarExport(BaseModel):
    id: str  # the root CID
    path: str
    root: str
    items: list[CarItem]
    blocks: int
    bytes: int


def ipfs_node(ctx: AppContext):
    """The IPFS node the settings name: a kubo daemon's RPC URL, or the embedded node."""
    from deepdiary.memory.ipfs import KuboRpc, embedded_node

    settings = ctx.settings
    if settings.ipfs_api:
        return KuboRpc(settings.ipfs_api, timeout=settings.ipfs_timeout)
    return embedded_node(settings.ipfs_repo or settings.library_dir / "ipfs", timeout=settings.ipfs_timeout)


def storage_backend(ctx: AppContext, name: str | None = None):
    from deepdiary.memory.storage import backend

    return backend(name or ctx.settings.blob_backend, node=lambda: ipfs_node(ctx))


def _photos(ctx: AppContext, item_ids: list[int] | None) -> list[dict]:
    from deepdiary.memory.items import item_details, photo_ids

    with ctx.read() as s:
        ids = photo_ids(s) if not item_ids else item_ids
        records = [item_details(s, i, ctx.library.blobs) for i in ids]
    blobs = ctx.library.blobs
    for record in records:
        if not record.get("original"):
            raise InvalidInput(f"item {record['id']} has no stored file (a {record['kind']})")
        if not blobs.exists(blobs.ref_at(record["original"])):
            raise InvalidInput(f"item {record['id']}: its original is not in the library's blob store "
                               "(ingested with copy_originals off)")
    return records


def _as_stored(ctx: AppContext, location: str):
    """A blob as the storage backend takes it: its file, or its bytes as stored (sealed or not)."""
    blobs = ctx.library.blobs
    ref = blobs.ref_at(location)
    return blobs.stored_path(ref) or blobs.stored_bytes(ref)


def _has(ctx: AppContext, location: str | None) -> bool:
    blobs = ctx.library.blobs
    return bool(location) and blobs.exists(blobs.ref_at(location))


def pin_photos(ctx: AppContext, item_ids: list[int] | None = None, backend: str | None = None) -> PinReport:
    """Pin the originals and thumbnails of ``item_ids`` (every photo when none) to the backend."""
    records = _photos(ctx, item_ids)
    sealed = ctx.library.blobs.sealed
    started = time.perf_counter()
    pinned, blobs, size = [], 0, 0
    store = storage_backend(ctx, backend)
    try:
        for record in records:
            original = store.put(_as_stored(ctx, record["original"]))
            thumbnail = store.put(_as_stored(ctx, record["thumbnail"])) if _has(ctx, record.get("thumbnail")) else None
            blobs += 1 + (thumbnail is not None)
            size += original.size + (thumbnail.size if thumbnail else 0)
            pinned.append(PinnedBlob(id=record["id"], original=original.cid,
                                     thumbnail=thumbnail.cid if thumbnail else None,
                                     sealed=sealed, photo_cid=record.get("cid")))
    finally:
        store.close()
    node = getattr(getattr(store, "node", None), "where", "the library's blob folder")
    return PinReport(backend=store.name, node=node, items=pinned, blobs=blobs, bytes=size,
                     seconds=round(time.perf_counter() - started, 3))


def read_pinned(ctx: AppContext, cid: str, backend: str | None = None) -> bytes:
    """The bytes the storage backend holds under ``cid``."""
    from deepdiary.memory.unixfs import cid_bytes

    try:
        cid_bytes(cid)
    except (ValueError, KeyError):
        raise InvalidInput(f"{cid!r} is not a CID") from None
    store = storage_backend(ctx, backend)
    try:
        return store.read(cid)
    finally:
        store.close()


def _plaintext(ctx: AppContext, location: str) -> bytes:
    blobs = ctx.library.blobs
    return blobs.read(blobs.ref_at(location))


_LOCAL_ONLY = ("path", "paths", "original", "thumbnail", "stages")  # the user's own folders; bookkeeping


def facts_of(record: dict) -> dict:
    """What a photo's shared record says: its facts, without the user's local paths."""
    facts = {k: v for k, v in record.items() if k not in _LOCAL_ONLY}
    facts["people"] = sorted({f["person"] for f in record.get("faces", []) if f.get("person")})
    return facts


def export_car(ctx: AppContext, item_ids: list[int], out: Path) -> CarExport:
    """A CARv1 at ``out`` of the photos ``item_ids``: photo, thumbnail and facts.json each."""
    from deepdiary.memory.car import write_car
    from deepdiary.memory.unixfs import directory, file_dag

    if not item_ids:
        raise InvalidInput("name at least one photo id to export")
    out = Path(out).expanduser()
    if out.is_dir():
        raise InvalidInput(f"-o {out}: is a folder; give a file name such as photos.car")
    out.parent.mkdir(parents=True, exist_ok=True)
    records = _photos(ctx, list(dict.fromkeys(item_ids)))
    # Blocks stream to a body file as they are made; the header, which names the root, goes first at the end.
    fd, body_path = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    cids: set[bytes] = set()
    items, folders = [], {}
    try:
        with os.fdopen(fd, "wb") as body:
            def emit(block):
                if block.cid not in cids:  # a block two files share is written once
                    cids.add(block.cid)
                    write_car(body, [], [block], header=False)

            for record in records:
                photo = file_dag(_plaintext(ctx, record["original"]), emit)
                entries = {f"photo{record.get('ext') or Path(record['original']).suffix}": photo}
                has_thumbnail = _has(ctx, record.get("thumbnail"))
                thumbnail = file_dag(_plaintext(ctx, record["thumbnail"]), emit) if has_thumbnail else None
                if thumbnail:
                    entries["thumbnail.webp"] = thumbnail
                facts = facts_of(record)
                facts["image"] = f"ipfs://{photo.cid_text}"
                if thumbnail:
                    facts["thumbnail_image"] = f"ipfs://{thumbnail.cid_text}"
                facts_link = file_dag(json.dumps(facts, ensure_ascii=False, indent=2).encode("utf-8"), emit)
                entries["facts.json"] = facts_link
                folder = directory(entries, emit)
                folders[str(record["id"])] = folder
                items.append(CarItem(id=record["id"], folder=folder.cid_text, photo=photo.cid_text,
                                     thumbnail=thumbnail.cid_text if thumbnail else None, facts=facts_link.cid_text))
            root = directory(folders, emit)
        tmp = out.with_name(f".{out.name}.tmp")
        with open(tmp, "wb") as fh, open(body_path, "rb") as body:
            write_car(fh, [root.cid], [])
            while chunk := body.read(1 << 20):
                fh.write(chunk)
        os.replace(tmp, out)
    finally:
        Path(body_path).unlink(missing_ok=True)
    return CarExport(id=root.cid_text, path=str(out), root=root.cid_text, items=items,
                     blocks=len(cids), bytes=out.stat().st_size)


def _place_name(place: dict | None) -> str | None:
    if not place:
        return None
    parts = [place.get(k) for k in ("name", "admin1", "country") if place.get(k)]
    return ", ".join(dict.fromkeys(parts)) or None


def nft_metadata(ctx: AppContext, item_id: int) -> Record:
    """ERC-721 metadata for one photo: name, description, ``ipfs://`` image, attributes."""
    records = _photos(ctx, [item_id])
    record = records[0]
    if not record.get("cid"):
        raise NotFound(f"photo {item_id} has no content id")
    taken = record.get("taken_at")
    place = _place_name(record.get("place"))
    people = facts_of(record)["people"]
    attributes: list[dict] = []
    if taken:
        attributes.append({"trait_type": "Date", "value": taken[:10]})
        from datetime import datetime

        stamp = datetime.fromisoformat(taken)
        attributes.append({"trait_type": "Taken", "display_type": "date", "value": int(stamp.timestamp())})
    if place:
        attributes.append({"trait_type": "Place", "value": place})
    if record.get("lat") is not None and record.get("lon") is not None:
        attributes.append({"trait_type": "Coordinates", "value": f"{record['lat']:.5f},{record['lon']:.5f}"})
    attributes += [{"trait_type": "Person", "value": name} for name in people]
    attributes += [{"trait_type": "Tag", "value": t["name"]} for t in record.get("tags", [])[:10]]
    camera = " ".join(dict.fromkeys(v for v in (record.get("camera_make"), record.get("camera_model")) if v))
    if camera:
        attributes.append({"trait_type": "Camera", "value": camera})
    if record.get("lens"):
        attributes.append({"trait_type": "Lens", "value": record["lens"]})
    if record.get("category"):
        attributes.append({"trait_type": "Category", "value": record["category"]["name"]})
    if record.get("width") and record.get("height"):
        attributes.append({"trait_type": "Size", "value": f"{record['width']}x{record['height']}"})
    description = record.get("description") or " ".join(
        x for x in (record.get("title"), f"taken {taken[:10]}" if taken else None,
                    f"in {place}" if place else None, f"with {', '.join(people)}" if people else None) if x)
    metadata = {
        "id": record["id"],
        "name": record.get("title") or f"Photo {record['id']}",
        "description": description,
        "image": f"ipfs://{record['cid']}",
        "attributes": attributes,
    }
    if record.get("description_zh"):
        metadata["description_zh"] = record["description_zh"]
    return Record(metadata)
