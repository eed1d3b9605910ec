"""The event diary: a short entry per event, written by the local LLM from the event's items.

The model sees the event's place, its people and its items, numbered: photos (what the
describer saw, the tags, who is in them), messages, diary notes and stays. It answers one
JSON object under a schema: the entry and the numbers of the items it used, which can only
be the event's own. The entry is stored with a fingerprint of what it was written from,
so an event that gained or lost items, people or a place reads as stale and is written
again; an entry the user wrote (``source`` user) is never rewritten.

The language is the user's: ``diary_language`` en or zh, or with auto the language the
user writes their own messages and diary notes in (English when the event has none).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import Session, select

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.progress import ProgressFn
from deepdiary.core.text import content_words, has_cjk
from deepdiary.memory.library import Library
from deepdiary.memory.tables import (
    ChatMeta, DiaryMeta, Event, EventEntry, EventItem, Face, Item, ItemTag, Person, PhotoMeta, Place, Visit,
)
from deepdiary.prompts import prompt

PROMPT_VERSION = 1  # part of the fingerprint: a new prompt makes every LLM entry stale
MAX_ITEMS = 24  # items shown to the model; a long trip keeps an even spread of them
ITEM_CHARS = 220
LANGUAGES = {"en": "English", "zh": "Chinese (简体中文)"}


@dataclass
class DiaryInputs:
    event_id: int
    title: str
    when: str
    place: str
    people: list[str]
    items: list[tuple[str, str]]  # (ref, line)
    language: str
    fingerprint: str = ""


@dataclass
class WriteReport:
    events: int = 0
    written: int = 0
    unchanged: int = 0
    kept_user: int = 0
    failed: int = 0
    seconds: float = 0.0
    event_ids: list[int] = field(default_factory=list)


def _spread(rows: list, n: int) -> list:
    if len(rows) <= n:
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n)]


def _language(setting: str, own: list[str], others: list[str]) -> str:
    if setting in LANGUAGES:
        return setting
    texts = own or others
    if not texts:
        return "en"
    return "zh" if sum(has_cjk(t) for t in texts) * 2 > len(texts) else "en"


def diary_inputs(s: Session, event_id: int, language_setting: str = "auto") -> DiaryInputs:
    """What the entry of one event is written from, with its fingerprint."""
    e = s.get(Event, event_id)
    if e is None:
        raise NotFound(f"no event {event_id}")
    place = s.get(Place, e.place_id) if e.place_id else None
    ids = list(s.exec(select(EventItem.item_id).where(EventItem.event_id == event_id)))
    items = s.exec(select(Item).where(Item.id.in_(ids)).order_by(Item.taken_at, Item.id)).all()
    chats = {c.item_id: c for c in s.exec(select(ChatMeta).where(ChatMeta.item_id.in_(ids)))}
    diary = set(s.exec(select(DiaryMeta.item_id).where(DiaryMeta.item_id.in_(ids))))
    meta = {m.item_id: m for m in s.exec(select(PhotoMeta).where(PhotoMeta.item_id.in_(ids)))}
    tags: dict[int, list[str]] = {}
    for t in s.exec(select(ItemTag).where(ItemTag.item_id.in_(ids)).order_by(ItemTag.item_id, ItemTag.score.desc())):
        if len(tags.setdefault(t.item_id, [])) < 3:
            tags[t.item_id].append(t.name)
    faces: dict[int, list[str]] = {}
    for item_id, name in s.exec(select(Face.item_id, Person.name).join(Person, Person.id == Face.person_id)
                                .where(Face.item_id.in_(ids), Person.name.is_not(None)).order_by(Face.item_id, Face.x)):
        if name not in faces.setdefault(item_id, []):
            faces[item_id].append(name)
    places = {p.id: p for p in s.exec(select(Place).where(Place.id.in_({i.place_id for i in items if i.place_id})))}

    language_own, language_others = [], []
    rows: list[tuple[str, str]] = []
    for i in items:
        at = f"{i.taken_at:%Y-%m-%d %H:%M}" if i.taken_at else ""
        if i.kind == "photo":
            m = meta.get(i.id)
            what = (m.description if m else None) or ", ".join(tags.get(i.id, [])) or "a photo"
            where = places[i.place_id].city if i.place_id in places else ""
            line = f"photo {at}{' in ' + where if where else ''}: {what}"
            if faces.get(i.id):
                line += f" (with {', '.join(faces[i.id])})"
            rows.append((f"photo:{i.id}", line))
        elif i.id in chats and i.text:
            c = chats[i.id]
            (language_own if c.is_me else language_others).append(i.text)
            rows.append((f"message:{i.id}", f"message {at} {c.sender}: {i.text}"))
        elif i.id in diary and i.text:
            language_own.append(i.text)
            rows.append((f"diary:{i.id}", f"my diary {at}: {i.text}"))
    for v in s.exec(select(Visit).where(Visit.start <= e.end, Visit.end >= e.start).order_by(Visit.start, Visit.id)):
        name = v.name or v.address or (places[v.place_id].city if v.place_id in places else None)
        if name:
            rows.append((f"visit:{v.id}", f"stay {v.start:%Y-%m-%d %H:%M}-{v.end:%H:%M} at {name}"))
    rows = [(ref, " ".join(line.split())[:ITEM_CHARS]) for ref, line in _spread(rows, MAX_ITEMS)]

    people = list(dict.fromkeys([n for i in items for n in faces.get(i.id, [])]
                                + [chats[i.id].sender for i in items if i.id in chats and not chats[i.id].is_me]))
    language = _language(language_setting, language_own, language_others)
    where = ""
    if place:
        city = place.city_zh if language == "zh" and place.city_zh else place.city
        country = place.country_zh if language == "zh" and place.country_zh else place.country
        where = ", ".join(x for x in (city, country) if x)
    when = f"{e.start:%Y-%m-%d %H:%M}" + (f" to {e.end:%Y-%m-%d %H:%M}" if e.end != e.start else "")
    inputs = DiaryInputs(event_id, e.title, when, where, people, rows, language)
    inputs.fingerprint = hashlib.sha256(json.dumps(
        [PROMPT_VERSION, language, e.title, when, where, people, rows], ensure_ascii=False).encode()).hexdigest()
    return inputs


def _schema(n: int) -> dict:
    return {"type": "object", "properties": {
        "entry": {"type": "string", "minLength": 20, "maxLength": 600},
        "cited": {"type": "array", "items": {"enum": list(range(1, n + 1))}, "minItems": 1, "maxItems": n},
    }, "required": ["entry", "cited"]}


def write_entry(llm, inputs: DiaryInputs) -> tuple[str, list[str]]:
    """The model's entry for the event and the refs it cites (only the event's own items)."""
    if not inputs.items:
        raise InvalidInput(f"event {inputs.event_id} has no items to write about")
    items = "\n".join(f"[{n}] {line}" for n, (_, line) in enumerate(inputs.items, 1))
    user = prompt("diary_event.md").substitute(title=inputs.title, when=inputs.when, place=inputs.place or "unknown",
                                               people=", ".join(inputs.people) or "nobody named", items=items)
    system = prompt("diary_system.md").substitute(language=LANGUAGES[inputs.language])
    reply = llm.complete_json([{"role": "system", "content": system.strip()}, {"role": "user", "content": user.strip()}],
                              _schema(len(inputs.items)), max_tokens=360)
    text = " ".join(str(reply.get("entry") or "").split())
    cited = [n for n in reply.get("cited") or [] if isinstance(n, int) and 1 <= n <= len(inputs.items)]
    if not cited:  # cite what the entry's words come from
        words = content_words(text)
        cited = [n for n, (_, line) in enumerate(inputs.items, 1) if words & content_words(line)]
    return text, [inputs.items[n - 1][0] for n in dict.fromkeys(cited)]


def entry_row(s: Session, event_id: int, language_setting: str = "auto") -> dict | None:
    """The stored entry of an event, with whether the event changed since the LLM wrote it."""
    entry = s.get(EventEntry, event_id)
    if entry is None:
        return None
    stale = entry.source == "llm" and entry.fingerprint != diary_inputs(s, event_id, language_setting).fingerprint
    return {"id": event_id, "text": entry.text, "language": entry.language, "citations": json.loads(entry.citations),
            "source": entry.source, "stale": stale, "model": entry.model,
            "written_at": entry.written_at.isoformat() if entry.written_at else None}


def set_user_entry(s: Session, event_id: int, text: str) -> EventEntry:
    """The user's own entry for an event: kept as written, never rewritten by the LLM."""
    if s.get(Event, event_id) is None:
        raise NotFound(f"no event {event_id}")
    text = text.strip()
    if not text:
        raise InvalidInput("a diary entry needs some text")
    entry = s.get(EventEntry, event_id) or EventEntry(event_id=event_id, text=text)
    entry.text, entry.source, entry.fingerprint, entry.citations = text, "user", "", "[]"
    entry.language = "zh" if has_cjk(text) else "en"
    entry.model, entry.written_at = None, datetime.now(UTC)
    s.add(entry)
    return entry


