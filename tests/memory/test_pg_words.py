"""The BM25 side of the text index on a real PostgreSQL server ranks as FTS5 does: the same
documents in the same order, with the same scores, on a real LoCoMo conversation and a real
WeChat export, filters and lone Chinese characters included."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from deepdiary.core.settings import Settings
from deepdiary.memory.catalogue import make_engine
from deepdiary.memory.pg_words import PostgresWords
from deepdiary.memory.text_index import Fts5Words, IndexedText, TextFilter, tokens
from tests.servers import postgres


@pytest.fixture(scope="module")
def pg_url():
    with postgres.running() as env:
        yield env["DEEPDIARY_DATABASE_URL"]


def _locomo_rows(samples) -> tuple[list[IndexedText], list[str]]:
    sample = json.loads((samples / "chats" / "locomo_dev.json").read_text())[0]
    conv, rows, n = sample["conversation"], [], 1
    while f"session_{n}" in conv:
        start = datetime.strptime(conv[f"session_{n}_date_time"], "%I:%M %p on %d %B, %Y")
        turns = conv[f"session_{n}"]
        for j, turn in enumerate(turns):
            near = " ".join(t["text"] for t in turns[max(0, j - 1):j + 2] if t is not turn)
            rows.append(IndexedText(len(rows) + 1, turn["text"], near, start + timedelta(seconds=30 * j),
                                    turn["speaker"], "locomo", "message"))
        n += 1
    questions = [qa["question"] for qa in sample["qa"] if qa["category"] != 5]
    return rows, questions


def _wechat_rows(samples, first_id: int) -> list[IndexedText]:
    with open(samples / "chats" / "weclone_test_person_pywxdump.csv", encoding="utf-8-sig") as fh:
        texts = [r["msg"] for r in csv.DictReader(fh) if r.get("msg")]
    return [IndexedText(first_id + i, t, "", None, "test_person", "wechat", "message") for i, t in enumerate(texts)]


def _engine(pg_url: str, tmp_path, name: str):
    return make_engine(pg_url, schema=Settings(home=tmp_path / name).library_namespace)


def _schema(engine):
    with engine.begin() as conn:
        schema = conn.execute(text("SHOW search_path")).scalar()
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


@pytest.fixture(scope="module")
def both(pg_url, samples, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("words")
    rows, questions = _locomo_rows(samples)
    rows += _wechat_rows(samples, len(rows) + 1)
    fts = Fts5Words(tmp / "text_index.db")
    engine = _engine(pg_url, tmp, "lib")
    _schema(engine)
    pg = PostgresWords(engine)
    for words in (fts, pg):
        for start in range(0, len(rows), 400):
            words.add(rows[start:start + 400])
    yield fts, pg, rows, questions
    fts.close()
    engine.dispose()


def _ranked(words, query: str, f: TextFilter | None = None, k: int = 10):
    terms = list(dict.fromkeys(tokens(query)))
    return words.bm25(terms, k, f or TextFilter()) if terms else []


def test_postgres_ranks_every_locomo_question_as_fts5_does(both):
    fts, pg, rows, questions = both
    assert pg.count() == fts.count() == len(rows) and pg.indexed_ids() == fts.indexed_ids()
    same = 0
    for q in questions:
        a, b = _ranked(fts, q), _ranked(pg, q)
        assert [s for _, s in a] == pytest.approx([s for _, s in b], rel=1e-6), q
        same += [i for i, _ in a] == [i for i, _ in b]
    # Equal scores may come back in either order; everything else is identical.
    assert same >= 0.97 * len(questions)


def test_filters_and_a_lone_chinese_character_rank_the_same(both):
    fts, pg, rows, _ = both
    t0 = rows[0].time
    for query, f in (("painting", TextFilter(senders=["melanie"])),
                     ("support group", TextFilter(date_from=t0 + timedelta(days=30))),
                     ("charity race", TextFilter(conversation="locomo", kinds=["message"])),
                     ("岛", TextFilter()), ("环岛骑一圈", TextFilter()), ("吃饭 租车", TextFilter(senders=["test_person"]))):
        a, b = _ranked(fts, query, f), _ranked(pg, query, f)
        assert a, query
        assert {i for i, _ in a} == {i for i, _ in b} and [s for _, s in a] == pytest.approx([s for _, s in b]), query
    ids = [r.item_id for r in rows[:50]]
    f = TextFilter(senders=["caroline"])
    assert pg.keep(ids, f) == fts.keep(ids, f) and pg.senders(ids) == fts.senders(ids)


def test_removing_and_rewriting_documents_keeps_the_counts_true(pg_url, samples, tmp_path):
    rows, questions = _locomo_rows(samples)
    engine = _engine(pg_url, tmp_path, "counts")
    _schema(engine)
    pg, fresh = PostgresWords(engine), Fts5Words(tmp_path / "fresh.db")
    assert pg.indexed_ids() == set() and pg.bm25(["paint"], 5, TextFilter()) == []
    with engine.connect() as conn:  # reading made no table
        assert conn.execute(text("SELECT to_regclass('text_docs')")).scalar() is None
    pg.add(rows)
    pg.add(rows[:100])  # re-indexed: replaced, not counted twice
    pg.remove([r.item_id for r in rows[100:200]])
    kept = rows[:100] + rows[200:]
    fresh.add(kept)
    assert pg.indexed_ids() == fresh.indexed_ids() and pg.count() == len(kept)
    for q in questions[:40]:
        assert [s for _, s in _ranked(pg, q)] == pytest.approx([s for _, s in _ranked(fresh, q)]), q
    pg.clear()
    assert pg.count() == 0 and pg.indexed_ids() == set()
    fresh.close()
    engine.dispose()
