"""``deepdiary ask`` and ``deepdiary chat`` as a script drives them: JSON on stdout only."""

import json
import subprocess
import sys


def deepdiary(lib, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], input=stdin,
                          capture_output=True, text=True, timeout=300, check=True)


def test_ask_json_has_answer_citations_tool_calls_and_language(demo_folder, refs):
    done = deepdiary(demo_folder, "ask", "巴黎的照片", "--backend", "none", "--today", "2026-11-24", "--json")
    data = json.loads(done.stdout)
    assert {"id", "answer", "citations", "tool_calls", "language"} <= set(data)
    assert data["language"] == "zh"
    assert [c["id"] for c in data["citations"]] == [refs["paris-pink-portrait.jpg"], refs["paris-stone-wall.jpg"]]
    assert data["tool_calls"][0]["tool"] == "search_photos" and data["tool_calls"][0]["arguments"] == {"place": "Paris"}


def test_chat_keeps_one_conversation(demo_folder, refs):
    done = deepdiary(demo_folder, "chat", "--backend", "none", "--today", "2026-11-24", "--json",
                     stdin="photos in Hangzhou in July 2023\nthe second day\n\n")
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["conversation_id"] == second["conversation_id"]
    assert [c["id"] for c in second["citations"]] == [refs["hangzhou-moon.jpg"]]


def test_ask_text_prints_answer_and_citations(demo_folder, refs):
    done = deepdiary(demo_folder, "ask", "What did I write in my diary about Cape Town?", "--backend", "none",
                     "--today", "2026-11-24")
    assert "diary entr" in done.stdout and refs["diary 2022-12-28"] in done.stdout
    assert "search_diary" in done.stderr
