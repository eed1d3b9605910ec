"""Time expressions in questions, English and Chinese, resolved in code against today.

"last May", "in 2023", "May 2023", "yesterday", "last week", "去年", "上个月", "2023年5月",
"去年夏天" become a (start, end) range. Relative dates are never left to a model.

Semantics worth knowing:

- "last <month>" and "last <season>" are the most recent one that has ended ("last summer"
  asked in November is this year's summer); "去年夏天" is literally last year's summer.
- "this <season>" is this year's (winter: the one that started last December while it lasts).
- "N years ago" / "三年前" is the whole calendar year today.year - N; "N months/weeks/days ago"
  is that whole month, Monday-to-Sunday week or day.
- "last weekend" / "上周末" is Saturday and Sunday of last week; "recently" / "最近" the last
  30 days; "past N days/weeks/months" a rolling window ending today.
- A month or day without a year ("in May", "5月3日", "on March 3") is the latest one not after today.
- Rules are tried in order and the first one that matches anywhere wins. Absolute dates the
  rules miss ("14.03.2024", "the 4th of July") fall back to ``dateparser``, which is accepted
  only for a numeric date or a month name with a number: it reads lone numbers
  ("2 people", "photo 12") and many ordinary words as dates.

Recurring weekdays ("on weekends", "on Sundays", "周末", "星期天") are not a range:
``find_weekdays`` returns them separately.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2),
           "春天": (3, 5), "夏天": (6, 8), "秋天": (9, 11), "冬天": (12, 2),
           "春季": (3, 5), "夏季": (6, 8), "秋季": (9, 11), "冬季": (12, 2)}
WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


VAGUE_RECENT_EN = r"\brecently\b|\blately\b|\bthese days\b"
VAGUE_RECENT_ZH = r"最近(?!一次)|近期"
VAGUE_RECENT = rf"{VAGUE_RECENT_EN}|{VAGUE_RECENT_ZH}"


@dataclass
class TimeRange:
    start: datetime
    end: datetime
    text: str  # the words that named it
    span: tuple[int, int] | None = None  # where they are in the text

    @property
    def vague(self) -> bool:
        """Whether the words only say "not long ago" ("recently", "lately", "最近"): a
        question's hint of when, not a bound on it."""
        return re.fullmatch(VAGUE_RECENT, self.text) is not None


def _month(y: int, m: int) -> tuple[datetime, datetime]:
    return datetime(y, m, 1), datetime(y, m, calendar.monthrange(y, m)[1], 23, 59, 59)


def _year(y: int) -> tuple[datetime, datetime]:
    return datetime(y, 1, 1), datetime(y, 12, 31, 23, 59, 59)


def _day(d: date) -> tuple[datetime, datetime]:
    return datetime.combine(d, time.min), datetime.combine(d, time(23, 59, 59))


def _days(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min), datetime.combine(end, time(23, 59, 59))


def _season(y: int, name: str) -> tuple[datetime, datetime]:
    a, b = SEASONS[name]
    if a > b:  # winter spans the new year: December of y to February of y+1
        return datetime(y, 12, 1), _month(y + 1, b)[1]
    return datetime(y, a, 1), _month(y, b)[1]


def _last_season(today: date, name: str) -> tuple[datetime, datetime]:
    for y in range(today.year, today.year - 3, -1):
        start, end = _season(y, name)
        if end.date() < today:
            return start, end
    raise ValueError(name)


def _this_season(today: date, name: str) -> tuple[datetime, datetime]:
    winter_so_far = SEASONS[name][0] > SEASONS[name][1] and today.month <= SEASONS[name][1]
    return _season(today.year - 1 if winter_so_far else today.year, name)


def _latest_month(today: date, m: int, strictly_past: bool = False) -> tuple[datetime, datetime]:
    past = m < today.month if strictly_past else m <= today.month
    return _month(today.year if past else today.year - 1, m)


def _latest_day(today: date, m: int, d: int) -> tuple[datetime, datetime]:
    day = date(today.year, m, d)
    return _day(day if day <= today else date(today.year - 1, m, d))


_CN_DIGIT = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_NUM = r"\d+|[零一二两三四五六七八九十]+"


def cn_int(word: str) -> int:
    """An Arabic or Chinese number up to 99 ("12", "十二", "二十", "两")."""
    if word.isdigit():
        return int(word)
    if "十" in word:
        tens, _, ones = word.partition("十")
        return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)
    return _CN_DIGIT[word]


_EN_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
EN_NUM = r"\d+|" + "|".join(_EN_NUM)


def en_int(word: str) -> int:
    return int(word) if word.isdigit() else _EN_NUM[word]


def _n(word: str) -> int:
    return en_int(word) if word.isascii() else cn_int(word)


