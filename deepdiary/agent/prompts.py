"""The prompt files in ``deepdiary/prompts``, loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from string import Template

from deepdiary.prompts import prompt  # noqa: F401 - the one loader, shared with the pipeline


@cache
def answer_templates() -> dict[str, dict[str, str]]:
    return json.loads(files("deepdiary.prompts").joinpath("answer_templates.json").read_text(encoding="utf-8"))


def say(language: str, key: str, **values) -> str:
    return Template(answer_templates()[language][key]).safe_substitute(**values)
