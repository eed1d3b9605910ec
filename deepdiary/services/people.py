"""People found from faces, and people known from chats: list, name, merge, split, notes.

What follows a change lives here, once: photos whose people changed get their
descriptions rewritten, and the events (which name who was there) are refreshed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, TypeVar

from sqlmodel import Session, select

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.services.context import AppContext
from deepdiary.services.ingest import refresh_events
from deepdiary.services.schemas import (
    CollageResult, FaceRow, MergeSuggestion, MovedFace, NamedPerson, Note, PersonDetail, PersonRef, PersonRow, ReclusterResult,
)

T = TypeVar("T")
NOTE_KINDS = ("resource", "demand")


def _aliases(person) -> list[str]:
    return [a for a in person.aliases.split(",") if a]


def _change_people(ctx: AppContext, change: Callable[[Session], T]) -> T:
    """Apply ``change``; then rewrite the descriptions of photos whose people changed, and the events."""
    from deepdiary.memory.people import person_faces
    from deepdiary.memory.tables import Face
    from deepdiary.pipeline.enrich import Enricher

    with ctx.write() as s:
        before = set(s.exec(select(Face.item_id, Face.person_id)).all())
        result = change(s)
        s.flush()
        touched = {i for i, _ in set(s.exec(select(Face.item_id, Face.person_id)).all()) ^ before}
        if getattr(result, "id", None) is not None:
            touched |= {f["item_id"] for f in person_faces(s, result.id)}
    Enricher(ctx.library).redescribe(sorted(touched))
    refresh_events(ctx)
    return result


def list_people(ctx: AppContext, include_hidden: bool = False, include_low_quality: bool = False,
                unnamed_only: bool = False, by_name: bool = False) -> list[PersonRow]:
    """Everyone found in photos or added by hand, most photographed first (or by name, Chinese
    by pinyin); hidden people and people made only of low-quality faces only when asked for.
    ``unnamed_only`` is the naming queue: unnamed people, most faces first."""
    from deepdiary.memory.people import list_people as rows

    with ctx.read() as s:
        return [PersonRow(**r) for r in rows(s, include_low_quality=include_low_quality, include_hidden=include_hidden,
                                             min_quality=ctx.settings.face_min_quality, unnamed_only=unnamed_only,
                                             by_name=by_name)]


def person_detail(ctx: AppContext, person: str) -> PersonDetail:
    """One person: counts, cover face, notes and the facts their chats taught."""
    from deepdiary.memory.people import list_people as rows
    from deepdiary.memory.people import person_or_fail
    from deepdiary.memory.tables import PersonNote
    from deepdiary.services.facts import person_facts

    with ctx.read() as s:
        p = person_or_fail(s, person)
        row = rows(s, include_low_quality=True, include_hidden=True, person_id=p.id)[0]
        notes = s.exec(select(PersonNote).where(PersonNote.person_id == p.id).order_by(PersonNote.id)).all()
    return PersonDetail(**row, notes=[Note(id=n.id, person_id=n.person_id, kind=n.kind, text=n.text) for n in notes],
                        facts=person_facts(ctx, p.id))


def merge_suggestions(ctx: AppContext, limit: int = 20) -> list[MergeSuggestion]:
    """Pairs of people whose faces are close, closest first: likely one person found twice."""
    from deepdiary.memory.people import list_people as rows
    from deepdiary.memory.people import merge_suggestions as pairs

    if not 1 <= limit <= 500:
        raise InvalidInput(f"limit: {limit} is out of range (1 to 500)")
    with ctx.read() as s:
        found = pairs(s, limit, min_quality=ctx.settings.face_min_quality)
        people = {r["id"]: PersonRow(**r) for r in rows(s, include_low_quality=True)}
    return [MergeSuggestion(a=people[a], b=people[b], distance=d) for a, b, d in found if a in people and b in people]


def split_person(ctx: AppContext, person: str, face_ids: list[int], name: str | None = None) -> PersonRef:
    """Some of a person's faces are someone else: they become a new person (named, if given)."""
    from deepdiary.memory.people import split_faces

    p = _change_people(ctx, lambda s: split_faces(s, person, face_ids, name))
    return PersonRef(id=p.id, name=p.name)


def unassign_face(ctx: AppContext, face_id: int) -> MovedFace:
    """A face that belongs to nobody (a stranger, a poster): kept and shown, never re-grouped."""
    from deepdiary.memory.people import unassign_face as unassign

    _change_people(ctx, lambda s: unassign(s, face_id))
    return MovedFace(id=None, name=None, face_id=face_id)


def person_collage(ctx: AppContext, person: str, ratio: str = "16:9", width: int = 1600) -> CollageResult:
    """A collage of one person's faces, kept in the library's collages folder as ``person-ID.jpg``."""
    from deepdiary.memory.people import person_or_fail
    from deepdiary.services.photos import collage

    with ctx.read() as s:
        person_id = person_or_fail(s, person).id
    return collage(ctx, ctx.settings.home / "collages" / f"person-{person_id}.jpg", person=str(person_id),
                   ratio=ratio, width=width)