def _shift_month(d: date, k: int) -> tuple[int, int]:
    m = d.month - 1 + k
    return d.year + m // 12, m % 12 + 1


def _shift_date_months(d: date, k: int) -> date:
    y, m = _shift_month(d, k)
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def _week(d: date, k: int) -> tuple[datetime, datetime]:
    monday = d - timedelta(days=d.weekday()) + timedelta(weeks=k)
    return datetime.combine(monday, time.min), datetime.combine(monday + timedelta(days=6), time(23, 59, 59))


def _weekend(d: date, k: int) -> tuple[datetime, datetime]:
    saturday = d - timedelta(days=d.weekday()) + timedelta(weeks=k, days=5)
    return _days(saturday, saturday + timedelta(days=1))


def _weekday_of_week(d: date, k: int, wd: int) -> tuple[datetime, datetime]:
    return _day(d - timedelta(days=d.weekday()) + timedelta(weeks=k, days=wd))


def _last_weekday(d: date, wd: int) -> tuple[datetime, datetime]:
    return _day(d - timedelta(days=(d.weekday() - wd) % 7 or 7))


def _ago(today: date, n: int, unit: str) -> tuple[datetime, datetime]:
    if unit in ("day", "天"):
        return _day(today - timedelta(days=n))
    if unit in ("week", "周", "星期", "个星期", "礼拜", "个礼拜"):
        return _week(today, -n)
    if unit in ("month", "个月"):
        return _month(*_shift_month(today, -n))
    return _year(today.year - n)


def _rolling(today: date, n: int, unit: str) -> tuple[datetime, datetime]:
    if unit in ("day", "天"):
        start = today - timedelta(days=n)
    elif unit in ("week", "周", "星期", "个星期", "礼拜", "个礼拜"):
        start = today - timedelta(weeks=n)
    elif unit in ("month", "个月"):
        start = _shift_date_months(today, -n)
    else:
        start = _shift_date_months(today, -12 * n)
    return _days(start, today)


_M = "|".join(MONTHS)  # full names come first, so "march" wins over "mar"
_ORD = r"(?:st|nd|rd|th)?"
_WD = "|".join(WEEKDAYS)
_ZH_SEASON = "春天|夏天|秋天|冬天|春季|夏季|秋季|冬季"
_ZH_WEEK = "个星期|星期|个礼拜|礼拜|周"
_REL_YEAR = {"去年": 1, "今年": 0, "前年": 2}


