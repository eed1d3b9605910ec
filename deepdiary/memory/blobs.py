"""Content-addressed storage of originals, with derived thumbnails beside them.

An original is named ``ab/cd/<sha256><ext>`` and its thumbnail ``ab/cd/<sha256>.thumb.webp``.
The sha256 stays the internal key; each item also carries the CID an IPFS node gives its file
(``deepdiary.memory.unixfs``), and storage backends (``deepdiary.memory.storage``) may pin the
blobs besides.

``Blobs`` is the interface every caller goes through; a blob is named by the *ref* the
store hands out (``original``, ``thumbnail``, ``ref_at``) and only handed back to it. Two
stores implement it:

- ``FolderBlobs`` (``BlobStore``, its name before the interface): the library's ``blobs``
  folder (refs are the files' ``Path``s; an unsealed blob is served, hashed and decoded
  straight from its file);
- ``S3Blobs``: an S3-compatible bucket (refs are ``BlobKey``s), each library under its own
  prefix, so workers on other machines read the same originals.

In an encrypted library (``key`` set) every blob is sealed (see ``deepdiary.memory.sealing``)
before it is written, still named by the plaintext's sha256, in either store; the store is then
the one place that reads blob bytes back (``read``, ``open``, ``image_source``, ``sha256_of``).
Library files that are not blobs (collages, uploads) are sealed the same way through
``put_bytes`` and read back by ``read`` given their ``Path``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Iterator, Union

from deepdiary.core.errors import BlobStoreUnavailable

_CHUNK = 1 << 20
THUMB_SUFFIX = ".thumb.webp"


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


def _webp(image) -> bytes:
    out = BytesIO()
    image.save(out, format="WEBP", quality=80, method=1)
    return out.getvalue()


class BlobKey(str):
    """A blob's name in an object store, ``ab/cd/<sha256><suffix>`` (its path in a folder store)."""

    __slots__ = ()

    @classmethod
    def of(cls, sha256: str, suffix: str) -> "BlobKey":
        return cls(f"{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}")

    @classmethod
    def at(cls, location: str) -> "BlobKey":
        """The key a location (a path, an ``s3://`` address) ends with: its last three parts."""
        return cls("/".join(str(location).replace(os.sep, "/").rsplit("/", 3)[-3:]))

    @property
    def name(self) -> str:
        return self.rsplit("/", 1)[-1]


def blob_digest(name: str) -> str:
    """The sha256 a blob is named after (an original or its thumbnail)."""
    return name.removesuffix(THUMB_SUFFIX).split(".", 1)[0]


# A blob's ref: a ``Path`` in a folder store, a ``BlobKey`` in an object store. A ``Path``
# handed to an object store names a library file that is not a blob (a collage, an upload).
BlobRef = Union[Path, BlobKey]


@dataclass(frozen=True)
class BlobFile:
    """A blob as a caller serves it: a plaintext file to stream (``path``), or its bytes."""

    name: str
    path: Path | None = None
    data: bytes | None = None

    def read(self) -> bytes:
        return self.data if self.data is not None else self.path.read_bytes()


@dataclass(frozen=True)
class StoredBlob:
    """One blob a store holds, as ``iter_blobs`` lists it."""

    ref: BlobRef
    name: str
    modified: float  # seconds since the epoch
    size: int


