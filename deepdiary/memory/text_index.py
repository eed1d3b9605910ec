"""Hybrid retrieval over chat messages and diary chunks.

Two indexes, fused by reciprocal rank:
- BM25 in SQLite FTS5, over our own tokens: English words lower-cased and Snowball-
  stemmed, Chinese as overlapping character pairs (the usual CJK bigram analysis, so no
  word-segmentation dictionary is needed). Each message is also indexed with its
  neighbours' words in a second, lighter column: a reply like "yes, every Sunday" is
  found by the question it answers.
- Dense vectors from the multilingual sentence encoder in Chroma, so a Chinese query
  finds an English message and paraphrases match.
The BM25 side is a ``WordIndex``: an FTS5 file in the library folder beside an SQLite
catalogue, or tables in the library's own schema beside a PostgreSQL one
(``deepdiary.memory.pg_words``), scored by the same formula. Like the vectors, it is derived
from the catalogue and can be rebuilt from it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from deepdiary.memory.catalogue import SQLITE_MMAP_BYTES
from deepdiary.memory.sealing import sqlite_connect
from deepdiary.memory.vectors import VectorIndex

TEXTS = "texts"
RRF_K = 60
LARGE_INDEX = 50_000
COMMON_SHARE = 0.02
MAX_TERMS = 8
POSTING_BUDGET = 5_000
DENSE_WEIGHT = 0.2  # on LoCoMo, dense alone is weak (recall@5 0.13) but it bridges languages
CONTEXT_WEIGHT = 0.35
# A message's fused score gains this share of its best neighbour's: what answers a question is
# often split over a turn and the reply to it (LoCoMo tuning pair: recall@5 +0.02).
NEIGHBOUR_SHARE = 0.35
SENDER_BOOST = 1.5
EXACT_SCAN = 1_000  # documents of a big index a pasted message is looked for among (Fts5Words.exact)
RECENT_BOOST = 1.25  # "recently" in a question ranks the last weeks first; it hides nothing
# Chroma inserts cost far less per vector in big batches (it allows up to 5,461 per call);
# the embedder is called on slices of this size so progress moves while it works.
VECTOR_BATCH = 4096
EMBED_SLICE = 512

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[\u3400-\u9fff]+")
_STOP = frozenset("""a an the and or but if of at by for with about against between into through during before
after above below to from up down in out on off over under again further then once here there when where why how
all any both each few more most other some such no nor not only own same so than too very s t can will just don
should now i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is are was
were be been being have has had having do does did doing would could ought i'm you're he's she's it's we're
they're i've you've we've they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't
aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't shouldn't can't cannot
couldn't mustn't let's that's who's what's here's there's when's where's why's how's yeah oh hey wow""".split())

# Words that frame a question rather than name what it is about ("what kind of things did she
# say about ..."); left out of the question's BM25 terms, never out of the index.
_QUESTION_FRAME = """kind type types sort ways way things thing something anything likely ever many much times often
describe mention mentioned say said talk talked tell told 什么 哪些 怎么 多少 提到 说过 说了 聊了 讲了"""


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    # Snowball is pure Python and words repeat: caching the stem is most of indexing's speed.
    return _stemmer().stemWord(word.replace("'", ""))


def tokens(text: str) -> list[str]:
    """Index terms: stemmed English words without stop words, and Chinese character pairs."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if "\u3400" <= word[0] <= "\u9fff":
            out.extend(word[i:i + 2] for i in range(max(1, len(word) - 1)))
        elif word not in _STOP:
            out.append(_stem(word))
    return out


@lru_cache(maxsize=1)
def frame_terms() -> frozenset[str]:
    return frozenset(tokens(_QUESTION_FRAME))


def without_frame(question: str) -> str:
    """The question without its Chinese frame words: removed as strings, since a character pair
    across one ("了什" in "说了什么") would remain."""
    for word in _QUESTION_FRAME.split():
        if word[0] >= "\u3400":
            question = question.replace(word, " ")
    return question


