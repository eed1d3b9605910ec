"""Thin, lazily loaded wrappers over ML models, one class per model task.

Every model loads on first use, once per process, from weights shipped inside an
installed package or from a path the user configures; nothing is downloaded. When a
model cannot load, ``ModelUnavailable`` names what to install or configure.
"""

from deepdiary.core.errors import ModelUnavailable

__all__ = ["ModelUnavailable"]
