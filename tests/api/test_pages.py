"""The gallery, photo, people, person and upload pages in a real browser, over the live sample library.

Each test does what a user would do on the page and checks what they would see against the API
(and the sample library's known photos); each page leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from tests.photo_factory import make_photo

HANGZHOU_PHOTOS = {"hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg", "hangzhou-lake-portrait.jpg"}


def get(page, web, path: str, **params):
    """The API, called with the page's own sign-in cookie."""
    query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)  # repeated values too
    r = page.request.get(web.url + path + (f"?{query}" if query else ""))
    assert r.ok, f"{path}: {r.status} {r.text()}"
    return r.json()


def api_photos(page, web, **params) -> list[dict]:
    return get(page, web, "/api/photos", limit=500, **params)["results"]


def names(photos) -> set[str]:
    return {Path(p["path"]).name for p in photos}


# ---- gallery ------------------------------------------------------------------------------------

def search_number(page) -> int:
    return int(page.get_attribute("#results", "data-search") or 0)


def wait_search(page, after: int) -> list[int]:
    """Wait for the search after number `after` to finish; the thumbnails it shows, in order."""
    page.wait_for_function(
        "n => { const r = document.getElementById('results');"
        " return Number(r.dataset.search || 0) > n && r.dataset.state === 'ready'; }", arg=after)
    return [int(i) for i in page.eval_on_selector_all("#results a.thumb", "els => els.map((e) => e.dataset.id)")]


def open_gallery(page, web, query: str = "") -> list[int]:
    page.goto(web.url + "/" + query)
    return wait_search(page, 0)


def chips(page) -> list[tuple[str, str]]:
    return [tuple(c) for c in page.eval_on_selector_all(
        "#chips .chip", "els => els.map((e) => [e.dataset.facet, e.dataset.value])")]


def test_a_facet_search_shows_exactly_the_matching_photos_under_their_days(page, web, artifacts):
    everything = open_gallery(page, web)
    assert everything == [p["id"] for p in api_photos(page, web)][:60]

    n = search_number(page)
    page.fill('#facets input[name="near"]', "Hangzhou")
    page.press('#facets input[name="near"]', "Enter")
    shown = wait_search(page, n)
    expected = api_photos(page, web, near="Hangzhou")
    assert names(expected) == HANGZHOU_PHOTOS
    assert shown == [p["id"] for p in expected]
    assert page.inner_text("#result-count") == "4 photos"
    headers = page.eval_on_selector_all("#results .day-header", "els => els.map((e) => e.textContent)")
    assert headers and all(re.match(r"2023-07-1\d · Hangzhou, China", h) for h in headers), headers
    assert parse_qs(urlparse(page.url).query) == {"near": ["Hangzhou"]}
    page.screenshot(path=str(artifacts / "gallery.png"), full_page=True)

    # A select searches as soon as it changes, on top of the place.
    n = search_number(page)
    page.select_option('#facets select[name="layout"]', "tall")
    shown = wait_search(page, n)
    tall = api_photos(page, web, near="Hangzhou", layout="tall")
    assert names(tall) == {"hangzhou-tea-terraces.jpg"} and shown == [p["id"] for p in tall]
    assert page.inner_text("#result-count") == "1 photo"

    n = search_number(page)
    page.fill('#facets input[name="camera"]', "no such camera")
    page.click('#facets button[type="submit"]')
    assert wait_search(page, n) == []
    assert page.is_visible("#empty") and page.inner_text("#result-count") == "0 photos"


def test_a_link_with_a_person_opens_their_photos_with_the_filter_ticked(page, web):
    shown = open_gallery(page, web, f"?person={web.alice}")
    expected = api_photos(page, web, person=str(web.alice))
    assert names(expected) == {"paris-pink-portrait.jpg", "hangzhou-lake-portrait.jpg"}
    assert shown == [p["id"] for p in expected]
    assert page.is_checked(f'#people-options input[name="person"][value="{web.alice}"]')
    assert chips(page) == []  # the form shows it: no chip needed


