"""Encryption at rest: the library's data key, the keyring file that wraps it, sealed blobs
and SQLCipher connections. Every other module asks this one.

- The **data key** is 32 random bytes made once per library. Two keys are derived from it
  (HKDF-SHA256): one seals blobs with AES-256-GCM, one is the raw SQLCipher key of the
  catalogue and the text index.
- The **keyring** (``keyring.json`` in the library folder) holds the data key wrapped
  (AES-256-GCM) by a key derived from the passphrase (scrypt) or from a key file (HKDF),
  with the KDF's parameters. The GCM tag of the wrapped key is the check value: a wrong
  passphrase fails to unwrap and nothing is changed. Changing the passphrase re-wraps the
  data key; no blob is touched. The passphrase is never stored.
- A **sealed blob** is ``MAGIC | nonce (12 random bytes) | ciphertext+tag``. Names (the
  sha256 of the plaintext) and content ids do not change when a blob is sealed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from deepdiary.core.errors import InvalidInput, LibraryLocked, WrongKey

KEYRING = "keyring.json"
MAGIC = b"DDSEAL1\x00"
NONCE_BYTES = 12
KEY_BYTES = 32
MIN_KEY_FILE_BYTES = 32
SQLITE_HEADER = b"SQLite format 3\x00"
# scrypt at 2^15 x 8: 32 MiB and about 0.1 s per unlock, OWASP's minimum for scrypt.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
_WRAP_AAD = b"deepdiary keyring v1 "

ENCRYPTING, ENCRYPTED = "encrypting", "encrypted"


@dataclass(frozen=True)
class Secret:
    """What unlocks a library: a passphrase or the bytes of a key file (never shown in a repr)."""

    kind: str  # "passphrase" or "key-file"
    value: bytes = field(repr=False)

    @classmethod
    def passphrase(cls, text: str) -> "Secret":
        if not text:
            raise InvalidInput("the passphrase is empty")
        return cls("passphrase", unicodedata.normalize("NFC", text).encode("utf-8"))

    @classmethod
    def key_file(cls, path: Path) -> "Secret":
        path = Path(path).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"--key-file {path}: {exc.strerror or exc}") from None
        if len(data) < MIN_KEY_FILE_BYTES:
            raise InvalidInput(f"--key-file {path}: a key file holds at least {MIN_KEY_FILE_BYTES} random bytes "
                               f"(this one has {len(data)}); make one with `head -c 32 /dev/urandom > FILE`")
        return cls("key-file", data)


def _hkdf(key: bytes, info: bytes, salt: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=info).derive(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


class LibraryKey:
    """An unlocked library: seals and opens blobs, keys SQLCipher connections."""

    def __init__(self, data_key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._data_key = data_key
        self._aead = AESGCM(_hkdf(data_key, b"deepdiary blobs"))
        self._sqlcipher = _hkdf(data_key, b"deepdiary sqlcipher").hex()

    def __repr__(self) -> str:
        return "LibraryKey(<hidden>)"

    @property
    def sqlcipher_key(self) -> str:
        """The value of ``PRAGMA key``: a raw 256-bit key, so SQLCipher runs no KDF of its own."""
        return f"\"x'{self._sqlcipher}'\""

    def seal(self, data: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return MAGIC + nonce + self._aead.encrypt(nonce, data, MAGIC)

    def open(self, data: bytes) -> bytes:
        """The plaintext of a sealed blob; bytes that were never sealed (a blob not yet reached by
        an interrupted ``encrypt`` pass) come back as they are."""
        if not data.startswith(MAGIC):
            return data
        from cryptography.exceptions import InvalidTag

        start = len(MAGIC)
        try:
            return self._aead.decrypt(data[start:start + NONCE_BYTES], data[start + NONCE_BYTES:], MAGIC)
        except InvalidTag:
            raise SealBroken("a sealed blob does not open: damaged on disk, or sealed by another library's key") \
                from None


class SealBroken(ValueError):
    """A sealed blob whose tag does not match (damaged, or another key's)."""


def is_sealed(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


def is_plain_sqlite(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(len(SQLITE_HEADER)) == SQLITE_HEADER


def _kek(secret: Secret, kdf: dict) -> bytes:
    salt = _unb64(kdf["salt"])
    if kdf["name"] == "scrypt":
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=KEY_BYTES, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(secret.value)
    if kdf["name"] == "hkdf-sha256":
        return _hkdf(secret.value, b"deepdiary key file", salt)
    raise InvalidInput(f"keyring: unknown key derivation {kdf['name']!r}")


def _new_kdf(secret: Secret) -> dict:
    salt = _b64(secrets.token_bytes(16))
    if secret.kind == "passphrase":
        return {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt, "unlocks_with": "passphrase"}
    return {"name": "hkdf-sha256", "salt": salt, "unlocks_with": "key-file"}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Keyring:
    """The library's ``keyring.json``: the wrapped data key and how to unwrap it."""

    def __init__(self, path: Path, record: dict):
        self.path = path
        self.record = record

    @classmethod
    def load(cls, folder: Path) -> "Keyring | None":
        path = Path(folder) / KEYRING
        try:
            return cls(path, json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{path}: not a readable keyring ({exc})") from None

    @classmethod
    def create(cls, folder: Path, secret: Secret) -> tuple["Keyring", LibraryKey]:
        """A new data key, wrapped by ``secret``; the library is marked as being encrypted."""
        data_key = secrets.token_bytes(KEY_BYTES)
        ring = cls(Path(folder) / KEYRING, {"version": 1, "cipher": "AES-256-GCM", "state": ENCRYPTING})
        ring._wrap(data_key, secret)
        ring.save()
        return ring, LibraryKey(data_key)

    @property
    def state(self) -> str:
        return self.record.get("state", ENCRYPTED)

    @property
    def unlocks_with(self) -> str:
        return self.record["kdf"]["unlocks_with"]

    def _wrap(self, data_key: bytes, secret: Secret) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kdf = _new_kdf(secret)
        nonce = secrets.token_bytes(NONCE_BYTES)
        wrapped = AESGCM(_kek(secret, kdf)).encrypt(nonce, data_key, _WRAP_AAD + secret.kind.encode())
        self.record.update(kdf=kdf, wrapped_key=_b64(nonce + wrapped))

    def unlock(self, secret: Secret | None) -> LibraryKey:
        """The data key, unwrapped by ``secret``; ``WrongKey`` when it does not fit."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        wanted = self.unlocks_with
        if secret is None:
            how = ("DEEPDIARY_PASSPHRASE" if wanted == "passphrase" else "--key-file FILE (or DEEPDIARY_KEY_FILE)")
            raise LibraryLocked(f"the library at {self.path.parent} is encrypted: give its {wanted.replace('-', ' ')} "
                                f"({how})")
        if secret.kind != wanted:
            raise WrongKey(f"the library at {self.path.parent} is unlocked by a {wanted.replace('-', ' ')}, "
                           f"not a {secret.kind.replace('-', ' ')}")
        blob = _unb64(self.record["wrapped_key"])
        try:
            data_key = AESGCM(_kek(secret, self.record["kdf"])).decrypt(
                blob[:NONCE_BYTES], blob[NONCE_BYTES:], _WRAP_AAD + secret.kind.encode())
        except InvalidTag:
            raise WrongKey(f"wrong {secret.kind.replace('-', ' ')} for the library at {self.path.parent}") from None
        return LibraryKey(data_key)

    def rewrap(self, old: Secret, new: Secret) -> None:
        """Wrap the data key by ``new`` instead of ``old`` (which must unlock it); blobs are untouched."""
        key = self.unlock(old)
        self._wrap(key._data_key, new)
        self.save()

    def mark(self, state: str) -> None:
        self.record["state"] = state
        self.save()

    def save(self) -> None:
        _write_atomic(self.path, json.dumps(self.record, indent=2).encode("utf-8"))


# -- SQLCipher ----------------------------------------------------------------------------


def sqlite_connect(path, key: LibraryKey | None, **kwargs):
    """A DB-API connection to the SQLite file ``path``: SQLCipher keyed by ``key`` before anything
    else is read, or the standard library's sqlite3 when the library is not encrypted."""
    if key is None:
        return sqlite3.connect(path, **kwargs)
    import sqlcipher3

    con = sqlcipher3.connect(str(path), **kwargs)
    con.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our error to report, not stderr noise
    con.execute(f"PRAGMA key = {key.sqlcipher_key}")
    return con


def check_sqlcipher_key(path: Path, key: LibraryKey) -> None:
    """``WrongKey`` when ``key`` does not open the SQLCipher file ``path``."""
    import sqlcipher3

    con = sqlite_connect(path, key)
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError:
        raise WrongKey(f"{path.name} does not open with this library's key (a damaged file, or another "
                       "library's)") from None
    finally:
        con.close()


def encrypt_sqlite_file(path: Path, key: LibraryKey) -> bool:
    """Turn the plain SQLite file ``path`` into SQLCipher in place (False when it already is).
    The encrypted copy is written beside it and renamed over it, so a kill leaves either."""
    if not path.exists() or not is_plain_sqlite(path):
        return False
    import sqlcipher3

    plain = sqlite3.connect(path)
    try:
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute("PRAGMA journal_mode=DELETE")  # the WAL folded in and removed
    finally:
        plain.close()
    tmp = path.with_name(f".{path.name}.encrypting")
    tmp.unlink(missing_ok=True)
    con = sqlcipher3.connect(str(path))
    try:
        con.execute(f"ATTACH DATABASE '{tmp}' AS sealed KEY {key.sqlcipher_key}")
        con.execute("SELECT sqlcipher_export('sealed')")
        version = con.execute("PRAGMA user_version").fetchone()[0]
        con.execute(f"PRAGMA sealed.user_version = {int(version)}")
        con.execute("DETACH DATABASE sealed")
    finally:
        con.close()
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    for side in ("-wal", "-shm", "-journal"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    return True
