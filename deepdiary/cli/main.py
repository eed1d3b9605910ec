"""``deepdiary``: ingest, search and inspect a personal memory library.

Each command parses its arguments, calls one service and renders the result: a table,
or with ``--json`` only JSON on stdout (progress and messages go to stderr). Errors are
mapped to messages and exit codes in one place, ``_handled``: 1 for a failure the user
can act on (nothing found, a file reported), 2 for bad usage.
"""

from __future__ import annotations

import functools
import json
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from pydantic import ValidationError

from deepdiary.cli.render import emit_json, emit_json_line, err, out, print_problems, progress_bars, table
from deepdiary.core.errors import DeepDiaryError

app = typer.Typer(help="Deep Diary: one private, searchable memory of your photos and more.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
ingest_app = typer.Typer(help="Bring outside data into the library.", no_args_is_help=True)
search_app = typer.Typer(help="Search the library.", no_args_is_help=True)
people_app = typer.Typer(help="People found from faces: list, name, merge, split.", no_args_is_help=True)
category_app = typer.Typer(help="Your own photo categories, learnt from examples.", no_args_is_help=True)
graph_app = typer.Typer(help="The knowledge graph of people, places, events and conversations.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the web API (only their hashes are stored).", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(search_app, name="search")
app.add_typer(people_app, name="people")
app.add_typer(category_app, name="category")
app.add_typer(graph_app, name="graph")
app.add_typer(token_app, name="token")
user_app = typer.Typer(help="Users, each with a library of their own (tokens and --user reach it).",
                        no_args_is_help=True)
share_app = typer.Typer(help="Read-only share links to a photo, an event or a search, with an expiry.",
                         no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(share_app, name="share")
bot_app = typer.Typer(help="Chat bots: Telegram, and a WeChat Official Account; each runs as its own process.",
                       no_args_is_help=True)
app.add_typer(bot_app, name="bot")

JsonOpt = Annotated[bool, typer.Option("--json", help="print only JSON on stdout")]


class Invocation:
    """What one command line chose: the library (the home's, or a user's with --user) and
    whether to show tracebacks."""

    def __init__(self, library: Path | None, debug: bool, user: str | None = None):
        self.library_path = library
        self.debug = debug
        self.user = user
        self._home = None
        self._ctx = None

    @property
    def home(self):
        """The home library's context (the owner's), whatever --user says."""
        if self._home is None:
            from deepdiary.services import AppContext

            self._home = AppContext.from_environment(self.library_path, key_file=getattr(self, "key_file", None),
                                                     ask_secret=ask_passphrase)
        return self._home

    def for_user(self, user: str | None):
        if self._ctx is None:
            if user:
                from deepdiary.services.users import user_context

                self._ctx = user_context(self.home, user)
            else:
                self._ctx = self.home
        return self._ctx

    @property
    def ctx(self):
        return self.for_user(self.user)

    def close(self) -> None:
        if self._ctx is not None and self._ctx is not self._home:
            self._ctx.close()
        if self._home is not None:
            self._home.close()


# The command line being run. A context variable, not a module global: each invocation
# (a test may run several in one process) sets its own.
_invocation: ContextVar[Invocation | None] = ContextVar("deepdiary_invocation", default=None)


@app.callback()
def main(
    context: typer.Context,
    library: Annotated[Optional[Path], typer.Option("--library", "-L", help="library folder (default: $DEEPDIARY_HOME or ~/.deepdiary)")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show the traceback of an unexpected error")] = False,
    user: Annotated[Optional[str], typer.Option("--user", "-U", help="a user's library instead of the owner's (`deepdiary user list`)")] = None,
    key_file: Annotated[Optional[Path], typer.Option("--key-file", help="a key file that unlocks an encrypted library (else $DEEPDIARY_PASSPHRASE, or a prompt)")] = None,
) -> None:
    inv = Invocation(library, debug, user)
    inv.key_file = key_file
    _invocation.set(inv)
    context.call_on_close(inv.close)


def ask_passphrase(prompt: str, confirm: bool = False) -> str | None:
    """An encrypted library's passphrase, typed on the terminal (None when stdin is not one:
    a script gives DEEPDIARY_PASSPHRASE or --key-file instead)."""
    if not sys.stdin.isatty():
        return None
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)


def app_context(user: str | None = None):
    """The application context of the running command: the library --user names (or a
    command's own ``--user``), else the owner's."""
    inv = _invocation.get()
    if user and inv.user and user != inv.user:
        from deepdiary.core.errors import InvalidInput

        raise InvalidInput(f"--user given twice: {inv.user!r} and {user!r}")
    return inv.for_user(user or inv.user)


def home_context():
    """The home library's context, for managing its users; --user makes no sense there."""
    inv = _invocation.get()
    if inv.user:
        fail("user commands manage the home library's users: leave out --user", 2)
    return inv.home


UserOpt = Annotated[Optional[str], typer.Option("--user", "-U", help="the user whose library (default: the owner's)")]


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _validation_message(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())


def _handled(fn: Callable) -> Callable:
    """The CLI's one mapping of errors to messages and exit codes."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except DeepDiaryError as exc:
            fail(str(exc), exc.exit_code)
        except ValidationError as exc:
            fail(_validation_message(exc), 2)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:  # a bug: one line, or the traceback with --debug
            inv = _invocation.get()
            if inv is not None and inv.debug:
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)", 1)

    return run


def command(group: typer.Typer, name: str | None = None, **kw) -> Callable:
    def register(fn: Callable) -> Callable:
        return group.command(name, **kw)(_handled(fn))

    return register


# --- ingest --------------------------------------------------------------------------


def _finish_ingest(report, as_json: bool, summary) -> None:
    if as_json:
        emit_json(report)
    else:
        out.print(summary)
        print_problems(report.problems)
    if report.failed:
        raise typer.Exit(1)  # some files were reported: a script must notice


@command(ingest_app, "photos")
def ingest_photos(
    paths: Annotated[list[Path], typer.Argument(help="photo files or folders (searched recursively)")],
    enrich: Annotated[bool, typer.Option("--enrich/--no-enrich", help="run the model stages (faces, tags, ...) after")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Ingest photos: metadata, place, colours, thumbnails, then faces, tags and more. Safe to re-run."""
    from deepdiary.services import ingest

    with progress_bars(as_json) as bars:
        report = ingest.ingest_photos(app_context(), paths, enrich=enrich, progress=bars)
    if report.enrich and report.enrich.failures and not as_json:
        for f in report.enrich.failures[:20]:
            err.print(f"[yellow]item {f['item_id']}: {f['stage']} failed: {f['error']}[/yellow]")
    rows = [(key, str(getattr(report, key))) for key in ("total", "added", "linked", "unchanged", "failed", "warned")]
    _finish_ingest(report, as_json, table(f"Ingest job {report.id}", ("key", "value"), rows, show_header=False))


def _text_ingest(kind: str, paths: list[Path], as_json: bool, fmt: str = "auto", learn_facts: bool = False) -> None:
    from deepdiary.services import ingest

    with progress_bars(as_json) as bars:
        report = ingest.ingest_text(app_context(), kind, paths, fmt=fmt, progress=bars, learn_facts=learn_facts)
    labels = {"chats": ("messages added", "already there"), "diary": ("chunks added", "unchanged"),
              "tracks": ("tracks and visits added", "unchanged")}[kind]
    rows = [("files", str(report.total)), (labels[0], str(report.added)), (labels[1], str(report.unchanged))]
    if kind == "tracks":
        rows.append(("photos geotagged", str(report.linked)))
    rows.append(("failed files", str(report.failed)))
    facts = getattr(report, "facts", None)
    if facts:
        rows.append(("facts learnt", f"{facts['facts_new']} new, {facts['facts_merged']} again, "
                                     f"{facts['read']} session(s) read"))
    _finish_ingest(report, as_json, table(f"Ingest job {report.id} ({kind})", ("key", "value"), rows, show_header=False))


@command(ingest_app, "chats")
def ingest_chats(
    paths: Annotated[list[Path], typer.Argument(help="chat export files or folders")],
    fmt: Annotated[str, typer.Option("--format", help="auto, memotrace-csv, memotrace-txt, pywxdump-csv or json")] = "auto",
    learn_facts: Annotated[bool, typer.Option("--learn-facts", help="then learn people's facts from the new sessions "
                                              "with the local LLM (slow: seconds per few messages)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import WeChat exports (MemoTrace, PyWxDump) or JSON chats. Re-importing adds only new messages."""
    _text_ingest("chats", paths, as_json, fmt=fmt, learn_facts=learn_facts)


@command(ingest_app, "diary")
def ingest_diary(paths: Annotated[list[Path], typer.Argument(help="Markdown or text diary files or folders")],
                 as_json: JsonOpt = False) -> None:
    """Import diary files; each entry's date comes from front matter, a heading or the file name."""
    _text_ingest("diary", paths, as_json)


@command(ingest_app, "tracks")
def ingest_tracks(paths: Annotated[list[Path], typer.Argument(help="GPX, KML, GeoJSON, OwnTracks, CSV or Google location files")],
                  as_json: JsonOpt = False) -> None:
    """Import GPS tracks, find stays, and geotag photos taken along the way."""
    _text_ingest("tracks", paths, as_json)


@command(app)
def enrich(
    stage: Annotated[Optional[list[str]], typer.Option("--stage", help="only these stages (faces, tags, features, description, category)")] = None,
    force: Annotated[bool, typer.Option("--force", help="run the stages again even where done")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run the model stages that are missing on every photo."""
    from deepdiary.services import ingest

    with progress_bars(as_json) as bars:
        report = ingest.enrich_photos(app_context(), stages=stage, force=force, progress=bars)
    if as_json:
        emit_json(report)
        return
    for f in report.failures[:20]:
        err.print(f"[yellow]item {f['item_id']}: {f['stage']} failed: {f['error']}[/yellow]")
    out.print(f"enriched {report.items} photo(s): " + ", ".join(f"{k} {v}" for k, v in report.stages_run.items())
              + (f"; {len(report.failures)} stage failure(s)" if report.failures else ""))


@command(app)
def reindex(as_json: JsonOpt = False) -> None:
    """Rebuild the chat and diary search indexes from the catalogue (resumable)."""
    from deepdiary.services import ingest

    with progress_bars(as_json) as bars:
        result = ingest.reindex(app_context(), progress=bars)
    _named(result, as_json, f"{result.items} item(s) queued; " + ", ".join(
        f"{k} {v}" for k, v in result.model_dump().items() if k not in ("id", "items")))


@command(app)
def jobs(limit: Annotated[int, typer.Option("--limit", "-n")] = 20, as_json: JsonOpt = False) -> None:
    """The newest ingest jobs: status (a dead one shows as interrupted), counts, and items not yet searchable."""
    from deepdiary.services import ingest

    rows = ingest.list_jobs(app_context(), limit)
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} job(s)", ("id", "kind", "status", "total", "added", "unchanged", "failed", "pending",
                                            "started"), [
        (str(j.id), j.kind, j.status, str(j.total), str(j.added), str(j.unchanged), str(j.failed),
         str(j.pending + j.queued), (j.started_at or "")[:19]) for j in rows]))


@command(app)
def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="tasks run at once (one process each)")] = 1,
) -> None:
    """Run the enrichment and embedding tasks that ingest enqueues when DEEPDIARY_BROKER_URL is set, until stopped.

    Any machine that reaches the same catalogue, vector server and blob store can run one."""
    from deepdiary.workers import run_worker

    code = run_worker(app_context().settings, concurrency)
    if code:
        raise typer.Exit(code)


@command(app)
def check(
    repair: Annotated[bool, typer.Option("--repair", help="fix what can be fixed and say what was done")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify blobs against their hashes, thumbnails, and the vector and text indexes against the
    catalogue; exit 1 when a problem is found (with --repair: when one is left)."""
    from deepdiary.services import maintenance

    report = maintenance.check_library(app_context(), repair=repair)
    if as_json:
        emit_json(report)
    else:
        for p in report.problems:
            colour = "green" if p.repaired else "yellow"
            after = f" -> {p.action}" if p.action else ""
            out.print(f"[{colour}]{p.kind}[/{colour}] item {p.item_id if p.item_id is not None else '-'} "
                      f"({p.file}): {p.detail}{after}", soft_wrap=True, highlight=False)
        looked = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        left = sum(not p.repaired for p in report.problems)
        out.print(f"checked {looked}: {len(report.problems)} problem(s)"
                  + (f", {len(report.problems) - left} repaired, {left} left" if repair else ""))
    if not report.ok:
        raise typer.Exit(1)


@command(app)
def backup(out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="a new folder for the backup")],
           as_json: JsonOpt = False) -> None:
    """A consistent snapshot of the whole library (safe while a server or an ingest runs)."""
    from deepdiary.services import maintenance

    result = maintenance.backup_library(app_context(), out_dir)
    _named(result, as_json, f"backup written to {result.path}: " + ", ".join(
        f"{k} {v}" for k, v in result.counts.items()))


@command(app)
def restore(
    backup_dir: Annotated[Path, typer.Argument(metavar="BACKUP", help="a folder written by `deepdiary backup`")],
    library: Annotated[Optional[Path], typer.Option("--library", "-L", help="an empty or new library folder (default: the global --library)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore a backup into an empty library folder."""
    from deepdiary.services import maintenance

    result = maintenance.restore_library(app_context(), backup_dir, library)
    _named(result, as_json, f"restored {result.backup} (taken {result.created}) into {result.library}")


# --- encryption at rest ----------------------------------------------------------------

passphrase_app = typer.Typer(help="What unlocks an encrypted library.", no_args_is_help=True)
app.add_typer(passphrase_app, name="passphrase")


def _encryption_summary(result, done: str) -> str:
    if not result.encrypted:
        return f"library {result.library} (not encrypted)"
    return f"{done} {result.library} (unlocked by its {result.unlocks_with.replace('-', ' ')})"


@command(app)
def init(
    encrypt: Annotated[bool, typer.Option("--encrypt", help="an encrypted library: SQLCipher catalogue and text index, "
                                                             "AES-256-GCM blobs (a passphrase or --key-file unlocks it)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create the library folder (with --encrypt: encrypted from its first byte)."""
    from deepdiary.services import encryption

    result = encryption.init_library(app_context(), encrypt=encrypt)
    _named(result, as_json, _encryption_summary(result, "encrypted library at"))


@command(app)
def encrypt(as_json: JsonOpt = False) -> None:
    """Encrypt the existing library in place (stop the server first). Killed, it finishes when run again."""
    from deepdiary.services import encryption

    with progress_bars(as_json) as bars:
        result = encryption.encrypt_library(app_context(), progress=bars)
    _named(result, as_json, _encryption_summary(result, "already encrypted:" if result.already else "encrypted")
           + ("" if result.already else ": " + ", ".join(f"{k} {v}" for k, v in result.counts.items())))


@command(passphrase_app, "change")
def passphrase_change(
    new_key_file: Annotated[Optional[Path], typer.Option("--new-key-file", help="unlock with this key file from now on "
                                                                                 "(else a new passphrase is prompted for)")] = None,
    from_stdin: Annotated[bool, typer.Option("--new-passphrase-stdin", help="read the new passphrase from the first "
                                                                            "line of standard input (scripts)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-wrap the library's key by a new passphrase or key file (no blob is rewritten). The current
    one comes as for any command: $DEEPDIARY_PASSPHRASE, --key-file, or a prompt."""
    from deepdiary.services import encryption

    if from_stdin and new_key_file is not None:
        fail("give --new-key-file or --new-passphrase-stdin, not both", 2)
    typed = sys.stdin.readline().rstrip("\r\n") if from_stdin else None
    if from_stdin and not typed:
        fail("--new-passphrase-stdin: standard input's first line is empty", 2)
    result = encryption.change_secret(app_context(), new_key_file=new_key_file, new_passphrase=typed)
    _named(result, as_json, _encryption_summary(result, "re-wrapped the key of"))


# --- search --------------------------------------------------------------------------


@command(search_app, "chats")
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
    from deepdiary.services.search import ChatSearch, search_chats

    hits = search_chats(app_context(), ChatSearch(question=question, date_from=date_from, date_to=date_to,
                                                  with_person=with_person, limit=limit, context=context, diary=diary))
    if as_json:
        emit_json(hits)
        return
    out.print(table(f"{len(hits)} message(s)", ("id", "time", "conversation", "sender", "text", "source"), [
        (str(h.id), h.time.strftime("%Y-%m-%d %H:%M") if h.time else "", h.conversation, h.sender, h.text,
         f"{Path(h.source.file).name}:{h.source.line}") for h in hits]))


@command(search_app, "photos")
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
    order: Annotated[Optional[str], typer.Option("--order", help="date, or relevance (the default with -q or --like)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Find photos by date, place, layout, colour, camera, rating and tag."""
    from deepdiary.services.search import PhotoSearch, search_photos

    page = search_photos(app_context(), PhotoSearch(
        date_from=date_from, date_to=date_to, near=near, radius=radius, layout=layout, color=color or [],
        camera=camera, rating=rating, tag=tag or [], scene=scene or [], person=person or [], only=only,
        any_person=any_person, people_count=people_count, category=category, query=query, like=like, limit=limit,
        offset=offset, newest=newest, order=order))
    if as_json:
        emit_json(page.results)
        return
    scored = any(r.score is not None for r in page.results)
    rows = []
    for r in page.results:
        place = ", ".join(x for x in (r.place.city, r.place.country) if x) if r.place else ""
        rows.append((str(r.id), r.taken_at.strftime("%Y-%m-%d %H:%M") if r.taken_at else "", place, r.layout,
                     r.camera or "", r.path or "", *((f"{r.score:.3f}",) if scored else ())))
    title = f"{len(page.results)} photo(s)" + (" (more: use --offset)" if page.has_more else "")
    out.print(table(title, ("id", "taken", "place", "layout", "camera", "path") + (("score",) if scored else ()), rows))


# --- one item ------------------------------------------------------------------------


@command(app)
def show(item_id: Annotated[int, typer.Argument(help="item id")], as_json: JsonOpt = False) -> None:
    """Everything the library knows about one item."""
    from deepdiary.services.photos import show_item

    details = show_item(app_context(), item_id).root
    if as_json:
        emit_json(details)
        return
    rows = []
    for key, value in details.items():
        if key == "colours":
            value = "; ".join(f"{c['region']}: {c['name']} {c['name_zh']} {c['hex']} {c['share']:.0%}" for c in value)
        elif key == "place" and value:
            value = ", ".join(x for x in (value["city"], value["region"], value["country"]) if x) + (
                f" ({value['city_zh'] or ''} {value['country_zh'] or ''})".rstrip() if value.get("country_zh") else "")
        elif isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        rows.append((key, "" if value is None else str(value)))
    out.print(table(f"Item {item_id}", ("key", "value"), rows, show_header=False))


@command(app)
def rate(item_id: int, stars: Annotated[int, typer.Argument(min=0, max=5)], as_json: JsonOpt = False) -> None:
    """Give an item 0 to 5 stars."""
    from deepdiary.services.photos import rate_item

    result = rate_item(app_context(), item_id, stars)
    if as_json:
        emit_json(result)
    else:
        out.print(f"item {item_id}: {'★' * stars}{'☆' * (5 - stars)}")


@command(app)
def stats(as_json: JsonOpt = False) -> None:
    """Totals: items, places, date range, cameras, countries."""
    from deepdiary.services.stats import library_stats

    ctx = app_context()
    data = library_stats(ctx).root
    if as_json:
        emit_json(data)
        return
    rows = [(k, json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v))
            for k, v in data.items() if k != "id"]
    out.print(table(f"Library {ctx.settings.library_dir}", ("key", "value"), rows, show_header=False))


@command(app)
def duplicates(as_json: JsonOpt = False) -> None:
    """Groups of near-duplicate photos (same picture re-saved, resized or lightly edited)."""
    from deepdiary.services.photos import duplicates as groups_of

    groups = groups_of(app_context())
    if as_json:
        emit_json(groups)
        return
    for g in groups:
        out.print(f"[bold]group {g.id}[/bold] ({len(g.items)} photos)")
        for it in g.items:
            out.print(f"  {it.id:>6}  {it.path}")
    if not groups:
        out.print("no near-duplicates")


@command(app)
def collage(
    person: Annotated[Optional[str], typer.Argument(help="a person's name or id")] = None,
    photo: Annotated[Optional[int], typer.Option("--photo", help="instead: every face in this photo (class photos)")] = None,
    ratio: Annotated[str, typer.Option("--ratio", help="aspect ratio, e.g. 16:9")] = "16:9",
    width: Annotated[int, typer.Option("--width")] = 1920,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("collage.jpg"),
    as_json: JsonOpt = False,
) -> None:
    """Tile a person's faces (or all faces of a photo) into one picture of a given shape."""
    from deepdiary.services.photos import collage as make

    result = make(app_context(), output, person=person, photo=photo, ratio=ratio, width=width)
    if as_json:
        emit_json(result)
    else:
        out.print(f"{result.faces} faces -> {output} ({result.width}x{result.height})")


# --- the demo and the housekeeper ------------------------------------------------------


@command(app)
def demo(
    folder: Annotated[Optional[Path], typer.Option(help="where to build the sample library")] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="the housekeeper's backend: llamacpp, openai or none")] = None,
) -> None:
    """Build a sample library (photos, chats, diary), run a few searches and ask the housekeeper."""
    from deepdiary.services.demo import run_demo

    run_demo(folder or Path("demo-library"), out, backend=backend)


BackendOpt = Annotated[Optional[str], typer.Option("--backend", help="llamacpp, openai or none (default: settings)")]
ConversationOpt = Annotated[Optional[int], typer.Option("--conversation", "-c", help="continue this conversation id")]
TodayOpt = Annotated[Optional[str], typer.Option(help="pretend today is YYYY-MM-DD (for relative dates)")]
ANSWER_KEYS = ("id", "conversation_id", "answer", "citations", "tool_calls", "language", "backend", "seconds")


def _render_answer(answer, as_json: bool, one_line: bool = False) -> None:
    from deepdiary.services.ask import citation_line

    if as_json:
        data = answer.model_dump(mode="json")
        (emit_json_line if one_line else emit_json)({k: data[k] for k in ANSWER_KEYS})
        return
    out.print(answer.answer, markup=False, highlight=False)
    for c in answer.citations:
        out.print(f"  {citation_line(c)}", style="dim", markup=False, highlight=False)
    for t in answer.tool_calls:
        err.print(f"  tool {t.tool}({json.dumps(t.arguments, ensure_ascii=False)}) -> {t.results} result(s)"
                  + (f", error: {t.error}" if t.error else ""), markup=False, highlight=False, style="dim")


def _ask(keeper, question: str, conversation: int | None, today, as_json: bool) -> Any:
    from deepdiary.services.ask import ask as ask_service

    if as_json:
        return ask_service(app_context(), question, conversation, today=today, keeper=keeper)
    with err.status("thinking…"):
        return ask_service(app_context(), question, conversation, today=today, keeper=keeper)


@command(app, "ask")
def ask(
    question: Annotated[str, typer.Argument(help="a question in English or Chinese")],
    backend: BackendOpt = None,
    conversation: ConversationOpt = None,
    today: TodayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the memory housekeeper; it answers with the items it relied on."""
    from deepdiary.services.ask import housekeeper, parse_today

    day = parse_today(today)
    keeper = housekeeper(app_context(), backend)
    _render_answer(_ask(keeper, question, conversation, day, as_json), as_json)


@command(app, "chat")
def chat(
    backend: BackendOpt = None,
    conversation: ConversationOpt = None,
    today: TodayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An interactive conversation: follow-ups see the earlier turns. Empty line or Ctrl-D ends it.

    With --json each answer is one line of JSON (JSON Lines)."""
    from deepdiary.services.ask import housekeeper, parse_today

    day = parse_today(today)
    keeper = housekeeper(app_context(), backend)
    if not as_json:
        err.print("Ask about your memories (empty line to stop).")
    while True:
        if not as_json:
            err.print("[bold]> [/bold]", end="")
        line = sys.stdin.readline()
        if not line.strip():
            break
        answer = _ask(keeper, line.strip(), conversation, day, as_json)
        _render_answer(answer, as_json, one_line=True)
        conversation = answer.conversation_id


# --- voice -----------------------------------------------------------------------------

AudioArg = Annotated[Path, typer.Argument(help="a recording: WAV, MP3, OGG/Opus, FLAC, M4A, WebM or AMR")]
LanguageOpt = Annotated[Optional[str], typer.Option("--language", help="the spoken language: en, zh, ... (default: detected)")]


def _voice_service():
    from deepdiary.services import voice as voice_service

    return voice_service


@command(app)
def transcribe(audio: AudioArg, language: LanguageOpt = None, as_json: JsonOpt = False) -> None:
    """Write down what a recording says (Whisper, offline); Mandarin comes out in Simplified characters."""
    if as_json:
        heard = _voice_service().transcribe(app_context(), audio, language)
        emit_json(heard)
    else:
        with err.status("listening…"):
            heard = _voice_service().transcribe(app_context(), audio, language)
        if heard.transcript:
            out.print(heard.transcript, markup=False, highlight=False)
        err.print(f"{heard.language or 'no speech'}: {heard.duration:.1f} s of audio in {heard.seconds:.1f} s",
                  style="dim", markup=False, highlight=False)
    if not heard.transcript:
        if not as_json:
            err.print(f"no speech heard in {audio}", markup=False, highlight=False)
        raise typer.Exit(1)


def _render_voice(result, as_json: bool, one_line: bool = False) -> None:
    from deepdiary.services.ask import citation_line

    if as_json:
        (emit_json_line if one_line else emit_json)(result)
        return
    err.print(f"heard ({result.language}): {result.transcript}", style="dim", markup=False, highlight=False)
    out.print(result.answer, markup=False, highlight=False)
    for c in result.citations:
        out.print(f"  {citation_line(c)}", style="dim", markup=False, highlight=False)
    timing = f"speech to text {result.stt_seconds:.1f} s, ask {result.ask_seconds:.1f} s"
    if result.reply_audio:
        timing += f", text to speech {result.tts_seconds:.1f} s; reply in {result.reply_audio}"
    err.print(timing, style="dim", markup=False, highlight=False)


@command(app)
def voice(
    audio: AudioArg,
    reply: Annotated[Optional[Path], typer.Option("--reply", help="write the spoken answer here: .wav, or .ogg/.opus for OGG/Opus")] = None,
    language: LanguageOpt = None,
    backend: BackendOpt = None,
    conversation: ConversationOpt = None,
    today: TodayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask with your voice: speech to text, the housekeeper's answer, and (with --reply) the answer spoken."""
    from deepdiary.services.ask import parse_today

    day = parse_today(today)
    run = functools.partial(_voice_service().voice, app_context(), audio, reply, language=language, today=day,
                            conversation_id=conversation, backend=backend)
    if as_json:
        _render_voice(run(), as_json)
        return
    with err.status("listening and thinking…"):
        result = run()
    _render_voice(result, as_json)


@command(app)
def listen(
    seconds: Annotated[float, typer.Option("--seconds", help="length of each recording, seconds (up to 60)")] = 5.0,
    turns: Annotated[Optional[int], typer.Option("--turns", help="stop after this many recordings (default: until Ctrl-C)")] = None,
    speak: Annotated[bool, typer.Option("--speak/--no-speak", help="say each answer aloud (aplay)")] = True,
    device: Annotated[Optional[str], typer.Option("--device", help="ALSA capture device, e.g. hw:1 (default: the system's)")] = None,
    language: LanguageOpt = None,
    backend: BackendOpt = None,
    today: TodayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Talk to the housekeeper through the microphone: record, answer, speak, again. Ctrl-C ends it.

    With --json each answer is one line of JSON (JSON Lines)."""
    from deepdiary.services.ask import parse_today

    day = parse_today(today)

    def listening() -> None:
        if not as_json:
            err.print(f"listening for {seconds:g} s… (Ctrl-C to stop)", style="bold", markup=False, highlight=False)

    try:
        for result in _voice_service().listen(app_context(), seconds, turns, speak, device, language, backend, day,
                                              on_listening=listening):
            if result is None:
                if not as_json:
                    err.print("(no speech heard)", style="dim", markup=False, highlight=False)
                continue
            _render_voice(result, as_json, one_line=True)
    except KeyboardInterrupt:
        if not as_json:
            err.print("stopped", markup=False, highlight=False)


# --- people ----------------------------------------------------------------------------


def _named(p, as_json: bool, message: str) -> None:
    if as_json:
        emit_json(p)
    else:
        out.print(message)


@command(people_app, "list")
def people_list(
    include_all: Annotated[bool, typer.Option("--all", help="also hidden people and people made only of poor faces")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Everyone found in your photos, most photographed first."""
    from deepdiary.services.people import list_people

    rows = list_people(app_context(), include_hidden=include_all, include_low_quality=include_all)
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} people", ("id", "name", "faces", "photos"), [
        (str(r.id), r.name or "[dim]unnamed[/dim]", str(r.faces), str(r.photos)) for r in rows]))


@command(people_app, "add")
def people_add(name: str,
               alias: Annotated[Optional[list[str]], typer.Option("--alias", help="another name, e.g. in Chinese")] = None,
               as_json: JsonOpt = False) -> None:
    """Add a named person who has no faces yet (say, known from chats); their chat messages are linked."""
    from deepdiary.services.people import add_person

    p = add_person(app_context(), name, alias)
    _named(p, as_json, f"person {p.id}: {p.name}")


@command(people_app, "name")
def people_name(person: str, name: str,
                alias: Annotated[Optional[list[str]], typer.Option("--alias", help="another name, e.g. in Chinese")] = None,
                as_json: JsonOpt = False) -> None:
    """Name a person (by id or current name); the name survives re-clustering."""
    from deepdiary.services.people import name_person

    p = name_person(app_context(), person, name, alias)
    _named(p, as_json, f"person {p.id} is now {p.name}")


@command(people_app, "merge")
def people_merge(keep: str, other: str, as_json: JsonOpt = False) -> None:
    """Move every face of OTHER into KEEP (they are the same person)."""
    from deepdiary.services.people import merge_people

    p = merge_people(app_context(), keep, other)
    _named(p, as_json, f"merged into person {p.id} ({p.name or 'unnamed'})")


@command(people_app, "split")
def people_split(face_id: int, to: Annotated[Optional[str], typer.Option("--to", help="move it to this person instead of a new one")] = None,
                 as_json: JsonOpt = False) -> None:
    """Take one face out of its person; it is never moved back automatically."""
    from deepdiary.services.people import move_face

    p = move_face(app_context(), face_id, to)
    _named(p, as_json, f"face {face_id} now belongs to person {p.id} ({p.name or 'unnamed'})")


@command(people_app, "hide")
def people_hide(person: str, unhide: Annotated[bool, typer.Option("--unhide", help="show the person again")] = False,
                as_json: JsonOpt = False) -> None:
    """Keep a person (a stranger in the background) out of the people list."""
    from deepdiary.services.people import hide_person

    p = hide_person(app_context(), person, hidden=not unhide)
    _named(p, as_json, f"person {p.id} ({p.name or 'unnamed'}) is {'shown' if unhide else 'hidden'}")


@command(people_app, "faces")
def people_faces(person: str, as_json: JsonOpt = False) -> None:
    """The faces of one person, with the photo each is in."""
    from deepdiary.services.people import person_faces

    rows = person_faces(app_context(), person)
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} face(s)", ("face", "photo", "box", "by", "path"), [
        (str(r.id), str(r.item_id), "x{} y{} {}x{}".format(*r.box), r.assigned_by, r.path or "") for r in rows]))


@command(people_app, "recluster")
def people_recluster(as_json: JsonOpt = False) -> None:
    """Regroup all faces (names and your own moves are kept)."""
    from deepdiary.services.people import recluster

    result = recluster(app_context())
    _named(result, as_json, f"{result.faces} faces in {result.people} people; {result.moved} moved")


@command(people_app, "show")
def people_show(person: str, as_json: JsonOpt = False) -> None:
    """One person: counts, notes, and the facts their chats taught (replaced ones dimmed)."""
    from deepdiary.services.people import person_detail

    p = person_detail(app_context(), person)
    if as_json:
        emit_json(p)
        return
    out.print(f"[bold]{p.name or 'unnamed'}[/bold] (person {p.id}): {p.faces} faces in {p.photos} photos", highlight=False)
    for n in p.notes:
        out.print(f"  note {n.id} ({n.kind}): {n.text}", highlight=False)
    if p.facts:
        _print_facts(p.facts)


@command(people_app, "note")
def people_note(person: str, kind: Annotated[str, typer.Argument(help="resource or demand")], text: str,
                as_json: JsonOpt = False) -> None:
    """Note what someone can offer ("can fix cars") or needs ("a flat in Hangzhou")."""
    from deepdiary.services.people import add_note

    note = add_note(app_context(), person, kind, text)
    _named(note, as_json, f"note {note.id}: {kind} of person {note.person_id}: {text}")


# --- categories ------------------------------------------------------------------------


@command(category_app, "add")
def category_add(name: str, item_ids: Annotated[list[int], typer.Argument(help="photos that belong to NAME")],
                 as_json: JsonOpt = False) -> None:
    """Define or extend a category by labelling example photos; the rest are relabelled."""
    _category_label(name, item_ids, as_json)


@command(category_app, "set")
def category_set(item_id: int, name: str, as_json: JsonOpt = False) -> None:
    """Correct one photo's category; the classifier retrains at once."""
    _category_label(name, [item_id], as_json)


def _category_label(name: str, item_ids: list[int], as_json: bool) -> None:
    from deepdiary.services.categories import label_photos

    result = label_photos(app_context(), name, item_ids)
    _named(result, as_json, f"{len(item_ids)} photo(s) labelled {name}; {result.relabelled} other photo(s) relabelled")


@command(category_app, "list")
def category_list(as_json: JsonOpt = False) -> None:
    """Your categories with how many photos were labelled and predicted."""
    from deepdiary.services.categories import list_categories

    rows = list_categories(app_context())
    if as_json:
        emit_json(rows)
        return
    out.print(table("categories", ("id", "name", "labelled", "predicted"), [
        (str(r.id), r.name, str(r.labelled), str(r.predicted)) for r in rows]))


# --- events and the graph ------------------------------------------------------------


events_app = typer.Typer(help="Your event diary: photos, stays and chat bursts grouped by time and place.",
                         invoke_without_command=True)
app.add_typer(events_app, name="events")


@events_app.callback()
def events(
    context: typer.Context,
    date_from: Annotated[Optional[str], typer.Option("--from")] = None,
    date_to: Annotated[Optional[str], typer.Option("--to")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Your event diary: photos, stays and chat bursts grouped by time and place."""
    if context.invoked_subcommand is None:
        _handled(_events_list)(date_from, date_to, as_json)


def _events_list(date_from: str | None, date_to: str | None, as_json: bool) -> None:
    from deepdiary.services.memories import list_events

    rows = list_events(app_context(), date_from, date_to)
    if as_json:
        emit_json(rows)
        return
    for e in rows:
        out.print(f"[bold]{e.id:>4}[/bold]  {e.diary}")
    if not rows:
        out.print("no events yet: ingest photos, chats or tracks first")


def _print_entry(entry) -> None:
    tag = "your own" if entry.source == "user" else ("stale: the event changed" if entry.stale else "written by the LLM")
    out.print(f"[italic]{entry.text}[/italic]", highlight=False)
    out.print(f"[dim]({tag}; cites {', '.join(entry.citations) or 'nothing'})[/dim]", highlight=False)


@command(events_app, "show")
def events_show(event_id: int, as_json: JsonOpt = False) -> None:
    """One event: its diary entry, people, photos and messages."""
    from deepdiary.services.memories import event_detail

    e = event_detail(app_context(), event_id)
    if as_json:
        emit_json(e)
        return
    out.print(f"[bold]event {e.id}[/bold]  {e.diary}", highlight=False)
    if e.entry:
        _print_entry(e.entry)
    else:
        out.print("[dim]no diary entry yet: deepdiary events write {e.id}[/dim]".replace("{e.id}", str(e.id)))
    if e.people:
        out.print("people: " + ", ".join(p["name"] or f"person {p['id']}" for p in e.people), highlight=False)
    if e.photo_items:
        out.print("photos: " + ", ".join(str(p.id) for p in e.photo_items))
    for m in e.message_items:
        out.print(f"  {m['time'] or ''} {m['sender']}: {m['text']}", highlight=False)


@command(events_app, "write")
def events_write(
    event_id: Annotated[Optional[int], typer.Argument(help="the event to write (or --all)")] = None,
    all_events: Annotated[bool, typer.Option("--all", help="every event whose entry is missing or stale")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Have the local LLM write events' diary entries, citing their items; your own entries are kept."""
    from deepdiary.core.errors import InvalidInput
    from deepdiary.services.memories import write_event_entries

    if (event_id is not None) == all_events:
        raise InvalidInput("name one event ID, or --all")
    with progress_bars(as_json) as bars:
        run = write_event_entries(app_context(), event_id, progress=bars)
    if as_json:
        emit_json(run)
        return
    for entry in run.entries:
        out.print(f"[bold]event {entry.id}[/bold]")
        _print_entry(entry)
    out.print(f"{run.written} written, {run.unchanged} unchanged, {run.kept_user} yours kept, "
              f"{run.failed} failed in {run.seconds:.0f} s")


@command(events_app, "edit")
def events_edit(event_id: int, text: str, as_json: JsonOpt = False) -> None:
    """Write an event's diary entry yourself; the LLM never overwrites it."""
    from deepdiary.services.memories import set_event_entry

    entry = set_event_entry(app_context(), event_id, text)
    _named(entry, as_json, f"event {event_id}: your entry is kept")


# --- facts learnt from chats ------------------------------------------------------------

facts_app = typer.Typer(help="People's facts, resources and needs learnt from your chats by the local LLM.",
                        no_args_is_help=True)
app.add_typer(facts_app, name="facts")


@command(facts_app, "learn")
def facts_learn(
    since: Annotated[Optional[str], typer.Option("--since", help="only sessions since: 6m, 2w, 30d, 1y or a date")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="read at most this many sessions")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Read the chat sessions not read yet and learn what they say about people (resumable)."""
    from deepdiary.services.facts import learn_facts

    with progress_bars(as_json) as bars:
        run = learn_facts(app_context(), since, progress=bars, limit=limit)
    _named(run, as_json, f"{run.read} session(s) read ({run.skipped} already read), {run.messages} messages: "
                         f"{run.facts_new} new facts, {run.facts_merged} seen again, {run.dropped} dropped; "
                         f"{run.messages_per_second:.2f} messages/s")


def _print_facts(rows) -> None:
    out.print(table(f"{len(rows)} fact(s)", ("id", "who", "kind", "attribute", "value", "since", "messages"), [
        (str(f.id), f.subject, f.kind, f.attribute, f.value if f.current else f"[dim]{f.value} (replaced)[/dim]",
         f.valid_from[:10], ", ".join(map(str, f.message_ids))) for f in rows]))


@command(facts_app, "list")
def facts_list(person: Annotated[Optional[str], typer.Argument(help="a person (name, alias or id) or chat name")] = None,
               history: Annotated[bool, typer.Option("--history", help="also facts later messages replaced")] = False,
               as_json: JsonOpt = False) -> None:
    """What the chats taught about people, each with the messages it came from."""
    from deepdiary.services.facts import list_facts

    rows = list_facts(app_context(), person, history)
    if as_json:
        emit_json(rows)
        return
    _print_facts(rows)


@command(graph_app, "export")
def graph_export(path: Annotated[Path, typer.Argument(help="out.graphml or out.json")], as_json: JsonOpt = False) -> None:
    """Write the graph as GraphML (Gephi, yEd) or node-link JSON."""
    from deepdiary.services.memories import export_graph

    info = export_graph(app_context(), path)
    _named(info, as_json, f"{info.nodes} nodes, {info.edges} edges -> {path}")


@command(graph_app, "met-most")
def graph_met_most(year: Annotated[Optional[int], typer.Option("--year")] = None,
                   limit: Annotated[int, typer.Option("--limit", "-n")] = 10, as_json: JsonOpt = False) -> None:
    """Who you spent the most days with (photos together or chatting)."""
    from deepdiary.services.memories import met_most

    rows = met_most(app_context(), year, limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r.name}: {r.days} day(s)")


@command(graph_app, "connect")
def graph_connect(a: str, b: str, as_json: JsonOpt = False) -> None:
    """What connects two people (names or ids): the shortest chain of relations."""
    from deepdiary.services.memories import connect

    result = connect(app_context(), a, b)
    _named(result, as_json, " → ".join(f"{c['label']}" + (f" [{c['via']}]" if c["via"] else "") for c in result.path))


@command(graph_app, "match")
def graph_match(demand_id: int, limit: Annotated[int, typer.Option("--limit", "-n")] = 5, as_json: JsonOpt = False) -> None:
    """People whose resources fit a demand, by meaning and by how close they are to its owner."""
    from deepdiary.services.memories import match_demand

    rows = match_demand(app_context(), demand_id, limit)
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        out.print(f"{r.person}: {r.resource} (similarity {r.similarity:.2f}, {r.hops} hops)")


# --- the web app -------------------------------------------------------------------------


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@command(app)
def serve(
    host: Annotated[str, typer.Option(help="address to listen on; anything but loopback needs a token first")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port, 1 to 65535")] = 8765,
) -> None:
    """Serve the web app and its API (docs at /docs)."""
    from deepdiary.services.users import Libraries

    if not 1 <= port <= 65535:
        fail(f"--port: {port} is out of range (1 to 65535)", 2)
    if _invocation.get().user:
        fail("--user: serve serves every user's library, each request the one its token opens; leave it out", 2)
    ctx = app_context()
    if not _loopback(host) and not Libraries(ctx).tokens_required():
        fail(f"--host: refusing to serve on {host} while no token exists; run `deepdiary token create NAME` first", 2)
    import uvicorn

    from deepdiary.services import encryption

    if encryption.open_library(ctx):  # unlocked once, here: a prompt never waits inside a request
        err.print("encrypted library unlocked")
    app = web_app(ctx, warm_models=True)
    err.print(f"Deep Diary on http://{host}:{port}/ (API docs at /docs); Ctrl-C stops it")
    if ctx.settings.wechat_token:
        err.print(f"WeChat Official Account callback at http://{host}:{port}/wechat")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def web_app(ctx, warm_models: bool = False):
    """The app `serve` serves: the web UI and API, and the WeChat callback at /wechat when a WeChat
    token is set (the platform calls it with its own signature, not a bearer token)."""
    from deepdiary.api import create_app

    app = create_app(ctx, warm_models=warm_models)
    if ctx.settings.wechat_token:
        from deepdiary.bots.wechat import callback_router

        router, app.state.wechat = callback_router(ctx)
        app.include_router(router)
    return app


@command(token_app, "create")
def token_create(name: str, user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """Make a token (for a user's library with --user); it is printed once and only its hash is kept."""
    from deepdiary.services.tokens import create_token

    made = create_token(app_context(user), name)
    if as_json:
        emit_json(made)
    else:
        out.print(made.token, markup=False, highlight=False)
        err.print(f"token {made.id} ({made.name}): keep it safe, it is not shown again")


@command(token_app, "list")
def token_list(user: UserOpt = None, as_json: JsonOpt = False) -> None:
    """Tokens by id and name (never their values)."""
    from deepdiary.services.tokens import list_tokens

    rows = list_tokens(app_context(user))
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} token(s)", ("id", "name", "created", "revoked"), [
        (str(t.id), t.name, t.created_at.strftime("%Y-%m-%d %H:%M"), "yes" if t.revoked else "") for t in rows]))


@command(token_app, "revoke")
def token_revoke(token: Annotated[str, typer.Argument(help="its id or name")], user: UserOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Revoke a token: requests carrying it are refused from now on."""
    from deepdiary.services.tokens import revoke_token

    info = revoke_token(app_context(user), token)
    _named(info, as_json, f"token {info.id} ({info.name}) revoked")


# --- users and share links -------------------------------------------------------------


@command(user_app, "add")
def user_add(name: Annotated[str, typer.Argument(help="their name, in any script: alice, 王小明")],
             as_json: JsonOpt = False) -> None:
    """Add a user with an empty library of their own; their first token is printed once."""
    from deepdiary.services.users import add_user

    made = add_user(home_context(), name)
    if as_json:
        emit_json(made)
        return
    out.print(made.token, markup=False, highlight=False)
    err.print(f"user {made.id} ({made.name}): library {made.library}; that is their first token "
              f"(token {made.token_id}), keep it safe, it is not shown again", markup=False, highlight=False)


@command(user_app, "list")
def user_list(as_json: JsonOpt = False) -> None:
    """The users and their library folders (the owner's library is the home itself)."""
    from deepdiary.services.users import list_users

    rows = list_users(home_context())
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} user(s)", ("id", "name", "library", "created"), [
        (str(u.id), u.name, u.library, u.created_at.strftime("%Y-%m-%d %H:%M")) for u in rows]))


@command(user_app, "remove")
def user_remove(name: str,
                yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
                as_json: JsonOpt = False) -> None:
    """Remove a user with their tokens, share links and whole library folder (asks first)."""
    from deepdiary.services.users import remove_user, user_context

    ctx = home_context()
    if not yes:
        if as_json:
            fail(f"removing {name!r} deletes their whole library; pass --yes to confirm", 2)
        user_context(ctx, name).close()  # an unknown name fails before the question
        if not typer.confirm(f"Remove user {name!r} and delete their whole library?", default=False):
            fail("nothing removed", 1)
    gone = remove_user(ctx, name)
    _named(gone, as_json, f"user {gone.id} ({gone.name}) removed, with {gone.library}")


ExpiresOpt = Annotated[Optional[str], typer.Option("--expires", help="30m, 12h, 7d, 2w or a date (default 7d)")]


def _shared(made, as_json: bool) -> None:
    if as_json:
        emit_json(made)
        return
    out.print(made.url, markup=False, highlight=False)
    err.print(f"share {made.id} ({made.kind}, {made.photos} photo(s)) until {made.expires_at:%Y-%m-%d %H:%M} UTC: "
              "put the server's address in front; the link is not shown again", markup=False, highlight=False)


@command(share_app, "photo")
def share_photo(item_id: int, expires: ExpiresOpt = None, as_json: JsonOpt = False) -> None:
    """A read-only link to one photo."""
    from deepdiary.services import shares

    _shared(shares.share_photo(app_context(), item_id, expires), as_json)


@command(share_app, "event")
def share_event(event_id: int, expires: ExpiresOpt = None, as_json: JsonOpt = False) -> None:
    """A read-only link to an event's photos, as they are now."""
    from deepdiary.services import shares

    _shared(shares.share_event(app_context(), event_id, expires), as_json)


@command(share_app, "search")
def share_search(query: Annotated[str, typer.Argument(help="a search as the gallery's box reads it: 'Alice in Hangzhou'")],
                 expires: ExpiresOpt = None, as_json: JsonOpt = False) -> None:
    """A read-only link to what a search finds now (later photos never join it)."""
    from deepdiary.services import shares

    _shared(shares.share_search(app_context(), query, expires), as_json)


@command(share_app, "list")
def share_list(as_json: JsonOpt = False) -> None:
    """This library's share links (never their secrets)."""
    from deepdiary.services import shares

    rows = shares.list_shares(app_context())
    if as_json:
        emit_json(rows)
        return
    out.print(table(f"{len(rows)} share link(s)", ("id", "kind", "title", "photos", "expires", "state"), [
        (str(r.id), r.kind, r.title, str(r.photos), r.expires_at.strftime("%Y-%m-%d %H:%M"),
         "revoked" if r.revoked else "expired" if r.expired else "live") for r in rows]))


@command(share_app, "revoke")
def share_revoke(share_id: int, as_json: JsonOpt = False) -> None:
    """Revoke a share link: it answers 410 Gone from now on."""
    from deepdiary.services import shares

    link = shares.revoke_share(app_context(), share_id)
    _named(link, as_json, f"share {link.id} ({link.kind}: {link.title}) revoked")


@command(bot_app, "telegram")
def bot_telegram() -> None:
    """Run the Telegram bot until Ctrl-C or SIGTERM. Settings: DEEPDIARY_TELEGRAM_TOKEN (from
    @BotFather) and DEEPDIARY_TELEGRAM_ALLOWED_USERS (user ids, comma-separated; empty: nobody)."""
    from deepdiary.bots import common, telegram

    ctx = app_context()
    common.configure_logging(common.secrets_of(ctx.settings))
    telegram.run(ctx)


@command(bot_app, "wechat")
def bot_wechat(
    host: Annotated[str, typer.Option(help="address to listen on (put a TLS proxy in front for WeChat's servers)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port, 1 to 65535")] = 8766,
) -> None:
    """Serve the WeChat Official Account callback at /wechat until Ctrl-C or SIGTERM. Settings:
    DEEPDIARY_WECHAT_TOKEN, _APP_ID, _APP_SECRET, _AES_KEY (safe mode) and _ALLOWED_OPENIDS."""
    from deepdiary.bots import common, wechat

    if not 1 <= port <= 65535:
        fail(f"--port: {port} is out of range (1 to 65535)", 2)
    ctx = app_context()
    common.configure_logging(common.secrets_of(ctx.settings))
    wechat.run(ctx, host=host, port=port)


# --- decentralised storage: IPFS pins and exports -------------------------------------

export_app = typer.Typer(help="Export photos for IPFS: a CAR archive, ERC-721 (NFT) metadata.", no_args_is_help=True)
ipfs_app = typer.Typer(help="Pin photos to an IPFS node (the embedded kubo node, or DEEPDIARY_IPFS_API).",
                       no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(ipfs_app, name="ipfs")


@command(export_app, "car")
def export_car(
    items: Annotated[list[int], typer.Argument(help="photo ids (`deepdiary search photos`)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the CAR file to write")] = Path("photos.car"),
    as_json: JsonOpt = False,
) -> None:
    """Write an IPFS CARv1 of photos: a folder per photo with the photo, its thumbnail and facts.json,
    under one root. `ipfs dag import` takes it; the photos keep their CIDs."""
    from deepdiary.services import exports

    result = exports.export_car(app_context(), items, output)
    if as_json:
        emit_json(result)
        return
    out.print(f"{result.path}: {len(result.items)} photo(s), {result.blocks} blocks, {result.bytes} bytes")
    out.print(f"root ipfs://{result.root}")
    out.print(table("photos", ("id", "photo", "thumbnail", "facts.json"), [
        (str(i.id), i.photo, i.thumbnail or "-", i.facts) for i in result.items]))


@command(export_app, "nft")
def export_nft(
    item: Annotated[int, typer.Argument(help="a photo id")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="write the metadata to this file")] = None,
    as_json: JsonOpt = False,
) -> None:
    """ERC-721 metadata of a photo: name, description, an ipfs:// image and attributes from its facts."""
    from deepdiary.services import exports

    metadata = exports.nft_metadata(app_context(), item).root
    if output is not None:
        output.write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if as_json:
            emit_json({"id": item, "path": str(output), "image": metadata["image"]})
        else:
            err.print(f"metadata of photo {item} written to {output}")
        return
    emit_json(metadata)  # the metadata is JSON either way


@command(ipfs_app, "pin")
def ipfs_pin(
    items: Annotated[Optional[list[int]], typer.Argument(help="photo ids (default: every photo)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pin photos' originals and thumbnails to the IPFS node, as stored (sealed in an encrypted library)."""
    from deepdiary.services import exports

    report = exports.pin_photos(app_context(), items or None, backend="ipfs")
    if as_json:
        emit_json(report)
        return
    out.print(f"{report.blobs} blob(s), {report.bytes} bytes pinned to {report.node} in {report.seconds:g} s")
    out.print(table("pinned", ("id", "original", "thumbnail"), [
        (str(p.id), p.original, p.thumbnail or "-") for p in report.items]))


@command(ipfs_app, "get")
def ipfs_get(
    cid: Annotated[str, typer.Argument(help="a CID `ipfs pin` gave")],
    output: Annotated[Path, typer.Option("-o", "--output", help="the file to write")],
    as_json: JsonOpt = False,
) -> None:
    """Read a pinned blob back from the IPFS node by its CID, as it is stored there."""
    from deepdiary.services import exports

    data = exports.read_pinned(app_context(), cid, backend="ipfs")
    output.write_bytes(data)
    if as_json:
        emit_json({"id": cid, "path": str(output), "bytes": len(data)})
        return
    out.print(f"{cid}: {len(data)} bytes written to {output}")
