"""Time expressions in questions, English and Chinese, resolved in code against today.

"last May", "in 2023", "May 2023", "yesterday", "last week", "去年", "上个月", "2023年5月",
"去年夏天" become a (start, end) range. Relative dates are never left to a model.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2),
           "春天": (3, 5), "夏天": (6, 8), "秋天": (9, 11), "冬天": (12, 2)}


@dataclass
class TimeRange:
    start: datetime
    end: datetime
    text: str  # the words that named it


def _month(y: int, m: int) -> tuple[datetime, datetime]:
    return datetime(y, m, 1), datetime(y, m, calendar.monthrange(y, m)[1], 23, 59, 59)


def _year(y: int) -> tuple[datetime, datetime]:
    return datetime(y, 1, 1), datetime(y, 12, 31, 23, 59, 59)


def _day(d: date) -> tuple[datetime, datetime]:
    return datetime.combine(d, time.min), datetime.combine(d, time(23, 59, 59))


def _season(y: int, name: str) -> tuple[datetime, datetime]:
    a, b = SEASONS[name]
    if a > b:  # winter spans the new year: December of y to February of y+1
        return datetime(y, 12, 1), _month(y + 1, b)[1]
    return datetime(y, a, 1), _month(y, b)[1]


_CN_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
           "十一": 11, "十二": 12}


def find_time_range(text: str, today: date | None = None) -> TimeRange | None:
    """The first time expression in ``text`` as a range, or None."""
    today = today or date.today()
    low = text.lower()
    rules: list[tuple[str, callable]] = [
        (r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]", lambda m: _day(date(int(m[1]), int(m[2]), int(m[3])))),
        (r"(\d{4})年(\d{1,2})月", lambda m: _month(int(m[1]), int(m[2]))),
        (r"(\d{4})年", lambda m: _year(int(m[1]))),
        (r"(去年|今年|前年)(春天|夏天|秋天|冬天)", lambda m: _season(today.year - {"去年": 1, "今年": 0, "前年": 2}[m[1]], m[2])),
        (r"去年", lambda m: _year(today.year - 1)),
        (r"前年", lambda m: _year(today.year - 2)),
        (r"今年", lambda m: _year(today.year)),
        (r"上个?月", lambda m: _month(*_shift_month(today, -1))),
        (r"这个?月|本月", lambda m: _month(today.year, today.month)),
        (r"昨天", lambda m: _day(today - timedelta(days=1))),
        (r"前天", lambda m: _day(today - timedelta(days=2))),
        (r"今天", lambda m: _day(today)),
        (r"上(个)?(星期|周|礼拜)", lambda m: _week(today, -1)),
        (r"(去年)?(十二|十一|十|一|二|三|四|五|六|七|八|九)月", lambda m: _month(
            today.year - (1 if m[1] else 0) if m[1] or _CN_NUM[m[2]] <= today.month else today.year - 1, _CN_NUM[m[2]])),
        (r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lambda m: _day(date(int(m[1]), int(m[2]), int(m[3])))),
        (r"\b(\d{1,2}) (" + "|".join(MONTHS) + r"),? (\d{4})\b", lambda m: _day(date(int(m[3]), MONTHS[m[2]], int(m[1])))),
        (r"\b(" + "|".join(MONTHS) + r") (\d{1,2}),? (\d{4})\b", lambda m: _day(date(int(m[3]), MONTHS[m[1]], int(m[2])))),
        (r"\b(" + "|".join(MONTHS) + r"),? (\d{4})\b", lambda m: _month(int(m[2]), MONTHS[m[1]])),
        (r"\b(last|this) (spring|summer|autumn|fall|winter)\b", lambda m: _season(
            today.year - (1 if m[1] == "last" else 0), m[2])),
        (r"\blast (" + "|".join(MONTHS) + r")\b", lambda m: _month(
            today.year - (1 if MONTHS[m[1]] >= today.month else 0), MONTHS[m[1]])),
        (r"\blast year\b", lambda m: _year(today.year - 1)),
        (r"\bthis year\b", lambda m: _year(today.year)),
        (r"\blast month\b", lambda m: _month(*_shift_month(today, -1))),
        (r"\bthis month\b", lambda m: _month(today.year, today.month)),
        (r"\blast week\b", lambda m: _week(today, -1)),
        (r"\byesterday\b", lambda m: _day(today - timedelta(days=1))),
        (r"\btoday\b", lambda m: _day(today)),
        (r"\b(\d+|two|three|four|five) years ago\b", lambda m: _year(today.year - _n(m[1]))),
        (r"\bin (\d{4})\b", lambda m: _year(int(m[1]))),
    ]
    for pattern, build in rules:
        m = re.search(pattern, low)
        if m:
            try:
                start, end = build(m)
            except (ValueError, KeyError):
                continue
            return TimeRange(start, end, m.group(0))
    return None


def _n(word: str) -> int:
    return int(word) if word.isdigit() else {"two": 2, "three": 3, "four": 4, "five": 5}[word]


def _shift_month(d: date, k: int) -> tuple[int, int]:
    m = d.month - 1 + k
    return d.year + m // 12, m % 12 + 1


def _week(d: date, k: int) -> tuple[datetime, datetime]:
    monday = d - timedelta(days=d.weekday()) + timedelta(weeks=k)
    return datetime.combine(monday, time.min), datetime.combine(monday + timedelta(days=6), time(23, 59, 59))
