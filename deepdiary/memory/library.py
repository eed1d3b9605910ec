"""A Deep Diary library: the catalogue database plus the blob store, in one folder.

An encrypted library (a ``keyring.json`` in its folder) opens only with its unlocked
``key`` (``sealing.LibraryKey``): the catalogue and text index are SQLCipher files and the
blob store seals what it writes."""

from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

from sqlalchemy.engine import Engine
from sqlmodel import Session

from deepdiary.core.errors import InvalidInput, LibraryLocked
from deepdiary.core.settings import Settings
from deepdiary.memory.blobs import Blobs, blob_store
from deepdiary.memory.catalogue import make_engine, reader, session_scope, upgrade
from deepdiary.memory.sealing import ENCRYPTING, Keyring
from deepdiary.memory.vectors import ChromaServerVectors, LocalVectors, VectorIndex


class Library:
    def __init__(self, settings: Settings, models=None, key=None):
        self.settings = settings
        self._models = models
        self.key = key  # the unlocked data key of an encrypted library; None for a plain one

    @classmethod
    def open(cls, settings: Settings, models=None, key=None) -> "Library":
        """Open (creating and migrating when needed) the library the settings name."""
        lib = cls(settings, models, key)
        folder = settings.library_dir
        if folder.exists() and not folder.is_dir():
            raise InvalidInput(f"library: {folder} is a file, not a folder")
        ring = Keyring.load(folder) if folder.is_dir() else None
        if ring is not None and key is None:
            ring.unlock(None)  # raises LibraryLocked, saying how to unlock it
        if ring is not None and ring.state == ENCRYPTING:
            raise LibraryLocked(f"the encryption of the library at {folder} did not finish: run `deepdiary encrypt` "
                                "again to finish it")
        if ring is None and key is not None:
            raise InvalidInput(f"the library at {folder} is not encrypted; run `deepdiary encrypt` to encrypt it")
        if ring is not None and settings.chroma_url:
            # Its vectors (and what they give away of the texts) stay in its own folder, where
            # its unused HNSW slots are scrubbed; a shared server is out of its reach.
            raise InvalidInput(f"the library at {folder} is encrypted and keeps its vectors in its own folder; "
                               "unset DEEPDIARY_CHROMA_URL to open it")
        if ring is not None and not settings.catalogue_url.startswith("sqlite"):
            # SQLCipher seals the catalogue and the text index; a server database is the server's to encrypt.
            raise InvalidInput(f"the library at {folder} is encrypted and keeps its catalogue in its own folder; "
                               "unset DEEPDIARY_DATABASE_URL to open it")
        folder.mkdir(parents=True, exist_ok=True)
        upgrade(lib.engine, lock_dir=folder)
        return lib

    @cached_property
    def models(self):
        """The process-wide model cache for these settings."""
        if self._models is None:
            from deepdiary.models.registry import models_for

            self._models = models_for(self.settings)
        return self._models

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.catalogue_url, self.key, self.settings.catalogue_schema)

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    @cached_property
    def blobs(self) -> Blobs:
        """The library's blob folder, or the S3 bucket the settings name (``s3_bucket``)."""
        return blob_store(self.settings, self.key)

    @cached_property
    def vectors(self) -> VectorIndex:
        """On the Chroma server of ``chroma_url`` (this library's database there, named by its
        namespace) when one is set; else in the library folder."""
        if self.settings.chroma_url:
            return ChromaServerVectors(self.settings.chroma_url, self.settings.library_namespace)
        return LocalVectors(self.settings.library_dir / "vectors", scrub_unused=self.encrypted)

    @property
    def text_index_path(self):
        return self.settings.library_dir / "text_index.db"

    @cached_property
    def text_index(self):
        from deepdiary.memory.text_index import Fts5Words, TextIndex

        if self.engine.dialect.name == "postgresql":
            from deepdiary.memory.pg_words import PostgresWords

            words = PostgresWords(self.engine)
        else:
            words = Fts5Words(self.text_index_path, self.key)
        return TextIndex(words, self.vectors, self.models.text, self.key)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work that may write: it commits on success and rolls back on error."""
        with session_scope(self.engine) as session:
            yield session

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A session for reading only; it never takes the write lock."""
        with session_scope(reader(self.engine)) as session:
            yield session

    def close(self) -> None:
        if "text_index" in self.__dict__:
            self.text_index.close()
        if "vectors" in self.__dict__:
            self.vectors.close()  # a local index is scrubbed: a read may have made a collection's files
        if "engine" in self.__dict__:
            self.engine.dispose()
