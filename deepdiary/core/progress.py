"""How long work reports progress: one callback every interface renders its own way
(a bar on the CLI, a job status in the API)."""

from __future__ import annotations

from typing import Callable, Protocol


class ProgressFn(Protocol):
    def __call__(self, phase: str, done: int, total: int | None, label: str = "") -> None:
        """``phase`` is a word such as "ingest", "enrich", "embed" or "index"."""


PathProgress = Callable[[int, int, object], None]


def for_paths(progress: ProgressFn | None, phase: str) -> PathProgress | None:
    """The older (done, total, path) callback the ingesters take, feeding ``progress``."""
    if progress is None:
        return None
    return lambda done, total, path: progress(phase, done, total, getattr(path, "name", str(path)))
