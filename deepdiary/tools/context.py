"""What every tool shares: the library it reads, today's date, argument and result helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, model_validator

from deepdiary.core.dates import optional_bound
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Place

DATE_HELP = "YYYY-MM-DD (YYYY-MM or YYYY also work)"
MAX_TEXT = 600


@dataclass
class ToolContext:
    library: Library
    today: date


class Args(BaseModel):
    """Tool arguments; a null list (small models send them) means an empty one."""

    @model_validator(mode="before")
    @classmethod
    def _null_lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if not (v is None and k in cls.model_fields and cls.model_fields[k].default_factory is list)}
        return data


def day_bound(text: str | None, end: bool = False) -> datetime | None:
    """The first (or with ``end`` the last) moment of the day, month or year ``text`` names."""
    return optional_bound(text, end, free_text=False)


def when(t: datetime | str | None) -> str | None:
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.strftime("%Y-%m-%d %H:%M") if t else None


def place_label(city: str | None, country: str | None = None, city_zh: str | None = None) -> str | None:
    if not city:
        return None
    label = ", ".join(x for x in (city, country) if x)
    return f"{label} ({city_zh})" if city_zh and city_zh != city else label


def label_of(place: Place | None) -> str | None:
    return place_label(place.city, place.country, place.city_zh) if place else None


def clip(text: str | None, n: int = MAX_TEXT) -> str | None:
    return text if text is None or len(text) <= n else text[: n - 1] + "…"


def near_best(rows: list, score, ratio: float = 0.5) -> list:
    """Rows scoring at least ``ratio`` of the best, and above zero when any score is.

    On a small library the dense side of a fused search, or a demand scored against
    every note, returns everything; offering a small model the weak rows invites it to
    cite or praise all of them."""
    top = max((score(r) for r in rows), default=0.0)
    return [r for r in rows if score(r) >= ratio * top and (top <= 0 or score(r) > 0)]


def compact(d: dict) -> dict:
    """The dict without empty values, so a small model reads only what is known."""
    return {k: v for k, v in d.items() if v is not None and v != [] and v != ""}
