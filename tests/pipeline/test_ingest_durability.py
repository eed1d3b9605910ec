"""Ingest that survives what users' folders and machines do to it: names that are not
UTF-8, broken text, a kill between storing and indexing, the library inside the folder
being ingested, two ingests at once, dead jobs. Every case starts from the real sample
files and ends with the good files ingested and every stored message or entry searchable.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from deepdiary.core.processes import this_host
from deepdiary.core.settings import Settings
from deepdiary.core.text import has_lone_surrogates, path_from_key, path_key
from deepdiary.memory.catalogue import alembic_config, upgrade
from deepdiary.memory.items import library_stats
from deepdiary.memory.library import Library
from deepdiary.memory.tables import ChatMeta, DiaryMeta, IngestJob, Item, ItemPath, Track
from deepdiary.memory.text_index import TEXTS, TextFilter, tokens
from deepdiary.pipeline.indexing import drain_index_queue, indexed_rows, pending_index, reindex
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.pipeline.jobs import JobRecorder, list_jobs
from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester, TrackIngester

REPO = Path(__file__).resolve().parents[2]
WECHAT = ("weclone_test_person_pywxdump.csv", "weclone_test_PII_pywxdump.csv", "weclone_example_chat_pywxdump_old.csv")


def latin1(folder: Path, name: bytes) -> Path:
    """A path in ``folder`` whose name is these bytes (Latin-1, so not UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / os.fsdecode(name)


def locomo_diary(samples: Path, path: Path, sessions: int = 6) -> Path:
    """A Markdown diary written from a real LoCoMo conversation: one dated entry per session."""
    conv = json.loads((samples / "chats" / "locomo_dev.json").read_text())[0]["conversation"]
    parts = []
    for n in range(1, sessions + 1):
        when = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        turns = "\n\n".join(f"{t['speaker']}: {t['text']}" for t in conv[f"session_{n}"])
        parts.append(f"## {when:%Y-%m-%d}\n\n{turns}\n")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def assert_all_searchable(lib: Library) -> int:
    """Every stored message and diary chunk is in the words index and (when it has text)
    the vectors, nothing waits in the queue, and searching a message's own words finds it."""
    with lib.session() as s:
        ids = list(s.exec(select(Item.id).where(Item.kind.in_(["message", "diary"]))))
        rows = indexed_rows(s, ids, lib.settings.owner_name)
        assert pending_index(s) == 0
    assert {r.item_id for r in rows} == set(ids)
    index = lib.text_index
    assert index.indexed_ids() == set(ids)
    with_text = {r.item_id for r in rows if r.text.strip()}
    assert {int(i) for i in lib.vectors.collection(TEXTS).get(include=[])["ids"]} >= with_text
    by_text: dict[str, list] = {}
    for r in rows:
        by_text.setdefault(r.text, []).append(r)
    for text, same in by_text.items():
        if len(same) == 1 and tokens(text):  # a text several items share finds either of them
            r = same[0]
            found = [i for i, _ in index.search(text, k=10, f=TextFilter(kinds=[r.kind]))]
            assert r.item_id in found, (text, found[:3])
    return len(ids)


# ---------------------------------------------------------------- names that are not UTF-8

def test_latin1_names_for_a_photo_a_chat_a_diary_and_a_track(tmp_path, samples):
    src = tmp_path / "from an old zip"
    photo = latin1(src, b"caf\xe9 au lac.jpg")
    chat = latin1(src, b"discussion \xe9t\xe9.csv")
    diary = latin1(src, b"journal d'\xe9t\xe9 2023-07-14.md")
    track = latin1(src, b"randonn\xe9e.gpx")
    broken = latin1(src, b"ab\xeem\xe9e.jpg")  # fails to read: the failure itself is recorded
    shutil.copy(samples / "photos/exif-samples/jpg/gps/DSCN0010.jpg", photo)
    shutil.copy(samples / "chats" / WECHAT[0], chat)
    shutil.copy(samples / "gps/gpxpy/cerknicko-jezero.gpx", track)
    locomo_diary(samples, diary, sessions=2)
    broken.write_bytes(b"not a jpeg" * 20)
    lib = Library.open(Settings(home=tmp_path / "lib"))

    photos = PhotoIngester(lib).run([photo, broken])
    assert (photos.added, photos.failed) == (1, 1)
    assert [(p.path, p.severity) for p in photos.problems if p.severity == "error"] == [
        ("%s/ab\\xeem\\xe9e.jpg" % src.resolve(), "error")]
    chats = ChatIngester(lib).run([chat])
    diaries = DiaryIngester(lib).run([diary])
    tracks = TrackIngester(lib).run([track])
    assert (chats.added, chats.failed) == (95, 0)
    assert diaries.added > 0 and diaries.failed == 0
    assert tracks.added > 0 and tracks.failed == 0

    with lib.session() as s:
        stored = {p.path for p in s.exec(select(ItemPath))}
        assert stored == {path_key(photo.resolve())}
        assert os.fsencode(path_from_key(stored.pop())) == os.fsencode(photo.resolve())
        assert s.exec(select(Item.title).where(Item.kind == "photo")).one() == "caf\\xe9 au lac.jpg"
        assert set(s.exec(select(ChatMeta.source_file))) == {path_key(chat.resolve())}
        assert set(s.exec(select(DiaryMeta.source_file))) == {path_key(diary.resolve())}
        assert set(s.exec(select(Track.source_file))) == {path_key(track.resolve())}
        jobs = list_jobs(s, 10)
        stats = library_stats(s)
    # Everything shown is plain UTF-8 text, as the CLI and the API print it.
    json.dumps(jobs, ensure_ascii=False).encode("utf-8")
    json.dumps([p.__dict__ for r in (photos, chats, diaries, tracks) for p in r.problems],
               ensure_ascii=False).encode("utf-8")
    assert [j["status"] for j in jobs] == ["done"] * 4 and stats["pending_index"] == 0
    assert_all_searchable(lib)

    # Running again finds every file under the same key: nothing is read twice.
    assert PhotoIngester(lib).run([photo]).unchanged == 1
    assert (ChatIngester(lib).run([chat]).added, DiaryIngester(lib).run([diary]).added) == (0, 0)
    lib.close()


def test_a_lone_surrogate_is_reported_and_the_later_files_still_go_in(tmp_path, samples):
    src = tmp_path / "chats"
    src.mkdir()
    # Sorted first, so the files after it are the ones that used to be lost.
    (src / "a-broken.json").write_text(
        '{"conversation": "Bob", "messages": ['
        '{"id": "1", "time": "2024-05-01T10:00:00", "sender": "Bob", "text": "the ferry leaves at \\ud800 noon"},'
        '{"id": "2", "time": "2024-05-01T10:01:00", "sender": "me", "text": "see you at the pier"}]}')
    for name in WECHAT:
        shutil.copy(samples / "chats" / name, src / name)
    lib = Library.open(Settings(home=tmp_path / "lib"))
    report = ChatIngester(lib).run([src])
    assert (report.added, report.failed) == (2 + 95 + 61 + 35, 0)
    bad = [p for p in report.problems if "invalid characters" in p.reason]
    assert [(Path(p.path).name, p.severity) for p in bad] == [("a-broken.json", "warning")]
    assert "line 1" in bad[0].reason and "U+FFFD" in bad[0].reason
    hit = lib.text_index.search("ferry leaves noon", k=1)[0][0]
    with lib.session() as s:
        assert s.get(Item, hit).text == "the ferry leaves at \ufffd noon"
    assert_all_searchable(lib)
    lib.close()


# ---------------------------------------------------------------- killed between storing and indexing

CHILD = r"""
import sys, time
from pathlib import Path
from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester

kind, home, source, stop_phase, stop_at = sys.argv[1:6]

def phase(name, done, total):
    print(name, done, total, flush=True)
    if name == stop_phase and done >= int(stop_at):
        print("KILL ME", flush=True)
        time.sleep(600)  # the test sends SIGKILL here

lib = Library.open(Settings(home=Path(home)))
ingester = ChatIngester(lib) if kind == "chats" else DiaryIngester(lib)
ingester.run([Path(source)], phase_progress=phase)
print("DONE", flush=True)
"""


def run_and_kill(kind: str, home: Path, source: Path, phase: str, at: int) -> list[str]:
    """Run an ingest in a child process and SIGKILL it once it reports ``phase`` ``at``."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, str(home), str(source), phase, str(at)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    lines = []
    deadline = time.time() + 300
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "KILL ME" or time.time() > deadline:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert lines and lines[-1] == "KILL ME", (lines[-5:], child.stderr.read()[-2000:])
    return lines


def _resume_with_an_ingest_of_nothing(lib: Library, tmp_path: Path) -> None:
    empty = tmp_path / "nothing here"
    empty.mkdir()
    DiaryIngester(lib).run([empty])  # any ingest catches the index up


@pytest.mark.parametrize("kind, phase, at, stored_before, resume", [
    ("chats", "store", 1, False, "same"),     # inside the first file's transaction: nothing stored yet
    ("chats", "read", 2, True, "any"),        # first file committed, indexing not begun
    ("chats", "embed", 1, True, "reindex"),   # words written, vectors not
    ("chats", "index", 1, True, "same"),      # indexed, job not closed
    ("diary", "embed", 1, True, "same"),
])
def test_killed_between_storing_and_indexing_then_resumed(tmp_path, samples, kind, phase, at, stored_before, resume):
    home = tmp_path / "lib"
    if kind == "chats":
        source = tmp_path / "exports"
        source.mkdir()
        for name in WECHAT:
            shutil.copy(samples / "chats" / name, source / name)
    else:
        source = locomo_diary(samples, tmp_path / "diary.md")
    lines = run_and_kill(kind, home, source, phase, at)
    assert lines[-2].split()[0] == phase

    lib = Library.open(Settings(home=home))
    with lib.session() as s:
        stored = s.exec(select(Item.id).where(Item.kind.in_(["message", "diary"]))).all()
        stats = library_stats(s)
        jobs = list_jobs(s, 5)
    assert bool(stored) == stored_before
    assert stats["last_job"]["status"] == "interrupted" and jobs[0]["status"] == "interrupted"
    if phase in ("read", "embed"):  # stored, not (fully) searchable, and the stats say so
        assert stats["pending_index"] == len(stored) and jobs[0]["pending"] == len(stored)
        words = lib.text_index.indexed_ids()
        assert words == (set() if phase == "read" else set(stored))
        assert lib.vectors.collection(TEXTS).count() == 0

    if resume == "same":
        report = (ChatIngester(lib) if kind == "chats" else DiaryIngester(lib)).run([source])
        assert report.failed == 0
    elif resume == "any":
        _resume_with_an_ingest_of_nothing(lib, tmp_path)
        ChatIngester(lib).run([source])
    else:
        reindex(lib)
    count = assert_all_searchable(lib)
    assert count == (95 + 61 + 35 if kind == "chats" else count)
    with lib.session() as s:
        statuses = [j.status for j in s.exec(select(IngestJob).order_by(IngestJob.id))]
        assert library_stats(s)["pending_index"] == 0
    assert statuses[0] == "interrupted" and "running" not in statuses
    lib.close()


# ---------------------------------------------------------------- the library inside the folder

def test_a_library_inside_its_source_folder_never_ingests_itself(tmp_path, exif_samples):
    photos = tmp_path / "Pictures"
    shutil.copytree(exif_samples / "jpg/gps", photos / "2008 Tuscany")
    lib = Library.open(Settings(home=photos / "deepdiary library"))
    first = PhotoIngester(lib).run([photos])
    assert (first.total, first.added) == (6, 6)
    assert list((photos / "deepdiary library").rglob("*.thumb.webp"))  # thumbnails that must not come back
    for _ in range(2):
        again = PhotoIngester(lib).run([photos])
        assert (again.total, again.added, again.unchanged, again.failed) == (6, 0, 6, 0)
    with lib.session() as s:
        assert len(s.exec(select(Item)).all()) == 6
    lib.close()


# ---------------------------------------------------------------- two ingests at once

def test_a_photo_stored_by_a_concurrent_ingest_is_already_in_the_library(tmp_path, exif_samples):
    src = tmp_path / "photos"
    shutil.copytree(exif_samples / "jpg/gps", src)
    home = tmp_path / "lib"
    lib = Library.open(Settings(home=home))

    class Racing(PhotoIngester):
        """Another process stores each photo between this one's look and its write."""

        def _store(self, path, *args, **kw):
            other = Library.open(Settings(home=home))
            PhotoIngester(other).run([path])
            other.close()
            return super()._store(path, *args, **kw)

    report = Racing(lib).run([src])
    assert (report.added, report.unchanged, report.failed) == (0, 6, 0)
    assert {p.reason for p in report.problems if p.severity == "info"} == {
        "already in the library (stored by another ingest running at the same time)"}
    assert not [p for p in report.problems if "IntegrityError" in p.reason or p.severity == "error"]
    with lib.session() as s:
        assert len(s.exec(select(Item)).all()) == 6
    lib.close()


CONCURRENT = r"""
import json, sys
from pathlib import Path
from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.pipeline.ingest import PhotoIngester
lib = Library.open(Settings(home=Path(sys.argv[1])))
print(json.dumps(PhotoIngester(lib).run([Path(sys.argv[2])]).as_dict()))
"""


def test_two_photo_ingests_at_once_report_no_failures(tmp_path, exif_samples):
    src = tmp_path / "photos"
    shutil.copytree(exif_samples / "jpg/gps", src / "gps")
    shutil.copytree(exif_samples / "jpg/orientation", src / "orientation")
    home = tmp_path / "lib"
    lib = Library.open(Settings(home=home))
    PhotoIngester(lib).run([src / "gps"])  # an existing library
    children = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(home), str(src)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, cwd=REPO) for _ in range(2)]
    reports = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-2000:]
        reports.append(json.loads(out))
    for r in reports:
        assert r["failed"] == 0, r["problems"]
        assert not [p for p in r["problems"] if "IntegrityError" in p["reason"]]
        assert r["added"] + r["unchanged"] + r["linked"] == r["total"]
    with lib.session() as s:
        items = len(s.exec(select(Item)).all())
        assert [j["status"] for j in list_jobs(s, 3)] == ["done"] * 3
    assert items == 6 + sum(r["added"] for r in reports) and items == 6 + reports[0]["total"] - 6
    lib.close()


