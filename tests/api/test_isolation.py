"""One library per user: every route of the app, walked as user A against user B's ids, is 404
(never 403: B's items are as unknown to A as ones never made), A's listings and searches show
none of B's items, and B's library is unchanged afterwards.

The routes come from the app itself, so a new route fails this test until it is walked here
or listed as taking no id of B's."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts

from tests.multi_user import A_NAME, B_CHAT, B_DIARY, B_NAME, B_PERSON, build_home, close_home

# What would give B's data away if it showed up in anything A is answered.
B_MARKERS = ("obama.jpg", "DSCN0010.jpg", B_PERSON, "Barack", "lotus", B_DIARY, "Arezzo", "Other Person", "a boat")


@pytest.fixture(scope="module")
def home(tmp_path_factory, samples):
    h = build_home(tmp_path_factory.mktemp("isolation"), samples)
    yield h
    close_home(h)


def walks(b: dict) -> dict[tuple[str, str], list[dict]]:
    """Each route that names an item, with B's ids in the path (and a valid body, so that only
    the lookup can refuse it). A path that takes a person is walked by id and by name."""
    person = [{"person": str(b["person"])}, {"person": B_PERSON}]
    photo = [{"item_id": b["photo"]}, {"item_id": b["gps_photo"]}]
    secret = b["share_secret"]
    return {
        ("GET", "/api/photos/{item_id}"): photo,
        ("GET", "/api/photos/{item_id}/thumbnail"): photo,
        ("GET", "/api/photos/{item_id}/original"): photo,
        ("PUT", "/api/photos/{item_id}/rating"): [{**p, "json": {"stars": 1}} for p in photo],
        ("GET", "/api/photos/{item_id}/similar"): photo,
        ("GET", "/api/people/{person}"): person,
        ("PUT", "/api/people/{person}/hidden"): [{**p, "json": {"hidden": True}} for p in person],
        ("PUT", "/api/people/{person}/name"): [{**p, "json": {"name": "Mallory"}} for p in person],
        ("POST", "/api/people/{person}/merge"): [{**p, "json": {"other": str(b["other_person"])}} for p in person],
        ("GET", "/api/people/{person}/faces"): person,
        ("POST", "/api/people/{person}/split"): [{**p, "json": {"face_ids": [b["face"]]}} for p in person],
        ("POST", "/api/people/{person}/collage"): person,
        ("POST", "/api/people/{person}/notes"): [{**p, "json": {"kind": "demand", "text": "x"}} for p in person],
        ("POST", "/api/faces/{face_id}/unassign"): [{"face_id": b["face"]}],
        ("GET", "/api/faces/{face_id}/crop"): [{"face_id": b["face"]}],
        ("POST", "/api/faces/{face_id}/move"): [{"face_id": b["face"], "json": {"to": None}}],
        ("GET", "/api/collages/{name}"): [{"name": b["collage"]}],
        ("GET", "/api/events/{event_id}"): [{"event_id": b["event"]}],
        ("GET", "/api/jobs/{job_id}"): [{"job_id": str(b["job"])}, {"job_id": b["upload_job"]}],
        ("DELETE", "/api/shares/{share_id}"): [{"share_id": b["share"]}],
        # A share link reaches exactly what it names: B's link and B's other photo, or a made-up link.
        ("GET", "/api/shared/{secret}"): [{"secret": "dds_" + "x" * 43}],
        ("GET", "/api/shared/{secret}/photos/{item_id}/thumbnail"): [
            {"secret": secret, "item_id": b["photo"]}, {"secret": "dds_" + "x" * 43, "item_id": b["gps_photo"]}],
        ("GET", "/api/shared/{secret}/photos/{item_id}/original"): [
            {"secret": secret, "item_id": b["photo"]}, {"secret": "dds_" + "x" * 43, "item_id": b["gps_photo"]}],
        ("GET", "/s/{secret}"): [{"secret": "dds_" + "x" * 43}],
        ("GET", "/photos/{item_id}"): photo,
        ("GET", "/people/{person}"): person,
    }


# Routes that take no id of B's in their path. Listings and searches among them are called
# as A below (LISTINGS); the rest are named with why they are safe to leave out.
NO_ID = {
    ("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
    ("POST", "/api/session"), ("DELETE", "/api/session"),  # signing in: test_a_signs_in_to_her_own_library
    ("POST", "/api/people"), ("POST", "/api/uploads"), ("POST", "/api/shares"),  # create in A's own library
    ("POST", "/api/ask"), ("GET", "/api/ask/stream"),  # ids in the body/query: test_ids_in_bodies_and_queries
    ("POST", "/api/transcribe"), ("POST", "/api/speak"),  # audio in, audio or text out; no stored item named
    ("GET", "/static"),  # the web UI's own files
    ("GET", "/"), ("GET", "/people"), ("GET", "/map"), ("GET", "/timeline"), ("GET", "/graph"),
    ("GET", "/chat"), ("GET", "/upload"), ("GET", "/signin"),  # page shells, filled from the API routes
}
LISTINGS = {
    "/api/photos": {}, "/api/parse": {"q": f"photos of {B_PERSON} in Arezzo"}, "/api/duplicates": {},
    "/api/stats": {}, "/api/people": {"hidden": True, "low_quality": True}, "/api/people/suggestions": {},
    "/api/chats": {"q": "lotus boat"}, "/api/diaries": {"q": B_DIARY}, "/api/events/on-this-day": {"date": "10-22"},
    "/api/map": {}, "/api/graph": {}, "/api/events": {}, "/api/places": {}, "/api/graph/met-most": {},
    "/api/jobs": {}, "/api/check": {}, "/api/shares": {},
    "/api/graph/connect": {"a": "me", "b": "me"},
}


def every_route(app) -> set[tuple[str, str]]:
    routes = set()
    for route in iter_route_contexts(app.routes):
        methods = (route.methods or {"GET"}) - {"HEAD", "OPTIONS"}
        routes |= {(m, route.path) for m in methods}
    return routes


def every_row(db: Path) -> dict:
    con = sqlite3.connect(db)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        con.close()


def b_state(h) -> dict:
    """What B could see: every row of B's catalogue, B's links and B's files."""
    b_ctx = h.client.app.state.libraries.for_token(h.b_token)
    folder = b_ctx.settings.library_dir
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()
                   and "vectors" not in p.parts and not p.name.endswith(("-wal", "-shm")))
    shares = h.client.get("/api/shares", headers=h.as_b()).json()
    return {"catalogue": every_row(folder / "catalogue.db"), "shares": shares, "files": files}


