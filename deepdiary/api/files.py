"""A library file as an HTTP response: streamed from disk, or from memory when the library
is encrypted (its plaintext never goes back to disk)."""

from __future__ import annotations

from fastapi.responses import FileResponse, Response

from deepdiary.services.schemas import StoredFile


def file_response(f: StoredFile, media_type: str | None = None) -> Response:
    if f.data is not None:
        return Response(f.data, media_type=media_type or f.media_type)
    return FileResponse(f.path, media_type=media_type)
