"""The web UI's routes over a real library (the demo's photos, faces and chats, plus Alice by
West Lake): chips, map, graph, events, on this day, and the people actions."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepdiary.api import create_app
from deepdiary.core.settings import Settings
from deepdiary.services import AppContext
from tests.api.conftest import copy_library


@pytest.fixture(scope="module")
def client(web_source, tmp_path_factory):
    source, alice = web_source
    folder = copy_library(source, tmp_path_factory.mktemp("routes") / "library")
    ctx = AppContext(Settings(home=folder, llm_backend="none"))
    with TestClient(create_app(ctx)) as c:
        c.alice = alice
        yield c


def names(results) -> list[str]:
    return [Path(p["path"]).name for p in results]


def ok(r):
    assert r.status_code < 300, r.text
    return r.json()


def test_the_language_box_gives_removable_chips_that_search(client):
    parsed = ok(client.get("/api/parse", params={"q": "photos of Alice in Hangzhou"}))
    assert {(c["facet"], c["value"]) for c in parsed["chips"]} == {("person", "Alice"), ("near", "Hangzhou")}
    assert names(ok(client.get("/api/photos", params=parsed["params"]))["results"]) == ["hangzhou-lake-portrait.jpg"]
    # Dropping the place chip widens the search to all of Alice's photos.
    assert set(names(ok(client.get("/api/photos", params={"person": "Alice"}))["results"])) == {
        "hangzhou-lake-portrait.jpg", "paris-pink-portrait.jpg"}
    zh = ok(client.get("/api/parse", params={"q": "2023年在杭州的照片"}))
    assert ("near", "Hangzhou") in {(c["facet"], c["value"]) for c in zh["chips"]}
    assert zh["params"]["from"] == "2023-01-01" and zh["params"]["to"] == "2023-12-31"
    r = client.get("/api/parse", params={"q": "  "})
    assert r.status_code == 422 and "type what to look for" in r.json()["error"]


def test_results_in_date_order_or_by_relevance(client):
    by_date = ok(client.get("/api/photos", params={"q": "flower", "order": "date"}))["results"]
    dates = [p["taken_at"] for p in by_date]
    assert dates == sorted(dates)
    assert names(ok(client.get("/api/photos", params={"q": "flower"}))["results"])[0] == "flower.jpg"
    r = client.get("/api/photos", params={"order": "random"})
    assert r.status_code == 422 and "'random' is not one of date, relevance" in r.json()["error"]


def test_the_map_is_geojson_of_every_geotagged_photo_in_the_box(client):
    every = ok(client.get("/api/photos", params={"limit": 1000}))["results"]
    geotagged = {p["id"] for p in every if p["lat"] is not None}
    fc = ok(client.get("/api/map"))
    assert fc["type"] == "FeatureCollection"
    assert {f["properties"]["id"] for f in fc["features"] if f["properties"]["kind"] == "photo"} == geotagged
    china = ok(client.get("/api/map", params={"bbox": "100,20,130,45", "from": "2023", "to": "2023"}))
    assert {f["properties"]["id"] for f in china["features"]} == {
        p["id"] for p in every if p["place"] and p["place"]["country_code"] == "CN" and p["taken_at"][:4] == "2023"}
    for bad in ("1,2,3", "a,b,c,d", "0,60,10,50"):
        r = client.get("/api/map", params={"bbox": bad})
        assert r.status_code == 422 and "west,south,east,north" in r.json()["error"]


def test_the_graph_has_who_appears_with_whom(client):
    g = ok(client.get("/api/graph"))
    kinds = {n["kind"] for n in g["nodes"]}
    assert {"person", "place", "event", "me"} <= kinds
    ids = {n["id"] for n in g["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in g["edges"])
    together = [e for e in g["edges"] if e["kind"] == "appears_with"]
    assert len(together) == 15  # six friends round the poker table: 6 choose 2
    alice = ok(client.get("/api/graph", params={"person": "Alice"}))
    assert {n["label"] for n in alice["nodes"] if n["kind"] == "place"} == {"Hangzhou", "Paris"}
    assert ok(client.get("/api/graph", params={"year": 1999})) == {"nodes": [{"id": "person:me", "kind": "me",
                                                                              "label": "me", "weight": 1}], "edges": []}
    r = client.get("/api/graph", params={"person": "Nobody"})
    assert r.status_code == 404 and "no person 'Nobody'" in r.json()["error"]


def test_events_their_details_and_on_this_day(client):
    events = ok(client.get("/api/events"))
    by_the_lake = next(e for e in events if e["place"] == "Hangzhou" and e["start"] == "2023-07-15T10:00:00")
    detail = ok(client.get(f"/api/events/{by_the_lake['id']}"))
    assert names(detail["photo_items"]) == ["hangzhou-lake-portrait.jpg"] and detail["place_zh"] == "杭州"
    assert "Alice" in {p["name"] for p in detail["people"]}
    day = ok(client.get("/api/events/on-this-day", params={"date": "2026-07-15"}))
    assert [y["year"] for y in day["years"]] == [2023]
    assert set(names(day["years"][0]["photos"])) == {"hangzhou-moon.jpg", "hangzhou-lake-portrait.jpg"}
    assert ok(client.get("/api/events/on-this-day", params={"date": "07-15"}))["id"] == "07-15"
    assert client.get("/api/events/424242").json() == {"error": "no event 424242", "kind": "NotFound"}
    r = client.get("/api/events/on-this-day", params={"date": "the ides of march"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["error"]


def test_diaries_are_searched_alone(client):
    hits = ok(client.get("/api/diaries", params={"q": "West Lake"}))
    assert hits and all(h["kind"] == "diary" for h in hits)


def _poker_people(client) -> list[dict]:
    return [p for p in ok(client.get("/api/people", params={"unnamed": "true"}))
            if p["faces"] == 1 and any(Path(f["path"]).name == "new-york-poker-night.jpg"
                                       for f in ok(client.get(f"/api/people/{p['id']}/faces")))]


def test_the_face_wall_sorts_names_and_has_a_naming_queue(client):
    rows = ok(client.get("/api/people"))
    named = [p["name"] for p in rows if p["name"]]
    assert named == ["Alice", "Bob", "李雷"]  # Li Lei sorts by pinyin among the Latin names
    client.put(f"/api/people/{_poker_people(client)[0]['id']}/name", json={"name": "安娜"})  # An Na
    named = [p["name"] for p in ok(client.get("/api/people")) if p["name"]]
    assert named == ["Alice", "安娜", "Bob", "李雷"]
    queue = ok(client.get("/api/people", params={"unnamed": "true"}))
    assert queue and all(p["name"] is None for p in queue)
    crop = client.get(f"/api/faces/{queue[0]['cover_face_id']}/crop")
    assert crop.status_code == 200 and crop.content[:3] == b"\xff\xd8\xff"
    assert client.get("/api/faces/999999/crop").status_code == 404


def test_merge_suggestions_split_and_unassign(client):
    first, second, third = _poker_people(client)[:3]
    # Two of the friends are one person to the user: merged, then split apart again.
    ok(client.post(f"/api/people/{first['id']}/merge", json={"other": str(second["id"])}))
    faces = ok(client.get(f"/api/people/{first['id']}/faces"))
    assert len(faces) == 2
    split = client.post(f"/api/people/{first['id']}/split", json={"face_ids": [faces[1]["id"]], "name": "Zoe"})
    assert split.status_code == 201 and split.json()["name"] == "Zoe"
    assert [f["id"] for f in ok(client.get("/api/people/Zoe/faces"))] == [faces[1]["id"]]
    r = client.post(f"/api/people/{first['id']}/split", json={"face_ids": [faces[1]["id"]]})
    assert r.status_code == 422 and "not faces of person" in r.json()["error"]
    assert client.post(f"/api/people/{first['id']}/split", json={"face_ids": []}).status_code == 422
    # A face unassigned belongs to nobody, is still on its photo, and survives re-clustering.
    face = ok(client.get(f"/api/people/{third['id']}/faces"))[0]
    assert ok(client.post(f"/api/faces/{face['id']}/unassign")) == {"id": None, "name": None, "face_id": face["id"]}
    photo = ok(client.get(f"/api/photos/{face['item_id']}"))
    assert {"id": face["id"], "person_id": None} in [{k: f[k] for k in ("id", "person_id")} for f in photo["faces"]]
    assert client.get(f"/api/people/{third['id']}").status_code == 404  # an unnamed person left empty goes
    pairs = ok(client.get("/api/people/suggestions"))
    assert all(p["distance"] <= 0.62 and p["a"]["id"] != p["b"]["id"] for p in pairs)
    assert [p["distance"] for p in pairs] == sorted(p["distance"] for p in pairs)
    assert client.get("/api/people/suggestions", params={"limit": 0}).status_code == 422


def test_a_person_their_notes_and_a_collage(client):
    ok(client.post("/api/people/Alice/notes", json={"kind": "resource", "text": "knows West Lake boats"}))
    alice = ok(client.get("/api/people/Alice"))
    assert alice["faces"] == 2 and [n["text"] for n in alice["notes"]][-1] == "knows West Lake boats"
    made = client.post("/api/people/Alice/collage")
    assert made.status_code == 201 and made.json()["faces"] == 2
    image = client.get(made.json()["url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert client.get("/api/collages/..%2Fcatalogue.db").status_code == 404


def test_new_routes_need_the_token_once_one_exists(web):
    import httpx

    for path in ("/api/map", "/api/graph", "/api/parse?q=x", "/api/people/suggestions", "/api/events/on-this-day"):
        assert httpx.get(web.url + path).status_code == 401
        assert httpx.get(web.url + path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(web.url + path, headers={"Authorization": f"Bearer {web.token}"}).status_code == 200
    # Pages send a stranger to the sign-in page rather than showing an empty shell.
    r = httpx.get(web.url + "/people", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/people"
