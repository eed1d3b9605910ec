"""People found from faces, and people known from chats: list, name, merge, split, notes.

What follows a change lives here, once: photos whose people changed get their
descriptions rewritten, and the events (which name who was there) are refreshed.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from sqlmodel import Session, select

from deepdiary.core.errors import InvalidInput
from deepdiary.services.context import AppContext
from deepdiary.services.ingest import refresh_events
from deepdiary.services.schemas import FaceRow, MovedFace, NamedPerson, Note, PersonRef, PersonRow, ReclusterResult

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


def list_people(ctx: AppContext, include_hidden: bool = False, include_low_quality: bool = False) -> list[PersonRow]:
    """Everyone found in photos or added by hand, most photographed first; hidden people
    and people made only of low-quality faces only when asked for."""
    from deepdiary.memory.people import list_people as rows

    with ctx.read() as s:
        return [PersonRow(**r) for r in rows(s, include_low_quality=include_low_quality,
                                             include_hidden=include_hidden)]


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
