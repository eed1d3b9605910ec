"""UnixFS files and directories as DAG-PB blocks, laid out exactly as kubo's ``ipfs add`` lays them.

``ipfs add --cid-version 1 --raw-leaves`` cuts a file into 256 KiB chunks, stores each as a raw
block, and links them by DAG-PB nodes of at most 174 links, filled left to right, a level at a
time (go-unixfs's "balanced" layout). A file of one chunk is its raw block alone, so its CID is
the plain raw CID of its sha256. Building the same blocks here gives a photo the CID it has on
any IPFS node or gateway, without a node.

``cid_version=0, raw_leaves=False`` is kubo's older default (``Qm...`` ids, leaves wrapped in
DAG-PB). It shares the layout and the encoding, and it is what the embedded kubo node's own
``add`` gives, so a test can hold this encoder to kubo's output block for block.

No well-kept PyPI library builds UnixFS file DAGs (the DAG-PB and CAR packages there are
0.0.x placeholders), and the encoding is small: two protobuf messages.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

CHUNK_SIZE = 262_144  # kubo's default chunker: size-262144
MAX_LINKS = 174  # kubo's default: links per DAG-PB node of a file

_RAW, _DAG_PB, _SHA2_256 = 0x55, 0x70, 0x12
# UnixFS Data.Type
_T_DIRECTORY, _T_FILE = 1, 2


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return varint(field << 3) + varint(value)


def _field_bytes(field: int, value: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(value)) + value


def _cid(codec: int, data: bytes, version: int) -> bytes:
    multihash = bytes([_SHA2_256, 32]) + hashlib.sha256(data).digest()
    if version == 0:
        return multihash  # a CIDv0 is a bare sha2-256 multihash of a DAG-PB block
    return varint(1) + varint(codec) + multihash


def cid_text(cid: bytes) -> str:
    """The usual text form: base58btc for a CIDv0 (``Qm...``), base32 for a CIDv1 (``baf...``)."""
    if cid[:2] == bytes([_SHA2_256, 32]):
        from multiformats import multibase

        return multibase.encode(cid, "base58btc")[1:]  # a CIDv0 has no multibase prefix
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


def cid_bytes(text: str) -> bytes:
    """The binary form of a CID in text (the inverse of ``cid_text``)."""
    from multiformats import CID

    return bytes(CID.decode(text))


def raw_cid(sha256_hex: str) -> str:
    """The CIDv1 of a raw block whose sha256 is ``sha256_hex``."""
    return cid_text(varint(1) + varint(_RAW) + bytes([_SHA2_256, 32]) + bytes.fromhex(sha256_hex))


@dataclass(frozen=True)
class Block:
    cid: bytes
    data: bytes

    @property
    def cid_text(self) -> str:
        return cid_text(self.cid)


@dataclass(frozen=True)
class Link:
    """A child as its parent sees it: its CID, its whole subtree's block bytes (DAG-PB Tsize)
    and, for a file, the bytes of content it holds."""
    cid: bytes
    tsize: int
    filesize: int

    @property
    def cid_text(self) -> str:
        return cid_text(self.cid)


def _pb_node(links: list[tuple[bytes, str, int]], data: bytes | None) -> bytes:
    """A DAG-PB PBNode in canonical form: links first, then data. kubo always writes a
    link's Name, even empty, and its Tsize."""
    out = bytearray()
    for cid, name, tsize in links:
        link = _field_bytes(1, cid) + _field_bytes(2, name.encode("utf-8")) + _field_varint(3, tsize)
        out += _field_bytes(2, link)
    if data is not None:
        out += _field_bytes(1, data)
    return bytes(out)


def _unixfs_data(kind: int, data: bytes | None = None, filesize: int | None = None,
                 blocksizes: Iterable[int] = ()) -> bytes:
    out = bytearray(_field_varint(1, kind))
    if data:
        out += _field_bytes(2, data)
    if filesize is not None:
        out += _field_varint(3, filesize)
    for size in blocksizes:  # proto2 repeated, not packed
        out += _field_varint(4, size)
    return bytes(out)


