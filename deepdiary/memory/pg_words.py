"""The BM25 side of the text index in PostgreSQL, beside a PostgreSQL catalogue.

Each document's index terms (``text_index.tokens``: stemmed English, Chinese character
pairs) are stored as two ``tsvector`` columns written as literals, so PostgreSQL's own
parser, whose idea of a word depends on the server's locale, never re-splits them; a GIN
index over both finds the documents a query's terms occur in. Ranking is not
``ts_rank`` (no inverse document frequency, which is most of what ranks a chat line) but
FTS5's bm25() itself, computed in SQL from the positions in the tsvectors and from counts
kept in two small tables as documents come and go, so a library ranks the same on either
database. The tables live in the library's own schema (its namespace).
"""

from __future__ import annotations

import math
from collections import Counter

from sqlalchemy import text
from sqlalchemy.engine import Engine

from deepdiary.memory.text_index import CONTEXT_WEIGHT, IndexedText, TextFilter, WordIndex, is_prefix, tokens

# FTS5's bm25() constants
K1 = 1.2
B = 0.75
# tsvector limits: positions go up to 16383, and a lexeme keeps at most 256 of them.
_MAX_POSITION = 16383
_MAX_POSITIONS = 256

_TABLES = (
    "CREATE TABLE IF NOT EXISTS text_docs (item_id bigint PRIMARY KEY, body tsvector NOT NULL, "
    "context tsvector NOT NULL, length integer NOT NULL, t double precision, sender text, conversation text, "
    "kind text)",
    "CREATE INDEX IF NOT EXISTS text_docs_terms ON text_docs USING gin ((body || context))",
    "CREATE INDEX IF NOT EXISTS text_docs_t ON text_docs (t)",
    "CREATE TABLE IF NOT EXISTS text_terms (term text PRIMARY KEY, docs bigint NOT NULL)",
    "CREATE TABLE IF NOT EXISTS text_totals (id integer PRIMARY KEY, docs bigint NOT NULL, tokens bigint NOT NULL)",
    "INSERT INTO text_totals VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING",
)


def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: list[str]) -> str:
    """``terms`` (in order) as a tsvector literal with their positions, which carry the
    term frequencies BM25 needs."""
    positions: dict[str, list[int]] = {}
    for i, term in enumerate(terms, start=1):
        got = positions.setdefault(term, [])
        if len(got) < _MAX_POSITIONS:
            got.append(min(i, _MAX_POSITION))
    return " ".join(f"{_quote(t)}:{','.join(map(str, sorted(set(p))))}" for t, p in positions.items())


def _tsquery(terms: list[str]) -> str:
    return " | ".join(_quote(t) + (":*" if is_prefix(t) else "") for t in terms)


