"""Who may reach which library: the home folder's access database.

One small SQLite file beside the owner's catalogue (``<home>/access.db``) holds

- the users, each with a library folder of their own under ``<home>/users/``;
- where each user's API token leads (its SHA-256 and the user; the token itself, with its
  name and revocation, lives in that user's library like the owner's tokens do);
- share links: a SHA-256 of the secret, what the link names, frozen as item ids when it
  was made, and its expiry.

It is created by the first ``user add`` or share link, so a library without users works
exactly as before. Ids are AUTOINCREMENT: a removed user's or link's id never comes back
to name someone else's.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from deepdiary.core.errors import Conflict, InvalidInput, NotFound

ACCESS_DB = "access.db"
USERS_DIR = "users"
NAME_MAX = 64

metadata = sa.MetaData()

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
    sa.Column("name_key", sa.String, nullable=False, unique=True),  # casefolded: "Bob" and "bob" are one user
    sa.Column("folder", sa.String, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sqlite_autoincrement=True,
)

token_routes = sa.Table(
    "token_routes", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
)

share_links = sa.Table(
    "share_links", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String, nullable=False),  # photo, event or search
    sa.Column("target", sa.String, nullable=False),  # the photo id, the event id or the search text
    sa.Column("title", sa.String, nullable=False),
    sa.Column("item_ids", sa.Text, nullable=False),  # JSON list, frozen when the link was made
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime, nullable=True),
    sqlite_autoincrement=True,
)


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    folder: str
    created_at: datetime


@dataclass(frozen=True)
class ShareRow:
    id: int
    user_id: int | None
    kind: str
    target: str
    title: str
    item_ids: list[int]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def _utc(value: datetime | None) -> datetime | None:
    # SQLite keeps no offset: everything here is written in UTC and read back as UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def user_name(raw: str) -> str:
    """A user's name as stored: NFC, trimmed, 1 to 64 characters, no control characters.
    Any script is fine (王小明, Zoë); the folder name is derived, never the name itself."""
    name = unicodedata.normalize("NFC", raw or "").strip()
    if not name:
        raise InvalidInput("a user needs a name, e.g. 'alice' or '王小明'")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"user name: at most {NAME_MAX} characters ({len(name)} given)")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise InvalidInput(f"user name: {name!r} holds a control character")
    return name


def folder_stem(name: str) -> str:
    """A file-system-safe stem for a user's folder: ASCII letters, digits and hyphens only
    (Chinese by pinyin), so no name can make a path ('..', '/', a drive letter)."""
    from pypinyin import lazy_pinyin

    spelled = "-".join(lazy_pinyin(name))
    ascii_only = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    stem = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")[:40].strip("-")
    return stem or "user"


class AccessStore:
    """The access database of one home folder; safe to share between threads."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.path = self.home / ACCESS_DB
        self._lock = threading.Lock()
        self._ready = False

    def exists(self) -> bool:
        return self.path.is_file()

    @cached_property
    def engine(self) -> sa.Engine:
        from deepdiary.memory.catalogue import make_engine

        return make_engine(f"sqlite:///{self.path}")

    def _begin(self):
        """A write transaction, creating the file and its tables on first use."""
        if not self._ready:
            with self._lock:
                if not self._ready:
                    self.home.mkdir(parents=True, exist_ok=True)
                    metadata.create_all(self.engine)
                    self._ready = True
        return self.engine.begin()

    def _read(self):
        from deepdiary.memory.catalogue import reader

        return reader(self.engine).connect()

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    # --- users ------------------------------------------------------------------------

    def add_user(self, name: str) -> UserRow:
        name = user_name(name)
        with self._begin() as conn:
            try:
                new_id = conn.execute(users.insert().values(
                    name=name, name_key=name.casefold(), folder=f".new-{name.casefold()}",
                    created_at=_naive(datetime.now(UTC)))).inserted_primary_key[0]
            except IntegrityError:
                raise Conflict(f"a user called {name!r} already exists") from None
            folder = f"{folder_stem(name)}-{new_id}"  # the id keeps it unique whatever the names
            conn.execute(users.update().where(users.c.id == new_id).values(folder=folder))
        return self.user(name)

    def users(self) -> list[UserRow]:
        if not self.exists():
            return []
        with self._read() as conn:
            return [self._user(r) for r in conn.execute(sa.select(users).order_by(users.c.id))]

    def user(self, name: str) -> UserRow:
        """The user called ``name`` (case-insensitive), or NotFound."""
        key = unicodedata.normalize("NFC", name or "").strip().casefold()
        row = None
        if self.exists():
            with self._read() as conn:
                row = conn.execute(sa.select(users).where(users.c.name_key == key)).first()
        if row is None:
            raise NotFound(f"no user {name!r}; `deepdiary user list` shows them, `deepdiary user add NAME` adds one")
        return self._user(row)

    def user_by_id(self, user_id: int) -> UserRow | None:
        if not self.exists():
            return None
        with self._read() as conn:
            row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
        return self._user(row) if row else None

    def has_users(self) -> bool:
        if not self.exists():
            return False
        with self._read() as conn:
            return conn.execute(sa.select(users.c.id).limit(1)).first() is not None

    def remove_user(self, user_id: int) -> None:
        """The user's row, token routes and share links go in one transaction."""
        with self._begin() as conn:
            conn.execute(token_routes.delete().where(token_routes.c.user_id == user_id))
            conn.execute(share_links.delete().where(share_links.c.user_id == user_id))
            conn.execute(users.delete().where(users.c.id == user_id))

    def user_folder(self, user: UserRow) -> Path:
        return self.home / USERS_DIR / user.folder

    @staticmethod
    def _user(row) -> UserRow:
        return UserRow(id=row.id, name=row.name, folder=row.folder, created_at=_utc(row.created_at))

    # --- token routes -----------------------------------------------------------------

    def route_token(self, token_hash: str, user_id: int) -> None:
        with self._begin() as conn:
            conn.execute(token_routes.insert().values(token_hash=token_hash, user_id=user_id))

    def drop_token_route(self, token_hash: str) -> None:
        if self.exists():
            with self._begin() as conn:
                conn.execute(token_routes.delete().where(token_routes.c.token_hash == token_hash))

    def token_user(self, token_hash: str) -> UserRow | None:
        """The user whose token has this hash, or None (then it may be the owner's)."""
        if not self.exists():
            return None
        with self._read() as conn:
            row = conn.execute(sa.select(users).join(token_routes, token_routes.c.user_id == users.c.id)
                               .where(token_routes.c.token_hash == token_hash)).first()
        return self._user(row) if row else None

    # --- share links ------------------------------------------------------------------

    def add_share(self, user_id: int | None, secret_hash: str, kind: str, target: str, title: str,
                  item_ids: list[int], expires_at: datetime) -> ShareRow:
        with self._begin() as conn:
            new_id = conn.execute(share_links.insert().values(
                user_id=user_id, secret_hash=secret_hash, kind=kind, target=target, title=title,
                item_ids=json.dumps(item_ids), created_at=_naive(datetime.now(UTC)),
                expires_at=_naive(expires_at))).inserted_primary_key[0]
            return self._share(conn.execute(sa.select(share_links).where(share_links.c.id == new_id)).one())

    def shares(self, user_id: int | None) -> list[ShareRow]:
        if not self.exists():
            return []
        with self._read() as conn:
            rows = conn.execute(sa.select(share_links).where(_owned_by(user_id)).order_by(share_links.c.id))
            return [self._share(r) for r in rows]

    def share_by_hash(self, secret_hash: str) -> ShareRow | None:
        if not self.exists():
            return None
        with self._read() as conn:
            row = conn.execute(sa.select(share_links).where(share_links.c.secret_hash == secret_hash)).first()
        return self._share(row) if row else None

    def revoke_share(self, user_id: int | None, share_id: int) -> ShareRow:
        """Revoke one of this user's links; another user's link is as unknown as a missing one."""
        if not self.exists():
            raise NotFound(f"no share link {share_id}")
        with self._begin() as conn:
            where = sa.and_(share_links.c.id == share_id, _owned_by(user_id))
            row = conn.execute(sa.select(share_links).where(where)).first()
            if row is None:
                raise NotFound(f"no share link {share_id}")
            if row.revoked_at is None:
                conn.execute(share_links.update().where(where).values(revoked_at=_naive(datetime.now(UTC))))
            return self._share(conn.execute(sa.select(share_links).where(where)).one())

    @staticmethod
    def _share(row) -> ShareRow:
        return ShareRow(id=row.id, user_id=row.user_id, kind=row.kind, target=row.target, title=row.title,
                        item_ids=json.loads(row.item_ids), created_at=_utc(row.created_at),
                        expires_at=_utc(row.expires_at), revoked_at=_utc(row.revoked_at))


def _owned_by(user_id: int | None):
    return share_links.c.user_id.is_(None) if user_id is None else share_links.c.user_id == user_id
