"""Text and names: what counts as Chinese, and file names and text in any encoding."""

from __future__ import annotations

import os
import re
from pathlib import Path

CJK_RANGE = "\u3400-\u9fff"
_CJK = re.compile(f"[{CJK_RANGE}]")
_ALL_CJK = re.compile(f"^[{CJK_RANGE}]+$")


def has_cjk(text: str) -> bool:
    """Whether any character is a CJK ideograph."""
    return bool(_CJK.search(text))


def is_all_cjk(text: str) -> bool:
    """Whether every character is a CJK ideograph (and there is at least one)."""
    return bool(_ALL_CJK.match(text))



# ---------------------------------------------------------------- names and text in any encoding
#
# On Linux a file name is bytes. Python decodes it with "surrogateescape": a byte that is
# not UTF-8 (a Latin-1 "é" from an old zip, a GBK name from a Windows copy) becomes a lone
# surrogate U+DC80..U+DCFF, which no UTF-8 database, JSON writer or terminal accepts.

_ESCAPED_BYTE = re.compile(r"[\udc80-\udcff]")
_PATH_KEY_ESCAPE = re.compile(r"[\udc80-\udcff\\]")
_KEY_TOKEN = re.compile(r"\\(\\|x[89a-f][0-9a-f])")
_KEY_BYTE = re.compile(r"(?<!\\)(?:\\\\)*\\x[89a-f][0-9a-f]")


def _byte_escape(match: re.Match) -> str:
    char = match.group()
    return "\\\\" if char == "\\" else f"\\x{ord(char) - 0xDC00:02x}"


def path_key(path: str | Path) -> str:
    """The text a path is stored under; ``path_from_key`` turns it back into the same bytes.

    A UTF-8 path is its own key, so keys match what was stored before and what any
    ``str(path)`` gives. In a name that is not UTF-8, each such byte is written ``\\xNN``
    and each backslash ``\\\\``, so the key is valid UTF-8 and still readable.
    """
    text = os.fspath(path)
    if not _ESCAPED_BYTE.search(text):
        return text
    return _PATH_KEY_ESCAPE.sub(_byte_escape, text)


def path_from_key(key: str) -> Path:
    """The path ``path_key`` stored as ``key``.

    A key holding a ``\\xNN`` escape (NN from 80 to ff) came from a name that is not
    UTF-8; any other key is the path itself. (A UTF-8 name that literally holds such a
    backslash sequence would be misread; no camera, phone or exporter writes one.)
    """
    if not _KEY_BYTE.search(key):
        return Path(key)
    return Path(_KEY_TOKEN.sub(lambda m: "\\" if m.group(1) == "\\" else chr(0xDC00 + int(m.group(1)[1:], 16)), key))


def display_path(path: str | Path) -> str:
    """A path (or name) as a person reads it: each byte that is not UTF-8 shown as ``\\xNN``.

    The one way every interface shows a file name; unlike ``path_key`` it does not
    double backslashes, so it is for reading, not for finding the file again.
    """
    return display_text(os.fspath(path))


def display_text(text: str) -> str:
    """``text`` made safe to store and print: undecodable file-name bytes as ``\\xNN``,
    any other lone surrogate as U+FFFD. Reasons and messages that quote a path go here."""
    return replace_lone_surrogates(_ESCAPED_BYTE.sub(_byte_escape, text))


def has_lone_surrogates(text: str) -> bool:
    """Whether ``text`` holds a surrogate that is not half of a pair (it cannot be UTF-8)."""
    try:
        text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        return True
    return False


def replace_lone_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD; a split pair ("\\ud83d\\ude00",
    as JSON escapes write an emoji) is joined into its character."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def name_sort_key(name: str) -> tuple[str, str]:
    """Sort names as a Chinese or English reader expects: Chinese by pinyin (张伟 beside Zhang Wei),
    Latin letters case-folded; code-point order would put every Chinese name after Z."""
    from pypinyin import lazy_pinyin

    spelled = "".join(lazy_pinyin(name)) if has_cjk(name) else name
    return spelled.casefold(), name


_CONTENT_WORD = re.compile(r"[a-z0-9]{3,}|[\u4e00-\u9fff]")
_STOP_WORDS = frozenset("the and for has have had with his her their they them was were are you your that this from "
                        "who will can just also been about into out not but".split())


def content_words(text: str) -> set[str]:
    """Words of three letters or more (minus the commonest) and CJK character pairs: enough to
    tell whether a generated phrase and a source text talk about the same thing."""
    found = [w for w in _CONTENT_WORD.findall(text.lower()) if w not in _STOP_WORDS]
    cjk = [w for w in found if len(w) == 1]
    return {w for w in found if len(w) > 1} | {a + b for a, b in zip(cjk, cjk[1:])}
