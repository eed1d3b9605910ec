"""Date bounds typed by a person: ``2023``, ``2023-07``, ``2023-07-14``, ``last May``, ``2023年5月``."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, time

_PARTIAL = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")


def parse_date_bound(text: str, end: bool = False) -> datetime:
    """The first (or, with ``end``, the last) moment of the period ``text`` names."""
    match = _PARTIAL.match(text)
    if match:
        year, month, day = (int(g) if g else None for g in match.groups())
        if month is None:
            return datetime(year, 12, 31, 23, 59, 59) if end else datetime(year, 1, 1)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return datetime(year, month, last, 23, 59, 59) if end else datetime(year, month, 1)
        return datetime.combine(datetime(year, month, day), time(23, 59, 59) if end else time.min)
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    import dateparser  # slow to import; only free text needs it

    parsed = dateparser.parse(text, languages=["en", "zh"], settings={"PREFER_DATES_FROM": "past"})
    if parsed is None:
        raise ValueError(f"cannot read {text!r} as a date (try 2023-07-14, 2023-07 or 2023)")
    if parsed.time() == time.min or parsed.time() == datetime.now().time().replace(microsecond=0):
        return datetime.combine(parsed.date(), time(23, 59, 59) if end else time.min)
    return parsed
