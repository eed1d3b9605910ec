"""The housekeeper's loop: the parser-only planner, conversation memory and follow-ups,
date handling around a model, an OpenAI-compatible endpoint, and SmolLM2 plumbing."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlmodel import select

from deepdiary.agent.housekeeper import Housekeeper
from deepdiary.memory.library import Library
from deepdiary.memory.tables import AgentSession, AgentTurn
from deepdiary.core.settings import Settings
from tests.agent.conftest import TODAY

HANGZHOU = ["hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg"]


def test_parser_alone_answers_with_exact_citations(demo_library, refs):
    keeper = Housekeeper(demo_library, backend="none", today=TODAY)
    answer = keeper.ask("Which photos did I take in Hangzhou in July 2023?")
    assert [c["id"] for c in answer.citations] == [refs[n] for n in HANGZHOU]
    assert answer.tool_calls[0].tool == "search_photos"
    assert answer.tool_calls[0].arguments == {"place": "Hangzhou", "date_from": "2023-07-01", "date_to": "2023-07-31"}
    assert answer.language == "en" and answer.answer.startswith("I found 3 photo(s)")
    assert all(c["path"].endswith(n) for c, n in zip(answer.citations, HANGZHOU))

    zh = keeper.ask("2023年7月在杭州拍的照片")
    assert zh.language == "zh" and zh.answer.startswith("找到 3 张照片")
    assert [c["id"] for c in zh.citations] == [refs[n] for n in HANGZHOU]


def test_nothing_found_is_said_not_invented(demo_library):
    keeper = Housekeeper(demo_library, backend="none", today=TODAY)
    assert keeper.ask("photos from last year").answer == "I found nothing in your memory about that."
    assert keeper.ask("去年的照片").answer == "我在你的记忆里没有找到相关内容。"


def test_follow_up_uses_the_conversation(demo_library, refs):
    keeper = Housekeeper(demo_library, backend="none", today=TODAY)
    first = keeper.ask("photos in Hangzhou in July 2023")
    second = keeper.ask("show me the ones from the second day", conversation_id=first.conversation_id)
    assert [c["id"] for c in second.citations] == [refs["hangzhou-moon.jpg"]]
    assert second.tool_calls[-1].arguments["date_from"] == "2023-07-15"
    third = keeper.ask("第一天的呢？", conversation_id=first.conversation_id)
    assert [c["id"] for c in third.citations] == [refs["hangzhou-sunset.jpg"]]
    with demo_library.session() as s:
        turns = s.exec(select(AgentTurn).where(AgentTurn.session_id == first.conversation_id)).all()
        assert [t.question for t in turns][:2] == ["photos in Hangzhou in July 2023", "show me the ones from the second day"]
        assert s.get(AgentSession, first.conversation_id).channel == "cli"


class ScriptedLLM:
    """Stands in for a model in these unit tests of the loop around it."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.seen = []

    def complete_json(self, messages, schema, max_tokens=0):
        self.seen.append((messages, schema))
        return self.replies.pop(0)


def test_dates_come_from_the_question_not_the_model(demo_library, refs):
    llm = ScriptedLLM([
        {"tool": "search_photos", "arguments": {"place": "Hangzhou", "date_from": "1999-01-01"}},
        {"tool": "answer", "answer": "Three photos.", "citations": [refs["hangzhou-moon.jpg"]]},
    ])
    keeper = Housekeeper(demo_library, backend="llamacpp", llm=llm, today=TODAY)
    # No word says what to search, so the model picks the search; the dates are still code's.
    answer = keeper.ask("Hangzhou last July")  # last July = July 2026: nothing
    assert answer.tool_calls[0].arguments == {"place": "Hangzhou", "date_from": "2026-07-01", "date_to": "2026-07-31"}
    assert answer.answer == "I found nothing in your memory about that."  # said by code, not the model
    # The model's schemas never offer a date: dates are code's.
    first_schema = llm.seen[0][1]
    assert "date_from" not in json.dumps(first_schema)


def test_a_question_that_names_its_search_skips_the_planning_step(demo_library, refs):
    llm = ScriptedLLM([{"tool": "answer", "answer": "Two photos in Paris.",
                        "citations": [refs["paris-stone-wall.jpg"]]}])
    keeper = Housekeeper(demo_library, backend="llamacpp", llm=llm, today=TODAY)
    answer = keeper.ask("photos in Paris in April 2024")
    assert [c.tool for c in answer.tool_calls] == ["search_photos"] and len(llm.seen) == 1
    assert answer.tool_calls[0].arguments == {"place": "Paris", "date_from": "2024-04-01", "date_to": "2024-04-30"}
    assert "Results of search_photos" in llm.seen[0][0][-1]["content"]


