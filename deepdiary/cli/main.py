"""``deepdiary``: ingest, search and inspect a personal memory library.

Every command that returns data takes ``--json`` and then writes only JSON to stdout;
progress and messages go to stderr.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from deepdiary.settings import load_settings

app = typer.Typer(help="Deep Diary: one private, searchable memory of your photos and more.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
ingest_app = typer.Typer(help="Bring outside data into the library.", no_args_is_help=True)
search_app = typer.Typer(help="Search the library.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(search_app, name="search")

out = Console()
err = Console(stderr=True)
_state: dict = {}

JsonOpt = Annotated[bool, typer.Option("--json", help="print only JSON on stdout")]


@app.callback()
def main(
    library: Annotated[Optional[Path], typer.Option("--library", "-L", help="library folder (default: $DEEPDIARY_HOME or ~/.deepdiary)")] = None,
) -> None:
    _state.clear()  # one process may run several commands (tests, the chat loop)
    _state["library"] = library


def open_library():
    from deepdiary.memory.library import Library

    if "lib" not in _state:
        _state["lib"] = Library.open(load_settings(_state.get("library")))
    return _state["lib"]


def emit_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str, indent=2) + "\n")


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@ingest_app.command("photos")
def ingest_photos(
    paths: Annotated[list[Path], typer.Argument(help="photo files or folders (searched recursively)")],
    as_json: JsonOpt = False,
) -> None:
    """Ingest photos: metadata, place, colours and thumbnails. Safe to re-run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from deepdiary.pipeline.ingest import PhotoIngester

    lib = open_library()
    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=err, transient=as_json) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: Path) -> None:
            bar.update(task, completed=done, total=total, description=path.name[-40:])

        report = PhotoIngester(lib).run(paths, progress=progress)
    if as_json:
        emit_json(report.as_dict())
        return
    summary = Table(title=f"Ingest job {report.job_id}", show_header=False)
    for key in ("total", "added", "linked", "unchanged", "failed", "warned"):
        summary.add_row(key, str(getattr(report, key)))
    out.print(summary)
    if report.problems:
        problems = Table(title="Problems", show_lines=False)
        for col in ("file", "kind", "reason"):
            problems.add_column(col, overflow="fold")
        for p in report.problems:
            style = "red" if p.severity == "error" else "yellow"
            problems.add_row(p.path, f"[{style}]{p.severity}[/{style}]", p.reason)
        out.print(problems)


_COLOUR_REGION = {"": "image", "image": "image", "all": "image", "fg": "foreground", "foreground": "foreground",
                  "bg": "background", "background": "background", "前景": "foreground", "背景": "background"}
_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_colour(text: str):
    from deepdiary.memory.query import ColourFacet
    from deepdiary.palette import PALETTE, colour_name

    region, _, word = text.rpartition(":") if ":" in text else ("", "", text)
    if region.lower() not in _COLOUR_REGION:
        raise typer.BadParameter(f"unknown colour region {region!r}: use fg:, bg: or image:")
    name = colour_name(word)
    if name is None:
        raise typer.BadParameter(f"unknown colour {word!r}; known: {', '.join(PALETTE)}")
    return ColourFacet(name=name, region=_COLOUR_REGION[region.lower()])


