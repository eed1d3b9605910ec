"""Structural checks of a JPEG's EXIF block, so hostile metadata is reported to the user.

Pillow reads what it can from broken EXIF without complaint. This walker follows the
TIFF structure (IFD0, the EXIF and GPS sub-directories) and lists what breaks the
TIFF/EXIF rules: entries out of order, unknown field types, values that point outside
the block or to odd offsets, and sub-directory pointers of the wrong type.
"""

from __future__ import annotations

import struct

_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_SUB_IFDS = {0x8769: "ExifIFD", 0x8825: "GPS", 0xA005: "InteropIFD"}
_MAX_ENTRIES = 1000
# Tags whose format the EXIF standard fixes (type, count).
_FIXED_FORMAT = {0x9000: (7, 4), 0xA000: (7, 4), 0x9101: (7, 4)}
# ExifIFD's own tag range; outside these few, such a tag in IFD0 is misplaced.
_EXIF_RANGE = range(0x829A, 0xA500)
_IFD0_ALLOWED = {0x8769, 0x8825, 0x8298, 0x83BB, 0x8649, 0x8773, 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F}


def exif_block(data: bytes) -> bytes | None:
    """The TIFF block of the first ``Exif`` APP1 segment of a JPEG, if any."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no more metadata
            return None
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return segment[6:]
        pos += 2 + length
    return None


def exif_problems(data: bytes) -> list[str]:
    """Rule violations in the EXIF of JPEG bytes ``data``; empty when it is sound or absent."""
    block = exif_block(data)
    if block is None:
        return []
    problems: list[str] = []
    if len(block) < 8 or block[:2] not in (b"II", b"MM"):
        return ["EXIF block has no valid TIFF header"]
    order = "<" if block[:2] == b"II" else ">"
    first = struct.unpack(order + "I", block[4:8])[0]
    seen: set[int] = set()

    def walk(offset: int, name: str) -> None:
        if offset in seen:
            problems.append(f"{name} directory loops back to offset {offset}")
            return
        seen.add(offset)
        if offset + 2 > len(block):
            problems.append(f"{name} directory offset {offset} lies outside the EXIF block")
            return
        count = struct.unpack(order + "H", block[offset : offset + 2])[0]
        if count == 0:
            problems.append(f"{name} directory is empty")
            return
        if count > _MAX_ENTRIES or offset + 2 + 12 * count > len(block):
            problems.append(f"{name} directory claims {count} entries, more than the block holds")
            return
        last_tag = -1
        tags: set[int] = set()
        for i in range(count):
            entry = block[offset + 2 + 12 * i : offset + 14 + 12 * i]
            tag, typ, n = struct.unpack(order + "HHI", entry[:8])
            tags.add(tag)
            if tag < last_tag:
                problems.append(f"{name} entries are out of order at tag {tag:#06x}")
            last_tag = max(last_tag, tag)
            size = _TYPE_SIZES.get(typ)
            if size is None:
                problems.append(f"{name} tag {tag:#06x} has unknown field type {typ}")
                continue
            if n == 0:
                problems.append(f"{name} tag {tag:#06x} has no value (count 0)")
                continue
            if tag in _FIXED_FORMAT and name == "ExifIFD" and (typ, n) != _FIXED_FORMAT[tag]:
                problems.append(f"{name} tag {tag:#06x} has non-standard format (type {typ}, count {n})")
            if name == "IFD0" and tag in _EXIF_RANGE and tag not in _IFD0_ALLOWED:
                problems.append(f"IFD0 holds tag {tag:#06x}, which belongs in ExifIFD")
            if size * n > 4:
                value_offset = struct.unpack(order + "I", entry[8:12])[0]
                if value_offset + size * n > len(block):
                    problems.append(f"{name} tag {tag:#06x} points outside the EXIF block")
                elif value_offset % 2:
                    problems.append(f"{name} tag {tag:#06x} value at odd offset {value_offset}")
                elif typ in (5, 10) and n == 1:
                    den = struct.unpack(order + "I", block[value_offset + 4 : value_offset + 8])[0]
                    if den == 0:
                        problems.append(f"{name} tag {tag:#06x} is a fraction over zero")
            if tag in _SUB_IFDS and name in ("IFD0", "ExifIFD"):
                if typ not in (4, 13) or n != 1:
                    problems.append(
                        f"{name} pointer {_SUB_IFDS[tag]} has wrong format (type {typ}, count {n})"
                    )
                    continue
                walk(struct.unpack(order + "I", entry[8:12])[0], _SUB_IFDS[tag])
        if name == "ExifIFD" and 0x9000 not in tags:
            problems.append("ExifIFD lacks the required ExifVersion tag")

    walk(first, "IFD0")
    return problems
