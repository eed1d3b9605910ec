import os
import sqlite3
from pathlib import Path

import pytest

from deepdiary.memory.library import Library
from deepdiary.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]


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
