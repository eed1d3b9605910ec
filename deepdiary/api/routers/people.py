"""People: the face wall, naming, merging, moving one face, notes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from deepdiary.api.deps import Ctx
from deepdiary.services import people as people_service
from deepdiary.services.schemas import FaceRow, MovedFace, NamedPerson, Note, PersonRef, PersonRow

router = APIRouter(tags=["people"])


@router.get("/people", response_model=list[PersonRow])
def list_people(ctx: Ctx, hidden: bool = False, low_quality: bool = False) -> list[PersonRow]:
    """People with face and photo counts; hidden ones and ones made only of poor faces on request."""
    return people_service.list_people(ctx, include_hidden=hidden, include_low_quality=low_quality)


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
