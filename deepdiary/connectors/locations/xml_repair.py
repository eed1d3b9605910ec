"""Decoding XML bytes, and cutting a damaged GPX or KML document back to its last whole element."""

from __future__ import annotations

import codecs
import re
from xml.parsers import expat

from deepdiary.connectors.locations.model import TrackProblem
from deepdiary.connectors.xml_safety import guard_expat

_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def decode_xml(data: bytes, problems: list[TrackProblem]) -> str:
    """Bytes to text honouring BOM and XML declaration; bad bytes are replaced and reported."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, data = "utf-8", data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        match = _XML_ENCODING.match(data.lstrip())
        encoding = match.group(1).decode("ascii") if match else "utf-8"
        try:
            codecs.lookup(encoding)
        except LookupError:
            problems.append(TrackProblem("line 1", f"unknown encoding {encoding!r}; read as UTF-8"))
            encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        # Devices often write Latin-1 names into files declared UTF-8; the points still count.
        line = data[: exc.start].count(b"\n") + 1
        problems.append(
            TrackProblem(f"line {line}", f"bytes that are not valid {encoding}; unreadable characters replaced")
        )
        return data.decode(encoding, "replace")



def local_name(tag: str) -> str:
    """Tag name without namespace: '{uri}Track' and 'gx:Track' both become 'Track'."""
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


class XmlScan:
    """One expat pass that remembers the last safe place to cut a damaged document.

    ElementTree gives nothing back from a broken file, but a track cut off by a flat
    battery is still a track: everything up to the last complete point is good. A "cut
    point" is the end of an element after which the document can be closed cleanly.
    Subclasses look at elements on the way (expat names keep their prefix, e.g. gx:Track).
    """

    def __init__(self, text: str, cut_points: set[str]):
        self.data = text.encode("utf-8")
        self.cut_points = cut_points
        self.stack: list[tuple[str, int]] = []  # (qualified name, byte offset of its start tag)
        self.cut: tuple[int, tuple[str, ...]] | None = None  # (end offset, names still open)
        self.error: expat.ExpatError | None = None
        # The text is already decoded: tell expat it is UTF-8 whatever the declaration says.
        # Entity declarations and external references raise UnsafeXml out of run().
        self.parser = guard_expat(expat.ParserCreate(encoding="utf-8"))
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self.chars

    def run(self) -> "XmlScan":
        try:
            self.parser.Parse(self.data, True)
        except expat.ExpatError as exc:
            self.error = exc
        return self

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self.stack.append((name, self.parser.CurrentByteIndex))
        self.start(name, attrs)

    def _end(self, name: str) -> None:
        _, begin = self.stack.pop()
        idx = self.parser.CurrentByteIndex
        # Expat reports an empty element's end just past "<x/>", a normal one at "</x>".
        if self.data[idx - 2 : idx] == b"/>" and self.data.find(b"<", begin + 1, idx) == -1:
            stop = idx
        else:
            stop = self.data.index(b">", idx) + 1
        self.end(name, begin, stop)
        if local_name(name) in self.cut_points:
            self.cut = (stop, tuple(n for n, _ in self.stack))

    def start(self, name: str, attrs: dict[str, str]) -> None:  # for subclasses
        pass

    def end(self, name: str, begin: int, stop: int) -> None:  # for subclasses
        pass

    def chars(self, text: str) -> None:  # for subclasses
        pass

    def error_problem(self) -> TrackProblem:
        assert self.error is not None
        reason = expat.ErrorString(self.error.code)
        return TrackProblem(
            f"line {self.error.lineno}",
            f"the file is cut off or damaged here ({reason}, column {self.error.offset + 1}); "
            "kept what came before, the rest was not read",
        )

    def repaired(self) -> str | None:
        """The document up to the last cut point, with the open elements closed."""
        if self.cut is None:
            return None
        stop, still_open = self.cut
        closing = "".join(f"</{name}>" for name in reversed(still_open))
        return self.data[:stop].decode("utf-8") + closing

