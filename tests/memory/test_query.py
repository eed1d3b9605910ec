"""Faceted photo search over a real library of rendered photos with real EXIF."""

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from deepdiary.core.dates import parse_date_bound
from deepdiary.memory.items import set_rating
from deepdiary.memory.query import ColourFacet, PhotoQuery, search_photos
from deepdiary.memory.tables import ItemPath, ItemTag
from deepdiary.pipeline.ingest import PhotoIngester
from tests.photo_factory import make_photo

HANGZHOU, PARIS, FLORENCE, BEIJING = (30.2741, 120.1551), (48.8566, 2.3522), (43.7696, 11.2558), (39.9042, 116.4074)
BLUE, RED, GREEN, YELLOW, WHITE, BLACK = (30, 90, 210), (220, 30, 30), (40, 160, 40), (250, 215, 20), (250, 250, 250), (15, 15, 15)
ORANGE, BROWN, PINK = (245, 130, 20), (110, 65, 30), (240, 140, 180)

PHOTOS = {
    "hz1.jpg": dict(size=(320, 240), background=BLUE, foreground=RED, taken=datetime(2023, 7, 14, 9), gps=HANGZHOU, make="Apple", model="iPhone 13"),
    "hz2.jpg": dict(size=(240, 320), background=GREEN, foreground=YELLOW, taken=datetime(2023, 7, 15, 10), gps=HANGZHOU, make="Apple", model="iPhone 13"),
    "hz3.jpg": dict(size=(300, 300), background=WHITE, foreground=BLACK, taken=datetime(2023, 7, 16, 18), gps=HANGZHOU, make="FUJIFILM", model="X100V"),
    "paris.jpg": dict(size=(320, 200), background=BLUE, foreground=ORANGE, taken=datetime(2022, 5, 1, 12), gps=PARIS, make="Canon", model="EOS R6"),
    "florence.jpg": dict(size=(200, 320), background=BROWN, taken=datetime(2024, 3, 10, 15), gps=FLORENCE, make="Canon", model="EOS R6"),
    "nogps.jpg": dict(size=(320, 240), background=PINK, taken=datetime(2023, 7, 20, 8), make="Apple", model="iPhone 13"),
    "beijing.jpg": dict(size=(400, 240), background=WHITE, foreground=RED, taken=datetime(2023, 12, 25, 20), gps=BEIJING, make="FUJIFILM", model="X-T4"),
}


@pytest.fixture(scope="module")
def photo_library(tmp_path_factory):
    from deepdiary.memory.library import Library
    from deepdiary.core.settings import Settings

    root = tmp_path_factory.mktemp("query")
    for name, spec in PHOTOS.items():
        make_photo(root / "photos" / name, **spec)
    lib = Library.open(Settings(home=root / "lib"))
    report = PhotoIngester(lib).run([root / "photos"])
    assert report.added == len(PHOTOS)
    ids = {}
    with lib.session() as s:
        for p in s.exec(__import__("sqlmodel").select(ItemPath)):
            ids[Path(p.path).name] = p.item_id
        set_rating(s, ids["hz1.jpg"], 5)
        set_rating(s, ids["paris.jpg"], 3)
        s.add(ItemTag(item_id=ids["hz1.jpg"], name="lake", name_zh="湖", kind="user"))
        s.add(ItemTag(item_id=ids["hz2.jpg"], name="lake", name_zh="湖", kind="user"))
        s.add(ItemTag(item_id=ids["hz2.jpg"], name="boat", name_zh="船", kind="user"))
    yield lib, ids
    lib.close()


def names(photo_library, **facets) -> list[str]:
    lib, _ = photo_library
    with lib.session() as s:
        page = search_photos(s, PhotoQuery(**facets), lib)
    return [Path(r.path).name for r in page.results]


def test_date_range(photo_library):
    july = dict(date_from=parse_date_bound("2023-07"), date_to=parse_date_bound("2023-07", end=True))
    assert names(photo_library, **july) == ["hz1.jpg", "hz2.jpg", "hz3.jpg", "nogps.jpg"]
    assert names(photo_library, date_from=parse_date_bound("2023-07-15"), date_to=parse_date_bound("2023-07-15", end=True)) == ["hz2.jpg"]
    assert names(photo_library, date_to=parse_date_bound("2022", end=True)) == ["paris.jpg"]