def test_an_ingest_sweeps_only_old_blob_temp_files(tmp_path, exif_samples):
    # A young temp file may be another ingest's blob write in flight (two upload jobs at
    # once): sweeping it made that ingest fail with FileNotFoundError. An old one is a
    # killed writer's leftover.
    lib = Library.open(Settings(home=tmp_path / "lib"))
    folder = lib.blobs.root / "ab" / "cd"
    folder.mkdir(parents=True)
    young, old = folder / ".tmp-young", folder / ".tmp-old"
    young.write_bytes(b"in flight")
    old.write_bytes(b"left behind")
    long_ago = time.time() - 2 * 3600
    os.utime(old, (long_ago, long_ago))
    # A temp file whose writer is named and dead (a SIGKILLed ingest) goes at once, however young;
    # a live writer's stays.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = this_host()
    killed, live = folder / f".tmp-{gone.pid}@{host}.k1ll3d00", folder / f".tmp-{os.getpid()}@{host}.l1ve0000"
    killed.write_bytes(b"half a photo")
    live.write_bytes(b"being written")
    report = PhotoIngester(lib).run([exif_samples / "jpg/gps"])
    assert report.failed == 0
    assert young.exists() and not old.exists()
    assert live.exists() and not killed.exists()
    lib.close()


# ---------------------------------------------------------------- jobs, stats and reindex