def test_a_link_reproduces_a_search_in_the_form_and_chips(page, web):
    cat = next(p for p in api_photos(page, web) if Path(p["path"]).name == "hangzhou-sunset.jpg")
    first, second = [t["name"] for t in get(page, web, f"/api/photos/{cat['id']}")["tags"] if t["kind"] == "scene"][:2]
    shown = open_gallery(page, web, f"?near=Hangzhou&from=2023-07-01&order=newest&scene={first}&scene={second}")
    assert page.input_value('#facets input[name="near"]') == "Hangzhou"
    assert page.input_value('#facets input[name="from"]') == "2023-07-01"
    assert page.input_value('#facets select[name="order"]') == "newest"
    assert page.input_value('#facets input[name="scene"]') == first
    assert chips(page) == [("scene", second)]  # the form has one scene box: the second scene is a chip
    both = api_photos(page, web, near="Hangzhou", **{"from": "2023-07-01"}, newest="true", scene=[first, second])
    assert cat["id"] in [p["id"] for p in both] and shown == [p["id"] for p in both]

    n = search_number(page)
    page.click('#chips .chip[data-facet="scene"] button')
    shown = wait_search(page, n)
    wider = api_photos(page, web, near="Hangzhou", **{"from": "2023-07-01"}, newest="true", scene=first)
    assert shown == [p["id"] for p in wider] and len(wider) >= len(both)
    assert [p["taken_at"] for p in wider] == sorted((p["taken_at"] for p in wider), reverse=True)
    assert parse_qs(urlparse(page.url).query) == {"near": ["Hangzhou"], "from": ["2023-07-01"], "order": ["newest"],
                                                  "scene": [first]}

    # A month is a fine date for the API but not for a date box: it stays a chip and still filters.
    shown = open_gallery(page, web, "?from=2023-07&to=2023-07")
    assert chips(page) == [("from", "2023-07"), ("to", "2023-07")]
    july = api_photos(page, web, **{"from": "2023-07", "to": "2023-07"})
    assert names(july) >= HANGZHOU_PHOTOS and shown == [p["id"] for p in july]


def test_scrolling_down_loads_the_next_pages_until_every_photo_is_shown(page, web):
    # The sample library fits in one page: ask for pages of 4 so that scrolling has work to do.
    def small_pages(route):
        url = urlparse(route.request.url)
        query = {k: v for k, v in parse_qs(url.query).items() if k != "limit"}
        route.continue_(url=url._replace(query=urlencode({**query, "limit": ["4"]}, doseq=True)).geturl())

    page.set_viewport_size({"width": 1280, "height": 600})
    page.route(re.compile(r".*/api/photos\?.*"), small_pages)
    expected = [p["id"] for p in api_photos(page, web)]
    assert len(expected) > 8
    page.goto(web.url + "/")
    page.wait_for_selector("#results a.thumb")
    # Keep scrolling like a reader would until every page is in: on a busy machine a page can
    # arrive after the scrolling stopped, and then the sentinel sits below the fold until the next wheel.
    done = ("n => document.querySelectorAll('#results a.thumb').length === n "
            "&& document.getElementById('results').dataset.state === 'ready'")
    deadline = time.monotonic() + 60
    while not page.evaluate(done, len(expected)):
        assert time.monotonic() < deadline, f"{page.locator('#results a.thumb').count()} of {len(expected)} shown"
        page.mouse.wheel(0, 5000)
        page.wait_for_timeout(300)
    shown = [int(i) for i in page.eval_on_selector_all("#results a.thumb", "els => els.map((e) => e.dataset.id)")]
    assert shown == expected  # every photo once, in date order
    assert page.inner_text("#result-count") == f"{len(expected)} photos"
    # Each day has one header even when its photos came in two pages.
    days = page.eval_on_selector_all("#results .day", "els => els.map((e) => e.dataset.day)")
    assert len(days) == len(set(days))


