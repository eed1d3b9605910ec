"""Chat retrieval on LoCoMo: evidence recall@5 and @10 through `deepdiary search chats`.

Each LoCoMo conversation is written out as a MemoTrace (WeChatMsg) CSV export, the first
speaker being the owner, and imported with `deepdiary ingest chats` into its own library.
Every question except category 5 (adversarial: no answer exists) is then asked with
`deepdiary search chats QUESTION --limit 10 --json`, run in this process through the
CLI itself; nothing reaches into the index around it. A plain BM25 (rank_bm25 over
lower-cased word tokens of each turn) is computed in the same run as the baseline.

    python bench/locomo.py [--data PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import tempfile
import time
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


def main() -> None:
    default = Path(os.environ.get("DEEPDIARY_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default / "chats" / "locomo_dev.json")
    args = parser.parse_args()
    samples = json.loads(args.data.read_text())
    runner = CliRunner()
    ours = {5: [], 10: []}
    plain = {5: [], 10: []}
    latencies = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, sample in enumerate(samples):
            owner = sample["conversation"]["speaker_a"]
            env = {"DEEPDIARY_OWNER_NAME": owner}
            export = Path(tmp) / f"locomo-{n}.csv"
            local_to_dia = write_memotrace(sample, export)
            lib = str(Path(tmp) / f"lib-{n}")
            t0 = time.perf_counter()
            res = runner.invoke(app, ["--library", lib, "ingest", "chats", str(export), "--format", "memotrace-csv",
                                      "--json"], env=env)
            assert res.exit_code == 0, res.output
            imported = json.loads(res.stdout)
            print(f"conversation {n + 1}: {imported['added']} messages imported through the MemoTrace connector "
                  f"in {time.perf_counter() - t0:.1f} s")
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
    q = len(ours[5])
    print(f"{q} questions (category 5 excluded)")
    print(f"  deepdiary search chats : recall@5 {statistics.mean(ours[5]):.3f}   recall@10 {statistics.mean(ours[10]):.3f}")
    print(f"  plain BM25 baseline    : recall@5 {statistics.mean(plain[5]):.3f}   recall@10 {statistics.mean(plain[10]):.3f}")
    print(f"  ratio recall@5 ours/BM25: {statistics.mean(ours[5]) / statistics.mean(plain[5]):.2f}x")
    lat = sorted(latencies)
    print(f"  per question through the CLI: median {statistics.median(lat) * 1000:.0f} ms, "
          f"p95 {lat[int(0.95 * (len(lat) - 1))] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
