"""Time words resolved against a fixed today: English, Chinese, and dateparser's fallback."""

from datetime import date, datetime, time

import pytest

from deepdiary.core.timeparse import find_time_range, find_weekdays

TODAY = date(2026, 11, 24)  # a Tuesday


def days(a: date, b: date) -> tuple[datetime, datetime]:
    return datetime.combine(a, time.min), datetime.combine(b, time(23, 59, 59))


def month(y: int, m: int) -> tuple[datetime, datetime]:
    last = (date(y + m // 12, m % 12 + 1, 1) - date(y, m, 1)).days
    return days(date(y, m, 1), date(y, m, last))


def year(y: int) -> tuple[datetime, datetime]:
    return days(date(y, 1, 1), date(y, 12, 31))


def day(y: int, m: int, d: int) -> tuple[datetime, datetime]:
    return days(date(y, m, d), date(y, m, d))


SUMMER_2026 = days(date(2026, 6, 1), date(2026, 8, 31))

CASES = [
    # behaviour that predates the question parser
    ("photos from last May", month(2026, 5), "last may"),
    ("in 2023", year(2023), "in 2023"),
    ("May 2023", month(2023, 5), "may 2023"),
    ("yesterday", day(2026, 11, 23), "yesterday"),
    ("last week", days(date(2026, 11, 16), date(2026, 11, 22)), "last week"),
    ("去年的照片", year(2025), "去年"),
    ("上个月", month(2026, 10), "上个月"),
    ("2023年5月", month(2023, 5), "2023年5月"),
    ("去年夏天", days(date(2025, 6, 1), date(2025, 8, 31)), "去年夏天"),
    ("十二月的照片", month(2025, 12), "十二月"),
    # "last <season>" is the latest one that has ended, like "last <month>"
    ("last summer", SUMMER_2026, "last summer"),
    ("last winter", days(date(2025, 12, 1), date(2026, 2, 28)), "last winter"),
    ("this summer", SUMMER_2026, "this summer"),
    ("this winter", days(date(2026, 12, 1), date(2027, 2, 28)), "this winter"),
    ("in May 2023", month(2023, 5), "may 2023"),
    ("on 3 March 2024", day(2024, 3, 3), "3 march 2024"),
    ("March 3, 2024", day(2024, 3, 3), "march 3, 2024"),
    ("on the 3rd of March 2024", day(2024, 3, 3), "3rd of march 2024"),
    ("two years ago", year(2024), "two years ago"),
    ("a year ago", year(2025), "a year ago"),
    ("the summer of 2023", days(date(2023, 6, 1), date(2023, 8, 31)), "the summer of 2023"),
    ("2023年夏天", days(date(2023, 6, 1), date(2023, 8, 31)), "2023年夏天"),
    ("前年", year(2024), "前年"),
    ("三年前", year(2023), "三年前"),
    ("last weekend", days(date(2026, 11, 21), date(2026, 11, 22)), "last weekend"),
    ("上周末", days(date(2026, 11, 21), date(2026, 11, 22)), "上周末"),
    ("这周末", days(date(2026, 11, 28), date(2026, 11, 29)), "这周末"),
    ("最近", days(date(2026, 10, 25), TODAY), "最近"),
    ("recently", days(date(2026, 10, 25), TODAY), "recently"),
    ("去年五月", month(2025, 5), "去年五月"),  # once read as the whole of last year
    ("去年5月3日", day(2025, 5, 3), "去年5月3日"),
    ("5月3日", day(2026, 5, 3), "5月3日"),
    ("3 days ago", day(2026, 11, 21), "3 days ago"),
    ("two weeks ago", days(date(2026, 11, 9), date(2026, 11, 15)), "two weeks ago"),
    ("三个月前", month(2026, 8), "三个月前"),
    ("in the past two weeks", days(date(2026, 11, 10), TODAY), "in the past two weeks"),
    ("最近三天", days(date(2026, 11, 21), TODAY), "最近三天"),
    ("上周日", day(2026, 11, 22), "上周日"),
    ("last Sunday", day(2026, 11, 22), "last sunday"),
    ("the day before yesterday", day(2026, 11, 22), "the day before yesterday"),
    ("since 2020", days(date(2020, 1, 1), TODAY), "since 2020"),
    ("photos 2019", year(2019), "2019"),
    ("pictures from December", month(2025, 12), "from december"),
    ("the 4th of July", day(2026, 7, 4), "the 4th of july"),
    ("on 2024/3/14", day(2024, 3, 14), "2024/3/14"),
    # dateparser, for what the rules miss
    ("photos from 14.03.2024", day(2024, 3, 14), "from 14.03.2024"),
    ("on 3/14/2024", day(2024, 3, 14), "3/14/2024"),
]


@pytest.mark.parametrize(("text", "expected", "words"), CASES, ids=[c[0] for c in CASES])
def test_time_range(text, expected, words):
    found = find_time_range(text, TODAY)
    assert found is not None
    assert (found.start, found.end) == expected
    assert found.text == words
    a, b = found.span
    assert text[a:b].lower() == words


@pytest.mark.parametrize("text", ["red photos with 2 people", "describe photo 12", "who can help me fix a bike",
                                  "may I see them", "3人的照片", "a group of 4 at 5pm", "照片12里有什么"])
def test_no_time_range(text):
    # dateparser would read most of these numbers as dates
    assert find_time_range(text, TODAY) is None


def test_relative_to_today():
    january = date(2026, 1, 10)
    assert (r := find_time_range("last winter", january)) and (r.start, r.end) == days(date(2024, 12, 1), date(2025, 2, 28))
    assert (r := find_time_range("this winter", january)) and (r.start, r.end) == days(date(2025, 12, 1), date(2026, 2, 28))
    assert (r := find_time_range("last summer", january)) and (r.start, r.end) == days(date(2025, 6, 1), date(2025, 8, 31))
    assert (r := find_time_range("in November", january)) and (r.start, r.end) == month(2025, 11)


@pytest.mark.parametrize(("text", "weekdays"), [
    ("photos on weekends", [5, 6]),
    ("at the weekend", [5, 6]),
    ("on Sundays", [6]),
    ("every Monday and Friday", [0, 4]),
    ("on weekdays", [0, 1, 2, 3, 4]),
    ("周末的照片", [5, 6]),
    ("星期天的照片", [6]),
    ("每周三", [2]),
    ("工作日", [0, 1, 2, 3, 4]),
    ("last weekend", []),  # one weekend: a date range
    ("上周末", []),
    ("last Sunday", []),
])
def test_weekdays(text, weekdays):
    assert find_weekdays(text)[0] == weekdays


def test_a_message_carries_its_relative_dates_counted_from_the_day_it_was_sent():
    from deepdiary.core.timeparse import annotate_relative

    assert annotate_relative("I ran a charity race last Saturday for mental health", date(2023, 5, 25)) == \
        "I ran a charity race last Saturday (2023-05-20) for mental health"
    assert annotate_relative("我昨天去了西湖", date(2023, 4, 25)) == "我昨天（2023-04-24）去了西湖"
    assert annotate_relative("See you on 2023-04-24", date(2023, 4, 20)) == "See you on 2023-04-24"
    assert annotate_relative("Nothing to resolve", date(2023, 4, 25)) == "Nothing to resolve"
