"""Catalogue plumbing: migrations, settings, content addressing."""

import hashlib
from pathlib import Path

import pytest

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from multiformats import CID
from sqlmodel import SQLModel

from deepdiary.memory.blobs import BlobStore, sha256_file
from deepdiary.memory.unixfs import raw_cid
from deepdiary.memory.catalogue import head_revision, schema_revision
from deepdiary.memory.library import Library
from deepdiary.core.settings import Settings
from deepdiary.services.context import load_settings


def test_migrations_build_exactly_the_declared_tables(tmp_path):
    lib = Library.open(Settings(home=tmp_path / "lib"))
    assert schema_revision(lib.engine) == head_revision()
    with lib.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    # Opening again is a no-op on an up-to-date catalogue.
    Library.open(Settings(home=tmp_path / "lib"))
    assert schema_revision(lib.engine) == head_revision()


@pytest.mark.embedded
def test_library_folder_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("DEEPDIARY_HOME", raising=False)
    assert load_settings().library_dir == Path("~/.deepdiary").expanduser().resolve()
    monkeypatch.setenv("DEEPDIARY_HOME", str(tmp_path / "env"))
    assert load_settings().library_dir == tmp_path / "env"
    assert load_settings(tmp_path / "flag").library_dir == tmp_path / "flag"
    assert load_settings(tmp_path / "flag").catalogue_url == f"sqlite:///{tmp_path / 'flag' / 'catalogue.db'}"
    monkeypatch.setenv("DEEPDIARY_DATABASE_URL", "postgresql+psycopg://u@db/dd")
    assert load_settings().catalogue_url == "postgresql+psycopg://u@db/dd"


def test_blobs_are_content_addressed(tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"hello deep diary")
    digest = sha256_file(src)
    assert digest == hashlib.sha256(b"hello deep diary").hexdigest()
    cid = CID.decode(raw_cid(digest))  # a file of one chunk: the raw CID of its sha256
    assert (cid.version, cid.codec.name, cid.hashfun.name) == (1, "raw", "sha2-256")
    assert cid.raw_digest.hex() == digest
    store = BlobStore(tmp_path / "blobs")
    dest = store.put_file(src, digest, ".bin")
    assert dest == tmp_path / "blobs" / digest[:2] / digest[2:4] / f"{digest}.bin"
    assert dest.read_bytes() == b"hello deep diary"
    assert store.put_file(src, digest, ".bin") == dest


def test_three_processes_open_one_new_library_at_once(tmp_path):
    import json
    import subprocess
    import sys

    lib = tmp_path / "fresh"
    procs = [subprocess.Popen([sys.executable, "-m", "deepdiary", "--library", str(lib), "stats", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0 and "Traceback" not in err and "already exists" not in err, err
        assert json.loads(out)["items"] == 0
    assert schema_revision(Library(Settings(home=lib)).engine) == head_revision()