def test_every_route_is_walked_or_listed(home):
    routes = every_route(home.client.app)
    walked = set(walks(home.b))
    listed = NO_ID | {("GET", path) for path in LISTINGS}
    assert not (walked & listed), "a route is both walked and listed"
    missing = routes - walked - listed
    assert not missing, f"routes neither walked as A against B's ids nor listed as taking none: {sorted(missing)}"
    stale = (walked | listed) - routes
    assert not stale, f"walked or listed, but no longer routes: {sorted(stale)}"
    assert all(re.search(r"{\w+}", path) for _, path in walked)
    assert not any(re.search(r"{\w+}", path) for _, path in listed if path != "/static")


def test_a_gets_404_for_every_id_of_b(home):
    client, b = home.client, home.b
    before = b_state(home)
    for (method, path), cases in walks(b).items():
        for case in cases:
            case = dict(case)
            body = case.pop("json", None)
            url = re.sub(r"{(\w+)}", lambda m: str(case[m.group(1)]), path)
            r = client.request(method, url, json=body, headers=home.as_a())
            assert r.status_code == 404, f"{method} {url} as A: {r.status_code} {r.text[:200]}"
            # A 404 may echo what A asked for ("no person 'Barack Zhang'"); anything else of B's is a leak.
            told = [m for m in B_MARKERS if m in r.text and m not in url]
            assert not told, f"{method} {url} as A told of B {told}: {r.text[:300]}"
            # B still reaches the same thing (the routes that read), so the 404 is isolation, not a bad id.
            if method == "GET" and not path.startswith(("/api/shared", "/s/")):
                mine = client.get(url, headers=home.as_b())
                assert mine.status_code == 200, f"GET {url} as B: {mine.status_code} {mine.text[:200]}"
    assert b_state(home) == before


