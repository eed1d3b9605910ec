"""POST /api/transcribe and /api/speak over the demo library, behind the token like every /api route."""

from __future__ import annotations

import io
import shutil

import av
import pytest
from fastapi.testclient import TestClient

from deepdiary.api import create_app
from deepdiary.core.settings import Settings
from deepdiary.services import AppContext
from tests.agent.conftest import demo_folder  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def client(demo_folder, tmp_path_factory):  # noqa: F811
    folder = tmp_path_factory.mktemp("voice-api") / "library"
    shutil.copytree(demo_folder, folder, ignore=shutil.ignore_patterns("models"))
    ctx = AppContext(Settings(home=folder, llm_backend="none"))
    with TestClient(create_app(ctx)) as c:
        c.ctx = ctx
        yield c


def seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.audio[0]
        return sum(f.samples for f in c.decode(stream)) / stream.rate


def test_an_upload_is_transcribed(client, samples):
    jfk = samples / "audio" / "jfk.flac"
    assert jfk.is_file(), f"missing sample {jfk}"
    r = client.post("/api/transcribe", files={"audio": ("jfk.flac", jfk.read_bytes(), "audio/flac")})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["language"] == "en" and "ask not what your country can do for you" in data["transcript"].lower()
    assert set(data) >= {"id", "transcript", "language", "seconds", "duration"}
    zh = samples / "audio" / "rapidasr_asr_example_zh.wav"
    assert zh.is_file(), f"missing sample {zh}"
    r = client.post("/api/transcribe", files={"audio": ("zh.wav", zh.read_bytes(), "audio/wav")}, data={"language": "zh"})
    assert r.status_code == 200 and "语音识别" in r.json()["transcript"]


def test_a_browser_recording_webm_opus_is_transcribed(client, samples):
    # What MediaRecorder sends from Chromium: Opus in WebM.
    jfk = samples / "audio" / "jfk.flac"
    assert jfk.is_file(), f"missing sample {jfk}"
    buffer = io.BytesIO()
    with av.open(str(jfk)) as src, av.open(buffer, "w", format="webm") as dst:
        stream = dst.add_stream("libopus", rate=48000, layout="mono")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in src.decode(audio=0):
            for out in resampler.resample(frame):
                dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))
    r = client.post("/api/transcribe", files={"audio": ("voice.webm", buffer.getvalue(), "audio/webm")})
    assert r.status_code == 200 and "ask what you can do for your country" in r.json()["transcript"].lower()


def test_bad_uploads_are_422_with_the_reason(client):
    r = client.post("/api/transcribe", files={"audio": ("notes.ogg", b"not a recording" * 10, "audio/ogg")})
    assert r.status_code == 422
    assert r.json()["kind"] == "InvalidInput" and "file notes.ogg: not audio PyAV can read" in r.json()["error"]
    assert client.post("/api/transcribe").status_code == 422  # no file
    assert client.post("/api/speak", json={"text": ""}).status_code == 422
    assert client.post("/api/speak", json={"text": "hi", "format": "mp3"}).status_code == 422


def test_text_is_spoken_as_ogg_opus_or_wav(client):
    r = client.post("/api/speak", json={"text": "我找到了三张杭州的照片。"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/ogg"
    assert seconds(r.content) > 1.0
    r = client.post("/api/speak", json={"text": "I found three photos from Hangzhou.", "format": "wav"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content[:4] == b"RIFF" and seconds(r.content) > 1.0


def test_voice_routes_need_the_token_once_one_exists(client, samples):
    from deepdiary.services.tokens import create_token

    token = create_token(client.ctx, "voice test").token
    assert client.post("/api/speak", json={"text": "hello"}).status_code == 401
    files = {"audio": ("jfk.flac", (samples / "audio" / "jfk.flac").read_bytes(), "audio/flac")}
    assert client.post("/api/transcribe", files=files).status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/speak", json={"text": "hello"}, headers=auth).status_code == 200
