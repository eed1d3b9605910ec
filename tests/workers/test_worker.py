"""Enrichment on Celery workers: two real ``deepdiary worker`` processes over 50 real photos,
one SIGKILLed mid-task, on the real servers (PostgreSQL, a Chroma server, Redis). In the
end every photo is enriched exactly once: one face row per face, one vector per photo."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Item
from deepdiary.pipeline.jobs import list_jobs
from sqlmodel import select
from tests.servers import chroma, postgres, redis

REPO = Path(__file__).resolve().parents[2]
FACES = ("biden.jpg", "obama.jpg", "obama2.jpg", "t1.jpg")
GPS = ("DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg", "DSCN0025.jpg", "DSCN0027.jpg", "DSCN0029.jpg")
QUALITIES = (92, 86, 80, 74, 68)  # each source re-encoded five ways: 50 photos, each its own content
VISIBILITY_TIMEOUT = 15  # seconds before the killed worker's task goes to the other one


def fifty_photos(samples: Path, dest: Path) -> list[Path]:
    dest.mkdir(parents=True)
    sources = [samples / "faces" / n for n in FACES] + [samples / "photos/exif-samples/jpg/gps" / n for n in GPS]
    out = []
    for src in sources:
        with Image.open(src) as img:
            rgb = img.convert("RGB")
            for q in QUALITIES:
                path = dest / f"{src.stem}-q{q}.jpg"
                rgb.save(path, quality=q)
                out.append(path)
    assert len({hashlib.sha256(p.read_bytes()).hexdigest() for p in out}) == len(out) == 50
    return out


def cli(env: dict, *args: str, timeout: float = 600) -> str:
    done = subprocess.run([sys.executable, "-m", "deepdiary", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepdiary", "worker", "--concurrency", "1"], cwd=REPO, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


TASK = re.compile(r"Task deepdiary\.enrich_photo\[([0-9a-f-]+)\] (received|succeeded)")


def tasks_in_log(log: Path) -> tuple[list[str], list[str]]:
    """The ids of the tasks the worker writing ``log`` received, and of those it finished."""
    text = log.read_text(errors="replace") if log.exists() else ""
    found = TASK.findall(text)
    return [t for t, what in found if what == "received"], [t for t, what in found if what == "succeeded"]


def stop(proc: subprocess.Popen) -> None:
    """A warm shutdown (the task in hand finishes), then nothing of its group left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.timeout(1500)
