"""People from faces: incremental assignment, periodic re-clustering, and the user's edits.

A new face joins the nearest person whose centroid is within ``match_threshold``
(dlib embeddings: same person ≤ ~0.45 apart, different people ≥ ~0.6), otherwise it
starts a new person. ``recluster`` rebuilds the grouping with DBSCAN but never undoes
the user: faces the user placed (``assigned_by == "user"``) stay where they are, and a
cluster holding a named person's faces keeps that person, and so the name.

Low-quality faces (small, blurry or turned away: ``Face.quality`` below ``min_quality``)
are stored and shown, but they never start a person and never move a person's centre:
one joins a person only when it is within ``weak_threshold`` of that person's good
faces, and otherwise belongs to nobody. So a blurry 20 px face in the back of a crowd
does not become a junk person. Faces stored before quality existed count as good.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, select

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.settings import Settings
from deepdiary.memory.tables import Face, ItemPath, Person, PhotoMeta

DEFAULT_MIN_QUALITY: float = Settings.model_fields["face_min_quality"].default
DEFAULT_WEAK_THRESHOLD: float = Settings.model_fields["face_weak_match_threshold"].default


def embedding_of(face: Face) -> np.ndarray:
    return np.frombuffer(face.embedding, dtype=np.float32)


class PersonNotFound(NotFound):
    pass


def is_low_quality(face: Face, min_quality: float | None = DEFAULT_MIN_QUALITY) -> bool:
    """A face too small, blurry or turned away to start a person (the user's placements never are)."""
    return (min_quality is not None and face.quality is not None and face.quality < min_quality
            and face.assigned_by != "user")


class FaceClusterer:
    def __init__(self, session: Session, match_threshold: float = 0.5,
                 min_quality: float | None = DEFAULT_MIN_QUALITY, weak_threshold: float | None = DEFAULT_WEAK_THRESHOLD):
        self.session = session
        self.threshold = match_threshold
        self.min_quality = min_quality
        self.weak_threshold = match_threshold if weak_threshold is None else min(weak_threshold, match_threshold)
        self._ids: list[int] = []
        self._sums: list[np.ndarray] = []
        self._counts: list[int] = []
        self._loaded = False

    def _weak(self, face: Face) -> bool:
        return is_low_quality(face, self.min_quality)

    def _load(self) -> None:
        if self._loaded:
            return
        sums: dict[int, np.ndarray] = {}
        counts: Counter = Counter()
        for face in self.session.exec(select(Face).where(Face.person_id.is_not(None))):
            if self._weak(face):
                continue  # a person's centre is where their good faces are
            e = embedding_of(face)
            sums[face.person_id] = sums.get(face.person_id, 0) + e
            counts[face.person_id] += 1
        self._ids = list(sums)
        self._sums = [sums[i] for i in self._ids]
        self._counts = [counts[i] for i in self._ids]
        self._loaded = True

    def assign(self, face: Face) -> int | None:
        """Give ``face`` a person (existing or new) and return the person id; a low-quality
        face far from everyone gets none (None)."""
        self._load()
        e = embedding_of(face)
        best, best_d = None, None
        if self._ids:
            centroids = np.stack(self._sums) / np.asarray(self._counts, dtype=np.float32)[:, None]
            d = np.linalg.norm(centroids - e, axis=1)
            j = int(d.argmin())
            best, best_d = j, float(d[j])
        if self._weak(face):
            face.person_id = self._ids[best] if best is not None and best_d <= self.weak_threshold else None
            self.session.add(face)
            return face.person_id
        if best is not None and best_d <= self.threshold:
            person_id = self._ids[best]
            self._sums[best] = self._sums[best] + e
            self._counts[best] += 1
        else:
            person = Person()
            self.session.add(person)
            self.session.flush()
            person_id = person.id
            self._ids.append(person_id)
            self._sums.append(e.copy())
            self._counts.append(1)
        face.person_id = person_id
        self.session.add(face)
        return person_id

    def recluster(self, eps: float | None = None) -> dict:
        """Regroup every face with DBSCAN, keeping names and the user's placements.

        Only good faces form the groups; each low-quality face then joins the nearest
        group within ``weak_threshold``, or nobody."""
        from sklearn.cluster import DBSCAN

        every = list(self.session.exec(select(Face).order_by(Face.id)))
        if not every:
            return {"faces": 0, "people": 0, "moved": 0}
        faces = [f for f in every if not self._weak(f)]
        weak = [f for f in every if self._weak(f)]
        people = {p.id: p for p in self.session.exec(select(Person))}
        moved = 0
        x = np.stack([embedding_of(f) for f in faces]) if faces else np.zeros((0, 128), dtype=np.float32)
        labels = DBSCAN(eps=eps or self.threshold, min_samples=1).fit(x).labels_ if faces else []
        clusters: dict[int, list[int]] = defaultdict(list)
        for i, label in enumerate(labels):
            clusters[int(label)].append(i)

        pinned_centroids = {f.person_id for f in faces if f.assigned_by == "user" and f.person_id is not None}

        taken: set[int] = set()
        # Larger clusters choose their person first, so a big group keeps its identity.
        for label, members in sorted(clusters.items(), key=lambda kv: -len(kv[1])):
            # A face the user unassigned (person None) is pinned to nobody; it vouches for no one.
            pinned_here = Counter(faces[i].person_id for i in members
                                  if faces[i].assigned_by == "user" and faces[i].person_id is not None)
            named_here = Counter(
                faces[i].person_id for i in members
                if faces[i].person_id in people and people[faces[i].person_id].name
            )
            previous = Counter(faces[i].person_id for i in members if faces[i].person_id is not None)
            # People the user has vouched for in this cluster: by moving faces, or by naming.
            candidates = list(dict.fromkeys([*pinned_here, *named_here]))
            if not candidates:
                free = [pid for pid, _ in previous.most_common() if pid not in taken and pid in people
                        and not people[pid].name and pid not in pinned_centroids]
                candidates = free[:1]
            if not candidates:
                person = Person()
                self.session.add(person)
                self.session.flush()
                people[person.id] = person
                candidates = [person.id]
            taken.update(candidates)
            centroids = {pid: x[[i for i in members if faces[i].person_id == pid]].mean(0)
                         for pid in candidates if any(faces[i].person_id == pid for i in members)}
            for i in members:
                face = faces[i]
                if face.assigned_by == "user" or face.person_id in candidates:
                    continue  # the user's placement, or already with a vouched-for person
                if len(candidates) == 1 or not centroids:
                    target = candidates[0]
                else:
                    target = min(centroids, key=lambda pid: float(np.linalg.norm(centroids[pid] - x[i])))
                if face.person_id != target:
                    face.person_id = target
                    self.session.add(face)
                    moved += 1
        # Low-quality faces follow the good ones: the nearest person, if clearly close.
        if weak:
            by_person: dict[int, list[int]] = defaultdict(list)
            for i, f in enumerate(faces):
                if f.person_id is not None:
                    by_person[f.person_id].append(i)
            ids = list(by_person)
            centres = np.stack([x[by_person[p]].mean(0) for p in ids]) if ids else None
            for face in weak:
                target = None
                if centres is not None:
                    d = np.linalg.norm(centres - embedding_of(face), axis=1)
                    j = int(d.argmin())
                    target = ids[j] if d[j] <= self.weak_threshold else None
                if face.person_id != target:
                    face.person_id = target
                    self.session.add(face)
                    moved += 1
        self.session.flush()
        used = set(self.session.exec(select(Face.person_id).distinct()))
        for pid, person in people.items():
            if pid not in used and not person.name:
                self.session.delete(person)
        self._loaded = False
        return {"faces": len(every), "people": len(used - {None}), "moved": moved}


def refresh_people_counts(session: Session, item_ids: list[int]) -> None:
    for item_id in item_ids:
        meta = session.get(PhotoMeta, item_id)
        if meta is not None:
            meta.people_count = session.exec(select(func.count()).select_from(Face).where(Face.item_id == item_id)).one()
            session.add(meta)


def find_people(session: Session, name: str) -> list[Person]:
    """People whose name or an alias matches ``name`` (case-insensitive, exact)."""
    text = name.strip().lower()
    found = []
    for person in session.exec(select(Person).where(Person.name.is_not(None))):
        names = [person.name] + [a for a in person.aliases.split(",") if a.strip()]
        if any(n.strip().lower() == text for n in names):
            found.append(person)
    if not found and text.isdigit():
        person = session.get(Person, int(text))
        if person:
            found.append(person)
    return found


def person_or_fail(session: Session, ref: str | int) -> Person:
    if isinstance(ref, int) or str(ref).isdigit():
        person = session.get(Person, int(ref))
    else:
        matches = find_people(session, str(ref))
        person = matches[0] if len(matches) == 1 else None
        if len(matches) > 1:
            raise PersonNotFound(f"{ref!r} names {len(matches)} people; use an id")
    if person is None:
        raise PersonNotFound(f"no person {ref!r}")
    return person


def list_people(session: Session, include_low_quality: bool = False,
                min_quality: float | None = DEFAULT_MIN_QUALITY, include_hidden: bool = False,
                unnamed_only: bool = False, by_name: bool = False, person_id: int | None = None) -> list[dict]:
    """Everyone, most faces first (or named people by name, Chinese by pinyin, then the
    unnamed by faces). An unnamed person whose faces are all low-quality (only the user
    can make one, or a library clustered before quality existed) is left out unless
    ``include_low_quality``. Each row names a cover face: the person's best face."""
    from deepdiary.core.text import name_sort_key

    people = select(Person, func.count(Face.id), func.count(func.distinct(Face.item_id))).join(
        Face, Face.person_id == Person.id, isouter=True)
    faces = select(Face.id, Face.person_id, Face.quality, Face.score, Face.assigned_by).where(
        Face.person_id.is_not(None))
    if person_id is not None:  # one person's row: read only their faces
        people, faces = people.where(Person.id == person_id), faces.where(Face.person_id == person_id)
    rows = session.exec(people.group_by(Person.id).order_by(func.count(Face.id).desc(), Person.id)).all()
    hidden: set[int] = set()
    good = Counter()
    cover: dict[int, tuple[float, int]] = {}
    for fid, pid, quality, score, by in session.exec(faces):
        good[pid] += int(min_quality is None or quality is None or quality >= min_quality or by == "user")
        rank = (quality if quality is not None else score, -fid)
        if pid not in cover or rank > cover[pid][0]:
            cover[pid] = (rank, fid)
    if not include_low_quality and min_quality is not None:
        hidden = {p.id for p, n, _ in rows if n and not p.name and not good[p.id]}
    out = [{"id": p.id, "name": p.name, "aliases": [a for a in p.aliases.split(",") if a], "faces": n,
            "photos": photos, "hidden": p.hidden, "cover_face_id": cover[p.id][1] if p.id in cover else None}
           for p, n, photos in rows
           if p.id not in hidden and (include_hidden or not p.hidden) and not (unnamed_only and p.name)]
    if by_name:
        named = sorted((r for r in out if r["name"]), key=lambda r: name_sort_key(r["name"]))
        out = named + [r for r in out if not r["name"]]
    return out


def merge_suggestions(session: Session, limit: int = 20, max_distance: float = 0.62,
                      min_quality: float | None = DEFAULT_MIN_QUALITY) -> list[tuple[int, int, float]]:
    """Pairs of visible people whose face centres are close: (a, b, distance), closest first.

    Faces of one person lie within ~0.45 of each other and different people ~0.6 or more
    apart, so pairs up to ``max_distance`` are worth a look; the clusterer's own threshold
    (0.5) already joined most closer ones, except where the user kept them apart."""
    sums: dict[int, np.ndarray] = {}
    counts: Counter = Counter()
    visible = {p.id for p in session.exec(select(Person).where(Person.hidden.is_(False)))}
    for face in session.exec(select(Face).where(Face.person_id.is_not(None))):
        if face.person_id not in visible or is_low_quality(face, min_quality):
            continue
        sums[face.person_id] = sums.get(face.person_id, 0) + embedding_of(face)
        counts[face.person_id] += 1
    ids = list(sums)
    if len(ids) < 2:
        return []
    centres = np.stack([sums[i] / counts[i] for i in ids])
    d = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)
    a_idx, b_idx = np.triu_indices(len(ids), k=1)
    close = d[a_idx, b_idx] <= max_distance
    pairs = sorted(zip(d[a_idx, b_idx][close], a_idx[close], b_idx[close]))
    return [(ids[a], ids[b], round(float(dist), 4)) for dist, a, b in pairs[:limit]]


