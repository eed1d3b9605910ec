"""The CLI's --json output, byte for byte, over one fixed library.

The golden files were written by the CLI before the services layer existed; a change in
any of them is a change a script reading our JSON would notice. ``DEEPDIARY_GOLDEN_WRITE``
names a folder to write them to instead of comparing (only to record a deliberate change).
"""

import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.photo_factory import make_photo

GOLDEN = Path(__file__).with_name("golden")

COMMANDS = {
    "search_photos_all": ["search", "photos"],
    "search_photos_near": ["search", "photos", "--near", "Hangzhou", "--from", "2023-07", "--to", "2023-07"],
    "search_photos_colour": ["search", "photos", "--color", "fg:red", "--layout", "wide", "--newest"],
    "search_photos_radius": ["search", "photos", "--near", "30.27,120.15", "--radius", "10", "-n", "2"],
    "search_photos_person": ["search", "photos", "--person", "Obama"],
    "show_1": ["show", "1"],
    "people_list": ["people", "list"],
    "people_faces": ["people", "faces", "Obama"],
    "search_chats": ["search", "chats", "什么时候吃饭", "-n", "3"],
    "search_chats_context": ["search", "chats", "hello", "--context", "1", "-n", "2"],
    "events": ["events"],
    "graph_met_most": ["graph", "met-most"],
    "category_list": ["category", "list"],
    "duplicates": ["duplicates"],
}


def _cli(lib: Path, *args: str, cwd: Path | None = None) -> str:
    # The goldens were recorded with dlib's HOG detector, before RetinaFace became the
    # default; the boxes are the detector's, the JSON around them is the CLI's.
    env = {**os.environ, "COLUMNS": "250", "DEEPDIARY_FACE_DETECTOR": "hog"}
    done = subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], capture_output=True,
                          text=True, env=env, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def golden_library(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp("golden")
    photos, lib = root / "photos", root / "lib"
    make_photo(photos / "lake.jpg", taken=datetime(2023, 7, 14, 9, 30), gps=(30.2741, 120.1551),
               make="Apple", model="iPhone 13", background=(30, 90, 210), foreground=(220, 30, 30))
    make_photo(photos / "hill.jpg", size=(240, 320), taken=datetime(2023, 7, 15, 16, 0), gps=(30.25, 120.12),
               background=(40, 160, 60))
    make_photo(photos / "paris.jpg", size=(400, 240), taken=datetime(2022, 5, 1, 12, 0), gps=(48.8566, 2.3522),
               background=(240, 240, 240), foreground=(220, 30, 30))
    make_photo(photos / "copy" / "lake-again.jpg", taken=datetime(2023, 7, 14, 9, 30), gps=(30.2741, 120.1551),
               make="Apple", model="iPhone 13", background=(30, 90, 210), foreground=(220, 30, 30))
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        shutil.copy(samples / "faces" / name, photos / name)
    cwd = Path.cwd()
    _cli(lib, "ingest", "photos", str(photos), "--json", cwd=cwd)
    _cli(lib, "ingest", "chats", str(samples / "chats" / "weclone_test_person_pywxdump.csv"), "--json", cwd=cwd)
    people = __import__("json").loads(_cli(lib, "people", "list", "--json", cwd=cwd))
    biggest = max(people, key=lambda p: (p["faces"], -p["id"]))
    _cli(lib, "people", "name", str(biggest["id"]), "Obama", "--json", cwd=cwd)
    return root, lib, samples


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_json_output_is_unchanged(golden_library, name):
    root, lib, samples = golden_library
    text = _cli(lib, *COMMANDS[name], "--json").replace(str(root), "<TMP>")
    text = text.replace(str(samples.resolve()), "<SAMPLES>").replace(str(samples), "<SAMPLES>")
    target = os.environ.get("DEEPDIARY_GOLDEN_WRITE")
    if target:
        Path(target, f"{name}.json").write_text(text)
        return
    assert text == (GOLDEN / f"{name}.json").read_text()
