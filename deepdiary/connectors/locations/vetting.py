"""The rules every reader applies to what a file claims: positions, times, and how faults are told.

One place, so a bogus timestamp is treated the same in a GPX track, a Timeline export or an
OwnTracks log: the position is kept, the time is dropped, and one problem per file part
says how many points and why.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from deepdiary.connectors.locations.model import TrackPoint, TrackProblem, Visit

UTC = timezone.utc

# Before this, a consumer GPS timestamp is a device fault, not a memory.
EARLIEST_TRUSTED = datetime(1990, 1, 1, tzinfo=UTC)
# A photo's own date can be far older than GPS (a scan tagged with a place later); before
# the first photograph (1826) it is a camera clock fault.
EARLIEST_PHOTO = datetime(1826, 1, 1, tzinfo=UTC)
# Clocks drift and zones get mislabelled by hours; beyond a day ahead it is a wrong clock.
FUTURE_SLACK = timedelta(days=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Unreadable(str):
    """A time the file gave as text we could not read; kept to quote it in the problem."""


def to_utc(value: datetime) -> datetime:
    # GPX and Takeout specify UTC, so a time without a zone is UTC, not local time.
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: distrusted anyway, keep the wall time
        return value.replace(tzinfo=UTC)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def date_span(times: list[datetime]) -> str:
    first, last = min(times).date().isoformat(), max(times).date().isoformat()
    return first if first == last else f"{first} to {last}"


def as_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def is_number(text: str) -> bool:
    """What float() accepts (so what gpxpy accepts), nan and inf included."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def valid_position(lat: Any, lon: Any) -> bool:
    flat, flon = as_float(lat), as_float(lon)
    return flat is not None and flon is not None and -90 <= flat <= 90 and -180 <= flon <= 180


def trusted_time(
    value: Any, now: datetime, earliest: datetime = EARLIEST_TRUSTED
) -> tuple[datetime | None, str | None]:
    """(UTC time or None, why it was not trusted or None)."""
    if value is None:
        return None, None
    if isinstance(value, Unreadable):
        return None, "unreadable"
    value = to_utc(value)
    if value < earliest:
        return None, "early"
    if value > now + FUTURE_SLACK:
        return None, "future"
    return value, None


def clean_points(
    raw: Iterable[tuple[Any, Any, Any, Any]],
    where: str,
    problems: list[TrackProblem],
    now: datetime,
    noun: str = "point",
    earliest: datetime = EARLIEST_TRUSTED,
) -> list[TrackPoint]:
    """Vet (lat, lon, ele, time) tuples; one problem per kind of fault, not per point."""
    kept: list[TrackPoint] = []
    bad_coords: list[tuple[Any, Any]] = []
    early: list[datetime] = []
    future: list[datetime] = []
    unreadable: list[str] = []
    for lat, lon, ele, when in raw:
        if not valid_position(lat, lon):
            bad_coords.append((lat, lon))
            continue
        flat, flon = float(lat), float(lon)
        time, why = trusted_time(when, now, earliest)
        if why == "early":
            early.append(to_utc(when))
        elif why == "future":
            future.append(to_utc(when))
        elif why == "unreadable":
            unreadable.append(str(when))
        kept.append(TrackPoint(time=time, lat=flat, lon=flon, ele=as_float(ele)))
    if bad_coords:
        lat, lon = bad_coords[0]
        problems.append(
            TrackProblem(
                where,
                f"{plural(len(bad_coords), noun)} with missing or impossible coordinates dropped "
                f"(e.g. lat {lat!r}, lon {lon!r})",
            )
        )
    if early:
        problems.append(
            TrackProblem(
                where,
                f"{plural(len(early), noun)} dated {date_span(early)}: "
                f"timestamps before {earliest.year} are not trusted; positions kept without a time",
            )
        )
    if future:
        problems.append(
            TrackProblem(
                where,
                f"{plural(len(future), noun)} dated {date_span(future)}: timestamps more than "
                "a day in the future are not trusted; positions kept without a time",
            )
        )
    if unreadable:
        problems.append(
            TrackProblem(
                where,
                f"{plural(len(unreadable), noun)} with times that are not a date and time "
                f"(e.g. {unreadable[0]!r}); positions kept without a time",
            )
        )
    return kept


