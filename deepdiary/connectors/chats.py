"""Chat exports to chat messages: WeChat (PyWxDump, MemoTrace) and our own JSON format.

Pure parsing, no catalogue: ``read_chats`` turns one export file into a ``ChatExport``
(messages in time order plus the rows it had to skip, each with its line and reason) or
raises ``ChatFormatError`` when the file as a whole is not in the format. ``detect_format``
tells the format from the content, not the file name; ``iter_chat_files`` walks folders.

Formats
-------
``pywxdump-csv``
    PyWxDump: ``id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime``.
    The older 8-column variant (reported as ``pywxdump-csv-old``) has a ``content`` column
    holding JSON ``{"src": "...", "msg": "..."}`` instead of ``msg`` and ``src``.
    ``conversation`` is ``room_name``. Owner messages are ``is_sender=1``. For the others:
    in a group (``room_name`` ending in ``@chatroom``) the sender is ``talker``; in a
    one-to-one chat it is ``room_name`` itself, because the partner is the only other
    person and real exports put odd values in ``talker`` (the owner's own wxid on
    received pictures, placeholder labels in anonymised files).
``memotrace-csv``
    MemoTrace/WeChatMsg: ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,
    StrContent,StrTime,Remark,NickName,Sender``; UTF-8 with a BOM. ``StrTime`` (the wall
    clock as exported) is preferred to ``CreateTime`` (unix seconds, read in this
    machine's time zone). Remark, NickName and Sender describe the message's author (old
    exporters leave them out of one-to-one chats, giving 9-column rows). The sender is
    Remark, else NickName, else Sender. The conversation of a TalkerId is its only
    non-owner author when there is one (a one-to-one chat), else the file name without
    MemoTrace's ``_utf8`` suffix when the file holds one chat, else the TalkerId.
``memotrace-txt``
    MemoTrace text export: blocks of ``{StrTime} {name}\\n{content}\\n\\n``; a name may
    hold spaces and a content several lines (a block starts at a header line that opens
    the file or follows a blank line). The conversation is the file stem. The owner is a
    name given in ``owner_names`` or ``我``/``me``; failing that, in a file with exactly
    two names one of which is the file stem, the other name is the owner's.
``json``
    Our own plain format (UTF-8)::

        {"conversation": "Alice", "owner": "me",
         "messages": [{"id": "m1", "time": "2024-05-01T10:00:00", "sender": "Alice",
                       "text": "see you at 6", "type": "text"}]}

    or a bare list of such messages, each with its own ``"conversation"``. ``time`` is
    ISO 8601 (an offset, if any, is dropped: the wall clock is kept) or unix seconds;
    ``sender`` and ``time`` are required; ``type`` is one of ``MESSAGE_KINDS`` (default
    ``text``); ``id`` is optional; ``is_me`` (bool) may mark the owner's messages,
    otherwise a sender equal to ``owner`` (default ``"me"``) is the owner. A message's
    own ``conversation`` wins over the top-level one; without either the file stem is used.
    ``dump_chats_json`` writes this format.

Rows that cannot be read (bad time, missing fields, broken JSON content, empty text,
a repeated id with identical content) become ``ChatProblem``s; everything else is kept.
A repeated id with different content is kept under ``{id}#{n}`` so ids stay unique.
"""

from __future__ import annotations

import ast
import csv
import html
import io
import json
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator

from deepdiary.connectors.files import Refused, iter_files, untrusted_date
from deepdiary.core.text import display_path, has_lone_surrogates, replace_lone_surrogates

OWNER = "me"
CHAT_FORMATS = ("auto", "memotrace-csv", "memotrace-txt", "pywxdump-csv", "json")
CHAT_EXTENSIONS = {".csv", ".txt", ".json"}
MESSAGE_KINDS = (
    "text", "image", "voice", "video", "sticker", "link", "file", "quote",
    "transfer", "call", "system", "app", "other",
)