def _rules(today: date) -> list[tuple[str, callable]]:
    t = today
    return [
        # Chinese, most specific first
        (r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]", lambda m: _day(date(int(m[1]), int(m[2]), int(m[3])))),
        (r"(\d{4})年(\d{1,2})月", lambda m: _month(int(m[1]), int(m[2]))),
        (rf"(\d{{4}})年的?({_ZH_SEASON})", lambda m: _season(int(m[1]), m[2])),
        (r"(\d{4})年", lambda m: _year(int(m[1]))),
        (rf"(去年|今年|前年)的?({_ZH_SEASON})", lambda m: _season(t.year - _REL_YEAR[m[1]], m[2])),
        (rf"(去年|今年|前年)的?({CN_NUM})月(?:({CN_NUM})[日号])?", lambda m: (
            _day(date(t.year - _REL_YEAR[m[1]], cn_int(m[2]), cn_int(m[3]))) if m[3]
            else _month(t.year - _REL_YEAR[m[1]], cn_int(m[2])))),
        (r"去年", lambda m: _year(t.year - 1)),
        (r"前年", lambda m: _year(t.year - 2)),
        (r"今年", lambda m: _year(t.year)),
        (rf"({CN_NUM})年前", lambda m: _year(t.year - cn_int(m[1]))),
        (rf"({CN_NUM})(天|{_ZH_WEEK}|个月)前", lambda m: _ago(t, cn_int(m[1]), m[2])),
        (rf"(?:最近|过去|近)的?({CN_NUM})(天|{_ZH_WEEK}|个月|年)", lambda m: _rolling(t, cn_int(m[1]), m[2])),
        (VAGUE_RECENT_ZH, lambda m: _days(t - timedelta(days=30), t)),
        (r"上个?(?:周末|星期末|礼拜末)", lambda m: _weekend(t, -1)),
        (r"(?:这个?|本)(?:周末|星期末|礼拜末)", lambda m: _weekend(t, 0)),
        (r"上个?月", lambda m: _month(*_shift_month(t, -1))),
        (r"这个?月|本月", lambda m: _month(t.year, t.month)),
        (r"昨天", lambda m: _day(t - timedelta(days=1))),
        (r"大前天", lambda m: _day(t - timedelta(days=3))),
        (r"前天", lambda m: _day(t - timedelta(days=2))),
        (r"今天", lambda m: _day(t)),
        (r"上个?(?:星期|周|礼拜)([一二三四五六日天])", lambda m: _weekday_of_week(t, -1, _ZH_WEEKDAY[m[1]])),
        (r"上(个)?(星期|周|礼拜)", lambda m: _week(t, -1)),
        (r"(?:这个?|本)(?:星期|周|礼拜)(?![一二三四五六日天末])", lambda m: _week(t, 0)),
        (rf"({CN_NUM})月({CN_NUM})[日号]", lambda m: _latest_day(t, cn_int(m[1]), cn_int(m[2]))),
        (r"(十二|十一|十|一|二|三|四|五|六|七|八|九|1[0-2]|[1-9])月", lambda m: _latest_month(t, cn_int(m[1]))),
        # English
        (r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lambda m: _day(date(int(m[1]), int(m[2]), int(m[3])))),
        (r"\b(\d{4})/(\d{1,2})/(\d{1,2})\b", lambda m: _day(date(int(m[1]), int(m[2]), int(m[3])))),
        (rf"\b(\d{{1,2}}){_ORD} (?:of )?({_M}),? (\d{{4}})\b", lambda m: _day(date(int(m[3]), MONTHS[m[2]], int(m[1])))),
        (rf"\b({_M}) (?:the )?(\d{{1,2}}){_ORD},? (\d{{4}})\b", lambda m: _day(date(int(m[3]), MONTHS[m[1]], int(m[2])))),
        (r"\b(?:the )?(spring|summer|autumn|fall|winter),? (?:of )?(\d{4})\b", lambda m: _season(int(m[2]), m[1])),
        (rf"\b({_M}),? (?:of )?(\d{{4}})\b", lambda m: _month(int(m[2]), MONTHS[m[1]])),
        (r"\blast weekend\b", lambda m: _weekend(t, -1)),
        (r"\bthis weekend\b", lambda m: _weekend(t, 0)),
        (r"\blast (spring|summer|autumn|fall|winter)\b", lambda m: _last_season(t, m[1])),
        (r"\bthis (spring|summer|autumn|fall|winter)\b", lambda m: _this_season(t, m[1])),
        (rf"\blast ({_M})\b", lambda m: _latest_month(t, MONTHS[m[1]], strictly_past=True)),
        (rf"\blast ({_WD})\b", lambda m: _last_weekday(t, WEEKDAYS[m[1]])),
        (rf"\b(?:in |over )?the (?:past|last) ({EN_NUM}) (day|week|month|year)s?\b", lambda m: _rolling(t, en_int(m[1]), m[2])),
        (rf"\b(?:past|last) ({EN_NUM}) (day|week|month|year)s?\b", lambda m: _rolling(t, en_int(m[1]), m[2])),
        (r"\b(?:in |over )?the past (day|week|month|year)\b", lambda m: _rolling(t, 1, m[1])),
        (VAGUE_RECENT_EN, lambda m: _days(t - timedelta(days=30), t)),
        (rf"\b({EN_NUM}) (day|week|month|year)s? ago\b", lambda m: _ago(t, en_int(m[1]), m[2])),
        (r"\blast year\b", lambda m: _year(t.year - 1)),
        (r"\bthis year\b", lambda m: _year(t.year)),
        (r"\blast month\b", lambda m: _month(*_shift_month(t, -1))),
        (r"\bthis month\b", lambda m: _month(t.year, t.month)),
        (r"\blast week\b", lambda m: _week(t, -1)),
        (r"\bthis week\b", lambda m: _week(t, 0)),
        (r"\b(?:the )?day before yesterday\b", lambda m: _day(t - timedelta(days=2))),
        (r"\byesterday\b", lambda m: _day(t - timedelta(days=1))),
        (r"\btoday\b", lambda m: _day(t)),
        (rf"\b({_M}) (?:the )?(\d{{1,2}}){_ORD}\b(?!:)", lambda m: _latest_day(t, MONTHS[m[1]], int(m[2]))),
        (rf"\b(?:the )?(\d{{1,2}}){_ORD} (?:of )?({_M})\b", lambda m: _latest_day(t, MONTHS[m[2]], int(m[1]))),
        (rf"\b(?:in|during|from) ({_M})\b", lambda m: _latest_month(t, MONTHS[m[1]])),
        (r"\bin (\d{4})\b", lambda m: _year(int(m[1]))),
        (r"\bsince (\d{4})\b", lambda m: (datetime(int(m[1]), 1, 1), _day(t)[1])),
        (r"(?<![#\d./-])\b(19\d\d|20\d\d)\b(?![-/.]\d)", lambda m: _year(int(m[1]))),
    ]


