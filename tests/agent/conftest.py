import io
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import select

from deepdiary.services.demo import run_demo
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Item, ItemPath, Person, PersonNote
from deepdiary.core.settings import Settings

TODAY = date(2026, 11, 24)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """The demo library (photos, chats, diary, people), built once without asking anything."""
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder, Console(file=io.StringIO()), ask=False)
    return folder


@pytest.fixture
def demo_library(demo_folder, tmp_path) -> Library:
    lib = Library.open(Settings(home=demo_folder, llm_threads=2))
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def refs(demo_folder) -> dict[str, str]:
    """Citation refs of the demo's items by a readable key: file name, chat message id, diary date, person."""
    lib = Library.open(Settings(home=demo_folder))
    out = {}
    with lib.session() as s:
        for item, path in s.exec(select(Item, ItemPath).join(ItemPath, ItemPath.item_id == Item.id)):
            if item.kind == "photo":
                out[Path(path.path).name] = f"photo:{item.id}"
        from deepdiary.memory.tables import ChatMeta, DiaryMeta

        for item, meta in s.exec(select(Item, ChatMeta).join(ChatMeta, ChatMeta.item_id == Item.id)):
            out[meta.source_id] = f"message:{item.id}"
        for item, meta in s.exec(select(Item, DiaryMeta).join(DiaryMeta, DiaryMeta.item_id == Item.id)):
            out[f"diary {item.taken_at.date()}"] = f"diary:{item.id}"
        for p in s.exec(select(Person)):
            out[p.name] = f"person:{p.id}"
        for n in s.exec(select(PersonNote)):
            out[f"note {n.person_id}"] = f"note:{n.id}"
    lib.close()
    return out
