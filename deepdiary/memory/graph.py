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


def graph_view(s: Session, owner: str = "me", year: int | None = None, person_id: int | None = None,
               max_people: int = 200) -> dict:
    """People, places and events as nodes and edges for drawing: who appears with whom (shared
    photos), who was where, who attended what, where each event was, and whom the owner chats
    with. ``year`` keeps what happened that year; ``person_id`` keeps that person and their
    neighbours. The most-seen ``max_people`` people are kept so a big library stays drawable."""
    lo = datetime(year, 1, 1) if year else None
    hi = datetime(year + 1, 1, 1) if year else None

    def inside(t) -> bool:
        return lo is None or (t is not None and lo <= t < hi)

    people = {p.id: p for p in s.exec(select(Person).where(Person.hidden.is_(False)))}
    photo_people: dict[int, set[int]] = defaultdict(set)
    photo_place: dict[int, int | None] = {}
    for item_id, pid, taken, place_id in s.exec(
            select(Face.item_id, Face.person_id, Item.taken_at, Item.place_id).join(Item, Item.id == Face.item_id)
            .where(Face.person_id.is_not(None))):
        if pid in people and inside(taken):
            photo_people[item_id].add(pid)
            photo_place[item_id] = place_id
    seen = Counter(pid for pids in photo_people.values() for pid in pids)
    talked = Counter()
    for pid, t in s.exec(select(ChatMeta.sender_person_id, Item.taken_at).join(Item, Item.id == ChatMeta.item_id)
                         .where(ChatMeta.sender_person_id.is_not(None))):
        if pid in people and inside(t):
            talked[pid] += 1
    kept = {pid for pid, _ in (seen + talked).most_common(max_people)}
    nodes: dict[str, dict] = {ME: {"id": ME, "kind": "me", "label": owner, "weight": 1}}
    edges: Counter = Counter()

    def person(pid: int) -> str:
        key = f"person:{pid}"
        nodes.setdefault(key, {"id": key, "kind": "person", "label": _label(people[pid]),
                               "weight": seen[pid] + talked[pid]})
        return key

    places = {p.id: p for p in s.exec(select(Place))}

    def place(place_id: int) -> str:
        key = f"place:{place_id}"
        pl = places[place_id]
        nodes.setdefault(key, {"id": key, "kind": "place", "label": pl.city, "label_zh": pl.city_zh, "weight": 0})
        nodes[key]["weight"] += 1
        return key

    for item_id, pids in photo_people.items():
        pids = sorted(pids & kept)
        for a, b in combinations(pids, 2):
            edges[(person(a), person(b), "appears_with")] += 1
        if photo_place.get(item_id) in places:
            for pid in pids:
                edges[(person(pid), place(photo_place[item_id]), "was_at")] += 1
    for pid, n in talked.items():
        if pid in kept:
            edges[(ME, person(pid), "talked_with")] += n
    event_items: dict[int, list[int]] = defaultdict(list)
    for event_id, item_id in s.exec(select(EventItem.event_id, EventItem.item_id)):
        event_items[event_id].append(item_id)
    for e in s.exec(select(Event).order_by(Event.start)):
        if not inside(e.start):
            continue
        attendees = sorted({pid for i in event_items[e.id] for pid in photo_people.get(i, ())} & kept)
        if not attendees and not e.place_id:
            continue
        key = f"event:{e.id}"
        nodes[key] = {"id": key, "kind": "event", "label": e.title, "start": e.start.isoformat(),
                      "weight": e.photos + e.messages}
        if e.place_id in places:
            edges[(key, place(e.place_id), "at")] += 1
        for pid in attendees:
            edges[(person(pid), key, "attended")] += 1
    if person_id is not None:
        focus = f"person:{person_id}"
        if focus not in nodes:
            if person_id not in people:
                raise NotFound(f"no person {person_id}")
            return {"nodes": [], "edges": []}
        near = {focus} | {a for a, b, _ in edges if b == focus} | {b for a, b, _ in edges if a == focus}
        nodes = {k: v for k, v in nodes.items() if k in near}
        edges = Counter({k: n for k, n in edges.items() if k[0] in near and k[1] in near})
    return {"nodes": list(nodes.values()),
            "edges": [{"id": f"{a}|{b}|{kind}", "source": a, "target": b, "kind": kind, "weight": n}
                      for (a, b, kind), n in edges.items()]}


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
    """People whose resources fit a need in words, closer ones to who needs it (the owner by default) first.

    Resources are the notes added by hand and what the chats taught (``memory.facts``):
    what someone said they have or can do, and their job or skills ("I'm a dentist" fits
    a toothache). A chat partner who is no person in the library yet is reached through
    their conversation."""
    from deepdiary.memory.facts import list_facts, people_by_subject

    stmt = select(PersonNote).where(PersonNote.kind == "resource")
    if from_person_id is not None:
        stmt = stmt.where(PersonNote.person_id != from_person_id)
    people = {p.id: p for p in s.exec(select(Person))}
    by_name = people_by_subject(s)
    candidates = [{"id": r.id, "person_id": r.person_id, "person": _label(people[r.person_id]), "resource": r.text,
                   "source": "note", "message_ids": [], "node": f"person:{r.person_id}"}
                  for r in s.exec(stmt.order_by(PersonNote.id))]
    owner_keys = {ME.split(":")[1], str(g.nodes[ME].get("label", "")).lower()} if ME in g else set()
    convs = {c.name: c.id for c in s.exec(select(Conversation))}
    for f in list_facts(s, kinds=("resource", "fact")):
        if f["kind"] == "fact" and f["attribute"] not in ("job", "skill"):
            continue
        key = f["subject"].strip().lower()
        person = by_name.get(key)
        if key in owner_keys or (person is not None and person.id == from_person_id):
            continue  # the owner's own resources answer nobody's question to the owner
        node = f"person:{person.id}" if person else f"conversation:{convs.get(f['conversation'])}"
        candidates.append({"id": f["id"], "person_id": person.id if person else None,
                           "person": _label(person) if person else f["subject"], "resource": f["value"],
                           "source": "fact", "message_ids": f["message_ids"], "node": node})
    if not candidates:
        return []
    vecs = embedder.embed([text] + [c["resource"] for c in candidates])
    sims = vecs[1:] @ vecs[0]
    src = ME if from_person_id is None else f"person:{from_person_id}"
    lengths = nx.single_source_shortest_path_length(g, src) if src in g else {}
    scored = []
    for c, sim in zip(candidates, sims):
        # Persons are two hops apart through a shared photo; the note node adds nothing.
        hops = lengths.get(c.pop("node"))
        closeness = 1.0 / (1.0 + hops) if hops is not None else 0.1
        scored.append({**c, "similarity": round(float(sim), 4), "hops": hops,
                       "score": round(float(sim) * (0.5 + 0.5 * closeness), 4)})
    return sorted(scored, key=lambda x: -x["score"])[:limit]