def clean_segments(
    raw_segments: list[list[tuple[Any, Any, Any, Any]]],
    where: str,
    problems: list[TrackProblem],
    now: datetime,
    noun: str = "point",
) -> list[list[TrackPoint]]:
    """``clean_points`` over many segments at once: one problem per fault for the whole
    file part (not one per segment), segments left empty dropped."""
    owners = [si for si, seg in enumerate(raw_segments) for p in seg if valid_position(p[0], p[1])]
    kept = clean_points((p for seg in raw_segments for p in seg), where, problems, now, noun)
    segments: list[list[TrackPoint]] = [[] for _ in raw_segments]
    for si, point in zip(owners, kept):  # clean_points keeps exactly the valid positions, in order
        segments[si].append(point)
    return [seg for seg in segments if seg]


def in_time_order(points: list[TrackPoint]) -> list[TrackPoint]:
    """Time order, with an undated point kept right after the one before it in the file."""
    keys, last = [], datetime.min.replace(tzinfo=UTC)
    for p in points:
        last = p.time or last
        keys.append(last)
    order = sorted(range(len(points)), key=lambda i: keys[i])
    return [points[i] for i in order]


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def parse_iso(text: Any) -> datetime | Unreadable | None:
    """ISO 8601 date-time with optional fraction (any length) and zone; None when empty."""
    if text is None:
        return None
    text = str(text).strip()
    if not text:
        return None
    match = _ISO.match(text)
    if not match:
        return Unreadable(text)
    year, month, day, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    micro = int((match.group(7) or "0")[:6].ljust(6, "0"))
    zone = match.group(8)
    try:
        tz = UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError):
        return Unreadable(text)


_EPOCH_UNITS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}


def parse_epoch(value: Any, unit: str | None = None) -> datetime | Unreadable | None:
    """Unix time as a number or numeric text, in seconds, milliseconds or microseconds.

    Without ``unit`` the size tells them apart: 10^11 seconds is the year 5138, while 10^11
    milliseconds is 1973, so anything that large is milliseconds (10^14 and up, microseconds).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = None if isinstance(value, bool) else as_float(value)
    if number is None:
        return Unreadable(str(value))
    if unit is None:
        unit = "us" if abs(number) >= 1e14 else "ms" if abs(number) >= 1e11 else "s"
    try:
        # Whole numbers stay exact; a float division would round milliseconds off.
        amount = int(number) if number.is_integer() else number
        return _EPOCH + timedelta(**{_EPOCH_UNITS[unit]: amount})
    except OverflowError:
        return Unreadable(str(value))


def parse_time(value: Any) -> datetime | Unreadable | None:
    """An ISO 8601 string or a Unix time (number or numeric text): what trackers write."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_epoch(value)
    if isinstance(value, str) and is_number(value.strip()) and value.strip():
        return parse_epoch(value)
    return parse_iso(value)


_LATLNG_TEXT = re.compile(r"^\s*(?:geo:)?\s*([-+]?\d+(?:\.\d+)?)\s*°?\s*,\s*([-+]?\d+(?:\.\d+)?)\s*°?\s*$")


def parse_latlng_text(text: Any) -> tuple[Any, Any]:
    """'48.8566°, 2.3522°' (Timeline) or 'geo:48.8566,2.3522' (RFC 5870, the phone's export)
    -> (lat, lon) floats; what cannot be read comes back as (text, None) so a problem can quote it."""
    if not isinstance(text, str):
        return text, None
    match = _LATLNG_TEXT.match(text)
    if not match:
        return text, None
    return float(match.group(1)), float(match.group(2))


def make_visit(begin, end, coords, name, address, source, where, problems, now) -> Visit | None:
    """A visit from its begin and end times and the coordinates of the place (averaged);
    None, with a problem, when the times are missing, untrusted or reversed."""
    start, _ = trusted_time(begin, now)
    stop, _ = trusted_time(end, now)
    if start is None or stop is None:
        reason = f"visit time {begin!s} to {end!s} is missing or not trusted; visit dropped"
        problems.append(TrackProblem(where, reason))
        return None
    if stop < start:
        reason = f"visit ends ({stop.isoformat()}) before it starts ({start.isoformat()}); dropped"
        problems.append(TrackProblem(where, reason))
        return None
    good = [(la, lo) for la, lo in coords if valid_position(la, lo)]
    if not good:
        problems.append(TrackProblem(where, "visit has no usable coordinates; dropped"))
        return None
    lat = sum(la for la, _ in good) / len(good)
    lon = sum(lo for _, lo in good) / len(good)
    return Visit(start=start, end=stop, lat=lat, lon=lon, name=name, address=address, source=source)