class PostgresWords(WordIndex):
    def __init__(self, engine: Engine):
        self.engine = engine
        self._ready = False

    # -- writing --------------------------------------------------------------------------

    def _ensure(self, conn) -> None:
        if not self._ready:
            # Two processes creating the tables at once would collide on PostgreSQL's catalogue.
            conn.execute(text("SELECT pg_advisory_xact_lock(72177002)"))
            for sql in _TABLES:
                conn.execute(text(sql))
            self._ready = True

    def _exists(self) -> bool:
        if self._ready:
            return True
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT to_regclass('text_totals') IS NOT NULL")).scalar()

    def _forget(self, conn, ids: list[int]) -> None:
        """Delete ``ids``' documents and take them out of the counts."""
        gone = conn.execute(text(
            "DELETE FROM text_docs WHERE item_id = ANY(:ids) RETURNING tsvector_to_array(body || context), length"),
            {"ids": ids}).all()
        if not gone:
            return
        df = Counter(term for terms, _ in gone for term in set(terms))
        self._count(conn, {t: -n for t, n in df.items()}, -len(gone), -sum(n for _, n in gone))

    def _count(self, conn, df: dict[str, int], docs: int, tokens_: int) -> None:
        terms = sorted(df)  # the same order in every writer, so two never deadlock
        if terms:
            conn.execute(text(
                "INSERT INTO text_terms AS t (term, docs) SELECT * FROM unnest(CAST(:terms AS text[]), "
                "CAST(:docs AS bigint[])) ON CONFLICT (term) DO UPDATE SET docs = t.docs + EXCLUDED.docs"),
                {"terms": terms, "docs": [df[t] for t in terms]})
        conn.execute(text("UPDATE text_totals SET docs = docs + :d, tokens = tokens + :n WHERE id = 1"),
                     {"d": docs, "n": tokens_})

    def add(self, rows: list[IndexedText]) -> None:
        if not rows:
            return
        with self.engine.begin() as conn:
            self._ensure(conn)
            self._forget(conn, [r.item_id for r in rows])
            params, df, total = [], Counter(), 0
            for r in rows:
                body, context = tokens(r.text), tokens(r.context)
                df.update(set(body) | set(context))
                total += len(body) + len(context)
                params.append({"id": r.item_id, "body": tsvector_literal(body), "context": tsvector_literal(context),
                               "length": len(body) + len(context), "t": r.time.timestamp() if r.time else None,
                               "sender": r.sender.lower(), "conversation": r.conversation, "kind": r.kind})
            conn.execute(text(
                "INSERT INTO text_docs VALUES (:id, CAST(:body AS tsvector), CAST(:context AS tsvector), :length, :t, "
                ":sender, :conversation, :kind)"), params)
            self._count(conn, dict(df), len(rows), total)

    def remove(self, ids: list[int]) -> None:
        if not ids or not self._exists():
            return
        with self.engine.begin() as conn:
            self._ensure(conn)
            self._forget(conn, list(ids))

    def clear(self) -> None:
        if not self._exists():
            return
        with self.engine.begin() as conn:
            self._ensure(conn)
            conn.execute(text("TRUNCATE text_docs, text_terms"))
            conn.execute(text("UPDATE text_totals SET docs = 0, tokens = 0"))

    # -- reading: never creates a table ----------------------------------------------------

    def _read(self, sql: str, params: dict | None = None):
        if not self._exists():
            return []
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params or {}).all()

    def present(self, ids: list[int]) -> list[int]:
        return [i for (i,) in self._read("SELECT item_id FROM text_docs WHERE item_id = ANY(:ids)", {"ids": ids})]

    def indexed_ids(self) -> set[int]:
        return {i for (i,) in self._read("SELECT item_id FROM text_docs")}

    def count(self) -> int:
        got = self._read("SELECT docs FROM text_totals WHERE id = 1")
        return int(got[0][0]) if got else 0

    def doc_freq(self, terms: list[str]) -> dict[str, int]:
        return {t: int(n) for t, n in self._read(
            "SELECT term, docs FROM text_terms WHERE term = ANY(:terms)", {"terms": terms})}

    def _where(self, f: TextFilter) -> tuple[str, dict]:
        clauses, args = [], {}
        if f.date_from:
            clauses.append("d.t >= :date_from")
            args["date_from"] = f.date_from.timestamp()
        if f.date_to:
            clauses.append("d.t <= :date_to")
            args["date_to"] = f.date_to.timestamp()
        if f.senders:
            clauses.append("d.sender = ANY(:senders)")
            args["senders"] = list(f.senders)
        if f.conversation:
            clauses.append("d.conversation = :conversation")
            args["conversation"] = f.conversation
        if f.kinds:
            clauses.append("d.kind = ANY(:kinds)")
            args["kinds"] = list(f.kinds)
        return (" AND " + " AND ".join(clauses)) if clauses else "", args

    def bm25(self, terms: list[str], k: int, f: TextFilter) -> list[tuple[int, float]]:
        totals = self._read("SELECT docs, tokens FROM text_totals WHERE id = 1")
        if not totals or not totals[0][0]:
            return []
        n_docs, n_tokens = (int(v) for v in totals[0])
        df = self.doc_freq([t for t in terms if not is_prefix(t)])
        for t in terms:
            if is_prefix(t):  # rows holding any pair the character starts
                df[t] = int(self._read("SELECT count(*) FROM text_docs WHERE (body || context) @@ CAST(:q AS tsquery)",
                                       {"q": _tsquery([t])})[0][0])
        idf = [max(math.log((n_docs - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)), 1e-6) for t in terms]
        where, args = self._where(f)
        # FTS5: a phrase's frequency in a row is its hits weighted by column, then saturated
        # against the row's whole length (both columns) over the average.
        sql = f"""
            WITH q AS (SELECT * FROM unnest(CAST(:terms AS text[]), CAST(:prefix AS boolean[]),
                                            CAST(:idf AS float8[])) AS q(term, prefix, idf)),
            hits AS (
                SELECT d.item_id, d.length, q.idf, SUM(u.weight * cardinality(u.positions)) AS freq
                FROM text_docs d
                CROSS JOIN LATERAL (SELECT 1.0 AS weight, lexeme, positions FROM unnest(d.body)
                                    UNION ALL
                                    SELECT {CONTEXT_WEIGHT}, lexeme, positions FROM unnest(d.context)) u
                JOIN q ON u.lexeme = q.term OR (q.prefix AND starts_with(u.lexeme, q.term))
                WHERE (d.body || d.context) @@ CAST(:match AS tsquery){where}
                GROUP BY d.item_id, d.length, q.term, q.idf)
            SELECT item_id, SUM(idf * freq * {K1 + 1} / (freq + {K1} * ({1 - B} + {B} * length / :avgdl))) AS score
            FROM hits GROUP BY item_id ORDER BY score DESC, item_id LIMIT :k"""
        rows = self._read(sql, {"terms": terms, "prefix": [is_prefix(t) for t in terms], "idf": idf,
                                "match": _tsquery(terms), "avgdl": max(n_tokens / n_docs, 1e-9), "k": k, **args})
        return [(int(i), float(s)) for i, s in rows]

    def keep(self, ids: list[int], f: TextFilter) -> set[int]:
        where, args = self._where(f)
        if not where:
            return set(ids)
        return {i for (i,) in self._read(f"SELECT d.item_id FROM text_docs d WHERE d.item_id = ANY(:ids){where}",
                                         {"ids": ids, **args})}

    def senders(self, ids: list[int]) -> dict[int, str]:
        return dict(self._read("SELECT item_id, sender FROM text_docs WHERE item_id = ANY(:ids)", {"ids": ids}))

    def conversations(self, ids: list[int]) -> dict[int, str]:
        return dict(self._read("SELECT item_id, conversation FROM text_docs WHERE item_id = ANY(:ids)", {"ids": ids}))

    def exact(self, words: list[str], ids: list[int]) -> set[int]:
        # Built the way add() builds a message's body, so equal words give an equal tsvector.
        return {i for (i,) in self._read("SELECT item_id FROM text_docs WHERE item_id = ANY(:ids) "
                                         "AND body = CAST(:body AS tsvector)",
                                         {"ids": ids, "body": tsvector_literal(words)})}
