"""Scripts in text: one definition of what counts as Chinese."""

from __future__ import annotations

import re

CJK_RANGE = "\u3400-\u9fff"
_CJK = re.compile(f"[{CJK_RANGE}]")
_ALL_CJK = re.compile(f"^[{CJK_RANGE}]+$")


def has_cjk(text: str) -> bool:
    """Whether any character is a CJK ideograph."""
    return bool(_CJK.search(text))


def is_all_cjk(text: str) -> bool:
    """Whether every character is a CJK ideograph (and there is at least one)."""
    return bool(_ALL_CJK.match(text))


def language_of(text: str) -> str:
    """``zh`` when the text has Chinese characters, else ``en``."""
    return "zh" if has_cjk(text) else "en"
