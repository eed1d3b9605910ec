"""The vector index: Chroma collections, in the library folder or on a Chroma server.

``VectorIndex`` is what the rest of the app uses. Two implementations:

- ``LocalVectors``: Chroma's files in the library's ``vectors`` folder (the default);
- ``ChromaServerVectors``: a server started with ``chroma run``, reached through chromadb's
  ``HttpClient``; each library is a database of its own on it (named by the library's
  namespace), so libraries sharing a server never see each other's collections.

Both speak to Chroma through the same client API, so the collection operations live in
the base class; what differs is how the client is made, how ``existing_ids`` reads
without writing, and what closing and scrubbing mean.

Vectors are always computed by our own models and passed in; Chroma's default
embedding function would try to download a model, so no collection ever gets one.
Ids are the catalogue's item ids as strings, so the catalogue stays the source of truth.
"""

from __future__ import annotations

import os
import struct
import threading
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import numpy as np

from deepdiary.core.errors import InvalidInput, StorageUnavailable

IMAGE_FEATURES = "image_features"
CLIP_IMAGE = "clip_image"
PHOTO_TEXT = "photo_text"

TENANT = "default_tenant"  # chromadb's own: a plain `chroma run` has only this one
_PAGE = 5000  # ids or vectors read per call when a whole collection is read


class VectorIndex:
    """The operations the app needs from a vector store, by collection name and item id."""

    _lock: threading.Lock

    # What each implementation provides.

    @property
    def client(self):
        """The chromadb client (``ClientAPI``), made on first use."""
        raise NotImplementedError

    @property
    def folder(self) -> Path | None:
        """The folder that holds the vectors on this machine; None when a server holds them."""
        return None

    @property
    def location(self) -> str:
        """Where the vectors are, for messages."""
        raise NotImplementedError

    def existing_ids(self, name: str) -> set[int]:
        """Every item id in collection ``name`` (none when there is no such collection), read
        without writing anything."""
        raise NotImplementedError

    def scrub(self) -> None:
        """Zero what an encrypted library must not leave on disk; nothing by default."""

    def close(self) -> None:
        """Done with the index for now (``Library.close``); a later call opens it again."""

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Around every call to Chroma: turns a transport failure into a typed error."""
        yield

    # The collection operations, the same on both.

    def collection(self, name: str):
        with self._reaching():
            return self.client.get_or_create_collection(
                name=name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )

    def names(self) -> list[str]:
        with self._reaching():
            return [c if isinstance(c, str) else c.name for c in self.client.list_collections()]

    def upsert(self, name: str, ids: list[int], vectors: np.ndarray, metadatas: list[dict] | None = None) -> None:
        with self._lock, self._reaching():
            self.collection(name).upsert(
                ids=[str(i) for i in ids], embeddings=np.asarray(vectors, dtype=np.float32).tolist(),
                metadatas=metadatas,
            )
            self.scrub()

    def get(self, name: str, ids: list[int] | None = None) -> dict[int, np.ndarray]:
        """Stored vectors by item id (all of them when ``ids`` is None)."""
        with self._reaching():
            col = self.collection(name)
            got = col.get(ids=[str(i) for i in ids] if ids is not None else None, include=["embeddings"])
        return {int(i): np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"])}

    def has(self, name: str, ids: list[int]) -> set[int]:
        """Which of ``ids`` have a vector in ``name``."""
        found: set[int] = set()
        with self._reaching():
            col = self.collection(name)
            for i in range(0, len(ids), _PAGE):
                found |= {int(j) for j in col.get(ids=[str(j) for j in ids[i:i + _PAGE]], include=[])["ids"]}
        return found

    def count(self, name: str) -> int:
        with self._reaching():
            return self.collection(name).count()

    def batches(self, name: str, metadatas: bool = True) -> Iterator[tuple[list[int], list, list | None]]:
        """The whole collection ``name`` as (ids, vectors, metadatas) pages, for a copy."""
        include = ["embeddings", "metadatas"] if metadatas else ["embeddings"]
        with self._reaching():
            col = self.collection(name)
            total = col.count()
            for offset in range(0, total, _PAGE):
                got = col.get(limit=_PAGE, offset=offset, include=include)
                if not got["ids"]:
                    break
                metas = got.get("metadatas") if metadatas else None
                yield [int(i) for i in got["ids"]], got["embeddings"], metas if metas and any(metas) else None

    def nearest(self, name: str, vector: np.ndarray, k: int = 50, where: dict | None = None) -> list[tuple[int, float]]:
        """The ``k`` nearest items as (item id, cosine similarity), closest first."""
        query = [np.asarray(vector, dtype=np.float32).tolist()]
        with self._reaching():
            col = self.collection(name)
            try:
                res = col.query(query_embeddings=query, n_results=k, where=where, include=["distances"])
            except Exception as exc:
                if _transport_failure(exc):
                    raise
                # Fewer vectors than asked for (or none): ask for what there is.
                count = col.count()
                if count == 0:
                    return []
                res = col.query(query_embeddings=query, n_results=min(k, count), where=where, include=["distances"])
        return [(int(i), 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0])]

    def delete(self, name: str, ids: list[int]) -> None:
        with self._lock, self._reaching():
            self.collection(name).delete(ids=[str(i) for i in ids])
            self.scrub()

    def drop(self, name: str) -> None:
        """Remove the collection ``name`` and all its vectors (nothing when there is none)."""
        with self._lock, self._reaching():
            if name in self.names():
                self.client.delete_collection(name)
            self.scrub()


class LocalVectors(VectorIndex):
    """Chroma's files in a folder of the library (``PersistentClient``)."""

    def __init__(self, path: Path, scrub_unused: bool = False):
        self.path = Path(path)
        self.scrub_unused = scrub_unused  # an encrypted library's: see scrub_unused_slots
        self._lock = threading.Lock()

    @cached_property
    def client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(
            path=str(self.path), settings=ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        )

    @property
    def folder(self) -> Path:
        return self.path

    @property
    def location(self) -> str:
        return str(self.path)

    def existing_ids(self, name: str) -> set[int]:
        """Read from Chroma's SQLite file, opened read-only, not through a client: opening a
        PersistentClient rewrites its HNSW files, and a check must not change a byte. The
        file's metadata segment is written in the same call as the log, so it holds every
        id an ``upsert`` returned from."""
        import sqlite3

        db = self.path / "chroma.sqlite3"
        if not db.exists():
            return set()
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute(
                "SELECT e.embedding_id FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name = ? AND s.scope = 'METADATA'", (name,))
            return {int(i) for (i,) in rows}
        finally:
            con.close()

    def scrub(self) -> None:
        if self.scrub_unused:
            scrub_unused_slots(self.path)

    def close(self) -> None:
        # The client stays open: chromadb shares one system per folder in a process, and
        # reopening it rewrites the HNSW files. close_client releases it when files must move.
        self.scrub()  # a read may have made a collection's files


