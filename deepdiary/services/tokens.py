"""Bearer tokens for the web API: made once, stored only as a SHA-256, revocable.

A token lives in the library it opens: the owner's in the home library, a user's in that
user's library. For a user's token the home's access database also records where its
hash leads, so a request finds the right library in one lookup (``services.users``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel
from sqlmodel import select

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.services.context import AppContext

PREFIX = "dd_"


class TokenInfo(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class NewToken(TokenInfo):
    token: str  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(t) -> TokenInfo:
    return TokenInfo(id=t.id, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at,
                     revoked=t.revoked_at is not None)


def create_token(ctx: AppContext, name: str) -> NewToken:
    """A new token for ``name`` (a device, a person); its value is returned once."""
    from deepdiary.memory.tables import ApiToken

    if not name.strip():
        raise InvalidInput("a token needs a name, e.g. 'laptop'")
    token = PREFIX + secrets.token_urlsafe(32)
    with ctx.write() as s:
        row = ApiToken(name=name.strip(), token_hash=token_hash(token))
        s.add(row)
        s.flush()
        if ctx.user is not None:  # inside the library's transaction: a failed route leaves no token
            ctx.access.route_token(row.token_hash, ctx.user.id)
        return NewToken(**_info(row).model_dump(), token=token)


def list_tokens(ctx: AppContext) -> list[TokenInfo]:
    from deepdiary.memory.tables import ApiToken

    with ctx.read() as s:
        return [_info(t) for t in s.exec(select(ApiToken).order_by(ApiToken.id))]


def revoke_token(ctx: AppContext, ref: str) -> TokenInfo:
    """Revoke a token by id or name; requests carrying it get 401 from then on."""
    from deepdiary.memory.tables import ApiToken

    with ctx.write() as s:
        rows = s.exec(select(ApiToken).where(ApiToken.revoked_at.is_(None))).all()
        found = [t for t in rows if str(t.id) == ref.strip() or t.name == ref.strip()]
        if not found:
            raise NotFound(f"no active token {ref!r}")
        if len(found) > 1:
            raise InvalidInput(f"{len(found)} tokens are called {ref!r}; revoke one by id")
        found[0].revoked_at = datetime.now(UTC)
        s.add(found[0])
        if ctx.user is not None:
            ctx.access.drop_token_route(found[0].token_hash)
        return _info(found[0])


def tokens_exist(ctx: AppContext) -> bool:
    """Whether any active token exists (then every API request needs one)."""
    from deepdiary.memory.tables import ApiToken

    with ctx.read() as s:
        return s.exec(select(ApiToken.id).where(ApiToken.revoked_at.is_(None)).limit(1)).first() is not None


def check_token(ctx: AppContext, token: str | None) -> TokenInfo | None:
    """The active token ``token`` is, or None."""
    from deepdiary.memory.tables import ApiToken

    if not token:
        return None
    with ctx.read() as s:
        row = s.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                            ApiToken.revoked_at.is_(None))).first()
        return _info(row) if row else None
