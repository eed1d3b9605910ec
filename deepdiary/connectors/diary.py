"""Diary files (Markdown or plain text) to dated chunks of text.

Pure parsing, no catalogue: ``read_diary`` turns one file into a ``DiaryFile`` whose
chunks each carry their entry's date and title; ``iter_diary_files`` walks folders.

Where an entry's date comes from, in order:

1. front matter at the top of the file (``---`` ... ``---``, ``date: 2023-07-14`` or with a
   time; also ``created:``/``日期:``), read here line by line, not as full YAML;
2. a heading holding a full date (``# 2023-07-14``, ``## 2023年7月14日 周五``,
   ``# July 14, 2023``, ``### 14 July 2023``), or a short line that starts with one
   after a blank line (plain-text diaries write ``2023年7月14日 星期五 晴`` that way);
3. the file name (``2023-07-14.md``, ``20230714-trip.md``, ``2023年7月14日.txt``).

A file with two or more dated headings holds one entry per dated heading (text before
the first one belongs to the front-matter or file-name date, if there is one). Otherwise
the whole file is one entry dated by the first source above that has a date. A file
with no date anywhere gives no chunks and a problem: dates are reported, never guessed.
Dates without a year (``7月14日``) are not read.

Entries are cut into chunks of at most ``max_chars`` characters at paragraph breaks; a
paragraph longer than that is cut between sentences (Chinese 。！？ as well as . ! ?),
and only a single over-long sentence is cut mid-way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

from deepdiary.connectors.files import Refused, iter_files, untrusted_date
from deepdiary.core.text import display_path

DIARY_EXTENSIONS = {".md", ".markdown", ".txt"}
NO_DATE = "no date found in front matter, headings or file name"

_FRONT_MATTER_DATE_KEYS = ("date", "created", "created_at", "day", "日期")
_FRONT_MATTER_TITLE_KEYS = ("title", "标题")
_FRONT_MATTER_KEY = re.compile(r"^[\w\-]+$")


@dataclass
class DiaryChunk:
    entry_date: datetime
    title: str | None
    text: str
    source_line: int
    chunk_index: int


@dataclass
class DiaryFile:
    path: Path
    chunks: list[DiaryChunk] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def iter_diary_files(paths: Iterable[Path], skip: Iterable[Path] = (), refused: Refused | None = None) -> Iterator[Path]:
    """Diary files under ``paths``: sorted, hidden entries and ``skip`` folders left out (see ``iter_files``)."""
    return iter_files(paths, DIARY_EXTENSIONS, skip, refused)


# ---------------------------------------------------------------- dates

_MONTHS = {
    name: n
    for n, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
         ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
         ("october", "oct"), ("november", "nov"), ("december", "dec")],
        1,
    )
    for name in names
}
_CLOCK = r"(?:(?:\s+|T)(?P<H>\d{1,2})[:：](?P<M>\d{2})(?:[:：](?P<S>\d{2}))?)?"
_DATE_PATTERNS = [
    re.compile(r"(?<!\d)(?P<y>\d{4})(?P<sep>[-/._])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)" + _CLOCK),
    re.compile(r"(?<!\d)(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?" + _CLOCK),
    re.compile(r"\b(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b"),
    re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>\d{4})\b"),
]
# Only file names use the run-together form: in prose 20230714 is as likely a number.
_COMPACT_DATE = re.compile(r"(?<!\d)(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?!\d)")


def _to_datetime(match: re.Match) -> datetime | None:
    parts = match.groupdict()
    if parts.get("mon"):
        month = _MONTHS.get(parts["mon"].lower())
        if month is None:
            return None
    else:
        month = int(parts["m"])
    year = int(parts["y"])
    if not 1900 <= year <= 2100:
        return None
    try:
        return datetime(year, month, int(parts["d"]), int(parts.get("H") or 0),
                        int(parts.get("M") or 0), int(parts.get("S") or 0))
    except ValueError:  # 2023-02-30, 25:00 ...
        return None


def find_date(text: str, patterns=_DATE_PATTERNS) -> tuple[datetime, int] | None:
    """The earliest full date in ``text`` and where it starts, or None."""
    best: tuple[datetime, int] | None = None
    for pattern in patterns:
        for match in pattern.finditer(text):
            if best is not None and match.start() >= best[1]:
                break
            when = _to_datetime(match)
            if when is not None:
                best = (when, match.start())
                break
    return best


def _date_value(value: str) -> datetime | None:
    value = value.strip().strip("'\"").strip()
    if not value:
        return None
    try:
        # Front matter written by tools: 2023-07-14T21:30:00+08:00 keeps its wall clock.
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        found = find_date(value)
        return found[0] if found else None


def _file_name_date(path: Path) -> datetime | None:
    found = find_date(display_path(path.stem), _DATE_PATTERNS + [_COMPACT_DATE])
    return found[0] if found else None


def _trusted(when: datetime | None, where: str, problems: list[str], now: datetime | None) -> datetime | None:
    """``when`` unless it is before 1826 or after tomorrow; then a problem says so and None
    lets the next date source (heading, file name) speak."""
    if when is None:
        return None
    doubt = untrusted_date(when, now)
    if doubt:
        problems.append(f"{where}: {doubt}; not trusted")
        return None
    return when


# ---------------------------------------------------------------- structure

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_SENTENCE_END = re.compile(r"[。！？!?；;…]\s*$|\.\s*$")
# Longer lines that start with a date are prose, not an entry's heading.
_DATE_LINE_MAX = 40


@dataclass
class _Heading:
    index: int          # position in the body's lines
    text: str
    date: datetime | None


def _front_matter(lines: list[str]) -> tuple[dict[str, str], int]:
    """Key/value pairs of a leading ``---`` block and the index of the first body line."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, min(len(lines), 200)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return {}, 0  # never closed: an ordinary rule line, not front matter
    values: dict[str, str] = {}
    for line in lines[1:end]:
        if not line.strip() or line.lstrip().startswith("#") or line.startswith((" ", "\t", "-")):
            continue  # blank, comment, or part of a YAML list or block
        key, sep, value = line.partition(":")
        if not (sep and _FRONT_MATTER_KEY.match(key.strip())):
            # A page that opens with a rule and prose: keep it all as text.
            return {}, 0
        values.setdefault(key.strip().lower(), value.strip())
    return values, end + 1


