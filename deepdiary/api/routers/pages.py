"""The web UI's pages: server-rendered shells that a little JavaScript fills from the same /api routes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from deepdiary.api.deps import bearer
from deepdiary.services import tokens

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


def _signed_in(request: Request) -> bool:
    ctx = request.app.state.ctx
    return not tokens.tokens_exist(ctx) or tokens.check_token(ctx, bearer(request)) is not None


def _page(request: Request, template: str, **values) -> Response:
    if not _signed_in(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
    ctx = request.app.state.ctx
    return templates.TemplateResponse(request, template, {
        "pages": PAGES, "path": request.url.path, "tile_url": ctx.settings.map_tile_url, **values})


def _route(path: str, template: str):
    def show(request: Request) -> Response:
        return _page(request, template)
    show.__name__ = f"page_{template.split('.')[0]}"
    router.add_api_route(path, show, methods=["GET"], response_class=HTMLResponse)


for _path, _template, *_ in PAGES:
    _route(_path, _template)


@router.get("/photos/{item_id}", response_class=HTMLResponse)
def photo_page(request: Request, item_id: int) -> Response:
    return _page(request, "photo.html", item_id=item_id)


@router.get("/people/{person}", response_class=HTMLResponse)
def person_page(request: Request, person: str) -> Response:
    return _page(request, "person.html", person=person)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, next: str = "/") -> Response:
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    return templates.TemplateResponse(request, "signin.html", {"pages": [], "path": "/signin", "next": safe_next})
