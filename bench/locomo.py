"""Chat retrieval on LoCoMo: evidence recall@5 and @10 through `deepdiary search chats`.

Each LoCoMo conversation is written out as a MemoTrace (WeChatMsg) CSV export, the first
speaker being the owner, and imported with `deepdiary ingest chats` into its own library.
Every question except category 5 (adversarial: no answer exists) is then asked with
`deepdiary search chats QUESTION --limit 10 --json`, run in this process through the
CLI itself; nothing reaches into the index around it. A plain BM25 (rank_bm25 over
lower-cased word tokens of each turn) is computed in the same run as the baseline.

The tuning pair (locomo_dev.json) and the unseen pair (locomo_dev2.json) are reported
separately, each beside BM25 computed in the same run; tune only on the first.

    python bench/locomo.py [--only tune|unseen] [--tune PATH] [--unseen PATH] [--postgres]

``--postgres`` also runs every pair with the catalogue and the text index on a throwaway
PostgreSQL server (Debian's postgresql; full-text search in PostgreSQL), in the same run,
and prints the difference from the SQLite rows.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi
from typer.testing import CliRunner

from deepdiary.cli import app

HEADER = ["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime",
          "Remark", "NickName", "Sender"]


def turns_of(sample: dict) -> list[tuple[str, str, datetime, str]]:
    conv = sample["conversation"]
    out, n = [], 1
    while f"session_{n}" in conv:
        start = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        for j, turn in enumerate(conv[f"session_{n}"]):
            text = turn["text"]
            if turn.get("blip_caption"):  # a shared photo: its caption stands in for the picture
                text += f" [image: {turn['blip_caption']}]"
            out.append((turn["dia_id"], turn["speaker"], start + timedelta(seconds=30 * j), text))
        n += 1
    return out


def write_memotrace(sample: dict, path: Path) -> dict[str, str]:
    """The conversation as a MemoTrace CSV; returns localId -> LoCoMo dia_id."""
    conv = sample["conversation"]
    owner, partner = conv["speaker_a"], conv["speaker_b"]
    ids = {}
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i, (dia, speaker, when, text) in enumerate(turns_of(sample), 1):
            ids[str(i)] = dia
            w.writerow([i, f"wxid_{partner.lower()}", 1, 0, int(speaker == owner), int(when.timestamp()), 2, text,
                        when.strftime("%Y-%m-%d %H:%M:%S"), partner, partner, ""])
    return ids


def recall(found: list[str], evidence: list[str], k: int) -> float:
    return sum(e in found[:k] for e in evidence) / len(evidence)


def run_pair(path: Path, runner: CliRunner, tmp: Path, label: str, server_env: dict | None = None) -> dict:
    """Recall@5/@10 of `search chats` and of BM25 on every conversation in ``path``, with ingest
    speed and query latency."""
    samples = json.loads(path.read_text())
    ours, plain, latencies = {5: [], 10: []}, {5: [], 10: []}, []
    messages, ingest_s = 0, 0.0
    for n, sample in enumerate(samples):
        env = {"DEEPDIARY_OWNER_NAME": sample["conversation"]["speaker_a"], **(server_env or {})}
        export = tmp / f"{label}-{n}.csv"
        local_to_dia = write_memotrace(sample, export)
        lib = str(tmp / f"{label}-lib-{n}")
        t0 = time.perf_counter()
        res = runner.invoke(app, ["--library", lib, "ingest", "chats", str(export), "--format", "memotrace-csv",
                                  "--json"], env=env)
        assert res.exit_code == 0, res.output
        ingest_s += time.perf_counter() - t0
        messages += json.loads(res.stdout)["added"]
        turns = turns_of(sample)
        bm25 = BM25Okapi([re.findall(r"\w+", t[3].lower()) for t in turns])
        valid = {t[0] for t in turns}
        for qa in sample["qa"]:
            # A few evidence ids in the data are malformed ("D8:6; D9:17"); those are skipped.
            evidence = [e for e in qa["evidence"] if e in valid]
            if qa["category"] == 5 or not evidence:
                continue
            t0 = time.perf_counter()
            res = runner.invoke(app, ["--library", lib, "search", "chats", qa["question"], "--limit", "10",
                                      "--json"], env=env)
            latencies.append(time.perf_counter() - t0)
            assert res.exit_code == 0, res.output
            found = [local_to_dia.get(h["source"]["message_id"]) for h in json.loads(res.stdout)]
            scores = bm25.get_scores(re.findall(r"\w+", qa["question"].lower()))
            base = [turns[i][0] for i in np.argsort(-scores)[:10]]
            for k in (5, 10):
                ours[k].append(recall(found, evidence, k))
                plain[k].append(recall(base, evidence, k))
    lat = sorted(latencies)
    return {"pair": label, "conversations": len(samples), "questions": len(ours[5]),
            "ours@5": statistics.mean(ours[5]), "ours@10": statistics.mean(ours[10]),
            "bm25@5": statistics.mean(plain[5]), "bm25@10": statistics.mean(plain[10]),
            "ingest_msgs_per_s": messages / ingest_s, "query_median_ms": statistics.median(lat) * 1000,
            "query_p95_ms": lat[int(0.95 * (len(lat) - 1))] * 1000}


def main() -> None:
    default = Path(os.environ.get("DEEPDIARY_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", type=Path, default=default / "chats" / "locomo_dev.json",
                        help="the pair retrieval was tuned on")
    parser.add_argument("--unseen", type=Path, default=default / "chats" / "locomo_dev2.json",
                        help="the held-out pair: it stands for the user's own chats, look at it rarely")
    parser.add_argument("--only", choices=["tune", "unseen"], help="run one pair only")
    parser.add_argument("--postgres", action="store_true", help="also run on a PostgreSQL server, same run")
    args = parser.parse_args()
    runner = CliRunner()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        server_env = None
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.servers import postgres

            server_env = stack.enter_context(postgres.running())
        for label, path in (("tune", args.tune), ("unseen", args.unseen)):
            if args.only in (None, label):
                rows.append(run_pair(path, runner, Path(tmp), label))
                if server_env:
                    rows.append(run_pair(path, runner, Path(tmp), f"{label}-pg", server_env))
    print("pair      conv  questions  search@5  search@10  BM25@5  BM25@10  ours/BM25@5  ingest msg/s  query median/p95 ms")
    for r in rows:
        print(f"{r['pair']:9s} {r['conversations']:4d}  {r['questions']:9d}  {r['ours@5']:8.3f}  {r['ours@10']:9.3f}  "
              f"{r['bm25@5']:6.3f}  {r['bm25@10']:7.3f}  {r['ours@5'] / r['bm25@5']:10.2f}x  "
              f"{r['ingest_msgs_per_s']:12.0f}  {r['query_median_ms']:.0f} / {r['query_p95_ms']:.0f}")


    by = {r["pair"]: r for r in rows}
    for label in ("tune", "unseen"):
        if label in by and f"{label}-pg" in by:
            d5 = by[f"{label}-pg"]["ours@5"] - by[label]["ours@5"]
            print(f"{label}: PostgreSQL - SQLite recall@5 = {d5:+.3f} (goal: within 0.02)")


if __name__ == "__main__":
    main()
