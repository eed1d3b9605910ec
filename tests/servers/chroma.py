"""A throwaway Chroma server: chromadb's own `chroma run`, on loopback, data in a given folder."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.servers.postgres import free_port

STARTUP_SECONDS = 60.0


def chroma_exe() -> Path:
    exe = Path(sys.executable).parent / "chroma"  # installed with chromadb, beside this Python
    assert exe.exists(), f"{exe} missing: chromadb's CLI comes with the chromadb package"
    return exe


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as resp:
            return "nanosecond heartbeat" in json.load(resp)
    except (OSError, ValueError):
        return False


@contextmanager
def running(folder: Path) -> Iterator[dict[str, str]]:
    """Yields {"DEEPDIARY_CHROMA_URL": ...} once the server answers; stops it on exit."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(folder / "chroma.log", "wb")
    proc = subprocess.Popen([str(chroma_exe()), "run", "--path", str(folder / "data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(url):
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}: "
                                   f"{(folder / 'chroma.log').read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not answer at {url} within {STARTUP_SECONDS:.0f} s")
            time.sleep(0.2)
        yield {"DEEPDIARY_CHROMA_URL": url}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()
