"""Users as a service: names, their own library folders, and tokens that lead to exactly one
library (and stop when revoked or when the user is removed)."""

from __future__ import annotations

import pytest

from deepdiary.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from deepdiary.core.settings import Settings
from deepdiary.services import AppContext, tokens, users


@pytest.fixture
def home(tmp_path):
    ctx = AppContext(Settings(home=tmp_path / "home", llm_backend="none"))
    yield ctx
    ctx.close()


def test_names_are_checked_and_unique_whatever_their_case(home):
    made = users.add_user(home, "  Zoë ")
    assert made.name == "Zoë" and made.token.startswith(tokens.PREFIX)
    for again in ("zoë", "ZOË"):
        with pytest.raises(Conflict):
            users.add_user(home, again)
    for bad, why in (("", "needs a name"), ("a\x00b", "control character"), ("x" * 65, "at most 64")):
        with pytest.raises(InvalidInput, match=why):
            users.add_user(home, bad)
    assert [u.name for u in users.list_users(home)] == ["Zoë"]
    with pytest.raises(NotFound, match="no user 'nobody'"):
        users.user_context(home, "nobody")


def test_a_users_library_is_their_own_folder_and_manages_no_users(home):
    made = users.add_user(home, "alice")
    alice = users.user_context(home, "ALICE")  # names are found case-insensitively
    try:
        assert alice.user.name == "alice"
        assert alice.settings.library_dir == home.settings.library_dir / "users" / f"alice-{made.id}"
        assert (alice.settings.library_dir / "catalogue.db").is_file()
        with pytest.raises(InvalidInput, match="home library"):
            users.add_user(alice, "mallory")
        with pytest.raises(InvalidInput, match="home library"):
            users.list_users(alice)
    finally:
        alice.close()


def test_a_token_opens_its_users_library_until_revoked_or_removed(home):
    alice = users.add_user(home, "alice")
    bob = users.add_user(home, "bob")
    libraries = users.Libraries(home)
    try:
        assert libraries.tokens_required()  # users exist: no token, no entry
        with pytest.raises(Unauthorized):
            libraries.for_token(None)
        assert libraries.for_token(alice.token).user.name == "alice"
        assert libraries.for_token(bob.token).user.name == "bob"
        bob_ctx = libraries.for_token(bob.token)
        second = tokens.create_token(bob_ctx, "phone")
        assert libraries.for_token(second.token) is bob_ctx
        tokens.revoke_token(bob_ctx, "phone")
        with pytest.raises(Unauthorized):
            libraries.for_token(second.token)
        assert libraries.for_token(bob.token) is bob_ctx  # his first token still works

        folder = libraries.for_token(alice.token).settings.library_dir
        gone = users.remove_user(home, "alice")
        assert gone.removed and not folder.exists()
        with pytest.raises(Unauthorized):
            libraries.for_token(alice.token)
        assert [u.name for u in users.list_users(home)] == ["bob"]
        with pytest.raises(NotFound):
            users.remove_user(home, "alice")
    finally:
        libraries.close()


def test_a_backup_of_the_home_keeps_every_users_library(home, tmp_path, samples):
    import shutil

    from deepdiary.services import ingest, maintenance

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("DSCN0010.jpg", "DSCN0012.jpg"):
        shutil.copy(samples / "photos/exif-samples/jpg/gps" / name, photos / name)
    ingest.ingest_photos(home, [photos / "DSCN0010.jpg"], enrich=False)
    alice = users.add_user(home, "alice")
    alice_ctx = users.user_context(home, "alice")
    try:
        # Open while the backup runs, as a server would hold it: her last writes may sit in the WAL.
        hers = ingest.ingest_photos(alice_ctx, [photos / "DSCN0012.jpg"], enrich=False).item_ids
        maintenance.backup_library(home, tmp_path / "backup")
    finally:
        alice_ctx.close()
    backup = tmp_path / "backup"
    assert not [p for p in backup.rglob("*") if p.name.endswith(("-wal", "-shm"))]
    maintenance.restore_library(home, backup, tmp_path / "restored")

    restored = AppContext(Settings(home=tmp_path / "restored", llm_backend="none"))
    libraries = users.Libraries(restored)
    try:
        again = libraries.for_token(alice.token)  # her token still leads to her library
        from deepdiary.services.search import PhotoSearch, search_photos

        assert again.user.name == "alice"
        assert [r.id for r in search_photos(again, PhotoSearch()).results] == hers
        assert len(search_photos(restored, PhotoSearch()).results) == 1  # the owner's one photo
    finally:
        libraries.close()
        restored.close()
