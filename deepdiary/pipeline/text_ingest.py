"""Chats, diaries and GPS tracks into the catalogue, the text index and the map.

Each file is one transaction. Chat messages carry a dedupe key, so re-importing an
overlapping export adds only the new messages; a diary file is re-read as a whole
(entries edited since are replaced); a track file's tracks and visits are replaced.
The text index is derived: the transaction that stores a message or diary chunk also
queues it for the index, and every run ends by draining that queue (see
``deepdiary.pipeline.indexing``), so a run killed in between is caught up by the next.

A file whose name is not UTF-8 is recorded under its ``path_key``; a file that cannot be
stored (even a database error) is reported and rolled back alone, and the run goes on.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from deepdiary.core.errors import FileRefused
from deepdiary.core.text import path_key
from deepdiary.memory.library import Library
from deepdiary.memory.tables import (
    ChatMeta, Conversation, DiaryMeta, Item, Person, Track, TrackPointRow, Visit,
)
from deepdiary.pipeline.geocode import default_geocoder
from deepdiary.pipeline.file_limits import read_within_limits
from deepdiary.pipeline.indexing import queue_for_index
from deepdiary.pipeline.ingest import place_id_for
from deepdiary.pipeline.jobs import IngestReport, JobRecorder, PhaseProgress, report_refused_links

Progress = Callable[[int, int, Path], None]
# Items written per INSERT while storing a file (and how often storing reports progress).
STORE_BATCH = 5000


def _key(*parts) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def people_by_name(s: Session) -> dict[str, int]:
    """Lower-cased names and aliases of named people -> person id."""
    out: dict[str, int] = {}
    for p in s.exec(select(Person).where(Person.name.is_not(None))):
        for n in [p.name, *p.aliases.split(",")]:
            if n and n.strip():
                out.setdefault(n.strip().lower(), p.id)
    return out


class ChatIngester:
    def __init__(self, library: Library):
        self.library = library
        self.owner = library.settings.owner_name

    def run(self, paths: Iterable[Path], fmt: str = "auto", progress: Progress | None = None,
            phase_progress: PhaseProgress | None = None) -> IngestReport:
        """Import chat exports; ``phase_progress(phase, done, total)`` follows reading
        (files), storing (messages) and embedding and indexing (messages)."""
        from deepdiary.connectors.chats import iter_chat_files

        roots = [Path(p).expanduser() for p in paths]
        links: list[tuple[Path, str]] = []
        files = list(iter_chat_files([p for p in roots if p.exists()], skip=[self.library.settings.library_dir],
                                    refused=lambda path, reason: links.append((path, reason))))
        with JobRecorder(self.library, "chats", roots, len(files), phase_progress) as job:
            report_refused_links(job, links)
            _report_missing(job, roots)
            for n, path in enumerate(files, 1):
                self._ingest_file(job, path, fmt, n, len(files))
                if progress:
                    progress(n, len(files), path)
            # With a broker the embedding is a worker's task (the caller enqueues it).
            return job.finish(defer_index=bool(self.library.settings.broker_url))

    def _ingest_file(self, job: JobRecorder, path: Path, fmt: str, n: int, files: int) -> None:
        from deepdiary.connectors.chats import ChatFormatError, read_chats

        try:
            export = read_within_limits(path, self.library.settings, lambda: read_chats(path, fmt))
        except (ChatFormatError, FileRefused) as exc:
            _failed(job, path, str(exc))
            return
        except Exception as exc:  # a hostile file must not stop the run
            _failed(job, path, f"{type(exc).__name__}: {exc}")
            return
        job.phase("read", n, files)
        job.problems_now(path, "warning", [f"line {p.line}: {p.reason}" for p in export.problems])
        if not export.messages:
            _failed(job, path, f"no messages could be read as {export.format}")
            return
        _store_file(job, path, lambda: self._store(job, path, export.messages))

    def _store(self, job: JobRecorder, path: Path, messages) -> None:
        source = path_key(path)
        keys = _dedupe_keys(messages)
        with self.library.session() as s:
            existing = _known_keys(s, ChatMeta.dedupe_key, keys)
            new = []
            for m, key in zip(messages, keys):
                if key not in existing:
                    existing.add(key)
                    new.append((m, key))
            conversations = self._conversations(s, {m.conversation for m, _ in new})
            names = people_by_name(s)
            ids = []
            for start in range(0, len(new), STORE_BATCH):
                part = new[start:start + STORE_BATCH]
                items = [Item(kind="message", taken_at=m.sent_at, text=m.text, title=None) for m, _ in part]
                s.add_all(items)
                s.flush()  # one INSERT for the batch; ids come back in order
                for (m, key), item in zip(part, items):
                    sender = self.owner if m.is_me else m.sender
                    s.add(ChatMeta(item_id=item.id, conversation_id=conversations[m.conversation], sender=sender,
                                   sender_person_id=names.get(sender.lower()), is_me=m.is_me, msg_kind=m.kind,
                                   source_file=source, source_line=m.source_line, source_id=m.source_id,
                                   dedupe_key=key))
                s.flush()
                ids += [item.id for item in items]
                job.phase("store", len(ids), len(new))
            queue_for_index(s, ids, job.job_id)
        # Counted only once the transaction has committed.
        job.report.added += len(ids)
        job.report.unchanged += len(messages) - len(ids)
        job.report.item_ids.extend(ids)

    @staticmethod
    def _conversations(s: Session, wanted: set[str]) -> dict[str, int]:
        """Conversation name -> id, creating those not yet stored."""
        convs = {c.name: c.id for c in s.exec(select(Conversation))}
        missing = sorted(wanted - set(convs))
        if missing:
            names = people_by_name(s)
            rows = [Conversation(name=n, person_id=names.get(n.lower())) for n in missing]
            s.add_all(rows)
            s.flush()
            convs.update({c.name: c.id for c in rows})
        return convs


def _dedupe_keys(messages) -> list[str]:
    """A key per message that finds it again in an overlapping export."""
    seen: Counter = Counter()
    keys = []
    for m in messages:
        if m.source_id.startswith("line "):
            # Line numbers shift between overlapping exports; content does not.
            base = (m.conversation, m.sender, m.sent_at.isoformat(), m.text)
            seen[base] += 1
            keys.append(_key(*base, seen[base]))
        else:
            keys.append(_key(m.conversation, m.source_id))
    return keys


def _known_keys(s: Session, column, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), 900):
        found |= set(s.exec(select(column).where(column.in_(keys[i:i + 900]))))
    return found


def _report_missing(job: JobRecorder, roots: list[Path]) -> None:
    for root in roots:
        if not root.exists():
            _failed(job, root, "path does not exist")


def _failed(job: JobRecorder, path: Path, reason: str) -> None:
    job.problem_now(path, "error", reason)
    job.report.failed += 1


def _store_file(job: JobRecorder, path: Path, store: Callable[[], None]) -> None:
    """Run a file's store transaction; a failure rolls back that file only.

    An IntegrityError means another ingest, running at the same time, stored some of
    the same rows after this one looked: looking again sees them as already there.
    """
    for attempt in range(2):
        try:
            store()
            return
        except IntegrityError as exc:
            if attempt == 0:
                continue
            _failed(job, path, f"could not store: {exc.orig if exc.orig is not None else exc}")
        except Exception as exc:  # the next files still go in
            _failed(job, path, f"could not store: {type(exc).__name__}: {exc}")
            return


class DiaryIngester:
    def __init__(self, library: Library):
        self.library = library

    def run(self, paths: Iterable[Path], progress: Progress | None = None,
            phase_progress: PhaseProgress | None = None) -> IngestReport:
        """Import diary files; ``phase_progress(phase, done, total)`` follows reading
        (files), storing (chunks) and embedding and indexing (chunks)."""
        from deepdiary.connectors.diary import iter_diary_files

        roots = [Path(p).expanduser() for p in paths]
        links: list[tuple[Path, str]] = []
        files = list(iter_diary_files([p for p in roots if p.exists()], skip=[self.library.settings.library_dir],
                                     refused=lambda path, reason: links.append((path, reason))))
        with JobRecorder(self.library, "diary", roots, len(files), phase_progress) as job:
            report_refused_links(job, links)
            _report_missing(job, roots)
            for n, path in enumerate(files, 1):
                self._ingest_file(job, path, n, len(files))
                if progress:
                    progress(n, len(files), path)
            return job.finish()

    def _ingest_file(self, job: JobRecorder, path: Path, n: int, files: int) -> None:
        from deepdiary.connectors.diary import read_diary

        try:
            diary = read_within_limits(path, self.library.settings, lambda: read_diary(path))
        except FileRefused as exc:
            _failed(job, path, str(exc))
            return
        except Exception as exc:
            _failed(job, path, f"{type(exc).__name__}: {exc}")
            return
        job.phase("read", n, files)
        job.problems_now(path, "warning" if diary.chunks else "error", diary.problems)
        if not diary.chunks:
            job.report.failed += 1
            return
        _store_file(job, path, lambda: self._store(job, path, diary.chunks))

    def _store(self, job: JobRecorder, path: Path, chunks) -> None:
        """Add the file's new entries and drop the ones edited away, in one transaction."""
        source = path_key(path)
        with self.library.session() as s:
            old = {d.dedupe_key: d.item_id for d in s.exec(select(DiaryMeta).where(DiaryMeta.source_file == source))}
            keep, new, repeats = set(), [], 0
            for c in chunks:
                key = _key(source, c.entry_date.isoformat(), c.chunk_index, c.text)
                if key in keep:  # the same entry twice in one file: stored once
                    repeats += 1
                    continue
                keep.add(key)
                if key not in old:
                    new.append((c, key))
            ids = []
            for start in range(0, len(new), STORE_BATCH):
                part = new[start:start + STORE_BATCH]
                items = [Item(kind="diary", taken_at=c.entry_date, title=c.title, text=c.text) for c, _ in part]
                s.add_all(items)
                s.flush()
                s.add_all([DiaryMeta(item_id=item.id, source_file=source, source_line=c.source_line,
                                     chunk_index=c.chunk_index, dedupe_key=key) for (c, key), item in zip(part, items)])
                s.flush()
                ids += [item.id for item in items]
                job.phase("store", len(ids), len(new))
            gone = [i for k, i in old.items() if k not in keep]
            if gone:  # edited or removed since the last import; the queue takes them out of search
                s.exec(delete(DiaryMeta).where(DiaryMeta.item_id.in_(gone)))
                s.exec(delete(Item).where(Item.id.in_(gone)))
            queue_for_index(s, ids + gone, job.job_id)
            if repeats:
                job.problem(s, path, "warning", f"{repeats} entr{'y' if repeats == 1 else 'ies'} repeated in the file; stored once")
        job.report.added += len(ids)
        job.report.unchanged += len(keep) - len(ids)
        job.report.item_ids.extend(ids)


