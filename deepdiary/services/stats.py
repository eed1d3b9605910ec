"""Library totals."""

from __future__ import annotations

from deepdiary.services.context import AppContext
from deepdiary.services.schemas import Record


def library_stats(ctx: AppContext) -> Record:
    """Items, places, date range, cameras, countries, the last job."""
    from deepdiary.memory.items import library_stats as totals

    with ctx.read() as s:
        return Record(totals(s))
