"""Encryption at rest over real libraries (real photos enriched by the real models, a real
WeChat export, a named person): nothing under the library folder shows a caption, a chat
phrase, a name or a picture, and everything still works through the services and the API."""

from __future__ import annotations

import hashlib
import shutil
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from deepdiary.core.errors import Conflict, InvalidInput, LibraryLocked, WrongKey
from deepdiary.memory.sealing import KEYRING, is_plain_sqlite, is_sealed
from deepdiary.services import AppContext, encryption, ingest, maintenance, people, photos, search
from deepdiary.services.search import ChatSearch, PhotoSearch
from tests.library_builder import CHAT, build_library, file_hashes
from tests.sealed_library import CHAT_PHRASE, CHAT_QUESTIONS, PHRASE, leaks, library_files, sealed_settings

NAME = "Zebediah Quillfeather"
FRESH_PHOTOS = (("faces", "obama.jpg"), ("faces", "biden.jpg"), ("photos/exif-samples/jpg/gps", "DSCN0010.jpg"))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, samples) -> dict:
    """A library encrypted from its first byte: three photos, the chat export, one person named."""
    root = tmp_path_factory.mktemp("encrypted")
    (root / "photos").mkdir()
    for folder, name in FRESH_PHOTOS:
        shutil.copy(samples / folder / name, root / "photos" / name)
    ctx = AppContext(sealed_settings(root / "library"))
    try:
        made = encryption.init_library(ctx, encrypt=True)
        assert made.encrypted and made.unlocks_with == "passphrase" and not made.already
        report = ingest.ingest_photos(ctx, [root / "photos"])
        assert report.added == len(FRESH_PHOTOS) and report.enrich.failures == []
        assert ingest.ingest_text(ctx, "chats", [samples / CHAT]).added > 20
        person = people.list_people(ctx)[0]
        people.name_person(ctx, str(person.id), NAME)
        shown = [photos.show_item(ctx, i).root for i in report.item_ids]
    finally:
        ctx.close()
    captions = [s["description"] for s in shown if s.get("description")]
    assert captions, "the captioner gave no caption to look for"
    return {"folder": root / "library", "photos": root / "photos", "shown": shown, "captions": captions}


@pytest.fixture
def fresh_ctx(fresh):
    ctx = AppContext(sealed_settings(fresh["folder"]))
    yield ctx
    ctx.close()


def test_nothing_under_an_encrypted_library_shows_its_text_names_or_pictures(fresh):
    folder = fresh["folder"]
    assert (folder / KEYRING).is_file() and any(p.name == "chroma.sqlite3" for p in library_files(folder))
    # Not the tags: single English words, which the text model's vocabulary under models/ holds anyway.
    assert leaks(folder, [CHAT_PHRASE, NAME, *fresh["captions"]]) == []
    for db in ("catalogue.db", "text_index.db"):
        assert not is_plain_sqlite(folder / db)
    blobs = [p for p in library_files(folder / "blobs")]
    assert len(blobs) == 2 * len(FRESH_PHOTOS) and all(is_sealed(p) for p in blobs)
    # Content ids are those of the plaintext: the same photo has the same name and CID anywhere.
    for shown in fresh["shown"]:
        original = hashlib.sha256((fresh["photos"] / Path(shown["path"]).name).read_bytes()).hexdigest()
        assert shown["sha256"] == original and Path(shown["original"]).name.startswith(original)


def test_nor_do_its_write_ahead_logs_while_it_is_open(fresh, fresh_ctx, tmp_path):
    people.add_note(fresh_ctx, NAME, "resource", "fixes walnut fudge machines")
    assert CHAT_PHRASE in search.search_chats(fresh_ctx, ChatSearch(question=CHAT_PHRASE, limit=1))[0].text
    people.person_collage(fresh_ctx, NAME)
    folder = fresh["folder"]
    assert (folder / "catalogue.db-wal").exists() and (folder / "text_index.db-wal").exists()
    collages = list((folder / "collages").iterdir())
    assert len(collages) == 1 and is_sealed(collages[0])
    assert leaks(folder, [CHAT_PHRASE, NAME, "walnut fudge", "test_person", *fresh["captions"]]) == []
    with Image.open(BytesIO(people.collage_file(fresh_ctx, collages[0].name).data)) as img:
        assert img.format == "JPEG"


