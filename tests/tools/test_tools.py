"""The agent's tools over a small real library: photos, chats, a diary, people, notes and a stay."""

import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import select
from typer.testing import CliRunner

from deepdiary.memory.library import Library
from deepdiary.memory.people import add_person, refresh_people_counts
from deepdiary.memory.tables import (
    ChatMeta,
    DiaryMeta,
    Face,
    ItemPath,
    ItemTag,
    Person,
    PersonNote,
    Place,
    Visit,
)
from deepdiary.pipeline.events import derive_events
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester
from deepdiary.core.settings import Settings
from deepdiary.tools import TOOL_NAMES, ToolContext, build_tools
from tests.photo_factory import make_photo

HANGZHOU, PARIS = (30.2741, 120.1551), (48.8566, 2.3522)
BLUE, RED, GREEN, WHITE, ORANGE = (30, 90, 210), (220, 30, 30), (40, 160, 40), (250, 250, 250), (245, 130, 20)
PHOTOS = {  # name: spec, people left to right
    "hz1.jpg": ({"size": (320, 240), "background": BLUE, "foreground": RED, "taken": datetime(2023, 7, 14, 9), "gps": HANGZHOU,
                     "make": "Apple", "model": "iPhone 13"}, ["Alice", "Bob"]),  # a Friday
    "hz2.jpg": ({"size": (240, 320), "background": GREEN, "taken": datetime(2023, 7, 15, 10), "gps": HANGZHOU}, ["Alice"]),
    "paris.jpg": ({"size": (320, 200), "background": BLUE, "foreground": ORANGE, "taken": datetime(2022, 5, 1, 12), "gps": PARIS},
                  ["Carol"]),  # a Sunday
    "home.jpg": ({"size": (300, 300), "background": WHITE, "taken": datetime(2024, 3, 10, 15)}, ["Bob", "Carol"]),  # Sunday
}
CHATS = [
    {"id": "a1", "conversation": "Alice", "time": "2023-07-10T20:00:00", "sender": "Alice",
     "text": "Shall we go rowing on West Lake this weekend?"},
    {"id": "a2", "conversation": "Alice", "time": "2023-07-10T20:05:00", "sender": "me",
     "text": "Yes, let's rent a boat on Saturday"},
    {"id": "a3", "conversation": "Alice", "time": "2024-05-01T09:00:00", "sender": "Alice",
     "text": "I started learning the violin"},
    {"id": "b1", "conversation": "Bob", "time": "2023-06-01T08:00:00", "sender": "Bob",
     "text": "My car broke down again, the engine makes a terrible noise"},
    {"id": "b2", "conversation": "Bob", "time": "2024-06-02T08:00:00", "sender": "Bob",
     "text": "Finally bought a new bicycle"},
]
DIARY = """# 2023-07-14
We rowed a boat on West Lake with Alice. The lotus flowers were blooming.

# 2024-03-10
A quiet Sunday at home, reading a novel about the sea.
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    root = tmp_path_factory.mktemp("tools")
    for name, (spec, _) in PHOTOS.items():
        make_photo(root / "photos" / name, **spec)
    (root / "chats").mkdir()
    (root / "chats" / "chats.json").write_text(json.dumps(CHATS, indent=1), encoding="utf-8")
    (root / "diary").mkdir()
    (root / "diary" / "journal.md").write_text(DIARY, encoding="utf-8")
    library = Library.open(Settings(home=root / "lib"))
    with library.session() as s:
        add_person(s, "Alice", ["爱丽丝"])  # before the chats: linked as they are ingested
    assert PhotoIngester(library).run([root / "photos"]).added == 4
    assert ChatIngester(library).run([root / "chats"]).added == 5
    assert DiaryIngester(library).run([root / "diary"]).added == 2
    ids: dict[str, int] = {}
    with library.session() as s:
        for p in ("Bob", "Carol", "Dave"):
            ids[p] = add_person(s, p).id  # Bob after the chats: add_person links his messages
        ids["Alice"] = add_person(s, "alice", ["Ali"]).id  # the same person, one more alias
        for p in s.exec(select(ItemPath)):
            ids[Path(p.path).name] = p.item_id
        for m in s.exec(select(ChatMeta)):
            ids[m.source_id] = m.item_id
        ids["diary_lake"], ids["diary_home"] = s.exec(select(DiaryMeta.item_id).order_by(DiaryMeta.source_line)).all()
        for name, (_, people) in PHOTOS.items():
            for x, who in enumerate(people):
                s.add(Face(item_id=ids[name], person_id=ids[who], x=10 + 100 * x, y=10, width=50, height=50, score=0.99,
                           embedding=np.zeros(128, np.float32).tobytes(), model="test"))
        s.flush()
        refresh_people_counts(s, [ids[n] for n in PHOTOS])
        s.add(ItemTag(item_id=ids["hz2.jpg"], kind="scene", name="beach", source="test"))
        ids["note_bob"] = _note(s, ids["Bob"], "resource", "I can fix cars and motorbikes")
        ids["note_carol"] = _note(s, ids["Carol"], "resource", "A lawyer who knows contract law")
        paris = s.exec(select(Place).where(Place.city == "Paris")).one()
        ids["paris"], ids["hangzhou"] = paris.id, s.exec(select(Place).where(Place.city == "Hangzhou")).one().id
        s.add(Visit(start=datetime(2024, 8, 1, 9), end=datetime(2024, 8, 1, 17), lat=PARIS[0], lon=PARIS[1],
                    source="test", source_file="test", place_id=paris.id))
    with library.session() as s:
        derive_events(s)  # what the services do after an ingest or a people change
    yield library, ids
    library.close()


def _note(s, person_id: int, kind: str, text: str) -> int:
    note = PersonNote(person_id=person_id, kind=kind, text=text)
    s.add(note)
    s.flush()
    return note.id


@pytest.fixture(scope="module")
def tools(lib):
    return {t.name: t for t in build_tools(ToolContext(library=lib[0], today=date(2024, 6, 4)))}


def refs(out: dict) -> list[str]:
    assert "error" not in out, out
    return [r["ref"] for r in out["results"]]


def test_every_tool_has_a_schema_and_a_description(tools):
    assert tuple(tools) == TOOL_NAMES == (
        "search_photos", "search_chats", "search_diary", "find_people", "person_profile", "events", "places_visited",
        "graph_query", "match_demand", "search_facts", "describe_photo", "stats", "today")
    for t in tools.values():
        assert t.description and len(t.description) < 200, t.name
        schema = t.args_schema.model_json_schema()
        for field, spec in schema.get("properties", {}).items():
            assert spec.get("description"), (t.name, field)


def test_search_photos_facets(tools, lib):
    _, ids = lib
    search = tools["search_photos"]

    def photos(**args):
        return [f"photo:{ids[n]}" for n in args.pop("expect")], refs(search.invoke(args))

    for args in (
        {"place": "Hangzhou", "expect": ["hz1.jpg", "hz2.jpg"]},
        {"place": "杭州", "people": ["Alice", "Bob"], "expect": ["hz1.jpg"]},
        {"people": ["爱丽丝"], "expect": ["hz1.jpg", "hz2.jpg"]},
        {"colours": ["red foreground"], "expect": ["hz1.jpg"]},
        {"colours": ["蓝色 背景"], "expect": ["paris.jpg", "hz1.jpg"]},
        {"layout": "tall", "expect": ["hz2.jpg"]},
        {"people_count": 2, "expect": ["hz1.jpg", "home.jpg"]},
        {"date_from": "2023-07-15", "date_to": "2023-07-15", "expect": ["hz2.jpg"]},
        {"date_from": "2023", "date_to": "2024-03", "expect": ["hz1.jpg", "hz2.jpg", "home.jpg"]},
        {"scenes": ["海滩"], "expect": ["hz2.jpg"]},
        {"limit": 2, "expect": ["paris.jpg", "hz1.jpg"]},
    ):
        want, got = photos(**args)
        assert got == want, args
    out = search.invoke({"people": ["Alice"], "limit": 1})
    assert out["total_shown"] == 1 and out["has_more"] is True
    assert out["results"][0] == {"ref": f"photo:{ids['hz1.jpg']}", "path": out["results"][0]["path"],
                                 "taken_at": "2023-07-14 09:00", "place": "Hangzhou, China (杭州)",
                                 "people": ["Alice", "Bob"]}
    assert out["results"][0]["path"].endswith("hz1.jpg")


def test_search_photos_weekdays(tools, lib):
    _, ids = lib
    out = tools["search_photos"].invoke({"weekdays": [5, 6]})
    assert refs(out) == [f"photo:{ids[n]}" for n in ("paris.jpg", "hz2.jpg", "home.jpg")]
    assert "0 (Monday) to 6 (Sunday)" in tools["search_photos"].invoke({"weekdays": [7]})["error"]


def test_search_photos_bad_arguments(tools):
    search = tools["search_photos"]
    for args, words in (
        ({"people": ["Zed"]}, "no person named 'Zed'"),
        ({"place": "Atlantis"}, "Atlantis"),
        ({"colours": ["plaid"]}, "unknown colour 'plaid'"),
        ({"date_from": "last May"}, "cannot read date 'last May'"),
        ({"layout": "diagonal"}, "bad arguments: layout"),
        ({"limit": 0}, "bad arguments: limit"),
    ):
        out = search.invoke(args)
        assert out["results"] == [] and words in out["error"], (args, out)
    assert search.invoke({"people": None, "colours": None})["total_shown"] == 4  # nulls from a small model


def test_search_photos_free_text_ranks_by_people_named(tools, lib):
    _, ids = lib
    assert set(refs(tools["search_photos"].invoke({"query": "Carol", "limit": 2}))) == {
        f"photo:{ids['paris.jpg']}", f"photo:{ids['home.jpg']}"}


def test_describe_photo(tools, lib):
    _, ids = lib
    out = tools["describe_photo"].invoke({"photo_id": ids["hz2.jpg"]})
    (photo,) = out["results"]
    assert photo["ref"] == f"photo:{ids['hz2.jpg']}" and photo["taken_at"] == "2023-07-15 10:00"
    assert photo["layout"] == "tall" and photo["scenes"] == ["beach"] and photo["people"] == ["Alice"]
    assert photo["place"] == "Hangzhou, China (杭州)" and "green" in photo["colours"]
    hz1 = tools["describe_photo"].invoke({"photo_id": ids["hz1.jpg"]})["results"][0]
    assert hz1["camera"] == "Apple iPhone 13" and hz1["people"] == ["Alice", "Bob"] and hz1["people_count"] == 2
    assert "red foreground" in hz1["colours"] and "thumbnail" not in json.dumps(hz1)
    for bad in (ids["a1"], 99999):
        assert tools["describe_photo"].invoke({"photo_id": bad}) == {"error": f"no photo with id {bad}", "results": []}


def test_search_chats(tools, lib):
    _, ids = lib
    chats = tools["search_chats"]
    out = chats.invoke({"query": "rowing on West Lake", "with_person": "Alice", "limit": 1})
    assert out["results"] == [{"ref": f"message:{ids['a1']}", "time": "2023-07-10 20:00", "sender": "Alice",
                               "conversation": "Alice",
                               # "this weekend" counted from the day it was said, not from today
                               "text": CHATS[0]["text"].replace(
                                   "this weekend", "this weekend (2023-07-15 to 2023-07-16)"),
                               "source": out["results"][0]["source"]}]
    assert out["results"][0]["source"].endswith("chats.json:2")  # the line the message starts on
    assert refs(chats.invoke({"query": "violin", "date_from": "2024-05-01", "date_to": "2024-05-01"})) == [
        f"message:{ids['a3']}"]
    assert f"message:{ids['a3']}" not in refs(chats.invoke({"query": "violin", "date_to": "2023-12-31"}))
    # Only Bob's messages, and of those only the one about a car: the bicycle one shares no word
    # with the query and scores far below it.
    assert refs(chats.invoke({"query": "car", "with_person": "Bob"})) == [f"message:{ids['b1']}"]
    assert chats.invoke({"query": "x", "with_person": "Zed"})["error"].startswith("no person or chat sender named 'Zed'")


def test_search_diary(tools, lib):
    _, ids = lib
    diary = tools["search_diary"]
    out = diary.invoke({"query": "boat on the lake", "limit": 1})
    assert refs(out) == [f"diary:{ids['diary_lake']}"] and out["results"][0]["date"] == "2023-07-14"
    assert "lotus" in out["results"][0]["text"] and out["results"][0]["source"].endswith("journal.md:2")
    assert refs(diary.invoke({"query": "boat on the lake", "date_from": "2024-01-01"})) == [f"diary:{ids['diary_home']}"]


def test_find_people(tools, lib):
    _, ids = lib
    everyone = tools["find_people"].invoke({})
    assert everyone["results"] == [
        {"ref": f"person:{ids['Alice']}", "name": "Alice", "aliases": ["爱丽丝", "Ali"], "photos": 2, "messages": 2},
        {"ref": f"person:{ids['Bob']}", "name": "Bob", "photos": 2, "messages": 2},
        {"ref": f"person:{ids['Carol']}", "name": "Carol", "photos": 2, "messages": 0},
        {"ref": f"person:{ids['Dave']}", "name": "Dave", "photos": 0, "messages": 0},
    ]
    assert refs(tools["find_people"].invoke({"name": "爱丽丝"})) == [f"person:{ids['Alice']}"]
    assert refs(tools["find_people"].invoke({"name": "car"})) == [f"person:{ids['Carol']}"]  # part of a name
    assert "nobody named 'Zed'" in tools["find_people"].invoke({"name": "Zed"})["error"]


def test_person_profile(tools, lib):
    _, ids = lib
    out = tools["person_profile"].invoke({"name": "Bob"})
    bob = {"ref": f"person:{ids['Bob']}", "name": "Bob"}
    first = {"ref": f"message:{ids['b1']}", "time": "2023-06-01 08:00"}
    last = {"ref": f"message:{ids['b2']}", "time": "2024-06-02 08:00"}
    assert out == {
        "person": bob, "photos": 2, "messages": 2, "first_seen": first, "last_seen": last,
        "companions": [{"ref": f"person:{ids['Alice']}", "name": "Alice", "photos": 1},
                       {"ref": f"person:{ids['Carol']}", "name": "Carol", "photos": 1}],
        "notes": [{"ref": f"note:{ids['note_bob']}", "kind": "resource", "text": "I can fix cars and motorbikes"}],
        "results": [bob, first, last],
    }
    carol = tools["person_profile"].invoke({"name": "Carol"})
    assert carol["first_seen"]["ref"] == f"photo:{ids['paris.jpg']}" and carol["last_seen"]["ref"] == f"photo:{ids['home.jpg']}"
    dave = tools["person_profile"].invoke({"name": "Dave"})
    assert dave["results"] == [{"ref": f"person:{ids['Dave']}", "name": "Dave"}] and "first_seen" not in dave
    assert tools["person_profile"].invoke({"name": "Zed"}) == {"error": "no person 'Zed'", "results": []}


def test_events(tools, lib):
    _, _ids = lib
    events = tools["events"]
    everything = events.invoke({})["results"]
    assert [e["ref"] for e in everything] == [f"event:{i}" for i in range(1, 6)]  # paris, hz1, hz2, home, the stay
    july = events.invoke({"date_from": "2023-07-01", "date_to": "2023-07-31"})["results"]
    assert july == events.invoke({"place": "Hangzhou"})["results"]
    assert july[0] == {"ref": "event:2", "title": "2023-07-14, Hangzhou", "start": "2023-07-14 09:00",
                       "end": "2023-07-14 09:00", "place": "Hangzhou (杭州)", "photos": 1, "messages": 0, "visits": 0,
                       "diary": "2023-07-14, Hangzhou, 1 photo, with Alice and Bob."}
    assert refs(events.invoke({"place": "Paris", "limit": 1})) == ["event:1"]
    assert refs(events.invoke({"date_from": "2024-08-01"})) == ["event:5"]
    assert "Atlantis" in events.invoke({"place": "Atlantis"})["error"]


def test_places_visited(tools, lib):
    _, ids = lib
    out = tools["places_visited"].invoke({})
    assert out == {"total": 2, "results": [
        {"ref": f"place:{ids['paris']}", "place": "Paris, France (巴黎)", "photos": 1, "visits": 1,
         "first": "2022-05-01", "last": "2024-08-01"},
        {"ref": f"place:{ids['hangzhou']}", "place": "Hangzhou, China (杭州)", "photos": 2, "visits": 0,
         "first": "2023-07-14", "last": "2023-07-15"},
    ]}
    assert refs(tools["places_visited"].invoke({"date_from": "2023-01-01", "date_to": "2023-12-31"})) == [
        f"place:{ids['hangzhou']}"]
    assert tools["places_visited"].invoke({"limit": 1})["total"] == 2


def test_graph_query(tools, lib):
    _, ids = lib
    graph = tools["graph_query"]
    chain = graph.invoke({"kind": "connect", "person_a": "Alice", "person_b": "Carol"})["results"]
    assert chain == [{"ref": f"person:{ids['Alice']}", "label": "Alice", "kind": "person"},
                     {"ref": f"person:{ids['Bob']}", "label": "Bob", "kind": "person", "via": "appears_with"},
                     {"ref": f"person:{ids['Carol']}", "label": "Carol", "kind": "person", "via": "appears_with"}]
    assert refs(graph.invoke({"kind": "connect", "person_a": "Bob"})) == [f"person:{ids['Bob']}", "person:me"]
    assert graph.invoke({"kind": "met_most"})["results"] == [
        {"ref": f"person:{ids['Alice']}", "name": "Alice", "days": 4},
        {"ref": f"person:{ids['Bob']}", "name": "Bob", "days": 4},
        {"ref": f"person:{ids['Carol']}", "name": "Carol", "days": 2}]
    assert [(r["name"], r["days"]) for r in graph.invoke({"kind": "met_most", "year": 2023})["results"]] == [
        ("Alice", 3), ("Bob", 2)]
    assert "nothing connects Dave" in graph.invoke({"kind": "connect", "person_a": "Dave", "person_b": "Alice"})["error"]
    assert graph.invoke({"kind": "connect", "person_a": "Zed"}) == {"error": "no person 'Zed'", "results": []}
    assert "person_a" in graph.invoke({"kind": "connect"})["error"]


def test_match_demand(tools, lib):
    _, ids = lib
    out = tools["match_demand"].invoke({"demand": "my car needs repairing", "limit": 2})
    # Only the mechanic: the lawyer's note fits far worse and is left out.
    assert refs(out) == [f"person:{ids['Bob']}"]
    assert out["results"][0]["note"] == f"note:{ids['note_bob']}" and out["results"][0]["hops"] == 1  # a chat partner
    assert refs(tools["match_demand"].invoke({"demand": "help with a contract dispute", "limit": 1})) == [
        f"person:{ids['Carol']}"]


def test_match_demand_note_shares_the_scoring(lib):
    from deepdiary.memory.graph import build_graph, match_demand, match_demand_text
    from deepdiary.models.registry import models_for

    library, ids = lib
    with library.session() as s:
        demand = _note(s, ids["Alice"], "demand", "my car needs repairing")
        g = build_graph(s)
        embedder = models_for(library.settings).text
        assert match_demand(s, g, embedder, demand) == match_demand_text(s, g, embedder, "my car needs repairing", ids["Alice"])
        s.delete(s.get(PersonNote, demand))


def test_stats_and_today(tools):
    stats = tools["stats"].invoke({})
    assert (stats["photos"], stats["chat_messages"], stats["diary_entries"], stats["all_items"]) == (4, 5, 2, 11)
    assert stats["results"] == [] and "id" not in stats
    assert tools["today"].invoke({}) == {"today": "2024-06-04", "weekday": "Tuesday", "results": []}


def test_add_person(lib):
    library, ids = lib
    with library.session() as s:
        assert add_person(s, "BOB").id == ids["Bob"]
        assert {m.sender_person_id for m in s.exec(select(ChatMeta).where(ChatMeta.sender == "Bob"))} == {ids["Bob"]}
        assert s.get(Person, ids["Alice"]).aliases == "爱丽丝,Ali"
        with pytest.raises(ValueError):
            add_person(s, "  ")


def test_people_add_cli(tmp_path):
    from deepdiary.cli.main import app

    lib_dir = str(tmp_path / "lib")
    res = CliRunner().invoke(app, ["--library", lib_dir, "people", "add", "Erin", "--alias", "艾琳", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["name"] == "Erin" and data["aliases"] == ["艾琳"] and isinstance(data["id"], int)
    again = CliRunner().invoke(app, ["--library", lib_dir, "people", "add", "erin", "--json"])
    assert json.loads(again.stdout)["id"] == data["id"]
