"""Snapshots of a library folder that stay consistent while it is being written.

Each SQLite file (the catalogue, the text index, Chroma's own ``chroma.sqlite3``) is copied
through SQLite's online backup API, which gives one committed state even while another
process writes. Everything else is copied as files: blobs are named by their content, so
a copy is either the whole right file or absent, and a blob written after the catalogue
copy is at worst an orphan. The order matters: the catalogue first, then what is derived
from it, then the content. Every blob and vector the copied catalogue promises was written
before the transaction that made the promise committed, so it is in the later copies; what
they hold beyond that (work that committed after the catalogue copy) is dropped from the
snapshot by the caller (``LibraryChecker``'s repair of orphans).

The PostgreSQL catalogue is dumped with ``pg_dump`` instead. Vectors on a Chroma server
(``chroma_url``) are exported through its client into the snapshot's own vector folder,
so the backup holds the whole library and restores as one with its vectors in its folder;
the server's own files are the server's to back up.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from contextlib import nullcontext
from pathlib import Path

from deepdiary.core.errors import DeepDiaryError, InvalidInput
from deepdiary.memory.access import ACCESS_DB, USERS_DIR
from deepdiary.memory.sealing import sqlite_connect

CATALOGUE = "catalogue.db"
CATALOGUE_DUMP = "catalogue.sql"
TEXT_INDEX = "text_index.db"
VECTORS = "vectors"
BLOBS = "blobs"
CHROMA_SQLITE = "chroma.sqlite3"
MANIFEST = "manifest.json"
# Not copied: SQLite's side files (the backup API carries their committed content), the
# migration lock, and models/ (joined again from the installed packages on first use).
_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
_SKIPPED = {".migrate.lock", ".encrypt.lock", "models"}


def sqlite_copy(source: Path, dest: Path, key=None) -> None:
    """One committed state of the SQLite file ``source``, written to ``dest``. ``key``: both are
    SQLCipher files under the library's key (the copy is as encrypted as the original)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite_connect(source, key, timeout=30)
    try:
        out = sqlite_connect(dest, key)
        try:
            # All pages in one step: a step that sees a concurrent write starts again, so
            # small steps on a busy file might never finish.
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()


def seal(folder: Path, key=None) -> None:
    """Leave the snapshot's SQLite files whole, each one file: their WAL checkpointed into
    them and their journal mode DELETE (a library that opens them turns WAL on again)."""
    for name in (CATALOGUE, TEXT_INDEX, ACCESS_DB):
        path = folder / name
        if path.exists():
            con = sqlite_connect(path, key if name != ACCESS_DB else None)
            try:
                con.execute("PRAGMA journal_mode=DELETE")
            finally:
                con.close()
    for user in sorted(p for p in (folder / USERS_DIR).glob("*") if p.is_dir()):
        seal(user)  # a user's library has no key of the owner's


def pg_dump(url: str, dest: Path, schema: str | None = None) -> None:
    """The catalogue as SQL; ``schema``: the library's own, so a backup holds that library and
    none of the others sharing the database."""
    exe = shutil.which("pg_dump")
    if exe is None:
        raise DeepDiaryError("the catalogue is in PostgreSQL and pg_dump is not on PATH: install the "
                             "PostgreSQL client tools to back it up")
    libpq = url.replace("postgresql+psycopg://", "postgresql://").replace("postgresql+psycopg2://", "postgresql://")
    only = ["--schema", schema] if schema else []
    done = subprocess.run([exe, "--no-owner", *only, "--file", str(dest), libpq], capture_output=True, text=True)
    if done.returncode != 0:
        raise DeepDiaryError(f"pg_dump failed: {done.stderr.strip()[:500]}")


def _copy_files(source: Path, dest: Path, skip=lambda path: False) -> int:
    """Every file under ``source`` into ``dest`` (a file that vanishes meanwhile is left out)."""
    copied = 0
    for folder, dirs, files in os.walk(source):
        here = Path(folder)
        target = dest / here.relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            path = here / name
            if name.startswith(".tmp-") or name.startswith(".part-") or name.endswith(_SIDE_SUFFIXES) or skip(path):
                continue
            try:
                shutil.copy2(path, target / name)
                copied += 1
            except FileNotFoundError:  # removed by a concurrent repair or re-ingest
                pass
    return copied


