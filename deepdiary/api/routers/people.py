"""People: the face wall, naming, merging, moving one face, notes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.api.files import file_response
from deepdiary.core.errors import InvalidInput
from deepdiary.services import people as people_service
from deepdiary.services.schemas import (
    FaceRow, MergeSuggestion, MovedFace, NamedPerson, Note, PersonDetail, PersonRef, PersonRow,
)

router = APIRouter(tags=["people"])


@router.get("/people", response_model=list[PersonRow])
def list_people(ctx: Ctx, hidden: bool = False, low_quality: bool = False, unnamed: bool = False,
                sort: str = "name") -> list[PersonRow]:
    """The face wall: named people by name (Chinese by pinyin), then the unnamed, most faces first.
    `unnamed=true` is the naming queue; hidden people and ones made only of poor faces on request."""
    if sort not in ("name", "faces"):
        raise InvalidInput(f"sort: {sort!r} is not one of name, faces")
    return people_service.list_people(ctx, include_hidden=hidden, include_low_quality=low_quality,
                                      unnamed_only=unnamed, by_name=sort == "name")


@router.get("/people/suggestions", response_model=list[MergeSuggestion])
def merge_suggestions(ctx: Ctx, limit: int = 20) -> list[MergeSuggestion]:
    """Pairs of people whose faces are close, closest first: merge them if they are one person."""
    return people_service.merge_suggestions(ctx, limit)


@router.get("/people/{person}", response_model=PersonDetail)
def person(ctx: Ctx, person: str) -> PersonDetail:
    return people_service.person_detail(ctx, person)


class Hide(BaseModel):
    hidden: bool = True


@router.put("/people/{person}/hidden", response_model=PersonRef)
def hide(ctx: Ctx, person: str, body: Hide) -> PersonRef:
    return people_service.hide_person(ctx, person, body.hidden)


class NewPerson(BaseModel):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)


@router.post("/people", response_model=NamedPerson, status_code=201)
def add_person(ctx: Ctx, body: NewPerson) -> NamedPerson:
    return people_service.add_person(ctx, body.name, body.aliases)


class Naming(BaseModel):
    name: str = Field(min_length=1)
    aliases: list[str] | None = None


@router.put("/people/{person}/name", response_model=NamedPerson)
def name_person(ctx: Ctx, person: str, body: Naming) -> NamedPerson:
    return people_service.name_person(ctx, person, body.name, body.aliases)


class Merge(BaseModel):
    other: str


@router.post("/people/{person}/merge", response_model=PersonRef)
def merge(ctx: Ctx, person: str, body: Merge) -> PersonRef:
    return people_service.merge_people(ctx, person, body.other)


@router.get("/people/{person}/faces", response_model=list[FaceRow])
def faces(ctx: Ctx, person: str) -> list[FaceRow]:
    return people_service.person_faces(ctx, person)


class Split(BaseModel):
    face_ids: list[int] = Field(min_length=1)
    name: str | None = None


@router.post("/people/{person}/split", response_model=PersonRef, status_code=201)
def split(ctx: Ctx, person: str, body: Split) -> PersonRef:
    """These faces are someone else: a new person (named, if given) holds them."""
    return people_service.split_person(ctx, person, body.face_ids, body.name)


@router.post("/faces/{face_id}/unassign", response_model=MovedFace)
def unassign_face(ctx: Ctx, face_id: int) -> MovedFace:
    """The face stays, belonging to nobody; re-clustering leaves it there."""
    return people_service.unassign_face(ctx, face_id)


@router.get("/faces/{face_id}/crop", response_class=Response)
def face_crop(ctx: Ctx, face_id: int) -> Response:
    return Response(people_service.face_crop(ctx, face_id), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=300"})


class CollageOut(BaseModel):
    id: str
    url: str
    faces: int
    width: int
    height: int


@router.post("/people/{person}/collage", response_model=CollageOut, status_code=201)
def collage(ctx: Ctx, person: str, ratio: str = "16:9", width: int = 1600) -> CollageOut:
    """A collage of the person's faces, kept in the library's collages folder."""
    made = people_service.person_collage(ctx, person, ratio, width)
    name = Path(made.path).name
    return CollageOut(id=name, url=f"/api/collages/{name}", faces=made.faces, width=made.width, height=made.height)


@router.get("/collages/{name}", response_class=FileResponse)
def collage_file(ctx: Ctx, name: str) -> FileResponse:
    return file_response(people_service.collage_file(ctx, name), "image/jpeg")


class Move(BaseModel):
    to: str | None = Field(None, description="the person to move it to; none for a new person")


@router.post("/faces/{face_id}/move", response_model=MovedFace)
def move_face(ctx: Ctx, face_id: int, body: Move) -> MovedFace:
    return people_service.move_face(ctx, face_id, body.to)


class NoteIn(BaseModel):
    kind: str = Field(description="resource or demand")
    text: str = Field(min_length=1)


@router.post("/people/{person}/notes", response_model=Note, status_code=201)
def add_note(ctx: Ctx, person: str, body: NoteIn) -> Note:
    return people_service.add_note(ctx, person, body.kind, body.text)