PYWXDUMP_HEADER = ("id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "msg", "src", "CreateTime")
PYWXDUMP_OLD_HEADER = ("id", "MsgSvrID", "type_name", "is_sender", "talker", "room_name", "content", "CreateTime")
MEMOTRACE_HEADER = (
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status",
    "StrContent", "StrTime", "Remark", "NickName", "Sender",
)
# Exporters before MemoTrace 2.0 wrote one-to-one chats without the author columns.
_MEMOTRACE_SHORT = len(MEMOTRACE_HEADER) - 3

# Names the exporters give the owner in sender columns.
_OWNER_NAMES = {OWNER, "我"}

PLACEHOLDERS = {
    "image": "[图片]", "voice": "[语音]", "video": "[视频]", "sticker": "[表情]",
    "link": "[链接]", "file": "[文件]", "quote": "[引用]", "transfer": "[转账]",
    "call": "[通话]", "system": "[系统消息]", "app": "[应用消息]", "other": "[消息]",
}
_MEDIA_KINDS = {"image", "voice", "video", "sticker"}


@dataclass
class ChatMessage:
    conversation: str
    sender: str
    is_me: bool
    sent_at: datetime
    kind: str
    text: str
    source_id: str
    source_line: int


@dataclass
class ChatProblem:
    line: int
    reason: str


@dataclass
class ChatExport:
    path: Path
    format: str
    messages: list[ChatMessage] = field(default_factory=list)
    problems: list[ChatProblem] = field(default_factory=list)


class ChatFormatError(Exception):
    """The file as a whole cannot be read in that format; the message says why."""


class _RowError(ValueError):
    """One row cannot be read; becomes a ChatProblem."""


def iter_chat_files(paths: Iterable[Path], skip: Iterable[Path] = (), refused: Refused | None = None) -> Iterator[Path]:
    """Chat export files under ``paths``: sorted, hidden entries and ``skip`` folders left out (see ``iter_files``)."""
    return iter_files(paths, CHAT_EXTENSIONS, skip, refused)


# ---------------------------------------------------------------- reading text

def _read_text(path: Path) -> str:
    data = path.read_bytes()
    # Excel on Chinese Windows re-saves CSV in GB18030 (cp936); everything else is UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ChatFormatError(f"{_name(path)}: neither UTF-8 nor GB18030 text")


def _name(path: Path) -> str:
    """The file's name as shown in a problem (bytes that are not UTF-8 as \\xNN)."""
    return display_path(path.name)


def _stem(path: Path) -> str:
    """The file name without its extension, as a conversation name (see ``_name``)."""
    return display_path(path.stem)


def _header_cells(text: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")), [])
    return [c.strip().lstrip("\ufeff") for c in first]


def _csv_variant(cells: list[str]) -> str | None:
    names = set(cells)
    if names >= set(MEMOTRACE_HEADER):
        return "memotrace-csv"
    if names >= set(PYWXDUMP_HEADER):
        return "pywxdump-csv"
    if names >= set(PYWXDUMP_OLD_HEADER):
        return "pywxdump-csv-old"
    return None


_EXPECTED_HEADERS = (
    f"PyWxDump: {','.join(PYWXDUMP_HEADER)}; older PyWxDump: {','.join(PYWXDUMP_OLD_HEADER)}; "
    f"MemoTrace: {','.join(MEMOTRACE_HEADER)}"
)

_TXT_HEADER = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}) (\S.*?)\s*$")


def _sniff(path: Path, text: str) -> str:
    body = text.lstrip("\ufeff \t\r\n")
    if body[:1] in ("{", "["):
        return "json"
    first_line = body.split("\n", 1)[0]
    if "," in first_line:
        variant = _csv_variant(_header_cells(body))
        if variant:
            return variant
    for line in body.splitlines()[:20]:
        if line.strip():
            if _TXT_HEADER.match(line):
                return "memotrace-txt"
            break
    if path.suffix.lower() == ".csv":
        raise ChatFormatError(
            f"{_name(path)}: unknown CSV header {first_line.strip()!r}; expected {_EXPECTED_HEADERS}"
        )
    raise ChatFormatError(
        f"{_name(path)}: not a chat export: expected a CSV header ({_EXPECTED_HEADERS}), "
        "a MemoTrace TXT block ('YYYY-MM-DD HH:MM:SS name'), or JSON"
    )