def test_how_many_people_and_only_them(page, web):
    open_gallery(page, web)
    n = search_number(page)
    page.fill('#facets input[name="people-count"]', "6")
    page.press('#facets input[name="people-count"]', "Enter")
    shown = wait_search(page, n)
    six = api_photos(page, web, **{"people-count": 6})
    assert names(six) == {"new-york-poker-night.jpg"} and shown == [p["id"] for p in six]

    page.fill('#facets input[name="people-count"]', "")
    page.click(".people-pick summary")
    n = search_number(page)
    page.check(f'#people-options input[value="{web.alice}"]')
    wait_search(page, n)
    n = search_number(page)
    page.check('#facets input[name="only"]')
    shown = wait_search(page, n)
    alone = api_photos(page, web, person=str(web.alice), only="true")
    assert shown == [p["id"] for p in alone] and names(alone) <= {"paris-pink-portrait.jpg", "hangzhou-lake-portrait.jpg"}
    assert parse_qs(urlparse(page.url).query) == {"person": [str(web.alice)], "only": ["true"]}


def test_words_become_chips_and_removing_one_widens_the_search(page, web):
    open_gallery(page, web)
    n = search_number(page)
    page.fill("#nl-input", "photos of Alice in Hangzhou")
    page.press("#nl-input", "Enter")
    shown = wait_search(page, n)
    assert chips(page) == [("person", "Alice"), ("near", "Hangzhou")]
    narrow = api_photos(page, web, person="Alice", near="Hangzhou")
    assert names(narrow) == {"hangzhou-lake-portrait.jpg"} and shown == [p["id"] for p in narrow]
    assert parse_qs(urlparse(page.url).query) == {"person": ["Alice"], "near": ["Hangzhou"]}

    n = search_number(page)
    page.click('#chips .chip[data-facet="near"] button')
    shown = wait_search(page, n)
    assert chips(page) == [("person", "Alice")]
    wide = api_photos(page, web, person="Alice")
    assert shown == [p["id"] for p in wide] and len(wide) > len(narrow)
    assert parse_qs(urlparse(page.url).query) == {"person": ["Alice"]}

    # The chips and the form combine: Alice, and only wide photos.
    n = search_number(page)
    page.select_option('#facets select[name="layout"]', "wide")
    shown = wait_search(page, n)
    assert shown == [p["id"] for p in api_photos(page, web, person="Alice", layout="wide")]


# ---- photo page ---------------------------------------------------------------------------------

def test_the_photo_page_shows_faces_facts_map_rating_and_similar_photos(page, web, artifacts):
    poker = next(p for p in api_photos(page, web) if Path(p["path"]).name == "new-york-poker-night.jpg")
    detail = get(page, web, f"/api/photos/{poker['id']}")
    page.goto(f"{web.url}/photos/{poker['id']}")
    page.wait_for_selector("#facts dt")
    page.wait_for_function("document.getElementById('photo').complete && document.getElementById('photo').naturalWidth > 0")
    boxes = page.locator("#faces .face-box")
    assert boxes.count() == len(detail["faces"]) == 6

    # Each box sits on its face, wherever the picture is scaled to.
    frame = page.locator("#photo").bounding_box()
    scale = frame["width"] / detail["width"]
    for face in detail["faces"]:
        box = page.locator(f'#faces .face-box[data-face-id="{face["id"]}"]').bounding_box()
        x, y, w, _ = face["box"]
        assert abs(box["x"] - (frame["x"] + x * scale)) < 3 and abs(box["width"] - w * scale) < 4
        assert abs(box["y"] - (frame["y"] + y * scale)) < 3

    facts = page.inner_text("#facts")
    for text in ("New York", "2023-10-07 21:30", "Apple iPhone 13", "1280 × 886", detail["description"]):
        assert text in facts, text
    assert page.locator("#facts .swatch").count() == len(detail["colours"])
    page.wait_for_selector("#photo-map path.leaflet-interactive")  # the photo's point

    page.click('#rating button[data-stars="4"]')
    page.wait_for_selector('#rating[data-rating="4"]')
    assert get(page, web, f"/api/photos/{poker['id']}")["rating"] == 4
    page.wait_for_selector("#similar a.thumb")
    page.screenshot(path=str(artifacts / "photo.png"), full_page=True)


def test_a_named_face_links_to_its_person(page, web):
    portrait = next(p for p in api_photos(page, web) if Path(p["path"]).name == "hangzhou-lake-portrait.jpg")
    page.goto(f"{web.url}/photos/{portrait['id']}")
    link = page.locator("#faces .face-box a", has_text="Alice")
    link.wait_for()
    assert link.get_attribute("href") == f"/people/{web.alice}"


