"""CARv1 files: a DAG-CBOR header naming the roots, then each block as varint length, CID, bytes.

Any IPFS node imports one (``ipfs dag import``); the spec is
https://ipld.io/specs/transport/car/carv1/. The header is one small fixed shape, so it is
encoded here rather than through a DAG-CBOR library.
"""

from __future__ import annotations

from typing import BinaryIO, Iterable

from deepdiary.memory.unixfs import Block, varint


def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([major << 5 | info]) + n.to_bytes(width, "big")
    raise ValueError("too large for CBOR")


def _header(roots: list[bytes]) -> bytes:
    """``{"roots": [CID...], "version": 1}`` in DAG-CBOR: keys sorted by length, a CID as tag 42
    over its bytes behind a 0x00 (the identity multibase)."""
    out = bytearray(_cbor_head(5, 2))
    out += _cbor_head(3, 5) + b"roots" + _cbor_head(4, len(roots))
    for cid in roots:
        out += bytes([0xD8, 42]) + _cbor_head(2, len(cid) + 1) + b"\x00" + cid
    out += _cbor_head(3, 7) + b"version" + _cbor_head(0, 1)
    return bytes(out)


def write_car(out: BinaryIO, roots: list[bytes], blocks: Iterable[Block], header: bool = True) -> int:
    """Write a CARv1 of ``blocks`` under ``roots``, each block once; returns the blocks written.
    ``header=False`` writes only the blocks (to append to a CAR whose header is written apart)."""
    if header:
        head = _header(roots)
        out.write(varint(len(head)) + head)
    seen: set[bytes] = set()
    for block in blocks:
        if block.cid in seen:
            continue
        seen.add(block.cid)
        out.write(varint(len(block.cid) + len(block.data)) + block.cid)
        out.write(block.data)
    return len(seen)


def _read_varint(data: memoryview, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("CAR: truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _cid_length(section: memoryview) -> int:
    if section[0] == 0x12 and section[1] == 0x20:  # CIDv0: a bare sha2-256 multihash
        return 34
    at = 0
    for _ in range(3):  # version, codec, multihash code
        _, at = _read_varint(section, at)
    size, at = _read_varint(section, at)
    return at + size


def read_car(data: bytes) -> tuple[list[bytes], list[Block]]:
    """The roots and blocks of a CARv1 (the header is decoded by libipld's DAG-CBOR decoder)."""
    import libipld

    view = memoryview(data)
    size, at = _read_varint(view, 0)
    header = libipld.decode_dag_cbor(bytes(view[at:at + size]))
    if not isinstance(header, dict) or header.get("version") != 1:
        raise ValueError("not a CARv1 file")
    roots = [bytes(root) for root in header.get("roots", [])]  # libipld gives a CID as its bytes
    at += size
    blocks = []
    while at < len(view):
        size, at = _read_varint(view, at)
        section = view[at:at + size]
        cid_len = _cid_length(section)
        blocks.append(Block(bytes(section[:cid_len]), bytes(section[cid_len:])))
        at += size
    return roots, blocks
