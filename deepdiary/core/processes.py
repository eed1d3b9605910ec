"""Is the process that opened a job still running? Asked of jobs a killed run left "running".

A job stores its process id, host name and start time. On the same host, a job is dead
when no process has its id, when that process is a zombie (killed, not yet reaped), or
when the process with its id started after the job did (the id was reused). A job from
another host cannot be checked from here, so it is taken to be alive.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=1)
def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int, started_at: datetime | None = None) -> bool:
    """Whether process ``pid`` on this host runs and is the one that began at ``started_at``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (macOS): the signal test is all there is
        return True
    state, start = stat
    if state in ("Z", "X"):
        return False
    if started_at is not None and start is not None:
        began = started_at if started_at.tzinfo else started_at.replace(tzinfo=UTC)
        # A process that started after the job did is another one that got the same id.
        return start <= began.timestamp() + 5.0
    return True


def job_alive(pid: int | None, hostname: str | None, started_at: datetime | None = None) -> bool:
    """Whether a job recorded as running is still being run by its process.

    A job with no process id was opened by a version that did not record one; nothing
    can still be running it after an upgrade, so it is dead.
    """
    if pid is None:
        return False
    if hostname and hostname != this_host():
        return True
    return process_alive(pid, started_at)


def _proc_stat(pid: int) -> tuple[str, float | None] | None:
    """(state letter, start time as a unix timestamp) from /proc, or None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode("ascii", "replace")
    except FileNotFoundError:
        return ("X", None) if os.path.isdir("/proc/self") else None
    except OSError:
        return None
    # The command name (field 2) may hold spaces and brackets: split after its last ")".
    fields = raw[raw.rfind(")") + 2:].split()
    state = fields[0]
    boot = _boot_time()
    if boot is None:
        return state, None
    return state, boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


@lru_cache(maxsize=1)
def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None