def test_an_encrypted_library_still_searches_shows_and_serves(fresh, fresh_ctx):
    hits = search.search_chats(fresh_ctx, ChatSearch(question=CHAT_PHRASE, limit=5))
    assert CHAT_PHRASE in hits[0].text
    named = search.search_photos(fresh_ctx, PhotoSearch(person=[NAME]))
    assert len(named.results) == 1
    item_id = named.results[0].id
    thumb = photos.photo_file(fresh_ctx, item_id, "thumbnail").data  # opened in memory, never on disk
    assert isinstance(thumb, bytes)
    with Image.open(BytesIO(thumb)) as img:
        assert img.format == "WEBP"
    original = photos.photo_file(fresh_ctx, item_id, "original").data
    assert original.startswith(b"\xff\xd8\xff")
    face = people.face_crop(fresh_ctx, photos.show_item(fresh_ctx, item_id).root["faces"][0]["id"])
    with Image.open(BytesIO(face)) as img:
        assert img.format == "JPEG"
    report = maintenance.check_library(fresh_ctx)
    assert report.ok and report.problems == []

    from deepdiary.api.app import create_app

    served = AppContext(sealed_settings(fresh["folder"]))
    with TestClient(create_app(served)) as client:  # unlocked once, at start
        got = client.get(f"/api/photos/{item_id}/thumbnail")
        assert got.status_code == 200 and got.headers["content-type"] == "image/webp" and got.content == thumb
        with Image.open(BytesIO(got.content)) as img:
            img.load()
        got = client.get(f"/api/photos/{item_id}/original")
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg" and got.content == original
        with Image.open(BytesIO(got.content)) as img:
            assert img.format == "JPEG"


def test_a_wrong_or_missing_passphrase_is_refused_and_changes_nothing(fresh):
    before = file_hashes(fresh["folder"])
    for passphrase, error in (("not the passphrase", WrongKey), (None, LibraryLocked)):
        ctx = AppContext(sealed_settings(fresh["folder"], passphrase))
        with pytest.raises(error):
            ctx.library  # noqa: B018
        with pytest.raises(error):
            encryption.change_secret(ctx, new_passphrase="taken over")
        ctx.close()
    assert file_hashes(fresh["folder"]) == before


def test_changing_the_passphrase_rewraps_the_key_and_rewrites_no_blob(fresh, tmp_path):
    folder = tmp_path / "library"
    shutil.copytree(fresh["folder"], folder)
    before = file_hashes(folder)
    ctx = AppContext(sealed_settings(folder))
    result = encryption.change_secret(ctx, new_passphrase="a brand new passphrase")
    ctx.close()
    assert result.encrypted and result.unlocks_with == "passphrase"
    after = file_hashes(folder)
    assert {k for k in before if before[k] != after.get(k)} == {KEYRING}
    with pytest.raises(WrongKey):
        AppContext(sealed_settings(folder)).library  # noqa: B018
    ctx = AppContext(sealed_settings(folder, "a brand new passphrase"))
    try:
        assert CHAT_PHRASE in search.search_chats(ctx, ChatSearch(question=CHAT_PHRASE, limit=3))[0].text
    finally:
        ctx.close()

    key_file = tmp_path / "library.key"
    key_file.write_bytes(hashlib.sha256(b"a key file of this test").digest())
    ctx = AppContext(sealed_settings(folder, "a brand new passphrase"))
    assert encryption.change_secret(ctx, new_key_file=key_file).unlocks_with == "key-file"
    ctx.close()
    ctx = AppContext(sealed_settings(folder, None, key_file=key_file))
    try:
        assert len(search.search_photos(ctx, PhotoSearch(person=[NAME])).results) == 1
    finally:
        ctx.close()


def _answers(ctx: AppContext) -> dict:
    """What a user would see from a few searches, by chat and photo ids, in order."""
    out = {q: [h.id for h in search.search_chats(ctx, ChatSearch(question=q, limit=10))] for q in CHAT_QUESTIONS}
    for name, params in (("all", PhotoSearch()), ("text", PhotoSearch(query="a man in a suit")),
                         ("near", PhotoSearch(near="43.46,11.88", radius=50)), ("like", PhotoSearch(like="1"))):
        out[name] = [r.id for r in search.search_photos(ctx, params).results]
    return out


@pytest.fixture(scope="module")
def plain(tmp_path_factory, samples) -> Path:
    return build_library(tmp_path_factory.mktemp("plain"), samples)


