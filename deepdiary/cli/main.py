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

from deepdiary.core.settings import load_settings

app = typer.Typer(help="Deep Diary: one private, searchable memory of your photos and more.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
ingest_app = typer.Typer(help="Bring outside data into the library.", no_args_is_help=True)
search_app = typer.Typer(help="Search the library.", no_args_is_help=True)
people_app = typer.Typer(help="People found from faces: list, name, merge, split.", no_args_is_help=True)
category_app = typer.Typer(help="Your own photo categories, learnt from examples.", no_args_is_help=True)
graph_app = typer.Typer(help="The knowledge graph of people, places, events and conversations.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(search_app, name="search")
app.add_typer(people_app, name="people")
app.add_typer(category_app, name="category")
app.add_typer(graph_app, name="graph")

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
    enrich: Annotated[bool, typer.Option("--enrich/--no-enrich", help="run the model stages (faces, tags, ...) after")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Ingest photos: metadata, place, colours, thumbnails, then faces, tags and more. Safe to re-run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from deepdiary.pipeline.ingest import PhotoIngester

    lib = open_library()
    with Progress(TextColumn("[bold]ingest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=err, transient=as_json) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, path: Path) -> None:
            bar.update(task, completed=done, total=total, description=path.name[-40:])

        report = PhotoIngester(lib).run(paths, progress=progress)
    enriched = run_enrichment(lib, None, as_json) if enrich else None
    if as_json:
        emit_json({**report.as_dict(), "enrich": enriched.as_dict() if enriched else None})
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


def _text_ingest(kind: str, paths: list[Path], as_json: bool, **kw) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from deepdiary.pipeline.text_ingest import ChatIngester, DiaryIngester, TrackIngester

    lib = open_library()
    ingester = {"chats": ChatIngester, "diary": DiaryIngester, "tracks": TrackIngester}[kind](lib)
    with Progress(TextColumn(f"[bold]ingest {kind}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), console=err, transient=as_json) as bar:
        task = bar.add_task("", total=None)
        report = ingester.run(paths, progress=lambda d, t, p: bar.update(task, completed=d, total=t,
                                                                          description=p.name[-40:]), **kw)
    if as_json:
        emit_json(report.as_dict())
        return
    labels = {"chats": ("messages added", "already there"), "diary": ("chunks added", "unchanged"),
              "tracks": ("tracks added", "unchanged")}[kind]
    summary = Table(title=f"Ingest job {report.job_id} ({kind})", show_header=False)
    summary.add_row("files", str(report.total))
    summary.add_row(labels[0], str(report.added))
    summary.add_row(labels[1], str(report.unchanged))
    if kind == "tracks":
        summary.add_row("photos geotagged", str(report.linked))
    summary.add_row("failed files", str(report.failed))
    out.print(summary)
    _print_problems(report.problems)


def _print_problems(problems) -> None:
    if not problems:
        return
    table = Table(title="Problems")
    for col in ("file", "kind", "reason"):
        table.add_column(col, overflow="fold")
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        table.add_row(p.path, f"[{style}]{p.severity}[/{style}]", p.reason)
    out.print(table)


@ingest_app.command("chats")
def ingest_chats(
    paths: Annotated[list[Path], typer.Argument(help="chat export files or folders")],
    fmt: Annotated[str, typer.Option("--format", help="auto, memotrace-csv, memotrace-txt, pywxdump-csv or json")] = "auto",
    as_json: JsonOpt = False,
) -> None:
    """Import WeChat exports (MemoTrace, PyWxDump) or JSON chats. Re-importing adds only new messages."""
    from deepdiary.connectors.chats import CHAT_FORMATS

    if fmt not in CHAT_FORMATS:
        fail(f"unknown format {fmt!r}; one of {', '.join(CHAT_FORMATS)}", 2)
    _text_ingest("chats", paths, as_json, fmt=fmt)


@ingest_app.command("diary")
def ingest_diary(paths: Annotated[list[Path], typer.Argument(help="Markdown or text diary files or folders")],
                 as_json: JsonOpt = False) -> None:
    """Import diary files; each entry's date comes from front matter, a heading or the file name."""
    _text_ingest("diary", paths, as_json)


@ingest_app.command("tracks")
def ingest_tracks(paths: Annotated[list[Path], typer.Argument(help="GPX, KML or Google Takeout location files")],
                  as_json: JsonOpt = False) -> None:
    """Import GPS tracks, find stays, and geotag photos taken along the way."""
    _text_ingest("tracks", paths, as_json)


@search_app.command("chats")
def search_chats_cmd(
    question: Annotated[str, typer.Argument(help="what to look for, e.g. 'where did Bob say we should eat last May?'")],
    date_from: Annotated[Optional[str], typer.Option("--from", help="sent on or after")] = None,
    date_to: Annotated[Optional[str], typer.Option("--to", help="sent on or before")] = None,
    with_person: Annotated[Optional[str], typer.Option("--with", help="only messages from this person")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 10,
    context: Annotated[int, typer.Option("--context", help="neighbouring messages to show with each hit")] = 0,
    diary: Annotated[bool, typer.Option("--diary", help="search diary entries too")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Find chat messages (and diary entries): words and meaning, with time words understood."""
    from deepdiary.cli.dates import parse_date_bound
    from deepdiary.memory.chat_query import ChatQuery, search_chats

    lib = open_library()
    try:
        q = ChatQuery(text=question, date_from=parse_date_bound(date_from) if date_from else None,
                      date_to=parse_date_bound(date_to, end=True) if date_to else None, with_person=with_person,
                      limit=limit, context=context, kinds=["message", "diary"] if diary else ["message"])
    except ValueError as exc:
        fail(str(exc), 2)
    with lib.session() as s:
        hits = search_chats(s, q, lib)
    if as_json:
        emit_json([h.model_dump(mode="json") for h in hits])
        return
    table = Table(title=f"{len(hits)} message(s)")
    for col in ("id", "time", "conversation", "sender", "text", "source"):
        table.add_column(col, overflow="fold")
    for h in hits:
        table.add_row(str(h.id), h.time.strftime("%Y-%m-%d %H:%M") if h.time else "", h.conversation, h.sender,
                      h.text, f"{Path(h.source.file).name}:{h.source.line}")
    out.print(table)


def run_enrichment(lib, item_ids, quiet: bool, stages=None, force: bool = False):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from deepdiary.pipeline.enrich import STAGES, Enricher

    with Progress(TextColumn("[bold]enrich"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=quiet) as bar:
        task = bar.add_task("", total=None)
        report = Enricher(lib).run(item_ids, stages=tuple(stages or STAGES), force=force,
                                   progress=lambda done, total, _id: bar.update(task, completed=done, total=total))
    if report.failures and not quiet:
        for f in report.failures[:20]:
            err.print(f"[yellow]item {f['item_id']}: {f['stage']} failed: {f['error']}[/yellow]")
    return report


@app.command()
def enrich(
    stage: Annotated[Optional[list[str]], typer.Option("--stage", help="only these stages (faces, tags, features, description, category)")] = None,
    force: Annotated[bool, typer.Option("--force", help="run the stages again even where done")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the model stages that are missing on every photo."""
    from deepdiary.pipeline.enrich import STAGES

    bad = [s for s in stage or [] if s not in STAGES]
    if bad:
        fail(f"unknown stage {bad[0]!r}; stages: {', '.join(STAGES)}", 2)
    lib = open_library()
    report = run_enrichment(lib, None, as_json, stages=[s for s in STAGES if not stage or s in stage], force=force)
    if as_json:
        emit_json(report.as_dict())
    else:
        out.print(f"enriched {report.items} photo(s): " + ", ".join(f"{k} {v}" for k, v in report.stages_run.items())
                  + (f"; {len(report.failures)} stage failure(s)" if report.failures else ""))


_COLOUR_REGION = {"": "image", "image": "image", "all": "image", "fg": "foreground", "foreground": "foreground",
                  "bg": "background", "background": "background", "前景": "foreground", "背景": "background"}
_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def parse_colour(text: str):
    from deepdiary.memory.query import ColourFacet
    from deepdiary.core.palette import PALETTE, colour_name

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
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="a tag (English or 中文); repeatable (all must match)")] = None,
    scene: Annotated[Optional[list[str]], typer.Option("--scene", help="beach, mountain, indoor, 海滩, ...; repeatable")] = None,
    person: Annotated[Optional[list[str]], typer.Option("--person", help="a person's name; repeatable (all of them)")] = None,
    only: Annotated[bool, typer.Option("--only", help="with --person: nobody else in the photo")] = False,
    any_person: Annotated[bool, typer.Option("--any-person", help="photos with at least one face")] = False,
    people_count: Annotated[Optional[int], typer.Option("--people-count", help="exactly this many faces")] = None,
    category: Annotated[Optional[str], typer.Option("--category", help="one of your categories")] = None,
    query: Annotated[Optional[str], typer.Option("--query", "-q", help="free text, e.g. 'dog on the beach' or '海边的狗'")] = None,
    like: Annotated[Optional[str], typer.Option("--like", help="a photo id or image file: find similar photos")] = None,
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
            camera=camera, min_rating=rating, tags=tag or [], scenes=scene or [], persons=person or [],
            only_persons=only, any_person=any_person, people_count=people_count, category=category, text=query,
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
    if like:
        if like.isdigit():
            q.like_item = int(like)
        elif Path(like).is_file():
            from deepdiary.models.registry import models_for
            from deepdiary.pipeline.enrich import load_upright

            q.like_vector = models_for(lib.settings).tagger.analyze([load_upright(Path(like))])[0].features.tolist()
        else:
            fail(f"--like takes a photo id or an image file; {like!r} is neither", 2)
    try:
        with lib.session() as s:
            page = search_photos(s, q, lib)
    except LookupError as exc:
        fail(str(exc))
    if as_json:
        emit_json([r.model_dump(mode="json") for r in page.results])
        return
    table = Table(title=f"{len(page.results)} photo(s)" + (" (more: use --offset)" if page.has_more else ""))
    scored = any(r.score is not None for r in page.results)
    for col in ("id", "taken", "place", "layout", "camera", "path") + (("score",) if scored else ()):
        table.add_column(col, overflow="fold")
    for r in page.results:
        place = ", ".join(x for x in (r.place.city, r.place.country) if x) if r.place else ""
        table.add_row(str(r.id), r.taken_at.strftime("%Y-%m-%d %H:%M") if r.taken_at else "", place,
                      r.layout, r.camera or "", r.path or "", *((f"{r.score:.3f}",) if scored else ()))
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
    backend: Annotated[Optional[str], typer.Option("--backend", help="the housekeeper's backend: llamacpp, openai or none")] = None,
) -> None:
    """Build a sample library (photos, chats, diary), run a few searches and ask the housekeeper."""
    from deepdiary.demo import run_demo

    run_demo(folder or Path("demo-library"), out, backend=backend)


BackendOpt = Annotated[Optional[str], typer.Option("--backend", help="llamacpp, openai or none (default: settings)")]
ConversationOpt = Annotated[Optional[int], typer.Option("--conversation", "-c", help="continue this conversation id")]


def _housekeeper(backend: str | None, today: str | None):
    from datetime import date

    from deepdiary.agent.housekeeper import Housekeeper

    try:
        return Housekeeper(open_library(), backend=backend, today=date.fromisoformat(today) if today else None)
    except ValueError as exc:
        fail(str(exc))


def _ask_once(keeper, question: str, conversation: int | None, as_json: bool, one_line: bool = False):
    from deepdiary.agent.render import citation_line
    from deepdiary.models import ModelUnavailable

    try:
        if as_json:
            answer = keeper.ask(question, conversation_id=conversation)
        else:
            with err.status("thinking…"):
                answer = keeper.ask(question, conversation_id=conversation)
    except (ModelUnavailable, LookupError) as exc:
        fail(str(exc))
    if as_json:
        data = answer.model_dump(mode="json")
        keys = ("id", "conversation_id", "answer", "citations", "tool_calls", "language", "backend", "seconds")
        if one_line:  # JSON Lines: one answer per line in a chat
            sys.stdout.write(json.dumps({k: data[k] for k in keys}, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            emit_json({k: data[k] for k in keys})
        return answer
    out.print(answer.answer, markup=False, highlight=False)
    for c in answer.citations:
        out.print(f"  {citation_line(c)}", style="dim", markup=False, highlight=False)
    for t in answer.tool_calls:
        err.print(f"  tool {t.tool}({json.dumps(t.arguments, ensure_ascii=False)}) -> {t.results} result(s)"
                  + (f", error: {t.error}" if t.error else ""), markup=False, highlight=False, style="dim")
    return answer


@app.command("ask")
def ask(
    question: Annotated[str, typer.Argument(help="a question in English or Chinese")],
    backend: BackendOpt = None,
    conversation: ConversationOpt = None,
    today: Annotated[Optional[str], typer.Option(help="pretend today is YYYY-MM-DD (for relative dates)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the memory housekeeper; it answers with the items it relied on."""
    _ask_once(_housekeeper(backend, today), question, conversation, as_json)


@app.command("chat")
def chat(
    backend: BackendOpt = None,
    conversation: ConversationOpt = None,
    today: Annotated[Optional[str], typer.Option(help="pretend today is YYYY-MM-DD (for relative dates)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """An interactive conversation: follow-ups see the earlier turns. Empty line or Ctrl-D ends it.

    With --json each answer is one line of JSON (JSON Lines)."""
    keeper = _housekeeper(backend, today)
    if not as_json:
        err.print("Ask about your memories (empty line to stop).")
    while True:
        if not as_json:
            err.print("[bold]> [/bold]", end="")
        line = sys.stdin.readline()
        if not line.strip():
            break
        answer = _ask_once(keeper, line.strip(), conversation, as_json, one_line=True)
        conversation = answer.conversation_id


def _people_call(fn, *args, redescribe: bool = False):
    from sqlmodel import select

    from deepdiary.memory.people import PersonNotFound
    from deepdiary.memory.tables import Face

    lib = open_library()
    try:
        with lib.session() as s:
            before = set(s.exec(select(Face.item_id, Face.person_id)).all()) if redescribe else set()
            result = fn(s, *args)
            s.flush()
            touched = {i for i, _ in set(s.exec(select(Face.item_id, Face.person_id)).all()) ^ before}
    except PersonNotFound as exc:
        fail(str(exc))
    if redescribe:
        from deepdiary.memory.people import person_faces
        from deepdiary.pipeline.enrich import Enricher

        if hasattr(result, "id"):
            with lib.session() as s:
                touched |= {f["item_id"] for f in person_faces(s, result.id)}
        Enricher(lib).redescribe(sorted(touched))
    return result


@people_app.command("list")
def people_list(as_json: JsonOpt = False) -> None:
    """Everyone found in your photos, most photographed first."""
    from deepdiary.memory.people import list_people

    rows = _people_call(list_people)
    if as_json:
        emit_json(rows)
        return
    table = Table(title=f"{len(rows)} people")
    for col in ("id", "name", "faces", "photos"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["name"] or "[dim]unnamed[/dim]", str(r["faces"]), str(r["photos"]))
    out.print(table)


@people_app.command("add")
def people_add(name: str,
               alias: Annotated[Optional[list[str]], typer.Option("--alias", help="another name, e.g. in Chinese")] = None,
               as_json: JsonOpt = False) -> None:
    """Add a named person who has no faces yet (say, known from chats); their chat messages are linked."""
    from deepdiary.memory.people import add_person

    try:
        p = _people_call(lambda s: add_person(s, name, alias))
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        emit_json({"id": p.id, "name": p.name, "aliases": [a for a in p.aliases.split(",") if a]})
    else:
        out.print(f"person {p.id}: {p.name}")


@people_app.command("name")
def people_name(person: str, name: str,
                alias: Annotated[Optional[list[str]], typer.Option("--alias", help="another name, e.g. in Chinese")] = None,
                as_json: JsonOpt = False) -> None:
    """Name a person (by id or current name); the name survives re-clustering."""
    from deepdiary.memory.people import name_person

    p = _people_call(lambda s: name_person(s, person, name, alias), redescribe=True)
    if as_json:
        emit_json({"id": p.id, "name": p.name, "aliases": [a for a in p.aliases.split(",") if a]})
    else:
        out.print(f"person {p.id} is now {p.name}")


@people_app.command("merge")
def people_merge(keep: str, other: str, as_json: JsonOpt = False) -> None:
    """Move every face of OTHER into KEEP (they are the same person)."""
    from deepdiary.memory.people import merge_people

    p = _people_call(lambda s: merge_people(s, keep, other), redescribe=True)
    if as_json:
        emit_json({"id": p.id, "name": p.name})
    else:
        out.print(f"merged into person {p.id} ({p.name or 'unnamed'})")


@people_app.command("split")
def people_split(face_id: int, to: Annotated[Optional[str], typer.Option("--to", help="move it to this person instead of a new one")] = None,
                 as_json: JsonOpt = False) -> None:
    """Take one face out of its person; it is never moved back automatically."""
    from deepdiary.memory.people import split_face

    p = _people_call(lambda s: split_face(s, face_id, to), redescribe=True)
    if as_json:
        emit_json({"id": p.id, "name": p.name, "face_id": face_id})
    else:
        out.print(f"face {face_id} now belongs to person {p.id} ({p.name or 'unnamed'})")


@people_app.command("faces")
def people_faces(person: str, as_json: JsonOpt = False) -> None:
    """The faces of one person, with the photo each is in."""
    from deepdiary.memory.people import person_faces

    rows = _people_call(lambda s: person_faces(s, person))
    if as_json:
        emit_json(rows)
        return
    table = Table(title=f"{len(rows)} face(s)")
    for col in ("face", "photo", "box", "by", "path"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["id"]), str(r["item_id"]), "x{} y{} {}x{}".format(*r["box"]), r["assigned_by"], r["path"] or "")
    out.print(table)


@people_app.command("recluster")
def people_recluster(as_json: JsonOpt = False) -> None:
    """Regroup all faces (names and your own moves are kept)."""
    from deepdiary.memory.people import FaceClusterer

    lib = open_library()
    with lib.session() as s:
        result = FaceClusterer(s, lib.settings.face_match_threshold).recluster()
    if as_json:
        emit_json({"id": "recluster", **result})
    else:
        out.print(f"{result['faces']} faces in {result['people']} people; {result['moved']} moved")


@category_app.command("add")
def category_add(name: str, item_ids: Annotated[list[int], typer.Argument(help="photos that belong to NAME")],
                 as_json: JsonOpt = False) -> None:
    """Define or extend a category by labelling example photos; the rest are relabelled."""
    _category_label(name, item_ids, as_json)


@category_app.command("set")
def category_set(item_id: int, name: str, as_json: JsonOpt = False) -> None:
    """Correct one photo's category; the classifier retrains at once."""
    _category_label(name, [item_id], as_json)


def _category_label(name: str, item_ids: list[int], as_json: bool) -> None:
    from deepdiary.memory.categories import CategoryModel

    lib = open_library()
    try:
        with lib.session() as s:
            relabelled = CategoryModel(lib).label(s, name, item_ids)
            summary = CategoryModel(lib).summary(s)
    except LookupError as exc:
        fail(str(exc))
    if as_json:
        emit_json({"id": name, "labelled": item_ids, "relabelled": relabelled, "categories": summary})
    else:
        out.print(f"{len(item_ids)} photo(s) labelled {name}; {relabelled} other photo(s) relabelled")


@category_app.command("list")
def category_list(as_json: JsonOpt = False) -> None:
    """Your categories with how many photos were labelled and predicted."""
    from deepdiary.memory.categories import CategoryModel

    lib = open_library()
    with lib.session() as s:
        rows = CategoryModel(lib).summary(s)
    if as_json:
        emit_json(rows)
        return
    table = Table(title="categories")
    for col in ("id", "name", "labelled", "predicted"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["name"], str(r["labelled"]), str(r["predicted"]))
    out.print(table)


@app.command()
def duplicates(as_json: JsonOpt = False) -> None:
    """Groups of near-duplicate photos (same picture re-saved, resized or lightly edited)."""
    from deepdiary.memory.duplicates import duplicate_groups

    lib = open_library()
    with lib.session() as s:
        groups = duplicate_groups(s, lib.vectors, lib.settings.duplicate_hash_distance,
                                  lib.settings.duplicate_feature_similarity)
    if as_json:
        emit_json(groups)
        return
    for g in groups:
        out.print(f"[bold]group {g['id']}[/bold] ({len(g['items'])} photos)")
        for it in g["items"]:
            out.print(f"  {it['id']:>6}  {it['path']}")
    if not groups:
        out.print("no near-duplicates")


@app.command()
def collage(
    person: Annotated[Optional[str], typer.Argument(help="a person's name or id")] = None,
    photo: Annotated[Optional[int], typer.Option("--photo", help="instead: every face in this photo (class photos)")] = None,
    ratio: Annotated[str, typer.Option("--ratio", help="aspect ratio, e.g. 16:9")] = "16:9",
    width: Annotated[int, typer.Option("--width")] = 1920,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("collage.jpg"),
    as_json: JsonOpt = False,
) -> None:
    """Tile a person's faces (or all faces of a photo) into one picture of a given shape."""
    from deepdiary.pipeline.collage import parse_ratio
    from deepdiary.pipeline.face_crops import collage_for

    if (person is None) == (photo is None):
        fail("name a PERSON or give --photo ID", 2)
    try:
        r = parse_ratio(ratio)
    except ValueError as exc:
        fail(str(exc), 2)
    lib = open_library()
    try:
        with lib.session() as s:
            image, faces = collage_for(s, lib, person=person, photo=photo, ratio=r, width=width)
    except LookupError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output, quality=92)
    if as_json:
        emit_json({"id": str(output), "path": str(output.resolve()), "faces": faces, "width": image.width,
                   "height": image.height})
    else:
        out.print(f"{faces} faces -> {output} ({image.width}x{image.height})")


@app.command()
def events(
    date_from: Annotated[Optional[str], typer.Option("--from")] = None,
    date_to: Annotated[Optional[str], typer.Option("--to")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Your event diary: photos, stays and chat bursts grouped by time and place."""
    from deepdiary.cli.dates import parse_date_bound
    from deepdiary.memory.events import list_events, rebuild_events

    lib = open_library()
    with lib.session() as s:
        rebuild_events(s)
    with lib.session() as s:
        rows = list_events(s, parse_date_bound(date_from) if date_from else None,
                           parse_date_bound(date_to, end=True) if date_to else None)
    if as_json:
        emit_json(rows)
        return
    for e in rows:
        out.print(f"[bold]{e['id']:>4}[/bold]  {e['diary']}")
    if not rows:
        out.print("no events yet: ingest photos, chats or tracks first")


@graph_app.command("export")
def graph_export(path: Annotated[Path, typer.Argument(help="out.graphml or out.json")], as_json: JsonOpt = False) -> None:
    """Write the graph as GraphML (Gephi, yEd) or node-link JSON."""
    from deepdiary.memory.events import rebuild_events
    from deepdiary.memory.graph import build_graph, export_graph

    lib = open_library()
    with lib.session() as s:
        rebuild_events(s)
    with lib.session() as s:
        g = build_graph(s, lib.settings.owner_name)
    try:
        export_graph(g, path)
    except ValueError as exc:
        fail(str(exc), 2)
    info = {"id": str(path), "path": str(path.resolve()), "nodes": g.number_of_nodes(), "edges": g.number_of_edges()}
    emit_json(info) if as_json else out.print(f"{info['nodes']} nodes, {info['edges']} edges -> {path}")


@graph_app.command("met-most")
def graph_met_most(year: Annotated[Optional[int], typer.Option("--year")] = None,
                   limit: Annotated[int, typer.Option("--limit", "-n")] = 10, as_json: JsonOpt = False) -> None:
    """Who you spent the most days with (photos together or chatting)."""
    from deepdiary.memory.graph import who_i_met_most

    lib = open_library()
    with lib.session() as s:
        rows = who_i_met_most(s, year, limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r['name']}: {r['days']} day(s)")


@graph_app.command("connect")
def graph_connect(a: str, b: str, as_json: JsonOpt = False) -> None:
    """What connects two people (names or ids): the shortest chain of relations."""
    import networkx as nx

    from deepdiary.memory.events import rebuild_events
    from deepdiary.memory.graph import build_graph, connection
    from deepdiary.memory.people import PersonNotFound, person_or_fail

    lib = open_library()
    try:
        with lib.session() as s:
            rebuild_events(s)
            nodes = [f"person:{person_or_fail(s, x).id}" for x in (a, b)]
            g = build_graph(s, lib.settings.owner_name)
        chain = connection(g, *nodes)
    except PersonNotFound as exc:
        fail(str(exc))
    except nx.NetworkXNoPath:
        fail(f"nothing connects {a} and {b} yet")
    if as_json:
        emit_json({"id": f"{nodes[0]}..{nodes[1]}", "path": chain})
        return
    out.print(" → ".join(f"{c['label']}" + (f" [{c['via']}]" if c["via"] else "") for c in chain))


@people_app.command("note")
def people_note(person: str, kind: Annotated[str, typer.Argument(help="resource or demand")], text: str,
                as_json: JsonOpt = False) -> None:
    """Note what someone can offer ("can fix cars") or needs ("a flat in Hangzhou")."""
    from deepdiary.memory.people import person_or_fail
    from deepdiary.memory.tables import PersonNote

    if kind not in ("resource", "demand"):
        fail("kind is resource or demand", 2)
    def add_note(s):
        note = PersonNote(person_id=person_or_fail(s, person).id, kind=kind, text=text)
        s.add(note)
        s.flush()
        return note

    note = _people_call(add_note)
    if as_json:
        emit_json({"id": note.id, "person_id": note.person_id, "kind": note.kind, "text": note.text})
    else:
        out.print(f"note {note.id}: {kind} of person {note.person_id}: {text}")


@graph_app.command("match")
def graph_match(demand_id: int, limit: Annotated[int, typer.Option("--limit", "-n")] = 5, as_json: JsonOpt = False) -> None:
    """People whose resources fit a demand, by meaning and by how close they are to its owner."""
    from deepdiary.memory.graph import build_graph, match_demand
    from deepdiary.models.registry import models_for

    lib = open_library()
    try:
        with lib.session() as s:
            g = build_graph(s, lib.settings.owner_name)
            rows = match_demand(s, g, models_for(lib.settings).text, demand_id, limit)
    except LookupError as exc:
        fail(str(exc))
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r['person']}: {r['resource']} (similarity {r['similarity']:.2f}, {r['hops']} hops)")