class ChromaServerVectors(VectorIndex):
    """A Chroma server (``chroma run``) through ``HttpClient``; ``database`` is this library's
    database on it, in chromadb's default tenant, created on first use."""

    HEARTBEAT_SECONDS = 10.0  # chromadb's own HTTP calls have no timeout; the first probe does

    def __init__(self, url: str, database: str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"chroma_url: {url!r} is not an http:// or https:// URL of a Chroma server")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 8000)
        except ValueError:
            raise InvalidInput(f"chroma_url: {url!r} has no valid port") from None
        self.url = url.rstrip("/")
        self.database = database
        self._host, self._port, self._ssl = parts.hostname, port, parts.scheme == "https"
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return f"database {self.database} on the Chroma server at {self.url}"

    def _unreachable(self, reason) -> StorageUnavailable:
        return StorageUnavailable(f"the Chroma server at {self.url} cannot be reached ({reason}): start it "
                                  "(`chroma run --path DIR --host HOST --port PORT`) or unset DEEPDIARY_CHROMA_URL")

    def _chroma_settings(self):
        from chromadb.config import Settings as ChromaSettings

        return ChromaSettings(anonymized_telemetry=False, chroma_api_impl="chromadb.api.fastapi.FastAPI",
                              chroma_server_host=self._host, chroma_server_http_port=self._port,
                              chroma_server_ssl_enabled=self._ssl)

    def heartbeat(self) -> None:
        """Raise StorageUnavailable unless the server answers within HEARTBEAT_SECONDS."""
        import json
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=self.HEARTBEAT_SECONDS) as resp:
                json.load(resp)
        except urllib.error.HTTPError as exc:
            raise self._unreachable(f"it answered HTTP {exc.code}, is it a Chroma server?") from None
        except (OSError, ValueError) as exc:
            raise self._unreachable(getattr(exc, "reason", None) or exc) from None

    @cached_property
    def client(self):
        import chromadb
        from chromadb.errors import ChromaError, NotFoundError

        self.heartbeat()  # a clear error now, rather than chromadb's ValueError or a hang
        with self._reaching():
            admin = chromadb.AdminClient(self._chroma_settings())
            try:
                admin.get_database(self.database, tenant=TENANT)
            except NotFoundError:
                try:
                    admin.create_database(self.database, tenant=TENANT)
                except ChromaError:  # another process made it meanwhile
                    admin.get_database(self.database, tenant=TENANT)
            return chromadb.HttpClient(host=self._host, port=self._port, ssl=self._ssl,
                                       settings=self._chroma_settings(), tenant=TENANT, database=self.database)

    def existing_ids(self, name: str) -> set[int]:
        """Read through the client, which writes nothing on a server; a missing collection is
        not created (a check must not change the store)."""
        from chromadb.errors import NotFoundError

        with self._reaching():
            try:
                col = self.client.get_collection(name, embedding_function=None)
            except NotFoundError:
                return set()
            found: set[int] = set()
            total = col.count()
            for offset in range(0, total, _PAGE):
                got = col.get(limit=_PAGE, offset=offset, include=[])["ids"]
                if not got:
                    break
                found |= {int(i) for i in got}
            return found

    def close(self) -> None:
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if _transport_failure(exc):
                raise self._unreachable(exc) from None
            raise


