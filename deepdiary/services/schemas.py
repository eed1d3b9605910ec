"""What services return: pydantic models that are also the web API's schemas.

Field order is the JSON order the CLI has always printed; scripts compare it byte for byte.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel

from deepdiary.memory.chat_query import ChatHit  # noqa: F401 - a service result
from deepdiary.memory.query import PhotoPage, PhotoResult  # noqa: F401 - service results


@dataclass(frozen=True)
class StoredFile:
    """A file kept in the library (a photo, its thumbnail, a collage): its path, and in an
    encrypted library its opened bytes, which never go back to disk."""

    path: Path
    data: bytes | None = None

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()

    def image_source(self):
        """What ``PIL.Image.open`` takes."""
        return BytesIO(self.data) if self.data is not None else self.path

    @property
    def media_type(self) -> str:
        # Blobs keep their extension (``<sha256>.jpg``, ``.thumb.webp``) even when sealed.
        return mimetypes.guess_type(self.path.name)[0] or "application/octet-stream"


class Record(RootModel[dict[str, Any]]):
    """A record whose fields depend on what it describes (an item's details, library totals)."""


class Problem(BaseModel):
    path: str
    severity: str
    reason: str


class IngestResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    kind: str
    total: int
    added: int
    linked: int
    unchanged: int
    failed: int
    warned: int
    item_ids: list[int]
    problems: list[Problem]


class EnrichResult(BaseModel):
    id: str = "enrich"
    items: int
    stages_run: dict[str, int]
    failures: list[dict]
    faces_added: int
    seconds: dict[str, float]


class PhotoIngestResult(IngestResult):
    enrich: EnrichResult | None = None


class IndexRun(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    items: int


class JobRow(BaseModel):
    id: int
    kind: str
    status: str
    roots: list[str]
    total: int
    added: int
    linked: int
    unchanged: int
    failed: int
    errors: int
    warnings: int
    started_at: str | None
    finished_at: str | None
    pid: int | None
    hostname: str | None
    pending: int
    heartbeat_at: str | None = None  # a job Celery workers carry: when one last took or settled its tasks
    queued: int = 0  # its items still waiting for a worker


class Rating(BaseModel):
    id: int
    rating: int


class PersonRow(BaseModel):
    id: int
    name: str | None
    aliases: list[str]
    faces: int
    photos: int
    hidden: bool = False
    cover_face_id: int | None = None


class PersonRef(BaseModel):
    id: int
    name: str | None


class NamedPerson(BaseModel):
    id: int
    name: str | None
    aliases: list[str]


class MovedFace(BaseModel):
    id: int | None
    name: str | None
    face_id: int


class FaceRow(BaseModel):
    id: int
    item_id: int
    path: str | None
    box: list[int]
    score: float
    assigned_by: str
    landmarks: Any


class MergeSuggestion(BaseModel):
    a: PersonRow
    b: PersonRow
    distance: float


class ReclusterResult(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = "recluster"
    faces: int
    people: int
    moved: int


class Note(BaseModel):
    id: int
    person_id: int
    kind: str
    text: str


class PersonDetail(PersonRow):
    notes: list[Note]
    facts: list["FactRow"] = []  # learnt from chats: current ones, then the replaced ones


class CategoryRow(BaseModel):
    id: int
    name: str
    labelled: int
    predicted: int


class Labelled(BaseModel):
    id: str
    labelled: list[int]
    relabelled: int
    categories: list[CategoryRow]


class DuplicateMember(BaseModel):
    id: int
    path: str | None


class DuplicateGroup(BaseModel):
    id: int
    items: list[DuplicateMember]
    min_similarity: float | None


class CollageResult(BaseModel):
    id: str
    path: str
    faces: int
    width: int
    height: int


class EventRow(BaseModel):
    id: int
    start: str
    end: str
    title: str
    diary: str
    place: str | None
    place_zh: str | None
    photos: int
    messages: int
    visits: int
    item_ids: list[int]


class EventDetail(EventRow):
    photo_items: list[PhotoResult]
    people: list[dict[str, Any]]
    diary_lines: list[str]
    message_items: list[dict[str, Any]]
    entry: "EventEntryRow | None" = None  # the diary entry, once written


class OnThisDayYear(BaseModel):
    year: int
    photos: list[PhotoResult]
    events: list[EventRow]


class OnThisDay(BaseModel):
    id: str
    date: str
    years: list[OnThisDayYear]


class GraphView(BaseModel):
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]


class MetRow(BaseModel):
    id: int
    name: str
    days: int


class GraphFile(BaseModel):
    id: str
    path: str
    nodes: int
    edges: int


class GraphPath(BaseModel):
    id: str
    path: list[dict[str, Any]]


class DemandMatch(BaseModel):
    id: int  # the note's id, or the fact's (``source`` fact)
    person_id: int | None  # None for a chat partner who is not a person in the library yet
    person: str
    resource: str
    similarity: float
    hops: int | None
    score: float
    source: str = "note"  # note (added by hand) or fact (learnt from a chat)
    message_ids: list[int] = []  # the messages a learnt fact came from


class Transcript(BaseModel):
    id: str  # the audio's sha256 (its first 16 hex digits): the same recording has the same id
    transcript: str
    language: str  # en, zh, ... as Whisper names it; empty when nobody spoke
    seconds: float  # spent transcribing
    duration: float  # of the audio


class VoiceAnswer(BaseModel):
    id: str  # the recording's id, as in Transcript
    transcript: str
    language: str
    answer: str
    citations: list[dict]
    reply_audio: str | None  # the spoken answer's file, when one was asked for
    conversation_id: int
    turn_id: int
    stt_seconds: float
    ask_seconds: float
    tts_seconds: float


class CheckProblem(BaseModel):
    id: str  # kind:item id (or kind:file), stable between runs
    kind: str  # missing_original, corrupt_original, missing_thumbnail, orphan_blob, orphan_vector,
    # missing_vector, missing_text_entry, missing_text_vector, orphan_text_entry
    item_id: int | None
    file: str | None  # the file, or the vector collection
    detail: str
    repairable: bool
    repaired: bool
    action: str | None  # what --repair did, or why it could not


class CheckReport(BaseModel):
    id: str  # "check"
    library: str
    ok: bool  # nothing is wrong (after the repairs, when asked for)
    repair: bool
    counts: dict[str, int]  # what was looked at
    problems: list[CheckProblem]


class BackupResult(BaseModel):
    id: str  # the backup's folder
    path: str
    created: str
    catalogue_sha256: str
    counts: dict[str, int]
    reconciled: int  # entries newer than the catalogue copy, dropped from the snapshot


class RestoreResult(BaseModel):
    id: str  # the restored library's folder
    library: str
    backup: str
    created: str  # when the backup was taken
    counts: dict[str, int]


class EncryptionResult(BaseModel):
    """What ``init``, ``encrypt`` or a passphrase change left: the library and how it unlocks."""

    id: str  # the library folder
    library: str
    encrypted: bool
    unlocks_with: str | None = None  # "passphrase" or "key-file"
    already: bool = False  # nothing was left to do
    counts: dict[str, int] = {}


class FactRow(BaseModel):
    """A fact about a person learnt from their chats, with the messages it came from."""

    id: int
    subject: str
    person_id: int | None = None  # the named person who goes by the subject's name, if any
    kind: str  # fact, resource or demand
    attribute: str
    value: str
    message_ids: list[int]
    valid_from: str
    current: bool
    superseded_by: int | None = None
    conversation: str | None = None


class FactLearnRun(BaseModel):
    id: str
    sessions: int
    read: int
    skipped: int
    messages: int
    facts_new: int
    facts_merged: int
    dropped: int
    failed_windows: int
    seconds: float
    messages_per_second: float
    model: str
    since: str | None = None


class EventEntryRow(BaseModel):
    """An event's diary entry: the LLM's (``source`` llm) or the user's own (``source`` user)."""

    id: int  # the event's id
    text: str
    language: str
    citations: list[str]
    source: str
    stale: bool = False  # the event changed since the LLM wrote it
    model: str | None = None
    written_at: str | None = None


class EventWriteRun(BaseModel):
    id: str
    events: int
    written: int
    unchanged: int
    kept_user: int
    failed: int
    seconds: float
    entries: list[EventEntryRow]


PersonDetail.model_rebuild()
EventDetail.model_rebuild()
