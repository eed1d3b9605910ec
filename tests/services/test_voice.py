"""The voice services over the demo library: a question spoken by espeak-ng is heard, answered
with the right citations by the parser-only housekeeper, and the answer comes back spoken."""

from __future__ import annotations

import io
import wave

import av
import pytest

from deepdiary.core.errors import InvalidInput
from deepdiary.core.settings import Settings
from deepdiary.services import AppContext
from deepdiary.services import voice
from tests.agent.conftest import TODAY, demo_folder, refs  # noqa: F401 - fixtures

HANGZHOU = ("hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg")


@pytest.fixture(scope="module")
def ctx(demo_folder):  # noqa: F811
    context = AppContext(Settings(home=demo_folder, llm_backend="none"))
    yield context
    context.close()


@pytest.fixture(scope="module")
def question(ctx) -> bytes:
    """ "Which photos did I take in Hangzhou?" as espeak-ng says it (a WAV)."""
    return voice.speak(ctx, "Which photos did I take in Hangzhou?", "en")


def decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as c:
        stream = c.streams.audio[0]
        return sum(f.samples for f in c.decode(stream)) / stream.rate


def test_a_spoken_question_is_answered_with_the_hangzhou_photos_and_a_spoken_reply(ctx, question, refs, tmp_path):  # noqa: F811
    reply = tmp_path / "reply.ogg"
    result = voice.voice(ctx, question, reply_path=reply, channel="test", external_id="alice", today=TODAY)
    assert "hangzhou" in result.transcript.lower(), result.transcript
    assert result.language == "en"
    assert sorted(c["id"] for c in result.citations) == sorted(refs[name] for name in HANGZHOU)
    assert result.reply_audio == str(reply)
    data = reply.read_bytes()
    with av.open(io.BytesIO(data)) as c:
        assert c.format.name == "ogg" and c.streams.audio[0].codec_context.name in ("opus", "libopus")
    assert decoded_seconds(data) > 1.0
    assert result.stt_seconds > 0 and result.ask_seconds > 0 and result.tts_seconds > 0
    assert not list(tmp_path.glob(".*.part"))

    # The same channel and user: the follow-up is in the same conversation and narrows it down.
    again = voice.voice(ctx, voice.speak(ctx, "And the second day?", "en"), channel="test", external_id="alice",
                        today=TODAY)
    assert again.conversation_id == result.conversation_id
    assert again.reply_audio is None and again.tts_seconds == 0
    # Someone else on the channel has a conversation of their own.
    other = voice.voice(ctx, question, channel="test", external_id="bob", today=TODAY)
    assert other.conversation_id != result.conversation_id


def test_a_wav_reply_and_a_file_recording(ctx, question, refs, tmp_path):  # noqa: F811
    recording = tmp_path / "question.wav"
    recording.write_bytes(question)
    result = voice.voice(ctx, recording, reply_path=tmp_path / "reply.wav", today=TODAY)
    assert sorted(c["id"] for c in result.citations) == sorted(refs[name] for name in HANGZHOU)
    with av.open(str(tmp_path / "reply.wav")) as c:
        assert c.format.name == "wav"
    assert decoded_seconds((tmp_path / "reply.wav").read_bytes()) > 1.0


def test_transcribe_names_the_recording_by_its_hash(ctx, samples):
    jfk = (samples / "audio" / "jfk.flac")
    assert jfk.is_file(), f"missing sample {jfk}"
    first = voice.transcribe(ctx, jfk)
    again = voice.transcribe(ctx, jfk.read_bytes(), filename="jfk.flac")
    assert first.id == again.id and len(first.id) == 16
    assert first.language == "en" and "ask not what your country can do for you" in first.transcript.lower()
    assert 10.5 < first.duration < 11.5 and first.seconds > 0
    zh = samples / "audio" / "rapidasr_asr_example_zh.wav"
    assert zh.is_file(), f"missing sample {zh}"
    heard = voice.transcribe(ctx, zh, language="zh-CN")
    assert heard.language == "zh" and "语音识别" in heard.transcript


def test_the_library_vocabulary_holds_its_people_and_places(ctx):
    names = voice.vocabulary(ctx)
    assert "Hangzhou" in names["en"] and "Alice" in names["en"]
    assert "杭州" in names["zh"]


def test_bad_recordings_are_clear_errors(ctx, tmp_path):
    text = tmp_path / "notes.ogg"
    text.write_text("not a recording")
    with pytest.raises(InvalidInput, match=r"file .*notes.ogg: not audio PyAV can read \("):
        voice.transcribe(ctx, text)
    with pytest.raises(InvalidInput, match="does not exist"):
        voice.transcribe(ctx, tmp_path / "missing.wav")
    with pytest.raises(InvalidInput, match="file upload.webm: is empty"):
        voice.transcribe(ctx, b"", filename="upload.webm")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:  # two seconds of nothing
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(bytes(64000))
    silence = buffer.getvalue()
    with pytest.raises(InvalidInput, match="no speech heard"):
        voice.voice(ctx, silence, filename="quiet.wav")
    with pytest.raises(InvalidInput, match="folder .* does not exist"):
        voice.voice(ctx, silence, reply_path=tmp_path / "nowhere" / "reply.ogg")
    with pytest.raises(InvalidInput, match="format 'mp3'"):
        voice.speak(ctx, "hello", fmt="mp3")
    with pytest.raises(InvalidInput, match="nothing to say"):
        voice.speak(ctx, "   ")


def test_chinese_text_is_spoken_in_mandarin(ctx):
    assert ctx.models.tts.voice_for(None, "我找到了三张杭州的照片。") == "cmn"
    ogg = voice.speak(ctx, "我找到了三张杭州的照片。", fmt="ogg")
    assert decoded_seconds(ogg) > 1.0


def test_with_qwen_the_spoken_question_gets_a_spoken_answer_citing_the_same_photos(demo_folder, question, refs,  # noqa: F811
                                                                                  tmp_path):
    ctx = AppContext(Settings(home=demo_folder, llm_backend="llamacpp", llm_model="qwen2.5-coder-1.5b",
                              llm_threads=2))
    try:
        result = voice.voice(ctx, question, reply_path=tmp_path / "reply.ogg", today=TODAY)
    finally:
        ctx.close()
    assert sorted(c["id"] for c in result.citations) == sorted(refs[name] for name in HANGZHOU)
    assert "hangzhou" in result.answer.lower() or "杭州" in result.answer, result.answer
    assert decoded_seconds((tmp_path / "reply.ogg").read_bytes()) > 1.0