def test_encrypting_an_existing_library_keeps_every_answer_and_leaves_nothing_readable(plain, tmp_path):
    folder = tmp_path / "library"
    shutil.copytree(plain, folder)
    ctx = AppContext(sealed_settings(folder, None))
    before = _answers(ctx)
    with ctx.library.engine.connect() as con:
        captions = [r for (r,) in con.exec_driver_sql("SELECT description FROM photo_meta WHERE description != ''")]
    ctx.close()
    assert any(before[q] for q in CHAT_QUESTIONS) and before["all"] and before["near"] and captions

    ctx = AppContext(sealed_settings(folder))
    result = encryption.encrypt_library(ctx)
    assert result.encrypted and not result.already and result.counts["databases"] == 2
    assert result.counts["sealed_files"] == 10 and result.counts["vectors_rebuilt"] == 1
    ctx.close()
    assert leaks(folder, [CHAT_PHRASE, *captions]) == []

    ctx = AppContext(sealed_settings(folder))
    try:
        assert _answers(ctx) == before
        assert maintenance.check_library(ctx).ok
        again = encryption.encrypt_library(ctx)
        assert again.already and again.encrypted
    finally:
        ctx.close()
    with pytest.raises(LibraryLocked):
        AppContext(sealed_settings(folder, None)).library  # noqa: B018


def test_init_refuses_to_encrypt_over_an_existing_library_and_needs_a_secret(plain, tmp_path):
    ctx = AppContext(sealed_settings(plain))
    with pytest.raises(Conflict, match="deepdiary encrypt"):
        encryption.init_library(ctx, encrypt=True)
    ctx.close()
    ctx = AppContext(sealed_settings(tmp_path / "new", None))
    with pytest.raises(LibraryLocked, match="DEEPDIARY_PASSPHRASE"):
        encryption.init_library(ctx, encrypt=True)
    with pytest.raises(InvalidInput, match="not encrypted"):
        encryption.change_secret(ctx, new_passphrase="x")
    ctx.close()
    assert not (tmp_path / "new" / KEYRING).exists()


def test_a_backup_of_an_encrypted_library_is_encrypted_and_restores_with_the_same_passphrase(fresh, fresh_ctx,
                                                                                             tmp_path):
    backup = maintenance.backup_library(fresh_ctx, tmp_path / "backup")
    assert backup.counts["items_photo"] == len(FRESH_PHOTOS)
    assert leaks(tmp_path / "backup", [CHAT_PHRASE, NAME, *fresh["captions"]]) == []
    maintenance.restore_library(fresh_ctx, tmp_path / "backup", tmp_path / "restored")
    with pytest.raises(LibraryLocked):
        AppContext(sealed_settings(tmp_path / "restored", None)).library  # noqa: B018
    ctx = AppContext(sealed_settings(tmp_path / "restored"))
    try:
        assert CHAT_PHRASE in search.search_chats(ctx, ChatSearch(question=CHAT_PHRASE, limit=1))[0].text
        assert len(search.search_photos(ctx, PhotoSearch(person=[NAME])).results) == 1
        assert maintenance.check_library(ctx).ok
    finally:
        ctx.close()


def test_init_again_is_a_no_op_and_finishes_an_init_killed_after_the_keyring(fresh, tmp_path):
    ctx = AppContext(sealed_settings(fresh["folder"]))
    again = encryption.init_library(ctx, encrypt=True)
    ctx.close()
    assert again.already and again.encrypted
    from deepdiary.memory.sealing import Keyring, Secret

    folder = tmp_path / "killed"
    folder.mkdir()
    Keyring.create(folder, Secret.passphrase(PHRASE))  # what a kill right after the keyring leaves
    with pytest.raises(LibraryLocked, match="did not finish"):
        AppContext(sealed_settings(folder)).library  # noqa: B018
    ctx = AppContext(sealed_settings(folder))
    try:
        made = encryption.init_library(ctx, encrypt=True)
        assert made.encrypted and not made.already and not is_plain_sqlite(folder / "catalogue.db")
    finally:
        ctx.close()


def test_users_and_encryption_do_not_mix_until_user_libraries_are_sealed_too(fresh_ctx, tmp_path):
    from deepdiary.services import users

    # An encrypted library refuses a user, whose library would be stored in the clear.
    with pytest.raises(InvalidInput, match="cannot have users"):
        users.add_user(fresh_ctx, "alice")
    assert not (fresh_ctx.settings.library_dir / "users").exists()
    # A library with users is not encrypted over their heads: nothing changes.
    plain = AppContext(sealed_settings(tmp_path / "plain"))
    try:
        plain.library
        users.add_user(plain, "alice")
        # SQLite's -shm files are its readers' shared index, rewritten by any read: not data.
        def data_files():
            return {k: v for k, v in file_hashes(tmp_path / "plain").items() if not k.endswith("-shm")}

        before = data_files()
        with pytest.raises(InvalidInput, match="has users"):
            encryption.encrypt_library(plain)
        assert not (tmp_path / "plain" / KEYRING).exists() and data_files() == before
    finally:
        plain.close()
