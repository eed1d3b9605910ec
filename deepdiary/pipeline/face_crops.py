"""Face crops for collages: a person's faces, or every face in one photo."""

from __future__ import annotations

from deepdiary.core.errors import InvalidInput, NotFound

from PIL import Image
from sqlmodel import Session, select

from deepdiary.memory.people import person_or_fail
from deepdiary.memory.tables import Face, Item
from deepdiary.pipeline.collage import make_collage
from deepdiary.pipeline.enrich import load_upright

# A face box is tight around brows and chin; the margin brings in hair and jaw.
MARGIN = 0.35


def crop_face(image: Image.Image, face: Face) -> Image.Image:
    mx, my = face.width * MARGIN, face.height * MARGIN
    box = (max(0, round(face.x - mx)), max(0, round(face.y - my * 1.3)),
           min(image.width, round(face.x + face.width + mx)), min(image.height, round(face.y + face.height + my)))
    return image.crop(box)


def collage_for(s: Session, library, person: str | None = None, photo: int | None = None,
                ratio: float = 16 / 9, width: int = 1920) -> tuple[Image.Image, int]:
    if photo is not None:
        faces = s.exec(select(Face).where(Face.item_id == photo).order_by(Face.y, Face.x)).all()
        if s.get(Item, photo) is None:
            raise NotFound(f"no photo with id {photo}")
    else:
        who = person_or_fail(s, person)
        faces = s.exec(select(Face).where(Face.person_id == who.id).order_by(Face.item_id, Face.id)).all()
    if not faces:
        raise InvalidInput("no faces to put in a collage")
    crops, opened = [], {}
    for face in faces:
        if face.item_id not in opened:
            item = s.get(Item, face.item_id)
            opened[face.item_id] = load_upright(library.blobs.image_source(
                library.blobs.original(item.sha256, item.ext)))
        crops.append(crop_face(opened[face.item_id], face))
    return make_collage(crops, width=width, ratio=ratio), len(crops)
