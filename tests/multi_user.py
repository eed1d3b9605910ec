"""A home with two users for the isolation and share-link tests: A with an empty library of
their own, B with real photos (a face found by the real detector, a geotagged photo in
Arezzo), a named person with a note, events, a place, a chat message, a conversation with
the housekeeper, catalogue and upload jobs, a collage and a share link. The owner's library
(the home itself) stays empty."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext, ingest, people, users

B_PHOTOS = (("faces", "obama.jpg"), ("photos/exif-samples/jpg/gps", "DSCN0010.jpg"))
B_NAME = "王小明"  # B's user name: Chinese, and a folder name that must not be it
A_NAME = "Ann/../李"  # a name that would be a path if used as one
B_PERSON = "Barack Zhang"
B_CHAT = "the secret lotus boat plan"
B_DIARY = "今天在阿雷佐的秘密日记"


@dataclass
class Home:
    folder: Path
    home: AppContext
    client: TestClient
    a_token: str
    b_token: str
    b: dict = field(default_factory=dict)  # B's ids: photo, gps_photo, person, face, event, ...

    def as_a(self) -> dict:
        return {"Authorization": f"Bearer {self.a_token}"}

    def as_b(self) -> dict:
        return {"Authorization": f"Bearer {self.b_token}"}


def settings_for(folder: Path) -> Settings:
    return Settings(home=folder, enrich_workers=1, llm_backend="none")


def build_home(root: Path, samples: Path) -> Home:
    from deepdiary.api import create_app

    folder = root / "home"
    home = AppContext(settings_for(folder))
    made_a = users.add_user(home, A_NAME)
    made_b = users.add_user(home, B_NAME)
    b_ctx = users.user_context(home, B_NAME)
    try:
        photos = root / "b-photos"
        photos.mkdir(parents=True)
        for sub, name in B_PHOTOS:
            shutil.copy(samples / sub / name, photos / name)
        report = ingest.ingest_photos(b_ctx, [photos], enrich=False)
        assert report.added == 2, report
        # Faces for the people routes, features for "similar": B's own requests must succeed.
        ran = ingest.enrich_photos(b_ctx, stages=["faces", "features"]).stages_run
        assert ran == {"faces": 2, "features": 2}, ran
        chats = root / "b-chats.json"
        chats.write_text(json.dumps([{"id": "m1", "conversation": "Bob", "time": "2008-10-22T17:00:00",
                                      "sender": "Bob", "text": B_CHAT}]), encoding="utf-8")
        assert ingest.ingest_text(b_ctx, "chats", [chats]).added == 1
        ingest.refresh_events(b_ctx)
    finally:
        b_ctx.close()
    client = TestClient(create_app(home))
    client.__enter__()
    h = Home(folder=folder, home=home, client=client, a_token=made_a.token, b_token=made_b.token)
    b = h.b

    def ok(r, status=200):
        assert r.status_code == status, r.text
        return r.json()

    listed = ok(client.get("/api/photos", headers=h.as_b()))["results"]
    b["photo"] = next(p["id"] for p in listed if Path(p["path"]).name == "obama.jpg")
    b["gps_photo"] = next(p["id"] for p in listed if Path(p["path"]).name == "DSCN0010.jpg")
    face = ok(client.get(f"/api/photos/{b['photo']}", headers=h.as_b()))["faces"][0]
    b["face"] = face["id"]
    named = ok(client.put(f"/api/people/{face['person_id']}/name", json={"name": B_PERSON}, headers=h.as_b()))
    b["person"] = named["id"]
    b["other_person"] = ok(client.post("/api/people", json={"name": "Other Person"}, headers=h.as_b()), 201)["id"]
    b["note"] = ok(client.post(f"/api/people/{b['person']}/notes", json={"kind": "resource", "text": "a boat"},
                               headers=h.as_b()), 201)["id"]
    events = ok(client.get("/api/events", headers=h.as_b()))
    b["event"] = next(e["id"] for e in events if b["gps_photo"] in e["item_ids"])
    b["place"] = ok(client.get("/api/places", headers=h.as_b()))[0]["id"]
    b["message"] = ok(client.get("/api/chats", params={"q": "lotus boat"}, headers=h.as_b()))[0]["id"]
    b["job"] = ok(client.get("/api/jobs", headers=h.as_b()))[0]["id"]
    answer = ok(client.post("/api/ask", json={"question": "photos in Arezzo", "backend": "none"}, headers=h.as_b()))
    b["conversation"] = answer["conversation_id"]
    b["collage"] = ok(client.post(f"/api/people/{b['person']}/collage", params={"width": 64},
                                  headers=h.as_b()), 201)["id"]
    job = ok(client.post("/api/uploads", data={"kind": "diary"},
                         files=[("files", ("2008-10-23.md", f"# 2008-10-23\n\n{B_DIARY}\n".encode(), "text/markdown"))],
                         headers=h.as_b()), 202)
    deadline = time.monotonic() + 60
    while (state := ok(client.get(f"/api/jobs/{job['id']}", headers=h.as_b())))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["status"] == "done", state
    b["upload_job"] = job["id"]
    share = ok(client.post("/api/shares", json={"kind": "photo", "target": str(b["gps_photo"])}, headers=h.as_b()),
               201)
    b["share"], b["share_secret"] = share["id"], share["secret"]
    return h


def close_home(h: Home) -> None:
    h.client.__exit__(None, None, None)
    h.home.close()
