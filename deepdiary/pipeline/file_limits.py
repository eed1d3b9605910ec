"""The limits every ingest holds one file to: its size and the time its reading takes.

Both come from the library's settings (``max_file_mb``, ``file_read_seconds``) and both
end in ``FileRefused``, which the ingesters report as that file's problem before going on
with the next. (Pixels are limited by the photo reader itself: ``max_image_pixels``.)

The time limit must work on any thread: the CLI ingests on the main thread, the web
server in worker threads, where ``signal.setitimer`` cannot reach. So a watchdog timer
raises an exception *inside* the reading thread (CPython's ``PyThreadState_SetAsyncExc``).
That interrupts pure-Python parsers (JSON exports, CSV, GPX and KML handling, EXIF
walking) at their next bytecode; a C call that never returns (a decoder in a loop) is not
interrupted, which is why sizes and pixels are limited before any decoding starts.
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from deepdiary.core.errors import FileRefused
from deepdiary.core.settings import Settings

T = TypeVar("T")

_MIB = 1024 * 1024


class _ReadTimedOut(BaseException):
    """Raised into the reading thread by the watchdog. A BaseException, so that a parser's
    own ``except Exception`` (hostile EXIF is caught tag by tag) cannot swallow it."""


def check_size(path: Path, settings: Settings) -> None:
    """Raise ``FileRefused`` when ``path`` is larger than ``max_file_mb``."""
    limit = settings.max_file_mb
    if limit <= 0:
        return
    try:
        size = Path(path).stat().st_size
    except OSError:
        return  # the reader reports an unreadable file with its own reason
    if size > limit * _MIB:
        raise FileRefused(f"refused: the file is {size / _MIB:,.1f} MiB, larger than the limit of "
                          f"{limit:g} MiB (setting max_file_mb)")


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise ``FileRefused`` in this thread when the block runs longer than ``seconds`` (0: no limit)."""
    if seconds <= 0:
        yield
        return
    target = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False, "fired": False}

    def fire() -> None:
        # Under the lock, so the exception can never be set once the block has ended.
        with lock:
            if not state["done"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), ctypes.py_object(_ReadTimedOut))

    watchdog = threading.Timer(seconds, fire)
    watchdog.daemon = True
    watchdog.start()
    timed_out = False
    try:
        yield
    except _ReadTimedOut:
        timed_out = True
    finally:
        while True:  # the watchdog may fire during this very cleanup: then do it again
            try:
                watchdog.cancel()
                with lock:
                    state["done"] = True
                    fired = state["fired"]
                if fired:
                    # Fired after the block's last bytecode but before it was delivered:
                    # clear it here, so it cannot surface later in the caller's code.
                    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target), None)
                break
            except _ReadTimedOut:
                timed_out = True
    if timed_out or fired:
        raise FileRefused(f"refused: reading the file took longer than {seconds:g} s "
                          "(setting file_read_seconds); the rest of the ingest went on")


def read_within_limits(path: Path, settings: Settings, read: Callable[[], T]) -> T:
    """``read()`` of one file, after its size is checked and under the time limit."""
    check_size(path, settings)
    with time_limit(settings.file_read_seconds):
        return read()