def detect_format(path: Path) -> str:
    """The format name for ``read_chats`` (``pywxdump-csv`` for both PyWxDump variants)."""
    path = Path(path)
    variant = _sniff(path, _read_text(path))
    return "pywxdump-csv" if variant == "pywxdump-csv-old" else variant


def read_chats(path: Path, fmt: str = "auto", *, owner_names: Iterable[str] = ()) -> ChatExport:
    """Read one export. ``owner_names`` tells the TXT reader which names are the owner's."""
    path = Path(path)
    if fmt not in CHAT_FORMATS and fmt != "pywxdump-csv-old":
        raise ValueError(f"unknown chat format {fmt!r}; one of {', '.join(CHAT_FORMATS)}")
    text = _read_text(path)
    if fmt == "auto":
        fmt = _sniff(path, text)
    export = ChatExport(path=path, format=fmt)
    if fmt in ("pywxdump-csv", "pywxdump-csv-old"):
        export.format = _require_header(path, text, ("pywxdump-csv", "pywxdump-csv-old"))
        items = _read_pywxdump(text)
    elif fmt == "memotrace-csv":
        _require_header(path, text, ("memotrace-csv",))
        items = _read_memotrace_csv(text, _chat_name_from_file(path))
    elif fmt == "memotrace-txt":
        items = _read_memotrace_txt(text, path, owner_names)
    else:
        items = _read_json(text, path)
    _finish(export, items)
    return export


def _require_header(path: Path, text: str, allowed: tuple[str, ...]) -> str:
    cells = _header_cells(text)
    variant = _csv_variant(cells)
    if variant in allowed:
        return variant
    expected = {
        "pywxdump-csv": f"{','.join(PYWXDUMP_HEADER)} (or the older {','.join(PYWXDUMP_OLD_HEADER)})",
        "memotrace-csv": ",".join(MEMOTRACE_HEADER),
    }[allowed[0]]
    raise ChatFormatError(f"{_name(path)}: header {','.join(cells)!r} is not {allowed[0]}; expected {expected}")


def _chat_name_from_file(path: Path) -> str:
    stem = _stem(path)
    return stem[: -len("_utf8")] if stem.endswith("_utf8") else stem


def _finish(export: ChatExport, items: Iterable[ChatMessage | ChatProblem]) -> None:
    """Make ids unique, drop exact repeats, and order by time (stable for equal times)."""
    seen: dict[str, ChatMessage] = {}
    repeats: dict[str, int] = {}
    messages: list[ChatMessage] = []
    for item in items:
        if isinstance(item, ChatProblem):
            export.problems.append(item)
            continue
        bad = _repair_text(item)
        if bad:
            export.problems.append(ChatProblem(
                item.source_line, f"{', '.join(bad)} held invalid characters (lone surrogates); replaced with U+FFFD"))
        first = seen.get(item.source_id)
        if first is not None:
            same = (first.conversation, first.sender, first.sent_at, first.kind, first.text) == (
                item.conversation, item.sender, item.sent_at, item.kind, item.text)
            if same:
                export.problems.append(ChatProblem(
                    item.source_line, f"repeats message {item.source_id} of line {first.source_line}; skipped"))
                continue
            repeats[item.source_id] = repeats.get(item.source_id, 1) + 1
            new_id = f"{item.source_id}#{repeats[item.source_id]}"
            export.problems.append(ChatProblem(
                item.source_line,
                f"id {item.source_id} already used on line {first.source_line} by another message; kept as {new_id}"))
            item.source_id = new_id
        seen[item.source_id] = item
        messages.append(item)
    export.messages = sorted(messages, key=lambda m: m.sent_at)
    export.problems.sort(key=lambda p: p.line)


