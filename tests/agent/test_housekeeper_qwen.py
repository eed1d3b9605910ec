"""End to end with the default planner, Qwen2.5-Coder-1.5B: real questions over the demo
library, in English and Chinese, each answered with exactly the items it should cite."""

import re

import pytest

from deepdiary.agent.housekeeper import Housekeeper
from deepdiary.memory.library import Library
from deepdiary.core.settings import Settings
from tests.agent.conftest import TODAY

CASES = [
    ("Which photos did I take in Hangzhou in July 2023?", "search_photos",
     ["hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg"]),
    ("巴黎的照片", "search_photos", ["paris-pink-portrait.jpg", "paris-stone-wall.jpg"]),
    ("What did Alice say about the bakery?", "search_chats", ["a5", "a7"]),
    ("What did Bob say about the conference?", "search_chats", ["b1"]),
    ("What did I write in my diary about Cape Town?", "search_diary", ["diary 2022-12-28"]),
    ("日记里关于杭州写了什么", "search_diary", ["diary 2023-07-14"]),
]


@pytest.fixture(scope="module")
def keeper(demo_folder):
    lib = Library.open(Settings(home=demo_folder, llm_model="qwen2.5-coder-1.5b", llm_threads=2))
    yield Housekeeper(lib, today=TODAY)
    lib.close()


@pytest.mark.parametrize(("question", "tool", "cited"), CASES, ids=[c[0] for c in CASES])
def test_qwen_answers_with_exact_citations(keeper, refs, question, tool, cited):
    answer = keeper.ask(question)
    assert answer.backend == "llamacpp"
    assert answer.tool_calls[0].tool == tool
    assert sorted(c["id"] for c in answer.citations) == sorted(refs[k] for k in cited)
    assert answer.language == ("zh" if re.search(r"[\u4e00-\u9fff]", question) else "en")
    if answer.language == "zh":
        assert re.search(r"[\u4e00-\u9fff]", answer.answer), answer.answer
    assert answer.answer and "$" not in answer.answer
