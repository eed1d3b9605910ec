"""What the encryption tests share: a passphrase, settings that carry it, and the search of
every byte under a library folder for text or pictures an encrypted library must not show."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import SecretStr

from deepdiary.core.settings import Settings
from tests.library_builder import settings_for

PHRASE = "seven tide pools at dawn"
CHAT_PHRASE = "环岛骑一圈"  # a message of the sample WeChat export
CHAT_QUESTIONS = ("环岛骑一圈", "养马岛", "租车", "吃饭", "签约")

# A JPEG's start (SOI, then its APP0/APP1 segment with "JFIF" or "Exif"). The bare three bytes
# FF D8 FF turn up in random ciphertext about once per 16 MiB, so inside a file it is the
# marker with its segment name that counts; at a file's start the three bytes alone do.
JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_INSIDE = re.compile(rb"\xff\xd8\xff[\xe0\xe1]..(?:JFIF|Exif)\x00", re.S)
WEBP_INSIDE = b"WEBPVP8"


def sealed_settings(library: Path, passphrase: str | None = PHRASE, **kw) -> Settings:
    return settings_for(library).model_copy(
        update={"passphrase": SecretStr(passphrase) if passphrase else None, **kw})


def library_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, hidden ones, side files and Chroma's included."""
    return [Path(root) / name for root, _dirs, files in os.walk(folder) for name in files]


def leaks(folder: Path, needles: list[str]) -> list[tuple[str, str]]:
    """(file, what) for each file under ``folder`` that shows a needle (as UTF-8), a JPEG or a WebP."""
    found = []
    for path in library_files(folder):
        data = path.read_bytes()
        rel = str(path.relative_to(folder))
        found += [(rel, needle) for needle in needles if needle.encode("utf-8") in data]
        if data.startswith(JPEG_MAGIC) or _JPEG_INSIDE.search(data):
            found.append((rel, "JPEG"))
        if WEBP_INSIDE in data:
            found.append((rel, "WebP"))
    return found
