"""A bounded load test of the web API, on loopback only.

The demo library (its photos, people, chats and diary; no model asked) is built in a temp
folder, a token is made for it, and `deepdiary serve` starts in its own process on a free
127.0.0.1 port. A fixed number of client threads then call it for a fixed time, mixing:

- photo uploads (POST /api/uploads, then GET /api/jobs/{id} until the job is done): the
  demo's own photos re-encoded with one pixel changed, so each is new; now and then the
  same bytes again, a duplicate;
- photo searches (GET /api/photos: dates, place, radius, layout, colour, camera, free text);
- chat searches (GET /api/chats?q=...);
- asks with the parser only (POST /api/ask, and GET /api/ask/stream, with backend none);
- people edits (GET /api/people, then rename a person and back, add a note, hide and unhide).

Every request has a timeout, every loop a bound in count and in time, and only 127.0.0.1
is called. Printed per kind and in total: requests, requests/s, p50 and p95, errors (a
status the request did not expect, or an exception); the time from an upload to its
finished job. Then the server stops and `deepdiary check --json` runs over the library,
and the number of problems it found is printed. Goal: 0 errors, 0 problems found by check.

    python bench/load.py [--clients 6] [--seconds 30] [--seed 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

HOST = "127.0.0.1"  # the only host this script ever calls
TIMEOUT = 60.0  # seconds, every request
JOB_LIMIT = 180.0  # seconds an upload's job may take before it counts as an error
POLL_EVERY = 0.2
MAX_OPS_PER_CLIENT = 100_000

PHOTO_SEARCHES = [
    {"near": "Hangzhou"},
    {"from": "2023-01", "to": "2023-12"},
    {"near": "48.8566,2.3522", "radius": 50},
    {"layout": "wide", "newest": "true"},
    {"layout": "tall"},
    {"color": "red"},
    {"color": "bg:blue"},
    {"camera": "iphone"},
    {"q": "sunset by the lake"},
    {"q": "a red cup on a table"},
    {"q": "snow", "from": "2022-01", "to": "2022-12"},
    {"q": "flowers", "layout": "square"},
    {"q": "night sky"},
    {"limit": 5, "offset": 5},
]
CHAT_SEARCHES = ["tea", "Paris", "bike", "西湖", "龙井", "lotus", "what did Alice say", "dinner tomorrow"]
QUESTIONS = ["Which photos did I take in Hangzhou in July 2023?", "李雷关于茶说了什么？",
             "Who can help me fix my bike?", "photos in Paris", "what did Alice say about Paris?"]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cli() -> str:
    return str(Path(sys.executable).with_name("deepdiary"))


def build_library(home: Path) -> str:
    """The demo library, without asking a model; returns a new token for it."""
    from rich.console import Console

    from deepdiary.core.settings import Settings
    from deepdiary.services import AppContext, tokens
    from deepdiary.services.demo import run_demo

    run_demo(home, Console(file=io.StringIO()), ask=False)
    ctx = AppContext(Settings(home=home))
    try:
        return tokens.create_token(ctx, "load-bench").token
    finally:
        ctx.close()


def serve(home: Path, port: int, token: str) -> subprocess.Popen:
    proc = subprocess.Popen([cli(), "--library", str(home), "serve", "--host", HOST, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped: {proc.stderr.read().decode()[-2000:]}")
        try:
            r = httpx.get(f"http://{HOST}:{port}/api/stats", headers={"Authorization": f"Bearer {token}"}, timeout=2)
            if r.status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


class Photos:
    """Small real photos (the demo's), each call a new JPEG: one pixel carries a counter."""

    def __init__(self, folder: Path) -> None:
        from PIL import Image

        self.sources = []
        for path in sorted(folder.glob("*.jpg"))[:6]:
            with Image.open(path) as im:
                exif = im.info.get("exif", b"")
                im = im.convert("RGB")
                im.thumbnail((320, 320))
                self.sources.append((path.stem, im.copy(), exif))
        self.count = 0
        self.sent: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def new(self) -> tuple[str, bytes]:
        with self.lock:
            self.count += 1
            n = self.count
        stem, im, exif = self.sources[n % len(self.sources)]
        im = im.copy()
        im.putpixel((0, 0), (n % 256, (n // 256) % 256, 255 - n % 256))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90, exif=exif)
        photo = (f"{stem}-load-{n}.jpg", buf.getvalue())
        with self.lock:
            self.sent.append(photo)
        return photo

    def duplicate(self) -> tuple[str, bytes] | None:
        with self.lock:
            return random.choice(self.sent) if self.sent else None


class Tally:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: dict[str, list[str]] = defaultdict(list)
        self.jobs: list[float] = []
        self.lock = threading.Lock()

    def record(self, kind: str, ms: float, error: str | None) -> None:
        with self.lock:
            self.latency[kind].append(ms)
            if error:
                self.errors[kind] += 1
                if len(self.examples[kind]) < 3:
                    self.examples[kind].append(error)


class Client:
    def __init__(self, base: str, token: str, tally: Tally, photos: Photos, people: list[dict], seed: int) -> None:
        assert base.startswith(f"http://{HOST}:")
        self.http = httpx.Client(base_url=base, timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}"})
        self.tally, self.photos, self.people, self.rng, self.seed = tally, photos, people, random.Random(seed), seed
        self.edits = 0

    def call(self, kind: str, method: str, url: str, expect: tuple[int, ...] = (200,), **kw) -> httpx.Response | None:
        t = time.perf_counter()
        try:
            r = self.http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            self.tally.record(kind, (time.perf_counter() - t) * 1000, f"{method} {url}: {type(exc).__name__}: {exc}")
            return None
        error = None if r.status_code in expect else f"{method} {url}: {r.status_code} {r.text[:300]}"
        self.tally.record(kind, (time.perf_counter() - t) * 1000, error)
        return None if error else r

    def upload(self) -> None:
        dup = self.rng.random() < 0.2
        photo = (self.photos.duplicate() if dup else None) or self.photos.new()
        t = time.monotonic()
        r = self.call("upload", "POST", "/api/uploads", expect=(202,), data={"kind": "photos"},
                      files=[("files", (photo[0], photo[1], "image/jpeg"))])
        if r is None:
            return
        job_id = r.json()["id"]
        for _ in range(int(JOB_LIMIT / POLL_EVERY)):
            if time.monotonic() - t > JOB_LIMIT:
                break
            j = self.call("job poll", "GET", f"/api/jobs/{job_id}")
            if j is None:
                return
            job = j.json()
            if job["status"] in ("done", "failed"):
                res = job.get("result") or {}
                bad = job["status"] != "done" or res.get("failed") or (
                    res.get("added", 0) + res.get("linked", 0) + res.get("unchanged", 0) != 1)
                self.tally.record("upload job", (time.monotonic() - t) * 1000,
                                  f"job {job_id}: {job['status']} {job.get('error')} {json.dumps(res)[:300]}"
                                  if bad else None)
                return
            time.sleep(POLL_EVERY)
        self.tally.record("upload job", (time.monotonic() - t) * 1000, f"job {job_id}: not done in {JOB_LIMIT:.0f} s")

    def photo_search(self) -> None:
        params = dict(self.rng.choice(PHOTO_SEARCHES))
        r = self.call("photo search", "GET", "/api/photos", params=params)
        if r is not None and "results" not in r.json():
            self.tally.record("photo search", 0, "no results field")

    def chat_search(self) -> None:
        self.call("chat search", "GET", "/api/chats", params={"q": self.rng.choice(CHAT_SEARCHES), "limit": 5})

    def ask(self) -> None:
        question = self.rng.choice(QUESTIONS)
        if self.rng.random() < 0.75:
            r = self.call("ask", "POST", "/api/ask", json={"question": question, "backend": "none"})
            if r is not None and not r.json().get("answer"):
                self.tally.record("ask", 0, f"no answer text: {r.text[:200]}")
            return
        t = time.perf_counter()
        error = None
        try:
            with self.http.stream("GET", "/api/ask/stream", params={"q": question, "backend": "none"}) as r:
                if r.status_code != 200:
                    error = f"stream: {r.status_code}"
                else:
                    events = [line.split(":", 1)[1].strip() for line in r.iter_lines() if line.startswith("event:")]
                    if "error" in events or events[-1:] != ["done"]:
                        error = f"stream events {events}"
        except httpx.HTTPError as exc:
            error = f"stream: {type(exc).__name__}: {exc}"
        self.tally.record("ask", (time.perf_counter() - t) * 1000, error)

    def people_edit(self) -> None:
        self.call("people list", "GET", "/api/people")
        if not self.people:
            return
        person = self.rng.choice(self.people)
        pid, name = person["id"], person["name"]
        self.edits += 1
        what = self.rng.randrange(3)
        if what == 0:  # rename and back, by id: the other clients may rename it too
            self.call("people edit", "PUT", f"/api/people/{pid}/name", json={"name": f"{name} {self.seed}.{self.edits}"})
            self.call("people edit", "PUT", f"/api/people/{pid}/name", json={"name": name})
        elif what == 1:
            self.call("people edit", "POST", f"/api/people/{pid}/notes", expect=(201,),
                      json={"kind": self.rng.choice(["resource", "demand"]), "text": f"load note {self.seed}.{self.edits}"})
        else:
            self.call("people edit", "PUT", f"/api/people/{pid}/hidden", json={"hidden": True})
            self.call("people edit", "PUT", f"/api/people/{pid}/hidden", json={"hidden": False})

    def run(self, until: float) -> None:
        ops = [(self.upload, 2), (self.photo_search, 4), (self.chat_search, 3), (self.ask, 2), (self.people_edit, 2)]
        funcs, weights = zip(*ops)
        try:
            for _ in range(MAX_OPS_PER_CLIENT):
                if time.monotonic() >= until:
                    break
                self.rng.choices(funcs, weights)[0]()
        finally:
            self.http.close()


def report(tally: Tally, seconds: float) -> int:
    print(f"{'kind':<14}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'errors':>7}")
    total, errors, every = 0, 0, []
    for kind in ("upload", "job poll", "photo search", "chat search", "ask", "people list", "people edit"):
        lat = tally.latency.get(kind, [])
        total, errors, every = total + len(lat), errors + tally.errors[kind], every + lat
        print(f"{kind:<14}{len(lat):>9}{len(lat) / seconds:>8.1f}{pct(lat, 50):>9.1f}{pct(lat, 95):>9.1f}"
              f"{tally.errors[kind]:>7}")
    print(f"{'total':<14}{total:>9}{total / seconds:>8.1f}{pct(every, 50):>9.1f}{pct(every, 95):>9.1f}{errors:>7}")
    jobs = tally.latency.get("upload job", [])
    errors += tally.errors["upload job"]
    print(f"upload to finished job: {len(jobs)} jobs, p50 {pct(jobs, 50) / 1000:.2f} s, "
          f"p95 {pct(jobs, 95) / 1000:.2f} s, {tally.errors['upload job']} failed")
    for kind, examples in tally.examples.items():
        for e in examples:
            print(f"  {kind} error: {e}")
    return errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    opts = ap.parse_args()
    if not (1 <= opts.clients <= 64 and 0 < opts.seconds <= 3600):
        ap.error("--clients is 1..64 and --seconds 0..3600")

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "demo"
        t0 = time.perf_counter()
        token = build_library(home)
        print(f"demo library built in {time.perf_counter() - t0:.1f} s")
        from deepdiary.services.demo import PHOTO_FOLDER

        photos = Photos(home / PHOTO_FOLDER)
        port = free_port()
        proc = serve(home, port, token)
        base = f"http://{HOST}:{port}"
        try:
            people = [p for p in httpx.get(f"{base}/api/people", headers={"Authorization": f"Bearer {token}"},
                                           timeout=TIMEOUT).json() if p.get("name")]
            tally = Tally()
            start = time.monotonic()
            until = start + opts.seconds
            clients = [Client(base, token, tally, photos, people, opts.seed * 1000 + i) for i in range(opts.clients)]
            threads = [threading.Thread(target=c.run, args=(until,), daemon=True) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=opts.seconds + JOB_LIMIT + 2 * TIMEOUT)
            elapsed = time.monotonic() - start
            hung = sum(t.is_alive() for t in threads)
        finally:
            stop(proc)
        print(f"{opts.clients} clients for {opts.seconds:.0f} s ({elapsed:.1f} s with the last jobs);"
              f" {len(photos.sent)} new photos made, people edited: {len(people)}")
        errors = report(tally, elapsed) + hung
        if hung:
            print(f"  {hung} client(s) still running at the deadline")
        checked = subprocess.run([cli(), "--library", str(home), "check", "--json"], capture_output=True, text=True,
                                 timeout=600, env={**os.environ})
        try:
            check = json.loads(checked.stdout)
            problems = len(check["problems"])
            print(f"check: looked at {', '.join(f'{k} {v}' for k, v in check['counts'].items())};"
                  f" {problems} problem(s)")
            for p in check["problems"][:10]:
                print(f"  {p['kind']} item {p.get('item_id')} ({p.get('file')}): {p.get('detail')}")
        except (json.JSONDecodeError, KeyError):
            problems = -1
            print(f"check did not answer JSON (exit {checked.returncode}): {checked.stderr[-1000:]}")
        print(f"errors {errors}, problems found by check {problems}   (goal: 0 errors, 0 problems found by check)")


if __name__ == "__main__":
    main()