def test_place_names_in_english_and_chinese(photo_library):
    assert names(photo_library, place="Hangzhou") == ["hz1.jpg", "hz2.jpg", "hz3.jpg"]
    assert names(photo_library, place="杭州") == ["hz1.jpg", "hz2.jpg", "hz3.jpg"]
    assert names(photo_library, place="浙江省") == ["hz1.jpg", "hz2.jpg", "hz3.jpg"]
    assert names(photo_library, place="china") == ["hz1.jpg", "hz2.jpg", "hz3.jpg", "beijing.jpg"]
    assert names(photo_library, place="中国") == ["hz1.jpg", "hz2.jpg", "hz3.jpg", "beijing.jpg"]
    assert names(photo_library, place="Tuscany") == ["florence.jpg"]
    assert names(photo_library, place="FR") == ["paris.jpg"]
    assert names(photo_library, place="Atlantis") == []


def test_radius(photo_library):
    assert names(photo_library, near_lat=48.86, near_lon=2.34, radius_km=5) == ["paris.jpg"]
    # Florence and Paris are 886 km apart.
    assert names(photo_library, near_lat=43.77, near_lon=11.25, radius_km=800) == ["florence.jpg"]
    assert names(photo_library, near_lat=43.77, near_lon=11.25, radius_km=900) == ["paris.jpg", "florence.jpg"]


def test_weekdays(photo_library):
    # Sunday is 0 in SQL's %w but 6 here: hz1 is a Friday, hz2 a Saturday, hz3, Paris and Florence Sundays.
    assert names(photo_library, weekdays=[5, 6]) == ["paris.jpg", "hz2.jpg", "hz3.jpg", "florence.jpg"]
    assert names(photo_library, weekdays=[0]) == ["beijing.jpg"]
    assert names(photo_library, weekdays=[3, 4], layout="wide") == ["hz1.jpg", "nogps.jpg"]
    assert names(photo_library, weekdays=[6], date_from=datetime(2023, 1, 1)) == ["hz3.jpg", "florence.jpg"]
    assert names(photo_library, weekdays=[1, 2]) == []


def test_layout(photo_library):
    assert names(photo_library, layout="tall") == ["hz2.jpg", "florence.jpg"]
    assert names(photo_library, layout="square") == ["hz3.jpg"]
    assert names(photo_library, layout="wide") == ["paris.jpg", "hz1.jpg", "nogps.jpg", "beijing.jpg"]


def test_colour_by_region(photo_library):
    assert names(photo_library, colours=[ColourFacet(name="blue", region="background")]) == ["paris.jpg", "hz1.jpg"]
    assert names(photo_library, colours=[ColourFacet(name="red", region="foreground")]) == ["hz1.jpg", "beijing.jpg"]
    assert names(photo_library, colours=[ColourFacet(name="red", region="background")]) == []
    assert names(photo_library, colours=[ColourFacet(name="orange", region="foreground")]) == ["paris.jpg"]
    assert names(photo_library, colours=[ColourFacet(name="pink")]) == ["nogps.jpg"]
    assert names(photo_library, colours=[ColourFacet(name="white", region="background"),
                                         ColourFacet(name="black", region="foreground")]) == ["hz3.jpg"]


def test_camera_rating_and_tags(photo_library):
    assert names(photo_library, camera="fujifilm") == ["hz3.jpg", "beijing.jpg"]
    assert names(photo_library, camera="EOS") == ["paris.jpg", "florence.jpg"]
    assert names(photo_library, min_rating=4) == ["hz1.jpg"]
    assert names(photo_library, min_rating=3) == ["paris.jpg", "hz1.jpg"]
    assert names(photo_library, tags=["lake"]) == ["hz1.jpg", "hz2.jpg"]
    assert names(photo_library, tags=["湖", "boat"]) == ["hz2.jpg"]


def test_three_facets_and_paging(photo_library):
    facets = dict(date_from=datetime(2023, 1, 1), layout="wide", colours=[ColourFacet(name="red", region="foreground")])
    assert names(photo_library, **facets) == ["hz1.jpg", "beijing.jpg"]
    assert names(photo_library, limit=3) == ["paris.jpg", "hz1.jpg", "hz2.jpg"]
    assert names(photo_library, limit=3, offset=3) == ["hz3.jpg", "nogps.jpg", "beijing.jpg"]
    assert names(photo_library, limit=2, newest_first=True) == ["florence.jpg", "beijing.jpg"]


