"""Walking the folders a user points at, the same way for every connector, and the dates
every connector refuses to trust."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator

# Nothing was photographed, written down or sent before the first photograph (Niépce, 1826);
# an earlier date is a broken clock or a zeroed field, like one past tomorrow.
EARLIEST_TRUSTED = datetime(1826, 1, 1)


def iter_files(paths: Iterable[Path] | Path | str, extensions: set[str],
               skip: Iterable[Path] = ()) -> Iterator[Path]:
    """Files under ``paths`` with one of ``extensions``, in a stable (sorted) order.

    Hidden files and folders are skipped, and so is everything under ``skip`` (the
    library's own folder, wherever it sits: its thumbnails are not the user's photos).
    A file named directly is yielded whatever its extension and wherever it is: the user chose it.
    Names need not be UTF-8: paths keep their bytes (see ``deepdiary.core.text``).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    skipped = [Path(p).resolve() for p in skip]
    for root in paths:
        root = Path(root)
        if root.is_file():
            # Named directly, it is the user's choice, even inside the library (an upload
            # is kept under the library's uploads/ folder before it is ingested).
            yield root.resolve()
            continue
        for path in _walk(root, skipped):
            if path.suffix.lower() in extensions:
                yield path.resolve()


def _walk(root: Path, skipped: list[Path]) -> Iterator[Path]:
    """Visible files under ``root``, sorted by path, never entering a skipped folder.

    Linked folders are followed (as before), each real folder once, so a link loop ends.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        real = here.resolve()
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        # Pruned before descending: a library of a million thumbnails costs nothing.
        dirs[:] = [d for d in dirs if not d.startswith(".") and not _inside((here / d).resolve(), skipped)]
        found.extend(here / f for f in files if not f.startswith("."))
    return iter(sorted(p for p in found if p.is_file()))


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


def untrusted_date(when: datetime, now: datetime | None = None) -> str | None:
    """Why ``when`` cannot be an item's date (before 1826, or after tomorrow), else None."""
    naive = when.replace(tzinfo=None) if when.tzinfo else when
    if naive < EARLIEST_TRUSTED:
        return f"{naive:%Y-%m-%d} is before the first photograph (1826)"
    latest = (now or datetime.now()).replace(tzinfo=None) + timedelta(days=1)
    if naive > latest:
        return f"{naive:%Y-%m-%d} is in the future"
    return None