def test_two_workers_one_killed_every_photo_enriched_exactly_once(tmp_path, samples):
    photos = fifty_photos(samples, tmp_path / "photos")
    with postgres.running() as pg, chroma.running(tmp_path / "chroma") as vectors, \
            redis.running(tmp_path / "redis") as broker:
        env = {**os.environ, **pg, **vectors, **broker, "DEEPDIARY_HOME": str(tmp_path / "lib"),
               "DEEPDIARY_NAMESPACE": "dd_worker_test", "DEEPDIARY_ENRICH_WORKERS": "1",
               "DEEPDIARY_TORCH_THREADS": "1", "DEEPDIARY_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)}
        # The test watches the jobs as `deepdiary jobs` lists them, from the catalogue itself.
        watcher = Library.open(Settings(home=tmp_path / "lib", database_url=pg["DEEPDIARY_DATABASE_URL"],
                                        namespace="dd_worker_test"))

        def job(job_id: int) -> dict:
            with watcher.read_session() as s:
                return list_jobs(s, 1, job_id=job_id)[0]

        started = time.monotonic()
        report = json.loads(cli(env, "ingest", "photos", str(tmp_path / "photos"), "--json"))
        assert report["added"] == 50 and report["enrich"] is None
        job_id = report["enrich_job"]
        queued = job(job_id)
        assert (queued["kind"], queued["status"], queued["total"], queued["queued"]) == ("enrich", "running", 50, 50)

        logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
        a, b = start_worker(env, logs[0]), start_worker(env, logs[1])
        try:
            # Kill A in the middle of a task: after a few done (its models loaded), while it holds one.
            deadline = time.monotonic() + 600
            while True:
                assert a.poll() is None and b.poll() is None, [p.read_text()[-3000:] for p in logs]
                received, finished = tasks_in_log(logs[0])
                if len(finished) >= 3 and set(received) - set(finished):
                    break
                assert time.monotonic() < deadline, logs[0].read_text()[-3000:]
                time.sleep(0.02)
            time.sleep(0.05)  # into the task's work
            os.kill(a.pid, signal.SIGKILL)
            a.wait()
            killed_at = time.monotonic()
            received, finished = tasks_in_log(logs[0])
            held = set(received) - set(finished)
            assert len(held) == 1, (received, finished)
            for _ in range(50):  # its pool process dies with it: no orphan finishes the task unseen
                if not group_alive(a.pid):
                    break
                time.sleep(0.1)
            assert not group_alive(a.pid)

            # B finishes the job, A's task among its own once the visibility timeout gives it back;
            # until then the job is running (B's heartbeat), never interrupted, and done only
            # after its last task regrouped the faces.
            while (state := job(job_id))["status"] != "done":
                assert b.poll() is None, logs[1].read_text()[-3000:]
                assert state["status"] == "running", state
                assert time.monotonic() - killed_at < 600, state
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            while set(tasks_in_log(logs[1])[0]) - set(tasks_in_log(logs[1])[1]):  # B's last task returns
                assert time.monotonic() - killed_at < 600
                time.sleep(0.2)
        finally:
            for proc in (a, b):
                stop(proc)
            watcher.close()

        assert (state["total"], state["added"], state["unchanged"], state["failed"], state["queued"]) == (50, 50, 0, 0, 0)
        shown = next(j for j in json.loads(cli(env, "jobs", "--json")) if j["id"] == job_id)
        assert (shown["status"], shown["added"], shown["queued"]) == ("done", 50, 0)
        # The task A held was delivered again, to B, and finished there.
        b_received, b_finished = tasks_in_log(logs[1])
        assert held <= set(b_finished), (held, logs[1].read_text()[-2000:])
        [redo] = [line for line in logs[1].read_text().splitlines() if f"[{next(iter(held))}] succeeded" in line]
        assert len(set(finished) | set(b_finished)) == 50
        check_enriched_once(env, photos)
        print(f"\n50 photos on two workers, one SIGKILLed mid-task: {elapsed:.0f} s; A finished {len(finished)}, "
              f"B {len(b_finished)}, the killed task among them: {redo[redo.index('{'):]}")


def check_enriched_once(env: dict, photos: list[Path]) -> None:
    """Every photo: each stage done once, as many face rows as its faces, one vector per collection."""
    check = r'''
import json, sys
from collections import Counter
from sqlmodel import select
from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Face, Item, ItemPath, ItemStage
from deepdiary.memory.vectors import IMAGE_FEATURES, PHOTO_TEXT
from deepdiary.models.photo_workers import load_upright
from deepdiary.models.registry import ModelCache

settings = Settings()
lib = Library.open(settings)
with lib.read_session() as s:
    ids = {p: i for p, i in s.exec(select(ItemPath.path, ItemPath.item_id))}
    photos = set(s.exec(select(Item.id).where(Item.kind == "photo")))
    stages = Counter((i, st) for i, st, status in s.exec(select(ItemStage.item_id, ItemStage.stage, ItemStage.status))
                     if status == "done")
    faces = Counter(s.exec(select(Face.item_id)))
    boxes = Counter((f.item_id, f.x, f.y, f.width, f.height) for f in s.exec(select(Face)))
analyzer = ModelCache(settings).faces
expected = {ids[p]: len(analyzer.analyze(load_upright(p))) for p in sys.argv[1:]}
print(json.dumps({
    "photos": sorted(photos), "ids": sorted(expected),
    "stages": sorted(Counter(st for (_, st) in stages).items()), "stage_repeats": max(stages.values()),
    "faces": {str(i): faces.get(i, 0) for i in sorted(expected)},
    "expected_faces": {str(i): n for i, n in sorted(expected.items())},
    "duplicate_boxes": sum(n - 1 for n in boxes.values()),
    "vectors": {name: sorted(lib.vectors.existing_ids(name)) for name in (IMAGE_FEATURES, PHOTO_TEXT)},
    "counts": {name: lib.vectors.count(name) for name in (IMAGE_FEATURES, PHOTO_TEXT)},
}))
lib.close()
'''
    out = subprocess.run([sys.executable, "-c", check, *map(str, photos)], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(found["photos"]) == 50 and found["ids"] == found["photos"]
    stages = ("category", "description", "faces", "features", "tags")
    assert found["stages"] == [[st, 50] for st in stages] and found["stage_repeats"] == 1
    assert found["duplicate_boxes"] == 0
    assert found["faces"] == found["expected_faces"]
    assert sum(found["faces"].values()) >= 5 * (1 + 1 + 1 + 6)  # the face photos' faces, five copies each
    for name, ids in found["vectors"].items():
        assert ids == found["photos"], name
        assert found["counts"][name] == 50, name


@pytest.mark.timeout(900)
def test_a_chat_import_is_embedded_by_a_worker(tmp_path, samples):
    """With a broker, a chat import stores the messages and leaves the embedding and indexing to
    a worker's task; the import's job runs until the worker has drained the queue."""
    chats = tmp_path / "chats"
    chats.mkdir()
    (chats / "chat.csv").write_bytes((samples / "chats/weclone_test_person_pywxdump.csv").read_bytes())
    with postgres.running() as pg, chroma.running(tmp_path / "chroma") as vectors, \
            redis.running(tmp_path / "redis") as broker:
        env = {**os.environ, **pg, **vectors, **broker, "DEEPDIARY_HOME": str(tmp_path / "lib"),
               "DEEPDIARY_NAMESPACE": "dd_chat_worker_test", "DEEPDIARY_TORCH_THREADS": "1"}
        report = json.loads(cli(env, "ingest", "chats", str(chats), "--json"))
        assert report["added"] > 20
        watcher = Library.open(Settings(home=tmp_path / "lib", database_url=pg["DEEPDIARY_DATABASE_URL"],
                                        chroma_url=vectors["DEEPDIARY_CHROMA_URL"], namespace="dd_chat_worker_test"))
        try:
            with watcher.read_session() as s:
                waiting = list_jobs(s, 1, job_id=report["id"])[0]
            assert (waiting["status"], waiting["pending"]) == ("running", report["added"])
            log = tmp_path / "worker.log"
            worker = start_worker(env, log)
            try:
                deadline = time.monotonic() + 600
                while (state := list_jobs_of(watcher, report["id"]))["status"] != "done":
                    assert worker.poll() is None, log.read_text()[-3000:]
                    assert state["status"] == "running" and time.monotonic() < deadline, state
                    time.sleep(0.5)
            finally:
                stop(worker)
            assert state["pending"] == 0
            with watcher.read_session() as s:
                ids = set(s.exec(select(Item.id).where(Item.kind == "message")))
            assert len(ids) == report["added"]
            assert watcher.text_index.indexed_ids() == ids
            assert watcher.vectors.existing_ids("texts") <= ids and len(watcher.vectors.existing_ids("texts")) > 20
        finally:
            watcher.close()


def list_jobs_of(lib: Library, job_id: int) -> dict:
    with lib.read_session() as s:
        return list_jobs(s, 1, job_id=job_id)[0]


def test_enrich_one_is_idempotent_and_a_kill_before_the_commit_keeps_nothing(tmp_path, samples, monkeypatch):
    """The task's own code in one process: a failure just before the commit (as a SIGKILL there)
    leaves no face, stage or settled item; the redo writes each once; further deliveries do nothing."""
    import deepdiary.pipeline.jobs as jobs
    from deepdiary.memory.tables import Face, ItemStage
    from deepdiary.memory.vectors import IMAGE_FEATURES, PHOTO_TEXT
    from deepdiary.pipeline.enrich import Enricher
    from deepdiary.pipeline.ingest import PhotoIngester
    from deepdiary.pipeline.jobs import job_item_status, open_worker_job

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "t1.jpg").write_bytes((samples / "faces/t1.jpg").read_bytes())
    lib = Library.open(Settings(home=tmp_path / "lib", enrich_workers=1))
    try:
        [item_id] = PhotoIngester(lib).run([folder]).item_ids
        job_id = open_worker_job(lib, "enrich", [folder], [item_id])
        real = jobs.settle_job_item

        def killed(*args, **kwargs):
            raise RuntimeError("killed before the commit")

        monkeypatch.setattr(jobs, "settle_job_item", killed)
        with pytest.raises(RuntimeError):
            Enricher(lib).enrich_one(item_id, job_id)
        with lib.read_session() as s:
            assert s.exec(select(Face).where(Face.item_id == item_id)).all() == []
            assert s.exec(select(ItemStage).where(ItemStage.item_id == item_id)).all() == []
            assert job_item_status(s, job_id, item_id) == "queued"
        monkeypatch.setattr(jobs, "settle_job_item", real)

        assert Enricher(lib).enrich_one(item_id, job_id) == ("done", True)
        assert Enricher(lib).enrich_one(item_id, job_id) == ("settled", False)  # a second delivery
        assert Enricher(lib).enrich_one(item_id) == ("unchanged", False)  # already enriched
        with lib.read_session() as s:
            assert len(s.exec(select(Face).where(Face.item_id == item_id)).all()) == 6
            assert {st.stage for st in s.exec(select(ItemStage).where(ItemStage.item_id == item_id))
                    if st.status == "done"} == {"faces", "tags", "features", "description", "category"}
        for name in (IMAGE_FEATURES, PHOTO_TEXT):
            assert lib.vectors.existing_ids(name) == {item_id} and lib.vectors.count(name) == 1
    finally:
        lib.close()


def test_a_running_task_beats_on_its_job(tmp_path):
    """A long task (a big chat import's embedding) keeps its job's heartbeat fresh."""
    from deepdiary.memory.tables import IngestJob
    from deepdiary.pipeline.jobs import open_worker_job
    from deepdiary.services import AppContext
    from deepdiary.services.tasks import heartbeat

    lib = Library.open(Settings(home=tmp_path / "lib"))
    ctx = AppContext.for_library(lib)
    try:
        job_id = open_worker_job(lib, "chats", [tmp_path], [1])

        def last_beat():
            with lib.read_session() as s:
                return s.get(IngestJob, job_id).heartbeat_at

        before = last_beat()
        beats = []
        with heartbeat(ctx, job_id, every=0.05):
            for _ in range(40):
                time.sleep(0.05)
                beats.append(last_beat())
        assert len(set(beats)) >= 3 and min(beats) > before
    finally:
        lib.close()