def test_the_model_may_cite_only_what_tools_returned(demo_library, refs):
    llm = ScriptedLLM([
        {"tool": "search_photos", "arguments": {"place": "Paris"}},
        {"tool": "answer", "answer": "Two photos in Paris.", "citations": [refs["paris-stone-wall.jpg"]]},
    ])
    keeper = Housekeeper(demo_library, backend="llamacpp", llm=llm, today=TODAY)
    answer = keeper.ask("photos in Paris")
    assert [c["id"] for c in answer.citations] == [refs["paris-stone-wall.jpg"]]
    answer_schema = llm.seen[1][1]["anyOf"][-1]
    assert set(answer_schema["properties"]["citations"]["items"]["enum"]) == {
        refs["paris-pink-portrait.jpg"], refs["paris-stone-wall.jpg"]}


def test_a_model_that_never_answers_is_stopped(demo_library):
    llm = ScriptedLLM([{"tool": "stats", "arguments": {}}, {"tool": "today", "arguments": {}},
                       {"tool": "find_people", "arguments": {}},
                       {"tool": "answer", "answer": "Done.", "citations": []}])
    keeper = Housekeeper(demo_library, backend="llamacpp", llm=llm, today=TODAY, max_steps=3)
    answer = keeper.ask("how many photos do I have")
    assert len(answer.tool_calls) == 3 and answer.answer == "Done."
    assert "anyOf" not in llm.seen[-1][1]  # the last step may only answer


class _OpenAIStub(BaseHTTPRequestHandler):
    requests: list = []  # noqa: RUF012 - shared by the handler instances

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _OpenAIStub.requests.append(body)
        if not any(m["role"] == "tool" for m in body["messages"]):
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "search_photos", "arguments": json.dumps({"place": "Paris"})}}]}
        else:
            tool_text = next(m["content"] for m in body["messages"] if m["role"] == "tool")
            first_ref = tool_text.split("]")[0].lstrip("[")
            message = {"role": "assistant", "content": f"You took photos in Paris [{first_ref}]."}
        payload = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                              "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_openai_compatible_endpoint_uses_native_tool_calls(demo_folder, refs):
    server = HTTPServer(("127.0.0.1", 0), _OpenAIStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings(home=demo_folder, llm_backend="openai", openai_model="stub",
                            openai_base_url=f"http://127.0.0.1:{server.server_port}/v1")
        lib = Library.open(settings)
        answer = Housekeeper(lib, today=TODAY).ask("photos in Paris in April 2024")
        lib.close()
    finally:
        server.shutdown()
    first = _OpenAIStub.requests[0]
    names = {t["function"]["name"] for t in first["tools"]}
    assert {"search_photos", "search_chats", "search_diary", "today"} <= names
    photos = next(t for t in first["tools"] if t["function"]["name"] == "search_photos")
    assert "date_from" not in photos["function"]["parameters"]["properties"]
    assert answer.tool_calls[0].arguments == {"place": "Paris", "date_from": "2024-04-01", "date_to": "2024-04-30"}
    assert [c["id"] for c in answer.citations] == [refs["paris-pink-portrait.jpg"]]


def test_smollm2_drives_the_whole_loop(demo_folder):
    """SmolLM2 cannot plan, but every step it takes must be a real tool or a cited answer."""
    lib = Library.open(Settings(home=demo_folder, llm_model="smollm2-135m", llm_threads=1))
    keeper = Housekeeper(lib, today=TODAY, max_steps=2)
    for question in ("Which photos did I take in Paris?", "李雷说了什么？"):
        answer = keeper.ask(question)
        assert answer.backend == "llamacpp" and answer.answer
        assert 1 <= len(answer.tool_calls) <= 2
        assert all(t.tool in keeper.tools for t in answer.tool_calls)
        returned = {r for t in answer.tool_calls for r in t.refs}
        assert {c["id"] for c in answer.citations} <= returned
    lib.close()


@pytest.mark.parametrize("backend", ["nonsense"])
def test_unknown_backend_is_refused(demo_library, backend):
    with pytest.raises(ValueError, match="llamacpp, openai, none"):
        Housekeeper(demo_library, backend=backend)
