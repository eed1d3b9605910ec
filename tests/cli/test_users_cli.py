"""Users and share links from the command line, as a script drives it: `user add` prints a token,
`--user NAME` points every command at that user's library, and the owner's stays as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.test_cli import run

GPS = Path("photos/exif-samples/jpg/gps")


def as_json(lib: Path, *args: str):
    done = run(lib, *args, "--json", check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_user_has_a_library_of_their_own(tmp_path, samples):
    lib, photos = tmp_path / "lib", tmp_path / "photos"
    photos.mkdir()
    for name in ("DSCN0010.jpg", "DSCN0012.jpg"):
        shutil.copy(samples / GPS / name, photos / name)

    made = as_json(lib, "user", "add", "alice")
    assert made["name"] == "alice" and made["token"].startswith("dd_")
    assert Path(made["library"]).parent == lib / "users"
    assert [u["name"] for u in as_json(lib, "user", "list")] == ["alice"]
    assert "token" not in as_json(lib, "user", "list")[0]

    added = as_json(lib, "--user", "alice", "ingest", "photos", str(photos), "--no-enrich")
    assert added["added"] == 2
    found = as_json(lib, "--user", "alice", "search", "photos", "--near", "Arezzo")
    assert sorted(r["id"] for r in found) == sorted(added["item_ids"])
    assert all(Path(r["path"]).parent == photos.resolve() for r in found)
    assert as_json(lib, "search", "photos", "--near", "Arezzo") == []  # the owner's library is untouched
    assert as_json(lib, "stats")["items"] == 0

    link = as_json(lib, "--user", "alice", "share", "photo", str(added["item_ids"][0]), "--expires", "2d")
    assert link["kind"] == "photo" and link["photos"] == 1 and link["url"] == f"/s/{link['secret']}"
    listed = as_json(lib, "--user", "alice", "share", "list")
    assert [s["id"] for s in listed] == [link["id"]] and "secret" not in listed[0] and not listed[0]["revoked"]
    assert not [p for p in lib.rglob("*") if p.is_file() and link["secret"].encode() in p.read_bytes()]
    assert as_json(lib, "share", "list") == []  # the owner's links are his own

    unknown = run(lib, "--user", "bob", "stats", check=False)
    assert unknown.returncode == 1 and "no user 'bob'" in unknown.stderr and unknown.stdout == ""
    nested = run(lib, "--user", "alice", "user", "list", check=False)
    assert nested.returncode == 2 and "leave out --user" in nested.stderr
