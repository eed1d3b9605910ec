"""The prompt files in ``deepdiary/prompts``, loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from string import Template


@cache
def prompt(name: str) -> Template:
    return Template(files("deepdiary.prompts").joinpath(name).read_text(encoding="utf-8"))


@cache
def answer_templates() -> dict[str, dict[str, str]]:
    return json.loads(files("deepdiary.prompts").joinpath("answer_templates.json").read_text(encoding="utf-8"))


def say(language: str, key: str, **values) -> str:
    return Template(answer_templates()[language][key]).safe_substitute(**values)
