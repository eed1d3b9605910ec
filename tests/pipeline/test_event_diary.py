"""The event diary with the real Qwen 1.5B: an entry names the event's place and people and
cites only the event's items; it is kept while the event is unchanged and written again when
the event changes; ``--all`` never overwrites the user's own entry; a user who writes Chinese
gets a Chinese entry. Few model calls: each fixture writes once and the tests read."""

import json
import shutil

import pytest
from sqlmodel import select

from deepdiary.core.settings import Settings
from deepdiary.core.text import has_cjk
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Event, Visit
from deepdiary.services.context import AppContext
from deepdiary.services.ingest import ingest_text
from deepdiary.services.memories import event_detail, list_events, set_event_entry, write_event_entries
from tests.agent.conftest import demo_folder  # noqa: F401 - the demo library, built once

MODEL = {"llm_model": "qwen2.5-coder-1.5b", "llm_threads": 2}


def _chat(conversation: str, messages: list[tuple[str, str, str]]) -> dict:
    return {"conversation": conversation, "owner": "me",
            "messages": [{"id": f"{conversation}-{t}", "time": t, "sender": who, "text": text} for t, who, text in messages]}


PICNIC = [  # one burst (an event) in May
    ("2024-05-04T10:00:00", "Priya", "Picnic at Lake Merritt today? I'm bringing my guitar"),
    ("2024-05-04T10:02:00", "me", "Yes! I'll bake lemon bars and bring them"),
    ("2024-05-04T10:04:00", "Priya", "Great, meet at the boathouse at noon"),
    ("2024-05-04T10:05:00", "me", "See you at the boathouse"),
    ("2024-05-04T10:07:00", "Priya", "Bring a blanket too, the grass is wet"),
]
CONCERT = [  # another in June, which later grows
    ("2024-06-10T19:00:00", "Priya", "The jazz concert at the Fox Theater starts at 8"),
    ("2024-06-10T19:02:00", "me", "I'm on the train, I'll be there by 7:45"),
    ("2024-06-10T19:03:00", "Priya", "I got us seats in the second row"),
    ("2024-06-10T19:05:00", "me", "Amazing, thank you"),
    ("2024-06-10T19:06:00", "Priya", "Meet me at the main entrance"),
]
CONCERT_LATER = [
    ("2024-06-10T19:20:00", "Priya", "The singer is Norah Jones! Hurry up"),
    ("2024-06-10T19:22:00", "me", "Running from the station now"),
]
WEST_LAKE = [
    ("2024-04-13T08:00:00", "小林", "今天去西湖爬宝石山吗？"),
    ("2024-04-13T08:02:00", "me", "好啊，我九点在断桥等你"),
    ("2024-04-13T08:04:00", "小林", "我带相机，拍日出拍不到了，拍湖景吧"),
    ("2024-04-13T08:05:00", "me", "我带两瓶水和面包"),
    ("2024-04-13T08:07:00", "小林", "好的，断桥见"),
    ("2024-04-13T08:09:00", "me", "爬完山我们去楼外楼吃饭"),
]


def _event_items(ctx, event_id: int) -> set[str]:
    """The refs an entry may cite: the event's photos and messages, and the stays during it."""
    e = event_detail(ctx, event_id)
    with ctx.read() as s:
        row = s.get(Event, event_id)
        stays = s.exec(select(Visit.id).where(Visit.start <= row.end, Visit.end >= row.start)).all()
    return ({f"photo:{p.id}" for p in e.photo_items} | {f"message:{m['id']}" for m in e.message_items}
            | {f"visit:{i}" for i in stays})


@pytest.fixture(scope="module")
def chats_diary(tmp_path_factory):
    """Two chat events written with ``--all``; the user then writes the first one's entry
    themself and the second event gains messages; ``--all`` runs again."""
    root = tmp_path_factory.mktemp("diary")
    (root / "a.json").write_text(json.dumps(_chat("Priya", PICNIC + CONCERT)), encoding="utf-8")
    (root / "b.json").write_text(json.dumps(_chat("Priya", CONCERT_LATER)), encoding="utf-8")
    lib = Library.open(Settings(home=root / "lib", **MODEL))
    ctx = AppContext.for_library(lib)
    ingest_text(ctx, "chats", [root / "a.json"])
    picnic, concert = sorted(list_events(ctx), key=lambda e: e.start)
    first = write_event_entries(ctx)
    before = {i: event_detail(ctx, i).entry for i in (picnic.id, concert.id)}
    set_event_entry(ctx, picnic.id, "Lemon bars by the lake with Priya. Best day of spring.")
    ingest_text(ctx, "chats", [root / "b.json"])  # the concert's burst grows: same event, more items
    stale = event_detail(ctx, concert.id).entry
    again = write_event_entries(ctx)
    yield ctx, picnic.id, concert.id, first, before, stale, again
    lib.close()


