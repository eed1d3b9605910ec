"""`search chats` latency over a synthetic library of 1,000,000 chat messages.

Messages are generated (a 3,000-word English vocabulary with Zipf-like frequencies,
one message in ten in Chinese, 200 conversations over ten years), written to the
catalogue with bulk inserts and to the text index the way ingest writes it; their dense
vectors are random unit vectors, since embedding a million made-up sentences would only
measure the encoder. Queries then go through ``search_chats``, the function behind the
CLI and the API, real query embedding included. The BM25 part alone is the baseline.

    python bench/chat_search.py [--messages 1000000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from deepdiary.memory.chat_query import ChatQuery, search_chats
from deepdiary.memory.library import Library
from deepdiary.memory.tables import ChatMeta, Conversation, Item
from deepdiary.memory.text_index import TEXTS, IndexedText, TextFilter
from deepdiary.models.imagenet import imagenet_class_names
from deepdiary.core.settings import Settings

ZH = "我们今天明天晚上一起去吃饭看电影杭州西湖北京上海周末开会工作项目朋友生日快乐旅行火车飞机酒店咖啡"


def vocabulary(rng: random.Random) -> list[str]:
    words = sorted({w for name in imagenet_class_names() for w in name.lower().replace("-", " ").split() if w.isalpha()})
    extra = ("dinner lunch meet tomorrow tonight weekend trip train flight hotel party birthday movie work project "
             "meeting call later sorry thanks great love miss see home office school beach mountain lake city").split()
    words = extra + words
    rng.shuffle(words[len(extra):])
    return words[:3000]


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def build(lib: Library, n: int, rng: random.Random) -> None:
    vocab = vocabulary(rng)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    nprng = np.random.default_rng(1)
    people = [f"friend{i}" for i in range(200)]
    start, span = datetime(2016, 1, 1), 10 * 365 * 86400
    with lib.engine.begin() as conn:
        conn.execute(insert(Conversation), [{"id": i + 1, "name": p} for i, p in enumerate(people)])
    index = lib.text_index
    batch = 5000
    t0 = time.perf_counter()
    for first in range(1, n + 1, batch):
        ids = list(range(first, min(first + batch, n + 1)))
        lengths = nprng.integers(3, 15, len(ids))
        items, metas, rows = [], [], []
        for item_id, length in zip(ids, lengths):
            if item_id % 10 == 0:
                text = "".join(rng.choice(ZH) for _ in range(int(length)))
            else:
                text = " ".join(vocab[i] for i in nprng.choice(len(vocab), int(length), p=weights))
            conv = rng.randrange(len(people))
            when = start + timedelta(seconds=rng.uniform(0, span))
            is_me = rng.random() < 0.5
            sender = "me" if is_me else people[conv]
            items.append({"id": item_id, "kind": "message", "taken_at": when, "text": text,
                          "created_at": datetime(2026, 1, 1, tzinfo=UTC)})
            metas.append({"item_id": item_id, "conversation_id": conv + 1, "sender": sender, "is_me": is_me,
                          "msg_kind": "text", "source_file": "synthetic.csv", "source_line": item_id,
                          "source_id": str(item_id), "dedupe_key": f"k{item_id}"})
            rows.append(IndexedText(item_id, text, "", when, sender, people[conv], "message"))
        with lib.engine.begin() as conn:
            conn.execute(insert(Item), items)
            conn.execute(insert(ChatMeta), metas)
        index.add_words(rows)  # the word index as ingest writes it: FTS5, or PostgreSQL beside a server catalogue
        vecs = nprng.standard_normal((len(ids), 512)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        lib.vectors.upsert(TEXTS, ids, vecs, [{"t": r.time.timestamp(), "sender": r.sender.lower(),
                                               "conversation": r.conversation, "kind": r.kind} for r in rows])
        if first == 1 or (first - 1) % 100_000 == 0:
            print(f"  built {first - 1 + len(ids):>9,} messages, {time.perf_counter() - t0:6.0f} s", flush=True)


def make_questions(count: int) -> list[ChatQuery]:
    """Plain, with a sender named, --with a person, and Chinese, in turn; the same every run."""
    vocab = vocabulary(random.Random(5))
    rng = random.Random(11)
    questions = []
    for i in range(count):
        words = " ".join(rng.choice(vocab[:800]) for _ in range(rng.randint(2, 6)))
        kind = i % 4
        if kind == 0:
            questions.append(ChatQuery(text=f"when did we talk about {words}?"))
        elif kind == 1:
            questions.append(ChatQuery(text=f"what did friend{rng.randrange(200)} say about {words} in 2021"))
        elif kind == 2:
            questions.append(ChatQuery(text=words, with_person=f"friend{rng.randrange(200)}"))
        else:
            questions.append(ChatQuery(text="".join(rng.choice(ZH) for _ in range(6))))
    return questions


def time_queries(lib: Library, questions: list[ChatQuery]) -> tuple[list[float], list[float]]:
    """Milliseconds per question: end to end through search_chats, and the BM25 part alone."""
    lib.text_index.embedder.embed(["warm up"])
    full, base = [], []
    with lib.session() as s:
        for q in questions[:10]:  # warm caches
            search_chats(s, q, lib)
        for q in questions:
            t = time.perf_counter()
            search_chats(s, q, lib)
            full.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            lib.text_index.bm25(q.text, 100, TextFilter())
            base.append((time.perf_counter() - t) * 1000)
    return full, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build the library here and keep it; reuse it when it exists")
    args = parser.parse_args()
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        home = args.keep or Path(tmp) / "lib"
        fresh = not (home / "catalogue.db").exists()
        lib = Library.open(Settings(home=home))
        if fresh:
            t0 = time.perf_counter()
            print(f"building a synthetic library of {args.messages:,} messages")
            build(lib, args.messages, rng)
            print(f"  built in {time.perf_counter() - t0:.0f} s")
        else:
            print(f"reusing the library in {home}")
        full, base = time_queries(lib, make_questions(args.queries))
        print(f"search chats over {args.messages:,} messages, {len(full)} questions "
              "(plain, with a sender named, --with a person, Chinese):")
        print(f"  end to end : p50 {statistics.median(full):6.1f} ms   p95 {percentile(full, 95):6.1f} ms")
        print(f"  BM25 alone : p50 {statistics.median(base):6.1f} ms   p95 {percentile(base, 95):6.1f} ms"
              f"   -> end-to-end/BM25 p95 ratio {percentile(full, 95) / percentile(base, 95):.2f}x")
        lib.close()


if __name__ == "__main__":
    main()
