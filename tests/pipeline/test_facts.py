"""Facts learnt from chats with the real Qwen 1.5B: a later message changes a fact (the newest
wins, the older stays as history), a resource only mentioned in a chat answers match_demand,
every fact cites messages of its session, and a second run reads nothing again."""

import json
from datetime import date, datetime

import pytest

from deepdiary.core.settings import Settings
from deepdiary.memory.facts import LearntFact, list_facts, record_fact
from deepdiary.memory.library import Library
from deepdiary.memory.tables import ChatMeta, Conversation, Item
from deepdiary.services.context import AppContext
from deepdiary.services.facts import learn_facts, list_facts as list_fact_rows
from deepdiary.services.ingest import ingest_text
from deepdiary.tools import ToolContext
from deepdiary.tools.people import MatchDemandArgs, SearchFactsArgs, match_demand_tool, search_facts_tool

CHAT = {"conversation": "Dana", "owner": "me", "messages": [
    {"id": "d1", "time": "2024-03-02T19:00:00", "sender": "Dana",
     "text": "Hey! Finally settled in. I live in Boston now, near the harbour."},
    {"id": "d2", "time": "2024-03-02T19:01:00", "sender": "me", "text": "Nice! How are you finding it?"},
    {"id": "d3", "time": "2024-03-02T19:02:00", "sender": "Dana",
     "text": "Love it. Also I have a spare tent if you still want to go camping."},
    {"id": "d4", "time": "2024-03-02T19:03:00", "sender": "me", "text": "Great, thanks!"},
    {"id": "d6", "time": "2024-09-10T20:00:00", "sender": "Dana",
     "text": "Big news: I moved to Seattle last week! Boston was too cold."},
    {"id": "d7", "time": "2024-09-10T20:01:00", "sender": "me", "text": "Wow, congrats on the move!"},
]}


@pytest.fixture(scope="module")
def learnt(tmp_path_factory):
    root = tmp_path_factory.mktemp("facts")
    (root / "dana.json").write_text(json.dumps(CHAT), encoding="utf-8")
    lib = Library.open(Settings(home=root / "lib", llm_model="qwen2.5-coder-1.5b", llm_threads=2))
    ctx = AppContext.for_library(lib)
    ingest_text(ctx, "chats", [root / "dana.json"])
    first = learn_facts(ctx)
    again = learn_facts(ctx)
    yield ctx, first, again
    lib.close()


def test_a_later_message_changes_the_city_and_the_old_one_stays_as_history(learnt):
    ctx, first, _ = learnt
    cities = [f for f in list_fact_rows(ctx, "Dana", history=True) if f.attribute == "city"]
    current = [f for f in cities if f.current]
    assert len(current) == 1 and "seattle" in current[0].value.lower(), cities
    old = [f for f in cities if not f.current]
    assert any("boston" in f.value.lower() and f.superseded_by == current[0].id for f in old), cities
    assert not any("boston" in f.value.lower() for f in list_fact_rows(ctx, "Dana") if f.attribute == "city")


def test_every_fact_cites_messages_of_the_chat(learnt):
    ctx, first, _ = learnt
    with ctx.read() as s:
        ids = set(s.exec(ChatMeta.__table__.select().with_only_columns(ChatMeta.item_id)).scalars())
    rows = list_fact_rows(ctx, history=True)
    assert rows and first.facts_new == len(rows)
    assert all(f.message_ids and set(f.message_ids) <= ids for f in rows)


def test_match_demand_finds_a_tent_only_mentioned_in_a_chat(learnt):
    ctx, _, _ = learnt
    out = match_demand_tool(ToolContext(library=ctx.library, today=date(2024, 10, 1)),
                            MatchDemandArgs(demand="who can lend me a tent for camping"))
    best = out["results"][0]
    assert best["name"] == "Dana" and "tent" in best["resource"].lower(), out
    assert best["ref"].startswith("message:")


def test_search_facts_finds_where_dana_lives_now_cited_by_her_message(learnt):
    ctx, _, _ = learnt
    out = search_facts_tool(ToolContext(library=ctx.library, today=date(2024, 10, 1)),
                            SearchFactsArgs(query="which city does Dana live in", limit=3))
    best = out["results"][0]
    assert best["person"] == "Dana" and "seattle" in best["fact"].lower(), out
    assert not any("boston" in r["fact"].lower() and r["attribute"] == "city" for r in out["results"]), out
    with ctx.read() as s:
        said = s.get(Item, int(best["ref"].split(":")[1]))
    assert "seattle" in said.text.lower(), said.text


def test_a_second_run_reads_nothing_again(learnt):
    _, first, again = learnt
    assert first.read == first.sessions == 2
    assert again.read == 0 and again.skipped == 2 and again.facts_new == 0


