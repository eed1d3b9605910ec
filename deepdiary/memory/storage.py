"""Where a library's blobs are kept: the library folder always, and a backend besides it.

A backend takes a blob file *as it is stored* (sealed in an encrypted library, so an IPFS
node never sees a plaintext photo of one) and answers with the UnixFS CID those bytes have
on any IPFS node. Backends are registered by name; ``DEEPDIARY_BLOB_BACKEND`` picks one:

- ``local`` (the default): the blob folder alone. Nothing is copied anywhere.
- ``ipfs``: also pinned to an IPFS node, the embedded kubo node unless ``DEEPDIARY_IPFS_API``
  names a kubo daemon.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Callable

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.memory.ipfs import IpfsNode
from deepdiary.memory.unixfs import file_blocks, file_dag


def _reader(stored: Path | bytes) -> BinaryIO:
    return BytesIO(stored) if isinstance(stored, (bytes, bytearray)) else open(stored, "rb")


@dataclass(frozen=True)
class Pinned:
    cid: str  # of the bytes as stored (for a sealed blob: of the ciphertext)
    size: int
    blocks: int


class StorageBackend:
    name = ""

    def put(self, stored: Path | bytes) -> Pinned:
        """Keep the blob file ``stored`` (its bytes exactly as on disk), or those bytes themselves
        (a blob kept in S3); returns their CID."""
        raise NotImplementedError

    def read(self, cid: str) -> bytes:
        """The bytes ``put`` kept under ``cid``."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class LocalFolder(StorageBackend):
    """The library's own blob folder, which already holds every blob: ``put`` only names it."""

    name = "local"

    def __init__(self, **_):
        pass

    def put(self, stored: Path | bytes) -> Pinned:
        with _reader(stored) as fh:
            root = file_dag(fh)
        return Pinned(root.cid_text, root.filesize, 0)

    def read(self, cid: str) -> bytes:
        raise NotFound("the local blob folder is addressed by sha256, not by CID; set DEEPDIARY_BLOB_BACKEND=ipfs")


class IpfsPins(StorageBackend):
    """Blobs pinned to an IPFS node, laid out as ``ipfs add --cid-version 1 --raw-leaves`` would."""

    name = "ipfs"

    def __init__(self, node: IpfsNode, **_):
        self.node = node

    def put(self, stored: Path | bytes) -> Pinned:
        with _reader(stored) as fh:
            root, blocks = file_blocks(fh)
        self.node.put_dag([root.cid], blocks)
        return Pinned(root.cid_text, root.filesize, len(blocks))

    def read(self, cid: str) -> bytes:
        return self.node.cat(cid)

    def close(self) -> None:
        # The embedded node is one per repo for the whole process (closed at exit); a
        # daemon's client is this backend's own.
        if not getattr(self.node, "shared", False):
            self.node.close()


BACKENDS: dict[str, Callable[..., StorageBackend]] = {
    LocalFolder.name: LocalFolder,
    IpfsPins.name: IpfsPins,
}


def backend(name: str, node: Callable[[], IpfsNode] | None = None) -> StorageBackend:
    """The backend called ``name``; ``node`` opens the IPFS node when the backend needs one."""
    if name not in BACKENDS:
        raise InvalidInput(f"blob backend {name!r}: choose one of {', '.join(sorted(BACKENDS))}")
    if name == IpfsPins.name:
        if node is None:
            raise InvalidInput("the ipfs blob backend needs an IPFS node")
        return IpfsPins(node=node())
    return BACKENDS[name]()
