"""Enrichment on real photos with the real models: people, tags, scenes, similar photos,
near-duplicates, text queries in English and Chinese, descriptions, categories, collages."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn.datasets
from PIL import Image, ImageEnhance

SKLEARN_IMAGES = Path(sklearn.datasets.__file__).parent / "images"


def cli(lib: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args],
                          capture_output=True, text=True, check=check, env=env)


def cli_json(lib: Path, *args: str):
    return json.loads(cli(lib, *args, "--json").stdout)


def names(results) -> list[str]:
    return [Path(r["path"]).name for r in results]


@pytest.fixture(scope="module")
def enriched(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp("enrich")
    photos = root / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg"):
        shutil.copy(samples / "faces" / name, photos / name)
    for name in ("china.jpg", "flower.jpg"):
        shutil.copy(SKLEARN_IMAGES / name, photos / name)
    exif = samples / "photos" / "exif-samples" / "jpg"
    for rel in ("Canon_40D.jpg", "gps/DSCN0010.jpg", "gps/DSCN0012.jpg", "hdr/iphone_hdr_YES.jpg"):
        shutil.copy(exif / rel, photos / Path(rel).name)
    # Near-duplicates of the castle: a smaller re-save and a brightened edit.
    castle = Image.open(photos / "DSCN0010.jpg")
    castle.resize((320, 240)).save(photos / "castle-small.jpg", quality=70)
    ImageEnhance.Brightness(castle).enhance(1.15).save(photos / "castle-bright.jpg", quality=85)
    lib = root / "lib"
    report = cli_json(lib, "ingest", "photos", str(photos))
    assert report["added"] == 12 and report["enrich"]["failures"] == []
    return lib, photos


def test_faces_become_people(enriched):
    lib, _ = enriched
    people = cli_json(lib, "people", "list")
    by_photos = {}
    for p in people:
        faces = cli_json(lib, "people", "faces", str(p["id"]))
        by_photos[p["id"]] = sorted(Path(f["path"]).name for f in faces)
    groups = sorted(by_photos.values())
    assert ["obama.jpg", "obama2.jpg"] in groups
    assert ["biden.jpg"] in groups
    assert groups.count(["t1.jpg"]) == 6  # six faces, six different people
    assert len(people) == 8


def test_named_person_search(enriched):
    lib, _ = enriched
    obama = next(p for p in cli_json(lib, "people", "list") if p["photos"] == 2)
    cli(lib, "people", "name", str(obama["id"]), "Obama", "--alias", "奥巴马")
    assert names(cli_json(lib, "search", "photos", "--person", "Obama")) == ["obama2.jpg", "obama.jpg"]
    assert names(cli_json(lib, "search", "photos", "--person", "奥巴马", "--only")) == ["obama2.jpg", "obama.jpg"]
    assert names(cli_json(lib, "search", "photos", "--people-count", "6")) == ["t1.jpg"]
    assert sorted(names(cli_json(lib, "search", "photos", "--any-person"))) == ["biden.jpg", "obama.jpg", "obama2.jpg", "t1.jpg"]
    # The description follows the name.
    shown = cli_json(lib, "show", str(cli_json(lib, "search", "photos", "--person", "Obama")[0]["id"]))
    assert shown["description"].startswith("Obama") and shown["description_zh"].startswith("2009年9月")
    assert shown["faces"][0]["person"] == "Obama"


def test_user_moves_survive_reclustering(enriched):
    lib, _ = enriched
    obama = next(p for p in cli_json(lib, "people", "list") if p["name"] == "Obama")
    faces = cli_json(lib, "people", "faces", "Obama")
    moved = next(f for f in faces if Path(f["path"]).name == "obama.jpg")
    split = cli_json(lib, "people", "split", str(moved["id"]))
    assert split["id"] != obama["id"]
    cli(lib, "people", "recluster")
    assert [Path(f["path"]).name for f in cli_json(lib, "people", "faces", "Obama")] == ["obama2.jpg"]
    assert [f["id"] for f in cli_json(lib, "people", "faces", str(split["id"]))] == [moved["id"]]
    # Merging back is the user's call too, and the name stays.
    merged = cli_json(lib, "people", "merge", "Obama", str(split["id"]))
    assert merged["name"] == "Obama"
    cli(lib, "people", "recluster")
    assert sorted(Path(f["path"]).name for f in cli_json(lib, "people", "faces", "Obama")) == ["obama.jpg", "obama2.jpg"]


def test_tags_and_scenes_in_english_and_chinese(enriched):
    lib, _ = enriched
    assert names(cli_json(lib, "search", "photos", "--tag", "green iguana")) == ["Canon_40D.jpg"]
    assert names(cli_json(lib, "search", "photos", "--tag", "daisy")) == ["flower.jpg"]
    castles = ["DSCN0010.jpg", "castle-small.jpg", "castle-bright.jpg"]
    tagged_castle = names(cli_json(lib, "search", "photos", "--tag", "castle"))
    assert set(castles) <= set(tagged_castle)
    assert names(cli_json(lib, "search", "photos", "--tag", "城堡")) == tagged_castle
    assert names(cli_json(lib, "search", "photos", "--scene", "animal")) == ["Canon_40D.jpg"]
    assert names(cli_json(lib, "search", "photos", "--scene", "动物")) == ["Canon_40D.jpg"]
    assert names(cli_json(lib, "search", "photos", "--scene", "合影")) == ["t1.jpg"]
    assert names(cli_json(lib, "search", "photos", "--scene", "indoor")) == ["t1.jpg"]
    # (The 320-px re-save of the castle is too small for the model to be sure of the building.)
    assert set(names(cli_json(lib, "search", "photos", "--scene", "building"))) >= {
        "china.jpg", "DSCN0010.jpg", "castle-bright.jpg"}
    shown = cli_json(lib, "show", str(cli_json(lib, "search", "photos", "--tag", "green iguana")[0]["id"]))
    labels = [t for t in shown["tags"] if t["kind"] == "tag"]
    assert labels[0]["name"] == "green iguana" and 0.1 < labels[0]["score"] < 1
    assert {t["name_zh"] for t in shown["tags"] if t["kind"] == "scene"} == {"动物", "户外"}


def test_similar_photos_and_duplicates(enriched):
    lib, photos = enriched
    castle = cli_json(lib, "search", "photos", "--tag", "castle")
    original = next(r for r in castle if Path(r["path"]).name == "DSCN0010.jpg")
    similar = names(cli_json(lib, "search", "photos", "--like", str(original["id"]), "--limit", "2"))
    assert sorted(similar) == ["castle-bright.jpg", "castle-small.jpg"]
    # An image file that is not in the library works too.
    outside = photos.parent / "outside.jpg"
    Image.open(photos / "flower.jpg").rotate(3).save(outside)
    assert names(cli_json(lib, "search", "photos", "--like", str(outside), "--limit", "1")) == ["flower.jpg"]
    groups = cli_json(lib, "duplicates")
    assert [sorted(Path(i["path"]).name for i in g["items"]) for g in groups] == [
        ["DSCN0010.jpg", "castle-bright.jpg", "castle-small.jpg"]]


CASTLES = ["DSCN0010.jpg", "castle-small.jpg", "castle-bright.jpg"]


@pytest.mark.parametrize("query,expected,within", [
    ("lizard", ["Canon_40D.jpg"], 1),
    ("flower", ["flower.jpg"], 1),
    ("花", ["flower.jpg"], 1),
    # The palace in china.jpg is castle-like too, so the three castles fill the top four.
    ("castle", CASTLES, 4),
    ("城堡", CASTLES, 4),
    ("a group of people", ["t1.jpg"], 1),
    ("合影", ["t1.jpg"], 1),
    ("a man in a suit", ["obama.jpg", "obama2.jpg", "biden.jpg"], 3),
    ("穿西装的男人", ["obama.jpg", "obama2.jpg", "biden.jpg"], 3),
])
def test_text_query(enriched, query, expected, within):
    lib, _ = enriched
    found = names(cli_json(lib, "search", "photos", "--query", query, "--limit", str(within)))
    assert set(expected) <= set(found)
    assert found[0] in expected


def test_categories_learn_from_corrections(enriched):
    lib, _ = enriched
    ids = {Path(r["path"]).name: r["id"] for r in cli_json(lib, "search", "photos", "--limit", "100")}
    cli_json(lib, "category", "add", "portraits", str(ids["obama.jpg"]))
    cli_json(lib, "category", "add", "travel", str(ids["DSCN0010.jpg"]))
    predicted = {n: cli_json(lib, "show", str(i))["category"] for n, i in ids.items()}
    assert predicted["obama2.jpg"]["name"] == "portraits" and predicted["obama2.jpg"]["source"] == "auto"
    assert predicted["biden.jpg"]["name"] == "portraits"
    assert predicted["castle-small.jpg"]["name"] == "travel"
    assert predicted["obama.jpg"] == {"name": "portraits", "source": "user", "confidence": 1.0}
    # A correction moves that photo and retrains: a third category now claims its look-alike.
    cli_json(lib, "category", "set", str(ids["flower.jpg"]), "nature")
    assert cli_json(lib, "show", str(ids["flower.jpg"]))["category"]["source"] == "user"
    assert cli_json(lib, "show", str(ids["iphone_hdr_YES.jpg"]))["category"]["name"] == "nature"
    assert names(cli_json(lib, "search", "photos", "--category", "portraits")) == ["obama2.jpg", "obama.jpg", "biden.jpg"] or \
        set(names(cli_json(lib, "search", "photos", "--category", "portraits"))) >= {"obama.jpg", "obama2.jpg", "biden.jpg"}


def test_collages(enriched, tmp_path):
    lib, _ = enriched
    out = tmp_path / "obama.jpg"
    made = cli_json(lib, "collage", "Obama", "--ratio", "16:9", "--width", "1280", "-o", str(out))
    assert made["faces"] == 2 and made["width"] == 1280
    assert Image.open(out).size == (1280, made["height"])
    group = cli_json(lib, "collage", "--photo", str(cli_json(lib, "search", "photos", "--people-count", "6")[0]["id"]),
                     "--ratio", "3:2", "--width", "900", "-o", str(tmp_path / "class.jpg"))
    assert group["faces"] == 6 and abs(group["height"] - 600) < 200
    img = Image.open(tmp_path / "class.jpg").convert("L")
    assert img.getextrema()[0] < 100  # real face pixels, not an empty canvas
