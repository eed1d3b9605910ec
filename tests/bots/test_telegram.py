"""The Telegram bot, offline: real ``Update`` objects through the real ``Application``.

A ``telegram.request.BaseRequest`` subclass stands in for the Telegram servers: it answers
getMe and every send, serves file downloads, and records what the bot sent. The library is
a copy of the demo's, asked with the parser-only housekeeper.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from telegram import Update
from telegram.request import BaseRequest

from deepdiary.bots import common
from deepdiary.bots import telegram as bot
from deepdiary.services import ask as ask_service
from deepdiary.services import photos, search
from tests.bots.conftest import OWNER, TOKEN, encode, espeak, hangzhou_portrait, make_ctx, photo_refs

HANGZHOU = ["hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg"]


class FakeTelegram(BaseRequest):
    """The Bot API on no network: every call answered and recorded, files served from memory."""

    def __init__(self, files: dict[str, bytes] | None = None, reject_html: int = 0):
        self.files = dict(files or {})  # file_id -> bytes
        self.calls: list[tuple[str, dict, dict | None]] = []  # (method, parameters, multipart files)
        self.reject_html = reject_html  # this many HTML messages are refused as unparsable
        self.next_id = 1000

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self):
        return 5.0

    def sent(self, method: str) -> list[dict]:
        return [params for m, params, _ in self.calls if m == method]

    def _message(self, chat_id, **content) -> dict:
        self.next_id += 1
        return {"message_id": self.next_id, "date": int(time.time()),
                "chat": {"id": int(chat_id), "type": "private"}, **content}

    async def do_request(self, url, method, request_data=None, read_timeout=None, write_timeout=None,
                         connect_timeout=None, pool_timeout=None):
        if "/file/bot" in url:  # a download: https://api.telegram.org/file/bot<token>/<file_path>
            file_id = url.rsplit("/", 1)[-1]
            return 200, self.files[file_id]
        api = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        files = request_data.multipart_data if request_data else None
        self.calls.append((api, params, files))
        if api == "sendMessage" and params.get("parse_mode") == "HTML" and self.reject_html:
            self.reject_html -= 1
            return 400, json.dumps({"ok": False, "error_code": 400,
                                    "description": "Bad Request: can't parse entities: unsupported start tag"}).encode()
        chat = params.get("chat_id", 0)
        photo = [{"file_id": "sent", "file_unique_id": "sent", "width": 1, "height": 1}]
        result = {
            "getMe": lambda: {"id": 1, "is_bot": True, "first_name": "Deep Diary", "username": "deepdiary_bot"},
            "getFile": lambda: {"file_id": params["file_id"], "file_unique_id": f"u-{params['file_id']}",
                                "file_size": len(self.files[params["file_id"]]), "file_path": params["file_id"]},
            "sendMessage": lambda: self._message(chat, text=params.get("text", "")),
            "sendPhoto": lambda: self._message(chat, photo=photo),
            "sendMediaGroup": lambda: [self._message(chat, photo=photo) for _ in params["media"]],
            "sendVoice": lambda: self._message(chat, voice={"file_id": "v", "file_unique_id": "v", "duration": 1}),
            "sendChatAction": lambda: True,
        }.get(api, lambda: True)()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def uploads(self, method: str) -> list[list[bytes]]:
        """The files of each call of ``method``, in the order the call names them."""
        out = []
        for m, params, files in self.calls:
            if m != method:
                continue
            if method == "sendMediaGroup":
                names = [item["media"].removeprefix("attach://") for item in params["media"]]
            else:
                names = [k for k in (files or {})]
            out.append([_content(files[n]) for n in names])
        return out


def _content(part) -> bytes:
    content = part[1] if isinstance(part, tuple) else part
    return content if isinstance(content, bytes) else content.read()


_ids = iter(range(1, 1_000_000))


def update(user: int = OWNER, update_id: int | None = None, language: str = "en", **content) -> dict:
    uid = update_id if update_id is not None else next(_ids)
    return {"update_id": uid, "message": {
        "message_id": uid, "date": int(time.time()), "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "Me", "language_code": language}, **content}}


def command(name: str, *args: str, **kw) -> dict:
    text = " ".join((f"/{name}",) + args)
    return update(text=text, entities=[{"type": "bot_command", "offset": 0, "length": len(name) + 1}], **kw)


def drive(ctx, fake: FakeTelegram, payloads: list[dict], until=None, timeout: float = 300):
    """Initialise and start the application (its JobQueue runs), feed the updates, wait for
    ``until(fake)`` if given, and shut down."""
    async def main():
        app = bot.build_application(ctx, request=fake)
        async with app:
            await app.start()
            for payload in payloads:
                await app.process_update(Update.de_json(payload, app.bot))
            deadline = time.monotonic() + timeout
            while until is not None and not until(fake):
                assert time.monotonic() < deadline, f"timed out; the bot sent {fake.calls}"
                await asyncio.sleep(0.1)
            await app.stop()

    asyncio.run(main())


@pytest.fixture(scope="module")
def ctx(bot_library):
    c = make_ctx(bot_library, telegram_token=TOKEN, telegram_allowed_users=[OWNER], telegram_album_seconds=0.5)
    yield c
    c.close()


@pytest.fixture(scope="module")
def refs(bot_library) -> dict[str, int]:
    return photo_refs(bot_library)


def _original(ctx, item_id: int) -> bytes:
    return Path(photos.show_item(ctx, item_id).root["original"]).read_bytes()


def test_text_gets_the_answer_and_the_cited_photos_as_a_media_group(ctx, refs):
    fake = FakeTelegram()
    drive(ctx, fake, [update(text="Which photos did I take in Hangzhou in July 2023?")])
    [answer] = fake.sent("sendMessage")
    assert answer["chat_id"] == OWNER and answer["parse_mode"] == "HTML"
    assert "Hangzhou" in answer["text"] or "3" in answer["text"]
    [group] = fake.uploads("sendMediaGroup")
    assert group == [_original(ctx, refs[n]) for n in HANGZHOU]
    assert fake.sent("sendPhoto") == []


def test_a_chinese_question_is_answered_in_chinese_and_one_photo_comes_as_a_photo(ctx, refs):
    fake = FakeTelegram()
    drive(ctx, fake, [update(text="2023年7月在杭州拍的照片", language="zh-hans"),
                      update(text="photos of Beijing in January 2022")])
    zh, en = fake.sent("sendMessage")
    # The first line is the answer's own sentence (the citations below it name places in both languages).
    assert common.language_of(zh["text"].splitlines()[0]) == "zh"
    assert common.language_of(en["text"].splitlines()[0]) == "en"
    assert fake.uploads("sendMediaGroup") == [[_original(ctx, refs[n]) for n in HANGZHOU]]
    assert fake.uploads("sendPhoto") == [[_original(ctx, refs["beijing-snow.jpg"])]]


def test_the_conversation_is_kept_per_chat(ctx, refs):
    fake = FakeTelegram()
    drive(ctx, fake, [update(text="photos in Hangzhou in July 2023"),
                      update(text="show me the ones from the second day")])
    assert fake.uploads("sendPhoto") == [[_original(ctx, refs["hangzhou-moon.jpg"])]]


def test_a_stranger_gets_one_refusal_and_nothing_else(ctx, monkeypatch):
    asked = []
    monkeypatch.setattr(ask_service, "ask", lambda *a, **k: asked.append(a))
    fake = FakeTelegram()
    drive(ctx, fake, [update(user=666, text="show me all the photos"), update(user=666, text="please"),
                      command("people", user=666)])
    sent = [(m, p) for m, p, _ in fake.calls if m != "getMe"]
    assert sent == [("sendMessage", {"chat_id": 666, "text": common.say("refused", "en")})]
    assert asked == []


def test_a_repeated_update_is_ignored(ctx):
    fake = FakeTelegram()
    payload = update(text="photos in Paris in April 2024")
    drive(ctx, fake, [payload, payload, payload])
    assert len(fake.sent("sendMessage")) == 1
    assert len(fake.uploads("sendMediaGroup")) == 1


def _long_answer(*args, **kwargs):
    line = "On that day you walked by the lake & saw <the> moon rise over the hills again. "
    text = "\n".join(line * 3 for _ in range(60))  # about 14,000 characters
    return SimpleNamespace(answer=text, citations=[], language="en")


def test_a_long_answer_is_split_into_messages_telegram_takes(ctx, monkeypatch):
    monkeypatch.setattr(ask_service, "ask", _long_answer)
    fake = FakeTelegram()
    drive(ctx, fake, [update(text="tell me everything")])
    pieces = fake.sent("sendMessage")
    assert len(pieces) >= 4
    assert all(len(p["text"]) <= 4096 for p in pieces)  # HTML-escaped, as sent
    import html

    sent = "\n".join(html.unescape(p["text"]) for p in pieces)
    assert sent.split() == _long_answer().answer.split()


def test_html_refused_by_telegram_is_sent_again_as_plain_text(ctx):
    fake = FakeTelegram(reject_html=1)
    drive(ctx, fake, [update(text="photos in Paris in April 2024")])
    refused, plain = fake.sent("sendMessage")
    assert refused["parse_mode"] == "HTML" and "parse_mode" not in plain
    import html

    assert html.unescape(refused["text"]) == plain["text"]


def test_split_text_never_cuts_an_escaped_message_past_the_limit():
    text = "&" * 5000 + "\n" + "word " * 2000
    pieces = bot.split_text(text)
    import html

    assert all(len(html.escape(p, quote=False)) <= 4096 for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def test_commands(ctx):
    fake = FakeTelegram()
    drive(ctx, fake, [command("help"), command("people"), command("events"), command("today", "07-14"),
                      command("help", language="zh")])
    help_en, people, events, today, help_zh = (p["text"] for p in fake.sent("sendMessage"))
    assert "/people" in help_en and "/today" in help_en
    assert "Alice" in people
    assert "2023-07-14" in events or "events" in events
    assert "2023" in today
    assert fake.uploads("sendPhoto") or fake.uploads("sendMediaGroup")  # the day's photo(s)
    assert common.language_of(help_zh) == "zh"


def test_a_photo_is_ingested_and_acknowledged_with_its_place(ctx, tmp_path):
    data = hangzhou_portrait(tmp_path)
    fake = FakeTelegram({"ph-big": data, "ph-small": b"not used"})
    sizes = [{"file_id": "ph-small", "file_unique_id": "small", "width": 90, "height": 80},
             {"file_id": "ph-big", "file_unique_id": "westlake1", "width": 460, "height": 432}]
    drive(ctx, fake, [update(photo=sizes)])
    [ack] = fake.sent("sendMessage")
    assert "Added 1 photo" in ack["text"] and "Hangzhou" in ack["text"], ack["text"]
    page = search.search_photos(ctx, search.PhotoSearch(near="Hangzhou", limit=50))
    new = [p for p in page.results if p.path and p.path.endswith("telegram-westlake1.jpg")]
    assert len(new) == 1 and new[0].taken_at.year == 2025
    assert Path(photos.show_item(ctx, new[0].id).root["original"]).read_bytes() == data
    # Sent again: already there, said so.
    again = FakeTelegram({"ph-big": data})
    drive(ctx, again, [update(photo=sizes[1:])])
    assert "Already in your library" in again.sent("sendMessage")[0]["text"]


def test_an_album_is_ingested_once_with_one_acknowledgement(ctx, tmp_path):
    from deepdiary.services.demo import CANON, Sample, _skimage, write_samples

    write_samples(tmp_path, [Sample("a1.jpg", _skimage("coffee.png"), "2025-06-01 09:00:00", "+08:00", CANON,
                                    (30.2745, 120.1560, 5)),
                             Sample("a2.jpg", _skimage("chelsea.png"), "2025-06-01 09:05:00", "+08:00", CANON,
                                    (30.2745, 120.1560, 5))])
    files = {"a1": (tmp_path / "a1.jpg").read_bytes(), "a2": (tmp_path / "a2.jpg").read_bytes()}
    fake = FakeTelegram(files)
    album = [update(media_group_id="album-1", photo=[{"file_id": f, "file_unique_id": f"album-{f}", "width": 512,
                                                        "height": 512}]) for f in files]
    drive(ctx, fake, album, until=lambda f: f.sent("sendMessage"))
    [ack] = fake.sent("sendMessage")
    assert "Added 2 photo" in ack["text"] and "Hangzhou" in ack["text"], ack["text"]


GPX = """<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>walk</name><trkseg>
<trkpt lat="30.2590" lon="120.1300"><time>2025-05-01T01:00:00Z</time></trkpt>
<trkpt lat="30.2600" lon="120.1320"><time>2025-05-01T01:05:00Z</time></trkpt>
<trkpt lat="30.2610" lon="120.1340"><time>2025-05-01T01:10:00Z</time></trkpt>
</trkseg></trk></gpx>
"""


def test_a_document_is_ingested_as_its_kind(ctx):
    fake = FakeTelegram({"gpx": GPX.encode(), "diary": "# 2025-05-02\n\n今天去了西湖，天气很好。\n".encode()})
    drive(ctx, fake, [update(document={"file_id": "gpx", "file_unique_id": "g1", "file_name": "walk.txt"}),
                      update(document={"file_id": "diary", "file_unique_id": "d1", "file_name": "2025-05-02.md"},
                             language="zh")])
    track, diary = (p["text"] for p in fake.sent("sendMessage"))
    assert "walk.txt as locations: 1 new" in track, track
    assert "日记" in diary and "新增 1" in diary, diary


def test_the_token_is_never_logged(ctx, caplog, capfd):
    """python-telegram-bot logs its API URL, token included, at DEBUG, and httpx each request URL
    at INFO: the bot keeps both below what it emits, so even with everything else at DEBUG no
    record, captured or printed, carries the token."""
    handler = common.configure_logging([TOKEN], level=logging.DEBUG)
    try:
        assert logging.getLogger("httpx").level == logging.WARNING
        with caplog.at_level(logging.DEBUG):
            fake = FakeTelegram(reject_html=1)
            drive(ctx, fake, [update(text="photos in Paris in April 2024"), update(user=7, text="hi")])
    finally:
        logging.getLogger().removeHandler(handler)
    err = capfd.readouterr().err
    assert "refused user 7" in err and "HTML refused" in err and "Application started" in err
    assert "refused user 7" in caplog.text and "Calling Bot API endpoint" not in caplog.text
    assert TOKEN not in err and TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in err + caplog.text


def test_the_log_handler_redacts_a_token_whatever_logs_it():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(common.RedactSecrets([TOKEN]))
    log = logging.getLogger("tests.some.library")
    log.addHandler(handler)
    try:
        log.warning("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"connect failed for https://api.telegram.org/bot{TOKEN}/getUpdates")
        except RuntimeError:
            log.exception("polling failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "https://api.telegram.org/bot***/getMe" in text and "bot***/getUpdates" in text
    assert TOKEN not in text


def test_a_missing_token_is_one_clear_error(bot_library):
    from deepdiary.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="DEEPDIARY_TELEGRAM_TOKEN"):
        bot.build_application(make_ctx(bot_library))


def test_a_voice_note_is_answered_in_text_and_a_voice_note(ctx, refs, tmp_path):
    wav = espeak("which photos did I take in Hangzhou", tmp_path)
    ogg = encode(wav, tmp_path / "question.ogg", "-c:a", "libopus", "-b:a", "24k")
    fake = FakeTelegram({"voice-1": ogg})
    drive(ctx, fake, [update(voice={"file_id": "voice-1", "file_unique_id": "vq1", "duration": 3,
                                    "mime_type": "audio/ogg"})])
    [text] = fake.sent("sendMessage")
    assert "hangzhou" in text["text"].lower(), text["text"]
    # The photos sent are the ones the answer lists, all from Hangzhou: the demo's three and any
    # sent in the tests above (which of them make the first page hangs on how the speech was heard).
    [group] = fake.uploads("sendMediaGroup")
    cited = [int(i) for i in re.findall(r"\[photo:(\d+)\]", text["text"])]
    assert cited and group == [_original(ctx, i) for i in cited]
    assert all("Hangzhou" in json.dumps(photos.show_item(ctx, i).root["place"]) for i in cited)
    [[voice]] = fake.uploads("sendVoice")
    assert voice[:4] == b"OggS" and b"OpusHead" in voice[:200]


def test_a_photo_sent_as_a_file_keeps_its_exif_and_is_ingested_as_a_photo(ctx, tmp_path):
    from PIL import Image

    hangzhou_portrait(tmp_path)
    with Image.open(tmp_path / "west-lake.jpg") as im:  # another photo than the test above sends
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "IMG_2001.JPG", exif=im.info["exif"])
    fake = FakeTelegram({"doc-photo": (tmp_path / "IMG_2001.JPG").read_bytes()})
    drive(ctx, fake, [update(document={"file_id": "doc-photo", "file_unique_id": "dp1", "file_name": "IMG_2001.JPG",
                                       "mime_type": "image/jpeg"})])
    [ack] = fake.sent("sendMessage")
    assert "Added 1 photo" in ack["text"] and "2025-05-01" in ack["text"] and "Hangzhou" in ack["text"], ack["text"]


def test_a_typed_error_is_answered_with_its_message(ctx):
    fake = FakeTelegram()
    drive(ctx, fake, [command("today", "not-a-day"), command("today", "not-a-day", language="zh")])
    en, zh = (p["text"] for p in fake.sent("sendMessage"))
    assert en.startswith("Sorry, that did not work: date: cannot read 'not-a-day'"), en
    assert zh.startswith("抱歉，没有成功："), zh