def lower_keeping_spans(text: str) -> str:
    # Lower case that keeps every character where it was, so spans fit the original text.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def find_time_range(text: str, today: date | None = None) -> TimeRange | None:
    """The first time expression in ``text`` as a range, or None."""
    today = today or date.today()
    low = lower_keeping_spans(text)
    for pattern, build in _rules(today):
        for m in re.finditer(pattern, low):
            try:
                start, end = build(m)
            except (ValueError, KeyError):
                continue  # e.g. "2023年13月": try the next match, then the next rule
            return TimeRange(start, end, m.group(0), m.span())
    return _dateparser_range(text, today)


_NUMERIC_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}(?:[./-]\d{1,4})?")
_MONTH_WORD = re.compile(rf"\b(?:{_M})\b", re.IGNORECASE)


def _dateparser_range(text: str, today: date) -> TimeRange | None:
    has_digit = any(c.isdigit() for c in text)
    if not has_digit or not (_NUMERIC_DATE.search(text) or _MONTH_WORD.search(text)):
        return None  # dateparser is slow to load and guesses wildly; skip it when no date can be there
    from dateparser.date import DateDataParser
    from dateparser.search import search_dates

    settings = {"PREFER_DATES_FROM": "past", "RELATIVE_BASE": datetime.combine(today, time.min)}
    for words, _ in search_dates(text, languages=["en", "zh"], settings=settings) or []:
        if not (_NUMERIC_DATE.search(words) or (_MONTH_WORD.search(words) and re.search(r"\d", words))):
            continue
        data = DateDataParser(languages=["en", "zh"], settings=settings).get_date_data(words)
        if data.date_obj is None:
            continue
        d = data.date_obj.date()
        if data.period == "month":
            start, end = _month(d.year, d.month)
        else:
            start, end = _year(d.year) if data.period == "year" else _day(d)
        at = text.find(words)
        return TimeRange(start, end, words, (at, at + len(words)))
    return None


def find_weekdays(text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Recurring weekdays (0=Monday..6=Sunday) and where they were named.

    "on weekends"/"周末" -> [5, 6], "on weekdays"/"工作日" -> [0..4], "on Sundays"/"周日"/"星期天"
    -> [6]. A weekend or weekday that names one date ("last weekend", "上周日") is left to
    ``find_time_range``.
    """
    low = lower_keeping_spans(text)
    days: set[int] = set()
    spans = []
    rules = [
        (r"\b(?:on |at |during )?(?:the )?weekends?\b", lambda m: [5, 6]),
        (r"\b(?:on |during )?(?:the )?(?:weekdays|workdays|working days)\b", lambda m: [0, 1, 2, 3, 4]),
        (rf"\b(?:on |every )?({_WD})s?\b", lambda m: [WEEKDAYS[m[1]]]),
        (r"(?:每个?)?(?:周末|礼拜末|星期末)", lambda m: [5, 6]),
        (r"工作日", lambda m: [0, 1, 2, 3, 4]),
        (r"(?:每个?)?(?:星期|周|礼拜)([一二三四五六日天])", lambda m: [_ZH_WEEKDAY[m[1]]]),
    ]
    for pattern, found in rules:
        for m in re.finditer(pattern, low):
            before = low[max(0, m.start() - 5): m.start()]
            if re.search(r"\b(?:last|this|next) $", before) or re.search(r"[上下这本]个?$", before):
                continue  # one particular weekend or day: a date, not a weekday facet
            days.update(found(m))
            spans.append(m.span())
    return sorted(days), sorted(spans)


def _relative_value(text: str, said_on: date) -> tuple[str, str] | None:
    """The first time expression in ``text`` and its dates counted from ``said_on``."""
    found = find_time_range(text, said_on)
    if found is None or found.text.strip().isdigit():
        return None
    start, end = found.start.date(), found.end.date()
    if start == end:
        value = start.isoformat()
    elif start.month == 1 and start.day == 1 and end.month == 12 and end.day == 31 and start.year == end.year:
        value = str(start.year)
    elif start.day == 1 and start.month == end.month and start.year == end.year and \
            end.day == calendar.monthrange(end.year, end.month)[1]:
        value = f"{start:%Y-%m}"
    else:
        value = f"{start.isoformat()} to {end.isoformat()}"
    return found.text.strip(), value


def annotate_relative(text: str, said_on: date) -> str:
    """The message with its first time expression's dates written right after it ("I went
    yesterday (2023-08-13)"): a small model quotes the words it reads, so the date has to be
    among them, not in a field beside them."""
    found = _relative_value(text, said_on)
    if not found or found[1] in text:
        return text
    at = text.lower().find(found[0].lower())
    if at < 0:
        return text
    cut = at + len(found[0])
    if "\u3400" <= text[cut - 1] <= "\u9fff":
        return f"{text[:cut]}（{found[1]}）{text[cut:]}"
    return f"{text[:cut]} ({found[1]}){text[cut:]}"