def name_person(session: Session, ref: str | int, name: str, aliases: list[str] | None = None) -> Person:
    person = person_or_fail(session, ref)
    person.name = name.strip()
    if aliases is not None:
        person.aliases = ",".join(a.strip() for a in aliases if a.strip())
    session.add(person)
    link_chat_senders(session, person)
    return person


def link_chat_senders(session: Session, person: Person) -> None:
    """Chat partners who go by this person's name or an alias become this person."""
    from sqlalchemy import update

    from deepdiary.memory.tables import ChatMeta, Conversation

    names = [n.strip().lower() for n in [person.name or "", *person.aliases.split(",")] if n.strip()]
    if not names:
        return
    session.exec(update(ChatMeta).where(func.lower(ChatMeta.sender).in_(names), ChatMeta.is_me.is_(False))
                 .values(sender_person_id=person.id))
    session.exec(update(Conversation).where(func.lower(Conversation.name).in_(names)).values(person_id=person.id))


def merge_people(session: Session, keep_ref: str | int, other_ref: str | int) -> Person:
    """Move every face of ``other`` into ``keep``; the merged faces count as user-placed."""
    keep, other = person_or_fail(session, keep_ref), person_or_fail(session, other_ref)
    if keep.id == other.id:
        return keep
    for face in session.exec(select(Face).where(Face.person_id == other.id)):
        face.person_id, face.assigned_by = keep.id, "user"
        session.add(face)
    if not keep.name and other.name:
        keep.name = other.name
    keep.aliases = ",".join(dict.fromkeys(a for a in (keep.aliases + "," + other.aliases).split(",") if a))
    session.add(keep)
    session.flush()
    session.delete(other)
    return keep


