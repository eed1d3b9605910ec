"""Content-addressed storage of originals, with derived thumbnails beside them.

An original lives at ``blobs/ab/cd/<sha256><ext>`` and its thumbnail at
``blobs/ab/cd/<sha256>.thumb.webp``. Each item also carries a CIDv1 (raw codec,
sha2-256, base32) computed locally from the same digest, so that a decentralised
backend (IPFS, CESS) can later address the same bytes without rehashing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cid_v1(sha256_hex: str) -> str:
    """The CIDv1 of raw bytes whose sha256 is ``sha256_hex``."""
    from multiformats import CID, multihash

    return str(CID("base32", 1, "raw", multihash.wrap(bytes.fromhex(sha256_hex), "sha2-256")))


TEMP_PREFIX = ".tmp-"


def temp_writer(tmp: Path) -> tuple[int, str] | None:
    """The (pid, host) that is writing a blob temp file, from its name; None for an unnamed one."""
    name = tmp.name.removeprefix(TEMP_PREFIX)
    pid, at, rest = name.partition("@")
    if not at or not pid.isdigit() or "." not in rest:
        return None
    return int(pid), rest.rsplit(".", 1)[0]


def _atomic_write(dest: Path, writer) -> None:
    """Write through a temporary file and rename, so a kill never leaves half a file. The temp
    file's name says which process writes it, so a later ingest can tell a killed writer's
    leftover from a write in flight."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f"{TEMP_PREFIX}{os.getpid()}@{socket.gethostname()}.")
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._root_text = str(self.root)

    def _dir(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4]

    def original_path(self, sha256: str, ext: str) -> Path:
        return self._dir(sha256) / f"{sha256}{ext}"

    def thumbnail_path(self, sha256: str) -> Path:
        return self._dir(sha256) / f"{sha256}.thumb.webp"

    def thumbnail_file(self, sha256: str) -> str:
        """``thumbnail_path`` as a string, without pathlib: a gallery page names sixty of them."""
        return os.path.join(self._root_text, sha256[:2], sha256[2:4], f"{sha256}.thumb.webp")

    def put_file(self, source: Path, sha256: str, ext: str, copy: bool = True) -> Path:
        """Store ``source`` under its digest; a blob already there is left as it is."""
        dest = self.original_path(sha256, ext)
        if dest.exists():
            return dest
        if copy:
            _atomic_write(dest, lambda tmp: shutil.copyfile(source, tmp))
        return dest

    def put_thumbnail(self, sha256: str, image) -> Path:
        dest = self.thumbnail_path(sha256)
        _atomic_write(dest, lambda tmp: image.save(tmp, format="WEBP", quality=80, method=1))
        return dest
