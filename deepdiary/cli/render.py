"""How the CLI shows things: JSON on stdout, tables, progress bars and errors on stderr."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TaskID, TextColumn, TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

out = Console()
err = Console(stderr=True)


def plain(data: Any) -> Any:
    """Pydantic results (and lists of them) as plain JSON-ready data."""
    if isinstance(data, BaseModel):
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [plain(d) for d in data]
    return data


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(plain(data), ensure_ascii=False, default=str, indent=2) + "\n")


def emit_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(plain(data), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_problems(problems) -> None:
    if not problems:
        return
    table = Table(title="Problems")
    for col in ("file", "kind", "reason"):
        table.add_column(col, overflow="fold")
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        table.add_row(p.path, f"[{style}]{p.severity}[/{style}]", p.reason)
    out.print(table)


class RateColumn(ProgressColumn):
    """Items per second, once there is something to measure."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.1f}/s")


class ProgressBars:
    """A bar per phase (ingest, enrich, embed, index ...) with counts and rates; a ProgressFn."""

    def __init__(self, bar: Progress):
        self.bar = bar
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int | None, label: str = "") -> None:
        task = self.tasks.get(phase)
        if task is None:
            task = self.tasks[phase] = self.bar.add_task(phase, total=total, label="")
        self.bar.update(task, completed=done, total=total, label=label[-40:])


@contextmanager
def progress_bars(quiet: bool) -> Iterator[ProgressBars]:
    """Bars on stderr; with ``quiet`` (``--json``) they disappear when done."""
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[label]}"))
    with Progress(*columns, console=err, transient=quiet) as bar:
        yield ProgressBars(bar)


def table(title: str, columns: tuple[str, ...], rows, show_header: bool = True) -> Table:
    t = Table(title=title, show_header=show_header)
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*row)
    return t
