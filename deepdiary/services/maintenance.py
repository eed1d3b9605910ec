"""Keeping a library sound: check (and repair) it, back it up, restore a backup."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from deepdiary.core.errors import DeepDiaryError, InvalidInput
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import BackupResult, CheckProblem, CheckReport, RestoreResult

BACKUP_VERSION = 1


def _existing_library(ctx: AppContext) -> None:
    folder = ctx.settings.library_dir
    if not folder.is_dir() or (ctx.settings.database_url is None and not (folder / "catalogue.db").exists()):
        raise InvalidInput(f"no library at {folder}")


def check_library(ctx: AppContext, repair: bool = False) -> CheckReport:
    """Compare blobs, thumbnails, the vector index and the text index with the catalogue;
    with ``repair``, fix what can be fixed. Without it nothing in the library is written."""
    from deepdiary.pipeline.library_check import LibraryChecker

    _existing_library(ctx)
    checker = LibraryChecker(ctx.library)
    outcome = checker.check()
    if repair and outcome.findings:
        checker.repair(outcome.findings)
    problems = [CheckProblem(id=f.id, kind=f.kind, item_id=f.item_id, file=f.file, detail=f.detail,
                             repairable=f.repairable, repaired=f.repaired, action=f.action)
                for f in outcome.findings]
    return CheckReport(id="check", library=str(ctx.settings.library_dir), ok=all(p.repaired for p in problems),
                       repair=repair, counts=outcome.counts, problems=problems)


def backup_library(ctx: AppContext, out: Path) -> BackupResult:
    """A consistent snapshot of the whole library in the new folder ``out``, safe to take
    while a server or an ingest writes. It is built in a hidden folder beside ``out`` and
    renamed at the end, so an interrupted backup never looks finished."""
    from deepdiary.memory.backup import CATALOGUE, MANIFEST, check_new_folder, seal, sha256_of, snapshot
    from deepdiary.pipeline.library_check import LibraryChecker

    _existing_library(ctx)
    out = Path(out).expanduser().resolve()
    check_new_folder(out, "backup")
    if out.is_relative_to(ctx.settings.library_dir):
        raise InvalidInput(f"backup {out} is inside the library; name a folder outside {ctx.settings.library_dir}")
    library = ctx.library
    work = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        staging = work / "library"
        copied = snapshot(ctx.settings.library_dir, ctx.settings.catalogue_url, staging,
                          vectors_lock=library.vectors._lock, key=library.key, vectors=library.vectors,
                          schema=ctx.settings.catalogue_schema)
        counts: dict[str, int] = {"files": copied["files"]}
        if library.blobs.local_root is None:  # blobs in S3: downloaded (as stored, sealed or not) last
            counts["blobs_downloaded"] = library.blobs.copy_into(staging / "blobs")
        if "vectors_exported" in copied:
            counts["vectors_exported"] = copied["vectors_exported"]
        reconciled = 0
        if copied["catalogue"] == CATALOGUE:
            # What committed after the catalogue was copied (a blob, a vector, a text entry)
            # is dropped from the snapshot, so it is exactly the catalogue copy's library.
            # Its own folder's vectors too (a server's were exported into it): never the
            # server's, where the repair below would delete the live library's vectors.
            snap = AppContext(ctx.settings.model_copy(update={"home": staging, "database_url": None,
                                                              "chroma_url": None, "s3_bucket": None}),
                              ctx.models)
            snap.key = library.key  # an encrypted library's snapshot opens with the same key
            try:
                checker = LibraryChecker(snap.library, orphan_grace_seconds=0)  # nobody writes a snapshot
                outcome = checker.check()
                checker.repair(outcome.findings, drain=False)
                reconciled = sum(f.repaired for f in outcome.findings)
                counts.update(outcome.counts)
            finally:
                snap.close()
            counts.update(_item_counts(staging / CATALOGUE, library.key))
            seal(staging, library.key)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        digest = sha256_of(staging / copied["catalogue"])
        manifest = {"version": BACKUP_VERSION, "created": created, "library": str(ctx.settings.library_dir),
                    "catalogue": copied["catalogue"], "catalogue_sha256": digest, "counts": counts,
                    "vectors": copied["vectors"]}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.rename(staging, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BackupResult(id=str(out), path=str(out), created=created, catalogue_sha256=digest, counts=counts,
                        reconciled=reconciled)


def _item_counts(catalogue: Path, key=None) -> dict[str, int]:
    from deepdiary.memory.sealing import sqlite_connect

    con = sqlite_connect(catalogue, key)
    try:
        counts = {f"items_{kind}": n for kind, n in con.execute("SELECT kind, count(*) FROM items GROUP BY kind")}
        counts["people"] = con.execute("SELECT count(*) FROM people").fetchone()[0]
        return counts
    finally:
        con.close()


def restore_library(ctx: AppContext, backup: Path, target: Path | None = None) -> RestoreResult:
    """Restore ``backup`` into ``target`` (the context's library folder by default), which
    must be empty or not exist yet; the backup's catalogue is checked against its manifest first."""
    from deepdiary.memory.backup import CATALOGUE, MANIFEST, copy_into, sha256_of

    backup = Path(backup).expanduser().resolve()
    target = Path(target).expanduser().resolve() if target is not None else ctx.settings.library_dir
    manifest_path = backup / MANIFEST
    if not manifest_path.is_file():
        raise InvalidInput(f"{backup} is not a Deep Diary backup (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{manifest_path}: not a readable manifest ({exc})") from None
    if manifest.get("version") != BACKUP_VERSION:
        raise InvalidInput(f"{backup}: backup version {manifest.get('version')!r}, this Deep Diary reads "
                           f"version {BACKUP_VERSION}")
    if manifest.get("catalogue") != CATALOGUE:
        raise InvalidInput(f"{backup}: its catalogue is a PostgreSQL dump; load {manifest.get('catalogue')} with "
                           "psql, then copy the rest of the folder into the library folder")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInput(f"{target} is not empty; restore into a new or empty folder")
    if sha256_of(backup / CATALOGUE) != manifest.get("catalogue_sha256"):
        raise DeepDiaryError(f"{backup}: the catalogue does not match the manifest's sha256 (a damaged backup)")
    # Copied beside the target and renamed at the end: an interrupted restore leaves no
    # half-library where a library is expected.
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.restoring-"))
    try:
        copy_into(backup, work / "library")
        if target.exists():
            target.rmdir()  # empty, as checked above
        os.rename(work / "library", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return RestoreResult(id=str(target), library=str(target), backup=str(backup), created=manifest["created"],
                         counts=manifest.get("counts", {}))
