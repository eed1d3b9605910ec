"""Eight threads on one library: searches, events, questions and a rename while an ingest writes.

A web server and two bots share one process and one library; none of them may see
"database is locked", and an event cited before an ingest must still be the same event
after it when its photos did not change.
"""

import json
import threading
import time
import traceback
from datetime import datetime, timedelta

import pytest

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext
from deepdiary.services.ask import ask
from deepdiary.services.ingest import ingest_photos, ingest_text
from deepdiary.services.memories import list_events
from deepdiary.services.people import add_person, name_person
from deepdiary.services.photos import show_item
from deepdiary.services.search import ChatSearch, PhotoSearch, search_chats, search_photos
from deepdiary.services.stats import library_stats
from tests.photo_factory import make_photo

SECONDS = 20
HANGZHOU, PARIS = (30.2741, 120.1551), (48.8566, 2.3522)


@pytest.fixture
def busy_library(tmp_path):
    first = tmp_path / "first"
    for day in range(4):
        make_photo(first / f"hz-{day}.jpg", taken=datetime(2023, 7, 14 + 3 * day, 10), gps=HANGZHOU,
                   background=(30, 90, 210), foreground=(220, 30 + day, 30))
    chats = tmp_path / "chats"
    chats.mkdir()
    start = datetime(2023, 5, 1, 20)
    messages = [{"id": f"m{i}", "conversation": "Alice", "time": (start + timedelta(minutes=i)).isoformat(),
                 "sender": "Alice" if i % 2 else "me", "text": f"shall we try the noodle bar number {i}?"}
                for i in range(12)]
    (chats / "alice.json").write_text(json.dumps(messages), encoding="utf-8")
    ctx = AppContext(Settings(home=tmp_path / "lib"))
    ingest_photos(ctx, [first], enrich=False)
    ingest_text(ctx, "chats", [chats])
    add_person(ctx, "Alice")
    later = tmp_path / "later"
    for n in range(24):  # another year and place: the events above must not change
        make_photo(later / f"paris-{n}.jpg", taken=datetime(2025, 1, 1 + n, 9), gps=PARIS,
                   background=(240, 240, 240), foreground=(20 * (n % 10), 90, 30))
    yield ctx, later
    ctx.close()


def test_eight_threads_share_one_library(busy_library):
    ctx, later = busy_library
    before = {e.id: e.item_ids for e in list_events(ctx)}
    assert len(before) >= 3
    deadline = time.monotonic() + SECONDS
    counts: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def loop(name, action, once=False):
        while time.monotonic() < deadline:
            try:
                action()
            except Exception:  # noqa: BLE001 - every failure is the finding
                with lock:
                    errors.append(f"{name}: {traceback.format_exc()}")
                return
            with lock:
                counts[name] = counts.get(name, 0) + 1
            if once:
                return

    def ingest_one_by_one():
        for path in sorted(later.iterdir()):
            if time.monotonic() > deadline:
                break
            ingest_photos(ctx, [path], enrich=False)

    current = ["Alice"]

    def rename():
        new = "Alicia" if current[0] == "Alice" else "Alice"
        name_person(ctx, current[0], new)
        current[0] = new

    actions = {
        "photo search": lambda: search_photos(ctx, PhotoSearch(near="Hangzhou", color=["fg:red"])),
        "photo search by date": lambda: search_photos(ctx, PhotoSearch(date_from="2025", newest=True, limit=5)),
        "chat search": lambda: search_chats(ctx, ChatSearch(question="noodle bar", limit=3)),
        "events": lambda: list_events(ctx),
        "ask": lambda: ask(ctx, "photos in Hangzhou in July 2023", backend="none"),
        "rename": rename,
        "stats and show": lambda: (library_stats(ctx), show_item(ctx, 1)),
    }
    threads = [threading.Thread(target=loop, args=(n, a)) for n, a in actions.items()]
    threads.append(threading.Thread(target=loop, args=("ingest", ingest_one_by_one, True)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    print("operations:", counts, "errors:", len(errors))
    assert not errors, errors[0]
    assert all(counts.get(n, 0) > 0 for n in actions), counts
    after = {e.id: e.item_ids for e in list_events(ctx)}
    for event_id, items in before.items():
        assert after.get(event_id) == items, f"event {event_id} changed"
    assert search_photos(ctx, PhotoSearch(near="Paris", limit=100)).results

