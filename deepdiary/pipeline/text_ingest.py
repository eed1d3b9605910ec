"""Chats, diaries and GPS tracks into the catalogue, the text index and the map.

Each file is one transaction. Chat messages carry a dedupe key, so re-importing an
overlapping export adds only the new messages; a diary file is re-read as a whole
(entries edited since are replaced); a track file's tracks and visits are replaced.
The text index is derived: after every run, any message or diary chunk it lacks is added.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import delete
from sqlmodel import Session, select

from deepdiary.memory.library import Library
from deepdiary.memory.tables import (
    ChatMeta, Conversation, DiaryMeta, Item, Person, Track, TrackPointRow, Visit,
)
from deepdiary.memory.text_index import IndexedText
from deepdiary.pipeline.geocode import default_geocoder
from deepdiary.pipeline.ingest import place_id_for
from deepdiary.pipeline.jobs import IngestReport, JobRecorder

Progress = Callable[[int, int, Path], None]
# Placeholders of these kinds say nothing a question could match.
UNINDEXED_KINDS = {"image", "sticker", "voice", "video", "call"}


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

    def run(self, paths: Iterable[Path], fmt: str = "auto", progress: Progress | None = None) -> IngestReport:
        from deepdiary.connectors.chats import ChatFormatError, iter_chat_files, read_chats

        roots = [Path(p).expanduser() for p in paths]
        files = list(iter_chat_files([p for p in roots if p.exists()]))
        job = JobRecorder(self.library, "chats", roots, len(files))
        report = job.report
        for p in roots:
            if not p.exists():
                job.problem_now(str(p), "error", "path does not exist")
                report.failed += 1
        for n, path in enumerate(files, 1):
            try:
                export = read_chats(path, fmt)
            except ChatFormatError as exc:
                job.problem_now(str(path), "error", str(exc))
                report.failed += 1
                continue
            except Exception as exc:  # a hostile file must not stop the run
                job.problem_now(str(path), "error", f"{type(exc).__name__}: {exc}")
                report.failed += 1
                continue
            for prob in export.problems:
                job.problem_now(str(path), "warning", f"line {prob.line}: {prob.reason}")
            if not export.messages:
                job.problem_now(str(path), "error", f"no messages could be read as {export.format}")
                report.failed += 1
                continue
            self._store(path, export.messages, report)
            if progress:
                progress(n, len(files), path)
        sync_text_index(self.library)
        return job.finish()

    def _store(self, path: Path, messages, report: IngestReport) -> None:
        with self.library.session() as s:
            names = people_by_name(s)
            convs = {c.name: c for c in s.exec(select(Conversation))}
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
            existing = set()
            for i in range(0, len(keys), 900):
                existing |= set(s.exec(select(ChatMeta.dedupe_key).where(ChatMeta.dedupe_key.in_(keys[i:i + 900]))))
            added = 0
            for m, key in zip(messages, keys):
                if key in existing:
                    report.unchanged += 1
                    continue
                existing.add(key)
                conv = convs.get(m.conversation)
                if conv is None:
                    conv = Conversation(name=m.conversation, person_id=names.get(m.conversation.lower()))
                    s.add(conv)
                    s.flush()
                    convs[conv.name] = conv
                sender = self.owner if m.is_me else m.sender
                item = Item(kind="message", taken_at=m.sent_at, text=m.text, title=None)
                s.add(item)
                s.flush()
                s.add(ChatMeta(item_id=item.id, conversation_id=conv.id, sender=sender,
                               sender_person_id=names.get(sender.lower()), is_me=m.is_me, msg_kind=m.kind,
                               source_file=str(path), source_line=m.source_line, source_id=m.source_id,
                               dedupe_key=key))
                added += 1
                report.item_ids.append(item.id)
        report.added += added


class DiaryIngester:
    def __init__(self, library: Library):
        self.library = library

    def run(self, paths: Iterable[Path], progress: Progress | None = None) -> IngestReport:
        from deepdiary.connectors.diary import iter_diary_files, read_diary

        roots = [Path(p).expanduser() for p in paths]
        files = list(iter_diary_files([p for p in roots if p.exists()]))
        job = JobRecorder(self.library, "diary", roots, len(files))
        report = job.report
        for n, path in enumerate(files, 1):
            try:
                diary = read_diary(path)
            except Exception as exc:
                job.problem_now(str(path), "error", f"{type(exc).__name__}: {exc}")
                report.failed += 1
                continue
            for prob in diary.problems:
                job.problem_now(str(path), "warning" if diary.chunks else "error", prob)
            if not diary.chunks:
                report.failed += 1
                continue
            with self.library.session() as s:
                old = {d.dedupe_key: d.item_id for d in s.exec(select(DiaryMeta).where(DiaryMeta.source_file == str(path)))}
                keep = set()
                for c in diary.chunks:
                    key = _key(path, c.entry_date.isoformat(), c.chunk_index, c.text)
                    keep.add(key)
                    if key in old:
                        report.unchanged += 1
                        continue
                    item = Item(kind="diary", taken_at=c.entry_date, title=c.title, text=c.text)
                    s.add(item)
                    s.flush()
                    s.add(DiaryMeta(item_id=item.id, source_file=str(path), source_line=c.source_line,
                                    chunk_index=c.chunk_index, dedupe_key=key))
                    report.added += 1
                    report.item_ids.append(item.id)
                gone = [i for k, i in old.items() if k not in keep]
                if gone:  # edited or removed since the last import
                    s.exec(delete(DiaryMeta).where(DiaryMeta.item_id.in_(gone)))
                    s.exec(delete(Item).where(Item.id.in_(gone)))
            if gone:
                self.library.text_index.remove(gone)
            if progress:
                progress(n, len(files), path)
        sync_text_index(self.library)
        return job.finish()


def sync_text_index(library: Library, batch: int = 2000) -> int:
    """Index every message and diary chunk the text index lacks. Returns how many."""
    index = library.text_index
    have = index.indexed_ids()
    added = 0
    with library.session() as s:
        ids = [i for i in s.exec(select(Item.id).where(Item.kind.in_(["message", "diary"])).order_by(Item.id))
               if i not in have]
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        with library.session() as s:
            rows = _indexed_rows(s, chunk, library.settings.owner_name)
        index.add(rows)
        added += len(rows)
    return added


def _indexed_rows(s: Session, ids: list[int], owner: str) -> list[IndexedText]:
    items = {i.id: i for i in s.exec(select(Item).where(Item.id.in_(ids)))}
    chats = {c.item_id: c for c in s.exec(select(ChatMeta).where(ChatMeta.item_id.in_(ids)))}
    diaries = {d.item_id: d for d in s.exec(select(DiaryMeta).where(DiaryMeta.item_id.in_(ids)))}
    convs = {c.id: c.name for c in s.exec(select(Conversation))}
    # Messages are stored in export order, so a message's neighbours are the ids beside it
    # in the same conversation; one query fetches them for the whole batch.
    around = {i: (conv, text) for i, conv, text in s.exec(
        select(Item.id, ChatMeta.conversation_id, Item.text).join(ChatMeta, ChatMeta.item_id == Item.id)
        .where(Item.id.in_({j for i in chats for j in (i - 1, i + 1)})))} if chats else {}
    rows = []
    for item_id in ids:
        item = items[item_id]
        if item.kind == "diary":
            d = diaries[item_id]
            rows.append(IndexedText(item_id, (item.title + "\n" if item.title else "") + (item.text or ""), "",
                                    item.taken_at, owner, "diary", "diary", f"{d.source_file}:{d.source_line}"))
            continue
        meta = chats[item_id]
        if meta.msg_kind in UNINDEXED_KINDS or not item.text:
            rows.append(IndexedText(item_id, "", "", item.taken_at, meta.sender, convs[meta.conversation_id], "message"))
            continue
        neighbours = [around[j][1] for j in (item_id - 1, item_id + 1)
                      if j in around and around[j][0] == meta.conversation_id and around[j][1]]
        rows.append(IndexedText(item_id, item.text, " ".join(neighbours), item.taken_at,
                                meta.sender, convs[meta.conversation_id], "message",
                                f"{meta.source_file}:{meta.source_line}#{meta.source_id}"))
    return rows


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
        files = list(iter_track_files([p for p in roots if p.exists()]))
        job = JobRecorder(self.library, "tracks", roots, len(files))
        report = job.report
        geocoder = default_geocoder()
        for n, path in enumerate(files, 1):
            try:
                tf = read_tracks(path)
            except TrackFormatError as exc:
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
