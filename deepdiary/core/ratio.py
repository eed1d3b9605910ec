"""Aspect ratios as people type them: ``16:9``, ``4/3``, ``1.5``."""

from __future__ import annotations

import re

from deepdiary.core.errors import InvalidInput

_RATIO = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:[:/]\s*([0-9]*\.?[0-9]+)\s*)?$")


def parse_ratio(text: str) -> float:
    """'16:9' -> 1.777..., '4/3' -> 1.333..., '1.5' -> 1.5, '1:1' -> 1.0."""
    m = _RATIO.match(text or "")
    if not m:
        raise InvalidInput(
            f"cannot read aspect ratio {text!r}: write it as width:height (16:9), "
            "width/height (4/3) or a number (1.5)"
        )
    num = float(m.group(1))
    den = float(m.group(2)) if m.group(2) is not None else 1.0
    if num <= 0 or den <= 0:
        raise InvalidInput(f"aspect ratio {text!r} must have positive width and height")
    return num / den
