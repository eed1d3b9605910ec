"""Date bounds as people type them, the one reader the CLI, the tools and the API share.

``2023``, ``2023-07`` and ``2023-07-14`` name a whole year, month or day; a bound is its
first moment, or with ``end`` its last. The CLI and the API also take free text ("last
May", "2023年5月"), read by the question parser's time rules; the agent's tools take only
the numeric forms, because the planner gets its dates resolved in code.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, time

from deepdiary.core.errors import InvalidInput

_PARTIAL = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?\s*$")
END_OF_DAY = time(23, 59, 59)


def _numeric(text: str, end: bool) -> datetime | None:
    match = _PARTIAL.match(text)
    if not match:
        return None
    year, month, day = (int(g) if g else None for g in match.groups())
    if month is None:
        return datetime(year, 12, 31, 23, 59, 59) if end else datetime(year, 1, 1)
    if day is None:
        return datetime(year, month, calendar.monthrange(year, month)[1], 23, 59, 59) if end else datetime(year, month, 1)
    return datetime.combine(date(year, month, day), END_OF_DAY if end else time.min)


def parse_date_bound(text: str, end: bool = False, *, free_text: bool = True, today: date | None = None,
                     option: str | None = None) -> datetime:
    """The first (or, with ``end``, the last) moment of the period ``text`` names."""
    where = f"{option}: " if option else ""
    text = str(text)
    try:
        found = _numeric(text, end)
    except ValueError as exc:  # 2023-02-30, month 13
        raise InvalidInput(f"{where}cannot read date {text!r}: {exc}") from None
    if found is not None:
        return found
    if not free_text:
        raise InvalidInput(f"{where}cannot read date {text!r}: use YYYY-MM-DD, e.g. 2023-07-14")
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    from deepdiary.core.timeparse import find_time_range

    found_range = find_time_range(text, today)
    if found_range is not None and len(found_range.text.strip()) >= len(text.strip()) * 0.6:
        return found_range.end if end else found_range.start
    raise InvalidInput(f"{where}cannot read {text!r} as a date (try 2023-07-14, 2023-07 or 2023)")


def optional_bound(text: str | None, end: bool = False, **kw) -> datetime | None:
    """``parse_date_bound`` for an optional value: empty means no bound."""
    if text is None or not str(text).strip():
        return None
    return parse_date_bound(text, end, **kw)


_AGO = re.compile(r"^\s*(\d+)\s*(d|w|m|y)\s*$", re.I)


def parse_since(text: str, today: date | None = None, option: str = "--since") -> datetime:
    """The start of a recent period: ``6m``, ``2w``, ``30d``, ``1y`` back from today, or a date bound."""
    found = _AGO.match(str(text))
    if not found:
        return parse_date_bound(text, option=option, today=today)
    from datetime import timedelta

    n, unit = int(found.group(1)), found.group(2).lower()
    today = today or date.today()
    if unit in "dw":
        start = today - timedelta(days=n * (7 if unit == "w" else 1))
    else:
        months = today.year * 12 + today.month - 1 - n * (12 if unit == "y" else 1)
        year, month = divmod(months, 12)
        start = date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))
    return datetime.combine(start, time.min)