def test_the_same_fact_again_adds_citations_and_an_older_message_read_late_is_history(library):
    with library.session() as s:
        conv = Conversation(name="Ana")
        s.add(conv)
        s.flush()
        t = datetime(2024, 1, 1)
        record_fact(s, conv.id, None, LearntFact("Ana", "fact", "job", "works as a nurse", [1], t))
        _, new = record_fact(s, conv.id, None, LearntFact("ana", "fact", "job", "Works as a nurse!", [2], t))
        assert not new
        record_fact(s, conv.id, None, LearntFact("Ana", "fact", "job", "teacher", [3], datetime(2024, 6, 1)))
        record_fact(s, conv.id, None, LearntFact("Ana", "fact", "job", "student", [4], datetime(2023, 1, 1)))
        record_fact(s, conv.id, None, LearntFact("Ana", "fact", "likes", "jazz", [5], t))
        record_fact(s, conv.id, None, LearntFact("Ana", "fact", "likes", "tea", [6], t))
        now = list_facts(s, ["Ana"])
        everything = list_facts(s, ["Ana"], history=True)
    assert sorted((f["attribute"], f["value"]) for f in now) == [("job", "teacher"), ("likes", "jazz"), ("likes", "tea")]
    nurse = next(f for f in everything if f["value"] == "works as a nurse")
    assert nurse["message_ids"] == [1, 2] and not nurse["current"]
    assert not next(f for f in everything if f["value"] == "student")["current"]


class _FindsNothing:
    """A model that finds no fact: the learner's bookkeeping without the model's seconds."""

    def complete_json(self, messages, schema, max_tokens=None):
        return {"facts": []}


def test_since_and_limit_keep_the_job_to_recent_or_few_sessions_and_it_reports_progress(tmp_path):
    from deepdiary.pipeline.facts import FactLearner

    (tmp_path / "dana.json").write_text(json.dumps(CHAT), encoding="utf-8")
    lib = Library.open(Settings(home=tmp_path / "lib"))
    try:
        ingest_text(AppContext.for_library(lib), "chats", [tmp_path / "dana.json"])
        learner = FactLearner(lib, llm=_FindsNothing())
        seen = []
        recent = learner.run(since=datetime(2024, 6, 1), progress=lambda *a: seen.append(a))
        older = learner.run(limit=1)
        done = learner.run()
    finally:
        lib.close()
    assert recent.sessions == recent.read == 1 and recent.messages == 2, recent  # September only
    assert seen[0] == ("facts", 0, 2, "") and seen[-1][:3] == ("facts", 2, 2), seen
    assert older.read == 1 and older.skipped == 1 and older.messages == 4, older
    assert done.read == 0 and done.skipped == 2, done


WINDOW = [(1, datetime(2024, 5, 1, 9), "Li", "I just started as a nurse at the city hospital!"),
          (2, datetime(2024, 5, 1, 9, 1), "Sam", "Congrats! You'd be a great counselor too. Do you need a car?"),
          (3, datetime(2024, 5, 1, 9, 2), "Li", "I ran a charity race last Saturday, so tired"),
          (4, datetime(2024, 5, 1, 9, 3), "Sam", "Thanks, I love your support! My brother has a van you can borrow.")]


@pytest.mark.parametrize("reply, stands", [
    ({"message": 1, "quote": "I just started as a nurse", "kind": "fact", "attribute": "job", "value": "works as a nurse"}, True),
    ({"message": 4, "quote": "My brother has a van you can borrow", "kind": "resource", "attribute": "possession",
      "value": "brother has a van to lend"}, True),
    # what one says to the other, and a question, are no fact about the writer
    ({"message": 2, "quote": "You'd be a great counselor too", "kind": "fact", "attribute": "job", "value": "counselor"}, False),
    ({"message": 2, "quote": "Do you need a car?", "kind": "demand", "attribute": "need", "value": "needs a car"}, False),
    # a race is no job; thanks are no fact; a value the message does not say is the model's
    ({"message": 3, "quote": "I ran a charity race last Saturday", "kind": "fact", "attribute": "job",
      "value": "runs charity races"}, False),
    ({"message": 4, "quote": "Thanks, I love your support!", "kind": "fact", "attribute": "likes", "value": "support"}, False),
    ({"message": 1, "quote": "I just started as a nurse", "kind": "fact", "attribute": "job",
      "value": "works as a personal memory assistant"}, False),
    ({"message": 1, "quote": "I moved to Paris", "kind": "fact", "attribute": "city", "value": "lives in Paris"}, False),
])
def test_a_fact_stands_only_on_the_writers_own_words_naming_what_it_is_about(reply, stands):
    from deepdiary.pipeline.facts import check

    assert (check(reply, WINDOW) is not None) == stands
