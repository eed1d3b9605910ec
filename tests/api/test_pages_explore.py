"""The map, timeline, graph and chat pages in a real browser, over the live sample library.

Each test compares what the page shows with what the API says, and saves a screenshot of the
page into test-artifacts/.
"""

from __future__ import annotations

import re

import pytest


def get(page, web, path: str, **params):
    """The API, called with the page's own sign-in cookie."""
    r = page.request.get(web.url + path, params={k: v for k, v in params.items() if v is not None})
    assert r.ok, f"{path}: {r.status} {r.text()}"
    return r.json()


def geotagged_photos(page, web) -> dict[int, dict]:
    photos = get(page, web, "/api/photos", limit=500)["results"]
    return {p["id"]: p for p in photos if p["lat"] is not None and p["lon"] is not None}


def open_map(page, web):
    page.goto(web.url + "/map")
    page.wait_for_function("window.DDMap && DDMap.photoCount > 0")
    # Chunked loading adds the markers asynchronously: wait until the cluster group holds them all.
    page.wait_for_function("DDMap.cluster.getLayers().length === DDMap.photoCount")
    # Let any zoom and cluster animation settle before counting what is on screen.
    page.wait_for_function("!DDMap.map._animatingZoom && !DDMap.cluster._inZoomAnimation")
    page.wait_for_timeout(300)


# Photos drawn alone on the map at its current zoom (the rest are inside cluster icons).
LONE = "DDMap.cluster.getLayers().filter((m) => DDMap.map.hasLayer(m)).length"


def cluster_counts(page) -> list[int]:
    return [int(t) for t in page.locator(".marker-cluster span").all_inner_texts()]


def test_the_map_shows_one_marker_per_geotagged_photo(page, web, artifacts):
    photos = geotagged_photos(page, web)
    assert photos, "the sample library has geotagged photos"
    open_map(page, web)
    assert page.evaluate("DDMap.photoCount") == len(photos)
    ids = page.evaluate("DDMap.cluster.getLayers().map((m) => m.options.photoId)")
    assert sorted(ids) == sorted(photos)
    # Fitted to the data, every photo is on screen once: alone, or counted in a cluster icon.
    assert page.evaluate(LONE) + sum(cluster_counts(page)) == len(photos)
    # The basemap is the bundled world outline: no tile server is asked for anything.
    assert page.locator(".leaflet-tile").count() == 0
    assert page.locator("#map canvas").count() >= 1
    page.screenshot(path=str(artifacts / "map.png"))


def test_clicking_a_cluster_opens_its_photos_as_a_gallery(page, web):
    photos = geotagged_photos(page, web)
    open_map(page, web)
    # From far enough out, nearby photos always share a cluster.
    page.evaluate("() => { DDMap.map.setView([20, 0], 1, {animate: false}); }")
    # The old zoom's icons fade out for a moment; count and click only once they are gone.
    page.wait_for_function("!DDMap.map._animatingZoom && !DDMap.cluster._inZoomAnimation")
    page.wait_for_timeout(600)
    cluster = page.locator(".marker-cluster").first.element_handle()
    count = int(cluster.inner_text())
    cluster.click()
    gallery = page.locator("#cluster-gallery")
    gallery.wait_for(state="visible")
    thumbs = gallery.locator("a.thumb[data-id]")
    assert thumbs.count() == count
    ids = [int(i) for i in thumbs.evaluate_all("els => els.map((e) => e.dataset.id)")]
    assert set(ids) <= set(photos) and len(set(ids)) == count
    thumbs.first.click()
    page.wait_for_url(re.compile(rf"/photos/{ids[0]}$"))


def test_the_map_date_range_requeries(page, web):
    photos = geotagged_photos(page, web)
    day = sorted(p["taken_at"][:10] for p in photos.values() if p["taken_at"])[0]
    same_day = [i for i, p in photos.items() if (p["taken_at"] or "")[:10] == day]
    open_map(page, web)
    page.fill("#map-from", day)
    page.fill("#map-to", day)
    page.wait_for_function(f"DDMap.photoCount === {len(same_day)}")
    page.wait_for_function(f"DDMap.cluster.getLayers().length === {len(same_day)}")
    ids = page.evaluate("DDMap.cluster.getLayers().map((m) => m.options.photoId)")
    assert sorted(ids) == sorted(same_day)