def question_terms(question: str) -> list[str]:
    """A question's BM25 terms: its index terms, once each, without the question's frame."""
    terms = list(dict.fromkeys(tokens(question)))
    frame = frame_terms()
    return [t for t in terms if t not in frame] or terms


@dataclass
class IndexedText:
    item_id: int
    text: str
    context: str
    time: datetime | None
    sender: str
    conversation: str
    kind: str  # "message" or "diary"
    source: str = ""  # file:line, or the export's message id


@dataclass
class TextFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    senders: list[str] | None = None  # lower-cased
    conversation: str | None = None
    kinds: list[str] | None = None


class WordIndex:
    """The BM25 side's storage: documents of index terms, their metadata, and the counts
    BM25 needs. Both implementations score as FTS5's bm25() does, with the body weighted 1
    and the neighbours' words CONTEXT_WEIGHT."""

    def add(self, rows: list[IndexedText]) -> None:
        """Write ``rows`` (replacing what an item had) in one transaction."""
        raise NotImplementedError

    def present(self, ids: list[int]) -> list[int]:
        """Which of ``ids`` the index holds."""
        raise NotImplementedError

    def indexed_ids(self) -> set[int]:
        raise NotImplementedError

    def remove(self, ids: list[int]) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        """How many documents hold each term."""
        raise NotImplementedError

    def bm25(self, terms: list[str], k: int, f: TextFilter) -> list[tuple[int, float]]:
        """The ``k`` best documents for ``terms`` (a lone Chinese character matches as a prefix
        of the pairs it starts), as (item id, score), best first; higher is better."""
        raise NotImplementedError

    def keep(self, ids: list[int], f: TextFilter) -> set[int]:
        """Those of ``ids`` that pass ``f``."""
        raise NotImplementedError

    def senders(self, ids: list[int]) -> dict[int, str]:
        raise NotImplementedError

    def conversations(self, ids: list[int]) -> dict[int, str]:
        raise NotImplementedError

    def exact(self, words: list[str], ids: list[int]) -> set[int]:
        """Those of ``ids`` whose text is ``words`` (index terms, in order) and nothing else."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def is_prefix(term: str) -> bool:
    """A lone Chinese character ("茶") is indexed only inside pairs: it matches as their prefix."""
    return len(term) == 1 and term >= "\u3400"


class Fts5Words(WordIndex):
    """An FTS5 file (SQLCipher in an encrypted library) in the library folder."""

    def __init__(self, path: Path, key=None):
        self.path = Path(path)
        self.key = key
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None

    @property
    def con(self) -> sqlite3.Connection:
        if self._con is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite_connect(self.path, self.key, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
            con.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5("
                "body, context, item_id UNINDEXED, tokenize='unicode61 remove_diacritics 2')")
            con.execute(
                "CREATE TABLE IF NOT EXISTS meta (item_id INTEGER PRIMARY KEY, t REAL, sender TEXT, "
                "conversation TEXT, kind TEXT)")
            con.execute("CREATE INDEX IF NOT EXISTS meta_t ON meta(t)")
            con.execute("CREATE VIRTUAL TABLE IF NOT EXISTS docs_vocab USING fts5vocab(docs, row)")
            # The number of documents, kept by the writers: count(*) reads the whole table, and
            # every search asks it (a tenth of a big index's query time).
            con.execute("CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), docs INTEGER NOT NULL)")
            if con.execute("SELECT 1 FROM totals WHERE id = 1").fetchone() is None:  # an index from before: once
                con.execute("INSERT INTO totals SELECT 1, count(*) FROM meta")
                con.commit()
            self._con = con
        return self._con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def add(self, rows: list[IndexedText]) -> None:
        with self._lock:
            con = self.con
            ids = [r.item_id for r in rows]
            present = self._present(ids)
            if present:  # only when re-indexing: item_id is not indexed inside FTS5, so this scans
                marks = ",".join("?" * len(present))
                con.execute(f"DELETE FROM docs WHERE item_id IN ({marks})", present)
            con.executemany("INSERT INTO docs(body, context, item_id) VALUES (?, ?, ?)",
                            [(" ".join(tokens(r.text)), " ".join(tokens(r.context)), r.item_id) for r in rows])
            con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?, ?, ?, ?)",
                            [(r.item_id, r.time.timestamp() if r.time else None, r.sender.lower(),
                              r.conversation, r.kind) for r in rows])
            con.execute("UPDATE totals SET docs = docs + ? WHERE id = 1", (len(set(ids) - set(present)),))
            con.commit()

    def present(self, ids: list[int]) -> list[int]:
        with self._lock:
            return self._present(ids)

    def _present(self, ids: list[int]) -> list[int]:
        found: list[int] = []
        for i in range(0, len(ids), 900):
            part = ids[i:i + 900]
            marks = ",".join("?" * len(part))
            found += [j for (j,) in self.con.execute(f"SELECT item_id FROM meta WHERE item_id IN ({marks})", part)]
        return found

    def indexed_ids(self) -> set[int]:
        return {i for (i,) in self.con.execute("SELECT item_id FROM meta")}

    def remove(self, ids: list[int]) -> None:
        with self._lock:
            for i in range(0, len(ids), 900):
                part = ids[i:i + 900]
                marks = ",".join("?" * len(part))
                self.con.execute(f"DELETE FROM docs WHERE item_id IN ({marks})", part)
                gone = self.con.execute(f"DELETE FROM meta WHERE item_id IN ({marks})", part).rowcount
                self.con.execute("UPDATE totals SET docs = docs - ? WHERE id = 1", (gone,))
            self.con.commit()

    def clear(self) -> None:
        with self._lock:
            self.con.execute("DELETE FROM docs")
            self.con.execute("DELETE FROM meta")
            self.con.execute("UPDATE totals SET docs = 0 WHERE id = 1")
            self.con.commit()

    def count(self) -> int:
        return self.con.execute("SELECT docs FROM totals WHERE id = 1").fetchone()[0]

    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        marks = ",".join("?" * len(terms))
        return dict(self.con.execute(f"SELECT term, doc FROM docs_vocab WHERE term IN ({marks})", terms).fetchall())

    def _meta_where(self, f: TextFilter) -> tuple[str, list]:
        clauses, args = [], []
        if f.date_from:
            clauses.append("m.t >= ?")
            args.append(f.date_from.timestamp())
        if f.date_to:
            clauses.append("m.t <= ?")
            args.append(f.date_to.timestamp())
        if f.senders:
            clauses.append(f"m.sender IN ({','.join('?' * len(f.senders))})")
            args += f.senders
        if f.conversation:
            clauses.append("m.conversation = ?")
            args.append(f.conversation)
        if f.kinds:
            clauses.append(f"m.kind IN ({','.join('?' * len(f.kinds))})")
            args += f.kinds
        return (" AND " + " AND ".join(clauses)) if clauses else "", args

    def bm25(self, terms: list[str], k: int, f: TextFilter) -> list[tuple[int, float]]:
        match = " OR ".join('"' + t.replace('"', "") + '"' + ("*" if is_prefix(t) else "") for t in terms)
        where, args = self._meta_where(f)
        # The join only when a filter needs it: it makes SQLite's ranking several times slower.
        join = " JOIN meta m ON m.item_id = d.item_id" if where else ""
        sql = (f"SELECT d.item_id, bm25(docs, 1.0, {CONTEXT_WEIGHT}) AS score FROM docs d{join} "
               f"WHERE docs MATCH ?{where} ORDER BY score LIMIT ?")
        rows = self.con.execute(sql, [match, *args, k]).fetchall()
        return [(int(i), -float(s)) for i, s in rows]

    def keep(self, ids: list[int], f: TextFilter) -> set[int]:
        where, args = self._meta_where(f)
        if not where:
            return set(ids)
        marks = ",".join("?" * len(ids))
        return {i for (i,) in self.con.execute(
            f"SELECT m.item_id FROM meta m WHERE m.item_id IN ({marks}){where}", [*ids, *args])}

    def senders(self, ids: list[int]) -> dict[int, str]:
        marks = ",".join("?" * len(ids))
        return dict(self.con.execute(f"SELECT item_id, sender FROM meta WHERE item_id IN ({marks})", ids).fetchall())

    def conversations(self, ids: list[int]) -> dict[int, str]:
        marks = ",".join("?" * len(ids))
        return dict(self.con.execute(f"SELECT item_id, conversation FROM meta WHERE item_id IN ({marks})",
                                     ids).fetchall())

    def exact(self, words: list[str], ids: list[int]) -> set[int]:
        # A phrase match finds them through the index (item_id is not indexed inside FTS5). Its
        # first EXACT_SCAN documents only: "ok" is in tens of thousands of a big index's messages,
        # reading them all costs more than the search, and such a message is one of many anyway.
        body = " ".join(words)
        phrase = 'body : "' + body.replace('"', '""') + '"'
        found = {i for (i,) in self.con.execute(
            "SELECT item_id FROM (SELECT item_id, body FROM docs WHERE docs MATCH ? LIMIT ?) WHERE body = ?",
            (phrase, EXACT_SCAN, body))}
        return found & set(ids)


class TextIndex:
    def __init__(self, words: WordIndex, vectors: VectorIndex, embedder, key=None):
        self.words = words
        self.vectors = vectors
        self.embedder = embedder
        # An encrypted library: the word index is SQLCipher, and Chroma gets no metadata (its
        # file is not encrypted; the filters read the word index's metadata anyway).
        self.key = key

    def close(self) -> None:
        self.words.close()

    def add(self, rows: list[IndexedText], batch: int = VECTOR_BATCH,
            progress: Callable[[int, int], None] | None = None) -> None:
        """Write ``rows`` to both indexes (replacing what an item had); ``progress(done,
        total)`` follows the embedding, the slow part."""
        if not rows:
            return
        self.add_words(rows)
        self.add_vectors(rows, batch, progress)

    def add_words(self, rows: list[IndexedText]) -> None:
        """The BM25 side: one transaction for all of ``rows``."""
        self.words.add(rows)

    def add_vectors(self, rows: list[IndexedText], batch: int = VECTOR_BATCH,
                    progress: Callable[[int, int], None] | None = None) -> None:
        """The dense side: embedded in slices (for progress), written to Chroma in big batches."""
        rows = [r for r in rows if r.text.strip()]  # placeholders are filed, not embedded
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            vectors = []
            for i in range(0, len(chunk), EMBED_SLICE):
                vectors.append(self.embedder.embed([r.text for r in chunk[i:i + EMBED_SLICE]]))
                if progress:
                    progress(start + min(i + EMBED_SLICE, len(chunk)), len(rows))
            self.vectors.upsert(TEXTS, [r.item_id for r in chunk], np.concatenate(vectors), None if self.key else [
                {"t": r.time.timestamp() if r.time else 0.0, "sender": r.sender.lower(),
                 "conversation": r.conversation, "kind": r.kind, "source": r.source} for r in chunk])

    def missing(self, rows: list[IndexedText]) -> list[IndexedText]:
        """The rows either index lacks: no words yet, or (with text to embed) no vector."""
        if not rows:
            return []
        worded = set(self.words.present([r.item_id for r in rows]))
        embedded = self.vectors.has(TEXTS, [r.item_id for r in rows if r.text.strip()])
        return [r for r in rows if r.item_id not in worded or (r.text.strip() and r.item_id not in embedded)]

    def indexed_ids(self) -> set[int]:
        return self.words.indexed_ids()

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        self.words.remove(ids)
        self.vectors.delete(TEXTS, ids)

    def clear(self) -> None:
        """Drop every entry of both indexes (``reindex`` then writes them anew)."""
        self.words.clear()
        self.vectors.drop(TEXTS)

    def _informative(self, terms: list[str]) -> list[str]:
        """Drop the terms that cost the most and rank the least.

        On a large index, a term found in more than COMMON_SHARE of the documents makes
        BM25 score a good part of the collection while barely moving the ranking. Then the
        rarest terms are taken, at most MAX_TERMS, while the documents they hold between
        them stay within POSTING_BUDGET (the rarest is always taken): BM25 scores every
        document a kept term holds, so this bound is what stops a query's cost growing with
        the index. What is left out is the terms of lowest weight (IDF); on an index of a
        hundred thousand messages that is seldom more than one, and the dense side still
        sees the whole question.
        """
        total = self.words.count()
        if total < LARGE_INDEX:
            return terms
        df = self.words.doc_freq(terms)
        ranked = sorted(terms, key=lambda t: df.get(t, 0))
        kept: list[str] = []
        postings = 0
        for term in ranked[:MAX_TERMS]:
            n = df.get(term, 0)
            if n > COMMON_SHARE * total or (kept and postings + n > POSTING_BUDGET):
                break
            kept.append(term)
            postings += n
        return kept or ranked[:1]

    def bm25(self, query: str, k: int, f: TextFilter) -> list[tuple[int, float]]:
        terms = question_terms(query)
        if not terms:
            return []
        return self.words.bm25(self._informative(terms), k, f)

    def dense(self, query: str, k: int, f: TextFilter) -> list[tuple[int, float]]:
        q = self.embedder.embed([query])[0]
        # Unfiltered approximate search, then the filter on our own table: Chroma's
        # metadata filters fall back to scanning, which costs seconds at a million messages.
        hits = self.vectors.nearest(TEXTS, q, k=k)
        if not hits:
            return hits
        keep = self.words.keep([i for i, _ in hits], f)
        return [(i, sc) for i, sc in hits if i in keep]

    def search(self, query: str, k: int = 10, f: TextFilter | None = None, boost_senders: list[str] | None = None,
               depth: int = 100, dense_weight: float = DENSE_WEIGHT,
               prefer: TextFilter | None = None) -> list[tuple[int, float]]:
        """Item ids with fused scores, best first. Messages from ``boost_senders`` and those that
        pass ``prefer`` rank higher; neither hides anything."""
        f = f or TextFilter()
        fused: dict[int, float] = {}
        for weight, hits in ((1.0, self.bm25(query, depth, f)), (dense_weight, self.dense(query, depth, f))):
            for rank, (item_id, _) in enumerate(hits):
                fused[item_id] = fused.get(item_id, 0.0) + weight / (RRF_K + rank + 1)
        if not fused:
            return []
        ids = list(fused)
        if boost_senders:
            by = self.words.senders(ids)
            wanted = {s.lower() for s in boost_senders}
            for item_id in ids:
                if by.get(item_id) in wanted:
                    fused[item_id] *= SENDER_BOOST
        if prefer:
            for item_id in self.words.keep(ids, prefer):
                fused[item_id] *= RECENT_BOOST
        words = tokens(query)
        # A message that says exactly what was searched comes first: the neighbour share lifts a
        # pair of near matches above a lone one, and someone pasting a message wants that message.
        exact = self.words.exact(words, ids) if words else set()
        ranked = sorted(self._with_neighbours(fused).items(), key=lambda kv: (kv[0] not in exact, -kv[1]))
        return ranked[:k]

    def _with_neighbours(self, fused: dict[int, float]) -> dict[int, float]:
        """Each score plus NEIGHBOUR_SHARE of the best score beside it in the same conversation
        (messages are stored in export order, so a message's neighbours are the ids beside it)."""
        conv = self.words.conversations(list(fused))
        out = {}
        for item_id, score in fused.items():
            beside = [fused[j] for j in (item_id - 1, item_id + 1)
                      if j in fused and conv.get(j) is not None and conv.get(j) == conv.get(item_id)]
            out[item_id] = score + NEIGHBOUR_SHARE * max(beside, default=0.0)
        return out