# ---- people and person pages ---------------------------------------------------------------------

def unnamed_people(page, web) -> list[dict]:
    return [p for p in get(page, web, "/api/people", unnamed="true") if p["faces"]]


def test_renaming_on_the_people_page_names_them_in_the_gallery_filter(page, web):
    person = unnamed_people(page, web)[0]
    page.goto(web.url + "/people")
    card = page.locator(f'#wall .person[data-id="{person["id"]}"]')
    card.click()
    page.once("dialog", lambda d: d.accept("Carol 卡罗尔"))
    page.click("#rename")
    page.wait_for_function("id => document.querySelector(`#wall .person[data-id=\"${id}\"] .name`)?.textContent === 'Carol 卡罗尔'",
                           arg=person["id"])
    assert any(p["name"] == "Carol 卡罗尔" for p in get(page, web, "/api/people"))

    open_gallery(page, web)
    page.click(".people-pick summary")
    option = page.locator("#people-options label", has=page.locator(f'input[value="{person["id"]}"]'))
    assert "Carol 卡罗尔" in option.inner_text()
    n = search_number(page)
    option.locator("input").check()
    assert wait_search(page, n) == [p["id"] for p in api_photos(page, web, person=str(person["id"]))]


def test_merging_two_people_on_the_people_page_keeps_both_sets_of_faces(page, web, artifacts):
    keep, other = unnamed_people(page, web)[:2]
    faces = {f["id"] for who in (keep, other) for f in get(page, web, f"/api/people/{who['id']}/faces")}
    page.goto(web.url + "/people")
    page.click(f'#wall .person[data-id="{keep["id"]}"]')
    page.click(f'#wall .person[data-id="{other["id"]}"]')
    assert page.locator("#wall .person.selected").count() == 2 and page.is_enabled("#merge")
    page.wait_for_selector("#suggestions #suggestion-list > *")
    page.screenshot(path=str(artifacts / "people.png"), full_page=True)

    page.once("dialog", lambda d: d.accept())
    page.click("#merge")
    page.locator(f'#wall .person[data-id="{other["id"]}"]').wait_for(state="detached")
    assert {f["id"] for f in get(page, web, f"/api/people/{keep['id']}/faces")} == faces
    assert page.request.get(f"{web.url}/api/people/{other['id']}").status == 404
    photos = sum(1 for _ in {f["item_id"] for f in get(page, web, f"/api/people/{keep['id']}/faces")})
    assert page.locator(f'#wall .person[data-id="{keep["id"]}"] .count').inner_text().startswith(f"{photos} photo")


def test_double_clicking_a_person_opens_their_photos(page, web):
    page.goto(web.url + "/people")
    page.dblclick(f'#wall .person[data-id="{web.alice}"]')
    page.wait_for_url(f"**/?person={web.alice}")
    assert wait_search(page, 0) == [p["id"] for p in api_photos(page, web, person=str(web.alice))]


def test_hiding_a_person_and_showing_the_hidden_again(page, web):
    person = next(p for p in get(page, web, "/api/people") if p["faces"] and p["id"] != web.alice)
    card = f'#wall .person[data-id="{person["id"]}"]'
    page.goto(web.url + "/people")
    page.click(card)
    page.click("#hide")
    page.locator(card).wait_for(state="detached")
    assert person["id"] not in {p["id"] for p in get(page, web, "/api/people")}

    page.check("#show-hidden")
    page.locator(f"{card}.hidden-person").wait_for()
    page.click(card)
    assert page.inner_text("#hide").startswith("Unhide")
    page.click("#hide")
    page.wait_for_function("sel => !document.querySelector(sel).classList.contains('hidden-person')", arg=card)
    assert person["id"] in {p["id"] for p in get(page, web, "/api/people")}


