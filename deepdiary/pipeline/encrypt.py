"""The encryption pass: a plain library's files encrypted in place, resumably.

Every step looks at the file itself to know whether it is done (an SQLite header, a sealed
blob's magic, a marker in the vector folder) and replaces a file only through a rename,
so a pass killed at any point and run again finishes the library; the keyring says
``encrypting`` until the last step, and a library in that state does not open.

Order: the catalogue and the text index (SQLCipher), the blobs (sealed one by one), the
other private files in the library folder (collages, uploads), then the vector folder,
rebuilt without the text metadata (senders, conversation names, sources) Chroma kept.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from deepdiary.core.processes import process_alive, this_host
from deepdiary.memory.blobs import TEMP_PREFIX, BlobStore, temp_writer
from deepdiary.memory.sealing import ENCRYPTED, Keyring, LibraryKey, encrypt_sqlite_file, is_sealed

SQLITE_FILES = ("catalogue.db", "text_index.db")
PRIVATE_FOLDERS = ("blobs", "collages", "uploads")
VECTORS = "vectors"
VECTORS_DONE = ".no-text-metadata"  # in the vector folder: rebuilt without text metadata

Progress = Callable[[str, int, int], None]


@dataclass
class EncryptCounts:
    databases: int = 0
    sealed_files: int = 0
    already_sealed: int = 0
    temp_files_removed: int = 0
    vectors_rebuilt: bool = False
    by_folder: dict[str, int] = field(default_factory=dict)


def encrypt_in_place(folder: Path, ring: Keyring, key: LibraryKey, progress: Progress | None = None) -> EncryptCounts:
    counts = EncryptCounts()
    for name in SQLITE_FILES:
        if encrypt_sqlite_file(folder / name, key):
            counts.databases += 1
    store = BlobStore(folder / "blobs", key)
    for sub in PRIVATE_FOLDERS:
        files = sorted(p for p in (folder / sub).rglob("*") if p.is_file()) if (folder / sub).is_dir() else []
        for done, path in enumerate(files, 1):
            _seal_one(store, path, counts, sub)
            if progress:
                progress(sub, done, len(files))
    if ring.record.get("vectors") != "sealed":
        counts.vectors_rebuilt = rebuild_vectors_without_text(folder)
        ring.record["vectors"] = "sealed"
        ring.save()
    ring.mark(ENCRYPTED)
    return counts


def _seal_one(store: BlobStore, path: Path, counts: EncryptCounts, folder: str) -> None:
    if path.name.startswith((TEMP_PREFIX, ".part-")):
        # A killed writer's temp file (an ingest's, or this pass's own): plaintext, or a sealed
        # copy not yet renamed. A live writer's is left alone.
        writer = temp_writer(path)
        if writer is None or writer[1] != this_host() or writer[0] == os.getpid() or not process_alive(writer[0]):
            path.unlink(missing_ok=True)
            counts.temp_files_removed += 1
        return
    if is_sealed(path):
        counts.already_sealed += 1
        return
    store.put_bytes(path, path.read_bytes())
    counts.sealed_files += 1
    counts.by_folder[folder] = counts.by_folder.get(folder, 0) + 1


def rebuild_vectors_without_text(folder: Path) -> bool:
    """The vector folder copied collection by collection into a new one, with the ids and
    vectors but not the text collection's metadata (Chroma's log and free pages would keep
    what an update removed), then swapped in by renames. False when it was done before."""
    from deepdiary.memory.text_index import TEXTS
    from deepdiary.memory.vectors import LocalVectors, close_client

    current, fresh, stale = folder / VECTORS, folder / f"{VECTORS}.sealing", folder / f"{VECTORS}.plain"
    if (current / VECTORS_DONE).exists() and not fresh.exists():
        shutil.rmtree(stale, ignore_errors=True)
        return False
    if not (fresh / VECTORS_DONE).exists():
        shutil.rmtree(fresh, ignore_errors=True)  # a copy a killed pass left half-made
        if current.is_dir():
            source, target = LocalVectors(current), LocalVectors(fresh, scrub_unused=True)
            try:
                for name in source.names():
                    target.collection(name)
                    for ids, vectors, metas in source.batches(name, metadatas=name != TEXTS):
                        target.upsert(name, ids, vectors, metas)
            finally:
                close_client(source)
                close_client(target)
        fresh.mkdir(parents=True, exist_ok=True)
        (fresh / VECTORS_DONE).touch()
    if current.exists():
        os.rename(current, stale)
    os.rename(fresh, current)
    shutil.rmtree(stale, ignore_errors=True)
    return True
