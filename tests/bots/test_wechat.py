"""The WeChat Official Account callback, offline: signed XML posted in plain and safe mode.

A loopback HTTP server stands in for api.weixin.qq.com (``wechat_api_base_url``): it hands out
an access token, serves media downloads and records customer-service messages. The library is
a copy of the demo's, asked with the parser-only housekeeper.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import xmltodict
from fastapi.testclient import TestClient
from wechatpy.crypto import WeChatCrypto

from deepdiary.bots import wechat
from deepdiary.services import ask as ask_service
from deepdiary.services import search
from tests.bots.conftest import amr, espeak, hangzhou_portrait, make_ctx

TOKEN = "wechat-callback-token"
APP_ID = "wx1234567890abcdef"
SECRET = "app-secret-never-logged"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the platform makes them
ME = "oME-allowed-openid"
ACCOUNT = "gh_deepdiary"


class FakeWeChatApi:
    """api.weixin.qq.com on loopback: /cgi-bin/token, /cgi-bin/media/get, /cgi-bin/message/custom/send."""

    def __init__(self):
        self.media: dict[str, tuple[bytes, str]] = {}
        self.sent: list[dict] = []
        self.tokens = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, body: bytes, kind: str = "application/json") -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if url.path == "/cgi-bin/token":
                    assert query["appid"] == [APP_ID] and query["secret"] == [SECRET]
                    api.tokens += 1
                    self._reply(json.dumps({"access_token": "ACCESS", "expires_in": 7200}).encode())
                elif url.path == "/cgi-bin/media/get" and query.get("access_token") == ["ACCESS"]:
                    data, kind = api.media[query["media_id"][0]]
                    self._reply(data, kind)
                else:
                    self._reply(json.dumps({"errcode": 40001, "errmsg": "invalid credential"}).encode())

            def do_POST(self):
                url = urlparse(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if url.path == "/cgi-bin/message/custom/send" and parse_qs(url.query).get("access_token") == ["ACCESS"]:
                    api.sent.append(json.loads(body))
                    self._reply(b'{"errcode": 0, "errmsg": "ok"}')
                else:
                    self._reply(b'{"errcode": 40001, "errmsg": "invalid credential"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cgi-bin/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 300) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.sent) < count:
            assert time.monotonic() < deadline, f"no customer-service message came: {self.sent}"
            time.sleep(0.05)
        return self.sent

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def api():
    server = FakeWeChatApi()
    yield server
    server.close()


def make_client(folder: Path, api: FakeWeChatApi, **settings) -> TestClient:
    ctx = make_ctx(folder, wechat_token=TOKEN, wechat_app_id=APP_ID, wechat_app_secret=SECRET,
                   wechat_aes_key=AES_KEY, wechat_allowed_openids=[ME], wechat_api_base_url=api.url, **settings)
    return TestClient(wechat.create_app(ctx))


@pytest.fixture(scope="module")
def client(bot_library, api):
    with make_client(bot_library, api, wechat_reply_seconds=60) as c:  # every answer in time: passive replies
        yield c


_msg_ids = iter(range(10_000_000, 20_000_000))


def message(kind: str, sender: str = ME, msg_id: int | None = None, create_time: int | None = None, **fields) -> str:
    parts = {"ToUserName": ACCOUNT, "FromUserName": sender, "CreateTime": create_time or int(time.time()),
             "MsgType": kind, **fields}
    if kind != "event":
        parts["MsgId"] = msg_id or next(_msg_ids)
    body = "".join(f"<{k}><![CDATA[{v}]]></{k}>" if isinstance(v, str) else f"<{k}>{v}</{k}>"
                   for k, v in parts.items())
    return f"<xml>{body}</xml>"


def signature(*values: str) -> str:
    return hashlib.sha1("".join(sorted(values)).encode()).hexdigest()


def post(client: TestClient, xml: str, safe: bool = False, bad: bool = False):
    """POST ``xml`` as the platform does; returns (status, the reply's fields or its text)."""
    timestamp, nonce = str(int(time.time())), "nonce42"
    params = {"timestamp": timestamp, "nonce": nonce, "openid": ME,
              "signature": signature(TOKEN, timestamp, nonce) if not bad else "0" * 40}
    body = xml
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    if safe:
        envelope = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        params |= {"encrypt_type": "aes", "msg_signature": envelope["MsgSignature"] if not bad else "0" * 40}
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{envelope['Encrypt']}]]></Encrypt></xml>"
    response = client.post("/wechat", params=params, content=body.encode(), headers={"Content-Type": "text/xml"})
    if response.status_code != 200 or response.text == "success":
        return response.status_code, response.text
    reply = response.text
    if safe:
        fields = xmltodict.parse(reply)["xml"]
        assert fields["MsgSignature"] == signature(TOKEN, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        reply = crypto.decrypt_message(reply, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
    return response.status_code, xmltodict.parse(reply)["xml"]


def test_the_url_check_echoes_only_with_a_good_signature(client):
    ts, nonce = "1700000000", "n1"
    good = client.get("/wechat", params={"signature": signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                                         "echostr": "echo-123"})
    assert good.status_code == 200 and good.text == "echo-123"
    bad = client.get("/wechat", params={"signature": "f" * 40, "timestamp": ts, "nonce": nonce, "echostr": "x"})
    assert bad.status_code == 403


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_text_is_answered_in_a_passive_reply(client, safe):
    status, reply = post(client, message("text", Content="Which photos did I take in Hangzhou in July 2023?"), safe)
    assert status == 200
    assert reply["ToUserName"] == ME and reply["FromUserName"] == ACCOUNT and reply["MsgType"] == "text"
    assert reply["Content"].startswith("I found 3 photo(s)") and "Hangzhou" in reply["Content"]
    status, zh = post(client, message("text", Content="2023年7月在杭州拍的照片"), safe)
    assert zh["Content"].startswith("找到 3 张照片")


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_a_bad_signature_is_refused(client, safe, monkeypatch):
    asked = []
    monkeypatch.setattr(ask_service, "ask", lambda *a, **k: asked.append(a))
    status, _ = post(client, message("text", Content="hello"), safe, bad=True)
    assert status == 403 and asked == []


def test_a_message_retried_three_times_is_answered_once(client, api, monkeypatch):
    real, asked = ask_service.ask, []

    def counting(*args, **kwargs):
        asked.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(ask_service, "ask", counting)
    before = len(api.sent)
    xml = message("text", msg_id=777001, Content="photos in Paris in April 2024")
    replies = [post(client, xml) for _ in range(3)]
    assert asked == ["photos in Paris in April 2024"]
    assert replies[0][1]["Content"].startswith("I found 2 photo(s)")
    assert [r[1] for r in replies[1:]] == ["success", "success"]
    assert len(api.sent) == before  # nothing pushed either


def test_a_slow_answer_goes_through_the_customer_service_api(bot_library, api):
    before = len(api.sent)
    with make_client(bot_library, api, wechat_reply_seconds=0.0) as slow:
        xml = message("text", msg_id=777002, Content="photos in Paris in April 2024")
        assert post(slow, xml) == (200, "success")
        sent = api.wait_for(before + 1)[before:]
        # The platform's retries find the answer already on its way: nothing more is sent.
        assert post(slow, xml) == (200, "success") and post(slow, xml, safe=True) == (200, "success")
        time.sleep(0.3)
    assert len(api.sent) == before + 1
    [pushed] = sent
    assert pushed["touser"] == ME and pushed["msgtype"] == "text"
    assert pushed["text"]["content"].startswith("I found 2 photo(s)")


def test_a_stranger_is_refused_once_and_never_asked(client, monkeypatch):
    asked = []
    monkeypatch.setattr(ask_service, "ask", lambda *a, **k: asked.append(a))
    status, reply = post(client, message("text", sender="oStranger", Content="show me everything"))
    assert status == 200 and "抱歉" in reply["Content"] and "Sorry" in reply["Content"]
    assert post(client, message("text", sender="oStranger", Content="please")) == (200, "success")
    assert asked == []


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_subscribe_gets_a_welcome_and_its_retry_nothing(client, safe):
    created = int(time.time()) + (1 if safe else 0)
    xml = message("event", create_time=created, Event="subscribe")
    status, reply = post(client, xml, safe)
    assert status == 200 and "欢迎" in reply["Content"] and "Welcome" in reply["Content"]
    assert post(client, xml, safe) == (200, "success")
    assert post(client, message("event", create_time=created + 5, Event="unsubscribe"), safe) == (200, "success")


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_voice_with_recognition_is_answered_from_it(client, safe):
    status, reply = post(client, message("voice", MediaId="unused", Format="amr",
                                         Recognition="Which photos did I take in Paris in April 2024?"), safe)
    assert status == 200 and "Paris" in reply["Content"] and "I found 2 photo(s)" in reply["Content"]


def test_voice_without_recognition_is_downloaded_and_transcribed(client, api, tmp_path):
    wav = espeak("which photos did I take in Hangzhou", tmp_path)
    api.media["voice-amr"] = (amr(wav, tmp_path / "q.amr"), "audio/amr")
    status, reply = post(client, message("voice", MediaId="voice-amr", Format="amr", Recognition=""))
    assert status == 200
    assert "hangzhou" in reply["Content"].lower() and "photo" in reply["Content"], reply["Content"]


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_an_image_is_downloaded_and_ingested(client, api, tmp_path, safe, bot_library):
    data = hangzhou_portrait(tmp_path)
    if safe:  # a different photo, so the second run ingests something new
        from PIL import Image

        with Image.open(tmp_path / "west-lake.jpg") as im:
            im.rotate(180).save(tmp_path / "turned.jpg", exif=im.info.get("exif", b""), quality=90)
        data = (tmp_path / "turned.jpg").read_bytes()
    media = f"image-{safe}"
    api.media[media] = (data, "image/jpeg")
    msg_id = 888000 + safe
    status, reply = post(client, message("image", PicUrl="http://mmbiz.qpic.cn/x", MediaId=media, msg_id=msg_id),
                         safe)
    assert status == 200 and "张照片加入资料库" in reply["Content"] and "杭州" in reply["Content"], reply["Content"]
    ctx = client.app.state.channel.ctx
    page = search.search_photos(ctx, search.PhotoSearch(near="Hangzhou", limit=100))
    assert any(p.path and p.path.endswith(f"wechat-{msg_id}.jpg") for p in page.results)


def test_a_location_tells_what_was_photographed_near_it(client):
    status, reply = post(client, message("location", Location_X=30.2590, Location_Y=120.1300, Scale=15,
                                         Label="杭州市西湖区"))
    assert status == 200 and "2023-07-14" in reply["Content"] and "杭州市西湖区" in reply["Content"]


def test_missing_settings_are_one_clear_error(bot_library):
    from deepdiary.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="DEEPDIARY_WECHAT_TOKEN"):
        wechat.create_app(make_ctx(bot_library))
    with pytest.raises(InvalidInput, match="DEEPDIARY_WECHAT_APP_ID, DEEPDIARY_WECHAT_APP_SECRET"):
        wechat.run(make_ctx(bot_library, wechat_token="t"))


def test_an_image_slower_than_the_deadline_is_acknowledged_through_the_customer_service_api(bot_library, api,
                                                                                          tmp_path):
    from PIL import Image

    hangzhou_portrait(tmp_path)
    with Image.open(tmp_path / "west-lake.jpg") as im:
        im.transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(tmp_path / "flipped.jpg", exif=im.info["exif"])
    api.media["image-late"] = ((tmp_path / "flipped.jpg").read_bytes(), "image/jpeg")
    before = len(api.sent)
    with make_client(bot_library, api, wechat_reply_seconds=0.0) as slow:
        assert post(slow, message("image", PicUrl="http://mmbiz.qpic.cn/y", MediaId="image-late"), safe=True) == (
            200, "success")
        [pushed] = api.wait_for(before + 1)[before:]
    assert pushed["touser"] == ME and "已把 1 张照片加入资料库" in pushed["text"]["content"]
    assert "杭州" in pushed["text"]["content"]


def test_an_answer_too_long_for_one_reply_goes_out_whole_in_pieces(client, api, monkeypatch):
    from types import SimpleNamespace

    text = "\n".join(f"{i:03d} 在杭州西湖边拍的照片，天气很好 · a photo by West Lake in Hangzhou" for i in range(60))
    monkeypatch.setattr(ask_service, "ask", lambda *a, **k: SimpleNamespace(answer=text, citations=[], language="zh"))
    before = len(api.sent)
    assert post(client, message("text", Content="所有照片")) == (200, "success")
    pieces = [m["text"]["content"] for m in api.wait_for(before + len(wechat._pieces(text)))[before:]]
    assert len(pieces) >= 3 and all(len(p.encode("utf-8")) <= 2048 for p in pieces)
    assert "\n".join(pieces) == text


def test_pieces_cut_by_bytes_and_stop_at_five():
    assert wechat._pieces("短" * 1000) == ["短" * 666, "短" * 334]  # 3 bytes a character
    many = wechat._pieces("\n".join("x" * 1500 for _ in range(9)))
    assert len(many) == 5 and many[-1].endswith("…") and all(len(p.encode()) <= 2000 for p in many)


def test_the_web_app_serves_the_callback_at_wechat_beside_the_api(bot_library, api):
    # `deepdiary serve` mounts the callback on the web app when a WeChat token is set: one
    # public address for the browser and the Official Account. The platform signs its calls;
    # the API's own routes still want a bearer token once one exists.
    from deepdiary.cli.main import web_app
    from deepdiary.services.tokens import create_token

    ctx = make_ctx(bot_library, wechat_token=TOKEN, wechat_app_id=APP_ID, wechat_app_secret=SECRET,
                   wechat_aes_key=AES_KEY, wechat_allowed_openids=[ME], wechat_api_base_url=api.url,
                   wechat_reply_seconds=60)
    create_token(ctx, "laptop")
    with TestClient(web_app(ctx)) as served:
        ts, nonce = "1700000000", "n2"
        echo = served.get("/wechat", params={"signature": signature(TOKEN, ts, nonce), "timestamp": ts,
                                             "nonce": nonce, "echostr": "echo-web"})
        assert echo.status_code == 200 and echo.text == "echo-web"
        status, reply = post(served, message("text", Content="Which photos did I take in Hangzhou in July 2023?"), safe=True)
        assert status == 200 and reply["MsgType"] == "text" and "Hangzhou" in reply["Content"]
        assert served.get("/api/stats").status_code == 401
    assert TestClient(web_app(make_ctx(bot_library))).get("/wechat").status_code == 404  # no token, no callback