def test_dead_jobs_are_interrupted_live_ones_left_alone(tmp_path):
    lib = Library.open(Settings(home=tmp_path / "lib"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        now = datetime.now(UTC)
        with lib.session() as s:
            jobs = {
                "dead": IngestJob(kind="chats", pid=gone.pid, hostname=this_host()),
                "live": IngestJob(kind="chats", pid=sleeper.pid, hostname=this_host(), started_at=now),
                "elsewhere": IngestJob(kind="chats", pid=1, hostname="another-machine"),
                "reused pid": IngestJob(kind="chats", pid=sleeper.pid, hostname=this_host(),
                                        started_at=datetime(2020, 1, 1, tzinfo=UTC)),
                "before pids": IngestJob(kind="chats"),
            }
            s.add_all(jobs.values())
            s.flush()
            ids = {name: job.id for name, job in jobs.items()}
        with lib.session() as s:
            shown = {j["id"]: j["status"] for j in list_jobs(s, 10)}
            assert library_stats(s)["last_job"]["status"] == "interrupted"  # "before pids" is the newest
        expected = {"dead": "interrupted", "live": "running", "elsewhere": "running", "reused pid": "interrupted",
                    "before pids": "interrupted"}
        assert {name: shown[i] for name, i in ids.items()} == expected
        with JobRecorder(lib, "photos", [], 0) as job:
            job.finish()
        with lib.session() as s:
            stored = {j.id: j.status for j in s.exec(select(IngestJob))}
        assert {name: stored[i] for name, i in ids.items()} == expected
    finally:
        sleeper.kill()
        sleeper.wait()
    lib.close()


def test_phase_progress_reindex_and_list_jobs(tmp_path, samples):
    src = tmp_path / "exports"
    src.mkdir()
    for name in WECHAT:
        shutil.copy(samples / "chats" / name, src / name)
    lib = Library.open(Settings(home=tmp_path / "lib"))
    phases, files = [], []
    report = ChatIngester(lib).run([src], progress=lambda d, t, p: files.append((d, t)),
                                   phase_progress=lambda *a: phases.append(a))
    assert files == [(1, 3), (2, 3), (3, 3)]
    order = list(dict.fromkeys(p for p, _, _ in phases))
    assert order == ["read", "store", "embed", "index"]
    assert [a for a in phases if a[0] == "read"] == [("read", 1, 3), ("read", 2, 3), ("read", 3, 3)]
    assert phases[-1] == ("index", report.added, report.added)

    lib.text_index.clear()  # a lost or stale index: search finds nothing ...
    assert lib.text_index.search("小马尔代夫", k=3) == []
    seen = []
    result = reindex(lib, progress=lambda *a: seen.append(a))
    assert result["items"] == result["indexed"] == report.added and result["pending"] == 0
    assert seen[-1] == ("index", report.added, report.added)
    assert_all_searchable(lib)  # ... until reindex rebuilt it from the catalogue
    with lib.session() as s:
        jobs = list_jobs(s, 2)
    assert [(j["kind"], j["status"], j["pending"]) for j in jobs] == [("reindex", "done", 0), ("chats", "done", 0)]
    assert set(jobs[1]) >= {"id", "kind", "status", "roots", "total", "added", "linked", "unchanged", "failed",
                            "errors", "warnings", "started_at", "finished_at", "pid", "hostname", "pending"}
    assert jobs[1]["added"] == report.added and jobs[1]["roots"] == [str(src)]
    lib.close()


def test_an_old_library_is_queued_once_and_only_what_is_missing_is_indexed(tmp_path, samples):
    src = tmp_path / "exports"
    src.mkdir()
    shutil.copy(samples / "chats" / WECHAT[0], src / WECHAT[0])
    lib = Library.open(Settings(home=tmp_path / "lib"))
    added = ChatIngester(lib).run([src]).added
    # What a library from before the queue looks like after a killed run: stored, the
    # words written, half the vectors missing, and nothing to say so.
    with lib.session() as s:
        ids = sorted(s.exec(select(Item.id).where(Item.kind == "message")))
    lib.vectors.delete(TEXTS, ids[::2])
    command.downgrade(alembic_config(lib.engine), "0004")
    upgrade(lib.engine)
    with lib.session() as s:
        assert library_stats(s)["pending_index"] == added
    with lib.session() as s:
        with_text = {r.item_id for r in indexed_rows(s, ids[::2], "me") if r.text.strip()}
    result = drain_index_queue(lib)
    assert result.indexed == len(with_text) and result.skipped == added - len(with_text)
    assert_all_searchable(lib)
    lib.close()


# ---------------------------------------------------------------- fuzz: names and text

SPECIAL = ["\ud800", "\udfff", "\udce9", "\u202e", "\u200f", "\x00", "\x1b[31m", "\r\n", "\t", "中文消息", "西湖划船",
           "مرحبا بالعالم", "שלום", "😀", "e\u0301", "\ufeff", "\ufffd", " "]
fuzz_text = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL)), max_size=6).map("".join)
fuzz_name = st.one_of(
    st.binary(min_size=1, max_size=120),
    st.sampled_from([b"caf\xe9", b"na\xefve  spaces ", "😀 emoji 中文".encode(), b"x" * 200, b"\xff\xfe", b"-rf"]),
).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_").lstrip(b"."))


