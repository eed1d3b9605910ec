"""The web UI's pages: server-rendered shells that a little JavaScript fills from the same /api routes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from deepdiary.api.deps import bearer, libraries
from deepdiary.core.errors import NotFound, Unauthorized
from deepdiary.services import AppContext

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")

# (path, template, title in English / Chinese): the navigation bar lists them in this order.
PAGES = [
    ("/", "gallery.html", "Gallery", "相册"),
    ("/people", "people.html", "People", "人物"),
    ("/map", "map.html", "Map", "地图"),
    ("/timeline", "timeline.html", "Timeline", "时间线"),
    ("/graph", "graph.html", "Graph", "关系图"),
    ("/chat", "chat.html", "Ask", "问管家"),
    ("/upload", "upload.html", "Upload", "上传"),
]


def _signed_in(request: Request) -> AppContext | None:
    """The library the request's token opens (the owner's or its user's), or None."""
    try:
        return libraries(request).for_token(bearer(request))
    except Unauthorized:
        return None


def _page(request: Request, template: str, exists=None, **values) -> Response:
    """The page, for a signed-in request; ``exists(ctx)`` raises NotFound for an id that is not in
    the signed-in user's library: then the same page answers 404 (whether the id is in another
    user's library or nowhere), and its script shows the API's error as for any missing id."""
    ctx = _signed_in(request)
    if ctx is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
    status = 200
    if exists is not None:
        try:
            exists(ctx)
        except NotFound:
            status = 404
    return templates.TemplateResponse(request, template, {
        "pages": PAGES, "path": request.url.path, "tile_url": ctx.settings.map_tile_url, **values},
        status_code=status)


def _route(path: str, template: str):
    def show(request: Request) -> Response:
        return _page(request, template)
    show.__name__ = f"page_{template.split('.')[0]}"
    router.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse)


for _path, _template, *_ in PAGES:
    _route(_path, _template)


@router.get("/photos/{item_id}", response_class=HTMLResponse)
def photo_page(request: Request, item_id: int) -> Response:
    from deepdiary.services.photos import show_item

    return _page(request, "photo.html", exists=lambda ctx: show_item(ctx, item_id), item_id=item_id)


@router.get("/people/{person}", response_class=HTMLResponse)
def person_page(request: Request, person: str) -> Response:
    from deepdiary.services.people import person_detail

    return _page(request, "person.html", exists=lambda ctx: person_detail(ctx, person), person=person)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> Response:
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    return templates.TemplateResponse(request, "signin.html", {"pages": [], "path": "/signin", "next": safe_next})