def split_face(session: Session, face_id: int, to_ref: str | int | None = None) -> Person:
    """Move one face to another person (or a new one); it will stay there."""
    face = _face_or_fail(session, face_id)
    if to_ref is None:
        target = Person()
        session.add(target)
        session.flush()
    else:
        target = person_or_fail(session, to_ref)
    _place_face(session, face, target.id)
    return target


def split_faces(session: Session, ref: str | int, face_ids: list[int], name: str | None = None) -> Person:
    """Several faces of one person become a new person (named, if given): one person was two."""
    person = person_or_fail(session, ref)
    faces = [_face_or_fail(session, fid) for fid in dict.fromkeys(face_ids)]
    if not faces:
        raise InvalidInput("face_ids: pick at least one face to split off")
    strangers = [f.id for f in faces if f.person_id != person.id]
    if strangers:
        raise InvalidInput(f"face_ids: {', '.join(map(str, strangers))} not faces of person {person.id}")
    name = name.strip() if name and name.strip() else None
    same = find_people(session, name) if name else []
    target = same[0] if same and same[0].id != person.id else Person(name=name)
    session.add(target)
    session.flush()
    for face in faces:
        _place_face(session, face, target.id)
    return target


def unassign_face(session: Session, face_id: int) -> int | None:
    """The face belongs to nobody (a stranger, a poster): it stays stored and shown, and
    re-clustering leaves it alone. Returns the person it left."""
    face = _face_or_fail(session, face_id)
    old = face.person_id
    _place_face(session, face, None)
    return old


