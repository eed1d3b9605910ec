"""The knowledge graph: people, places, events, photos, conversations and diary entries,
derived from the catalogue on demand (the catalogue stays the one source of truth).

Edges: appears_in (person→photo), appears_with (person↔person, weight = shared photos),
was_at (person→place), talked_with (person→conversation, weight = messages), knows
(owner↔chat partner), part_of (photo/diary→event), at (event/photo→place), attended
(person→event), and each person's resources and demands as notes.
"""

from __future__ import annotations

from deepdiary.core.errors import InvalidInput, NotFound

from collections import Counter, defaultdict
from datetime import datetime
from itertools import combinations
from pathlib import Path

import networkx as nx
from sqlmodel import Session, select

from deepdiary.memory.tables import (
    ChatMeta, Conversation, Event, EventItem, Face, Item, Person, PersonNote, Place,
)

ME = "person:me"


def _label(p: Person) -> str:
    return p.name or f"person {p.id}"


def build_graph(s: Session, owner: str = "me") -> nx.MultiGraph:
    g = nx.MultiGraph()
    g.add_node(ME, kind="person", label=owner)
    people = {p.id: p for p in s.exec(select(Person))}
    for p in people.values():
        g.add_node(f"person:{p.id}", kind="person", label=_label(p), aliases=p.aliases)
    for pl in s.exec(select(Place)):
        g.add_node(f"place:{pl.id}", kind="place", label=pl.city, country=pl.country, label_zh=pl.city_zh or "")
    photo_people: dict[int, set[int]] = defaultdict(set)
    for item_id, person_id in s.exec(select(Face.item_id, Face.person_id).where(Face.person_id.is_not(None))):
        photo_people[item_id].add(person_id)
    photos = {i.id: i for i in s.exec(select(Item).where(Item.kind == "photo"))}
    for item_id, pids in photo_people.items():
        item = photos.get(item_id)
        if item is None:
            continue
        node = f"photo:{item_id}"
        g.add_node(node, kind="photo", label=item.title or node,
                   time=item.taken_at.isoformat() if item.taken_at else "")
        for pid in pids:
            g.add_edge(f"person:{pid}", node, kind="appears_in")
            if item.place_id:
                g.add_edge(f"person:{pid}", f"place:{item.place_id}", kind="was_at")
    pairs = Counter(pair for pids in photo_people.values() for pair in combinations(sorted(pids), 2))
    for (a, b), n in pairs.items():
        g.add_edge(f"person:{a}", f"person:{b}", kind="appears_with", weight=n)
    convs = {c.id: c for c in s.exec(select(Conversation))}
    for c in convs.values():
        g.add_node(f"conversation:{c.id}", kind="conversation", label=c.name)
    talk = Counter()
    for conv_id, sender_pid, is_me in s.exec(select(ChatMeta.conversation_id, ChatMeta.sender_person_id, ChatMeta.is_me)):
        talk[(conv_id, "me" if is_me else sender_pid)] += 1
    for (conv_id, who), n in talk.items():
        if who is None:
            continue
        node = ME if who == "me" else f"person:{who}"
        g.add_edge(node, f"conversation:{conv_id}", kind="talked_with", weight=n)
    for c in convs.values():
        if c.person_id:
            g.add_edge(ME, f"person:{c.person_id}", kind="knows")
    for e in s.exec(select(Event)):
        node = f"event:{e.id}"
        g.add_node(node, kind="event", label=e.title, diary=e.diary_line, time=e.start.isoformat())
        if e.place_id:
            g.add_edge(node, f"place:{e.place_id}", kind="at")
    for event_id, item_id in s.exec(select(EventItem.event_id, EventItem.item_id)):
        if f"photo:{item_id}" in g:
            g.add_edge(f"photo:{item_id}", f"event:{event_id}", kind="part_of")
            for pid in photo_people.get(item_id, ()):
                g.add_edge(f"person:{pid}", f"event:{event_id}", kind="attended")
    for diary in s.exec(select(Item).where(Item.kind == "diary")):
        g.add_node(f"diary:{diary.id}", kind="diary", label=diary.title or (diary.text or "")[:40],
                   time=diary.taken_at.isoformat() if diary.taken_at else "")
        g.add_edge(ME, f"diary:{diary.id}", kind="wrote")
    for note in s.exec(select(PersonNote)):
        node = f"{note.kind}:{note.id}"
        g.add_node(node, kind=note.kind, label=note.text)
        g.add_edge(f"person:{note.person_id}", node, kind="has_resource" if note.kind == "resource" else "needs")
    return g


