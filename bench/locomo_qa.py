"""Answers on LoCoMo, not only retrieval: the housekeeper's token F1 by question category.

Each conversation of the unseen pair (locomo_dev2.json) is imported as a MemoTrace CSV
through the chat connector, as bench/locomo.py does, and a sample of its questions of
categories 1-4 (1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop) is asked through
``services.ask`` with the local model, "today" being the day of the conversation's last
session. Two bounds are run with the same model, system prompt and answer schema in the
same process:

- gold: the model is shown the question's gold evidence turns, rendered exactly as a
  ``search_chats`` result, and must answer (an upper bound on what retrieval can give);
- none: the model is shown an empty ``search_chats`` result and must answer (a lower bound:
  what it guesses with no memory).

Scoring is LoCoMo's: lower-cased, punctuation and articles removed, Porter-stemmed token F1
against the gold answer; a multi-hop (category 1) answer is split at commas and each gold
part takes its best-matching predicted part. An answer saying nothing was found scores 0.

Category 5 (adversarial: the question pins on one speaker what the other said or did, so the
memory holds no answer) is asked too, through the housekeeper only. The bench reports how often
the answer is "found nothing" there, where it should be, and for categories 1-4, where it
should not be.

    python bench/locomo_qa.py [--per-category 3] [--path PATH] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import string
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import snowballstemmer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from locomo import turns_of, write_memotrace  # noqa: E402 - the import protocol both benches share

from deepdiary.agent import render  # noqa: E402
from deepdiary.agent.housekeeper import Housekeeper  # noqa: E402
from deepdiary.core.settings import Settings  # noqa: E402
from deepdiary.core.timeparse import annotate_relative  # noqa: E402
from deepdiary.agent.hint import ToolCall  # noqa: E402
from deepdiary.services import ask as ask_service  # noqa: E402
from deepdiary.services import ingest  # noqa: E402
from deepdiary.services.context import AppContext  # noqa: E402
from deepdiary.tools.context import clip, compact, when  # noqa: E402

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
ABSENT = 5  # adversarial: no answer is in the conversation
# How an answer says the memory holds nothing about the question (the prompt asks for
# "found nothing"; the model sometimes words it otherwise).
_NOTHING = re.compile(r"found nothing|nothing (?:about|in)|no (?:information|mention|record)|not mentioned|"
                      r"(?:does|do|did) not (?:mention|say|contain)|没有找到|没有提到|未提及", re.I)


def says_nothing(answer: str) -> bool:
    return not answer.strip() or bool(_NOTHING.search(answer))
_stem = snowballstemmer.stemmer("porter").stemWord


def normalize(text: str) -> list[str]:
    text = str(text).lower().replace(",", " ")
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the|and)\b", " ", text)
    return [_stem(w) for w in text.split()]


def f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction), normalize(gold)
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def score(prediction: str, gold: str, category: int) -> float:
    if category == 1:
        parts = [x for x in prediction.split(",") if x.strip()] or [prediction]
        return statistics.mean(max(f1(p, g) for p in parts) for g in str(gold).split(","))
    if category == 3:
        gold = str(gold).split(";")[0]
    return f1(prediction, gold)


def bound_answer(keeper: Housekeeper, question: str, results: list[dict], today) -> str:
    """The model's answer given ``results`` as the one search_chats call it made: the same system
    prompt, question message, results message and answer schema the housekeeper uses."""
    from deepdiary.nlu.question import parse_question

    with keeper.library.read_session() as s:
        parsed = parse_question(s, question, today)
    messages = keeper._first_messages(question, parsed, [], None, today, made=True)
    call = ToolCall(tool="search_chats", arguments={"query": question})
    messages.append({"role": "assistant", "content": json.dumps({"tool": call.tool, "arguments": call.arguments})})
    messages.append(keeper._results_message(call, {"results": results}, parsed.language))
    refs = [r["ref"] for r in results]
    try:
        reply = keeper.llm.complete_json(messages, keeper._step_schema(refs, allow_call=False), max_tokens=320)
    except ValueError:
        return ""
    return str(reply.get("answer", "")).strip()


def gold_results(turns: list, evidence: list[str], conversation: str) -> list[dict]:
    """The evidence turns as search_chats renders its hits."""
    by_id = {t[0]: (i, t) for i, t in enumerate(turns, 1)}
    out = []
    for e in evidence:
        i, (_, sender, at, text) = by_id[e]
        out.append(compact({"ref": f"message:{i}", "time": when(at), "sender": sender, "conversation": conversation,
                            "text": clip(annotate_relative(text, at.date()))}))
    return out


def run(path: Path, per_category: int, seed: int, tmp: Path) -> list[dict]:
    rows = []
    rng = random.Random(seed)
    for n, sample in enumerate(json.loads(path.read_text())):
        conv = sample["conversation"]
        owner, partner = conv["speaker_a"], conv["speaker_b"]
        export = tmp / f"qa-{n}.csv"
        write_memotrace(sample, export)
        settings = Settings(home=tmp / f"qa-lib-{n}", owner_name=owner, llm_threads=os.cpu_count() or 2)
        ctx = AppContext(settings)
        ingest.ingest_text(ctx, "chats", [export], fmt="memotrace-csv")
        turns = turns_of(sample)
        valid = {t[0] for t in turns}
        today = max(t[2] for t in turns).date()
        keeper = ask_service.housekeeper(ctx)
        by_cat = defaultdict(list)
        for qa in sample["qa"]:
            evidence = [e for e in qa["evidence"] if e in valid]
            if qa["category"] in CATEGORIES and evidence and "answer" in qa:
                by_cat[qa["category"]].append((qa, evidence))
        for cat in CATEGORIES:
            for qa, evidence in rng.sample(by_cat[cat], min(per_category, len(by_cat[cat]))):
                q, gold = qa["question"], str(qa["answer"])
                t0 = time.perf_counter()
                answer = ask_service.ask(ctx, q, today=today, keeper=keeper).answer
                seconds = time.perf_counter() - t0
                upper = bound_answer(keeper, q, gold_results(turns, evidence, partner), today)
                lower = bound_answer(keeper, q, [], today)
                rows.append({"conversation": n, "category": cat, "question": q, "gold": gold,
                             "answer": answer, "nothing": says_nothing(answer), "f1": score(answer, gold, cat),
                             "gold_answer": upper, "gold_f1": score(upper, gold, cat),
                             "none_answer": lower, "none_f1": score(lower, gold, cat), "seconds": seconds})
                print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr, flush=True)
        absent = [qa for qa in sample["qa"] if qa["category"] == ABSENT]
        for qa in rng.sample(absent, min(per_category, len(absent))):
            t0 = time.perf_counter()
            answer = ask_service.ask(ctx, qa["question"], today=today, keeper=keeper).answer
            rows.append({"conversation": n, "category": ABSENT, "question": qa["question"],
                         "adversarial": qa.get("adversarial_answer"), "answer": answer,
                         "nothing": says_nothing(answer), "seconds": time.perf_counter() - t0})
            print(json.dumps(rows[-1], ensure_ascii=False), file=sys.stderr, flush=True)
        ctx.close()
    return rows


def main() -> None:
    default = Path(os.environ.get("DEEPDIARY_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=default / "chats" / "locomo_dev2.json",
                        help="the conversations to ask about (default: the unseen pair)")
    parser.add_argument("--per-category", type=int, default=3, help="questions per category per conversation")
    parser.add_argument("--seed", type=int, default=0, help="which questions the sample takes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.path, args.per_category, args.seed, Path(tmp))
    print("category      questions  housekeeper F1  gold-evidence F1  no-retrieval F1  ours/gold  s/question")
    answerable = [r for r in rows if r["category"] in CATEGORIES]
    groups = [(CATEGORIES[c], [r for r in rows if r["category"] == c]) for c in CATEGORIES] + [("all", answerable)]
    for name, group in groups:
        if not group:
            continue
        ours, gold, none = (statistics.mean(r[k] for r in group) for k in ("f1", "gold_f1", "none_f1"))
        print(f"{name:12s}  {len(group):9d}  {ours:14.3f}  {gold:16.3f}  {none:15.3f}  "
              f"{(ours / gold if gold else 0):9.2f}  {statistics.mean(r['seconds'] for r in group):10.1f}")
    absent = [r for r in rows if r["category"] == ABSENT]
    if answerable:
        print(f"'found nothing' on categories 1-4 (an answer exists): {sum(r['nothing'] for r in answerable)}"
              f" of {len(answerable)}")
    if absent:
        print(f"'found nothing' on category 5 (no answer exists): {sum(r['nothing'] for r in absent)}"
              f" of {len(absent)}, {statistics.mean(r['seconds'] for r in absent):.1f} s/question")


if __name__ == "__main__":
    main()