def _face_or_fail(session: Session, face_id: int) -> Face:
    face = session.get(Face, face_id)
    if face is None:
        raise PersonNotFound(f"no face {face_id}")
    return face


def _place_face(session: Session, face: Face, person_id: int | None) -> None:
    """The user put ``face`` with ``person_id`` (or nobody); an unnamed person left empty goes."""
    old = face.person_id
    face.person_id, face.assigned_by = person_id, "user"
    session.add(face)
    session.flush()
    if old is not None and old != person_id and session.exec(
            select(func.count()).select_from(Face).where(Face.person_id == old)).one() == 0:
        person = session.get(Person, old)
        if person is not None and not person.name:
            session.delete(person)


def person_faces(session: Session, ref: str | int) -> list[dict]:
    person = person_or_fail(session, ref)
    rows = session.exec(select(Face).where(Face.person_id == person.id).order_by(Face.item_id, Face.id)).all()
    paths = {}
    for item_id, path in session.exec(select(ItemPath.item_id, ItemPath.path).where(
            ItemPath.item_id.in_([f.item_id for f in rows])).order_by(ItemPath.id)):
        paths.setdefault(item_id, path)
    return [{"id": f.id, "item_id": f.item_id, "path": paths.get(f.item_id), "box": [f.x, f.y, f.width, f.height],
             "score": f.score, "assigned_by": f.assigned_by, "landmarks": json.loads(f.landmarks)} for f in rows]