def export_graph(g: nx.MultiGraph, path: Path) -> None:
    path = Path(path)
    if path.suffix == ".graphml":
        nx.write_graphml(g, path)
    elif path.suffix == ".json":
        import json

        path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), ensure_ascii=False, indent=1, default=str))
    else:
        raise InvalidInput("export to .graphml or .json")


def who_i_met_most(s: Session, year: int | None = None, limit: int = 10) -> list[dict]:
    """People ranked by the days I was with them: in photos together, or chatting."""
    days: dict[int, set] = defaultdict(set)
    lo = datetime(year, 1, 1) if year else None
    hi = datetime(year, 12, 31, 23, 59, 59) if year else None

    def inside(t):
        return t is not None and (lo is None or lo <= t <= hi)

    for person_id, t in s.exec(select(Face.person_id, Item.taken_at).join(Item, Item.id == Face.item_id)
                               .where(Face.person_id.is_not(None))):
        if inside(t):
            days[person_id].add(t.date())
    for person_id, t in s.exec(select(ChatMeta.sender_person_id, Item.taken_at).join(Item, Item.id == ChatMeta.item_id)
                               .where(ChatMeta.sender_person_id.is_not(None))):
        if inside(t):
            days[person_id].add(t.date())
    people = {p.id: p for p in s.exec(select(Person))}
    ranked = sorted(days.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
    return [{"id": pid, "name": _label(people[pid]), "days": len(d)} for pid, d in ranked if pid in people]


def connection(g: nx.MultiGraph, a: str, b: str) -> list[dict]:
    """The shortest chain of relations linking two nodes, as [{node, label, kind, via}]."""
    path = nx.shortest_path(g, a, b)
    out = []
    for i, node in enumerate(path):
        via = None
        if i:
            data = g.get_edge_data(path[i - 1], node)
            via = next(iter(data.values()))["kind"] if data else None
        out.append({"node": node, "label": g.nodes[node].get("label"), "kind": g.nodes[node].get("kind"), "via": via})
    return out


def match_demand(s: Session, g: nx.MultiGraph, embedder, demand_id: int, limit: int = 5) -> list[dict]:
    """People whose resources fit a demand note: text similarity, discounted by graph distance."""
    demand = s.get(PersonNote, demand_id)
    if demand is None or demand.kind != "demand":
        raise NotFound(f"no demand with id {demand_id}")
    return match_demand_text(s, g, embedder, demand.text, demand.person_id, limit)


def match_demand_text(s: Session, g: nx.MultiGraph, embedder, text: str, from_person_id: int | None = None,
                      limit: int = 5) -> list[dict]:
    """People whose resources fit a need in words, closer ones to who needs it (the owner by default) first."""
    stmt = select(PersonNote).where(PersonNote.kind == "resource")
    if from_person_id is not None:
        stmt = stmt.where(PersonNote.person_id != from_person_id)
    resources = s.exec(stmt.order_by(PersonNote.id)).all()
    if not resources:
        return []
    vecs = embedder.embed([text] + [r.text for r in resources])
    sims = vecs[1:] @ vecs[0]
    src = ME if from_person_id is None else f"person:{from_person_id}"
    lengths = nx.single_source_shortest_path_length(g, src) if src in g else {}
    people = {p.id: p for p in s.exec(select(Person))}
    scored = []
    for r, sim in zip(resources, sims):
        # Persons are two hops apart through a shared photo; the note node adds nothing.
        hops = lengths.get(f"person:{r.person_id}")
        closeness = 1.0 / (1.0 + hops) if hops is not None else 0.1
        scored.append({"id": r.id, "person_id": r.person_id, "person": _label(people[r.person_id]),
                       "resource": r.text, "similarity": round(float(sim), 4), "hops": hops,
                       "score": round(float(sim) * (0.5 + 0.5 * closeness), 4)})
    return sorted(scored, key=lambda x: -x["score"])[:limit]
