"""Facts learnt from a LoCoMo development chat, laid out for a reader to check one by one.

The first ``--sessions`` sessions of one conversation of the tuning pair (locomo_dev.json;
never the unseen pair) are imported as a MemoTrace export, as bench/locomo.py does, and
``deepdiary facts learn`` runs over them with the default local LLM. Every fact, current or
replaced, is written to a Markdown table beside the text of the messages it cites, with an
empty verdict column: the reader marks each ``ok`` (true of that person and said by the
cited messages) or ``wrong`` and counts. The run's figures (sessions, messages, facts,
seconds, messages/s) head the file.

    python bench/facts_check.py [--conversation 0] [--sessions 3] [--skip 0] [--out bench/facts_check.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from locomo import write_memotrace  # noqa: E402 - the import protocol the LoCoMo benches share

from deepdiary.core.settings import Settings  # noqa: E402
from deepdiary.memory.tables import Item  # noqa: E402
from deepdiary.services import ingest  # noqa: E402
from deepdiary.services.context import AppContext  # noqa: E402
from deepdiary.services.facts import learn_facts, list_facts  # noqa: E402

DEV = Path("/work/shared/data/chats/locomo_dev.json")


def some_sessions(sample: dict, skip: int, keep: int) -> dict:
    """The conversation with only its sessions skip+1 .. skip+keep, renumbered from 1."""
    conv = sample["conversation"]
    out = {k: v for k, v in conv.items() if not k.startswith("session_")}
    for new, old in enumerate(range(skip + 1, skip + keep + 1), 1):
        if f"session_{old}" not in conv:
            break
        out[f"session_{new}"] = conv[f"session_{old}"]
        out[f"session_{new}_date_time"] = conv[f"session_{old}_date_time"]
    return {**sample, "conversation": out}


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEV)
    ap.add_argument("--conversation", type=int, default=0, help="which conversation of the file")
    ap.add_argument("--skip", type=int, default=0, help="sessions to leave out at the start")
    ap.add_argument("--sessions", type=int, default=3, help="how many sessions to read")
    ap.add_argument("--out", type=Path, default=Path("bench/facts_check.md"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    sample = some_sessions(json.loads(args.data.read_text())[args.conversation], args.skip, args.sessions)
    owner = sample["conversation"]["speaker_a"]
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "chat.csv"
        write_memotrace(sample, export)
        ctx = AppContext(Settings(home=Path(tmp) / "lib", owner_name=owner, llm_threads=args.threads))
        try:
            ingest.ingest_text(ctx, "chats", [export])
            run = learn_facts(ctx)
            facts = list_facts(ctx, history=True)
            with ctx.read() as s:
                said = {f.id: [s.get(Item, i).text for i in f.message_ids] for f in facts}
        finally:
            ctx.close()

    lines = [f"# Facts learnt from {args.data.name}, conversation {args.conversation}, "
             f"sessions {args.skip + 1}-{args.skip + args.sessions}", "",
             f"Model {run.model}, {args.threads} threads: {run.read} sessions, {run.messages} messages, "
             f"{run.facts_new} facts ({run.facts_merged} seen again, {run.dropped} dropped, "
             f"{run.failed_windows} windows failed) in {run.seconds:.0f} s: {run.messages_per_second:.2f} messages/s.",
             "", "| # | who | kind | attribute | value | current | cited messages | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for n, f in enumerate(facts, 1):
        cited = " / ".join(f"«{cell(t)}»" for t in said[f.id])
        lines.append(f"| {n} | {f.subject} | {f.kind} | {f.attribute} | {cell(f.value)} | "
                     f"{'yes' if f.current else 'replaced'} | {cited} |  |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps(run.model_dump(), indent=1))
    print(f"{len(facts)} facts written to {args.out}")


if __name__ == "__main__":
    main()
