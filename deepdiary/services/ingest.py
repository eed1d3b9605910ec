"""Bringing outside data in: photos, chats, diaries and tracks, then what follows from them.

Every ingest ends the same way: the model stages run on new photos (when asked), and
the events are brought up to date, so a read never has to derive them.
"""

from __future__ import annotations

from pathlib import Path

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.progress import ProgressFn, for_paths
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import EnrichResult, IndexRun, IngestResult, JobRow, PhotoIngestResult

TEXT_KINDS = ("chats", "diary", "tracks")


def _existing(paths: list[Path]) -> list[Path]:
    if not paths:
        raise InvalidInput("name at least one file or folder to ingest")
    missing = [p for p in paths if not Path(p).expanduser().exists()]
    if missing:
        raise InvalidInput(f"no such file or folder: {missing[0]}")
    return [Path(p).expanduser() for p in paths]


def reindex(ctx: AppContext, progress: ProgressFn | None = None) -> IndexRun:
    """Rebuild the chat and diary search indexes (words and meaning) from the catalogue."""
    from deepdiary.pipeline.indexing import reindex as rebuild

    return IndexRun(**rebuild(ctx.library, progress))


def list_jobs(ctx: AppContext, limit: int = 20) -> list[JobRow]:
    """The newest jobs: what each ingested, its problems, and what is not yet searchable."""
    from deepdiary.pipeline.jobs import list_jobs as rows

    if not 1 <= limit <= 1000:
        raise InvalidInput(f"--limit: {limit} is out of range (1 to 1000)")
    with ctx.read() as s:
        return [JobRow(**j) for j in rows(s, limit)]


def get_job(ctx: AppContext, job_id: int) -> JobRow:
    """One ingest job by id."""
    from deepdiary.pipeline.jobs import list_jobs as rows

    with ctx.read() as s:
        found = rows(s, 1, job_id=job_id)
    if not found:
        raise NotFound(f"no job {job_id}")
    return JobRow(**found[0])


def refresh_events(ctx: AppContext) -> int:
    """Re-derive the events after their inputs changed; unchanged events keep their ids."""
    from deepdiary.pipeline.events import derive_events

    with ctx.write() as s:
        return derive_events(s)


def ingest_photos(ctx: AppContext, paths: list[Path], enrich: bool = True,
                  progress: ProgressFn | None = None) -> PhotoIngestResult:
    """Photos: metadata, place, colours and thumbnails, then faces, tags and more."""
    from deepdiary.pipeline.ingest import PhotoIngester

    roots = _existing(paths)
    report = PhotoIngester(ctx.library).run(roots, progress=for_paths(progress, "ingest"), phase_progress=progress)
    queued = {}
    if enrich and ctx.settings.broker_url:
        # Each photo's enrichment is a task for `deepdiary worker`: the job's progress is in `jobs`.
        from deepdiary.services.tasks import enqueue_enrichment

        queued["enrich_job"] = enqueue_enrichment(ctx, roots)
        enrich = False
    enriched = enrich_photos(ctx, progress=progress, refresh=False) if enrich else None
    refresh_events(ctx)
    if ctx.settings.blob_backend != "local" and report.item_ids:
        # After the catalogue is written: a node that cannot be reached loses no photo, and
        # `deepdiary ipfs pin` pins them later.
        from deepdiary.services.exports import pin_photos

        pin_photos(ctx, report.item_ids)
    return PhotoIngestResult(**report.as_dict(), enrich=enriched, **queued)


def enrich_photos(ctx: AppContext, stages: list[str] | None = None, force: bool = False,
                  progress: ProgressFn | None = None, refresh: bool = True) -> EnrichResult:
    """Run the model stages that are missing (or, with ``force``, all of them)."""
    from deepdiary.pipeline.enrich import STAGES, Enricher

    bad = [s for s in stages or [] if s not in STAGES]
    if bad:
        raise InvalidInput(f"unknown stage {bad[0]!r}; stages: {', '.join(STAGES)}")
    chosen = tuple(s for s in STAGES if not stages or s in stages)
    step = (lambda done, total, _id: progress("enrich", done, total, "")) if progress else None
    report = Enricher(ctx.library).run(None, stages=chosen, force=force, progress=step)
    if refresh:
        refresh_events(ctx)
    return EnrichResult(**report.as_dict())


def ingest_text(ctx: AppContext, kind: str, paths: list[Path], fmt: str = "auto",
                progress: ProgressFn | None = None, learn_facts: bool = False) -> IngestResult:
    """Chats (WeChat exports, JSON), diaries (Markdown, text) or location history. With
    ``learn_facts`` (chats only; the LLM is slow, so it is asked for) the new sessions' facts
    about people are learnt afterwards, as ``deepdiary facts learn`` would."""
    from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester, TrackIngester

    if kind not in TEXT_KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; one of {', '.join(TEXT_KINDS)}")
    kw = {} if kind == "tracks" else {"phase_progress": progress}
    if kind == "chats":
        from deepdiary.connectors.chats import CHAT_FORMATS

        if fmt not in CHAT_FORMATS:
            raise InvalidInput(f"unknown format {fmt!r}; one of {', '.join(CHAT_FORMATS)}")
        kw["fmt"] = fmt
    roots = _existing(paths)
    ingester = {"chats": ChatIngester, "diary": DiaryIngester, "tracks": TrackIngester}[kind](ctx.library)
    report = ingester.run(roots, progress=for_paths(progress, f"ingest {kind}"), **kw)
    if report.index_deferred:  # a broker is set: embedding and indexing are a worker's task
        from deepdiary.services.tasks import enqueue_index

        enqueue_index(ctx, report.job_id)
    refresh_events(ctx)
    if learn_facts and kind == "chats":
        from deepdiary.services.facts import learn_facts as learn

        return IngestResult(**report.as_dict(), facts=learn(ctx, progress=progress).model_dump())
    return IngestResult(**report.as_dict())