def collage_path(ctx: AppContext, name: str) -> Path:
    """A collage made earlier, by its file name (nothing outside the collages folder)."""
    path = ctx.settings.home / "collages" / name
    if not re.fullmatch(r"[\w.-]+\.jpg", name) or not path.is_file():
        raise NotFound(f"no collage {name}")
    return path


def collage_file(ctx: AppContext, name: str):
    """The collage ``collage_path`` names, as a ``StoredFile``."""
    from deepdiary.services.photos import stored_file

    return stored_file(ctx, collage_path(ctx, name))


def face_crop(ctx: AppContext, face_id: int, size: int = 192) -> bytes:
    """A JPEG of one face with some hair and jaw around it, for face walls."""
    import io

    from deepdiary.memory.tables import Face, Item
    from deepdiary.pipeline.enrich import load_upright
    from deepdiary.pipeline.face_crops import crop_face

    with ctx.read() as s:
        face = s.get(Face, face_id)
        item = s.get(Item, face.item_id) if face else None
        if face is None or item is None:
            raise NotFound(f"no face {face_id}")
        ref = ctx.library.blobs.original(item.sha256, item.ext)
    crop = crop_face(load_upright(ctx.library.blobs.image_source(ref)), face).convert("RGB")
    crop.thumbnail((size, size))
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=85)
    return out.getvalue()


def hide_person(ctx: AppContext, person: str, hidden: bool = True) -> PersonRef:
    """Keep a person (a stranger in the background) out of the people list, or bring them back."""
    from deepdiary.memory.people import person_or_fail

    with ctx.write() as s:
        p = person_or_fail(s, person)
        p.hidden = hidden
        s.add(p)
        return PersonRef(id=p.id, name=p.name)


def add_person(ctx: AppContext, name: str, aliases: list[str] | None = None) -> NamedPerson:
    """A named person with no faces yet (known from chats); their chat messages are linked."""
    from deepdiary.memory.people import add_person as add

    with ctx.write() as s:
        p = add(s, name, aliases)
        return NamedPerson(id=p.id, name=p.name, aliases=_aliases(p))


def name_person(ctx: AppContext, person: str, name: str, aliases: list[str] | None = None) -> NamedPerson:
    """Name a person (by id or current name); the name survives re-clustering."""
    from deepdiary.memory.people import name_person as rename

    if not name.strip():
        raise InvalidInput("a person needs a name")
    p = _change_people(ctx, lambda s: rename(s, person, name, aliases))
    return NamedPerson(id=p.id, name=p.name, aliases=_aliases(p))


def merge_people(ctx: AppContext, keep: str, other: str) -> PersonRef:
    """Move every face of ``other`` into ``keep``: they are the same person."""
    from deepdiary.memory.people import merge_people as merge

    p = _change_people(ctx, lambda s: merge(s, keep, other))
    return PersonRef(id=p.id, name=p.name)


def move_face(ctx: AppContext, face_id: int, to: str | None = None) -> MovedFace:
    """Take one face out of its person, into a new person or into ``to``; never moved back automatically."""
    from deepdiary.memory.people import split_face

    p = _change_people(ctx, lambda s: split_face(s, face_id, to))
    return MovedFace(id=p.id, name=p.name, face_id=face_id)


def person_faces(ctx: AppContext, person: str) -> list[FaceRow]:
    """The faces of one person, with the photo each is in."""
    from deepdiary.memory.people import person_faces as faces

    with ctx.read() as s:
        return [FaceRow(**f) for f in faces(s, person)]


def recluster(ctx: AppContext) -> ReclusterResult:
    """Regroup all faces; names and the user's own moves are kept."""
    from deepdiary.memory.people import FaceClusterer

    with ctx.write() as s:
        st = ctx.settings
        result = FaceClusterer(s, st.face_match_threshold, st.face_min_quality, st.face_weak_match_threshold).recluster()
    refresh_events(ctx)
    return ReclusterResult(**result)


def add_note(ctx: AppContext, person: str, kind: str, text: str) -> Note:
    """What someone can offer (a resource, "can fix cars") or needs (a demand)."""
    from deepdiary.memory.people import person_or_fail
    from deepdiary.memory.tables import PersonNote

    if kind not in NOTE_KINDS:
        raise InvalidInput("kind is resource or demand")
    if not text.strip():
        raise InvalidInput("a note needs some text")
    with ctx.write() as s:
        note = PersonNote(person_id=person_or_fail(s, person).id, kind=kind, text=text)
        s.add(note)
        s.flush()
        return Note(id=note.id, person_id=note.person_id, kind=note.kind, text=note.text)
