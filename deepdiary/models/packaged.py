"""Model files shipped inside PyPI packages, split into parts where PyPI caps a file's size.

The parts are joined in order into one file, checked against the published size and
sha256 as they are written; a file that does not match names the package to reinstall.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from deepdiary.models import ModelUnavailable

CHUNK = 1 << 24


def sha256_of(paths: list[Path]) -> tuple[int, str]:
    """The size and sha256 of the files read one after another."""
    h, size = hashlib.sha256(), 0
    for p in paths:
        with p.open("rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
    return size, h.hexdigest()


def join_checked(parts: list[Path], out: Path, size: int, sha256: str, what: str, pip: str) -> None:
    """Write ``parts`` joined into ``out``; ``ModelUnavailable`` when the result is not the published
    file (``what``, ``size`` bytes with ``sha256``), saying to reinstall ``pip``."""
    h, written = hashlib.sha256(), 0
    with out.open("wb") as dest:
        for part in parts:
            with part.open("rb") as f:
                while chunk := f.read(CHUNK):
                    h.update(chunk)
                    written += len(chunk)
                    dest.write(chunk)
    if (written, h.hexdigest()) != (size, sha256):
        raise ModelUnavailable(
            f"joined {what} is {written} bytes with sha256 {h.hexdigest()[:12]}…, expected {size} bytes "
            f"and {sha256[:12]}…: a part is damaged; reinstall {pip}")
