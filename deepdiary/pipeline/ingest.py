"""Photo ingest: files to catalogue items, one transaction per file.

Each file is committed on its own, after its blob and thumbnail are written through
atomic renames, so a run killed at any point leaves a consistent library, and running
again picks up where it stopped. A file already known by path, size and mtime is skipped
without being read; a renamed copy (same sha256) only gains a path. A photo another
ingest stores while this one runs is "already in the library", not a failure.

The library's own folder is never walked, wherever it sits. A file name that is not
UTF-8 is stored under its ``path_key`` and titled with ``display_path``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from deepdiary.connectors.photos import PhotoReadError, iter_photo_files, limit_image_pixels, read_photo
from deepdiary.core.errors import FileRefused
from deepdiary.core.processes import process_alive, this_host
from deepdiary.core.text import display_path, path_key
from deepdiary.memory.blobs import TEMP_PREFIX, sha256_file, temp_writer
from deepdiary.memory.unixfs import content_cid
from deepdiary.memory.library import Library
from deepdiary.memory.tables import (
    Item,
    ItemColour,
    ItemPath,
    PhotoMeta,
    Place,
)
from deepdiary.pipeline.colours import dominant_colours
from deepdiary.pipeline.file_limits import check_size, time_limit
from deepdiary.pipeline.geocode import ReverseGeocoder, default_geocoder
from deepdiary.pipeline.jobs import FileProblem, IngestReport, JobRecorder, PhaseProgress, report_refused_links

Progress = Callable[[int, int, Path], None]

# A blob's temp file younger than this may be a concurrent ingest's write in flight.
TEMP_GRACE_SECONDS = 3600.0


class PhotoIngester:
    def __init__(self, library: Library, geocoder: ReverseGeocoder | None = None):
        self.library = library
        self.settings = library.settings
        self._geocoder = geocoder
        limit_image_pixels(self.settings.max_image_pixels)

    @property
    def geocoder(self) -> ReverseGeocoder:
        if self._geocoder is None:
            self._geocoder = default_geocoder()
        return self._geocoder

    def run(self, paths: Iterable[Path], progress: Progress | None = None,
            phase_progress: PhaseProgress | None = None) -> IngestReport:
        """Ingest photo files and folders (never the library's own folder)."""
        roots = [Path(p).expanduser() for p in paths]
        links: list[tuple[Path, str]] = []
        files = list(iter_photo_files([p for p in roots if p.exists()], skip=[self.settings.library_dir],
                                      refused=lambda path, reason: links.append((path, reason))))
        self._sweep_temp_files()
        with JobRecorder(self.library, "photos", roots, len(files), phase_progress) as job:
            self.job = job
            report = job.report
            report_refused_links(job, links)
            for path in roots:
                if not path.exists():
                    job.problem_now(path, "error", "path does not exist")
                    report.failed += 1
            for done, path in enumerate(files, 1):
                try:
                    self._ingest_one(path, report)
                except Exception as exc:  # one bad file must never stop the run
                    job.problem_now(path, "error", f"{type(exc).__name__}: {exc}")
                    report.failed += 1
                job.phase("store", done, len(files))
                if progress:
                    progress(done, len(files), path)
            return job.finish()

    def _sweep_temp_files(self) -> None:
        """Temp files a killed writer left behind. One whose writer (named in it) is another live
        process or this one, or is on another host, may be a write in flight (a second upload
        job, a CLI run beside the server): it is left alone until it is an hour old."""
        root = self.library.blobs.local_root  # None for a bucket: an object store has no temp files
        if root is not None and root.exists():
            cutoff = time.time() - TEMP_GRACE_SECONDS
            for tmp in root.glob(f"*/*/{TEMP_PREFIX}*"):
                try:
                    writer = temp_writer(tmp)
                    dead = (writer is not None and writer[1] == this_host() and writer[0] != os.getpid()
                            and not process_alive(writer[0]))
                    if dead or tmp.stat().st_mtime < cutoff:
                        tmp.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass  # its writer renamed it meanwhile

    def _ingest_one(self, path: Path, report: IngestReport) -> None:
        key = path_key(path)
        stat = path.stat()
        with self.library.session() as s:
            known = s.exec(select(ItemPath).where(ItemPath.path == key)).first()
            if known and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
                report.unchanged += 1
                return
        try:
            check_size(path, self.settings)  # before hashing: a huge file is not even read
            digest = sha256_file(path)
            if self._link_if_stored(key, stat, digest, report):
                return
            with time_limit(self.settings.file_read_seconds):
                record = read_photo(path, preview_size=self.settings.thumbnail_size,
                                    max_pixels=self.settings.max_image_pixels)
        except (PhotoReadError, FileRefused) as exc:
            self.job.problem_now(path, "error", str(exc))
            report.failed += 1
            return
        self.library.blobs.put_file(path, digest, path.suffix.lower(), copy=self.settings.copy_originals)
        self.library.blobs.put_thumbnail(digest, record.preview)
        for attempt in range(2):
            try:
                self._store(path, key, stat, digest, record, report)
                return
            except IntegrityError:
                # Another ingest running at the same time stored this photo after we
                # looked; our transaction rolled back whole. Its blobs are the same bytes
                # under the same name, so only the path is left to link.
                if self._link_if_stored(key, stat, digest, report, concurrent=True):
                    return
                if attempt:
                    raise
                # Else it created a row we wanted too (the same new place): try once more.

    def _link_if_stored(self, key: str, stat, digest: str, report: IngestReport, concurrent: bool = False) -> bool:
        """When the content is already stored, record this path for it (a renamed copy is
        "linked", a known path "unchanged"); False when the content is new."""
        for attempt in range(2):
            try:
                with self.library.session() as s:
                    existing = s.exec(select(Item).where(Item.sha256 == digest)).first()
                    if existing is None:
                        return False
                    known = s.exec(select(ItemPath).where(ItemPath.path == key)).first() or ItemPath(
                        path=key, item_id=existing.id, size=0, mtime_ns=0)
                    was_linked = known.item_id == existing.id and known.id is not None
                    known.item_id, known.size, known.mtime_ns = existing.id, stat.st_size, stat.st_mtime_ns
                    s.add(known)
                break
            except IntegrityError:  # the same path linked by a concurrent ingest: look again
                if attempt:
                    raise
                concurrent = True
        if was_linked or concurrent:
            report.unchanged += 1
            if concurrent:
                report.problems.append(FileProblem(key, "info", "already in the library (stored by another ingest "
                                                                "running at the same time)"))
        else:
            report.linked += 1
        return True

    def _store(self, path: Path, key: str, stat, digest: str, record, report: IngestReport) -> None:
        colours = dominant_colours(
            record.preview, sample_size=self.settings.colour_sample_size, min_share=self.settings.colour_min_share
        )
        cid = content_cid(path, digest, record.size)  # read before the write transaction, not inside it
        with self.library.session() as s:
            place_id = self._place_id(s, record.lat, record.lon) if record.lat is not None else None
            item = Item(
                kind="photo",
                sha256=digest,
                cid=cid,
                size=record.size,
                ext=path.suffix.lower(),
                taken_at=record.taken_at,
                tz_offset_min=record.tz_offset_min,
                date_source=record.date_source,
                lat=record.lat,
                lon=record.lon,
                alt=record.alt,
                gps_source="exif" if record.lat is not None else None,
                place_id=place_id,
                title=display_path(path.name),
            )
            s.add(item)
            s.flush()
            s.add(
                PhotoMeta(
                    item_id=item.id,
                    format=record.format,
                    width=record.width,
                    height=record.height,
                    orientation=record.orientation,
                    layout=record.layout,
                    camera_make=record.camera_make,
                    camera_model=record.camera_model,
                    lens=record.lens,
                )
            )
            for c in colours:
                s.add(ItemColour(item_id=item.id, region=c.region, rank=c.rank, name=c.name,
                                 r=c.rgb[0], g=c.rgb[1], b=c.rgb[2], share=c.share))
            known = s.exec(select(ItemPath).where(ItemPath.path == key)).first()
            if known is None:
                known = ItemPath(path=key, item_id=item.id, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
            known.item_id, known.size, known.mtime_ns = item.id, stat.st_size, stat.st_mtime_ns
            s.add(known)
            problems = [self.job.problem(s, path, "warning", warning) for warning in record.warnings]
        # Counted only once the transaction has committed.
        report.problems.extend(problems)
        report.added += 1
        report.item_ids.append(item.id)

    def _place_id(self, s: Session, lat: float, lon: float) -> int:
        return place_id_for(s, self.geocoder, lat, lon)


def place_id_for(s: Session, geocoder: ReverseGeocoder, lat: float, lon: float) -> int:
    """The catalogue place of a position, created on first sight."""
    name = geocoder.lookup(lat, lon)
    place = s.exec(select(Place).where(Place.city == name.city, Place.admin1 == name.admin1,
                                       Place.country_code == name.country_code)).first()
    if place is None:
        place = Place(**name.__dict__)
        s.add(place)
        s.flush()
    return place.id
