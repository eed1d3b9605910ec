"""One photo (or any item): its details, rating, near-duplicates and face collages."""

from __future__ import annotations

from pathlib import Path

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.ratio import parse_ratio
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import CollageResult, DuplicateGroup, Rating, Record, StoredFile


def show_item(ctx: AppContext, item_id: int) -> Record:
    """Everything the library knows about one item."""
    from deepdiary.memory.items import item_details

    with ctx.read() as s:
        return Record(item_details(s, item_id, ctx.library.blobs))


def stored_file(ctx: AppContext, path: Path) -> StoredFile:
    """A file the library wrote, opened when the library is encrypted."""
    blobs = ctx.library.blobs
    return StoredFile(path, blobs.read(path) if blobs.sealed else None)


def photo_file(ctx: AppContext, item_id: int, which: str = "thumbnail") -> StoredFile:
    """A photo's ``thumbnail`` or ``original`` file, from whichever blob store holds it: a file to
    stream, or its bytes (opened when sealed, downloaded from S3)."""
    location = show_item(ctx, item_id).root.get(which)
    blobs = ctx.library.blobs
    ref = blobs.ref_at(location) if location else None
    if ref is None or not blobs.exists(ref):
        raise NotFound(f"photo {item_id} has no {which} file")
    try:
        found = blobs.open(ref)
    except FileNotFoundError:  # removed since
        raise NotFound(f"photo {item_id} has no {which} file") from None
    return StoredFile(found.path or Path(found.name), found.data)


def rate_item(ctx: AppContext, item_id: int, stars: int) -> Rating:
    """Give an item 0 to 5 stars."""
    from deepdiary.memory.items import set_rating

    if not 0 <= stars <= 5:
        raise InvalidInput(f"stars: {stars} is out of range (0 to 5)")
    with ctx.write() as s:
        set_rating(s, item_id, stars)
    return Rating(id=item_id, rating=stars)


def duplicates(ctx: AppContext) -> list[DuplicateGroup]:
    """Groups of near-duplicate photos (re-saved, resized or lightly edited)."""
    from deepdiary.memory.duplicates import duplicate_groups

    with ctx.read() as s:
        groups = duplicate_groups(s, ctx.library.vectors, ctx.settings.duplicate_hash_distance,
                                  ctx.settings.duplicate_feature_similarity)
    return [DuplicateGroup(**g) for g in groups]


def collage(ctx: AppContext, output: Path, person: str | None = None, photo: int | None = None,
            ratio: str = "16:9", width: int = 1920) -> CollageResult:
    """Tile a person's faces (or every face in one photo) into a picture of the given shape, saved to ``output``."""
    from deepdiary.pipeline.face_crops import collage_for

    if (person is None) == (photo is None):
        raise InvalidInput("name a PERSON or give --photo ID")
    if not 16 <= width <= 20_000:
        raise InvalidInput(f"--width: {width} is out of range (16 to 20000 px)")
    shape = parse_ratio(ratio)
    with ctx.read() as s:
        image, faces = collage_for(s, ctx.library, person=person, photo=photo, ratio=shape, width=width)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if ctx.library.encrypted and output.resolve().is_relative_to(ctx.settings.library_dir):
        import io

        data = io.BytesIO()  # a collage kept in an encrypted library is sealed like its photos
        image.save(data, format="JPEG", quality=92)
        ctx.library.blobs.put_bytes(output, data.getvalue())
    else:
        image.save(output, quality=92)
    return CollageResult(id=str(output), path=str(output.resolve()), faces=faces, width=image.width,
                         height=image.height)