def _repair_text(message: ChatMessage) -> list[str]:
    """Replace lone surrogates (JSON may escape one, "\\ud800"; no database stores it) in
    the message's strings; returns the names of the fields that held any."""
    bad = []
    for name in ("text", "sender", "conversation", "source_id"):
        value = getattr(message, name)
        if has_lone_surrogates(value):
            setattr(message, name, replace_lone_surrogates(value))
            bad.append(name)
    return bad


# ---------------------------------------------------------------- shared pieces

_EXCEL_EPOCH = datetime(1899, 12, 30)
_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M",
)


def parse_chat_time(value) -> datetime:
    """A naive wall-clock time from what exporters (and Excel) write; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return _from_number(float(value))
    text = str(value).strip()
    if not text:
        raise ValueError("no time")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _from_number(float(text))
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        pass
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise ValueError(f"not a time: {text!r}")


class UntrustedTime(ValueError):
    """A readable time no message can have been sent at."""


def trusted_chat_time(value) -> datetime:
    """``parse_chat_time``, refusing a time before 1826 or after tomorrow (``UntrustedTime``)."""
    when = parse_chat_time(value)
    doubt = untrusted_date(when)
    if doubt:
        raise UntrustedTime(f"{doubt}; not trusted")
    return when


def _from_number(number: float) -> datetime:
    if number > 1e11:  # milliseconds
        number /= 1000
    if 1e8 <= number < 4.2e9:
        # Unix time has no wall clock of its own; the exporters render it in local time too.
        return datetime.fromtimestamp(number)
    if 20000 <= number < 80000:
        # A cell Excel turned into its serial date (days since 1899-12-30).
        return _EXCEL_EPOCH + timedelta(seconds=round(number * 86400))
    raise ValueError(f"not a time: {number!r}")


_TAG = re.compile(r"<[^>]+>")


def _strip_tags(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).strip()


def _placeholder(kind: str, text: str) -> str:
    """The export's own placeholder in brackets ("图片" -> "[图片]"), else ours."""
    text = text.strip()
    if not text:
        return PLACEHOLDERS.get(kind, PLACEHOLDERS["other"])
    if kind in _MEDIA_KINDS and len(text) <= 6 and not re.search(r"[\s\[\]【】]", text):
        return f"[{text}]"
    return text