def test_ids_in_bodies_and_queries(home):
    client, b = home.client, home.b
    before = b_state(home)
    r = client.post("/api/ask", json={"question": "photos in Arezzo", "conversation_id": b["conversation"],
                                      "backend": "none"}, headers=home.as_a())
    assert r.status_code == 404 and f"no conversation {b['conversation']}" in r.json()["error"]
    # The stream answers 200 at once (EventSource reads no status); its 404 is the NotFound event.
    r = client.get("/api/ask/stream", params={"q": "photos in Arezzo", "conversation_id": b["conversation"],
                                              "backend": "none"}, headers=home.as_a())
    assert '"kind": "NotFound"' in r.text and "event: answer" not in r.text
    assert client.get("/api/photos", params={"like": b["photo"]}, headers=home.as_a()).status_code == 404
    for kind, target in (("photo", b["photo"]), ("event", b["event"])):
        r = client.post("/api/shares", json={"kind": kind, "target": str(target)}, headers=home.as_a())
        assert r.status_code == 404, r.text
    assert client.get("/api/graph/connect", params={"a": B_PERSON, "b": "me"}, headers=home.as_a()).status_code == 404
    assert b_state(home) == before


def test_a_lists_and_searches_only_her_own_library(home):
    client = home.client
    before = b_state(home)
    for path, params in LISTINGS.items():
        r = client.get(path, params=params, headers=home.as_a())
        assert r.status_code in (200, 404), f"GET {path} as A: {r.status_code} {r.text[:200]}"
        text = r.text if path != "/api/parse" else str(r.json()["chips"])  # parse echoes the question
        assert not any(m in text for m in B_MARKERS), f"GET {path} as A shows B's data: {text[:300]}"
        if path == "/api/parse":
            assert "person" not in {c["facet"] for c in r.json()["chips"]}  # A knows no Barack
    stats = client.get("/api/stats", headers=home.as_a()).json()
    assert stats["items"] == 0
    assert client.get("/api/stats", headers=home.as_b()).json()["items"] >= 4  # photos, message, diary
    for page in ("/", "/people", "/map", "/timeline", "/graph", "/chat", "/upload"):
        r = client.get(page, headers=home.as_a())
        assert r.status_code == 200 and not any(m in r.text for m in B_MARKERS), page
    assert b_state(home) == before


def test_a_signs_in_to_her_own_library_and_the_owner_to_his(home):
    from deepdiary.services.tokens import create_token

    client = home.client
    try:
        r = client.post("/api/session", json={"token": home.a_token})
        assert r.status_code == 200 and r.json()["user"] == A_NAME
        assert client.get("/api/stats").json()["items"] == 0  # her cookie opens her library
        assert client.get(f"/api/photos/{home.b['photo']}").status_code == 404
        client.delete("/api/session")
        client.cookies.clear()
        assert client.get("/api/stats").status_code == 401  # users exist: no token, no entry
        owner = create_token(home.home, "owner laptop").token
        r = client.post("/api/session", json={"token": owner})
        assert r.status_code == 200 and r.json()["user"] is None
        assert client.get("/api/stats").json()["items"] == 0  # the owner's library: the home itself
        assert client.get(f"/api/photos/{home.b['photo']}").status_code == 404
    finally:
        client.delete("/api/session")
        client.cookies.clear()
    assert client.get("/api/stats", headers={"Authorization": "Bearer dd_wrong"}).status_code == 401


def test_user_folders_are_derived_never_the_raw_name(home):
    folders = sorted(p.name for p in (home.folder / "users").iterdir())
    assert len(folders) == 2 and all(re.fullmatch(r"[a-z0-9-]+-\d+", f) for f in folders), folders
    assert any(f.startswith("wang-xiao-ming-") for f in folders)  # 王小明, by pinyin
    assert not (home.folder / "users" / B_NAME).exists() and not Path("/李").exists()