def test_all_writes_every_event_citing_only_its_own_messages(chats_diary):
    ctx, picnic, concert, first, before, _, _ = chats_diary
    assert first.events == 2 and first.written == 2, first
    for event_id in (picnic, concert):
        entry = before[event_id]
        assert entry.source == "llm" and entry.language == "en" and not entry.stale
        assert entry.citations and all(c.startswith("message:") for c in entry.citations)
    assert set(before[picnic].citations) <= _event_items(ctx, picnic), before[picnic]
    assert not set(before[concert].citations) & _event_items(ctx, picnic), before[concert]
    assert "priya" in before[picnic].text.lower(), before[picnic].text


def test_a_changed_event_reads_stale_and_is_written_again(chats_diary):
    ctx, _, concert, _, before, stale, again = chats_diary
    assert stale.stale and stale.text == before[concert].text
    assert again.written == 1 and again.unchanged == 0, again
    now = event_detail(ctx, concert).entry
    assert now.source == "llm" and not now.stale
    later = {f"message:{m['id']}" for m in event_detail(ctx, concert).message_items if m["time"] >= "2024-06-10T19:20"}
    assert later and set(now.citations) <= _event_items(ctx, concert), now


def test_all_keeps_the_users_own_entry(chats_diary):
    ctx, picnic, _, _, _, _, again = chats_diary
    assert again.kept_user == 1, again
    entry = event_detail(ctx, picnic).entry
    assert entry.source == "user" and not entry.stale
    assert entry.text == "Lemon bars by the lake with Priya. Best day of spring."


def test_a_user_who_writes_chinese_gets_a_chinese_entry(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(_chat("小林", WEST_LAKE), ensure_ascii=False), encoding="utf-8")
    lib = Library.open(Settings(home=tmp_path / "lib", **MODEL))
    try:
        ctx = AppContext.for_library(lib)
        ingest_text(ctx, "chats", [tmp_path / "c.json"])
        (event,) = list_events(ctx)
        run = write_event_entries(ctx, event.id)
        entry = event_detail(ctx, event.id).entry
        allowed = _event_items(ctx, event.id)
    finally:
        lib.close()
    assert run.written == 1 and entry.language == "zh", (run, entry)
    cjk = sum(has_cjk(ch) for ch in entry.text)
    assert cjk * 2 > len(entry.text.replace(" ", "")), entry.text  # mostly Chinese, not English with a name
    assert entry.citations and set(entry.citations) <= allowed, entry.citations


@pytest.fixture(scope="module")
def demo_ctx(demo_folder, tmp_path_factory):  # noqa: F811
    # A copy: the demo library is shared with the agent tests, which must not see entries.
    folder = shutil.copytree(demo_folder, tmp_path_factory.mktemp("demo-diary") / "lib",
                             ignore=shutil.ignore_patterns("models"))
    lib = Library.open(Settings(home=folder, **MODEL))
    yield AppContext.for_library(lib)
    lib.close()


def _event_with_people_and_place(ctx):
    for row in list_events(ctx):
        e = event_detail(ctx, row.id)
        if e.place and e.people and e.photos:
            return e
    raise AssertionError("the demo has no event with a place and people")


def test_a_photo_event_names_the_place_and_people_and_cites_only_the_event(demo_ctx):
    ctx = demo_ctx
    event = _event_with_people_and_place(ctx)
    run = write_event_entries(ctx, event.id)
    assert run.written == 1, run
    entry = event_detail(ctx, event.id).entry
    assert entry.source == "llm" and not entry.stale and entry.language == "en"
    assert event.place.split(",")[0].lower() in entry.text.lower(), entry.text
    assert all(p["name"].lower() in entry.text.lower() for p in event.people if p["name"]), entry.text
    assert entry.citations and set(entry.citations) <= _event_items(ctx, event.id), entry.citations

    again = write_event_entries(ctx, event.id)
    assert again.written == 0 and again.unchanged == 1


def _burst(day_hour: str, words: str) -> list[tuple[str, str, str]]:
    return [(f"{day_hour}:0{n}:00", "Priya" if n % 2 else "me", f"{words} {n}") for n in range(5)]


def test_the_users_entry_outlives_its_event_when_it_merges_into_another(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(_chat("Priya", _burst("2024-07-01T08", "breakfast")
                                                      + _burst("2024-07-01T20", "dinner"))), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps(_chat("Priya", _burst("2024-07-01T14", "lunch"))), encoding="utf-8")
    lib = Library.open(Settings(home=tmp_path / "lib"))
    try:
        ctx = AppContext.for_library(lib)
        ingest_text(ctx, "chats", [tmp_path / "a.json"])
        morning, evening = sorted(list_events(ctx), key=lambda e: e.start)
        set_event_entry(ctx, evening.id, "Dinner with Priya at last.")
        ingest_text(ctx, "chats", [tmp_path / "b.json"])  # lunch joins the day into one event
        (day,) = list_events(ctx)
        entry = event_detail(ctx, day.id).entry
    finally:
        lib.close()
    assert day.id == morning.id and day.messages == 15
    assert entry.source == "user" and entry.text == "Dinner with Priya at last."
