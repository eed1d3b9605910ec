"""``deepdiary bot telegram`` and ``deepdiary bot wechat`` as processes: missing settings are one
line and exit 2; the WeChat callback serves, stops cleanly on SIGTERM and never logs a secret."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPDIARY_")} | {"COLUMNS": "250"}
    if "DEEPDIARY_SAMPLES" in os.environ:
        env["DEEPDIARY_SAMPLES"] = os.environ["DEEPDIARY_SAMPLES"]
    return env | {f"DEEPDIARY_{k.upper()}": v for k, v in settings.items()}


def _cli(lib: Path, *args: str, **settings: str) -> list[str]:
    return [sys.executable, "-m", "deepdiary", "--library", str(lib), *args]


def test_missing_settings_are_one_line_and_exit_2(tmp_path):
    lib = tmp_path / "lib"
    telegram = subprocess.run(_cli(lib, "bot", "telegram"), capture_output=True, text=True, env=_env(), timeout=120)
    assert telegram.returncode == 2
    assert telegram.stderr.strip().count("\n") == 0 and "DEEPDIARY_TELEGRAM_TOKEN" in telegram.stderr
    wechat = subprocess.run(_cli(lib, "bot", "wechat"), capture_output=True, text=True,
                            env=_env(wechat_token="t"), timeout=120)
    assert wechat.returncode == 2
    assert wechat.stderr.strip().count("\n") == 0
    assert "DEEPDIARY_WECHAT_APP_ID, DEEPDIARY_WECHAT_APP_SECRET" in wechat.stderr
    port = subprocess.run(_cli(lib, "bot", "wechat", "--port", "0"), capture_output=True, text=True, env=_env(),
                          timeout=120)
    assert port.returncode == 2 and "--port" in port.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_wechat_process_serves_and_stops_cleanly_on_sigterm(tmp_path):
    token, secret = "cli-callback-token-xyz", "cli-app-secret-xyz"
    port = _free_port()
    proc = subprocess.Popen(_cli(tmp_path / "lib", "bot", "wechat", "--port", str(port)), stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            env=_env(wechat_token=token, wechat_app_id="wx1", wechat_app_secret=secret,
                                     llm_backend="none"))
    try:
        ts, nonce = "1700000000", "n"
        signature = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()
        url = f"http://127.0.0.1:{port}/wechat?signature={signature}&timestamp={ts}&nonce={nonce}&echostr=hello"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.read() == b"hello"
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the WeChat callback did not start"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "nobody may use the account" in err  # no allowed OpenIDs: said at start
    assert token not in err and secret not in err
