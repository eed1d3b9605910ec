"""``deepdiary transcribe``, ``voice`` and ``listen`` as a person or a script runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import av
import pytest

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext
from deepdiary.services.voice import speak
from tests.agent.conftest import demo_folder, refs  # noqa: F401 - fixtures

HANGZHOU = ("hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg")
JFK = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def deepdiary(lib, *args, env=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args], capture_output=True,
                          text=True, timeout=300, check=check, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def question(tmp_path_factory, demo_folder):  # noqa: F811
    """The question spoken by espeak-ng, as a WAV file."""
    path = tmp_path_factory.mktemp("voice") / "question.wav"
    ctx = AppContext(Settings(home=demo_folder))
    try:
        path.write_bytes(speak(ctx, "Which photos did I take in Hangzhou?", "en"))
    finally:
        ctx.close()
    return path


def test_transcribe_prints_the_words_and_json_for_scripts(samples, tmp_path):
    jfk = samples / "audio" / "jfk.flac"
    assert jfk.is_file(), f"missing sample {jfk}"
    done = deepdiary(tmp_path / "lib", "transcribe", str(jfk), "--json")
    data = json.loads(done.stdout)  # only JSON on stdout
    assert {"id", "transcript", "language", "seconds"} <= set(data)
    assert data["language"] == "en" and JFK in " ".join(data["transcript"].lower().replace(",", "").replace(".", "").split())
    zh = samples / "audio" / "rapidasr_asr_example_zh.wav"
    assert zh.is_file(), f"missing sample {zh}"
    done = deepdiary(tmp_path / "lib", "transcribe", str(zh), "--language", "zh")
    assert "语音识别" in done.stdout and "zh:" in done.stderr


def test_voice_answers_with_the_hangzhou_photos_and_writes_a_playable_reply(demo_folder, refs, question, tmp_path):  # noqa: F811
    reply = tmp_path / "reply.ogg"
    done = deepdiary(demo_folder, "voice", str(question), "--reply", str(reply), "--backend", "none",
                     "--today", "2026-11-24", "--json")
    data = json.loads(done.stdout)
    assert {"id", "transcript", "language", "answer", "citations", "reply_audio", "stt_seconds", "ask_seconds",
            "tts_seconds"} <= set(data)
    assert "hangzhou" in data["transcript"].lower()
    assert sorted(c["id"] for c in data["citations"]) == sorted(refs[n] for n in HANGZHOU)
    assert data["reply_audio"] == str(reply)
    with av.open(str(reply)) as c:
        stream = c.streams.audio[0]
        assert sum(f.samples for f in c.decode(stream)) / stream.rate > 1.0

    text = deepdiary(demo_folder, "voice", str(question), "--backend", "none", "--today", "2026-11-24")
    assert refs[HANGZHOU[0]] in text.stdout and "heard (en)" in text.stderr


def test_bad_audio_is_one_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "voice.amr"
    bad.write_text("this is not a recording\n")
    for command in ("transcribe", "voice"):
        done = deepdiary(tmp_path / "lib", command, str(bad), check=False)
        assert done.returncode == 2, done.stderr
        assert "not audio PyAV can read" in done.stderr and str(bad) in done.stderr.replace("\n", "")
        assert "Traceback" not in done.stderr and done.stdout == ""
    missing = deepdiary(tmp_path / "lib", "transcribe", str(tmp_path / "missing.wav"), "--json", check=False)
    assert missing.returncode == 2 and "does not exist" in missing.stderr and missing.stdout == ""


def _fake_arecord(bin_dir, listing: str, recording=None):
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "arecord"
    fake.write_text(f"""#!/bin/sh
if [ "$1" = "-l" ]; then printf '%s\\n' "{listing}"; exit 0; fi
cat '{recording}'
""")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_listen_without_a_microphone_says_so_in_one_line(tmp_path):
    # No capture card (as on a server, or on this machine and CI): one line and exit code 1.
    env = _fake_arecord(tmp_path / "bin", "arecord: device_list:277: no soundcards found...")
    done = deepdiary(tmp_path / "lib", "listen", check=False, env=env)
    assert done.returncode == 1, done.stderr
    assert "no microphone: this machine has no sound capture device" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    # No arecord at all.
    done = deepdiary(tmp_path / "lib", "listen", check=False, env={"PATH": str(tmp_path / "empty")})
    assert done.returncode == 1 and "no microphone: recording needs arecord" in done.stderr
    if not os.path.exists("/dev/snd"):  # and the machine as it is
        done = deepdiary(tmp_path / "lib", "listen", check=False)
        assert done.returncode == 1 and "no microphone" in done.stderr


def test_listen_answers_what_the_microphone_hears(demo_folder, refs, question, tmp_path):  # noqa: F811
    # A stand-in arecord: one capture card, and each recording is the spoken question.
    env = _fake_arecord(tmp_path / "bin", "card 0: Fake [Fake mic], device 0: Fake [Fake]", question)
    done = deepdiary(demo_folder, "listen", "--turns", "2", "--no-speak", "--backend", "none", "--today",
                     "2026-11-24", "--json", env=env)
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert sorted(c["id"] for c in first["citations"]) == sorted(refs[n] for n in HANGZHOU)
    assert second["conversation_id"] == first["conversation_id"]  # one conversation
