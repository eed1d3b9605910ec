"""Enrichment throughput on `deepdiary worker` processes (part 3 of bench/scale.py).

The same real photos (tests/workers/test_worker.py's set: ten sample photos, each
re-encoded five ways, so 50 distinct files) are ingested into a fresh library on a
PostgreSQL catalogue and a Chroma server: once enriched in process (no broker: the
baseline), then through a Redis broker with 1 and with 2 workers. Printed: seconds and
photos/s from the start of `ingest photos` to the enrichment job's end, model loading
included, as the user waits for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from deepdiary.core.settings import Settings  # noqa: E402
from deepdiary.memory.library import Library  # noqa: E402
from deepdiary.pipeline.jobs import list_jobs  # noqa: E402
from tests.servers import chroma, redis  # noqa: E402
from tests.workers.test_worker import cli, fifty_photos, start_worker, stop  # noqa: E402


def _run(folder: Path, env: dict, photos: Path, workers: int) -> float:
    t0 = time.perf_counter()
    report = json.loads(cli(env, "ingest", "photos", str(photos), "--json", timeout=3600))
    if workers == 0:
        return time.perf_counter() - t0
    procs = [start_worker(env, folder / f"worker-{i}.log") for i in range(workers)]
    lib = Library.open(Settings(home=Path(env["DEEPDIARY_HOME"]), database_url=env["DEEPDIARY_DATABASE_URL"],
                                namespace=env["DEEPDIARY_NAMESPACE"]))
    try:
        while True:
            with lib.read_session() as s:
                job = list_jobs(s, 1, job_id=report["enrich_job"])[0]
            if job["status"] != "running":
                assert job["status"] == "done", job
                return time.perf_counter() - t0
            time.sleep(0.5)
    finally:
        for p in procs:
            stop(p)
        lib.close()


def enrichment_throughput(folder: Path, pg: dict, n: int = 50) -> None:
    samples = Path(os.environ.get("DEEPDIARY_SAMPLES", REPO.parent / "shared" / "data"))
    made = fifty_photos(samples, folder / "photos")
    for extra in made[n:]:
        extra.unlink()
    photos = made[:n]
    with chroma.running(folder / "chroma") as vectors, redis.running(folder / "redis") as broker:
        base = {**os.environ, **pg, **vectors, "DEEPDIARY_TORCH_THREADS": "1", "DEEPDIARY_ENRICH_WORKERS": "1"}
        rows = []
        for workers in (0, 1, 2):
            env = {**base, "DEEPDIARY_HOME": str(folder / f"lib-{workers}"), "DEEPDIARY_NAMESPACE": f"dd_bench_w{workers}"}
            if workers:
                env.update(broker)
            seconds = _run(folder, env, folder / "photos", workers)
            rows.append((workers, seconds))
            print(f"  {'in process' if not workers else f'{workers} worker(s)'}: {seconds:.1f} s", flush=True)
    print(f"\nenrichment of {len(photos)} real photos (PostgreSQL, Chroma server; ingest start to job done)")
    base_s = rows[0][1]
    for workers, seconds in rows:
        label = "in process (no broker)" if not workers else f"{workers} worker process{'es' if workers > 1 else ''}"
        print(f"  {label:24s} {seconds:7.1f} s  {len(photos) / seconds:5.2f} photos/s  "
              f"x{base_s / seconds:.2f} the in-process rate")
