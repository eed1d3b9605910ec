"""Content-addressed storage of originals, with derived thumbnails beside them.

An original lives at ``blobs/ab/cd/<sha256><ext>`` and its thumbnail at
``blobs/ab/cd/<sha256>.thumb.webp``. The sha256 stays the internal key; each item also
carries the CIDv1 an IPFS node gives its file (``deepdiary.memory.unixfs``), and storage
backends (``deepdiary.memory.storage``) may hold the blobs besides this folder.

In an encrypted library (``key`` set) every file written here is sealed (see
``deepdiary.memory.sealing``), still named by the plaintext's sha256; ``BlobStore`` is then
the one place that reads blob bytes back (``read``, ``image_source``, ``sha256_of``). Without a
key, paths are handed out as before and nothing is read through Python.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
from io import BytesIO
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
    def __init__(self, root: Path, key=None):
        self.root = Path(root)
        self._root_text = str(self.root)
        self.key = key  # a sealing.LibraryKey in an encrypted library

    @property
    def sealed(self) -> bool:
        return self.key is not None

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
            if self.key is not None:
                self.put_bytes(dest, Path(source).read_bytes())
            else:
                _atomic_write(dest, lambda tmp: shutil.copyfile(source, tmp))
        return dest

    def put_thumbnail(self, sha256: str, image) -> Path:
        dest = self.thumbnail_path(sha256)
        if self.key is not None:
            out = BytesIO()
            image.save(out, format="WEBP", quality=80, method=1)
            self.put_bytes(dest, out.getvalue())
        else:
            _atomic_write(dest, lambda tmp: image.save(tmp, format="WEBP", quality=80, method=1))
        return dest

    def put_bytes(self, dest: Path, data: bytes) -> Path:
        """``data`` written at ``dest`` (sealed in an encrypted library) through an atomic rename."""
        if self.key is not None:
            data = self.key.seal(data)
        _atomic_write(dest, lambda tmp: tmp.write_bytes(data))
        return dest

    # -- reading: the one place blob bytes come back, opened when sealed ------------------

    def read(self, path: Path) -> bytes:
        """The plaintext of the blob file ``path`` (any file this store wrote)."""
        data = Path(path).read_bytes()
        return self.key.open(data) if self.key is not None else data

    def image_source(self, path: Path):
        """What ``PIL.Image.open`` takes for the blob file ``path``: the path itself, or the
        opened bytes in memory when sealed (plaintext never goes back to disk)."""
        return BytesIO(self.read(path)) if self.key is not None else path

    def sha256_of(self, path: Path) -> str:
        """The sha256 of the blob's plaintext (its name, when undamaged)."""
        if self.key is None:
            return sha256_file(path)
        return hashlib.sha256(self.read(path)).hexdigest()
