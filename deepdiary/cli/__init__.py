"""The ``deepdiary`` command line."""

from deepdiary.cli.main import app

__all__ = ["app"]
