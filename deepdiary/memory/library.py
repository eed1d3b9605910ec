"""A Deep Diary library: the catalogue database plus the blob store, in one folder."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session

from deepdiary.memory.blobs import BlobStore
from deepdiary.memory.catalogue import make_engine, session_scope, upgrade
from deepdiary.memory.vectors import VectorIndex
from deepdiary.core.settings import Settings


class Library:
    def __init__(self, settings: Settings):
        self.settings = settings

    @classmethod
    def open(cls, settings: Settings) -> "Library":
        """Open (creating and migrating when needed) the library the settings name."""
        lib = cls(settings)
        settings.library_dir.mkdir(parents=True, exist_ok=True)
        upgrade(lib.engine)
        return lib

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.catalogue_url)

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    @cached_property
    def vectors(self) -> VectorIndex:
        return VectorIndex(self.settings.library_dir / "vectors")

    @cached_property
    def text_index(self):
        from deepdiary.memory.text_index import TextIndex
        from deepdiary.models.registry import models_for

        return TextIndex(self.settings.library_dir / "text_index.db", self.vectors, models_for(self.settings).text)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
