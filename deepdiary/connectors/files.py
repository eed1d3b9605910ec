"""Walking the folders a user points at, the same way for every connector."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator


def iter_files(paths: Iterable[Path] | Path | str, extensions: set[str]) -> Iterator[Path]:
    """Files under ``paths`` with one of ``extensions``, in a stable (sorted) order.

    Hidden files and folders are skipped. A file named directly is yielded whatever its
    extension: the user chose it.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    for root in paths:
        root = Path(root)
        if root.is_file():
            yield root.resolve()
            continue
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts):
                continue
            if path.is_file() and path.suffix.lower() in extensions:
                yield path.resolve()
