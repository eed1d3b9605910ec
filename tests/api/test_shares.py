"""Share links over a real server: a photo, an event and a search, each showing exactly what it
names, read-only and without a token; expired and revoked links are 410, unknown ones 404,
and only the secret's hash is ever written. The home holds the owner's library and Alice's,
both of real camera photos (three in Arezzo, one elsewhere)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext, ingest, tokens, users

EXIF = Path("photos/exif-samples/jpg")
OWNER_PHOTOS = ("gps/DSCN0010.jpg", "gps/DSCN0012.jpg", "Canon_40D.jpg")
ALICE_PHOTOS = ("gps/DSCN0021.jpg", "Nikon_D70.jpg")


@dataclass
class Home:
    ctx: AppContext
    client: TestClient
    owner: dict  # headers
    alice: dict
    own: dict[str, int]  # file name -> item id, in the owner's library
    hers: dict[str, int]  # in Alice's
    sources: dict[str, Path]  # file name -> the sample file it was ingested from


def _ingest(ctx: AppContext, folder: Path, names: tuple[str, ...], samples: Path) -> dict[str, int]:
    folder.mkdir(parents=True)
    for name in names:
        shutil.copy(samples / EXIF / name, folder / Path(name).name)
    report = ingest.ingest_photos(ctx, [folder], enrich=False)
    assert report.added == len(names), report
    ingest.refresh_events(ctx)
    from deepdiary.services.photos import show_item

    return {Path(show_item(ctx, i).root["path"]).name: i for i in report.item_ids}


@pytest.fixture(scope="module")
def home(tmp_path_factory, samples):
    from deepdiary.api import create_app

    root = tmp_path_factory.mktemp("shares")
    ctx = AppContext(Settings(home=root / "home", enrich_workers=1, llm_backend="none"))
    own = _ingest(ctx, root / "own", OWNER_PHOTOS, samples)
    alice = users.add_user(ctx, "alice")
    alice_ctx = users.user_context(ctx, "alice")
    try:
        hers = _ingest(alice_ctx, root / "hers", ALICE_PHOTOS, samples)
    finally:
        alice_ctx.close()
    owner = tokens.create_token(ctx, "owner laptop").token
    sources = {Path(n).name: samples / EXIF / n for n in OWNER_PHOTOS + ALICE_PHOTOS}
    with TestClient(create_app(ctx)) as client:
        yield Home(ctx=ctx, client=client, owner={"Authorization": f"Bearer {owner}"},
                   alice={"Authorization": f"Bearer {alice.token}"}, own=own, hers=hers, sources=sources)
    ctx.close()


def share(h: Home, kind: str, target, headers: dict | None = None, **extra) -> dict:
    r = h.client.post("/api/shares", json={"kind": kind, "target": str(target), **extra}, headers=headers or h.owner)
    assert r.status_code == 201, r.text
    return r.json()


def view(h: Home, secret: str) -> dict:
    r = h.client.get(f"/api/shared/{secret}")  # no token: the secret is the key
    assert r.status_code == 200, r.text
    return r.json()


def expire(h: Home, share_id: int) -> None:
    """Move a link's expiry into the past in the access database: no waiting for a clock."""
    from deepdiary.memory.access import share_links

    with h.ctx.access.engine.begin() as conn:
        conn.execute(share_links.update().where(share_links.c.id == share_id)
                     .values(expires_at=datetime(2000, 1, 1)))


def test_a_photo_link_shows_that_photo_and_no_other(home):
    photo = home.own["DSCN0010.jpg"]
    made = share(home, "photo", photo, expires="2d")
    assert made["url"] == f"/s/{made['secret']}" and made["photos"] == 1 and made["kind"] == "photo"
    shown = view(home, made["secret"])
    assert [p["id"] for p in shown["photos"]] == [photo]
    assert shown["photos"][0]["place"] == "Arezzo, Italy" and shown["photos"][0]["taken_at"].startswith("2008-10-22")
    assert "path" not in shown["photos"][0] and "faces" not in shown["photos"][0]  # no paths, no people

    details = home.client.get(f"/api/photos/{photo}", headers=home.owner).json()
    thumb = home.client.get(shown["photos"][0]["thumbnail"])
    assert thumb.status_code == 200 and thumb.content == Path(details["thumbnail"]).read_bytes()
    original = home.client.get(shown["photos"][0]["original"])
    assert original.status_code == 200 and original.content == home.sources["DSCN0010.jpg"].read_bytes()
    assert original.headers["referrer-policy"] == "no-referrer"

    # Any other id through the link is as unknown as one that was never made.
    for other in (home.own["DSCN0012.jpg"], home.own["Canon_40D.jpg"], home.hers["DSCN0021.jpg"], 99999):
        for part in ("thumbnail", "original"):
            r = home.client.get(f"/api/shared/{made['secret']}/photos/{other}/{part}")
            assert r.status_code == 404, (other, part, r.text)

    page = home.client.get(made["url"])
    assert page.status_code == 200 and shown["photos"][0]["thumbnail"] in page.text
    assert shown["title"] in page.text


def test_an_event_link_shows_exactly_the_events_photos(home):
    events = home.client.get("/api/events", headers=home.owner).json()
    event = next(e for e in events if home.own["DSCN0010.jpg"] in e["item_ids"])
    detail = home.client.get(f"/api/events/{event['id']}", headers=home.owner).json()
    expected = {p["id"] for p in detail["photo_items"]}
    assert expected == {home.own["DSCN0010.jpg"], home.own["DSCN0012.jpg"]}  # the Canon is another day
    made = share(home, "event", event["id"])
    assert made["title"] == detail["title"] and made["photos"] == 2
    shown = view(home, made["secret"])
    assert {p["id"] for p in shown["photos"]} == expected
    for p in shown["photos"]:
        assert home.client.get(p["thumbnail"]).status_code == 200
    canon = home.own["Canon_40D.jpg"]
    assert home.client.get(f"/api/shared/{made['secret']}/photos/{canon}/original").status_code == 404