class _Chunks:
    """Fixed-size chunks with one chunk of lookahead, so the layout can ask "is there more?"."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._next = next(self._chunks, None)

    def done(self) -> bool:
        return self._next is None

    def take(self) -> bytes:
        chunk, self._next = self._next, next(self._chunks, None)
        return chunk


class _FileBuilder:
    def __init__(self, emit: Callable[[Block], None], cid_version: int, raw_leaves: bool):
        self.emit = emit
        self.cid_version = cid_version
        self.raw_leaves = raw_leaves

    def leaf(self, chunk: bytes) -> Link:
        if self.raw_leaves:
            block = Block(_cid(_RAW, chunk, 1), chunk)
        else:
            data = _pb_node([], _unixfs_data(_T_FILE, chunk, len(chunk)))
            block = Block(_cid(_DAG_PB, data, self.cid_version), data)
        self.emit(block)
        return Link(block.cid, len(block.data), len(chunk))

    def internal(self, children: list[Link]) -> Link:
        filesize = sum(c.filesize for c in children)
        data = _pb_node([(c.cid, "", c.tsize) for c in children],
                        _unixfs_data(_T_FILE, None, filesize, [c.filesize for c in children]))
        block = Block(_cid(_DAG_PB, data, self.cid_version), data)
        self.emit(block)
        return Link(block.cid, len(data) + sum(c.tsize for c in children), filesize)

    def fill(self, chunks: _Chunks, children: list[Link], depth: int) -> Link:
        while len(children) < MAX_LINKS and not chunks.done():
            if depth == 1:
                children.append(self.leaf(chunks.take()))
            else:
                children.append(self.fill(chunks, [], depth - 1))
        return self.internal(children)

    def layout(self, chunks: _Chunks) -> Link:
        if chunks.done():
            return self.leaf(b"")
        root = self.leaf(chunks.take())
        depth = 1
        while not chunks.done():
            root = self.fill(chunks, [root], depth)
            depth += 1
        return root


def _read_chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK_SIZE):
        yield chunk


def _split(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK_SIZE):
        yield data[start:start + CHUNK_SIZE]


def file_dag(data: bytes | BinaryIO, emit: Callable[[Block], None] | None = None,
             cid_version: int = 1, raw_leaves: bool = True) -> Link:
    """Lay ``data`` (bytes or a binary file) out as ``ipfs add`` does; each block goes to ``emit``
    (leaves first, the root last), and the root's link comes back."""
    chunks = _split(data) if isinstance(data, (bytes, bytearray, memoryview)) else _read_chunks(data)
    builder = _FileBuilder(emit or (lambda block: None), cid_version, raw_leaves)
    return builder.layout(_Chunks(chunks))


def file_blocks(data: bytes | BinaryIO, cid_version: int = 1, raw_leaves: bool = True) -> tuple[Link, list[Block]]:
    blocks: list[Block] = []
    root = file_dag(data, blocks.append, cid_version, raw_leaves)
    return root, blocks


def file_cid(path: Path) -> str:
    """The CID ``ipfs add --cid-version 1 --raw-leaves`` gives the file at ``path``."""
    with open(path, "rb") as fh:
        return file_dag(fh).cid_text


def bytes_cid(data: bytes) -> str:
    return file_dag(data).cid_text


def directory(entries: dict[str, Link], emit: Callable[[Block], None] | None = None) -> Link:
    """A plain (not sharded) UnixFS directory of named children, links sorted by name as kubo
    sorts them."""
    names = sorted(entries, key=lambda name: name.encode("utf-8"))
    data = _pb_node([(entries[n].cid, n, entries[n].tsize) for n in names], _unixfs_data(_T_DIRECTORY))
    block = Block(_cid(_DAG_PB, data, 1), data)
    if emit:
        emit(block)
    return Link(block.cid, len(data) + sum(entries[n].tsize for n in names), 0)


def content_cid(path: Path, sha256_hex: str, size: int | None = None) -> str:
    """``file_cid`` of ``path``, without reading a file of one chunk again: its CID is the raw
    CID of the sha256 already known."""
    if size is None:
        size = Path(path).stat().st_size
    return raw_cid(sha256_hex) if size <= CHUNK_SIZE else file_cid(path)