@search_app.command("photos")
def search_photos_cmd(
    date_from: Annotated[Optional[str], typer.Option("--from", help="taken on or after: 2023, 2023-07, 2023-07-14, 'last May'")] = None,
    date_to: Annotated[Optional[str], typer.Option("--to", help="taken on or before (the whole period named)")] = None,
    near: Annotated[Optional[str], typer.Option("--near", help="a place name (city, region, country; English or 中文) or 'lat,lon'")] = None,
    radius: Annotated[Optional[float], typer.Option("--radius", help="km around a lat,lon --near")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="wide, tall or square")] = None,
    color: Annotated[Optional[list[str]], typer.Option("--color", "--colour", help="colour name (red, 蓝色), optionally fg:red or bg:blue; repeatable")] = None,
    camera: Annotated[Optional[str], typer.Option("--camera", help="part of the camera make or model")] = None,
    rating: Annotated[Optional[int], typer.Option("--rating", help="at least this many stars")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="a tag; repeatable (all must match)")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    newest: Annotated[bool, typer.Option("--newest", help="newest first")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Find photos by date, place, layout, colour, camera, rating and tag."""
    from deepdiary.cli.dates import parse_date_bound
    from deepdiary.memory.query import PhotoQuery, search_photos

    lib = open_library()
    try:
        q = PhotoQuery(
            date_from=parse_date_bound(date_from) if date_from else None,
            date_to=parse_date_bound(date_to, end=True) if date_to else None,
            layout=layout.lower() if layout else None,
            colours=[parse_colour(c) for c in color or []],
            colour_min_share=lib.settings.colour_search_min_share,
            camera=camera, min_rating=rating, tags=tag or [],
            limit=limit, offset=offset, newest_first=newest,
            radius_km=radius or lib.settings.near_radius_km,
        )
    except (ValueError, typer.BadParameter) as exc:
        fail(str(exc), 2)
    if near:
        m = _LATLON.match(near)
        if m:
            q.near_lat, q.near_lon = float(m.group(1)), float(m.group(2))
        else:
            q.place = near
    with lib.session() as s:
        page = search_photos(s, q, lib.blobs)
    if as_json:
        emit_json([r.model_dump(mode="json") for r in page.results])
        return
    table = Table(title=f"{len(page.results)} photo(s)" + (" (more: use --offset)" if page.has_more else ""))
    for col in ("id", "taken", "place", "layout", "camera", "path"):
        table.add_column(col, overflow="fold")
    for r in page.results:
        place = ", ".join(x for x in (r.place.city, r.place.country) if x) if r.place else ""
        table.add_row(str(r.id), r.taken_at.strftime("%Y-%m-%d %H:%M") if r.taken_at else "", place,
                      r.layout, r.camera or "", r.path or "")
    out.print(table)


@app.command()
def show(item_id: Annotated[int, typer.Argument(help="item id")], as_json: JsonOpt = False) -> None:
    """Everything the library knows about one item."""
    from deepdiary.memory.items import ItemNotFound, item_details

    lib = open_library()
    try:
        with lib.session() as s:
            details = item_details(s, item_id, lib.blobs)
    except ItemNotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json(details)
        return
    table = Table(title=f"Item {item_id}", show_header=False)
    for key, value in details.items():
        if key == "colours":
            value = "; ".join(f"{c['region']}: {c['name']} {c['name_zh']} {c['hex']} {c['share']:.0%}" for c in value)
        elif key == "place" and value:
            value = ", ".join(x for x in (value["city"], value["region"], value["country"]) if x) + (
                f" ({value['city_zh'] or ''} {value['country_zh'] or ''})".rstrip() if value.get("country_zh") else "")
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        table.add_row(key, "" if value is None else str(value))
    out.print(table)


@app.command()
def rate(item_id: int, stars: Annotated[int, typer.Argument(min=0, max=5)], as_json: JsonOpt = False) -> None:
    """Give an item 0 to 5 stars."""
    from deepdiary.memory.items import ItemNotFound, set_rating

    lib = open_library()
    try:
        with lib.session() as s:
            set_rating(s, item_id, stars)
    except ItemNotFound as exc:
        fail(str(exc))
    if as_json:
        emit_json({"id": item_id, "rating": stars})
    else:
        out.print(f"item {item_id}: {'★' * stars}{'☆' * (5 - stars)}")


@app.command()
def stats(as_json: JsonOpt = False) -> None:
    """Totals: items, places, date range, cameras, countries."""
    from deepdiary.memory.items import library_stats

    lib = open_library()
    with lib.session() as s:
        data = library_stats(s)
    if as_json:
        emit_json(data)
        return
    table = Table(title=f"Library {lib.settings.library_dir}", show_header=False)
    for key, value in data.items():
        if key == "id":
            continue
        table.add_row(key, json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value))
    out.print(table)


@app.command()
def demo(
    folder: Annotated[Optional[Path], typer.Option(help="where to build the sample library")] = None,
) -> None:
    """Build a sample library from generated photos and run a few searches on it."""
    from deepdiary.demo import run_demo

    run_demo(folder or Path("demo-library"), out)
