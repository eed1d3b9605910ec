"""How well the housekeeper plans and cites: the parser alone, Qwen 0.5B and Qwen 1.5B.

Builds the demo library (photos, chats, diary, people), then asks each planner the same
questions, each in a new conversation, with today fixed at 2026-11-24. For every
question the set holds the tool call a careful person would make. Printed per planner:

- tool accuracy: the first call names the expected tool;
- argument accuracy: ... and its arguments equal the expected ones (dates as resolved in
  code; a free-text ``query``/``demand`` counts when it holds the expected words; an
  extra ``limit`` is ignored);
- citation precision and recall, micro-averaged: the expected citations are the refs the
  expected call returns (what a correct answer may rely on); questions whose expected
  call returns nothing expect no citation;
- median and p95 seconds per answer (wall clock, model load excluded).

    python bench/agent_eval.py [--planners none,qwen0.5b,qwen1.5b,qwen1.5b-nohint] [--threads 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console

from deepdiary.agent.hint import ToolCall
from deepdiary.agent.housekeeper import Housekeeper
from deepdiary.services.demo import run_demo
from deepdiary.memory.library import Library
from deepdiary.core.settings import Settings

TODAY = date(2026, 11, 24)
HZ, P = "Hangzhou", "Paris"
JUL23 = {"date_from": "2023-07-01", "date_to": "2023-07-31"}
Y = {y: {"date_from": f"{y}-01-01", "date_to": f"{y}-12-31"} for y in (2022, 2023, 2024, 2025)}
APR24 = {"date_from": "2024-04-01", "date_to": "2024-04-30"}

# (question, expected tool, expected arguments); "{florence}" is the Florence photo's id.
QUESTIONS: list[tuple[str, str, dict]] = [
    ("Which photos did I take in Hangzhou in July 2023?", "search_photos", {"place": HZ, **JUL23}),
    ("2023年7月在杭州拍的照片", "search_photos", {"place": HZ, **JUL23}),
    ("Show me my photos from Paris", "search_photos", {"place": P}),
    ("巴黎的照片", "search_photos", {"place": P}),
    ("photos with a blue background", "search_photos", {"colours": ["blue background"]}),
    ("蓝色背景的照片", "search_photos", {"colours": ["blue background"]}),
    ("show me tall photos", "search_photos", {"layout": "tall"}),
    ("竖版的照片", "search_photos", {"layout": "tall"}),
    ("square pictures", "search_photos", {"layout": "square"}),
    ("photos from last year", "search_photos", Y[2025]),
    ("photos taken in 2024", "search_photos", Y[2024]),
    ("2022年的照片", "search_photos", Y[2022]),
    ("北京的照片", "search_photos", {"place": "Beijing"}),
    ("photos taken on weekends in 2023", "search_photos", {**Y[2023], "weekdays": [5, 6]}),
    ("red photos from Beijing", "search_photos", {"place": "Beijing", "colours": ["red"]}),
    ("What did Alice say about the bakery?", "search_chats", {"query": "bakery", "with_person": "Alice"}),
    ("李雷关于茶说了什么？", "search_chats", {"query": "茶", "with_person": "李雷"}),
    ("What did Bob say about the conference?", "search_chats", {"query": "conference", "with_person": "Bob"}),
    ("Alice说了什么关于佛罗伦萨的消息", "search_chats", {"query": "佛罗伦萨", "with_person": "Alice"}),
    ("messages about the Duomo", "search_chats", {"query": "Duomo"}),
    ("谁说过西湖的日落很美？", "search_chats", {"query": "西湖"}),
    ("What did Bob say last month?", "search_chats", {"with_person": "Bob", "date_from": "2026-10-01",
                                                      "date_to": "2026-10-31"}),
    ("What did I write in my diary about Cape Town?", "search_diary", {"query": "Cape Town"}),
    ("日记里关于杭州写了什么", "search_diary", {"query": "杭州"}),
    ("my diary entries from April 2024", "search_diary", APR24),
    ("我2023年7月的日记", "search_diary", JUL23),
    ("Who is Alice?", "person_profile", {"name": "Alice"}),
    ("李雷是谁", "person_profile", {"name": "李雷"}),
    ("Tell me about Bob", "person_profile", {"name": "Bob"}),
    ("Who did I meet most in 2023?", "graph_query", {"kind": "met_most", "year": 2023}),
    ("我2024年见得最多的人是谁", "graph_query", {"kind": "met_most", "year": 2024}),
    ("How are Alice and Bob connected?", "graph_query", {"kind": "connect", "person_a": "Alice", "person_b": "Bob"}),
    ("Who can help me fix my bike?", "match_demand", {"demand": "bike"}),
    ("谁能帮我找好茶？", "match_demand", {"demand": "茶"}),
    ("Who knows French?", "match_demand", {"demand": "French"}),
    ("What did I do in July 2023?", "events", JUL23),
    ("我2024年4月做了什么", "events", APR24),
    ("Where did I travel in 2023?", "places_visited", Y[2023]),
    ("我2022年去过哪些地方", "places_visited", Y[2022]),
    ("Describe photo {florence}", "describe_photo", {"photo_id": "{florence}"}),
    ("照片{florence}里有什么", "describe_photo", {"photo_id": "{florence}"}),
    ("How many photos do I have?", "stats", {}),
    ("我有多少张照片", "stats", {}),
    ("What's the date today?", "today", {}),
    ("今天几号", "today", {}),
]
FREE_TEXT = ("query", "demand")
PLANNERS = {"none": ("none", None, True), "qwen0.5b": ("llamacpp", "qwen2.5-coder-0.5b", True),
            "qwen1.5b": ("llamacpp", "qwen2.5-coder-1.5b", True),
            # the same model without the parser's reading and suggested call (dates still come from code)
            "qwen1.5b-nohint": ("llamacpp", "qwen2.5-coder-1.5b", False)}


def _fill(value, florence: int):
    if isinstance(value, str) and value == "{florence}":
        return florence
    if isinstance(value, str):
        return value.replace("{florence}", str(florence))
    if isinstance(value, dict):
        return {k: _fill(v, florence) for k, v in value.items()}
    return value


def args_match(expected: dict, actual: dict) -> bool:
    actual = {k: v for k, v in actual.items() if k != "limit"}
    # An extra free-text query is harmless; any other extra argument narrows the search wrongly.
    if set(actual) - set(expected) - set(FREE_TEXT):
        return False
    for key, want in expected.items():
        got = actual.get(key)
        if key in FREE_TEXT:
            if not isinstance(got, str) or any(w.lower() not in got.lower() for w in str(want).split()):
                return False
        elif isinstance(want, str) and isinstance(got, str):
            if want.lower() != got.lower():
                return False
        elif got != want:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--planners", default="none,qwen0.5b,qwen1.5b")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="build (or reuse) the demo library here")
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()
    folder = opts.keep or Path(tempfile.mkdtemp(prefix="agent-eval-"))
    t = time.perf_counter()
    run_demo(folder, Console(file=io.StringIO()), ask=False)
    print(f"demo library in {folder} ({time.perf_counter() - t:.0f} s); {len(QUESTIONS)} questions, today {TODAY}")

    lib = Library.open(Settings(home=folder))
    florence = _photo_id(lib, "florence-red-ball.jpg")
    questions = [(_fill(q, florence), tool, _fill(args, florence)) for q, tool, args in QUESTIONS]
    truth = Housekeeper(lib, backend="none", today=TODAY)
    expected_refs = [truth.run(ToolCall(tool=tool, arguments=args))[1].refs for _, tool, args in questions]

    rows = []
    for name in opts.planners.split(","):
        backend, model, hint = PLANNERS[name]
        settings = Settings(home=folder, llm_backend=backend, llm_model=model or "qwen2.5-coder-1.5b",
                            llm_threads=opts.threads)
        keeper = Housekeeper(Library.open(settings), today=TODAY, hint=hint)
        if backend != "none":
            t = time.perf_counter()
            _ = keeper.llm
            print(f"{name}: model loaded in {time.perf_counter() - t:.1f} s")
        tool_ok = args_ok = tp = n_cited = n_expected = 0
        seconds = []
        for (question, tool, args), want in zip(questions, expected_refs):
            answer = keeper.ask(question)
            seconds.append(answer.seconds)
            first = answer.tool_calls[0] if answer.tool_calls else None
            t_ok = first is not None and first.tool == tool
            a_ok = t_ok and args_match(args, first.arguments)
            tool_ok += t_ok
            args_ok += a_ok
            cited = {c["id"] for c in answer.citations}
            tp += len(cited & set(want))
            n_cited += len(cited)
            n_expected += len(want)
            if opts.verbose or not a_ok:
                print(f"  [{name}] {'ok ' if a_ok else 'BAD'} {question!r}: "
                      f"{first.tool if first else None} {json.dumps(first.arguments if first else {}, ensure_ascii=False)}"
                      f" cited {sorted(cited)} want {sorted(want)} ({answer.seconds:.1f} s)"
                      + ("" if a_ok else f"\n        expected {tool} {json.dumps(args, ensure_ascii=False)}"))
                if opts.verbose:
                    print("       ", answer.answer.replace("\n", " / ")[:200])
        n = len(questions)
        seconds.sort()
        rows.append((name, tool_ok / n, args_ok / n, tp / n_cited if n_cited else 1.0, tp / n_expected if n_expected else 1.0,
                     statistics.median(seconds), seconds[min(n - 1, round(0.95 * (n - 1)))]))
        sys.stdout.flush()

    print()
    print(f"{'planner':16} {'tool acc':>9} {'arg acc':>8} {'cite P':>7} {'cite R':>7} {'median s':>9} {'p95 s':>7}")
    for name, ta, aa, cp, cr, med, p95 in rows:
        print(f"{name:16} {ta:9.1%} {aa:8.1%} {cp:7.1%} {cr:7.1%} {med:9.2f} {p95:7.2f}")
    base = next((r for r in rows if r[0] == "none"), None)
    if base:
        for r in rows:
            if r[0] != "none" and base[5] > 0:
                print(f"{r[0]}: median answer time {r[5] / base[5]:.0f}x the parser's")


def _photo_id(lib: Library, name: str) -> int:
    from sqlmodel import select

    from deepdiary.memory.tables import ItemPath

    with lib.session() as s:
        return next(p.item_id for p in s.exec(select(ItemPath)) if p.path.endswith(name))


if __name__ == "__main__":
    main()
