import importlib
import os
import sqlite3
from contextlib import ExitStack
from pathlib import Path

import pytest

from deepdiary.memory.library import Library
from deepdiary.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]

# The second pass (`make test-servers`): DEEPDIARY_TEST_SERVERS names the servers every
# library of the run is pointed at, each library in its own namespace on them. Tests of
# what only an embedded library has (its files) carry the `embedded` mark and sit it out.
SERVERS = [s for s in os.environ.get("DEEPDIARY_TEST_SERVERS", "").split(",") if s]


def pytest_configure(config):
    config.addinivalue_line("markers", "embedded: checks what only an embedded library has (its files); "
                                       "not run in the second pass against servers")


def pytest_collection_modifyitems(config, items):
    if SERVERS:
        skip = pytest.mark.skip(reason="embedded only: the second pass runs on servers")
        for item in items:
            if "embedded" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def servers(tmp_path_factory):
    """Start the servers of the second pass and point every Settings of the run at them."""
    if not SERVERS:
        yield {}
        return
    folder = tmp_path_factory.mktemp("servers")
    with ExitStack() as stack:
        env: dict[str, str] = {}
        for name in SERVERS:
            module = importlib.import_module(f"tests.servers.{name}")
            env |= stack.enter_context(module.running(folder / name))
        before = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for k, v in before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="session")
def samples() -> Path:
    """The shared sample data. CI sets DEEPDIARY_SAMPLES; a missing file fails, never skips."""
    root = Path(os.environ.get("DEEPDIARY_SAMPLES", REPO.parent / "shared" / "data"))
    assert root.is_dir(), f"sample data not found at {root}: set DEEPDIARY_SAMPLES"
    return root


@pytest.fixture(scope="session")
def exif_samples(samples) -> Path:
    path = samples / "photos" / "exif-samples"
    assert path.is_dir(), f"missing {path}"
    return path


@pytest.fixture
def library(tmp_path) -> Library:
    lib = Library.open(Settings(home=tmp_path / "lib"))
    yield lib
    lib.close()


def snapshot(db_path: Path) -> dict:
    """Everything a user could see in a catalogue, minus ingest bookkeeping and clocks."""
    con = sqlite3.connect(db_path)
    con.row_factory = sqlite3.Row
    out = {}
    for table, drop in (
        ("items", {"created_at"}),
        ("item_paths", set()),
        ("photo_meta", set()),
        ("item_colours", set()),
        ("places", set()),
        ("item_tags", set()),
    ):
        rows = con.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        out[table] = [tuple(v for k, v in dict(r).items() if k not in drop) for r in rows]
    out["problems"] = sorted({tuple(r) for r in con.execute("SELECT path, severity, reason FROM ingest_errors")})
    con.close()
    return out