class Blobs(ABC):
    """Where a library's originals and thumbnails are kept; see the module's docstring."""

    key = None  # a sealing.LibraryKey in an encrypted library

    @property
    def sealed(self) -> bool:
        return self.key is not None

    # -- naming ---------------------------------------------------------------------------

    @abstractmethod
    def original(self, sha256: str, ext: str) -> BlobRef:
        """The ref of the original with this digest and extension (stored or not)."""

    @abstractmethod
    def thumbnail(self, sha256: str) -> BlobRef:
        """The ref of the thumbnail of the original with this digest."""

    @abstractmethod
    def ref_at(self, location: str) -> BlobRef:
        """The ref ``location`` names (inverse of ``location``)."""

    @abstractmethod
    def location(self, ref: BlobRef) -> str:
        """Where the blob is, in words a user can follow: a file path or an ``s3://`` address."""

    def thumbnail_file(self, sha256: str) -> str:
        """``location(thumbnail(sha256))``; a gallery page names sixty of them."""
        return self.location(self.thumbnail(sha256))

    @property
    def local_root(self) -> Path | None:
        """The folder that holds the blobs as files, when the store is one."""
        return None

    # -- the backend's few operations, on the bytes as stored -----------------------------

    @abstractmethod
    def exists(self, ref: BlobRef) -> bool: ...

    @abstractmethod
    def stored_bytes(self, ref: BlobRef) -> bytes:
        """The blob exactly as stored (sealed in an encrypted library); FileNotFoundError when absent."""

    @abstractmethod
    def _write(self, ref: BlobRef, data: bytes) -> None:
        """Store ``data`` (already sealed when it must be) under ``ref``, replacing what is there."""

    @abstractmethod
    def delete(self, ref: BlobRef) -> None:
        """Remove the blob; nothing happens when it is not there."""

    @abstractmethod
    def iter_blobs(self) -> Iterator[StoredBlob]:
        """Every blob stored, writes in flight left out."""

    def local_path(self, ref: BlobRef) -> Path | None:
        """A file holding the blob's plaintext that other code may open itself, if there is one
        (a folder store's unsealed blob); otherwise None, and the bytes come from ``read``."""
        return None

    def stored_path(self, ref: BlobRef) -> Path | None:
        """The file holding the blob as stored (sealed or not), if the store keeps files."""
        return None

    # -- writing --------------------------------------------------------------------------

    def put_file(self, source: Path, sha256: str, ext: str, copy: bool = True) -> BlobRef:
        """Store ``source`` under its digest; a blob already there is left as it is. ``copy``
        False (originals kept in place) only names it."""
        ref = self.original(sha256, ext)
        if copy and not self.exists(ref):
            self._write(ref, self._sealed(Path(source).read_bytes()))
        return ref

    def put_thumbnail(self, sha256: str, image) -> BlobRef:
        """The PIL ``image`` as the WEBP thumbnail of ``sha256``."""
        ref = self.thumbnail(sha256)
        self.put_blob(ref, _webp(image))
        return ref

    def put_blob(self, ref: BlobRef, data: bytes) -> BlobRef:
        """``data`` (its plaintext) stored under ``ref``, sealed in an encrypted library. A blob
        already there is left as it is: the same name holds the same plaintext."""
        if not self.exists(ref):
            self._write(ref, self._sealed(data))
        return ref

    def _sealed(self, data: bytes) -> bytes:
        return self.key.seal(data) if self.key is not None else data

    def put_bytes(self, dest: Path, data: bytes) -> Path:
        """``data`` written at the library file ``dest`` (sealed in an encrypted library) through
        an atomic rename. For library files beside the blobs: collages, uploads."""
        sealed = self._sealed(data)
        _atomic_write(Path(dest), lambda tmp: tmp.write_bytes(sealed))
        return Path(dest)

    # -- reading: the one place blob bytes come back, opened when sealed ------------------

    def _stored(self, ref: BlobRef) -> bytes:
        if isinstance(ref, Path):
            return ref.read_bytes()  # a library file, not a blob
        return self.stored_bytes(ref)

    def read(self, ref: BlobRef) -> bytes:
        """The plaintext of the blob ``ref`` (or of a library file this store wrote, given its path)."""
        data = self._stored(ref)
        return self.key.open(data) if self.key is not None else data

    def _plain_file(self, ref: BlobRef) -> Path | None:
        if isinstance(ref, Path):
            return ref if self.key is None else None
        return self.local_path(ref)

    def open(self, ref: BlobRef) -> BlobFile:
        """The blob to serve: its plaintext file when there is one, else its opened bytes."""
        name = ref.name
        path = self._plain_file(ref)
        return BlobFile(name, path=path) if path is not None else BlobFile(name, data=self.read(ref))

    def image_source(self, ref: BlobRef):
        """What ``PIL.Image.open`` takes for the blob: its plaintext file, or the opened bytes
        in memory (plaintext of a sealed blob never goes back to disk)."""
        path = self._plain_file(ref)
        return path if path is not None else BytesIO(self.read(ref))

    def sha256_of(self, ref: BlobRef) -> str:
        """The sha256 of the blob's plaintext (its name, when undamaged)."""
        path = self._plain_file(ref)
        if path is not None:
            return sha256_file(path)
        return hashlib.sha256(self.read(ref)).hexdigest()

    def copy_into(self, folder: Path) -> int:
        """Every blob, as stored, written into ``folder`` in a folder store's layout (a backup's
        copy); returns how many."""
        target = FolderBlobs(folder)
        copied = 0
        for blob in self.iter_blobs():
            try:
                data = self.stored_bytes(blob.ref)
            except FileNotFoundError:  # removed meanwhile
                continue
            target._write(target.root / BlobKey.at(self.location(blob.ref)), data)
            copied += 1
        return copied