UPLOAD_KINDS = ("photos",) + TEXT_KINDS


# Longest stored upload name, in UTF-8 bytes (file systems allow 255; the .part- prefix needs room).
_UPLOAD_NAME_BYTES = 200


def safe_upload_name(name: str) -> str:
    """An uploaded file's name with every folder part dropped: no ``..``, no absolute path,
    no control characters (a NUL would end the name early), never hidden, and at most
    200 bytes of UTF-8 with its extension kept (the extension tells a photo from a track)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() or ch == " ")
    # A lone surrogate (a mangled name) cannot be a file name on disk.
    base = base.encode("utf-8", "replace").decode("utf-8").strip().lstrip(".").strip()
    if not base:
        raise InvalidInput(f"upload name {name!r} has no file name in it")
    stem, dot, ext = base.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = base, ""
    else:
        ext = "." + ext
    while len((stem + ext).encode("utf-8")) > _UPLOAD_NAME_BYTES:
        stem = stem[:-1]
    return stem + ext


def ingest_upload(ctx: AppContext, kind: str, files: list[tuple[str, bytes]], fmt: str = "auto",
                  enrich: bool = True, progress: ProgressFn | None = None) -> IngestResult:
    """Files sent over the network (the web app, a chat bot), kept under the library's
    ``uploads/`` folder by content and ingested as ``kind``. An encrypted library keeps no
    plaintext upload: the files are staged in memory-backed storage (/dev/shm) only while they
    are ingested; what they hold is then in the library, sealed or in the encrypted catalogue."""
    import tempfile

    if kind not in UPLOAD_KINDS:
        raise InvalidInput(f"unknown kind {kind!r}; one of {', '.join(UPLOAD_KINDS)}")
    if not files:
        raise InvalidInput("no files were uploaded")
    if not ctx.library.encrypted:
        return _ingest_staged(ctx, kind, files, ctx.settings.library_dir / "uploads" / kind, fmt, enrich, progress)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None, prefix="deepdiary-upload-") as tmp:
        return _ingest_staged(ctx, kind, files, Path(tmp), fmt, enrich, progress)


def _ingest_staged(ctx: AppContext, kind: str, files: list[tuple[str, bytes]], root: Path, fmt: str, enrich: bool,
                   progress: ProgressFn | None) -> IngestResult:
    """``files`` written under ``root`` by content (a file kept there already is not rewritten),
    then ingested."""
    import hashlib

    staged = []
    for name, data in files:
        folder = root / hashlib.sha256(data).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / safe_upload_name(name)
        if not target.exists():
            tmp = target.with_name(f".part-{target.name}")
            tmp.write_bytes(data)
            tmp.replace(target)
        staged.append(target)
    if kind == "photos":
        return ingest_photos(ctx, staged, enrich=enrich, progress=progress)
    return ingest_text(ctx, kind, staged, fmt=fmt, progress=progress)


# What a file's first bytes say it is, for photos sent without a telling name.
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*")
_TRACK_SUFFIXES = {".gpx", ".kml", ".kmz", ".geojson", ".rec"}


def guess_upload_kind(name: str, data: bytes) -> str:
    """The kind (``photos``, ``chats``, ``diary`` or ``tracks``) of a file sent without one,
    as the upload page guesses it: by extension first, then by content, so a GPX saved as
    .txt or a diary in a .txt file lands where it belongs. A file that is none of them
    raises ``InvalidInput`` naming what it looked like."""
    import tempfile
    from datetime import datetime, timezone

    from deepdiary.connectors.chats import ChatFormatError, detect_format
    from deepdiary.connectors.locations import TrackFormatError
    from deepdiary.connectors.locations.json_exports import read_json_export
    from deepdiary.connectors.locations.sniff import looks_like_location_text, sniff
    from deepdiary.connectors.photos import PHOTO_EXTENSIONS

    suffix = Path(safe_upload_name(name)).suffix.lower()
    head = data[:4096]
    if suffix in PHOTO_EXTENSIONS or head.startswith(_IMAGE_MAGIC) or (
            head[:4] == b"RIFF" and head[8:12] == b"WEBP") or head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "photos"
    if suffix in _TRACK_SUFFIXES:
        return "tracks"
    if suffix in (".md", ".markdown"):
        return "diary"
    if b"\x00" in head:
        raise InvalidInput(f"{name}: binary data, neither a photo, a chat export, a diary nor a location file")
    try:
        found = sniff(data)
    except TrackFormatError:
        found = None
    if found in ("gpx", "kml") or looks_like_location_text(head):
        return "tracks"
    if found == "json":
        try:
            read_json_export(Path(name), data, datetime.now(timezone.utc))
            return "tracks"
        except (TrackFormatError, ValueError):
            return "chats"
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / f"probe{suffix or '.txt'}"
        probe.write_bytes(data)
        try:
            detect_format(probe)
            return "chats"
        except (ChatFormatError, ValueError):
            pass
    if suffix == ".csv":
        return "chats"  # ingested as chats, its unknown header is reported
    return "diary"
