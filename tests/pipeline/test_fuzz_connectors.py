"""Every connector fuzzed on mutated real samples, through the ingest a user runs.

The seeds are real files: the shared sample data (``samples`` and ``exif_samples``: camera
JPEGs and TIFFs, PyWxDump exports, GPX, KML, Google Takeout) and the hand-written samples
in tests/connectors/samples (MemoTrace CSV and TXT, the JSON chat format, diaries, and one
file for each of the other location readers). Hypothesis mutates one seed per case (bytes
flipped, ranges cut, repeated or moved, the file truncated, tokens that parsers trip on
inserted) and the pipeline's ingester reads it into a real library. Whatever the bytes,
the run must end with a report: every problem names the file and gives a reason, nothing
raises, no file takes past the per-file time limit, and memory stays bounded.

The cases are derandomized, so CI runs the same ones every time, and few enough that this
file takes well under a minute on two cores. ``FUZZ_CASES`` below is the count per connector.
"""

from __future__ import annotations

import re
import resource
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from deepdiary.core.settings import Settings
from deepdiary.core.text import path_key
from deepdiary.memory.library import Library
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester, TrackIngester

HAND_SAMPLES = Path(__file__).resolve().parents[1] / "connectors" / "samples"
FILE_SECONDS = 10.0  # the per-file time limit the fuzzed library runs with
SLACK_SECONDS = 10.0  # storing and indexing one small file on a busy two-core machine
MEMORY_GROWTH_MB = 1024  # what the whole file may add to the process's peak memory

UNEXPECTED_EXCEPTION = re.compile(r"^[A-Z]\w*(Error|Exception|Warning|Exit|Interrupt)\b")

FUZZ_CASES = {"photos": 150, "chats": 100, "diary": 50, "gpx": 80, "kml": 60, "takeout": 60, "locations": 100}

# What parsers trip on: stray markup, broken encodings, impossible numbers and dates,
# entity declarations, separators in the wrong place.
TOKENS = [
    b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3\x28", b"\xed\xa0\x80", b"<", b">", b"&", b"&amp", b"]]>",
    b"<![CDATA[", b"</", b'"', b"'", b",", b";", b"\t", b"\n", b"\r", b"{", b"}", b"[", b"]", b":", b"null",
    b"-1e999", b"1e309", b"NaN", b"-0", b"99999999999999999999999", b"-2147483649", b"0x7fffffff",
    b"1901-12-13T20:45:52Z", b"2038-01-19T03:14:08Z", b"0000-00-00 00:00:00", b"9999-12-31", b"1826-01-01",
    b"lat=\"91\"", b"lon=\"-181\"", b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]>", b"&a;", "中文消息".encode(),
    "😀".encode(), b"\xff\xd8\xff\xe1", b"Exif\x00\x00MM\x00*", b"\x89PNG", b"II*\x00", b"\xff" * 64,
]

edit = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 8), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("cut"), st.floats(0, 1), st.integers(1, 4096), st.just(b"")),
    st.tuples(st.just("repeat"), st.floats(0, 1), st.integers(1, 2048), st.just(b"")),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(1, 3), st.sampled_from(TOKENS)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0), st.just(b"")),
)
edits = st.lists(edit, min_size=1, max_size=6)


def mutate(data: bytes, changes) -> bytes:
    out = bytearray(data)
    for kind, where, size, token in changes:
        at = int(where * len(out))
        if kind == "flip":
            out[at:at + len(token)] = token
        elif kind == "cut":
            del out[at:at + size]
        elif kind == "repeat":
            out[at:at] = out[at:at + size] * 3
        elif kind == "insert":
            out[at:at] = token * size
        else:
            del out[at:]
    return bytes(out)


@pytest.fixture(scope="module")
def fuzz_library():
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Settings(home=Path(tmp) / "lib", file_read_seconds=FILE_SECONDS, max_file_mb=16))
        yield lib, Path(tmp)
        lib.close()


@pytest.fixture(scope="module")
def memory_baseline():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def seeds(*folders_and_patterns, largest: int = 128 * 1024) -> list[Path]:
    found = []
    for folder, pattern in folders_and_patterns:
        found += [p for p in Path(folder).glob(pattern) if p.is_file() and p.stat().st_size <= largest]
    assert found, f"no seed files in {folders_and_patterns}"
    return sorted(found)


