"""Share links as a service: when a link ends, what it holds (frozen when it was made), and
its lifecycle (revoked, expired, its user removed), over real libraries of camera photos."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deepdiary.core.errors import Gone, InvalidInput, NotFound
from deepdiary.core.settings import Settings
from deepdiary.memory.access import share_links
from deepdiary.services import AppContext, ingest, shares, users

GPS = Path("photos/exif-samples/jpg/gps")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def home(tmp_path, samples):
    ctx = AppContext(Settings(home=tmp_path / "home", enrich_workers=1, llm_backend="none"))
    yield ctx
    ctx.close()


def add_photos(ctx: AppContext, folder: Path, samples: Path, *names: str) -> list[int]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(samples / GPS / name, folder / name)
    return ingest.ingest_photos(ctx, [folder], enrich=False).item_ids


@pytest.mark.parametrize("text, ends", [
    ("30m", NOW + timedelta(minutes=30)), ("12h", NOW + timedelta(hours=12)), ("7d", NOW + timedelta(days=7)),
    ("2w", NOW + timedelta(days=14)), ("7 days", NOW + timedelta(days=7)), ("7天", NOW + timedelta(days=7)),
    ("12小时", NOW + timedelta(hours=12)), ("2周", NOW + timedelta(days=14)),
    ("2026-12-31", datetime(2026, 12, 31, tzinfo=UTC)),
    ("2026-12-31T18:00+08:00", datetime(2026, 12, 31, 10, 0, tzinfo=UTC)),
])
def test_expiry_is_a_duration_or_a_date(text, ends):
    assert shares.parse_expiry(text, 366, now=NOW) == ends


@pytest.mark.parametrize("text, why", [
    ("", "give a duration"), ("soon", "neither a duration"), ("0d", "not in the future"),
    ("2026-11-30", "not in the future"), ("400d", "more than 366 days"), ("2028-01-01", "more than 366 days"),
])
def test_a_bad_expiry_is_explained(text, why):
    with pytest.raises(InvalidInput, match=why):
        shares.parse_expiry(text, 366, now=NOW)


def test_a_link_holds_what_it_named_when_it_was_made(home, tmp_path, samples):
    first = add_photos(home, tmp_path / "p1", samples, "DSCN0010.jpg", "DSCN0012.jpg")
    libraries = users.Libraries(home)
    made = shares.share_search(home, "photos in Arezzo", expires="1d")
    assert made.photos == 2 and made.expires_at - made.created_at < timedelta(days=1, minutes=1)
    later = add_photos(home, tmp_path / "p2", samples, "DSCN0021.jpg")
    assert [p.id for p in shares.shared_view(libraries, made.secret).photos] == first  # the new photo stays out
    assert shares.share_search(home, "photos in Arezzo").photos == 3  # a new link sees it
    with pytest.raises(NotFound):
        shares.shared_photo(libraries, made.secret, later[0])
    assert shares.shared_photo(libraries, made.secret, first[0]) is home


def test_only_photos_are_shared_and_only_this_librarys(home, tmp_path, samples):
    chats = tmp_path / "chats.json"
    chats.write_text(json.dumps([{"id": "m1", "conversation": "Bob", "time": "2008-10-22T17:00:00",
                                  "sender": "Bob", "text": "see you in Arezzo"}]), encoding="utf-8")
    message = ingest.ingest_text(home, "chats", [chats]).item_ids[0]
    with pytest.raises(InvalidInput, match="not a photo"):
        shares.share_photo(home, message)
    with pytest.raises(NotFound):
        shares.share_photo(home, 99999)
    with pytest.raises(NotFound):
        shares.share_event(home, 99999)
    photo = add_photos(home, tmp_path / "p", samples, "DSCN0010.jpg")[0]
    with pytest.raises(InvalidInput, match="more than 366 days"):
        shares.share_photo(home, photo, expires="400d")
    assert shares.list_shares(home) == []  # nothing refused was made


def test_revoked_expired_and_removed(home, tmp_path, samples):
    photo = add_photos(home, tmp_path / "p", samples, "DSCN0010.jpg")[0]
    libraries = users.Libraries(home)
    kept, revoked, expired = (shares.share_photo(home, photo) for _ in range(3))
    first = shares.revoke_share(home, revoked.id)
    assert first.revoked and shares.revoke_share(home, revoked.id) == first  # revoking twice changes nothing
    with home.access.engine.begin() as conn:
        conn.execute(share_links.update().where(share_links.c.id == expired.id)
                     .values(expires_at=datetime(2000, 1, 1)))
    with pytest.raises(Gone, match="revoked"):
        shares.shared_view(libraries, revoked.secret)
    with pytest.raises(Gone, match="expired on 2000-01-01"):
        shares.shared_photo(libraries, expired.secret, photo)
    assert [p.id for p in shares.shared_view(libraries, kept.secret).photos] == [photo]
    states = {s.id: (s.revoked, s.expired) for s in shares.list_shares(home)}
    assert states == {kept.id: (False, False), revoked.id: (True, False), expired.id: (False, True)}
    for bad in ("", "dds_short", kept.secret + "x", "dds_" + "x" * 43):
        with pytest.raises(NotFound):
            shares.shared_view(libraries, bad)

    # A user's links are theirs: the owner cannot revoke them, and removing the user ends them.
    users.add_user(home, "bob")
    bob = users.user_context(home, "bob")
    try:
        bob_photo = add_photos(bob, tmp_path / "b", samples, "DSCN0012.jpg")[0]
        bobs = shares.share_photo(bob, bob_photo)
        assert [s.id for s in shares.list_shares(bob)] == [bobs.id]
        with pytest.raises(NotFound):
            shares.revoke_share(home, bobs.id)
        with pytest.raises(NotFound):
            shares.revoke_share(bob, kept.id)
        assert shares.shared_photo(libraries, bobs.secret, bob_photo).user.name == "bob"
    finally:
        bob.close()
    libraries.close()
    libraries = users.Libraries(home)
    users.remove_user(home, "bob")
    with pytest.raises(NotFound):
        shares.shared_view(libraries, bobs.secret)
    assert not (home.settings.library_dir / "users").exists() or not any((home.settings.library_dir / "users").iterdir())
    libraries.close()