def test_the_timeline_shows_on_this_day_and_the_events(page, web, artifacts):
    events = get(page, web, "/api/events")
    assert events, "the sample library has events"
    photo = next(p for p in get(page, web, "/api/photos", limit=500)["results"]
                 if p["taken_at"] and p["taken_at"][5:10] != "02-29")
    year = photo["taken_at"][:4]
    # "On this day" looks back from the day asked for: ask for the same day a year later.
    page.goto(f"{web.url}/timeline?date={int(year) + 1}{photo['taken_at'][4:10]}")
    page.locator(f"#on-this-day a.thumb[data-id='{photo['id']}']").wait_for()
    assert page.locator(f"#on-this-day [data-year='{year}']").count() == 1

    cards = page.locator("#events .event[data-id]")
    cards.first.wait_for()
    assert cards.count() == len(events)
    shown = [int(i) for i in cards.evaluate_all("els => els.map((e) => e.dataset.id)")]
    newest_first = sorted(events, key=lambda e: e["start"], reverse=True)
    assert shown[0] == newest_first[0]["id"]
    assert page.locator("#events .year-header").count() == len({e["start"][:4] for e in events})

    with_photos = next(e for e in newest_first if e["photos"])
    detail = get(page, web, f"/api/events/{with_photos['id']}")
    card = page.locator(f"#events .event[data-id='{with_photos['id']}']")
    card.locator(".event-head").click()
    card.locator(".event-detail a.thumb").first.wait_for()
    ids = [int(i) for i in card.locator(".event-detail a.thumb").evaluate_all("els => els.map((e) => e.dataset.id)")]
    assert ids == [p["id"] for p in detail["photo_items"]]
    assert with_photos["title"] in card.inner_text()
    page.locator("#events .event").first.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "timeline.png"))


def test_an_opened_event_shows_its_diary_entry(page, web):
    from deepdiary.services.memories import set_event_entry

    event = get(page, web, "/api/events")[-1]
    set_event_entry(web.ctx, event["id"], "A quiet evening; we talked about Florence.")  # the user's own
    assert get(page, web, f"/api/events/{event['id']}")["entry"]["source"] == "user"
    page.goto(f"{web.url}/timeline#event-{event['id']}")
    entry = page.locator(f"#events .event[data-id='{event['id']}'] .event-entry")
    entry.wait_for()
    assert "A quiet evening; we talked about Florence." in entry.inner_text()
    assert entry.get_attribute("data-source") == "user"


def test_the_timeline_filters_by_place(page, web):
    events = get(page, web, "/api/events")
    place = next(e["place"] for e in events if e["place"])
    expected = get(page, web, "/api/events", place=place)
    page.goto(web.url + "/timeline")
    page.locator("#events .event").first.wait_for()
    page.fill("#tl-place", place)
    page.press("#tl-place", "Enter")
    page.wait_for_function(f"document.querySelectorAll('#events .event').length === {len(expected)}")
    shown = page.locator("#events .event[data-id]").evaluate_all("els => els.map((e) => +e.dataset.id)")
    assert sorted(shown) == sorted(e["id"] for e in expected)


def connected_pair(page, web) -> tuple[dict, dict, list[dict]]:
    named = [p for p in get(page, web, "/api/people") if p["name"]]
    for a in named:
        for b in named:
            if a["id"] < b["id"]:
                r = page.request.get(web.url + "/api/graph/connect", params={"a": a["id"], "b": b["id"]})
                if r.ok:
                    return a, b, r.json()["path"]
    pytest.fail("no two named people are connected in the sample library")


def test_the_graph_renders_and_shows_the_path_between_two_people(page, web, artifacts):
    graph = get(page, web, "/api/graph")
    assert graph["nodes"], "the sample library has a graph"
    page.goto(web.url + "/graph")
    page.wait_for_function("window.DDGraph && DDGraph.nodes().length > 0")
    assert page.evaluate("DDGraph.nodes().length") == len(graph["nodes"])
    kinds = page.evaluate("DDGraph.nodes().map((n) => n.data('kind'))")
    assert "person" in kinds

    a, b, path = connected_pair(page, web)
    page.select_option("#path-a", str(a["id"]))
    page.select_option("#path-b", str(b["id"]))
    page.click("#path-go")
    steps = page.locator("#path-result li[data-node]")
    steps.first.wait_for()
    assert steps.count() == len(path)
    assert a["name"] in steps.first.inner_text() and b["name"] in steps.last.inner_text()
    lit = page.evaluate("DDGraph.nodes('.on-path').map((n) => n.id())")
    assert {f"person:{a['id']}", f"person:{b['id']}"} <= set(lit)
    assert page.evaluate("DDGraph.edges('.on-path').length") >= 1

    met = get(page, web, "/api/graph/met-most")
    assert page.locator("#met-most li[data-id]").count() == len(met)
    page.screenshot(path=str(artifacts / "graph.png"))