def add_person(session: Session, name: str, aliases: list[str] | None = None) -> Person:
    """A named person without faces yet (say, known only from chats); the existing one if the name is taken."""
    name = name.strip()
    if not name:
        raise InvalidInput("a person needs a name")
    person = next((p for p in find_people(session, name) if (p.name or "").lower() == name.lower()), None)
    new = [a.strip() for a in aliases or [] if a.strip()]
    if person is None:
        person = Person(name=name, aliases=",".join(dict.fromkeys(new)))
    elif new:
        person.aliases = ",".join(dict.fromkeys(a for a in [*person.aliases.split(","), *new] if a))
    session.add(person)
    session.flush()
    link_chat_senders(session, person)
    return person


def _aliases(p: Person) -> list[str]:
    return [a for a in p.aliases.split(",") if a]


def search_people(session: Session, name: str | None = None) -> list[Person]:
    """Named people: all of them, or those a name or alias matches (exactly, else as a part)."""
    if name and name.strip():
        exact = find_people(session, name)
        if exact:
            return exact
    text = (name or "").strip().lower()
    named = session.exec(select(Person).where(Person.name.is_not(None)).order_by(Person.id)).all()
    return [p for p in named if any(text in n.lower() for n in [p.name, *_aliases(p)])]


def people_summary(session: Session, people: list[Person]) -> list[dict]:
    """Each person's names with how many photos show them and how many messages they sent."""
    from deepdiary.memory.tables import ChatMeta

    ids = [p.id for p in people]
    photos = dict(session.exec(select(Face.person_id, func.count(func.distinct(Face.item_id)))
                               .where(Face.person_id.in_(ids)).group_by(Face.person_id)).all())
    messages = dict(session.exec(select(ChatMeta.sender_person_id, func.count())
                                 .where(ChatMeta.sender_person_id.in_(ids)).group_by(ChatMeta.sender_person_id)).all())
    return [{"id": p.id, "name": p.name, "aliases": _aliases(p), "photos": photos.get(p.id, 0),
             "messages": messages.get(p.id, 0)} for p in people]


def named_people_in(session: Session, item_ids: list[int]) -> dict[int, list[str]]:
    """The names of the named people whose faces are in each photo."""
    out: dict[int, list[str]] = {}
    for item_id, name in session.exec(select(Face.item_id, Person.name).join(Person, Person.id == Face.person_id)
                                      .where(Face.item_id.in_(item_ids), Person.name.is_not(None))
                                      .order_by(Face.item_id, Face.x)):
        if name not in out.setdefault(item_id, []):
            out[item_id].append(name)
    return out


def person_profile(session: Session, person: Person, companions: int = 5) -> dict:
    """What the library knows of one person: when first and last seen (in a photo or writing),
    how often, with whom they appear, their notes (resources and demands) and the facts
    their chats taught (current ones only)."""
    from deepdiary.memory.facts import person_facts
    from deepdiary.memory.tables import ChatMeta, Item, PersonNote

    seen = [(t, "photo", i) for i, t in session.exec(
        select(Item.id, Item.taken_at).join(Face, Face.item_id == Item.id)
        .where(Face.person_id == person.id, Item.taken_at.is_not(None)).distinct())]
    seen += [(t, "message", i) for i, t in session.exec(
        select(Item.id, Item.taken_at).join(ChatMeta, ChatMeta.item_id == Item.id)
        .where(ChatMeta.sender_person_id == person.id, Item.taken_at.is_not(None)))]
    seen.sort()
    photo_ids = select(Face.item_id).where(Face.person_id == person.id)
    together = session.exec(
        select(Face.person_id, func.count(func.distinct(Face.item_id))).where(
            Face.item_id.in_(photo_ids), Face.person_id.is_not(None), Face.person_id != person.id)
        .group_by(Face.person_id).order_by(func.count(func.distinct(Face.item_id)).desc(), Face.person_id)
        .limit(companions)).all()
    names = {p.id: p.name for p in session.exec(select(Person).where(Person.id.in_([pid for pid, _ in together])))}
    notes = session.exec(select(PersonNote).where(PersonNote.person_id == person.id).order_by(PersonNote.id)).all()
    summary = people_summary(session, [person])[0]
    return {
        **summary,
        "first_seen": {"time": seen[0][0], "kind": seen[0][1], "item_id": seen[0][2]} if seen else None,
        "last_seen": {"time": seen[-1][0], "kind": seen[-1][1], "item_id": seen[-1][2]} if seen else None,
        "companions": [{"id": pid, "name": names.get(pid) or f"person {pid}", "photos": n} for pid, n in together],
        "notes": [{"id": n.id, "kind": n.kind, "text": n.text} for n in notes],
        "facts": person_facts(session, person),
    }
