"""Bad arguments: one line on stderr naming the option and what it takes, exit code 2, nothing on stdout."""

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepdiary.cli.main import app
from tests.photo_factory import make_photo


def run(lib: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], capture_output=True,
                          text=True, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"})


def png_bomb(path: Path) -> Path:
    """A PNG whose header claims 100,000 x 100,000 pixels: Pillow refuses it as a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def lib(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("args")
    make_photo(root / "photos" / "one.jpg")
    (root / "notes.txt").write_text("not a picture")
    png_bomb(root / "bomb.png")
    done = run(root / "lib", "ingest", "photos", str(root / "photos"), "--no-enrich", "--json")
    assert done.returncode == 0, done.stderr
    return root / "lib"


CASES = [
    (["search", "photos", "--near", "999,999"], "--near: latitude 999 is out of range (-90 to 90)"),
    (["search", "photos", "--near", "30,200"], "--near: longitude 200 is out of range (-180 to 180)"),
    (["search", "photos", "--near", "30.2,120.1", "--radius", "-5"], "--radius: -5 km is out of range"),
    (["search", "photos", "--near", ""], "--near: empty"),
    (["search", "photos", "--layout", "round"], "--layout: 'round' is not one of wide, tall, square"),
    (["search", "photos", "--rating", "7"], "--rating: 7 is out of range (0 to 5 stars)"),
    (["search", "photos", "--limit", "0"], "--limit: 0 is out of range"),
    (["search", "photos", "--people-count", "-1"], "--people-count: -1 is out of range"),
    (["search", "photos", "--from", "someday maybe"], "--from: cannot read 'someday maybe' as a date"),
    (["search", "photos", "--color", "chartreuse"], "unknown colour 'chartreuse'"),
    (["search", "photos", "--color", "xx:red"], "unknown colour region 'xx'"),
    (["search", "chats", "dinner", "--context", "50"], "--context: 50 is out of range (0 to 10)"),
    (["search", "chats", "dinner", "--to", "2023-02-30"], "--to: cannot read date '2023-02-30'"),
    (["ingest", "chats", "--format", "telegram", "x.csv"], "unknown format 'telegram'"),
    (["ingest", "photos", "/no/such/folder"], "no such file or folder: /no/such/folder"),
    (["enrich", "--stage", "magic"], "unknown stage 'magic'"),
    (["collage", "Alice", "--ratio", "0:9"], "aspect ratio '0:9' must have positive width and height"),
    (["collage", "Alice", "--width", "3"], "--width: 3 is out of range"),
    (["ask", "hello", "--today", "tomorrow", "--backend", "none"], "--today: 'tomorrow' is not a date"),
    (["ask", "hello", "--backend", "gpt9"], "unknown backend 'gpt9'"),
    (["people", "note", "Bob", "fact", "likes tea"], "kind is resource or demand"),
    (["graph", "met-most", "--limit", "0"], "--limit: 0 is out of range"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_argument_is_one_clear_line(lib, args, message):
    done = run(lib, *args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_like_takes_only_an_image(lib):
    root = lib.parent
    for target, reason in ((root / "notes.txt", "is not an image we can read"),
                           (root / "bomb.png", "DecompressionBombError"),
                           (root / "missing.jpg", "--like takes a photo id or an image file")):
        done = run(lib, "search", "photos", "--like", str(target))
        assert done.returncode == 2 and reason in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_library_that_is_a_file(tmp_path):
    (tmp_path / "catalogue").write_text("oops")
    done = run(tmp_path / "catalogue", "stats")
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr and "Traceback" not in done.stderr


def test_missing_item_is_exit_1(lib):
    done = run(lib, "show", "999")
    assert done.returncode == 1 and "no item with id 999" in done.stderr and done.stdout == ""


def test_a_bug_is_one_line_unless_debug(lib, monkeypatch):
    """The CLI's error mapping around a service that fails unexpectedly (a stand-in for a bug)."""
    import deepdiary.services.stats as stats

    def broken(ctx):
        raise RuntimeError("the disk fell off")

    monkeypatch.setattr(stats, "library_stats", broken)
    quiet = CliRunner().invoke(app, ["--library", str(lib), "stats"])
    assert quiet.exit_code == 1 and "unexpected RuntimeError: the disk fell off" in quiet.output
    assert "--debug" in quiet.output and quiet.exception is None or isinstance(quiet.exception, SystemExit)
    loud = CliRunner().invoke(app, ["--library", str(lib), "--debug", "stats"])
    assert isinstance(loud.exception, RuntimeError)
