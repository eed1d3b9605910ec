"""One library per user: adding, listing and removing users, and finding a user's library.

The owner's library is the home folder itself, as it always was; each user added with
``deepdiary user add NAME`` gets a library of their own (catalogue, blobs, vectors and
text index) in ``<home>/users/<folder>/``, where the folder is derived from the name
(ASCII, with the user's id) and never the raw name. Who the users are, and where each
user's token leads, is kept in the home's access database (``memory.access``).

``Libraries`` is what a server holds: the owner's context and, opened on first use and
kept, one context per user, all sharing the process's one model cache.
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from deepdiary.core.errors import InvalidInput, Unauthorized
from deepdiary.services import tokens
from deepdiary.services.context import AppContext

FIRST_TOKEN = "first token"


@dataclass(frozen=True)
class LibraryUser:
    """Whose library an ``AppContext`` opens (its ``user``), and the home it belongs to."""

    id: int
    name: str
    home: Path
    access: object  # memory.access.AccessStore of the home


class UserInfo(BaseModel):
    id: int
    name: str
    library: str
    created_at: datetime


class NewUser(UserInfo):
    token_id: int
    token: str  # shown once, never stored


class RemovedUser(UserInfo):
    removed: bool = True


def _home_only(ctx: AppContext) -> None:
    if ctx.user is not None:
        raise InvalidInput("users are managed from the home library: leave out --user")


def _info(ctx: AppContext, row) -> UserInfo:
    return UserInfo(id=row.id, name=row.name, library=str(ctx.access.user_folder(row)), created_at=row.created_at)


def _open(home: AppContext, row) -> AppContext:
    folder = home.access.user_folder(row)
    # A user's library is always SQLite in its own folder, whatever catalogue the owner's uses,
    # and so are its vectors (on a server they would share the owner's database whenever the
    # owner's namespace is set, and a backup of the home copies only their folder).
    settings = home.settings.model_copy(update={"home": folder, "database_url": None, "chroma_url": None})
    return AppContext(settings, home.models,
                      user=LibraryUser(id=row.id, name=row.name, home=home.settings.library_dir, access=home.access))


def add_user(ctx: AppContext, name: str) -> NewUser:
    """A new user with an empty library of their own, and their first token."""
    _home_only(ctx)
    from deepdiary.memory.sealing import Keyring

    if Keyring.load(ctx.settings.library_dir) is not None:
        # A user's library has no keyring of its own yet: their photos and chats would be
        # stored in the clear beside an encrypted library. Refused rather than half-kept.
        raise InvalidInput("an encrypted library cannot have users yet: their libraries would not be encrypted")
    row = ctx.access.add_user(name)
    user_ctx = _open(ctx, row)
    try:
        user_ctx.library  # create and migrate it now: a mistake shows here, not on first use
        made = tokens.create_token(user_ctx, FIRST_TOKEN)
    finally:
        user_ctx.close()
    return NewUser(**_info(ctx, row).model_dump(), token_id=made.id, token=made.token)


def list_users(ctx: AppContext) -> list[UserInfo]:
    _home_only(ctx)
    return [_info(ctx, row) for row in ctx.access.users()]


def remove_user(ctx: AppContext, name: str) -> RemovedUser:
    """The user, their tokens, their share links and their whole library folder."""
    _home_only(ctx)
    row = ctx.access.user(name)
    info = _info(ctx, row)
    ctx.access.remove_user(row.id)  # first: from now on no token or link reaches the folder
    folder = ctx.access.user_folder(row)
    if folder.is_dir():
        shutil.rmtree(folder)
    return RemovedUser(**info.model_dump())


def user_context(ctx: AppContext, name: str) -> AppContext:
    """The context of the user called ``name`` (the CLI's ``--user``); NotFound for an unknown one."""
    _home_only(ctx)
    return _open(ctx, ctx.access.user(name))


class Libraries:
    """Every library one server reaches: the owner's, and each user's, opened once and kept.
    Thread-safe; each request asks it for the context its token leads to."""

    def __init__(self, home: AppContext):
        self.home = home
        self._users: dict[int, AppContext] = {}
        self._lock = threading.Lock()

    def for_user(self, row) -> AppContext:
        with self._lock:
            ctx = self._users.get(row.id)
            if ctx is None:
                ctx = self._users[row.id] = _open(self.home, row)
            return ctx

    def for_user_id(self, user_id: int | None) -> AppContext | None:
        """The owner's context for None, a user's by id, or None when that user is gone."""
        if user_id is None:
            return self.home
        row = self.home.access.user_by_id(user_id)
        return self.for_user(row) if row else None

    def tokens_required(self) -> bool:
        """Once any token or any user exists, every API request needs a valid token."""
        return tokens.tokens_exist(self.home) or self.home.access.has_users()

    def for_token(self, token: str | None) -> AppContext:
        """The library a request's token opens; Unauthorized when it opens none and one is needed."""
        found = self.check(token)
        if found is not None:
            return found[0]
        if not self.tokens_required():
            return self.home  # a fresh library on loopback: `serve` refuses other hosts until a token exists
        raise Unauthorized("a valid token is needed: `deepdiary token create NAME`, then "
                           "'Authorization: Bearer <token>'")

    def check(self, token: str | None) -> tuple[AppContext, tokens.TokenInfo] | None:
        """The library and the token, when ``token`` is a valid one (signing in)."""
        if not token:
            return None
        user = self.home.access.token_user(tokens.token_hash(token))
        ctx = self.for_user(user) if user is not None else self.home
        info = tokens.check_token(ctx, token)
        return (ctx, info) if info is not None else None

    def close(self) -> None:
        with self._lock:
            for ctx in self._users.values():
                ctx.close()
            self._users.clear()