def _headings(body: list[str]) -> list[_Heading]:
    found = []
    in_fence = False
    previous_blank = True
    for i, line in enumerate(body):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            atx = _ATX.match(line)
            if atx:
                text = (atx.group(2) or "").strip()
                when = find_date(text)
                found.append(_Heading(i, text, when[0] if when else None))
            elif previous_blank:
                stripped = line.strip()
                when = find_date(stripped)
                if (when and when[1] == 0 and len(stripped) <= _DATE_LINE_MAX
                        and not _SENTENCE_END.search(stripped)):
                    found.append(_Heading(i, stripped, when[0]))
        previous_blank = not line.strip()
    return found


# ---------------------------------------------------------------- reading

def read_diary(path: Path, max_chars: int = 800, now: datetime | None = None) -> DiaryFile:
    """Read one diary file; ``now`` (default: the clock) bounds the dates it trusts."""
    path = Path(path)
    result = DiaryFile(path=path)
    data = path.read_bytes()
    text = None
    for encoding in ("utf-8-sig", "gb18030"):  # notes saved by Chinese Windows editors
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        result.problems.append("not UTF-8 or GB18030 text")
        return result
    lines = text.splitlines()
    meta, first = _front_matter(lines)
    body = lines[first:]
    if not any(line.strip() for line in body):
        result.problems.append("no text")
        return result

    meta_date = None
    for key in _FRONT_MATTER_DATE_KEYS:
        if meta.get(key):
            meta_date = _date_value(meta[key])
            if meta_date is None:
                result.problems.append(f"front matter {key} {meta[key]!r} is not a date")
            meta_date = _trusted(meta_date, f"front matter {key}", result.problems, now)
            break
    meta_title = next((meta[k].strip("'\"") for k in _FRONT_MATTER_TITLE_KEYS if meta.get(k)), None)
    file_date = _trusted(_file_name_date(path), "file name", result.problems, now)
    headings = _headings(body)
    for h in headings:
        h.date = _trusted(h.date, f"line {first + h.index + 1} {h.text[:40]!r}", result.problems, now)
    dated = [h for h in headings if h.date]

    # (date, title, body line indexes) per entry
    entries: list[tuple[datetime, str | None, range]] = []
    if len(dated) >= 2:
        preamble = range(0, dated[0].index)
        if any(body[i].strip() for i in preamble):
            when = meta_date or file_date
            if when:
                entries.append((when, meta_title, preamble))
            else:
                result.problems.append(
                    f"lines {first + 1}-{first + dated[0].index} come before the first dated heading "
                    "and have no date; skipped")
        for h, nxt in zip(dated, dated[1:] + [None]):
            entries.append((h.date, h.text or None, range(h.index + 1, nxt.index if nxt else len(body))))
    else:
        when = meta_date or (dated[0].date if dated else None) or file_date
        if when is None:
            result.problems.append(NO_DATE)
            return result
        title_heading = None
        if not meta_title:
            if dated and when == dated[0].date and not meta_date:
                title_heading = dated[0]
            else:
                top = next(i for i, line in enumerate(body) if line.strip())
                title_heading = next((h for h in headings if h.index == top), None)
        keep = [i for i in range(len(body)) if title_heading is None or i != title_heading.index]
        entries.append((when, meta_title or (title_heading.text if title_heading else None), keep))

    for when, title, indexes in entries:
        numbered = [(first + i + 1, body[i]) for i in indexes]
        for n, (line, chunk) in enumerate(_chunk(numbered, max_chars)):
            result.chunks.append(DiaryChunk(entry_date=when, title=title, text=chunk, source_line=line, chunk_index=n))
    return result


