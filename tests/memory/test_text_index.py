"""The FTS5 word index keeps its document count as documents come and go."""

from __future__ import annotations

import sqlite3

from deepdiary.memory.text_index import Fts5Words, IndexedText, TextFilter


def _rows(ids, text="the lake at dusk"):
    return [IndexedText(i, f"{text} {i}", "", None, "alice", "wechat", "message") for i in ids]


def test_the_count_follows_adds_rewrites_removals_and_clears(tmp_path):
    words = Fts5Words(tmp_path / "text_index.db")
    words.add(_rows(range(1, 101)))
    words.add(_rows(range(1, 31), "rewritten"))  # re-indexed: replaced, not counted twice
    words.add(_rows([200, 200]))
    assert words.count() == 101 == len(words.indexed_ids())
    words.remove([5, 6, 7, 9999])
    assert words.count() == 98 == len(words.indexed_ids())
    assert [i for i, _ in words.bm25(["rewritten"], 50, TextFilter())] and words.count() == 98
    words.close()
    again = Fts5Words(tmp_path / "text_index.db")
    assert again.count() == 98
    again.clear()
    assert again.count() == 0 == len(again.indexed_ids())
    again.close()


def test_an_index_written_before_the_count_was_kept_counts_itself_once(tmp_path):
    path = tmp_path / "text_index.db"
    words = Fts5Words(path)
    words.add(_rows(range(1, 41)))
    words.close()
    with sqlite3.connect(path) as con:
        con.execute("DROP TABLE totals")
    old = Fts5Words(path)
    assert old.count() == 40
    old.add(_rows([41]))
    assert old.count() == 41
    old.close()
