"""Encryption at rest, piece by piece: the keyring (passphrase and key file), sealed blobs
and SQLCipher files, on a real sample photo and a real FTS5 text index."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from deepdiary.core.errors import InvalidInput, LibraryLocked, WrongKey
from deepdiary.memory.blobs import BlobStore
from deepdiary.memory.sealing import (
    KEYRING, MAGIC, Keyring, SealBroken, Secret, check_sqlcipher_key, encrypt_sqlite_file, is_plain_sqlite,
    is_sealed, sqlite_connect,
)

PHRASE = "correct horse battery staple"


@pytest.fixture
def photo(samples) -> Path:
    return samples / "photos" / "exif-samples" / "jpg" / "gps" / "DSCN0010.jpg"


@pytest.fixture
def ring(tmp_path):
    return Keyring.create(tmp_path, Secret.passphrase(PHRASE))


def test_the_keyring_holds_no_key_or_passphrase_and_unlocks_only_with_the_passphrase(tmp_path, ring):
    created, key = ring
    text = (tmp_path / KEYRING).read_bytes()
    assert PHRASE.encode() not in text
    record = json.loads(text)
    assert record["kdf"]["name"] == "scrypt" and record["kdf"]["unlocks_with"] == "passphrase"
    sealed = key.seal(b"same data key?")
    again = Keyring.load(tmp_path).unlock(Secret.passphrase(PHRASE))
    assert again.open(sealed) == b"same data key?"
    with pytest.raises(WrongKey, match="wrong passphrase"):
        Keyring.load(tmp_path).unlock(Secret.passphrase(PHRASE + "!"))
    with pytest.raises(LibraryLocked, match="DEEPDIARY_PASSPHRASE"):
        Keyring.load(tmp_path).unlock(None)
    assert (tmp_path / KEYRING).read_bytes() == text  # a failed unlock writes nothing


def test_rewrapping_keeps_the_data_key_and_retires_the_old_passphrase(tmp_path, ring, photo):
    created, key = ring
    sealed = key.seal(photo.read_bytes())
    created.rewrap(Secret.passphrase(PHRASE), Secret.passphrase("a new one"))
    loaded = Keyring.load(tmp_path)
    with pytest.raises(WrongKey):
        loaded.unlock(Secret.passphrase(PHRASE))
    assert loaded.unlock(Secret.passphrase("a new one")).open(sealed) == photo.read_bytes()
    with pytest.raises(WrongKey):  # the old one cannot re-wrap either
        loaded.rewrap(Secret.passphrase(PHRASE), Secret.passphrase("mine now"))


def test_a_key_file_unlocks_and_must_hold_enough_random_bytes(tmp_path):
    key_file = tmp_path / "library.key"
    key_file.write_bytes(hashlib.sha256(b"test key file").digest() * 2)
    (tmp_path / "lib").mkdir()
    ring, key = Keyring.create(tmp_path / "lib", Secret.key_file(key_file))
    assert ring.unlocks_with == "key-file"
    assert Keyring.load(tmp_path / "lib").unlock(Secret.key_file(key_file)).open(key.seal(b"x")) == b"x"
    other = tmp_path / "other.key"
    other.write_bytes(hashlib.sha256(b"another").digest())
    with pytest.raises(WrongKey, match="wrong key file"):
        ring.unlock(Secret.key_file(other))
    with pytest.raises(WrongKey, match="unlocked by a key file, not a passphrase"):
        ring.unlock(Secret.passphrase(PHRASE))
    short = tmp_path / "short.key"
    short.write_bytes(b"too short")
    with pytest.raises(InvalidInput, match="at least 32"):
        Secret.key_file(short)
    with pytest.raises(InvalidInput, match="missing.key"):
        Secret.key_file(tmp_path / "missing.key")
    with pytest.raises(InvalidInput, match="empty"):
        Secret.passphrase("")


def test_sealing_uses_a_fresh_nonce_each_time_and_detects_tampering(ring, photo):
    _, key = ring
    data = photo.read_bytes()
    one, two = key.seal(data), key.seal(data)
    assert one != two and one.startswith(MAGIC) and one[len(MAGIC):len(MAGIC) + 12] != two[len(MAGIC):len(MAGIC) + 12]
    assert key.open(one) == key.open(two) == data
    assert b"\xff\xd8\xff" not in one[:64] and b"Exif" not in one and b"NIKON" not in one
    torn = bytearray(one)
    torn[len(one) // 2] ^= 1
    with pytest.raises(SealBroken):
        key.open(bytes(torn))
    assert key.open(data) == data  # a blob an interrupted pass has not reached yet reads as it is


def test_a_sealed_blob_store_names_blobs_by_the_plaintext_and_reads_them_back(tmp_path, ring, photo):
    _, key = ring
    store = BlobStore(tmp_path / "blobs", key)
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    stored = store.put_file(photo, sha, ".jpg")
    assert stored.name == f"{sha}.jpg" and is_sealed(stored)
    assert store.read(stored) == photo.read_bytes() and store.sha256_of(stored) == sha
    with Image.open(photo) as img:
        img.thumbnail((64, 64))
        thumb = store.put_thumbnail(sha, img)
    assert is_sealed(thumb) and b"WEBP" not in thumb.read_bytes()
    with Image.open(store.image_source(thumb)) as img:
        assert img.format == "WEBP" and max(img.size) == 64
    plain = BlobStore(tmp_path / "plain")
    assert plain.image_source(stored) == stored and not is_sealed(plain.put_file(photo, sha, ".jpg"))


def _fts_file(path: Path, words: str) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE VIRTUAL TABLE docs USING fts5(text)")
    con.execute("INSERT INTO docs VALUES (?)", (words,))
    con.execute("PRAGMA user_version = 7")
    con.commit()
    con.close()


def test_a_plain_sqlite_file_becomes_sqlcipher_in_place_and_only_its_key_opens_it(tmp_path, ring):
    _, key = ring
    path = tmp_path / "text_index.db"
    _fts_file(path, "meet me under the lantern festival bridge")
    assert encrypt_sqlite_file(path, key) and not is_plain_sqlite(path)
    assert not encrypt_sqlite_file(path, key)  # done already: nothing to do
    assert sorted(p.name for p in tmp_path.iterdir()) == [KEYRING, "text_index.db"]  # no WAL, no temp copy left
    assert b"lantern" not in path.read_bytes()
    con = sqlite_connect(path, key)
    assert con.execute("SELECT text FROM docs WHERE docs MATCH 'lantern'").fetchall() == [
        ("meet me under the lantern festival bridge",)]
    assert con.execute("PRAGMA user_version").fetchone() == (7,)
    con.close()
    check_sqlcipher_key(path, key)
    (tmp_path / "other").mkdir()
    _, other = Keyring.create(tmp_path / "other", Secret.passphrase("another library"))
    with pytest.raises(WrongKey):
        check_sqlcipher_key(path, other)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(path).execute("SELECT * FROM docs")


def test_secrets_never_show_in_a_repr(ring):
    _, key = ring
    assert PHRASE not in repr(Secret.passphrase(PHRASE)) and "hidden" in repr(key)
    assert key.sqlcipher_key not in repr(key)


def test_image_source_of_a_sealed_thumbnail_is_in_memory(tmp_path, ring, photo):
    _, key = ring
    store = BlobStore(tmp_path / "blobs", key)
    source = store.image_source(store.put_bytes(tmp_path / "blobs" / "x.bin", photo.read_bytes()))
    assert isinstance(source, BytesIO) and source.getvalue() == photo.read_bytes()
