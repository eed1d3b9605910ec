"""Encryption at rest as user actions: create an encrypted library, encrypt one in place,
change what unlocks it; and ``unlock``, which ``AppContext`` calls when it opens a library.

What unlocks a library comes from the settings (``DEEPDIARY_PASSPHRASE``, or
``--key-file`` / ``DEEPDIARY_KEY_FILE``) or, when neither is set, from the interface's
prompt (``AppContext.ask_secret``), which the CLI offers only on a terminal.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from deepdiary.core.errors import Conflict, InvalidInput, LibraryLocked
from deepdiary.core.progress import ProgressFn
from deepdiary.core.settings import Settings
from deepdiary.memory.access import ACCESS_DB
from deepdiary.memory.sealing import ENCRYPTED, Keyring, LibraryKey, Secret
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import EncryptionResult


def _given_secret(settings: Settings) -> Secret | None:
    if settings.key_file is not None:
        return Secret.key_file(settings.key_file)
    if settings.passphrase is not None:
        return Secret.passphrase(settings.passphrase.get_secret_value())
    return None


def _secret(settings: Settings, ask, prompt: str, confirm: bool = False) -> Secret | None:
    given = _given_secret(settings)
    if given is None and ask is not None:
        typed = ask(prompt, confirm)
        if typed:
            return Secret.passphrase(typed)
    return given


def unlock(settings: Settings, ask=None) -> LibraryKey | None:
    """The data key of the encrypted library the settings name; None when it is not encrypted."""
    folder = settings.library_dir
    ring = Keyring.load(folder) if folder.is_dir() else None
    if ring is None:
        return None
    secret = _given_secret(settings)
    if secret is None and ask is not None and ring.unlocks_with == "passphrase":
        secret = _secret(settings, ask, f"Passphrase of {folder}")
    return ring.unlock(secret)


def _sqlite_only(ctx: AppContext) -> None:
    if ctx.settings.database_url is not None:
        raise InvalidInput("encryption at rest needs the library's own SQLite catalogue (SQLCipher); "
                           "this one is at database_url")
    if ctx.settings.chroma_url is not None:
        raise InvalidInput("encryption at rest keeps the vectors in the library's own folder (their unused "
                           "slots scrubbed); these are on the Chroma server at chroma_url")


def _no_secret(folder: Path) -> LibraryLocked:
    return LibraryLocked(f"encrypting {folder} needs a passphrase or key file: set DEEPDIARY_PASSPHRASE, pass "
                         "--key-file FILE, or run it in a terminal to type one")


def init_library(ctx: AppContext, encrypt: bool = False) -> EncryptionResult:
    """Create the library (``encrypt``: an encrypted one, from its first byte)."""
    folder = ctx.settings.library_dir
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"library: {folder} is a file, not a folder")
    ring = Keyring.load(folder) if folder.is_dir() else None
    existed = (folder / "catalogue.db").exists()
    if encrypt and ring is None:
        _sqlite_only(ctx)
        if existed:
            raise Conflict(f"a library is already at {folder}; run `deepdiary encrypt` to encrypt it in place")
        secret = _secret(ctx.settings, ctx.ask_secret, f"New passphrase for {folder}", confirm=True)
        if secret is None:
            raise _no_secret(folder)
        folder.mkdir(parents=True, exist_ok=True)
        ring, ctx.key = Keyring.create(folder, secret)
        _finish_new(ring)
    elif encrypt and ring.state != ENCRYPTED and not existed:
        # An init killed between writing the keyring and marking it: nothing else was written.
        ctx.key = ring.unlock(_secret(ctx.settings, ctx.ask_secret, f"Passphrase of {folder}"))
        _finish_new(ring)
    ctx.library  # noqa: B018 - opens (unlocking) and creates the catalogue
    return EncryptionResult(id=str(folder), library=str(folder), encrypted=ring is not None,
                            unlocks_with=ring.unlocks_with if ring else None, already=existed)


def _finish_new(ring: Keyring) -> None:
    ring.record["vectors"] = "sealed"  # a new library never writes text metadata to Chroma
    ring.mark(ENCRYPTED)


def encrypt_library(ctx: AppContext, progress: ProgressFn | None = None) -> EncryptionResult:
    """Encrypt the existing library in place: catalogue and text index to SQLCipher, every blob
    sealed, the vector folder rebuilt without text. Resumable: a run that was killed is finished
    by running it again with the same passphrase. Stop the server and other commands first."""
    from deepdiary.pipeline.encrypt import encrypt_in_place

    folder = ctx.settings.library_dir
    _sqlite_only(ctx)
    if ctx.settings.s3_bucket:
        raise InvalidInput(f"encrypting in place seals the blobs in the library's folder; this library's are in the "
                           f"S3 bucket {ctx.settings.s3_bucket}: `deepdiary init --encrypt` a new library (its blobs "
                           "are sealed before they are uploaded) and ingest into it")
    if not (folder / "catalogue.db").exists():
        raise InvalidInput(f"no library at {folder}; `deepdiary init --encrypt` makes a new encrypted one")
    ring = Keyring.load(folder)
    if ring is not None and ring.state == ENCRYPTED:
        return EncryptionResult(id=str(folder), library=str(folder), encrypted=True, unlocks_with=ring.unlocks_with,
                                already=True)
    if (folder / ACCESS_DB).exists() and ctx.access.users():
        raise InvalidInput(f"{folder} has users, whose libraries cannot be encrypted yet; "
                           "`deepdiary user remove` them first, or keep this library unencrypted")
    with open(folder / ".encrypt.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"another `deepdiary encrypt` is running on {folder}") from None
        if ring is None:
            secret = _secret(ctx.settings, ctx.ask_secret, f"New passphrase for {folder}", confirm=True)
            if secret is None:
                raise _no_secret(folder)
            ring, key = Keyring.create(folder, secret)
        else:  # an interrupted pass: the same passphrase finishes it (a wrong one changes nothing)
            key = ring.unlock(_secret(ctx.settings, ctx.ask_secret, f"Passphrase of {folder}"))
        counts = encrypt_in_place(folder, ring, key, (lambda what, done, total: progress("encrypt", done, total, what))
                                  if progress else None)
    ctx.key = key
    return EncryptionResult(id=str(folder), library=str(folder), encrypted=True, unlocks_with=ring.unlocks_with,
                            counts={"databases": counts.databases, "sealed_files": counts.sealed_files,
                                    "already_sealed": counts.already_sealed,
                                    "temp_files_removed": counts.temp_files_removed,
                                    "vectors_rebuilt": int(counts.vectors_rebuilt)})


def change_secret(ctx: AppContext, new_key_file: Path | None = None,
                  new_passphrase: str | None = None) -> EncryptionResult:
    """Wrap the library's data key by a new passphrase (``new_passphrase``, else prompted for) or
    ``new_key_file``; the current one must unlock it first. No blob or database is rewritten."""
    folder = ctx.settings.library_dir
    ring = Keyring.load(folder) if folder.is_dir() else None
    if ring is None:
        raise InvalidInput(f"the library at {folder} is not encrypted; `deepdiary encrypt` encrypts it")
    old = _secret(ctx.settings, ctx.ask_secret, f"Current passphrase of {folder}")
    ring.unlock(old)  # a wrong one stops here, before anything is asked or written
    if new_key_file is not None:
        new = Secret.key_file(new_key_file)
    elif new_passphrase is not None:
        new = Secret.passphrase(new_passphrase)
    else:
        typed = ctx.ask_secret(f"New passphrase for {folder}", True) if ctx.ask_secret else None
        if not typed:
            raise InvalidInput("give --new-key-file FILE, or run it in a terminal to type the new passphrase")
        new = Secret.passphrase(typed)
    ring.rewrap(old, new)
    return EncryptionResult(id=str(folder), library=str(folder), encrypted=True, unlocks_with=ring.unlocks_with)


def open_library(ctx: AppContext) -> bool:
    """Open (and unlock, prompting if need be) the library now, not at the first request, as a
    server does at start; True when it is encrypted."""
    return ctx.library.encrypted