def test_tapping_a_person_offers_their_photos(page, web):
    page.goto(web.url + "/graph")
    page.wait_for_function("window.DDGraph && DDGraph.nodes().length > 0")
    person = page.evaluate("DDGraph.nodes('[kind = \"person\"]').filter((n) => /^person:\\d+$/.test(n.id()))[0].id()")
    page.evaluate(f"DDGraph.getElementById('{person}').emit('tap')")
    link = page.locator("#node-info #open-photos")
    link.wait_for()
    assert link.get_attribute("href") == f"/?person={person.split(':')[1]}"


def test_chat_streams_an_answer_whose_citations_open_the_photos(page, web, artifacts):
    page.goto(web.url + "/chat")
    page.fill("#question", "photos in Hangzhou")
    page.press("#question", "Enter")
    assert page.locator(".bubble.user").last.inner_text() == "photos in Hangzhou"
    keeper = page.locator(".bubble.keeper").last
    thumbs = keeper.locator(".citations a.thumb[data-id]")
    thumbs.first.wait_for()
    page.wait_for_function("!document.querySelector('.bubble.keeper[aria-busy]')")
    assert keeper.locator(".answer").inner_text().strip()
    ids = [int(i) for i in thumbs.evaluate_all("els => els.map((e) => e.dataset.id)")]
    for photo_id in ids:
        place = get(page, web, f"/api/photos/{photo_id}")["place"]
        assert place and place["city"] == "Hangzhou", (photo_id, place)
    how = keeper.locator("details.how")
    how.locator("summary").click()
    assert "search_photos" in how.inner_text()
    conversation = page.evaluate("sessionStorage.getItem('dd.conversation_id')")
    assert conversation

    # A follow-up stays in the same conversation; chat citations are snippets with sender and text.
    page.fill("#question", "what did Li Lei say about Hangzhou?")
    page.press("#question", "Enter")
    page.locator(".bubble.keeper").nth(1).locator(".citations .snippet").first.wait_for()
    page.wait_for_function("!document.querySelector('.bubble.keeper[aria-busy]')")
    assert page.evaluate("sessionStorage.getItem('dd.conversation_id')") == conversation
    snippet = page.locator(".bubble.keeper").nth(1).locator(".citations .snippet").first
    assert snippet.locator(".snippet-text").inner_text().strip()
    page.screenshot(path=str(artifacts / "chat.png"))

    snippet.click()
    page.locator("#snippet-dialog[open] #snippet-body").wait_for()
    page.keyboard.press("Escape")

    page.click("#new-conversation")
    assert page.evaluate("sessionStorage.getItem('dd.conversation_id')") is None
    assert page.locator(".bubble").count() == 0

    page.fill("#question", "photos in Hangzhou")
    page.press("#question", "Enter")
    first = page.locator(".bubble.keeper .citations a.thumb[data-id]").first
    first.wait_for()
    first_id = first.get_attribute("data-id")
    first.click()
    page.wait_for_url(re.compile(rf"/photos/{first_id}$"))


def test_a_failed_question_shows_the_error_in_the_bubble(page, web):
    page.goto(web.url + "/chat")
    # A conversation that does not exist: the stream sends an error event instead of an answer.
    page.evaluate("sessionStorage.setItem('dd.conversation_id', '999999')")
    page.fill("#question", "photos in Hangzhou")
    page.press("#question", "Enter")
    keeper = page.locator(".bubble.keeper").last
    keeper.locator(".error").wait_for()
    assert "no conversation 999999" in keeper.locator(".error").inner_text()
    page.wait_for_function("!document.querySelector('.bubble.keeper[aria-busy]')")
    # The stale id is dropped, so the next question starts a conversation of its own.
    assert page.evaluate("sessionStorage.getItem('dd.conversation_id')") is None
    page.fill("#question", "photos in Hangzhou")
    page.press("#question", "Enter")
    page.locator(".bubble.keeper").last.locator(".citations a.thumb").first.wait_for()


def test_the_graph_filters_by_person_and_year(page, web):
    around_alice = get(page, web, "/api/graph", person=web.alice)
    page.goto(web.url + "/graph")
    page.wait_for_function("window.DDGraph && DDGraph.nodes().length > 0")
    page.select_option("#graph-person", str(web.alice))
    page.wait_for_function(f"DDGraph.nodes().length === {len(around_alice['nodes'])}")
    assert page.evaluate(f"DDGraph.getElementById('person:{web.alice}').nonempty()")

    page.select_option("#graph-person", "")
    year = get(page, web, "/api/events")[0]["start"][:4]
    that_year = get(page, web, "/api/graph", year=year)
    page.fill("#graph-year", year)
    page.dispatch_event("#graph-year", "change")
    page.wait_for_function(f"DDGraph.nodes().length === {len(that_year['nodes'])}")
    met = get(page, web, "/api/graph/met-most", year=year)
    page.wait_for_function(f"document.querySelectorAll('#met-most li[data-id]').length === {len(met)}")