# ---------------------------------------------------------------- chunking

def _paragraphs(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    out, current = [], []
    for number, line in lines + [(0, "")]:
        if line.strip():
            current.append((number, line.rstrip()))
        elif current:
            out.append((current[0][0], "\n".join(t for _, t in current)))
            current = []
    return out


def _chunk(lines: list[tuple[int, str]], max_chars: int) -> list[tuple[int, str]]:
    """Pack paragraphs into chunks of at most ``max_chars``; (first line, text) each."""
    pieces: list[tuple[int, str]] = []
    for line, paragraph in _paragraphs(lines):
        if len(paragraph) <= max_chars:
            pieces.append((line, paragraph))
        else:
            pieces.extend(_split_paragraph(line, paragraph, max_chars))
    chunks: list[tuple[int, str]] = []
    for line, piece in pieces:
        if chunks and len(chunks[-1][1]) + 2 + len(piece) <= max_chars:
            chunks[-1] = (chunks[-1][0], chunks[-1][1] + "\n\n" + piece)
        else:
            chunks.append((line, piece))
    return chunks


# A sentence ends after 。！？!?；… (closing quotes included), or after a full stop
# followed by a space; a line break inside a paragraph also ends one.
_SENTENCE = re.compile(r"(?:[。！？!?；…]+|\.(?=\s))[”’\"'」』）)\]]*|\n")


def _split_paragraph(line: int, text: str, max_chars: int) -> list[tuple[int, str]]:
    bounds = [m.end() for m in _SENTENCE.finditer(text)]
    if not bounds or bounds[-1] != len(text):
        bounds.append(len(text))
    sentences, start = [], 0
    for end in bounds:
        if end > start:
            sentences.extend(_hard_split(start, end, text, max_chars))
        start = end
    out: list[tuple[int, int]] = []  # (start, end) spans of text
    for s, e in sentences:
        if out and e - out[-1][0] <= max_chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    result = []
    for s, e in out:
        piece = text[s:e].strip()
        if piece:
            offset = s + (len(text[s:e]) - len(text[s:e].lstrip()))
            result.append((line + text.count("\n", 0, offset), piece))
    return result


def _hard_split(start: int, end: int, text: str, max_chars: int) -> list[tuple[int, int]]:
    """Spans of at most ``max_chars``, cut at the last space or comma when there is one."""
    spans = []
    while end - start > max_chars:
        window = text[start:start + max_chars]
        cut = max(window.rfind(c) for c in " ，,、")
        cut = start + (cut + 1 if cut > max_chars // 2 else max_chars)
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
    return spans