class FolderBlobs(Blobs):
    """The blobs as files under ``root``: ``root/ab/cd/<sha256><ext>``. Refs are the files' paths."""

    def __init__(self, root: Path, key=None):
        self.root = Path(root)
        self._root_text = str(self.root)
        self.key = key

    def _dir(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4]

    def original_path(self, sha256: str, ext: str) -> Path:
        return self._dir(sha256) / f"{sha256}{ext}"

    def thumbnail_path(self, sha256: str) -> Path:
        return self._dir(sha256) / f"{sha256}{THUMB_SUFFIX}"

    original = original_path
    thumbnail = thumbnail_path

    def thumbnail_file(self, sha256: str) -> str:
        """``thumbnail_path`` as a string, without pathlib: a gallery page names sixty of them."""
        return os.path.join(self._root_text, sha256[:2], sha256[2:4], f"{sha256}{THUMB_SUFFIX}")

    def ref_at(self, location: str) -> Path:
        return Path(location)

    def location(self, ref: Path) -> str:
        return str(ref)

    @property
    def local_root(self) -> Path:
        return self.root

    def exists(self, ref: Path) -> bool:
        return Path(ref).is_file()

    def stored_bytes(self, ref: Path) -> bytes:
        return Path(ref).read_bytes()

    def _write(self, ref: Path, data: bytes) -> None:
        _atomic_write(Path(ref), lambda tmp: tmp.write_bytes(data))

    def delete(self, ref: Path) -> None:
        Path(ref).unlink(missing_ok=True)

    def iter_blobs(self) -> Iterator[StoredBlob]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*/*/*")):
            if path.name.startswith(TEMP_PREFIX):
                continue  # a write in progress, swept by the next ingest
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if path.is_file():
                yield StoredBlob(path, path.name, stat.st_mtime, stat.st_size)

    def local_path(self, ref: Path) -> Path | None:
        return None if self.key is not None else Path(ref)

    def stored_path(self, ref: Path) -> Path:
        return Path(ref)

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
            self.put_bytes(dest, _webp(image))
        else:
            _atomic_write(dest, lambda tmp: image.save(tmp, format="WEBP", quality=80, method=1))
        return dest

    # Reads of library files and blobs are the same here: both are files.
    def _stored(self, ref: Path) -> bytes:
        return Path(ref).read_bytes()

    def _plain_file(self, ref: Path) -> Path | None:
        return None if self.key is not None else Path(ref)


BlobStore = FolderBlobs  # its name before the interface: BlobStore(root, key)


class S3Blobs(Blobs):
    """The blobs as objects in an S3-compatible bucket, at ``<prefix>/ab/cd/<sha256><ext>``
    (the folder store's layout under the library's namespace, so libraries share a bucket).
    The bytes uploaded are the sealed ones in an encrypted library. Every failure to reach the
    endpoint or the bucket is a ``BlobStoreUnavailable`` naming both."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, region: str = "us-east-1", key=None,
                 connect_timeout: float = 5.0, read_timeout: float = 60.0):
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.key = key
        self._credentials = (access_key, secret_key)
        self._timeouts = (connect_timeout, read_timeout)
        self._client = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the credentials
        return f"S3Blobs({self.where!r})"

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url or 'AWS S3'}"

    # -- the client, made and checked on first use ----------------------------------------

    def _unavailable(self, exc: Exception) -> BlobStoreUnavailable:
        from botocore.exceptions import ClientError

        endpoint = self.endpoint_url or f"AWS S3 ({self.region})"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket", "404") or (status == 404 and not code):
                reason = f"the bucket {self.bucket!r} does not exist"
            elif code in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "403",
                          "InvalidToken", "ExpiredToken") or status == 403:
                reason = (f"it refused the credentials for the bucket {self.bucket!r} ({code or status}): "
                          "check DEEPDIARY_S3_ACCESS_KEY and DEEPDIARY_S3_SECRET_KEY")
            else:
                reason = f"it answered {code or status}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
        else:
            reason = f"it cannot be reached ({type(exc).__name__}: {exc})"
        return BlobStoreUnavailable(f"the S3 blob store at {endpoint}: {reason}")

    @property
    def client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self):
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        access, secret = self._credentials
        config = Config(connect_timeout=self._timeouts[0], read_timeout=self._timeouts[1],
                        retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"},
                        **({} if access or secret else {"signature_version": UNSIGNED}))
        try:
            client = boto3.session.Session().client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region, aws_access_key_id=access,
                aws_secret_access_key=secret, config=config)
            client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError, ValueError) as exc:
            raise self._unavailable(exc) from None
        return client

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound") and method in ("get_object", "head_object"):
                raise FileNotFoundError(self.location(BlobKey(kwargs["Key"].removeprefix(self.prefix + "/")))) from None
            raise self._unavailable(exc) from None
        except BotoCoreError as exc:
            raise self._unavailable(exc) from None

    # -- naming ---------------------------------------------------------------------------

    def _object(self, ref: BlobKey) -> str:
        return f"{self.prefix}/{ref}"

    def original(self, sha256: str, ext: str) -> BlobKey:
        return BlobKey.of(sha256, ext)

    def thumbnail(self, sha256: str) -> BlobKey:
        return BlobKey.of(sha256, THUMB_SUFFIX)

    def ref_at(self, location: str) -> BlobKey:
        return BlobKey.at(location)

    def location(self, ref: BlobKey) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{ref}"

    def thumbnail_file(self, sha256: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}/{sha256[:2]}/{sha256[2:4]}/{sha256}{THUMB_SUFFIX}"

    # -- operations -----------------------------------------------------------------------

    def exists(self, ref: BlobKey) -> bool:
        if isinstance(ref, Path):
            return ref.is_file()
        try:
            self._call("head_object", Key=self._object(ref))
        except FileNotFoundError:
            return False
        return True

    def stored_bytes(self, ref: BlobKey) -> bytes:
        body = self._call("get_object", Key=self._object(ref))["Body"]
        try:
            return body.read()
        finally:
            body.close()

    def _write(self, ref: BlobKey, data: bytes) -> None:
        self._call("put_object", Key=self._object(ref), Body=data)

    def delete(self, ref: BlobKey) -> None:
        self._call("delete_object", Key=self._object(ref))

    def iter_blobs(self) -> Iterator[StoredBlob]:
        from botocore.exceptions import BotoCoreError, ClientError

        start = self.prefix + "/"
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = BlobKey(obj["Key"].removeprefix(start))
                    yield StoredBlob(key, key.name, obj["LastModified"].timestamp(), obj["Size"])
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable(exc) from None


def blob_store(settings, key=None) -> Blobs:
    """The store ``settings`` name: an S3 bucket when ``s3_bucket`` is set, else the library's blob folder."""
    if not settings.s3_bucket:
        return FolderBlobs(settings.blob_dir, key)

    def secret(value):
        return value.get_secret_value() if value is not None else None

    return S3Blobs(settings.s3_bucket, settings.library_namespace, endpoint_url=settings.s3_endpoint_url,
                   access_key=secret(settings.s3_access_key), secret_key=secret(settings.s3_secret_key),
                   region=settings.s3_region, key=key)
