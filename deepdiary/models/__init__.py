"""Thin, lazily loaded wrappers over ML models, one class per model task.

Every model loads on first use, once per process, from weights shipped inside an
installed package or from a path the user configures; nothing is downloaded. When a
model cannot load, ``ModelUnavailable`` names what to install or configure.
"""


class ModelUnavailable(RuntimeError):
    """A model cannot be loaded here; the message says what to install or configure."""