def test_a_collage_of_the_selected_person_is_shown(page, web):
    page.goto(web.url + "/people")
    page.click(f'#wall .person[data-id="{web.alice}"]')
    page.click("#collage")
    page.wait_for_function("() => { const i = document.getElementById('collage-image');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=60_000)
    assert page.get_attribute("#collage-image", "src").startswith("/api/collages/")


def test_a_suggested_pair_is_merged_from_the_suggestions_panel(page, web):
    # Split one of Alice's two faces off: the two halves are the likeliest pair there is.
    faces = get(page, web, f"/api/people/{web.alice}/faces")
    assert len(faces) >= 2
    r = page.request.post(f"{web.url}/api/people/{web.alice}/split", data={"face_ids": [faces[-1]["id"]], "name": None})
    assert r.ok, r.text()
    twin = r.json()["id"]
    page.goto(web.url + "/people")
    pair = page.locator(f'#suggestions .suggestion:has(button.merge-suggestion[data-other="{twin}"])')
    pair.wait_for()
    assert pair.locator("img").count() == 2
    pair.locator("button.merge-suggestion").click()
    page.locator(f'#wall .person[data-id="{twin}"]').wait_for(state="detached")
    assert {f["id"] for f in get(page, web, f"/api/people/{web.alice}/faces")} == {f["id"] for f in faces}


def test_the_naming_queue_names_one_person_at_a_time(page, web):
    queue = get(page, web, "/api/people", unnamed="true")
    page.goto(web.url + "/people")
    page.wait_for_selector("#queue-faces img")
    first = page.get_attribute("#queue-faces", "data-id")
    assert first == str(queue[0]["id"])
    if len(queue) > 1:
        page.click("#queue-next")
        page.wait_for_function("id => document.getElementById('queue-faces').dataset.id !== id", arg=first)
        assert page.get_attribute("#queue-faces", "data-id") == str(queue[1]["id"])
    chosen = page.get_attribute("#queue-faces", "data-id")
    page.fill("#queue-name", "Dora")
    page.click("#queue-save")
    page.wait_for_function("id => document.getElementById('queue-faces').dataset.id !== id", arg=chosen)
    assert get(page, web, f"/api/people/{chosen}")["name"] == "Dora"
    assert page.locator(f'#wall .person[data-id="{chosen}"] .name').inner_text() == "Dora"


def test_the_person_page_lists_their_faces_and_keeps_notes(page, web, artifacts):
    faces = get(page, web, f"/api/people/{web.alice}/faces")
    page.goto(f"{web.url}/people/{web.alice}")
    page.wait_for_selector("#person-faces .face")
    assert page.inner_text("#person-name") == "Alice"
    assert sorted(int(i) for i in page.eval_on_selector_all("#person-faces .face", "els => els.map((e) => e.dataset.id)")) \
        == sorted(f["id"] for f in faces)
    assert page.get_attribute("#all-photos", "href") == f"/?person={web.alice}"
    assert page.locator("#person-faces .move-face").count() == len(faces)
    assert page.locator("#person-faces .unassign-face").count() == len(faces)

    page.fill("#note-text", "knows the best tea house by West Lake")
    page.click("#note-add")
    page.locator("#notes li", has_text="knows the best tea house").wait_for()
    assert any(n["text"] == "knows the best tea house by West Lake" for n in get(page, web, f"/api/people/{web.alice}")["notes"])
    page.locator("#person-faces .face img").first.click()
    assert page.is_enabled("#split")
    page.screenshot(path=str(artifacts / "person.png"), full_page=True)


def test_the_person_page_shows_what_the_chats_taught_and_dims_what_a_later_message_replaced(page, web):
    from sqlmodel import select

    from deepdiary.memory.facts import LearntFact, record_fact
    from deepdiary.memory.tables import ChatMeta

    with web.ctx.write() as s:  # as the fact learner stores them, without its minutes of LLM
        said = s.exec(select(ChatMeta).where(ChatMeta.sender == "Alice").order_by(ChatMeta.item_id)).all()
        for meta, value, when in ((said[0], "lives in Lyon", datetime(2023, 5, 18)),
                                  (said[-1], "lives in Paris", datetime(2024, 4, 4))):
            record_fact(s, meta.conversation_id, None, LearntFact("Alice", "fact", "city", value, [meta.item_id], when))
    facts = get(page, web, f"/api/people/{web.alice}")["facts"]
    assert [(f["value"], f["current"]) for f in facts] == [("lives in Paris", True), ("lives in Lyon", False)]

    page.goto(f"{web.url}/people/{web.alice}")
    page.locator("#facts li", has_text="lives in Paris").wait_for()
    assert page.locator("#facts li:not(.replaced)", has_text="lives in Paris").count() == 1
    replaced = page.locator("#facts li.replaced")
    assert replaced.count() == 1 and "lives in Lyon" in replaced.inner_text()
    assert float(replaced.evaluate("e => getComputedStyle(e).opacity")) < 1  # dimmed


def test_splitting_a_face_off_on_the_person_page_makes_a_new_person(page, web):
    group = next(p for p in get(page, web, "/api/people") if p["faces"] >= 1 and p["id"] != web.alice)
    face = get(page, web, f"/api/people/{group['id']}/faces")[0]
    page.goto(f"{web.url}/people/{group['id']}")
    page.click(f'#person-faces .face[data-id="{face["id"]}"] img')
    page.once("dialog", lambda d: d.accept("Eve"))
    page.click("#split")
    page.locator(f'#person-faces .face[data-id="{face["id"]}"]').wait_for(state="detached")
    eve = next(p for p in get(page, web, "/api/people") if p["name"] == "Eve")
    assert [f["id"] for f in get(page, web, f"/api/people/{eve['id']}/faces")] == [face["id"]]


def test_moving_and_unassigning_faces_on_the_person_page(page, web):
    donors = [p for p in get(page, web, "/api/people") if p["faces"] and p["id"] != web.alice and not p["hidden"]]
    source, target = donors[0], donors[1]
    target_name = target["name"] or str(target["id"])
    moved = get(page, web, f"/api/people/{source['id']}/faces")[0]
    page.goto(f"{web.url}/people/{source['id']}")
    page.once("dialog", lambda d: d.accept(target_name))
    page.click(f'#person-faces .face[data-id="{moved["id"]}"] .move-face')
    page.locator(f'#person-faces .face[data-id="{moved["id"]}"]').wait_for(state="detached")
    assert moved["id"] in {f["id"] for f in get(page, web, f"/api/people/{target['id']}/faces")}

    page.goto(f"{web.url}/people/{target['id']}")
    page.locator(f'#person-faces .face[data-id="{moved["id"]}"]').wait_for()
    page.click(f'#person-faces .face[data-id="{moved["id"]}"] .unassign-face')
    page.locator(f'#person-faces .face[data-id="{moved["id"]}"]').wait_for(state="detached")
    assert all(moved["id"] not in {f["id"] for f in get(page, web, f"/api/people/{p['id']}/faces")}
               for p in get(page, web, "/api/people", hidden="true", low_quality="true"))


# ---- upload --------------------------------------------------------------------------------------

def test_an_upload_through_the_page_ingests_the_photo(page, web, artifacts, tmp_path):
    photo = make_photo(tmp_path / "web-upload-lake.jpg", size=(400, 300), background=(30, 90, 210),
                       foreground=(220, 30, 30), taken=datetime(2021, 9, 3, 8, 15), gps=(30.2741, 120.1551))
    page.goto(web.url + "/upload")
    page.set_input_files("#file-input", str(photo))
    job = page.locator('#jobs .job[data-kind="photos"]')
    job.wait_for()
    page.wait_for_selector('#jobs .job[data-kind="photos"][data-status="done"]', timeout=180_000)
    assert "added 1" in job.locator(".result").inner_text()
    assert job.locator("progress").evaluate("p => p.value === p.max")
    uploaded = [p for p in api_photos(page, web) if Path(p["path"]).name == "web-upload-lake.jpg"]
    assert len(uploaded) == 1 and uploaded[0]["place"]["city"] == "Hangzhou"
    page.screenshot(path=str(artifacts / "upload.png"), full_page=True)


def test_an_unreadable_upload_reports_the_file_and_why(page, web, tmp_path):
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_bytes(b"this is not a JPEG")
    page.goto(web.url + "/upload")
    page.select_option("#kind", "photos")
    page.set_input_files("#file-input", str(bad))
    page.wait_for_selector('#jobs .job[data-status="done"], #jobs .job[data-status="failed"]', timeout=120_000)
    problems = page.inner_text("#jobs .job .problems")
    assert "not-a-photo.jpg" in problems and "not a readable image" in problems


def test_a_folder_upload_makes_one_job_per_kind(page, web, samples, tmp_path):
    folder = tmp_path / "trip"
    make_photo(folder / "day1" / "web-folder-beach.jpg", taken=datetime(2013, 7, 6, 18), gps=(50.7772, 6.0820),
               background=(240, 220, 160))
    (folder / "tracks").mkdir()
    (folder / "tracks" / "walk.gpx").write_bytes((samples / "gps" / "gpxpy" / "track-with-empty-segment.gpx").read_bytes())
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    page.goto(web.url + "/upload")
    page.set_input_files("#folder-input", str(folder))
    for kind in ("photos", "locations"):
        page.wait_for_selector(f'#jobs .job[data-kind="{kind}"][data-status="done"]', timeout=180_000)
        assert "added 1" in page.inner_text(f'#jobs .job[data-kind="{kind}"] .result')
    assert page.locator("#jobs .job").count() == 2  # the dot file is left out
    assert "web-folder-beach.jpg" in names(api_photos(page, web))


def test_dropped_files_are_uploaded(page, web, tmp_path):
    photo = make_photo(tmp_path / "web-dropped.jpg", taken=datetime(2020, 2, 2, 12), background=(20, 160, 60))
    page.goto(web.url + "/upload")
    # A drop made in script carries files but no folder entries: the page takes them from dataTransfer.files.
    page.evaluate("""async ([name, bytes]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], name, {type: "image/jpeg"}));
      const zone = document.getElementById("dropzone");
      zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true, cancelable: true}));
      zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
    }""", ["web-dropped.jpg", list(photo.read_bytes())])
    page.wait_for_selector('#jobs .job[data-kind="photos"][data-status="done"]', timeout=180_000)
    assert "web-dropped.jpg" in names(api_photos(page, web))


def test_a_chat_export_and_a_diary_go_in_as_what_they_are(page, web, tmp_path):
    chat = tmp_path / "Carol.json"
    chat.write_text(json.dumps({"conversation": "Carol", "owner": "me", "messages": [
        {"id": "c1", "time": "2023-07-14T20:00:00", "sender": "Carol", "text": "Did you see the lotus on West Lake?"},
        {"id": "c2", "time": "2023-07-14T20:01:00", "sender": "me", "text": "Yes, pink everywhere!"}]}), encoding="utf-8")
    diary = tmp_path / "journal.md"
    diary.write_text("# 2023-07-15\nRowed a boat on West Lake at dawn; the herons were out.\n", encoding="utf-8")
    page.goto(web.url + "/upload")
    page.set_input_files("#file-input", str(chat))  # guessed from the name: a chat export
    page.wait_for_selector('#jobs .job[data-kind="chats"][data-status="done"]', timeout=180_000)
    page.select_option("#kind", "diary")
    page.set_input_files("#file-input", str(diary))
    page.wait_for_selector('#jobs .job[data-kind="diary"][data-status="done"]', timeout=180_000)
    for kind in ("chats", "diary"):
        assert "failed 0" in page.inner_text(f'#jobs .job[data-kind="{kind}"] .result')
    assert get(page, web, "/api/chats", q="lotus West Lake", limit=5)
    assert any("herons" in json.dumps(hit) for hit in get(page, web, "/api/chats", q="herons", diary="true", limit=5))


def test_a_missing_photo_or_person_says_so(page, web):
    page.goto(web.url + "/photos/987654")
    page.locator("#facts .error", has_text="987654").wait_for()
    assert page.locator("#toast.error").inner_text() == page.inner_text("#facts .error")
    assert not page.is_visible(".photo-frame") and not page.is_visible("#similar-section")
    page.goto(web.url + "/people/987654")
    page.locator("#person-name", has_text="987654").wait_for()
    assert not page.is_visible("#person-faces")
