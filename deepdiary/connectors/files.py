"""Walking the folders a user points at, the same way for every connector, and the dates
every connector refuses to trust."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable, Iterator

# Nothing was photographed, written down or sent before the first photograph (Niépce, 1826);
# an earlier date is a broken clock or a zeroed field, like one past tomorrow.
EARLIEST_TRUSTED = datetime(1826, 1, 1)


# Told about each entry a folder walk refuses (a link out of the folder), with the reason.
Refused = Callable[[Path, str], None]


def iter_files(paths: Iterable[Path] | Path | str, extensions: set[str],
               skip: Iterable[Path] = (), refused: Refused | None = None) -> Iterator[Path]:
    """Files under ``paths`` with one of ``extensions``, in a stable (sorted) order.

    Hidden files and folders are skipped, and so is everything under ``skip`` (the
    library's own folder, wherever it sits: its thumbnails are not the user's photos).
    A symbolic link that points out of the folder being walked (or nowhere) is not
    followed: ``refused(link, reason)`` is told, so the ingest can report it. A link to a
    file or folder inside the walked folder is read like any other entry.
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
        for path in _walk(root, skipped, refused or (lambda _path, _reason: None)):
            if path.suffix.lower() in extensions:
                yield path.resolve()


def _walk(root: Path, skipped: list[Path], refused: Refused) -> Iterator[Path]:
    """Visible files under ``root``, sorted by path, never entering a skipped folder.

    Linked folders inside ``root`` are followed, each real folder once, so a link loop
    ends; a link out of ``root`` could hand any file on the machine to an upload folder or
    a shared photo folder, so it is refused, and so is a link to nothing.
    """
    inside = [root.resolve()]
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
        dirs[:] = [d for d in dirs if not d.startswith(".") and not _inside((here / d).resolve(), skipped)
                   and _link_stays_inside(here / d, inside, refused)]
        found.extend(here / f for f in files if not f.startswith(".") and _link_stays_inside(here / f, inside, refused))
    return iter(sorted(p for p in found if p.is_file()))


def _link_stays_inside(path: Path, inside: list[Path], refused: Refused) -> bool:
    """True for an entry that is not a link, or a link whose target is inside the walked folder."""
    if not path.is_symlink():
        return True
    target = path.resolve()
    if not target.exists():
        refused(path, "skipped: a symbolic link to nothing (its target is missing)")
        return False
    if not _inside(target, inside):
        refused(path, f"skipped: a symbolic link out of the folder being ingested (to {target}); not followed")
        return False
    return True


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