def test_cli_json_is_the_same_search(photo_library):
    lib, ids = photo_library
    out = subprocess.run(
        [sys.executable, "-m", "deepdiary", "--library", str(lib.settings.library_dir), "search", "photos",
         "--near", "杭州", "--colour", "fg:红色", "--from", "2023-07", "--to", "2023-07", "--json"],
        capture_output=True, text=True, check=True,
    )
    results = json.loads(out.stdout)  # stdout holds nothing but the JSON
    assert [r["id"] for r in results] == [ids["hz1.jpg"]]
    hit = results[0]
    assert hit["place"]["city"] == "Hangzhou" and hit["place"]["city_zh"] == "杭州"
    assert hit["taken_at"] == "2023-07-14T09:00:00"
    assert Path(hit["path"]).name == "hz1.jpg"
    if lib.blobs.local_root is not None:  # a folder store names the file; an S3 one its s3:// key
        assert Path(hit["thumbnail"]).is_file()
    else:
        assert hit["thumbnail"].startswith("s3://") and lib.blobs.exists(lib.blobs.ref_at(hit["thumbnail"]))


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    """Forty photos over three cities and nowhere, three layouts, two colours, a few rated and
    a few undated, so that a small date window fills, falls short and falls back."""
    from sqlalchemy import update

    from deepdiary.core.settings import Settings
    from deepdiary.memory.library import Library
    from deepdiary.memory.tables import Item

    root = tmp_path_factory.mktemp("window")
    cities = [HANGZHOU, PARIS, BEIJING, None]
    sizes = [(320, 240), (240, 320), (300, 300)]
    for i in range(40):
        spec = dict(size=sizes[i % 3], background=BLUE if i % 4 < 2 else RED, taken=datetime(2020 + i % 5, 1 + i % 12, 1 + i % 27, 9),
                    make="Canon" if i % 5 == 0 else "Apple", model="EOS R6" if i % 5 == 0 else "iPhone 13")
        if cities[i % 4]:
            spec["gps"] = cities[i % 4]
        make_photo(root / "photos" / f"p{i:02d}.jpg", **spec)
    lib = Library.open(Settings(home=root / "lib"))
    assert PhotoIngester(lib).run([root / "photos"]).added == 40
    with lib.session() as s:
        ids = {Path(p.path).name: p.item_id for p in s.exec(__import__("sqlmodel").select(ItemPath))}
        for i in range(0, 40, 3):
            set_rating(s, ids[f"p{i:02d}.jpg"], 4)
        s.exec(update(Item).where(Item.id.in_([ids[f"p{i:02d}.jpg"] for i in (1, 6, 13, 22)])).values(taken_at=None))
        s.commit()
    yield lib
    lib.close()


WINDOW_QUERIES = [
    dict(place="Hangzhou"), dict(place="杭州", layout="wide"), dict(min_rating=4),
    dict(near_lat=PARIS[0], near_lon=PARIS[1], radius_km=30, colours=[ColourFacet(name="blue", region="image")]),
    dict(camera="canon"), dict(date_from=datetime(2021, 1, 1), date_to=datetime(2023, 6, 30), layout="tall"),
    dict(colours=[ColourFacet(name="red", region="image")], layout="square"),
]


@pytest.mark.parametrize("window", [1, 5, 1_000_000])
def test_a_page_is_the_same_however_far_the_date_window_reaches(many_photos, monkeypatch, window):
    # The date window (memory/query.py) must give the page the planner's own plan gives: the same
    # photos in the same order, undated ones where the database puts them, for every depth.
    import deepdiary.memory.query as query

    lib = many_photos

    def page(facets, planner: bool):
        with monkeypatch.context() as m:
            m.setattr(query, "DATE_WINDOW", window)
            m.setattr(query, "WINDOW_PER_RESULT", 1)
            if planner:
                m.setattr(query, "_ids_in_date_window", lambda *a: None)
            with lib.session() as s:
                p = search_photos(s, PhotoQuery(**facets), lib)
        return [r.id for r in p.results], p.has_more

    seen = 0
    for facets in WINDOW_QUERIES:
        for newest in (False, True):
            everything, _ = page(dict(facets, newest_first=newest, limit=100), planner=True)
            assert everything, facets
            for limit, offset in ((1, 0), (3, 0), (3, 2), (4, 5), (50, 0)):
                f = dict(facets, newest_first=newest, limit=limit, offset=offset)
                assert page(f, planner=False) == page(f, planner=True), f
                assert page(f, planner=False)[0] == everything[offset:offset + limit]
                seen += 1
    assert seen == len(WINDOW_QUERIES) * 10