@pytest.fixture(scope="module")
def shared_library():
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Settings(home=Path(tmp) / "lib"))
        yield lib, Path(tmp)
        lib.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(name=fuzz_name, texts=st.lists(fuzz_text, min_size=1, max_size=5))
@example(name=b"caf\xe9 \xff", texts=["a lone \ud800 surrogate", "", "\u202eRTL \x00 西湖 😀"])
@example(name="😀 ".encode() * 30, texts=["   "])
def test_fuzzed_names_and_messages(shared_library, name, texts):
    lib, root = shared_library
    folder = Path(tempfile.mkdtemp(dir=root))
    chat = folder / os.fsdecode((name or b"_") + b".json")
    conversation = f"fuzz {folder.name}"
    messages = [{"id": str(n), "time": f"2024-05-01T10:{n:02d}:00", "sender": "Alice", "text": t}
                for n, t in enumerate(texts)]
    # ensure_ascii keeps lone surrogates as \ud800 escapes, the way they arrive in real exports.
    chat.write_text(json.dumps({"conversation": conversation, "messages": messages}), encoding="utf-8")
    diary = folder / os.fsdecode((name or b"_") + b" 2023-07-14.md")
    diary.write_bytes(("# entry\n\n" + " ".join(texts) + " lotus\n").encode("utf-8", "replace"))

    chats = ChatIngester(lib).run([chat])
    diaries = DiaryIngester(lib).run([diary])

    key = path_key(chat.resolve())
    good = [t for t in texts if t.strip()]
    for p in chats.problems + diaries.problems:
        assert p.path in (key, path_key(diary.resolve())) and p.reason
        p.reason.encode("utf-8")
    assert sum("empty text message" in p.reason for p in chats.problems) == len(texts) - len(good)
    assert sum("invalid characters" in p.reason for p in chats.problems) == sum(map(has_lone_surrogates, good))
    if good:
        assert (chats.added, chats.failed) == (len(good), 0)
    else:
        assert chats.failed == 1
    assert (diaries.added, diaries.failed) == (1, 0)
    with lib.session() as s:
        stored = s.exec(select(Item).join(ChatMeta, ChatMeta.item_id == Item.id)
                        .where(ChatMeta.source_file == key).order_by(Item.id)).all()
        assert pending_index(s) == 0
    assert len(stored) == len(good)
    index = lib.text_index
    assert {i.id for i in stored} <= index.indexed_ids()
    for item in stored:
        item.text.encode("utf-8")
        if tokens(item.text):
            hits = index.bm25(item.text, 50, TextFilter(conversation=conversation))
            assert item.id in [i for i, _ in hits]
