"""The web API under load, on loopback.

1. A synthetic catalogue of 100,000 photos served by `deepdiary serve` in its own process.
   Eight client threads call it for a fixed time: a faceted search (date, place or
   radius, layout, colour, camera, rating: the CLI's vocabulary) and a gallery page
   (60 thumbnails' records, newest first, at a random depth). Printed: requests/s, p50
   and p95, errors; next to the same service call made in-process, one at a time (the
   ratio is the HTTP overhead plus queueing behind seven other clients).
2. `ask` with Qwen 1.5B kept warm in the server: for each of the agent bench's
   questions, the time to the first streamed event and to the finished answer.

   The server runs twice: with llama-cpp-python's own sampler (the baseline) and with the
   default, which checks the JSON grammar against the best token first.

    python bench/api.py [--photos 100000] [--seconds 20] [--clients 8] [--skip-ask] [--skip-search]
                        [--ask-questions N] [--no-ask-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import CAMERAS, CITIES, build_catalogue, pct  # noqa: E402 - the search bench's catalogue

from deepdiary.core.palette import PALETTE  # noqa: E402
from deepdiary.core.settings import Settings  # noqa: E402
from deepdiary.memory.library import Library  # noqa: E402
from deepdiary.services import AppContext  # noqa: E402
from deepdiary.services.search import PhotoSearch, search_photos  # noqa: E402

GALLERY_PAGE = 60


def faceted(rng: random.Random) -> dict:
    """One faceted search as /api/photos parameters (the CLI's option names)."""
    year, month = rng.randrange(2010, 2025), rng.randrange(1, 13)
    start = datetime(year, month, 1)
    end = start + timedelta(days=rng.choice([31, 92, 365]))
    city = rng.choice(CITIES)
    colour = f"{rng.choice(['fg:', 'bg:', ''])}{rng.choice(list(PALETTE))}"
    kind = rng.randrange(4)
    if kind == 0:
        return {"from": start.date().isoformat(), "to": end.date().isoformat(), "layout": rng.choice(["wide", "tall"]),
                "color": colour, "limit": GALLERY_PAGE}
    if kind == 1:
        return {"near": city[0], "from": start.date().isoformat(), "to": end.date().isoformat(),
                "camera": rng.choice(CAMERAS)[1], "limit": GALLERY_PAGE}
    if kind == 2:
        return {"near": f"{city[4]},{city[5]}", "radius": 15, "layout": "wide", "color": colour, "limit": GALLERY_PAGE}
    return {"near": city[3], "rating": 4, "color": colour, "limit": GALLERY_PAGE}


def gallery(rng: random.Random, photos: int) -> dict:
    """A gallery page at a random depth, as infinite scroll asks for it."""
    return {"limit": GALLERY_PAGE, "offset": rng.randrange(0, max(1, photos - GALLERY_PAGE)), "newest": "true"}


def as_search(params: dict) -> PhotoSearch:
    return PhotoSearch(date_from=params.get("from"), date_to=params.get("to"), near=params.get("near"),
                       radius=params.get("radius"), layout=params.get("layout"),
                       color=[params["color"]] if "color" in params else [], camera=params.get("camera"),
                       rating=params.get("rating"), limit=params["limit"], offset=params.get("offset", 0),
                       newest=params.get("newest") == "true")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path, port: int, env: dict | None = None) -> subprocess.Popen:
    cli = Path(sys.executable).with_name("deepdiary")
    proc = subprocess.Popen([str(cli), "--library", str(home), "serve", "--port", str(port)],
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def load(url: str, make_params, clients: int, seconds: float) -> tuple[list[float], int]:
    """`clients` threads call GET url with fresh parameters until the time is up."""
    latencies: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        mine, bad = [], 0
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < stop:
                t = time.perf_counter()
                try:
                    r = http.get(url, params=make_params(rng))
                    ok = r.status_code == 200 and "results" in r.json()
                except httpx.HTTPError:
                    ok = False
                mine.append((time.perf_counter() - t) * 1000)
                bad += not ok
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def in_process(ctx: AppContext, make_params, calls: int) -> list[float]:
    rng = random.Random(99)
    out = []
    for _ in range(calls):
        params = as_search(make_params(rng))
        t = time.perf_counter()
        search_photos(ctx, params)
        out.append((time.perf_counter() - t) * 1000)
    return out


def bench_search(photos: int, clients: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "lib"
        lib = Library.open(Settings(home=home))
        t0 = time.perf_counter()
        build_catalogue(lib, photos, random.Random(7))
        lib.close()
        print(f"synthetic catalogue of {photos:,} photos built in {time.perf_counter() - t0:.1f} s")
        ctx = AppContext(Settings(home=home))
        port = free_port()
        proc = serve(home, port)
        try:
            url = f"http://127.0.0.1:{port}/api/photos"
            scenarios = {"faceted search": faceted, "gallery page": lambda rng: gallery(rng, photos)}
            for name, make in scenarios.items():
                load(url, make, clients, 2)  # warm the server's caches and connections
                in_process(ctx, make, 20)  # warm the in-process caches too
                base = in_process(ctx, make, 200)
                lat, errors = load(url, make, clients, seconds)
                p50, p95 = pct(lat, 50), pct(lat, 95)
                b50, b95 = pct(base, 50), pct(base, 95)
                print(f"{name}: {len(lat) / seconds:.0f} requests/s with {clients} clients over {seconds:.0f} s;"
                      f" p50 {p50:.1f} ms, p95 {p95:.1f} ms, {errors} errors")
                print(f"  in-process, one at a time: p50 {b50:.1f} ms, p95 {b95:.1f} ms"
                      f" -> HTTP/in-process p50 {p50 / b50:.2f}x, p95 {p95 / b95:.2f}x")
            print("  goal: gallery page p95 <= 100 ms, 0 errors")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            ctx.close()


def bench_ask(limit: int | None, threads: int, baseline: bool = True) -> None:
    import io

    from rich.console import Console

    from agent_eval import QUESTIONS, _fill  # the agent bench's questions
    from deepdiary.services.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "demo"
        run_demo(home, Console(file=io.StringIO()), ask=False)
        with Library.open(Settings(home=home)).session() as s:
            from sqlmodel import select

            from deepdiary.memory.tables import ItemPath

            florence = next(p.item_id for p in s.exec(select(ItemPath)) if p.path.endswith("florence-red-ball.jpg"))
        questions = [_fill(q, florence) for q, _, _ in QUESTIONS][:limit]
        env = {"DEEPDIARY_LLM_BACKEND": "llamacpp", "DEEPDIARY_LLM_MODEL": "qwen2.5-coder-1.5b",
               "DEEPDIARY_LLM_THREADS": str(threads)}
        # The baseline is llama-cpp-python's own sampler, which runs the JSON grammar over the
        # whole vocabulary at every token; the default checks the best token first.
        samplers = ([("llama-cpp-python sampler (baseline)", "false")] if baseline else []) + [
            ("grammar checked on the best token first (default)", "true")]
        medians = {}
        for label, flag in samplers:
            port = free_port()
            proc = serve(home, port, {**env, "DEEPDIARY_LLM_GRAMMAR_FIRST": flag})
            try:
                runs = _ask_all(f"http://127.0.0.1:{port}/api/ask/stream", questions)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            firsts = [f for f, _, _ in runs]
            totals = [a for _, a, _ in runs]
            medians[flag] = statistics.median(totals)
            print(f"ask ({label}), {len(runs)} questions over SSE: first event median "
                  f"{statistics.median(firsts) * 1000:.0f} ms, max {max(firsts) * 1000:.0f} ms; answer median "
                  f"{statistics.median(totals):.1f} s, p95 {pct(totals, 95):.1f} s, max {max(totals):.1f} s; "
                  f"{sum(a for _, _, a in runs)} answered")
        if len(medians) == 2:
            print(f"  answer median, default / baseline: {medians['true'] / medians['false']:.2f}x")
        print("  goal: first event <= 1 s, median answer <= 8 s")


def _ask_all(url: str, questions: list[str]) -> list[tuple[float, float, bool]]:
    """Each question in a new conversation: (first event, finished answer) seconds and whether it answered."""

    def ask(question: str) -> tuple[float, float, bool]:
        t = time.perf_counter()
        first = None
        answered = False
        with httpx.stream("GET", url, params={"q": question}, timeout=300) as r:
            event = None
            for line in r.iter_lines():
                if first is None and line.startswith("event:"):
                    first = time.perf_counter() - t
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event == "answer":
                    answered = bool(json.loads(line[5:]).get("text"))
                elif line.startswith("data:") and event == "done":
                    break
        return first or 0.0, time.perf_counter() - t, answered

    t = time.perf_counter()
    ask("hello")  # loads Qwen 1.5B into the server once; the rest find it warm
    print(f"ask: Qwen 1.5B loaded by the first question in {time.perf_counter() - t:.1f} s")
    return [ask(q) for q in questions]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--skip-ask", action="store_true")
    ap.add_argument("--skip-search", action="store_true")
    ap.add_argument("--ask-questions", type=int, default=None, help="only the first N questions")
    ap.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    ap.add_argument("--no-ask-baseline", action="store_true", help="skip the ask run with llama-cpp-python's sampler")
    opts = ap.parse_args()
    if not opts.skip_search:
        bench_search(opts.photos, opts.clients, opts.seconds)
    if not opts.skip_ask:
        bench_ask(opts.ask_questions, opts.threads, not opts.no_ask_baseline)


if __name__ == "__main__":
    main()
