"""The catalogue on a real PostgreSQL server: migrations, ingest and every kind of facet."""

from pathlib import Path

import pytest

from tests.servers import postgres

from deepdiary.memory.catalogue import head_revision, schema_revision
from deepdiary.memory.library import Library
from deepdiary.memory.query import ColourFacet, PhotoQuery, search_photos
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings
from tests.memory.test_query import PHOTOS
from tests.photo_factory import make_photo


@pytest.fixture(scope="module")
def pg_url():
    with postgres.running() as env:
        yield env["DEEPDIARY_DATABASE_URL"]


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
