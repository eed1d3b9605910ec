"""The job recorder and jobs that workers carry: heartbeats decide whether such a job is
alive, whichever process opened it; its items settle once each, and it closes after its last."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import select

from deepdiary.api import create_app
from deepdiary.core.processes import this_host
from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.memory.tables import IngestJob
from deepdiary.pipeline.jobs import (
    HEARTBEAT_STALE_SECONDS, JobRecorder, beat, close_worker_job, list_jobs, open_worker_job, settle_job_item,
    worker_job_settled,
)
from deepdiary.services import AppContext


def test_a_new_job_leaves_a_live_worker_job_running_and_marks_a_stale_one(tmp_path):
    lib = Library.open(Settings(home=tmp_path / "lib"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # the ingest that enqueued the tasks has exited
    gone.wait()
    now = datetime.now(UTC)
    stale = now - timedelta(seconds=HEARTBEAT_STALE_SECONDS + 60)
    with lib.session() as s:
        jobs = {
            "worker live": IngestJob(kind="enrich", pid=gone.pid, hostname=this_host(), heartbeat_at=now),
            "worker live elsewhere": IngestJob(kind="enrich", pid=1, hostname="another-machine", heartbeat_at=now),
            "worker stale": IngestJob(kind="enrich", pid=gone.pid, hostname=this_host(), heartbeat_at=stale),
            "worker stale elsewhere": IngestJob(kind="enrich", pid=1, hostname="another-machine", heartbeat_at=stale),
            # Without a heartbeat the process rules hold as before: another host's job is left alone.
            "elsewhere": IngestJob(kind="chats", pid=1, hostname="another-machine"),
            "dead": IngestJob(kind="chats", pid=gone.pid, hostname=this_host()),
        }
        s.add_all(jobs.values())
        s.flush()
        ids = {name: job.id for name, job in jobs.items()}
    # A job this very process opened for workers and does not hold open is alive by its heartbeat too.
    ids["opened here"] = open_worker_job(lib, "enrich", [tmp_path], [101, 102])
    expected = {"worker live": "running", "worker live elsewhere": "running", "worker stale": "interrupted",
                "worker stale elsewhere": "interrupted", "elsewhere": "running", "dead": "interrupted",
                "opened here": "running"}
    with lib.read_session() as s:
        shown = {j["id"]: j for j in list_jobs(s, 20)}
    assert {name: shown[i]["status"] for name, i in ids.items()} == expected
    assert shown[ids["opened here"]]["queued"] == 2 and shown[ids["opened here"]]["heartbeat_at"]
    with JobRecorder(lib, "photos", [], 0) as job:  # a second job starts: it marks only the dead
        job.finish()
    with lib.read_session() as s:
        stored = {j.id: j.status for j in s.exec(select(IngestJob))}
    assert {name: stored[i] for name, i in ids.items()} == expected

    # A worker taking a task of the stale job runs it again.
    with lib.session() as s:
        beat(s, ids["worker stale"])
    with lib.read_session() as s:
        assert list_jobs(s, 1, job_id=ids["worker stale"])[0]["status"] == "running"
    lib.close()


def test_worker_job_items_settle_once_and_the_job_closes_after_the_last(tmp_path):
    lib = Library.open(Settings(home=tmp_path / "lib"))
    job_id = open_worker_job(lib, "enrich", [tmp_path], [1, 2, 3])
    with lib.session() as s:
        assert settle_job_item(s, job_id, 1, "done") is False
        assert settle_job_item(s, job_id, 2, "unchanged") is False
    with lib.session() as s:
        assert not worker_job_settled(s, job_id)
        assert settle_job_item(s, job_id, 3, "failed") is True  # the last: the caller finishes the job
    with lib.read_session() as s:
        row = list_jobs(s, 1, job_id=job_id)[0]
        # Killed before it closed the job: a second delivery sees that and finishes it.
        assert worker_job_settled(s, job_id)
    assert (row["status"], row["total"], row["added"], row["unchanged"], row["failed"], row["queued"]) == (
        "running", 3, 1, 1, 1, 0)
    with lib.session() as s:
        close_worker_job(s, job_id)
    with lib.read_session() as s:
        assert list_jobs(s, 1, job_id=job_id)[0]["status"] == "done"
        assert not worker_job_settled(s, job_id)
    # Nothing to do: done at once.
    empty = open_worker_job(lib, "enrich", [tmp_path], [])
    with lib.read_session() as s:
        assert list_jobs(s, 1, job_id=empty)[0]["status"] == "done"

    # The API and `deepdiary jobs` show a worker job's progress.
    pending = open_worker_job(lib, "enrich", [tmp_path], [7, 8])
    with lib.session() as s:
        settle_job_item(s, pending, 7, "done")
    ctx = AppContext.for_library(lib)
    with TestClient(create_app(ctx)) as client:
        shown = next(j for j in client.get("/api/jobs").json() if j["id"] == pending)
        assert (shown["kind"], shown["status"], shown["total"], shown["added"], shown["queued"]) == (
            "enrich", "running", 2, 1, 1)
        assert client.get(f"/api/jobs/{pending}").json()["queued"] == 1
    env = {**os.environ, "DEEPDIARY_HOME": str(tmp_path / "lib")}
    out = subprocess.run([sys.executable, "-m", "deepdiary", "jobs", "--json"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    import json

    listed = next(j for j in json.loads(out.stdout) if j["id"] == pending)
    assert (listed["status"], listed["added"], listed["queued"]) == ("running", 1, 1)
    lib.close()
