"""Chat and diary ingest throughput: how long until every message is searchable.

Builds a synthetic MemoTrace CSV (``--messages``, English with one message in ten in
Chinese, a few conversations) and a synthetic Markdown diary of ``--diary-mb`` MB (one
dated entry a day, several paragraphs each), ingests each into a fresh library through
the real ingesters, real embedding model and real Chroma, and prints:

- the total time per file, and the time of the part after storing (embedding and
  indexing: FTS words plus vectors), as messages (or diary chunks) per second;
- that every stored item is in the text index and the vectors.

    python bench/text_ingest.py [--messages 100000] [--diary-mb 20]

Keep runs short on a shared machine: ``--messages 10000 --diary-mb 2`` takes a minute.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import random
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.pipeline import text_ingest
from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester

HEADER = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent",
          "StrTime", "Remark", "NickName", "Sender"]
WORDS = ("dinner lunch meet tomorrow tonight weekend trip train flight hotel party birthday movie work project "
         "meeting call later sorry thanks great love miss see home office school beach mountain lake city harbour "
         "noodle garden coffee rain sunny walk river bridge market museum concert ticket station bicycle kitchen "
         "recipe book library friend sister brother mother father doctor dentist holiday summer winter autumn "
         "spring island village temple festival lantern tea dumpling").split()
ZH = "我们今天明天晚上一起去吃饭看电影杭州西湖北京上海周末开会工作项目朋友生日快乐旅行火车飞机酒店咖啡"


def sentence(rng: random.Random, low: int, high: int) -> str:
    if rng.random() < 0.1:
        return "".join(rng.choice(ZH) for _ in range(rng.randint(low, high)))
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def write_memotrace(path: Path, n: int, rng: random.Random) -> Path:
    start = datetime(2018, 1, 1, 8)
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(1, n + 1):
            when = start + timedelta(minutes=7 * i)
            partner = f"friend{i % 5}"
            w.writerow([i, f"wxid_{partner}", 1, 0, i % 2, int(when.timestamp()), 2, sentence(rng, 3, 16),
                        when.strftime("%Y-%m-%d %H:%M:%S"), partner, partner, f"wxid_{partner}"])
    return path


def write_diary(path: Path, megabytes: float, rng: random.Random) -> Path:
    day = datetime(2000, 1, 1)
    size, limit = 0, int(megabytes * 1_000_000)
    with open(path, "w", encoding="utf-8") as fh:
        while size < limit:
            paragraphs = ["。".join(sentence(rng, 8, 30) for _ in range(rng.randint(2, 6))) + "."
                          for _ in range(rng.randint(2, 6))]
            entry = f"## {day:%Y-%m-%d}\n\n" + "\n\n".join(paragraphs) + "\n\n"
            fh.write(entry)
            size += len(entry.encode())
            day += timedelta(days=1)
    return path


class IndexTimer:
    """Times the part after storing (embedding and indexing), whichever version runs.

    With phase progress, it is the time from the last "read"/"store" report to the end
    of the run; before it existed, the time spent in ``sync_text_index``.
    """

    def __init__(self):
        self.wrapped = 0.0
        self.stored_at: float | None = None

    def wrap(self, name: str) -> None:
        original = getattr(text_ingest, name, None)
        if original is None:
            return

        def timed(*args, **kw):
            t = time.perf_counter()
            try:
                return original(*args, **kw)
            finally:
                self.wrapped += time.perf_counter() - t

        setattr(text_ingest, name, timed)

    def phase(self, phase: str, done: int, total: int | None) -> None:
        if phase in ("read", "store"):
            self.stored_at = time.perf_counter()

    def indexing(self, ended: float) -> float:
        return self.wrapped or (ended - self.stored_at if self.stored_at else 0.0)


def run(kind: str, source: Path, home: Path) -> tuple[float, float, int, dict]:
    lib = Library.open(Settings(home=home))
    lib.text_index.embedder.embed(["warm up"])  # model loading is not ingest time
    timer = IndexTimer()
    timer.wrap("sync_text_index")  # the version before the index queue
    ingester = ChatIngester(lib) if kind == "chats" else DiaryIngester(lib)
    kw = {"phase_progress": timer.phase} if "phase_progress" in inspect.signature(ingester.run).parameters else {}
    t = time.perf_counter()
    report = ingester.run([source], **kw)
    ended = time.perf_counter()
    total = ended - t
    indexing = timer.indexing(ended)
    stored = report.added
    con = sqlite3.connect(home / "text_index.db")
    in_fts = con.execute("SELECT count(*) FROM meta").fetchone()[0]
    con.close()
    in_vectors = lib.vectors.collection("texts").count()
    lib.close()
    return total, indexing, stored, {"fts": in_fts, "vectors": in_vectors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--diary-mb", type=float, default=20.0)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for kind, make, what in (
            ("chats", lambda: write_memotrace(tmp / "friends.csv", args.messages, rng), "messages"),
            ("diary", lambda: write_diary(tmp / "diary.md", args.diary_mb, rng), "chunks"),
        ):
            if (kind == "chats" and not args.messages) or (kind == "diary" and not args.diary_mb):
                continue
            source = make()
            total, indexing, stored, seen = run(kind, source, tmp / f"lib-{kind}")
            size = source.stat().st_size / 1e6
            print(f"{kind}: {source.name} {size:.1f} MB, {stored:,} {what} stored")
            print(f"  whole ingest      {total:7.1f} s   {stored / total:7.0f} {what}/s")
            print(f"  embed + index     {indexing:7.1f} s   {stored / max(indexing, 1e-9):7.0f} {what}/s")
            print(f"  searchable        FTS {seen['fts']:,}, vectors {seen['vectors']:,} of {stored:,}")


if __name__ == "__main__":
    main()
