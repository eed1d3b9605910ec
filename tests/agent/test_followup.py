"""Follow-ups about people in the photos just found: "who else was there?", "还有谁？"."""

import shutil

import numpy as np
import pytest
from sqlmodel import select

from deepdiary.agent.housekeeper import Housekeeper
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Face, ItemPath, Person
from deepdiary.core.settings import Settings
from tests.agent.conftest import TODAY


# A library is copied here by copying its folder, which holds all of it only when embedded.
pytestmark = pytest.mark.embedded


@pytest.fixture
def with_faces(demo_folder, tmp_path):
    """A copy of the demo library where Li Lei and Alice are in the Hangzhou photos, Bob in one."""
    folder = tmp_path / "lib"
    shutil.copytree(demo_folder, folder, ignore=shutil.ignore_patterns("models", "sample-*"))
    lib = Library.open(Settings(home=folder))
    with lib.session() as s:
        people = {p.name: p.id for p in s.exec(select(Person))}
        photos = {p.path.rsplit("/", 1)[-1]: p.item_id for p in s.exec(select(ItemPath))}
        cast = {"hangzhou-sunset.jpg": ["李雷", "Alice"], "hangzhou-moon.jpg": ["李雷"],
                "hangzhou-tea-terraces.jpg": ["李雷", "Bob"]}
        for name, who in cast.items():
            for i, person in enumerate(who):
                s.add(Face(item_id=photos[name], person_id=people[person], x=10 + 100 * i, y=10, width=50, height=50,
                           score=1.0, embedding=np.zeros(128, dtype=np.float32).tobytes(), model="test"))
    yield lib
    lib.close()


def test_who_else_was_there(with_faces):
    keeper = Housekeeper(with_faces, backend="none", today=TODAY)
    first = keeper.ask("photos of 李雷 in Hangzhou")
    assert len(first.citations) == 3
    second = keeper.ask("who else was there?", conversation_id=first.conversation_id)
    assert second.answer == "Also there: Alice, Bob."
    assert {t.tool for t in second.tool_calls} == {"describe_photo"}
    zh = keeper.ask("还有谁？", conversation_id=first.conversation_id)
    assert zh.answer == "在场的还有：Alice, Bob。"


def test_who_else_without_photos_is_not_a_follow_up(with_faces):
    keeper = Housekeeper(with_faces, backend="none", today=TODAY)
    first = keeper.ask("What did Bob say about the conference?")
    second = keeper.ask("who else was there?", conversation_id=first.conversation_id)
    assert second.tool_calls[0].tool != "describe_photo"
