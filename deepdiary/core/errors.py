"""Typed errors. Every interface maps them in one place: the CLI to exit codes, the
agent's tools to ``{"error": ...}``, the web API to HTTP statuses.

``NotFound`` is also a ``LookupError`` and ``InvalidInput`` a ``ValueError``, so code that
catches the built-in kinds keeps working.
"""

from __future__ import annotations


class DeepDiaryError(Exception):
    """Something the user can act on; the message says what."""

    exit_code = 1
    http_status = 400


class NotFound(DeepDiaryError, LookupError):
    """No item, person, place, event or conversation matches what was asked for."""

    http_status = 404

    def __str__(self) -> str:  # LookupError's str() would quote a KeyError-style message
        return str(self.args[0]) if self.args else "not found"


class InvalidInput(DeepDiaryError, ValueError):
    """An argument that cannot be read or is out of range; the message names it."""

    exit_code = 2
    http_status = 422


class FileRefused(InvalidInput):
    """A file an ingest will not read (larger than ``max_file_mb``) or stopped reading
    (slower than ``file_read_seconds``). The message says which; the run goes on."""


class Conflict(DeepDiaryError):
    """The request clashes with what is stored (a name already taken, a job already running)."""

    http_status = 409


class Gone(DeepDiaryError):
    """Something that was there and is no longer: an expired or revoked share link."""

    http_status = 410


class ModelUnavailable(DeepDiaryError, RuntimeError):
    """A model cannot be loaded here; the message says what to install or configure."""

    http_status = 503


class Unauthorized(DeepDiaryError):
    """No valid token came with a request that needs one."""

    http_status = 401


class DeviceUnavailable(DeepDiaryError):
    """A device this needs (a microphone, a speaker) is not there; the message says what is missing."""

    http_status = 503


class LibraryLocked(Unauthorized):
    """An encrypted library opened without its passphrase or key file; the message says how to give it."""

    exit_code = 3


class WrongKey(LibraryLocked):
    """The passphrase or key file does not unlock this library; nothing was changed."""


class StorageUnavailable(DeepDiaryError):
    """A storage backend (an IPFS node) cannot be started or reached, or refused a block; the message says which."""

    http_status = 503


class BlobStoreUnavailable(StorageUnavailable):
    """The blob store (an S3-compatible endpoint and bucket) cannot be reached, has no such
    bucket, or refused the credentials; the message names the endpoint and the reason."""
