"""A throwaway Redis server from Debian's redis-server package, as the Celery broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.servers.postgres import free_port


def redis_server() -> str:
    found = shutil.which("redis-server") or next((p for p in ("/usr/bin/redis-server",) if Path(p).exists()), None)
    assert found, "redis-server missing: `make test` installs the Debian package redis-server"
    return found


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def running(folder: Path) -> Iterator[dict[str, str]]:
    """Yields {"DEEPDIARY_BROKER_URL": "redis://127.0.0.1:PORT/0"}: a server on loopback with no
    persistence, its files in ``folder``, killed on exit."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(folder / "redis.log", "wb")
    proc = subprocess.Popen([redis_server(), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(folder), "--protected-mode", "yes"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _ping(port):
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited ({proc.returncode}): "
                                   + (folder / "redis.log").read_text(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer PING within 30 s")
            time.sleep(0.05)
        yield {"DEEPDIARY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}
    finally:
        proc.kill()
        proc.wait()
        log.close()
