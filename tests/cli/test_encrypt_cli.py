"""Encryption at rest as a script drives it, as real processes over a real library:
`deepdiary encrypt` killed (SIGKILL) at several points and run again, a wrong passphrase,
a key file, a passphrase changed, and `serve` unlocking once at start."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image

from deepdiary.memory.sealing import KEYRING, is_plain_sqlite, is_sealed
from tests.library_builder import CHAT, build_library, file_hashes
from tests.sealed_library import CHAT_PHRASE, CHAT_QUESTIONS, PHRASE, leaks, library_files

# Runs the CLI in this process after arranging for it to SIGKILL itself at a named point of
# the encryption pass, once ``after`` such points have passed: a kill at an exact, repeatable
# place, with no hook in the code under test.
KILLER = r"""
import os, signal, sys

point, after = sys.argv[1], int(sys.argv[2])
seen = 0


def reached():
    global seen
    seen += 1
    if seen > after:
        os.kill(os.getpid(), signal.SIGKILL)


if point == "database":  # before the next SQLite file is encrypted
    import deepdiary.pipeline.encrypt as encrypt

    real_encrypt = encrypt.encrypt_sqlite_file
    encrypt.encrypt_sqlite_file = lambda *a, **k: (reached(), real_encrypt(*a, **k))[1]
elif point == "blob":  # a sealed copy written, not yet renamed over the plain blob
    real_replace = os.replace

    def replace(src, dst, *a, **k):
        if f"{os.sep}blobs{os.sep}" in str(dst):
            reached()
        return real_replace(src, dst, *a, **k)

    os.replace = replace
elif point == "vectors":  # the plain vector folder moved aside, the new one not yet in its place
    real_rename = os.rename

    def rename(src, dst, *a, **k):
        if str(src).endswith("vectors.sealing"):
            reached()
        return real_rename(src, dst, *a, **k)

    os.rename = rename

from deepdiary.cli import app

app(prog_name="deepdiary", args=sys.argv[3:])
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPDIARY_PASSPHRASE", "DEEPDIARY_KEY_FILE")}
    return {**env, "COLUMNS": "250", "DEEPDIARY_ENRICH_WORKERS": "1", **extra}


def cli(lib: Path, *args: str, passphrase: str | None = PHRASE, stdin: str | None = None,
        ) -> subprocess.CompletedProcess:
    env = _env(**({"DEEPDIARY_PASSPHRASE": passphrase} if passphrase else {}))
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], capture_output=True,
                          text=True, env=env, input=stdin if stdin is not None else "")


def cli_json(lib: Path, *args: str, code: int = 0, **kw):
    done = cli(lib, *args, "--json", **kw)
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


def killed_encrypt(lib: Path, point: str, after: int) -> None:
    done = subprocess.run([sys.executable, "-c", KILLER, point, str(after), "--library", str(lib), "encrypt"],
                          capture_output=True, text=True, env=_env(DEEPDIARY_PASSPHRASE=PHRASE))
    assert done.returncode == -signal.SIGKILL, done.stderr


def _chat_ids(lib: Path, **kw) -> dict[str, list[int]]:
    return {q: [h["id"] for h in cli_json(lib, "search", "chats", q, **kw)] for q in CHAT_QUESTIONS}


@pytest.fixture(scope="module")
def built(tmp_path_factory, samples) -> Path:
    return build_library(tmp_path_factory.mktemp("encrypt-cli"), samples)


@pytest.fixture
def lib(built, tmp_path) -> Path:
    shutil.copytree(built, tmp_path / "library")
    return tmp_path / "library"


def test_encrypt_killed_at_three_points_finishes_when_run_again(lib):
    before = _chat_ids(lib, passphrase=None)
    blobs = sorted(p for p in library_files(lib / "blobs"))

    killed_encrypt(lib, "database", 1)  # the catalogue done, the text index not begun
    assert not is_plain_sqlite(lib / "catalogue.db") and is_plain_sqlite(lib / "text_index.db")
    assert json.loads((lib / KEYRING).read_text())["state"] == "encrypting"
    half = cli(lib, "search", "chats", CHAT_PHRASE)
    assert half.returncode == 3 and "did not finish: run `deepdiary encrypt` again" in half.stderr

    killed_encrypt(lib, "blob", 3)  # three blobs sealed, a fourth sealed copy left unrenamed
    assert sum(is_sealed(p) for p in blobs) == 3
    assert any(p.name.startswith(".tmp-") for p in library_files(lib / "blobs"))

    killed_encrypt(lib, "vectors", 0)  # every blob sealed; between the two renames of the vector folder
    assert all(is_sealed(p) for p in blobs) and not (lib / "vectors").exists()
    assert not any(p.name.startswith(".tmp-") for p in library_files(lib / "blobs"))  # the killed writer's, removed

    wrong = cli(lib, "encrypt", passphrase="not the passphrase")
    assert wrong.returncode == 3 and "wrong passphrase" in wrong.stderr and "Traceback" not in wrong.stderr

    done = cli_json(lib, "encrypt")
    assert done["encrypted"] and not done["already"] and done["counts"]["sealed_files"] == 0
    assert done["counts"]["already_sealed"] == len(blobs) and done["counts"]["vectors_rebuilt"] == 1
    assert sorted(p.name for p in lib.iterdir() if p.name.startswith("vectors")) == ["vectors"]
    assert cli_json(lib, "check")["problems"] == []
    assert cli_json(lib, "encrypt")["already"]
    assert leaks(lib, [CHAT_PHRASE]) == []
    assert _chat_ids(lib) == before


