"""What import-linter cannot see: below the services nothing reads the environment or opens a library."""

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "deepdiary"
BELOW_SERVICES = ("core", "connectors", "models", "memory", "pipeline", "nlu", "tools", "agent")
ENVIRONMENT = re.compile(r"os\.environ|getenv\(|\bSettings\(\)|load_settings\(")
OPENS_A_LIBRARY = re.compile(r"Library\.open\(")


def _sources():
    for package in BELOW_SERVICES:
        for path in sorted((PACKAGE / package).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def test_nothing_below_the_services_reads_the_environment():
    readers = [f"{p.relative_to(PACKAGE)}:{n}" for p, text in _sources()
               for n, line in enumerate(text.splitlines(), 1) if ENVIRONMENT.search(line)]
    assert readers == []


def test_nothing_below_the_services_opens_a_library():
    # Library.open itself lives in memory/library.py; only services (and tests) call it.
    callers = [f"{p.relative_to(PACKAGE)}:{n}" for p, text in _sources()
               for n, line in enumerate(text.splitlines(), 1)
               if OPENS_A_LIBRARY.search(line) and not p.name == "library.py"]
    assert callers == []
