"""The catalogue on a real PostgreSQL server: migrations, ingest and every kind of facet."""

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from deepdiary.memory.catalogue import head_revision, schema_revision
from deepdiary.memory.library import Library
from deepdiary.memory.query import ColourFacet, PhotoQuery, search_photos
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings
from tests.memory.test_query import PHOTOS
from tests.photo_factory import make_photo


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert found, "PostgreSQL server binaries missing: `make test` installs the Debian package postgresql"
    return found[-1].parent


@pytest.fixture(scope="module")
def pg_url():
    """A throwaway PostgreSQL cluster listening only on a Unix socket in a temp folder."""
    bin_dir = _pg_bin()
    # Not pytest's tmp_path: the server user must reach it, and socket paths must be short.
    data = Path(tempfile.mkdtemp(prefix="ddpg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(data, "postgres")
        data.chmod(0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "dd", "-E", "UTF8"],
                   check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                    "-o", f"-k {data} -p {port} -c listen_addresses=''", "start"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "createdb"), "-h", str(data), "-p", str(port), "-U", "dd", "deepdiary"],
                   check=True, capture_output=True)
    yield f"postgresql+psycopg://dd@/deepdiary?host={data}&port={port}"
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(data, ignore_errors=True)


def test_postgres_catalogue(pg_url, tmp_path):
    for name, spec in PHOTOS.items():
        make_photo(tmp_path / "photos" / name, **spec)
    lib = Library.open(Settings(home=tmp_path / "lib", database_url=pg_url))
    assert lib.engine.dialect.name == "postgresql"
    assert schema_revision(lib.engine) == head_revision()
    report = PhotoIngester(lib).run([tmp_path / "photos"])
    assert (report.added, report.failed) == (len(PHOTOS), 0), report.problems[:2]
    assert PhotoIngester(lib).run([tmp_path / "photos"]).unchanged == len(PHOTOS)

    def names(**facets):
        with lib.session() as s:
            return [Path(r.path).name for r in search_photos(s, PhotoQuery(**facets), lib).results]

    assert names(place="杭州") == ["hz1.jpg", "hz2.jpg", "hz3.jpg"]
    assert names(near_lat=48.86, near_lon=2.34, radius_km=5) == ["paris.jpg"]
    assert names(colours=[ColourFacet(name="red", region="foreground")]) == ["hz1.jpg", "beijing.jpg"]
    assert names(layout="tall", camera="eos") == ["florence.jpg"]
    lib.close()
    # The catalogue lives in the server, not in the library folder.
    assert not (tmp_path / "lib" / "catalogue.db").exists()