def test_a_wrong_passphrase_is_one_clear_line_and_changes_nothing(lib):
    cli_json(lib, "encrypt")
    before = file_hashes(lib)
    for args in (("search", "chats", CHAT_PHRASE), ("check",), ("passphrase", "change", "--new-passphrase-stdin")):
        wrong = cli(lib, *args, passphrase="not the passphrase", stdin="taken over\n")
        assert wrong.returncode == 3, args
        assert wrong.stderr == f"error: wrong passphrase for the library at {lib.resolve()}\n"
        assert wrong.stdout == ""
    locked = cli(lib, "search", "chats", CHAT_PHRASE, passphrase=None)
    assert locked.returncode == 3 and "is encrypted: give its passphrase (DEEPDIARY_PASSPHRASE)" in locked.stderr
    assert file_hashes(lib) == before


def test_passphrase_change_rewraps_the_key_only(lib):
    cli_json(lib, "encrypt")
    blobs = file_hashes(lib / "blobs")
    changed = cli_json(lib, "passphrase", "change", "--new-passphrase-stdin", stdin="a new passphrase\n")
    assert changed["encrypted"] and changed["unlocks_with"] == "passphrase"
    assert file_hashes(lib / "blobs") == blobs
    assert cli(lib, "search", "chats", CHAT_PHRASE).returncode == 3
    assert CHAT_PHRASE in cli_json(lib, "search", "chats", CHAT_PHRASE, passphrase="a new passphrase")[0]["text"]


def test_a_key_file_unlocks_a_library_made_with_it(tmp_path, samples):
    key_file = tmp_path / "library.key"
    key_file.write_bytes(os.urandom(32))
    lib = tmp_path / "library"
    made = cli_json(lib, "--key-file", str(key_file), "init", "--encrypt", passphrase=None)
    assert made["encrypted"] and made["unlocks_with"] == "key-file"
    assert cli_json(lib, "--key-file", str(key_file), "ingest", "chats", str(samples / CHAT), passphrase=None)["added"] > 20
    hits = cli_json(lib, "--key-file", str(key_file), "search", "chats", CHAT_PHRASE, passphrase=None)
    assert CHAT_PHRASE in hits[0]["text"]
    locked = cli(lib, "search", "chats", CHAT_PHRASE, passphrase=None)
    assert locked.returncode == 3 and "--key-file FILE" in locked.stderr
    other = tmp_path / "other.key"
    other.write_bytes(hashlib.sha256(b"not this library's").digest())
    wrong = cli(lib, "--key-file", str(other), "search", "chats", CHAT_PHRASE, passphrase=None)
    assert (wrong.returncode, wrong.stderr) == (3, f"error: wrong key file for the library at {lib.resolve()}\n")
    assert leaks(lib, [CHAT_PHRASE]) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_unlocks_once_at_start_and_streams_decrypted_thumbnails(lib):
    cli_json(lib, "encrypt")
    wrong = cli(lib, "serve", "--port", str(_free_port()), passphrase="not the passphrase")
    assert wrong.returncode == 3 and "wrong passphrase" in wrong.stderr
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "deepdiary", "--library", str(lib), "serve", "--port", str(port)],
                              env=_env(DEEPDIARY_PASSPHRASE=PHRASE), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr.readline().strip() == "encrypted library unlocked"
        assert "Deep Diary on http://127.0.0.1" in server.stderr.readline()
        got = None
        for _ in range(600):  # the line comes before uvicorn listens: wait for the port, at most a minute
            try:
                got = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/photos/1/thumbnail", timeout=30)
                break
            except OSError:
                time.sleep(0.1)
        assert got is not None and got.status == 200 and got.headers["content-type"] == "image/webp"
        with Image.open(BytesIO(got.read())) as img:
            img.load()
            assert img.format == "WEBP"
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_bad_secrets_are_one_line_and_exit_2(tmp_path):
    short = tmp_path / "short.key"
    short.write_bytes(b"short")
    lib = tmp_path / "library"
    for args, stdin, message in (
        (("--key-file", str(short), "init", "--encrypt"), "", "a key file holds at least 32 random bytes"),
        (("--key-file", str(tmp_path / "none.key"), "init", "--encrypt"), "", "none.key: No such file"),
        (("passphrase", "change", "--new-passphrase-stdin", "--new-key-file", str(short)), "", "not both"),
        (("passphrase", "change", "--new-passphrase-stdin"), "\n", "first line is empty"),
    ):
        done = cli(lib, *args, passphrase=None, stdin=stdin)
        assert done.returncode == 2 and done.stdout == "", args
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (lib / KEYRING).exists()


def _on_a_terminal(lib: Path, typed: str, *args: str) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its terminal, type ``typed`` at its passphrase
    prompt; its exit code and everything it wrote."""
    import pty
    import select
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, as in a shell
        os.execve(sys.executable, [sys.executable, "-m", "deepdiary", "--library", str(lib), *args], _env())
    out, answered = b"", False
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, f"the command stopped answering: {out!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if not answered and b"Passphrase of " in out:
            # Typed only once the prompt has turned echo off: turning it off flushes what was typed before.
            for _ in range(600):
                if not termios.tcgetattr(fd)[3] & termios.ECHO:
                    break
                time.sleep(0.05)
            os.write(fd, typed.encode() + b"\n")
            answered = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")


def test_a_terminal_is_asked_for_the_passphrase(lib):
    cli_json(lib, "encrypt")
    code, out = _on_a_terminal(lib, PHRASE, "search", "chats", CHAT_PHRASE, "--json")
    assert code == 0 and f"Passphrase of {lib.resolve()}" in out and CHAT_PHRASE in out
    assert PHRASE not in out  # the typed passphrase is not echoed
    code, out = _on_a_terminal(lib, "not the passphrase", "search", "chats", CHAT_PHRASE, "--json")
    assert code == 3 and "wrong passphrase" in out and "Traceback" not in out