def _flag(value: str, what: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true"):
        return True
    if v in ("0", "false"):
        return False
    raise _RowError(f"{what} is {value!r}, not 0 or 1")


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]] | ChatProblem]:
    """(start line, cells) per record after the header; a quoted field may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""))
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield ChatProblem(start, f"CSV syntax error: {exc}")
            continue
        end = reader.line_num
        if start == 1 or not any(c.strip() for c in row):
            continue
        yield start, row


def _fields(row: list[str], columns: dict[str, int], allowed: tuple[int, ...]) -> dict[str, str]:
    """Name -> value; a row of the wrong width is reported, trailing empty cells excepted."""
    while len(row) > max(allowed) and not row[-1].strip():
        row = row[:-1]
    if len(row) not in allowed:
        raise _RowError(f"has {len(row)} fields, expected {max(allowed)}")
    return {name: row[i] for name, i in columns.items() if i < len(row)}


# ---------------------------------------------------------------- PyWxDump

_PYWXDUMP_KINDS = {
    "文本": "text", "粘贴的文本": "text", "类似文字消息而不一样的消息": "text",
    "图片": "image", "语音": "voice", "视频": "video",
    "动画表情": "sticker", "用户上传的GIF表情": "sticker", "用户上传的 GIF 表情": "sticker",
    "系统通知": "system", "拍一拍": "system", "邀请加群": "system",
    "卡片式链接": "link", "(分享)卡片式链接": "link", "链接": "link", "分享": "link",
    "链接/分享": "link", "(分享)音乐": "link",
    "文件": "file", "文件(猜)": "file",
    "引用回复": "quote", "带有引用的文本消息": "quote", "引用": "quote",
    "转账": "transfer", "转账消息": "transfer",
    "语音通话": "call", "视频通话": "call",
}
# PyWxDump grows new type names between versions; these words place the unknown ones.
_PYWXDUMP_KIND_WORDS = (
    ("撤回", "system"), ("表情", "sticker"), ("通话", "call"), ("转账", "transfer"),
    ("引用", "quote"), ("链接", "link"),
)


def _pywxdump_kind(type_name: str) -> str:
    name = type_name.strip()
    if name in _PYWXDUMP_KINDS:
        return _PYWXDUMP_KINDS[name]
    for word, kind in _PYWXDUMP_KIND_WORDS:
        if word in name:
            return kind
    # Everything else PyWxDump names (mini programs, channels, locations, merged
    # forwards, red-packet covers ...) is an app message; "未知" is not even that.
    return "other" if not name or name.startswith("未知") else "app"


def _read_pywxdump(text: str) -> Iterator[ChatMessage | ChatProblem]:
    header = _header_cells(text)
    old = "msg" not in header
    columns = {name: header.index(name) for name in (PYWXDUMP_OLD_HEADER if old else PYWXDUMP_HEADER)}
    for item in _csv_rows(text):
        if isinstance(item, ChatProblem):
            yield item
            continue
        line, row = item
        try:
            yield _pywxdump_message(line, _fields(row, columns, (len(header),)), old)
        except _RowError as exc:
            yield ChatProblem(line, str(exc))


def _pywxdump_message(line: int, f: dict[str, str], old: bool) -> ChatMessage:
    if old:
        msg = _old_content(f["content"])
    else:
        msg = f["msg"]
    try:
        sent_at = trusted_chat_time(f["CreateTime"])
    except ValueError as exc:
        raise _RowError(f"CreateTime: {exc}") from None
    is_me = _flag(f["is_sender"], "is_sender")
    room = f["room_name"].strip()
    if not room:
        raise _RowError("room_name is empty")
    if is_me:
        sender = OWNER
    elif room.endswith("@chatroom"):
        sender = f["talker"].strip() or "unknown"
    else:
        sender = room
    kind = _pywxdump_kind(f["type_name"])
    return ChatMessage(
        conversation=room, sender=sender, is_me=is_me, sent_at=sent_at, kind=kind,
        text=_message_text(kind, msg),
        source_id=f["MsgSvrID"].strip() or f["id"].strip() or f"line {line}", source_line=line,
    )


def _old_content(raw: str) -> str:
    try:
        content = json.loads(raw)
    except json.JSONDecodeError as exc:
        # Some exports wrote Python reprs ({'src': '', 'msg': '...'}) instead of JSON.
        try:
            content = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise _RowError(f"content is not JSON: {exc}") from None
    if not isinstance(content, dict) or not isinstance(content.get("msg", ""), str):
        raise _RowError('content is not a {"src": ..., "msg": ...} object')
    return content.get("msg", "")


def _message_text(kind: str, raw: str) -> str:
    if kind == "text":
        text = raw.strip()
        if not text:
            raise _RowError("empty text message")
        return text
    if kind == "system":
        return _strip_tags(raw) or PLACEHOLDERS["system"]
    return _placeholder(kind, raw)


# ---------------------------------------------------------------- MemoTrace CSV

_MEMOTRACE_KINDS = {1: "text", 3: "image", 34: "voice", 43: "video", 47: "sticker", 50: "call",
                    10000: "system", 10002: "system"}
_MEMOTRACE_APP_KINDS = {5: "link", 4: "link", 3: "link", 6: "file", 8: "sticker", 57: "quote",
                        2000: "transfer"}


def _memotrace_kind(type_: int, sub: int) -> str:
    if type_ == 49:
        return _MEMOTRACE_APP_KINDS.get(sub, "app")
    if type_ in (42, 48):  # contact card, location
        return "app"
    return _MEMOTRACE_KINDS.get(type_, "other")


def _xml_field(xml: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</{tag}>", xml, re.S)
    return html.unescape(match.group(1)).strip() if match else ""


def _app_text(kind: str, content: str) -> str:
    """Readable text of an app message whose content may be WeChat's appmsg XML."""
    content = content.strip()
    if not content.startswith("<"):
        return content or PLACEHOLDERS[kind]
    # The quoted message sits in <refermsg>, which has its own <title>-less fields.
    refer = re.search(r"<refermsg>(.*?)</refermsg>", content, re.S)
    outer = content[: refer.start()] + content[refer.end():] if refer else content
    title = _xml_field(outer, "title")
    if kind == "quote" and refer:
        who, said = _xml_field(refer.group(1), "displayname"), _xml_field(refer.group(1), "content")
        if said:
            return f"{title}\n引用 {who}: {said}".strip() if who else f"{title}\n引用: {said}".strip()
    if kind == "link" and title:
        url = _xml_field(outer, "url")
        return f"{title} {url}".strip()
    return title or PLACEHOLDERS[kind]


