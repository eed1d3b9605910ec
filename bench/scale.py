"""Past one machine: how search holds up at 10x the data, embedded and on servers.

1. Facet search: a synthetic catalogue (bench/ingest.py's builder) of 100,000 and of
   1,000,000 photos, on SQLite and on a throwaway PostgreSQL server; 200 faceted searches
   (bench/api.py's mix: date, place or radius, layout, colour, camera, rating) through the
   service call the CLI and API make, one at a time. Goal: p95 grows at most 3x for 10x the
   photos, and p95 <= 150 ms at 1M on either database.
2. Chat search: a synthetic library (bench/chat_search.py's builder) of 100,000 and of
   1,000,000 messages, embedded (FTS5 and local Chroma) and on servers (PostgreSQL full-text
   search and a `chroma run` server); 200 questions through search_chats.
3. Enrichment with 1 and 2 `deepdiary worker` processes over real photos, with a
   PostgreSQL catalogue, a Chroma server and a Redis broker, beside the same photos
   enriched in process.

    python bench/scale.py [--photos 100000,1000000] [--messages 100000,1000000] [--queries 200]
                          [--skip photos,chats,workers] [--worker-photos 50]
                          [--databases SQLite,PostgreSQL] [--chat-where embedded,servers]

The servers are started from tests/servers (Debian's postgresql and redis-server, chromadb's
own `chroma run`) in a temporary folder and stopped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from api import as_search, faceted  # noqa: E402
from chat_search import build as build_chats  # noqa: E402
from chat_search import make_questions, percentile, time_queries  # noqa: E402
from ingest import build_catalogue  # noqa: E402

from deepdiary.core.settings import Settings  # noqa: E402
from deepdiary.memory.library import Library  # noqa: E402
from deepdiary.services import AppContext  # noqa: E402
from deepdiary.services.search import search_photos  # noqa: E402
from tests.servers import chroma, postgres  # noqa: E402


def settings(home: Path, env: dict) -> Settings:
    return Settings(home=home, database_url=env.get("DEEPDIARY_DATABASE_URL"),
                    chroma_url=env.get("DEEPDIARY_CHROMA_URL"))


def facet_p95(home: Path, env: dict, n: int, queries: int) -> tuple[float, float, float]:
    """(build seconds, p50 ms, p95 ms) of faceted searches over ``n`` synthetic photos."""
    lib = Library.open(settings(home, env))
    t0 = time.perf_counter()
    build_catalogue(lib, n, random.Random(7))
    built = time.perf_counter() - t0
    lib.close()
    ctx = AppContext(settings(home, env))
    try:
        rng = random.Random(3)
        for _ in range(20):  # warm caches and connections
            search_photos(ctx, as_search(faceted(rng)))
        lat = []
        for _ in range(queries):
            search = as_search(faceted(rng))
            t = time.perf_counter()
            search_photos(ctx, search)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        ctx.close()
    return built, statistics.median(lat), percentile(lat, 95)


def chat_p95(home: Path, env: dict, n: int, queries: int) -> tuple[float, float, float]:
    lib = Library.open(settings(home, env))
    try:
        t0 = time.perf_counter()
        build_chats(lib, n, random.Random(5))
        built = time.perf_counter() - t0
        full, _ = time_queries(lib, make_questions(queries))
    finally:
        lib.close()
    return built, statistics.median(full), percentile(full, 95)


def growth_table(title: str, rows: list[tuple[str, int, float, float, float]], goal: str) -> None:
    print(f"\n{title}")
    print("  where                 size      build s   p50 ms   p95 ms")
    for where, n, built, p50, p95 in rows:
        print(f"  {where:20s} {n:>9,}  {built:9.0f}  {p50:7.1f}  {p95:7.1f}")
    by: dict[str, list] = {}
    for where, n, _, _, p95 in rows:
        by.setdefault(where, []).append((n, p95))
    for where, got in by.items():
        got.sort()
        if len(got) > 1:
            (n0, a), (n1, b) = got[0], got[-1]
            print(f"  {where}: p95 x{b / a:.2f} for x{n1 / n0:.0f} the data")
    print(f"  goal: {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default="100000,1000000")
    parser.add_argument("--messages", default="100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip", default="", help="comma-separated: photos, chats, workers")
    parser.add_argument("--databases", default="SQLite,PostgreSQL", help="facet search on these")
    parser.add_argument("--chat-where", default="embedded,servers", help="chat search on these")
    parser.add_argument("--worker-photos", type=int, default=50)
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        tmp = Path(tmp)
        pg = stack.enter_context(postgres.running())
        if "photos" not in skip:
            rows = []
            for n in map(int, args.photos.split(",")):
                for where, env in (("SQLite", {}), ("PostgreSQL", pg)):
                    if where not in args.databases.split(","):
                        continue
                    rows.append((where, n, *facet_p95(tmp / f"photos-{where}-{n}", env, n, args.queries)))
                    print(f"  {rows[-1]}", flush=True)
            growth_table("facet search (in process, one at a time)", rows,
                         "p95 grows <= 3x for 10x the photos; p95 <= 150 ms at 1M on either database")
        if "chats" not in skip:
            servers = {**pg, **stack.enter_context(chroma.running(tmp / "chroma"))}
            rows = []
            for n in map(int, args.messages.split(",")):
                for where, env in (("embedded", {}), ("servers", servers)):
                    if where not in args.chat_where.split(","):
                        continue
                    rows.append((where, n, *chat_p95(tmp / f"chats-{where}-{n}", env, n, args.queries)))
                    print(f"  {rows[-1]}", flush=True)
            growth_table("chat search (search_chats: BM25 + dense, fused)", rows,
                         "p95 grows <= 3x for 10x the messages")
        if "workers" not in skip:
            try:
                from workers_bench import enrichment_throughput
            except ImportError:
                print("\nworkers: bench/workers_bench.py is not there yet")
            else:
                enrichment_throughput(tmp / "workers", pg, args.worker_photos)


if __name__ == "__main__":
    main()