def ingest_mutated(lib: Library, root: Path, seed: Path, changes, ingester, memory_baseline) -> None:
    """Write the mutated seed into a fresh folder, ingest the folder, and check the report."""
    folder = Path(tempfile.mkdtemp(dir=root))
    name = seed.name if not seed.name.startswith(".") else seed.name.lstrip(".")
    target = folder / name
    target.write_bytes(mutate(seed.read_bytes(), changes))

    started = time.monotonic()
    report = ingester(lib).run([folder])  # raising anything fails the case
    took = time.monotonic() - started

    assert took < FILE_SECONDS + SLACK_SECONDS, f"{seed.name}: the ingest took {took:.1f} s"
    allowed = {path_key(target.resolve()), path_key(lib.settings.library_dir)}
    for p in report.problems:
        assert p.path in allowed, (p.path, p.reason)
        assert p.reason and p.reason.strip(), p
        p.reason.encode("utf-8")  # printable wherever it is shown
        assert "Traceback" not in p.reason
        # The ingesters' last-resort handlers report an exception no reader expected as
        # "KeyError: ..."; under fuzzing every failure must be one a reader explains.
        assert not UNEXPECTED_EXCEPTION.match(p.reason), (seed.name, p.reason)
    assert report.failed <= 1
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_baseline) / 1024
    assert grown_mb < MEMORY_GROWTH_MB, f"{seed.name}: peak memory grew by {grown_mb:.0f} MB"


FUZZ = dict(deadline=None, derandomize=True, database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=FUZZ_CASES["photos"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_photos(fuzz_library, exif_samples, memory_baseline, data, changes):
    pool = seeds((exif_samples, "**/*.jpg"), (exif_samples, "**/*.tiff"), largest=64 * 1024)
    seed = data.draw(st.sampled_from(pool), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, PhotoIngester, memory_baseline)


@settings(max_examples=FUZZ_CASES["chats"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_chat_exports(fuzz_library, samples, memory_baseline, data, changes):
    # MemoTrace CSV and TXT, the JSON format (hand-written), PyWxDump CSV old and new (real).
    pool = seeds((HAND_SAMPLES / "chats", "*"), (samples / "chats", "*.csv"))
    seed = data.draw(st.sampled_from(pool), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, ChatIngester, memory_baseline)


@settings(max_examples=FUZZ_CASES["diary"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_diaries(fuzz_library, memory_baseline, data, changes):
    seed = data.draw(st.sampled_from(seeds((HAND_SAMPLES / "diary", "*"))), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, DiaryIngester, memory_baseline)


@settings(max_examples=FUZZ_CASES["gpx"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_gpx(fuzz_library, samples, memory_baseline, data, changes):
    seed = data.draw(st.sampled_from(seeds((samples / "gps", "**/*.gpx"))), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, TrackIngester, memory_baseline)


@settings(max_examples=FUZZ_CASES["kml"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_kml(fuzz_library, samples, memory_baseline, data, changes):
    seed = data.draw(st.sampled_from(seeds((samples / "gps", "**/*.kml"))), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, TrackIngester, memory_baseline)


@settings(max_examples=FUZZ_CASES["takeout"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_google_takeout(fuzz_library, samples, memory_baseline, data, changes):
    # Records, Semantic Location History and the settings/edits files beside them (real
    # Takeout), Google's on-device Timeline and the phone's location-history.json.
    pool = seeds((samples / "gps" / "google_takeout", "kgeo_*.json"),
                 (samples / "gps" / "google_takeout", "*Records.json"),
                 (HAND_SAMPLES / "locations", "Timeline.json"), (HAND_SAMPLES / "locations", "location-history.json"))
    seed = data.draw(st.sampled_from(pool), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, TrackIngester, memory_baseline)


@settings(max_examples=FUZZ_CASES["locations"], **FUZZ)
@given(data=st.data(), changes=edits)
def test_fuzzed_other_location_readers(fuzz_library, memory_baseline, data, changes):
    # GeoJSON (GPSLogger, lines, Overland), OwnTracks .rec, GPSLogger CSV and TXT, Immich.
    pool = [p for p in seeds((HAND_SAMPLES / "locations", "*"))
            if p.name not in ("Timeline.json", "location-history.json")]
    seed = data.draw(st.sampled_from(pool), label="seed")
    ingest_mutated(*fuzz_library, seed, changes, TrackIngester, memory_baseline)