def _read_memotrace_csv(text: str, file_chat: str) -> Iterator[ChatMessage | ChatProblem]:
    header = _header_cells(text)
    columns = {name: header.index(name) for name in MEMOTRACE_HEADER}
    rows: list[tuple[int, dict[str, str]]] = []
    out: list[ChatMessage | ChatProblem] = []
    for item in _csv_rows(text):
        if isinstance(item, ChatProblem):
            out.append(item)
            continue
        line, row = item
        try:
            rows.append((line, _fields(row, columns, (_MEMOTRACE_SHORT, len(header)))))
        except _RowError as exc:
            out.append(ChatProblem(line, str(exc)))
    names = _memotrace_conversations(rows, file_chat)
    for line, f in rows:
        try:
            out.append(_memotrace_message(line, f, names, out))
        except _RowError as exc:
            out.append(ChatProblem(line, str(exc)))
    out.sort(key=lambda i: i.line if isinstance(i, ChatProblem) else i.source_line)
    return iter(out)


def _author(f: dict[str, str]) -> str:
    return (f.get("Remark") or "").strip() or (f.get("NickName") or "").strip() or (f.get("Sender") or "").strip()


def _memotrace_conversations(rows: list[tuple[int, dict[str, str]]], file_chat: str) -> dict[str, str]:
    others: dict[str, dict[str, str]] = {}
    for _, f in rows:
        talker = f["TalkerId"].strip()
        others.setdefault(talker, {})
        if f["IsSender"].strip() not in ("1", "true", "True", "TRUE"):
            author = _author(f)
            if author:
                others[talker][(f.get("Sender") or "").strip() or author] = author
    names = {}
    for talker, authors in others.items():
        if len(authors) == 1:
            names[talker] = next(iter(authors.values()))
        elif len(others) == 1:
            names[talker] = file_chat
        else:
            names[talker] = talker
    return names


def _memotrace_message(line: int, f: dict[str, str], names: dict[str, str],
                       warnings: list[ChatProblem]) -> ChatMessage:
    try:
        type_, sub = int(f["Type"].strip()), int(f["SubType"].strip() or 0)
    except ValueError:
        raise _RowError(f"Type/SubType {f['Type']!r}/{f['SubType']!r} are not numbers") from None
    sent_at = None
    doubts = []
    for column in ("StrTime", "CreateTime"):
        try:
            sent_at = trusted_chat_time(f[column])
            break
        except UntrustedTime as exc:
            doubts.append(f"{column}: {exc}")
        except ValueError:
            continue
    if sent_at is None:
        raise _RowError(f"no time: StrTime {f['StrTime']!r}, CreateTime {f['CreateTime']!r}"
                        + (f" ({'; '.join(doubts)})" if doubts else ""))
    is_me = _flag(f["IsSender"], "IsSender")
    conversation = names[f["TalkerId"].strip()]
    sender = OWNER if is_me else (_author(f) or conversation)
    kind = _memotrace_kind(type_, sub)
    content = f["StrContent"]
    if kind in ("link", "file", "quote", "transfer", "app") and type_ == 49:
        text = _app_text(kind, content)
    elif kind in _MEDIA_KINDS or kind == "call":
        # Media content is WeChat's XML description of the file: nothing to read.
        text = _placeholder(kind, "" if content.lstrip().startswith("<") else content)
        if kind == "sticker" and text == PLACEHOLDERS["sticker"]:
            text = "[表情包]"  # MemoTrace's own word for it
    else:
        text = _message_text(kind, content)
    for doubt in doubts:  # StrTime was not trusted, CreateTime was used
        warnings.append(ChatProblem(line, f"{doubt}; CreateTime used"))
    return ChatMessage(
        conversation=conversation, sender=sender, is_me=is_me, sent_at=sent_at, kind=kind, text=text,
        source_id=f["localId"].strip() or f"line {line}", source_line=line,
    )


