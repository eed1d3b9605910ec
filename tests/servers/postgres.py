"""A throwaway PostgreSQL cluster from Debian's postgresql package, on a Unix socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert found, "PostgreSQL server binaries missing: `make test` installs the Debian package postgresql"
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(folder: Path | None = None) -> Iterator[dict[str, str]]:
    """Yields {"DEEPDIARY_DATABASE_URL": ...}; every library on it gets a schema of its own."""
    bin_dir = pg_bin()
    # Not pytest's tmp_path: the server user must reach it, and socket paths must be short.
    data = Path(tempfile.mkdtemp(prefix="ddpg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(data, "postgres")
        data.chmod(0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "dd", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                    "-o", f"-k {data} -p {port} -c listen_addresses='' -c max_connections=300 -c fsync=off",
                    "start"], check=True, capture_output=True)
    try:
        subprocess.run([*as_user, str(bin_dir / "createdb"), "-h", str(data), "-p", str(port), "-U", "dd",
                        "deepdiary"], check=True, capture_output=True)
        yield {"DEEPDIARY_DATABASE_URL": f"postgresql+psycopg://dd@/deepdiary?host={data}&port={port}"}
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)
