"""Colour facets as people type them: ``red``, ``fg:red``, ``bg:蓝色``, ``red background``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from deepdiary.core.errors import InvalidInput
from deepdiary.core.palette import PALETTE, colour_name

Region = Literal["image", "foreground", "background"]
REGIONS: dict[str, Region] = {
    "image": "image", "all": "image", "fg": "foreground", "foreground": "foreground", "前景": "foreground",
    "bg": "background", "background": "background", "背景": "background"}


class ColourFacet(BaseModel):
    name: str = Field(description="palette colour name, e.g. 'blue'")
    region: Region = "image"


def parse_colour(text: str) -> ColourFacet:
    """'red', 'fg:red', 'bg:蓝色', 'red background', '蓝色 背景' -> a colour facet."""
    if ":" in text:
        prefix = text.rpartition(":")[0].strip().lower()
        if prefix and prefix not in REGIONS:
            raise InvalidInput(f"unknown colour region {prefix!r}: use fg:, bg: or image:")
    words = text.replace(":", " ").split()
    regions = [REGIONS[w.lower()] for w in words if w.lower() in REGIONS]
    word = " ".join(w for w in words if w.lower() not in REGIONS)
    name = colour_name(word)
    if name is None:
        raise InvalidInput(f"unknown colour {word!r}; known: {', '.join(PALETTE)}")
    return ColourFacet(name=name, region=regions[0] if regions else "image")
