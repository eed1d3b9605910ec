"""The parser's suggested call, and the arguments code keeps for itself."""

import pytest

from deepdiary.agent.hint import code_arguments, suggest_call
from deepdiary.nlu.question import parse_question
from tests.agent.conftest import TODAY


@pytest.mark.parametrize(("question", "tool", "args"), [
    ("photos of 李雷 in Hangzhou last summer", "search_photos",
     {"people": ["李雷"], "place": "Hangzhou", "date_from": "2026-06-01", "date_to": "2026-08-31"}),
    ("蓝色背景的竖版照片", "search_photos", {"colours": ["blue background"], "layout": "tall"}),
    ("What did Bob say last month?", "search_chats",
     {"with_person": "Bob", "date_from": "2026-10-01", "date_to": "2026-10-31"}),
    ("我2023年7月的日记", "search_diary", {"date_from": "2023-07-01", "date_to": "2023-07-31"}),
    ("我2024年见得最多的人是谁", "graph_query", {"kind": "met_most", "year": 2024}),
    ("how are Alice and Bob connected?", "graph_query", {"kind": "connect", "person_a": "Alice", "person_b": "Bob"}),
    ("今天几号", "today", {}),
])
def test_suggested_call(demo_library, question, tool, args):
    with demo_library.session() as s:
        call = suggest_call(parse_question(s, question, TODAY))
    assert (call.tool, call.arguments) == (tool, args)


def test_dates_and_placeholders_from_a_model_are_dropped(demo_library):
    with demo_library.session() as s:
        parsed = parse_question(s, "what did I do in July 2023 on weekends?", TODAY)
    model_args = {"place": "July 2023", "date_from": "1999-01-01", "with_person": "none", "people": ["me", "Bob"],
                  "query": "trip"}
    assert code_arguments("events", model_args, parsed) == {
        "people": ["Bob"], "query": "trip", "date_from": "2023-07-01", "date_to": "2023-07-31"}
    assert code_arguments("search_photos", {"place": "weekends"}, parsed)["weekdays"] == [5, 6]