def _transport_failure(exc: Exception) -> bool:
    """A failure to reach a Chroma server (connection refused or dropped, a timeout), as
    httpx raises it, or as chromadb rewords a failed connection."""
    import httpx

    return isinstance(exc, httpx.TransportError) or (
        isinstance(exc, ValueError) and "Could not connect to a Chroma server" in str(exc))


def close_client(index: VectorIndex) -> None:
    """Release the Chroma client of ``index`` (a local one's files can then be moved)."""
    client = index.__dict__.pop("client", None)
    if client is not None and hasattr(client, "close"):
        client.close()
    if client is not None:
        index.scrub()


# Chroma's hnswlib writes a segment's whole element buffers, max_elements slots each, into
# data_level0.bin and length.bin (each element's link-list size, 4 bytes), and allocates
# them with malloc, so the slots past the last element hold whatever the process had freed
# there: a chat line or a name an encrypted library must never show on disk (CI found one
# in each file). header.bin: int32 format version 1, then size_t offset_level0,
# max_elements, cur_element_count, size_data_per_element.
_HEADER = struct.Struct("<i4Q")
_LEVEL_SIZE = 4
_CHUNK = 1 << 20


def _zero_from(path: Path, at: int) -> int:
    """Zero ``path`` from byte ``at`` to its end (only where it is not zero already)."""
    zeroed = 0
    with open(path, "r+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        while at < end:
            fh.seek(at)
            chunk = fh.read(min(_CHUNK, end - at))
            if chunk.count(0) != len(chunk):
                fh.seek(at)
                fh.write(bytes(len(chunk)))
                zeroed += len(chunk)
            at += len(chunk)
    return zeroed


def scrub_unused_slots(folder: Path) -> int:
    """Zero the unused slots of every HNSW segment under ``folder``; returns the bytes zeroed.

    hnswlib never reads a slot past cur_element_count and fills a slot whole as it adds an
    element, so zeros there change no search."""
    zeroed = 0
    for header in Path(folder).glob("*/header.bin"):
        raw = header.read_bytes()
        if len(raw) < _HEADER.size:
            continue
        version, _offset, _max, count, slot = _HEADER.unpack_from(raw)
        if version != 1 or slot == 0:
            continue
        for name, size in (("data_level0.bin", slot), ("length.bin", _LEVEL_SIZE)):
            if (header.parent / name).exists():
                zeroed += _zero_from(header.parent / name, count * size)
    return zeroed
