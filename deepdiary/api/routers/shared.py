"""What a share link opens, without a token: its page, its photo list and those photos' files.

Only GET routes: a share link cannot change anything. Each checks the secret and that the
photo asked for is one the link names (``services.shares``); everything else is 404."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from deepdiary.api.deps import libraries
from deepdiary.api.files import file_response
from deepdiary.core.errors import Gone, NotFound
from deepdiary.services import photos as photo_service
from deepdiary.services import shares as share_service

router = APIRouter(tags=["shared"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
# The secret is in the URL: no Referer carries it elsewhere, and no shared cache keeps a copy.
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "private, max-age=300"}


@router.get("/api/shared/{secret}", response_model=share_service.SharedView)
def shared(request: Request, secret: str) -> Response:
    view = share_service.shared_view(libraries(request), secret)
    return Response(view.model_dump_json(), media_type="application/json", headers=PRIVATE)


@router.get("/api/shared/{secret}/photos/{item_id}/thumbnail", response_class=FileResponse)
def shared_thumbnail(request: Request, secret: str, item_id: int) -> FileResponse:
    ctx = share_service.shared_photo(libraries(request), secret, item_id)
    response = file_response(photo_service.photo_file(ctx, item_id, "thumbnail"), "image/webp")
    response.headers.update(PRIVATE)
    return response


@router.get("/api/shared/{secret}/photos/{item_id}/original", response_class=FileResponse)
def shared_original(request: Request, secret: str, item_id: int) -> FileResponse:
    ctx = share_service.shared_photo(libraries(request), secret, item_id)
    response = file_response(photo_service.photo_file(ctx, item_id, "original"))
    response.headers.update(PRIVATE)
    return response


@router.get("/s/{secret}", response_class=HTMLResponse, include_in_schema=False)
def shared_page(request: Request, secret: str) -> Response:
    """The link's page: its title and photos, read-only, in English and Chinese."""
    try:
        view, status, message = share_service.shared_view(libraries(request), secret), 200, None
    except (NotFound, Gone) as exc:
        view, status, message = None, exc.http_status, str(exc)
    return templates.TemplateResponse(request, "shared.html", {"pages": [], "path": request.url.path,
                                                               "view": view, "message": message},
                                      status_code=status, headers=PRIVATE)