# ---------------------------------------------------------------- MemoTrace TXT

_TXT_KINDS = {
    "[图片]": "image", "[语音]": "voice", "[视频]": "video", "[表情包]": "sticker", "[动画表情]": "sticker",
    "[表情]": "sticker", "[文件]": "file", "[链接]": "link", "[卡片式链接]": "link", "[转账]": "transfer",
    "[语音通话]": "call", "[视频通话]": "call", "[通话]": "call", "[音乐分享]": "link", "[小程序]": "app",
    "[合并转发的聊天记录]": "app", "[位置]": "app", "[名片]": "app",
}
_TXT_QUOTE = re.compile(r"^引用[:：]", re.M)


def _txt_kind(content: str) -> str:
    if content in _TXT_KINDS:
        return _TXT_KINDS[content]
    return "quote" if _TXT_QUOTE.search(content) else "text"


def _read_memotrace_txt(text: str, path: Path, owner_names: Iterable[str]) -> list[ChatMessage | ChatProblem]:
    stem = _stem(path)
    blocks: list[tuple[int, str, str, list[str]]] = []
    stray = 0
    previous_blank = True
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), 1):
        header = _TXT_HEADER.match(line) if previous_blank else None
        if header:
            blocks.append((number, header.group(1), header.group(2), []))
        elif blocks:
            blocks[-1][3].append(line.rstrip())
        elif line.strip() and not stray:
            stray = number
        previous_blank = not line.strip()
    out: list[ChatMessage | ChatProblem] = []
    if stray:
        out.append(ChatProblem(stray, "text before the first 'YYYY-MM-DD HH:MM:SS name' line; skipped"))
    if not blocks:
        raise ChatFormatError(f"{_name(path)}: no 'YYYY-MM-DD HH:MM:SS name' message headers found")
    owners = _OWNER_NAMES | {n.strip() for n in owner_names if n.strip()}
    names = {name for _, _, name, _ in blocks}
    if not names & owners and len(names) == 2 and stem in names:
        owners |= names - {stem}
    for line, when, name, lines in blocks:
        content = "\n".join(lines).strip("\n").strip()
        try:
            sent_at = datetime.strptime(when, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            out.append(ChatProblem(line, f"not a time: {when!r}"))
            continue
        doubt = untrusted_date(sent_at)
        if doubt:
            out.append(ChatProblem(line, f"time {doubt}; not trusted, message skipped"))
            continue
        if not content:
            out.append(ChatProblem(line, "message has no content"))
            continue
        is_me = name in owners
        out.append(ChatMessage(
            conversation=stem, sender=OWNER if is_me else name, is_me=is_me, sent_at=sent_at,
            kind=_txt_kind(content), text=content, source_id=f"line {line}", source_line=line,
        ))
    return out


# ---------------------------------------------------------------- JSON

def _read_json(text: str, path: Path) -> list[ChatMessage | ChatProblem]:
    try:
        root = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ChatFormatError(f"{_name(path)}: not valid JSON: {exc}") from None
    if isinstance(root, dict):
        messages = root.get("messages")
        if not isinstance(messages, list):
            raise ChatFormatError(f'{_name(path)}: a JSON chat object needs a "messages" list')
        default_conversation = root.get("conversation")
        owner = root.get("owner") or OWNER
    elif isinstance(root, list):
        messages, default_conversation, owner = root, None, OWNER
    else:
        raise ChatFormatError(f'{_name(path)}: JSON chats are an object with "messages" or a list of messages')
    lines = _element_lines(text, "messages" if isinstance(root, dict) else None)
    owners = {str(owner), OWNER}
    out: list[ChatMessage | ChatProblem] = []
    for n, raw in enumerate(messages):
        line = lines[n] if n < len(lines) else 1
        try:
            out.append(_json_message(raw, line, default_conversation or _stem(path), owners))
        except _RowError as exc:
            out.append(ChatProblem(line, str(exc)))
    return out


def _json_message(raw, line: int, default_conversation: str, owners: set[str]) -> ChatMessage:
    if not isinstance(raw, dict):
        raise _RowError("message is not a JSON object")
    try:
        sent_at = trusted_chat_time(raw.get("time", ""))
    except ValueError as exc:
        raise _RowError(f"time: {exc}") from None
    sender = raw.get("sender")
    is_me = raw.get("is_me")
    if not isinstance(is_me, bool):
        is_me = isinstance(sender, str) and sender.strip() in owners
    if not is_me and not (isinstance(sender, str) and sender.strip()):
        raise _RowError("message has no sender")
    kind = raw.get("type") or "text"
    if kind not in MESSAGE_KINDS:
        kind = "other"
    text = raw.get("text") or ""
    if not isinstance(text, str):
        raise _RowError("text is not a string")
    conversation = raw.get("conversation") or default_conversation
    if not isinstance(conversation, str) or not conversation.strip():
        raise _RowError("conversation is not a name")
    ident = raw.get("id")
    return ChatMessage(
        conversation=conversation.strip(), sender=OWNER if is_me else sender.strip(), is_me=is_me,
        sent_at=sent_at, kind=kind, text=_message_text(kind, text),
        source_id=str(ident) if ident not in (None, "") else f"line {line}", source_line=line,
    )


_WS = re.compile(r"[ \t\r\n]*")


def _element_lines(text: str, key: str | None) -> list[int]:
    """1-based line where each element of the message list starts.

    Walks the already-validated JSON with the stdlib decoder, so only positions are
    worked out here, never values.
    """
    decoder = json.JSONDecoder()
    pos = _WS.match(text, 0).end()
    if text.startswith("\ufeff", pos):
        pos = _WS.match(text, pos + 1).end()
    if key is not None:  # find the value of root[key]
        pos = _WS.match(text, pos + 1).end()  # past "{"
        while text[pos] != "}":
            name, pos = decoder.raw_decode(text, pos)
            pos = _WS.match(text, pos).end() + 1  # past ":"
            pos = _WS.match(text, pos).end()
            if name == key:
                break
            _, pos = decoder.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()
            if text[pos] == ",":
                pos = _WS.match(text, pos + 1).end()
    starts = []
    pos = _WS.match(text, pos + 1).end()  # past "["
    while pos < len(text) and text[pos] != "]":
        starts.append(pos)
        _, pos = decoder.raw_decode(text, pos)
        pos = _WS.match(text, pos).end()
        if text[pos] == ",":
            pos = _WS.match(text, pos + 1).end()
    newlines = [i for i, c in enumerate(text) if c == "\n"]
    return [bisect_left(newlines, s) + 1 for s in starts]


def dump_chats_json(messages: Iterable[ChatMessage]) -> str:
    """Messages in our JSON format (a list with a conversation per message)."""
    return json.dumps(
        [
            {"conversation": m.conversation, "id": m.source_id, "time": m.sent_at.isoformat(),
             "sender": m.sender, "is_me": m.is_me, "type": m.kind, "text": m.text}
            for m in messages
        ],
        ensure_ascii=False, indent=1,
    )