class TrackIngester:
    """Location files into tracks, their points and visits; an unchanged file is left alone.

    What a file would store (its tracks and points, its visits, the stays found in its
    tracks) is compared, as a digest, with what is stored for that file: equal means
    "unchanged" and nothing is rewritten, so ids stay; otherwise the file's rows are replaced.
    ``added`` and ``unchanged`` count tracks and visits read from files (not derived stays).
    """

    def __init__(self, library: Library):
        self.library = library
        self.settings = library.settings

    def run(self, paths: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        from deepdiary.connectors.tracks import TrackFormatError, iter_track_files, read_tracks

        roots = [Path(p).expanduser() for p in paths]
        links: list[tuple[Path, str]] = []
        files = list(iter_track_files([p for p in roots if p.exists()], skip=[self.library.settings.library_dir],
                                     refused=lambda path, reason: links.append((path, reason))))
        job = JobRecorder(self.library, "tracks", roots, len(files))
        report_refused_links(job, links)
        report = job.report
        geocoder = default_geocoder()
        for n, path in enumerate(files, 1):
            try:
                tf = read_within_limits(path, self.settings, lambda: read_tracks(path))
            except (TrackFormatError, FileRefused) as exc:
                job.problem_now(str(path), "error", str(exc))
                report.failed += 1
                continue
            except Exception as exc:
                job.problem_now(str(path), "error", f"{type(exc).__name__}: {exc}")
                report.failed += 1
                continue
            for prob in tf.problems:
                job.problem_now(str(path), "warning", f"{prob.where}: {prob.reason}")
            self._store(path, tf, report, geocoder)
            if progress:
                progress(n, len(files), path)
        report.linked = geotag_photos(self.library)
        return job.finish()

    def _store(self, path: Path, tf, report: IngestReport, geocoder) -> None:
        source = str(path)
        visits = list(tf.visits) + self._stays(tf.tracks)
        count = len(tf.tracks) + len(tf.visits)
        with self.library.session() as s:
            if self._stored_digest(s, source) == self._file_digest(tf.tracks, visits):
                report.unchanged += count
                return
            self._forget(s, source)
            for index, track in enumerate(tf.tracks):
                row = Track(source_file=source, **self._track_fields(track, index))
                s.add(row)
                s.flush()
                s.bulk_insert_mappings(TrackPointRow, [
                    {"track_id": row.id, "segment": si, "time": _naive(p.time), "lat": p.lat, "lon": p.lon,
                     "ele": p.ele}
                    for si, seg in enumerate(track.segments) for p in seg])
            for v in visits:
                s.add(Visit(**self._visit_fields(v), source_file=source,
                            place_id=place_id_for(s, geocoder, v.lat, v.lon)))
        report.added += count

    def _stays(self, tracks) -> list:
        from deepdiary.connectors.tracks import find_stays

        minimum = timedelta(minutes=self.settings.stay_min_minutes)
        return [stay for track in tracks
                for stay in find_stays([p for seg in track.segments for p in seg],
                                       radius_m=self.settings.stay_radius_m, min_duration=minimum)]

    @staticmethod
    def _forget(s: Session, source: str) -> None:
        old = s.exec(select(Track.id).where(Track.source_file == source)).all()
        if old:
            s.exec(delete(TrackPointRow).where(TrackPointRow.track_id.in_(old)))
            s.exec(delete(Track).where(Track.id.in_(old)))
        s.exec(delete(Visit).where(Visit.source_file == source))

    @staticmethod
    def _track_fields(track, index: int) -> dict:
        times = [p.time for seg in track.segments for p in seg if p.time]
        return {"name": track.name, "kind": track.kind, "source_index": index,
                "points": sum(len(seg) for seg in track.segments),
                "start": _naive(min(times)) if times else None, "end": _naive(max(times)) if times else None}

    @staticmethod
    def _visit_fields(v) -> dict:
        return {"start": _naive(v.start), "end": _naive(v.end), "lat": v.lat, "lon": v.lon, "name": v.name,
                "address": v.address, "source": v.source}

    # The digest covers exactly the columns written above, in the order they are stored, so
    # the file's side and the catalogue's side agree when nothing changed. repr() of a float
    # round-trips, so equal digests mean equal values, not merely close ones.
    _TRACK_COLUMNS = ("source_index", "name", "kind", "points", "start", "end")
    _VISIT_COLUMNS = ("start", "end", "lat", "lon", "name", "address", "source")

    @classmethod
    def _file_digest(cls, tracks, visits) -> str:
        fields = [cls._track_fields(t, i) for i, t in enumerate(tracks)]
        return cls._digest(
            (tuple(f[c] for c in cls._TRACK_COLUMNS) for f in fields),
            ((si, _naive(p.time), p.lat, p.lon, p.ele)
             for t in tracks for si, seg in enumerate(t.segments) for p in seg),
            (tuple(cls._visit_fields(v)[c] for c in cls._VISIT_COLUMNS) for v in visits),
        )

    @classmethod
    def _stored_digest(cls, s: Session, source: str) -> str:
        tracks = s.exec(select(*(getattr(Track, c) for c in cls._TRACK_COLUMNS))
                        .where(Track.source_file == source).order_by(Track.source_index)).all()
        points = s.exec(select(TrackPointRow.segment, TrackPointRow.time, TrackPointRow.lat, TrackPointRow.lon,
                               TrackPointRow.ele).join(Track, Track.id == TrackPointRow.track_id)
                        .where(Track.source_file == source).order_by(Track.source_index, TrackPointRow.id)).all()
        visits = s.exec(select(*(getattr(Visit, c) for c in cls._VISIT_COLUMNS))
                        .where(Visit.source_file == source)).all()
        return cls._digest((tuple(r) for r in tracks), (tuple(r) for r in points), (tuple(r) for r in visits))

    @staticmethod
    def _digest(tracks: Iterable[tuple], points: Iterable[tuple], visits: Iterable[tuple]) -> str:
        h = hashlib.sha256()
        for row in tracks:
            h.update(f"track{row!r}\n".encode())
        for row in points:
            h.update(f"point{row!r}\n".encode())
        # Visits are stored in no particular order; sort them the same way on both sides.
        for line in sorted(f"visit{row!r}\n" for row in visits):
            h.update(line.encode())
        return h.hexdigest()


def _naive(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def geotag_photos(library: Library) -> int:
    """Give photos without GPS the position of the nearest track point in time.

    The photo's wall-clock time becomes UTC through its EXIF offset, else the
    ``camera_utc_offset_min`` setting. Positions found so are marked ``gps_source="track"``.
    Returns how many photos were geotagged.
    """
    settings = library.settings
    window = timedelta(minutes=settings.geotag_max_minutes)
    geocoder = default_geocoder()
    tagged = 0
    with library.session() as s:
        photos = s.exec(select(Item).where(Item.kind == "photo", Item.lat.is_(None), Item.taken_at.is_not(None),
                                           Item.date_source != "file:mtime")).all()
        for photo in photos:
            offset = photo.tz_offset_min if photo.tz_offset_min is not None else settings.camera_utc_offset_min
            utc = photo.taken_at - timedelta(minutes=offset)
            candidates = s.exec(select(TrackPointRow).where(
                TrackPointRow.time.between(utc - window, utc + window))).all()
            if not candidates:
                continue
            best = min(candidates, key=lambda p: abs((p.time - utc).total_seconds()))
            photo.lat, photo.lon, photo.alt, photo.gps_source = best.lat, best.lon, best.ele, "track"
            photo.place_id = place_id_for(s, geocoder, best.lat, best.lon)
            s.add(photo)
            tagged += 1
    return tagged