class DiaryWriter:
    """Writes the entries of events that have none or whose event changed; the user's stay."""

    def __init__(self, library: Library, llm=None):
        self.library = library
        self._llm = llm

    @property
    def llm(self):
        if self._llm is None:
            self._llm = self.library.models.llm("llamacpp")
        return self._llm

    def run(self, event_ids: list[int] | None = None, progress: ProgressFn | None = None) -> WriteReport:
        started = time.perf_counter()
        settings = self.library.settings
        report = WriteReport()
        with self.library.read_session() as s:
            if event_ids is None:
                event_ids = list(s.exec(select(Event.id).order_by(Event.start, Event.id)))
            elif any(s.get(Event, i) is None for i in event_ids):
                raise NotFound(f"no event {next(i for i in event_ids if s.get(Event, i) is None)}")
        report.events = len(event_ids)
        for done, event_id in enumerate(event_ids):
            if progress:
                progress("diary", done, len(event_ids), f"event {event_id}")
            with self.library.read_session() as s:
                entry = s.get(EventEntry, event_id)
                inputs = diary_inputs(s, event_id, settings.diary_language)
            report.event_ids.append(event_id)
            if entry is not None and entry.source == "user":
                report.kept_user += 1
                continue
            if entry is not None and entry.fingerprint == inputs.fingerprint:
                report.unchanged += 1
                continue
            try:
                text, cited = write_entry(self.llm, inputs)
            except (ValueError, InvalidInput):  # no items, or the token budget ran out mid-object
                report.failed += 1
                continue
            with self.library.session() as s:
                current = s.get(EventEntry, event_id)
                if current is not None and current.source == "user":  # the user wrote one meanwhile
                    report.kept_user += 1
                    continue
                current = current or EventEntry(event_id=event_id, text=text)
                current.text, current.language, current.citations = text, inputs.language, json.dumps(cited)
                current.fingerprint, current.source = inputs.fingerprint, "llm"
                current.model, current.written_at = str(settings.llm_model_path or settings.llm_model), datetime.now(UTC)
                s.add(current)
            report.written += 1
        if progress:
            progress("diary", len(event_ids), len(event_ids), "")
        report.seconds = round(time.perf_counter() - started, 2)
        return report