def test_a_search_link_shows_what_the_search_found(home):
    found = home.client.get("/api/photos", params={"near": "Arezzo"}, headers=home.owner).json()["results"]
    made = share(home, "search", "photos in Arezzo")
    shown = view(home, made["secret"])
    assert {p["id"] for p in shown["photos"]} == {p["id"] for p in found} == {
        home.own["DSCN0010.jpg"], home.own["DSCN0012.jpg"]}
    assert shown["title"] == "photos in Arezzo" and shown["kind"] == "search"
    r = home.client.post("/api/shares", json={"kind": "search", "target": "photos in Reykjavik"}, headers=home.owner)
    assert r.status_code == 422 and "finds no photos" in r.json()["error"]


def test_a_users_link_shows_only_her_own_photos(home):
    # Alice's search for the same place finds her photo, never the owner's two.
    made = share(home, "search", "photos in Arezzo", headers=home.alice)
    shown = view(home, made["secret"])
    assert [p["id"] for p in shown["photos"]] == [home.hers["DSCN0021.jpg"]]
    original = home.client.get(shown["photos"][0]["original"])
    assert original.content == home.sources["DSCN0021.jpg"].read_bytes()
    # Her link never opens the owner's files, even where an id of his is the same number as hers.
    for other in home.own.values():
        if other != home.hers["DSCN0021.jpg"]:
            assert home.client.get(f"/api/shared/{made['secret']}/photos/{other}/original").status_code == 404
    # She cannot share the owner's photo (its id is unknown in her library) unless it is also hers.
    hers = set(home.hers.values())
    foreign = next(i for i in home.own.values() if i not in hers)
    r = home.client.post("/api/shares", json={"kind": "photo", "target": str(foreign)}, headers=home.alice)
    assert r.status_code == 404, r.text
    # Each lists and revokes only their own links.
    mine = home.client.get("/api/shares", headers=home.alice).json()
    assert [s["id"] for s in mine] == [made["id"]] and "secret" not in mine[0]
    owners = {s["id"] for s in home.client.get("/api/shares", headers=home.owner).json()}
    assert made["id"] not in owners
    assert home.client.delete(f"/api/shares/{made['id']}", headers=home.owner).status_code == 404
    assert view(home, made["secret"])["photos"]


def test_expired_and_revoked_links_are_gone_unknown_ones_not_found(home):
    photo = home.own["DSCN0012.jpg"]
    expired, revoked = share(home, "photo", photo), share(home, "photo", photo)
    expire(home, expired["id"])
    r = home.client.delete(f"/api/shares/{revoked['id']}", headers=home.owner)
    assert r.status_code == 200 and r.json()["revoked"] is True
    for made, why in ((expired, "expired"), (revoked, "revoked")):
        base = f"/api/shared/{made['secret']}"
        for url in (base, f"{base}/photos/{photo}/thumbnail", f"{base}/photos/{photo}/original"):
            r = home.client.get(url)
            assert r.status_code == 410 and why in r.json()["error"], (url, r.text)
        page = home.client.get(made["url"])
        assert page.status_code == 410 and why in page.text
    listed = {s["id"]: s for s in home.client.get("/api/shares", headers=home.owner).json()}
    assert listed[expired["id"]]["expired"] and not listed[expired["id"]]["revoked"]
    assert listed[revoked["id"]]["revoked"] and not listed[revoked["id"]]["expired"]

    unknown = "dds_" + "A" * 43
    for url in (f"/api/shared/{unknown}", f"/api/shared/{unknown}/photos/{photo}/original", "/api/shared/nonsense"):
        assert home.client.get(url).status_code == 404, url
    assert home.client.get(f"/s/{unknown}").status_code == 404
    assert home.client.delete("/api/shares/99999", headers=home.owner).status_code == 404


def test_a_link_needs_no_token_and_opens_nothing_else(home):
    made = share(home, "photo", home.own["Canon_40D.jpg"])
    as_bearer = {"Authorization": f"Bearer {made['secret']}"}
    for url in ("/api/stats", "/api/photos", f"/api/photos/{home.own['Canon_40D.jpg']}",
                f"/api/photos/{home.own['Canon_40D.jpg']}/original", "/api/shares"):
        assert home.client.get(url).status_code == 401, url
        assert home.client.get(url, headers=as_bearer).status_code == 401, url
    assert home.client.post("/api/shares", json={"kind": "photo", "target": "1"}, headers=as_bearer).status_code == 401
    gallery = home.client.get("/", headers=as_bearer, follow_redirects=False)
    assert gallery.status_code == 303 and gallery.headers["location"].startswith("/signin")
    # Read-only: the link's routes answer GET and nothing else.
    for method in ("POST", "PUT", "DELETE"):
        assert home.client.request(method, f"/api/shared/{made['secret']}").status_code == 405


def test_only_the_hash_of_a_secret_is_written(home):
    made = share(home, "photo", home.own["DSCN0010.jpg"])
    from deepdiary.services.shares import secret_hash

    written = [p for p in home.ctx.settings.library_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("access.db") for p in written)
    for path in written:
        data = path.read_bytes()
        assert made["secret"].encode() not in data, f"the secret is in {path}"
    stored = home.ctx.access.share_by_hash(secret_hash(made["secret"]))
    assert stored is not None and stored.id == made["id"]
