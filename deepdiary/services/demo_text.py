"""The demo's chats, diary and people, written beside its photos.

They tell the same trips the sample photos show (Florence, Hangzhou, New York, Beijing,
Paris), in English and Chinese, so the housekeeper has something to tie together: who
was there, what was said, what the diary says about the day. Like the photos, the files
are only written when missing, so a re-run ingests nothing new.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import select

from deepdiary.memory.library import Library
from deepdiary.memory.people import add_person
from deepdiary.memory.tables import PersonNote

CHAT_FOLDER = "sample-chats"
DIARY_FOLDER = "sample-diary"

CHATS = {
    "Alice": [
        ("a1", "2023-05-18T20:02:00", "Alice", "Are you still going to Florence this weekend?"),
        ("a2", "2023-05-18T20:05:00", "me", "Yes! Flying on Friday, I want to see the Duomo."),
        ("a3", "2023-05-21T09:30:00", "Alice", "How was Florence?"),
        ("a4", "2023-05-21T09:41:00", "me", "Amazing. We played football in a meadow with a red ball."),
        ("a5", "2024-03-20T18:00:00", "Alice", "Let's meet in Paris in April, I know a great bakery near the Louvre."),
        ("a6", "2024-03-20T18:04:00", "me", "Deal, I land on April 2."),
        ("a7", "2024-04-04T08:15:00", "Alice", "The croissants at that bakery were the best I ever had."),
    ],
    "李雷": [
        ("l1", "2023-07-10T21:00:00", "李雷", "下周我们去杭州吧，西湖的日落很美。"),
        ("l2", "2023-07-10T21:03:00", "me", "好啊，我还想去龙井村喝茶。"),
        ("l3", "2023-07-16T10:20:00", "李雷", "今天早上的茶园太漂亮了！"),
        ("l4", "2023-07-16T10:25:00", "me", "龙井茶真好喝，我买了两斤。"),
        ("l5", "2024-02-09T19:00:00", "李雷", "明天去故宫看红墙吗？"),
        ("l6", "2024-02-09T19:02:00", "me", "好，下午三点在午门见。"),
    ],
    "Bob": [
        ("b1", "2023-10-01T12:00:00", "Bob", "I'll be in New York next week for a conference, want to meet?"),
        ("b2", "2023-10-01T12:10:00", "me", "Sure, let's go up a skyscraper on Sunday."),
        ("b3", "2024-06-15T17:30:00", "Bob", "Your bike is squeaking again? I can fix it, I used to work in a bike shop."),
    ],
}

DIARY = """# 2022-12-28
Beach day in Cape Town. The water was freezing but the sand was warm.

# 2023-07-14
到了杭州，和李雷在西湖边看日落，天空是橙色的。

# 2023-07-16
Tea terraces in the morning with Li Lei. Bought two jin of Longjing tea.

# 2024-04-03
Walked past old stone walls in Paris with Alice. Tired but happy.
"""

# name, aliases, what they can offer
PEOPLE = [
    ("Alice", ["爱丽丝"], "knows Paris well and speaks French"),
    ("李雷", ["Li Lei"], "tea expert who knows Longjing tea farms, 懂茶"),
    ("Bob", [], "bicycle repair: fixes bikes, worked in a bike shop"),
]


def write_text_samples(folder: Path) -> list[Path]:
    """The demo's chat and diary folders, with their files written when missing."""
    chats, diary = folder / CHAT_FOLDER, folder / DIARY_FOLDER
    chats.mkdir(parents=True, exist_ok=True)
    diary.mkdir(parents=True, exist_ok=True)
    for partner, rows in CHATS.items():
        path = chats / f"{partner}.json"
        if not path.exists():
            messages = [{"id": i, "time": t, "sender": who, "text": text} for i, t, who, text in rows]
            path.write_text(json.dumps({"conversation": partner, "owner": "me", "messages": messages},
                                       ensure_ascii=False, indent=1), encoding="utf-8")
    path = diary / "diary.md"
    if not path.exists():
        path.write_text(DIARY, encoding="utf-8")
    return [chats, diary]


def add_demo_people(lib: Library) -> None:
    """Name the chat partners as people and note what each can help with."""
    with lib.session() as s:
        for name, aliases, resource in PEOPLE:
            person = add_person(s, name, aliases)
            s.flush()
            known = s.exec(select(PersonNote).where(PersonNote.person_id == person.id,
                                                    PersonNote.kind == "resource")).first()
            if known is None:
                s.add(PersonNote(person_id=person.id, kind="resource", text=resource))
