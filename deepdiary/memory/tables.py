"""The catalogue's tables.

One ``items`` table holds every memory item (a photo now; chat messages, diary chunks and
tracks later), so that time, place and people tie them together. Kind-specific fields
live in side tables keyed by the item id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from deepdiary.core.text import path_key, replace_lone_surrogates


class StoredPath(TypeDecorator):
    """A file path column that takes any path, whatever the encoding of its name.

    A name that is not UTF-8 reaches Python holding surrogate escapes, which no UTF-8
    database accepts; such a path is stored under its ``path_key`` (``caf\\xe9.jpg``),
    the same text the ingesters write, so lookups by either form find it. Other paths are
    stored as they are.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = str(value)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = replace_lone_surrogates(path_key(value))
        return value


class Place(SQLModel, table=True):
    """A reverse-geocoded place: the nearest gazetteer town, its region and country."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("city", "admin1", "country_code", name="uq_place"),)

    id: int | None = Field(default=None, primary_key=True)
    city: str = Field(index=True)
    admin1: str = Field(default="", index=True)
    admin2: str = Field(default="")
    country_code: str = Field(default="", index=True)
    country: str = Field(default="", index=True)
    city_zh: str | None = Field(default=None, index=True)
    admin1_zh: str | None = Field(default=None, index=True)
    country_zh: str | None = Field(default=None, index=True)
    lat: float
    lon: float


class Item(SQLModel, table=True):
    """One memory item. Photos are stored content-addressed by ``sha256``."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_kind_taken", "kind", "taken_at"),
        Index("ix_items_lat_lon", "lat", "lon"),
        # A faceted search walks photos in date order and tests place, rating and position
        # on each (memory/query.py): from this index alone, without reading the rows.
        Index("ix_items_photo_facets", "kind", "taken_at", "id", "place_id", "rating", "lat", "lon"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    sha256: str | None = Field(default=None, unique=True)
    cid: str | None = Field(default=None)
    size: int | None = Field(default=None, sa_type=BigInteger)
    ext: str | None = Field(default=None, description="file extension of the stored original")
    # Wall-clock time where the item happened; the UTC offset, when known, is kept apart
    # so that "photos from July" means July where they were taken.
    taken_at: datetime | None = Field(default=None, sa_column=Column(DateTime(), index=True))
    tz_offset_min: int | None = None
    date_source: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    gps_source: str | None = None
    place_id: int | None = Field(default=None, foreign_key="places.id", index=True)
    rating: int | None = Field(default=None, index=True)
    title: str | None = None
    text: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ItemPath(SQLModel, table=True):
    """A file path an item was ingested from; a renamed copy adds a path, not an item."""

    __tablename__ = "item_paths"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    path: str = Field(unique=True, sa_type=StoredPath, description="path_key of the file")
    size: int = Field(sa_type=BigInteger)
    mtime_ns: int = Field(sa_type=BigInteger)


class PhotoMeta(SQLModel, table=True):
    __tablename__ = "photo_meta"
    __table_args__ = (Index("ix_photo_meta_layout", "layout"),)

    item_id: int = Field(foreign_key="items.id", primary_key=True)
    format: str
    width: int = Field(description="width after the EXIF orientation is applied")
    height: int = Field(description="height after the EXIF orientation is applied")
    orientation: int = 1
    layout: str = Field(description="wide, tall or square")
    camera_make: str | None = Field(default=None, index=True)
    camera_model: str | None = Field(default=None, index=True)
    lens: str | None = None
    # Filled by enrichment; None until the stage has run.
    people_count: int | None = Field(default=None, index=True)
    phash: str | None = Field(default=None, description="64-bit perceptual hash, hex")
    description: str | None = Field(default=None, sa_column=Column(Text))
    description_zh: str | None = Field(default=None, sa_column=Column(Text))


class ItemColour(SQLModel, table=True):
    """A dominant named colour of a region (image, foreground or background)."""

    __tablename__ = "item_colours"
    __table_args__ = (
        Index("ix_colours_facet", "name", "region", "share", "item_id"),
        # Covers the per-photo EXISTS test when other facets drive the search.
        Index("ix_colours_item_facet", "item_id", "name", "region", "share"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id")
    region: str
    rank: int
    name: str
    r: int
    g: int
    b: int
    share: float


class ItemTag(SQLModel, table=True):
    """A label on an item (a model's tag or scene, or the user's own), with its score."""

    __tablename__ = "item_tags"
    __table_args__ = (UniqueConstraint("item_id", "kind", "name", name="uq_item_tag"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    kind: str = Field(default="tag", description="tag, scene or user")
    name: str = Field(index=True)
    name_zh: str | None = Field(default=None, index=True)
    score: float = 1.0
    source: str = "user"


class IngestJob(SQLModel, table=True):
    __tablename__ = "ingest_jobs"

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    status: str = Field(default="running", description="running, done, failed or interrupted")
    roots: str = Field(default="", sa_column=Column(Text))
    # Which process runs the job, so a job whose process died shows as interrupted
    # while another process's live job is left alone.
    pid: int | None = None
    hostname: str | None = None
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    # Set for a job that workers carry (``deepdiary worker``): refreshed as they take its tasks.
    # A job with one is alive while it is fresh, whichever process opened it.
    heartbeat_at: datetime | None = None
    total: int = 0
    added: int = 0
    linked: int = 0
    unchanged: int = 0
    failed: int = 0


class JobItem(SQLModel, table=True):
    """One item's task in a job that workers carry: queued, then done, unchanged (nothing was
    left to do) or failed. Marked in the transaction that commits the item's results, so a
    task delivered twice (its worker killed after the commit) finds it settled and does nothing."""

    __tablename__ = "job_items"

    job_id: int = Field(foreign_key="ingest_jobs.id", primary_key=True)
    item_id: int = Field(primary_key=True)
    status: str = Field(default="queued", description="queued, done, unchanged or failed")
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class IngestError(SQLModel, table=True):
    """A file that could not be ingested (``error``) or was ingested with losses (``warning``)."""

    __tablename__ = "ingest_errors"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="ingest_jobs.id", index=True)
    path: str = Field(index=True, sa_type=StoredPath)
    severity: str = "error"
    reason: str = Field(sa_column=Column(Text))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class IndexQueue(SQLModel, table=True):
    """A message or diary chunk whose search entries (words and vector) are still to be
    written, or a removed one whose entries are still to be dropped.

    A row is added in the transaction that stores or removes the item, and deleted once
    the text index and the vectors agree with the catalogue, so a run killed in between
    leaves the work here for the next one. No foreign key: a removal outlives its item.
    """

    __tablename__ = "index_queue"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(index=True)
    job_id: int | None = Field(default=None, index=True, description="the job that queued it; None for a backfill")
    queued_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ItemStage(SQLModel, table=True):
    """Which enrichment stage ran on an item, with which model, and how it ended."""

    __tablename__ = "item_stages"

    item_id: int = Field(foreign_key="items.id", primary_key=True)
    stage: str = Field(primary_key=True)
    status: str = Field(description="done or failed")
    model: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Person(SQLModel, table=True):
    __tablename__ = "people"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, index=True)
    aliases: str = Field(default="", description="other names, comma separated (e.g. a Chinese name)")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    hidden: bool = Field(default=False, description="the user hid this person from the people list")


class Face(SQLModel, table=True):
    """A detected face: where it is in the photo, its embedding and whose it is."""

    __tablename__ = "faces"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="items.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="people.id", index=True)
    # Box in the upright photo's full-resolution pixels.
    x: int
    y: int
    width: int
    height: int
    score: float
    quality: float | None = Field(default=None, description="size, sharpness and pose, 0 to 1; NULL before 0006")
    landmarks: str = Field(default="[]", description="JSON list of [x, y] in full-resolution pixels")
    embedding: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    model: str
    assigned_by: str = Field(default="auto", description="auto, or user once a person moved it")


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)


class ItemCategory(SQLModel, table=True):
    """An item's category: labelled by the user, or predicted with a confidence."""

    __tablename__ = "item_categories"

    item_id: int = Field(foreign_key="items.id", primary_key=True)
    category_id: int = Field(foreign_key="categories.id", index=True)
    source: str = Field(description="user or auto")
    confidence: float = 1.0


class Conversation(SQLModel, table=True):
    """A chat: a partner or a group, as named by the export."""

    __tablename__ = "conversations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    person_id: int | None = Field(default=None, foreign_key="people.id", index=True)


class ChatMeta(SQLModel, table=True):
    """A chat message: the item's text and time live on ``items``; this is the rest."""

    __tablename__ = "chat_meta"

    item_id: int = Field(foreign_key="items.id", primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    sender: str = Field(index=True)
    sender_person_id: int | None = Field(default=None, foreign_key="people.id", index=True)
    is_me: bool = False
    msg_kind: str = "text"
    source_file: str = Field(sa_type=StoredPath)
    source_line: int
    source_id: str
    # Identifies the message across overlapping exports, so a re-import adds only new ones.
    dedupe_key: str = Field(unique=True)


class DiaryMeta(SQLModel, table=True):
    __tablename__ = "diary_meta"

    item_id: int = Field(foreign_key="items.id", primary_key=True)
    source_file: str = Field(index=True, sa_type=StoredPath)
    source_line: int
    chunk_index: int
    dedupe_key: str = Field(unique=True)


class Track(SQLModel, table=True):
    __tablename__ = "tracks"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = None
    kind: str
    source_file: str = Field(index=True, sa_type=StoredPath)
    source_index: int = Field(description="position of the track in its file")
    points: int = 0
    start: datetime | None = Field(default=None, sa_column=Column(DateTime(), index=True))
    end: datetime | None = Field(default=None, sa_column=Column(DateTime(), index=True))


class TrackPointRow(SQLModel, table=True):
    """A GPS fix. Times are naive UTC; None where the file's time was missing or not trusted."""

    __tablename__ = "track_points"
    __table_args__ = (Index("ix_track_points_time", "time"),)

    id: int | None = Field(default=None, primary_key=True)
    track_id: int = Field(foreign_key="tracks.id", index=True)
    segment: int
    time: datetime | None = Field(default=None, sa_column=Column(DateTime()))
    lat: float
    lon: float
    ele: float | None = None


class Visit(SQLModel, table=True):
    """A stay at one place: from a Takeout place visit, or found in a track. Times naive UTC."""

    __tablename__ = "visits"

    id: int | None = Field(default=None, primary_key=True)
    start: datetime = Field(sa_column=Column(DateTime(), index=True, nullable=False))
    end: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    lat: float
    lon: float
    name: str | None = None
    address: str | None = None
    source: str
    source_file: str = Field(sa_type=StoredPath)
    place_id: int | None = Field(default=None, foreign_key="places.id", index=True)


class Event(SQLModel, table=True):
    """Photos, stays and chat bursts close in time (and place), told as one diary line."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    start: datetime = Field(sa_column=Column(DateTime(), index=True, nullable=False))
    end: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    place_id: int | None = Field(default=None, foreign_key="places.id")
    title: str
    diary_line: str = Field(sa_column=Column(Text, nullable=False))
    photos: int = 0
    messages: int = 0
    visits: int = 0


class EventItem(SQLModel, table=True):
    __tablename__ = "event_items"

    event_id: int = Field(foreign_key="events.id", primary_key=True)
    item_id: int = Field(foreign_key="items.id", primary_key=True, index=True)


class PersonNote(SQLModel, table=True):
    """What someone can offer (a resource) or is looking for (a demand): the seed's social resources."""

    __tablename__ = "person_notes"

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="people.id", index=True)
    kind: str = Field(description="resource or demand")
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class AgentSession(SQLModel, table=True):
    """One conversation with the housekeeper: a CLI session, a Telegram chat, an API session."""

    __tablename__ = "agent_sessions"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(default="cli", description="cli, api, telegram, wechat, voice")
    external_id: str | None = Field(default=None, index=True, description="the channel's own id, e.g. a chat id")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class AgentTurn(SQLModel, table=True):
    """A question and its answer, with what was called and cited, so follow-ups can refer back."""

    __tablename__ = "agent_turns"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="agent_sessions.id", index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    answer: str = Field(sa_column=Column(Text, nullable=False))
    language: str = "en"
    tool_calls: str = Field(default="[]", sa_column=Column(Text, nullable=False), description="JSON list")
    citations: str = Field(default="[]", sa_column=Column(Text, nullable=False), description="JSON list")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class ApiToken(SQLModel, table=True):
    """A bearer token for the web API. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    token_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class FactSession(SQLModel, table=True):
    """A chat session (a burst of messages in one conversation) the fact learner has read.

    Written in the transaction that stores the session's facts, so a killed run leaves
    either both or neither; a session that grew since (same first message, more messages)
    is read again."""

    __tablename__ = "fact_sessions"
    __table_args__ = (UniqueConstraint("conversation_id", "first_item_id", name="uq_fact_session"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    first_item_id: int
    last_item_id: int
    start: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    end: datetime = Field(sa_column=Column(DateTime(), nullable=False))
    messages: int = 0
    facts: int = 0
    model: str = ""
    learnt_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class Fact(SQLModel, table=True):
    """A short fact about a person learnt from their chats (job, city, family, likes, plans,
    dates), or what they can offer (``resource``) or need (``demand``), citing its messages.

    A later message that changes a one-valued attribute (a new city, a new job) supersedes
    the older fact: ``superseded_by`` points at the newer one and the older stays as history."""

    __tablename__ = "facts"
    __table_args__ = (Index("ix_facts_subject_current", "subject_key", "superseded_by"),)

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(description="who it is about, as the chat names them")
    # No person id: a fact belongs to whoever goes by its subject's name or alias (as chat
    # senders do), so naming, merging or removing people never leaves it pointing wrong.
    subject_key: str = Field(description="the subject lower-cased, matched against people's names and aliases")
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    session_id: int | None = Field(default=None, foreign_key="fact_sessions.id", index=True)
    kind: str = Field(description="fact, resource or demand")
    attribute: str = Field(description="job, city, family, likes, plan, date, ...")
    value: str = Field(sa_column=Column(Text, nullable=False))
    value_key: str = Field(description="the value normalised, for finding the same fact again")
    message_ids: str = Field(default="[]", sa_column=Column(Text, nullable=False), description="JSON list of item ids")
    valid_from: datetime = Field(sa_column=Column(DateTime(), nullable=False), description="its newest cited message")
    superseded_by: int | None = Field(default=None, description="the newer fact that replaced it; None while current")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class EventEntry(SQLModel, table=True):
    """An event's diary entry: written by the local LLM from the event's items (``source``
    llm, with a fingerprint of those inputs, so a changed event is rewritten), or by the
    user (``source`` user), which nothing overwrites."""

    __tablename__ = "event_entries"

    event_id: int = Field(foreign_key="events.id", primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    language: str = "en"
    citations: str = Field(default="[]", sa_column=Column(Text, nullable=False), description="JSON list of refs")
    fingerprint: str = Field(default="", description="sha256 of what the entry was written from; empty for the user's")
    source: str = Field(default="llm", description="llm or user")
    model: str | None = None
    written_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