def export_vectors(index, dest: Path) -> int:
    """Every collection of ``index`` (a ``VectorIndex``) written, through its client, into a
    new local vector folder ``dest``; returns the number of vectors."""
    from deepdiary.memory.vectors import LocalVectors, close_client

    target, written = LocalVectors(dest), 0
    try:
        for name in index.names():
            target.collection(name)
            for ids, vectors, metas in index.batches(name):
                target.upsert(name, ids, vectors, metas)
                written += len(ids)
    finally:
        close_client(target)
    return written


def snapshot(library_dir: Path, catalogue_url: str, dest: Path, vectors_lock=None, key=None, vectors=None,
             schema: str | None = None) -> dict:
    """Copy the library at ``library_dir`` into the new folder ``dest``; returns what was copied.
    ``vectors_lock``: held while Chroma's files are copied, so this process's writers wait.
    ``key``: an encrypted library's (its SQLite files are copied encrypted, its blobs sealed).
    ``vectors``: the library's ``VectorIndex``; one on a server (no ``folder``) is exported."""
    dest.mkdir(parents=True)
    copied = {"catalogue": "", "files": 0, "vectors": ""}
    if catalogue_url.startswith("sqlite"):
        sqlite_copy(Path(catalogue_url.split("///", 1)[1]), dest / CATALOGUE, key)
        copied["catalogue"] = CATALOGUE
    else:
        pg_dump(catalogue_url, dest / CATALOGUE_DUMP, schema)
        copied["catalogue"] = CATALOGUE_DUMP
    if (library_dir / TEXT_INDEX).exists():
        sqlite_copy(library_dir / TEXT_INDEX, dest / TEXT_INDEX, key)
    if vectors is not None and vectors.folder is None:
        # Not the library folder's vectors/ (a leftover from before the server, if any).
        with vectors_lock or nullcontext():
            copied["vectors_exported"] = export_vectors(vectors, dest / VECTORS)
        copied["vectors"] = f"exported from {vectors.location}"
    elif (library_dir / VECTORS).is_dir():
        folder = library_dir / VECTORS
        copied["vectors"] = "copied"
        with vectors_lock or nullcontext():
            # The HNSW segment files first, then the SQLite file that records how far they
            # go: Chroma replays from its log whatever a segment file had not persisted yet.
            copied["files"] += _copy_files(folder, dest / VECTORS, skip=lambda p: p.name == CHROMA_SQLITE)
            if (folder / CHROMA_SQLITE).exists():
                sqlite_copy(folder / CHROMA_SQLITE, dest / VECTORS / CHROMA_SQLITE)
    # The home's users: the access database and each user's library, copied as consistently
    # as the owner's (their SQLite files through the backup API, never file by file).
    if (library_dir / ACCESS_DB).exists():
        sqlite_copy(library_dir / ACCESS_DB, dest / ACCESS_DB)  # never encrypted: it holds only hashes
    for user in sorted(p for p in (library_dir / USERS_DIR).glob("*") if (p / CATALOGUE).is_file()):
        copied["files"] += snapshot(user, f"sqlite:///{user / CATALOGUE}", dest / USERS_DIR / user.name)["files"]
    for entry in sorted(library_dir.iterdir()):
        if entry.name in _SKIPPED or entry.name in (CATALOGUE, TEXT_INDEX, VECTORS, BLOBS, ACCESS_DB, USERS_DIR) \
                or entry.name.endswith(_SIDE_SUFFIXES):
            continue
        if entry.is_dir():
            copied["files"] += _copy_files(entry, dest / entry.name)
        elif entry.is_file():
            shutil.copy2(entry, dest / entry.name)
            copied["files"] += 1
    if (library_dir / BLOBS).is_dir():  # last: every blob the catalogue copy names is there by now
        copied["files"] += _copy_files(library_dir / BLOBS, dest / BLOBS)
    return copied


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_new_folder(path: Path, what: str) -> None:
    if path.exists():
        raise InvalidInput(f"{what} {path} already exists; name a new folder")
    if not path.parent.is_dir():
        raise InvalidInput(f"{what} {path}: the folder {path.parent} does not exist")


def copy_into(backup: Path, target: Path) -> None:
    """A backup's files (all but its manifest) into the empty folder ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(backup.iterdir()):
        if entry.name == MANIFEST:
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name)
        else:
            shutil.copy2(entry, target / entry.name)
