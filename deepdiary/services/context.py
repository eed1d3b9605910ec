"""The application context every service takes: settings, the model cache and the library.

Interfaces build one ``AppContext`` (the CLI per command, the web app and the bots once
per process) and pass it to every service call; it is safe to share between threads.
This is the only place that reads the environment and the only place that opens a
library.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlmodel import Session

from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.models.registry import ModelCache, models_for


def load_settings(library: Path | None = None, key_file: Path | None = None) -> Settings:
    """Settings from ``DEEPDIARY_*`` variables, with ``library`` (the CLI's ``--library``) and
    ``key_file`` (``--key-file``) winning."""
    given = {k: v for k, v in (("home", library), ("key_file", key_file)) if v is not None}
    return Settings(**given)


class AppContext:
    def __init__(self, settings: Settings, models: ModelCache | None = None, user=None):
        self.settings = settings
        self.models = models or models_for(settings)
        # A user's library (a ``services.users.LibraryUser``: id, name, the home's access
        # database); None for the owner's (the home) library.
        self.user = user
        self._access = None
        self._library: Library | None = None
        # Encryption at rest: ``ask_secret(prompt, confirm)`` is an interface's passphrase prompt
        # (None where nobody can answer); ``key`` the unlocked data key, once unlocked.
        self.ask_secret = None
        self.key = None
        self._lock = threading.Lock()
        from deepdiary.models import torch_runtime

        torch_runtime.set_threads(settings.torch_threads)

    @classmethod
    def from_environment(cls, library: Path | None = None, key_file: Path | None = None,
                         ask_secret=None) -> "AppContext":
        """Settings from ``DEEPDIARY_*`` variables, with ``library`` (``--library``) and ``key_file``
        (``--key-file``) winning."""
        ctx = cls(load_settings(library, key_file))
        ctx.ask_secret = ask_secret
        return ctx

    @classmethod
    def for_library(cls, library: Library) -> "AppContext":
        """A context around a library that is already open (tests, the demo)."""
        ctx = cls(library.settings, library.models)
        ctx._library, ctx.key = library, library.key
        return ctx

    @property
    def library(self) -> Library:
        """The library, opened (and migrated) on first use."""
        if self._library is None:
            with self._lock:
                if self._library is None:
                    if self.key is None:
                        from deepdiary.services.encryption import unlock

                        self.key = unlock(self.settings, self.ask_secret)  # None: not encrypted
                    self._library = Library.open(self.settings, self.models, key=self.key)
        return self._library

    @property
    def access(self):
        """The home folder's access database (users, where their tokens lead, share links)."""
        if self.user is not None:
            return self.user.access
        if self._access is None:
            with self._lock:
                if self._access is None:
                    from deepdiary.memory.access import AccessStore

                    self._access = AccessStore(self.settings.library_dir)
        return self._access

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One unit of work: it commits on success, rolls back on any error."""
        with self.library.session() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: it never takes the write lock."""
        with self.library.read_session() as session:
            yield session

    def warm_up(self, log=None) -> list[str]:
        """Load what answering needs (the text encoder, the housekeeper's model) now, so that no
        request pays for it; a model that cannot load is reported and left to fail per request."""
        from deepdiary.core.errors import DeepDiaryError

        warmed = []
        for name, load in (("text encoder", lambda: self.models.text.embed(["warm"])),
                           (f"language model ({self.settings.llm_backend})", lambda: self.models.llm())):
            try:
                load()
                warmed.append(name)
            except DeepDiaryError as exc:
                if log:
                    log(f"{name} not loaded: {exc}")
        return warmed

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
        if self._access is not None:
            self._access.close()
