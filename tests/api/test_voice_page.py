"""The chat page's voice button in a real browser: Chromium's fake microphone plays a question
spoken by espeak-ng, MediaRecorder records it, /api/transcribe writes it down, the housekeeper
answers with the Hangzhou photos, and the answer can be played (from /api/speak)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepdiary.services.voice import speak
from tests.api.conftest import CHROMIUM


@pytest.fixture(scope="module")
def question_wav(web, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("voice-page") / "question.wav"
    path.write_bytes(speak(web.ctx, "Which photos did I take in Hangzhou?", "en"))
    return path


@pytest.fixture
def voice_page(web, question_wav, playwright_driver):
    # A browser of its own: the fake microphone is a launch flag.
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=[
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={question_wav}", "--autoplay-policy=no-user-gesture-required"])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_cookies([{"name": "dd_token", "value": web.token, "url": web.url, "httpOnly": True}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(60_000)
    yield page
    browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_a_question_asked_by_voice_is_answered_and_the_answer_can_be_played(voice_page, web, artifacts):
    page = voice_page
    page.goto(web.url + "/chat?backend=none")
    mic = page.locator("#voice-record")
    assert mic.is_visible()
    mic.click()
    page.wait_for_selector("#voice-record.recording")
    page.wait_for_timeout(3500)  # the spoken question lasts about 2.3 s
    with page.expect_response(lambda r: r.url.endswith("/api/transcribe")) as heard:
        mic.click()
    assert heard.value.status == 200, heard.value.text()
    assert "hangzhou" in heard.value.json()["transcript"].lower()

    user = page.locator(".bubble.user").last
    user.wait_for()
    assert "hangzhou" in user.inner_text().lower()
    keeper = page.locator(".bubble.keeper").last
    keeper.locator(".citations a.thumb[data-id]").first.wait_for()
    page.wait_for_function("!document.querySelector('.bubble.keeper[aria-busy]')")
    ids = keeper.locator(".citations a.thumb[data-id]").evaluate_all("els => els.map((e) => e.dataset.id)")
    assert len(ids) >= 3

    # Asked aloud, answered aloud; the button plays it again.
    play = keeper.locator("button.speak-answer")
    play.wait_for()
    with page.expect_response(lambda r: r.url.endswith("/api/speak")) as spoken:
        play.click()
    assert spoken.value.status == 200
    assert spoken.value.headers["content-type"] in ("audio/ogg", "audio/wav")
    page.wait_for_selector(".bubble.keeper button.speak-answer[data-seconds]")
    assert float(play.get_attribute("data-seconds")) > 1.0  # the browser decoded and played it
    page.screenshot(path=str(artifacts / "chat-voice.png"))
