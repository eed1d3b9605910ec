"""The prompt files in this folder, loaded once, for whichever layer calls a language model
(the housekeeper, the fact learner, the event diary)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from string import Template


@cache
def prompt(name: str) -> Template:
    return Template(files("deepdiary.prompts").joinpath(name).read_text(encoding="utf-8"))
