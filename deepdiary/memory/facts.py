"""People's facts learnt from chats: storing them and reading them.

A fact is short (``lives in Boston``, ``has a spare tent``) and cites the messages it came
from. Storing the same fact again only adds its citations. A fact that changes a
one-valued attribute (a new city, a new job) becomes the current one and the older is
kept as history, pointing at its successor (``superseded_by``); the newest message wins,
whatever order the sessions were read in. Facts carry their subject's name, not a person
id: whoever goes by that name or an alias owns them, as with chat senders.

``learnt`` by ``deepdiary.pipeline.facts``; read by the people tools, the person page and
``search_facts`` (retrieval).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlmodel import Session, select

from deepdiary.memory.tables import Conversation, Fact, Person

KINDS = ("fact", "resource", "demand")
ATTRIBUTES = ("job", "city", "family", "relationship", "pet", "likes", "hobby", "plan", "date", "education",
              "health", "skill", "possession", "need", "other")
# A new value of these replaces the old one; the others (likes, plans, family...) accumulate.
ONE_VALUED = frozenset({"job", "city", "relationship"})


@dataclass
class LearntFact:
    subject: str
    kind: str
    attribute: str
    value: str
    message_ids: list[int]
    valid_from: datetime


def value_key(text: str) -> str:
    """The value as compared for sameness: case, width, punctuation and spacing ignored."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(ch)[0] in "PSZ" else ch for ch in text)
    return " ".join(text.split())


def subject_key(name: str) -> str:
    return " ".join(name.strip().lower().split())


def record_fact(s: Session, conversation_id: int, session_id: int | None, f: LearntFact) -> tuple[Fact, bool]:
    """Store ``f``, or add its citations to the same current fact; returns (fact, whether new)."""
    skey, vkey = subject_key(f.subject), value_key(f.value)
    current = s.exec(select(Fact).where(Fact.subject_key == skey, Fact.kind == f.kind, Fact.attribute == f.attribute,
                                        Fact.superseded_by.is_(None)).order_by(Fact.valid_from, Fact.id)).all()
    same = next((c for c in current if c.value_key == vkey), None)
    if same is not None:
        same.message_ids = json.dumps(sorted(set(json.loads(same.message_ids)) | set(f.message_ids)))
        same.valid_from = max(same.valid_from, f.valid_from)
        s.add(same)
        return same, False
    fact = Fact(subject=f.subject.strip(), subject_key=skey, conversation_id=conversation_id, session_id=session_id,
                kind=f.kind, attribute=f.attribute, value=f.value.strip(), value_key=vkey,
                message_ids=json.dumps(sorted(set(f.message_ids))), valid_from=f.valid_from)
    s.add(fact)
    s.flush()
    if f.kind == "fact" and f.attribute in ONE_VALUED and current:
        newest = current[-1]
        if newest.valid_from > fact.valid_from:
            fact.superseded_by = newest.id  # an older message read late: history from the start
            s.add(fact)
        else:
            for old in current:
                old.superseded_by = fact.id
                s.add(old)
    return fact, True


def _names_of(person: Person) -> list[str]:
    return [subject_key(n) for n in [person.name or "", *person.aliases.split(",")] if n.strip()]


def _row(f: Fact, conversations: dict[int, str]) -> dict:
    return {"id": f.id, "subject": f.subject, "kind": f.kind, "attribute": f.attribute, "value": f.value,
            "message_ids": json.loads(f.message_ids), "valid_from": f.valid_from.isoformat(),
            "current": f.superseded_by is None, "superseded_by": f.superseded_by,
            "conversation": conversations.get(f.conversation_id)}


def list_facts(s: Session, subjects: list[str] | None = None, history: bool = False,
               kinds: tuple[str, ...] | None = None) -> list[dict]:
    """Facts (current only, unless ``history``) about the named subjects, or everyone; by subject, then time."""
    stmt = select(Fact)
    if subjects is not None:
        stmt = stmt.where(Fact.subject_key.in_([subject_key(n) for n in subjects]))
    if not history:
        stmt = stmt.where(Fact.superseded_by.is_(None))
    if kinds:
        stmt = stmt.where(Fact.kind.in_(kinds))
    conversations = dict(s.exec(select(Conversation.id, Conversation.name)).all())
    return [_row(f, conversations) for f in s.exec(stmt.order_by(Fact.subject_key, Fact.valid_from, Fact.id))]


def person_facts(s: Session, person: Person, history: bool = False) -> list[dict]:
    """What the chats say about one person (by their name and aliases)."""
    names = _names_of(person)
    return list_facts(s, names, history) if names else []


def people_by_subject(s: Session) -> dict[str, Person]:
    """Named people by each of their names and aliases, lower-cased."""
    out: dict[str, Person] = {}
    for p in s.exec(select(Person).where(Person.name.is_not(None)).order_by(Person.id)):
        for n in _names_of(p):
            out.setdefault(n, p)
    return out


def fact_text(f: dict) -> str:
    """A fact as one line a reader (or a text encoder) takes in: who, what, the value."""
    what = {"resource": "can offer", "demand": "needs"}.get(f["kind"], f["attribute"])
    return f"{f['subject']} ({what}): {f['value']}"


def search_facts(s: Session, query: str, embedder, limit: int = 10, subjects: list[str] | None = None,
                 kinds: tuple[str, ...] | None = None, min_similarity: float = 0.0) -> list[dict]:
    """Current facts closest in meaning to ``query`` (the text encoder's cosine), best first,
    each with its ``similarity`` and cited ``message_ids``; for retrieval and the planner."""
    facts = list_facts(s, subjects, kinds=kinds)
    if not facts or not query.strip():
        return []
    vecs = np.asarray(embedder.embed([query] + [fact_text(f) for f in facts]))
    sims = vecs[1:] @ vecs[0]
    order = np.argsort(-sims, kind="stable")[:limit]
    return [{**facts[i], "similarity": round(float(sims[i]), 4)} for i in order if sims[i] >= min_similarity]


def fact_counts(s: Session) -> dict[str, int]:
    from sqlalchemy import func

    from deepdiary.memory.tables import FactSession

    return {"facts": s.exec(select(func.count()).select_from(Fact).where(Fact.superseded_by.is_(None))).one(),
            "history": s.exec(select(func.count()).select_from(Fact).where(Fact.superseded_by.is_not(None))).one(),
            "sessions": s.exec(select(func.count()).select_from(FactSession)).one()}


