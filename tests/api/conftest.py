"""A live server on loopback over a real sample library, and a signed-in headless Chromium.

The library is the demo's (real photographs from installed packages, enriched by the real
models, plus its chats and diary), with one more photo: the demo's portrait subject by
West Lake, so that "photos of Alice in Hangzhou" has an answer. Alice is the demo's
chat partner; her face-found person is merged into her.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


@dataclass
class LiveServer:
    url: str
    ctx: AppContext
    token: str
    folder: Path
    alice: int  # Alice's person id: her face in Paris and by West Lake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_web_library(folder: Path) -> int:
    """The demo library plus a West Lake portrait; returns Alice's person id."""
    from deepdiary.services.demo import IPHONE, Sample, _skimage, run_demo, write_samples
    from deepdiary.services.ingest import ingest_photos
    from deepdiary.services.people import merge_people, person_faces, list_people

    run_demo(folder, Console(file=io.StringIO()), ask=False)
    extra = folder / "more-photos"
    write_samples(extra, [Sample("hangzhou-lake-portrait.jpg", _skimage("astronaut.png", (32, 0, 512, 480), 0.9),
                                 "2023-07-15 10:00:00", "+08:00", IPHONE, (30.2745, 120.1560, 10))])
    ctx = AppContext(Settings(home=folder, llm_backend="none"))
    try:
        ingest_photos(ctx, [extra])
        portrait = next(p for p in list_people(ctx) if p.name is None and any(
            Path(f.path).name == "hangzhou-lake-portrait.jpg" for f in person_faces(ctx, str(p.id))))
        return merge_people(ctx, "Alice", str(portrait.id)).id
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def web_source(tmp_path_factory) -> tuple[Path, int]:
    """The sample library as built, never served: tests that change things start from a copy."""
    folder = tmp_path_factory.mktemp("web-source")
    return folder, build_web_library(folder)


def copy_library(source: Path, target: Path) -> Path:
    import shutil

    # models/ holds only caches (text embeddings) that rebuild themselves.
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("models"))
    return target


@pytest.fixture(scope="session")
def web(web_source, tmp_path_factory) -> LiveServer:
    import uvicorn

    from deepdiary.api import create_app
    from deepdiary.services.tokens import create_token

    source, alice = web_source
    folder = copy_library(source, tmp_path_factory.mktemp("web") / "library")
    ctx = AppContext(Settings(home=folder, llm_backend="none"))
    token = create_token(ctx, "browser tests").token
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web server did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", ctx=ctx, token=token, folder=folder, alice=alice)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="package")
def playwright_driver():
    """One Playwright for these tests. Its sync API keeps an asyncio loop running on this thread
    while it lives, so it must end with this package: a second one, or the bots' asyncio.run in
    a later package, fails inside a running loop."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright_driver):
    b = playwright_driver.chromium.launch(executable_path=CHROMIUM)
    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's pinned Chromium and Debian's differ; the version in the artifacts shows a mismatch.
    (ARTIFACTS / "browser-version.txt").write_text(f"chromium {b.version}\n")
    yield b
    b.close()


@pytest.fixture
def page(browser, web):
    """A signed-in page (the token in the UI's HttpOnly cookie); JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_cookies([{"name": "dd_token", "value": web.token, "url": web.url, "httpOnly": True}])
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
