"""The WeChat Official Account channel: the platform's callback, answered from the memory.

A small FastAPI app of its own (``deepdiary bot wechat`` serves it, at ``/wechat``), an
interface like the CLI: it checks and parses what WeChat posts, calls services (``ask``,
``ingest``, ``photos``, ``search``, ``voice``) in a worker thread and renders the reply.

* ``GET /wechat`` is the platform's URL check: a good signature gets ``echostr`` back.
* ``POST /wechat`` carries one message as signed XML, in plain mode or, with
  ``encrypt_type=aes``, in safe mode (AES, ``msg_signature``). A bad signature is a 403.
* Text is asked; voice uses WeChat's ``Recognition`` when it is there, else the audio (AMR
  or Speex) is downloaded through the media API and transcribed; an image is downloaded and
  ingested; a location asks what happened near it; ``subscribe`` gets a welcome.
* WeChat waits 5 s and retries up to three times. The answer goes back as a passive XML
  reply when it is ready within ``wechat_reply_seconds`` (4.5 s); otherwise the request gets
  ``success`` and the answer follows through the customer-service message API. A retry
  (same MsgId; for events the same sender and CreateTime) joins the first request's job, so
  every message is answered once.
* Only OpenIDs in ``wechat_allowed_openids`` are served; a stranger is refused once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from wechatpy import create_reply, parse_message
from wechatpy.client import WeChatClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from deepdiary.bots import common
from deepdiary.bots.common import say
from deepdiary.core.errors import DeepDiaryError, InvalidInput
from deepdiary.services import AppContext
from deepdiary.services import ask as ask_service
from deepdiary.services import ingest, photos, search

log = logging.getLogger("deepdiary.bots.wechat")

CHANNEL = "wechat"
MAX_REPLY_BYTES = 2000  # a text message holds 2048 bytes; a longer answer goes out in pieces
DEFAULT_LANG = "zh"


def _fits(text: str, limit: int = MAX_REPLY_BYTES) -> bool:
    return len(text.encode("utf-8")) <= limit


def _pieces(text: str, limit: int = MAX_REPLY_BYTES, most: int = 5) -> list[str]:
    """``text`` as at most ``most`` messages of ``limit`` UTF-8 bytes, cut at line breaks where
    it can (the last ends with … when even that is not enough)."""
    pieces, current = [], ""
    for line in text.split("\n"):
        while not _fits(line, limit):  # a line longer than a message: cut it by bytes
            head = line.encode("utf-8")[:limit].decode("utf-8", "ignore")
            pieces, current = pieces + ([current] if current else []), ""
            pieces.append(head)
            line = line[len(head):]
        candidate = f"{current}\n{line}" if current else line
        if _fits(candidate, limit):
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current or not pieces:
        pieces.append(current)
    if len(pieces) > most:
        last = pieces[most - 1].encode("utf-8")[: limit - 3].decode("utf-8", "ignore").rstrip()
        pieces = pieces[: most - 1] + [last + "…"]
    return pieces


class ApiClient(WeChatClient):
    """wechatpy's client with every URL, the access token's included, under ``base_url``
    (``wechat_api_base_url``), so a test server can stand in for api.weixin.qq.com."""

    def __init__(self, appid: str, secret: str, base_url: str, timeout: float = 10):
        self.API_BASE_URL = base_url if base_url.endswith("/") else base_url + "/"
        super().__init__(appid, secret, timeout=timeout)

    def fetch_access_token(self):
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    def download_media(self, media_id: str) -> bytes:
        """A message's media (a voice note, an image) through ``media/get``."""
        response = self.media.download(media_id)  # the file itself; JSON only for an error (raised)
        if hasattr(response, "content"):
            return response.content
        raise InvalidInput(f"WeChat did not send the media {media_id}")


@dataclass
class _Job:
    """One message being answered: its reply, and whether it has gone out (passively or pushed)."""

    future: Future
    openid: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    push: bool = False  # the request gave up waiting: the answer goes through the customer-service API
    delivered: bool = False


class WeChatChannel:
    """What the callback does with a parsed message, over one application context."""

    def __init__(self, ctx: AppContext, client: ApiClient | None = None):
        s = ctx.settings
        self.ctx = ctx
        self.allowed = set(s.wechat_allowed_openids)
        self.reply_seconds = s.wechat_reply_seconds
        self.client = client or ApiClient(s.wechat_app_id or "", s.wechat_app_secret.get_secret_value()
                                          if s.wechat_app_secret else "", s.wechat_api_base_url)
        self.jobs: OrderedDict[str, _Job] = OrderedDict()
        self.refused: set[str] = set()
        self.jobs_lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wechat")

    # ------------------------------------------------------------ what each message gets

    def answer(self, msg) -> str | None:
        """The reply text for one message (None: nothing to say). Runs in a worker thread."""
        try:
            return self._answer(msg)
        except DeepDiaryError as exc:
            log.info("%s: %s", type(exc).__name__, exc)
            return say("error", common.language_of(getattr(msg, "content", None), DEFAULT_LANG), reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, the user gets an apology
            log.error("unexpected %s answering %s", type(exc).__name__, msg.type, exc_info=exc)
            return say("bug", DEFAULT_LANG)

    def _answer(self, msg) -> str | None:
        kind = msg.type
        if kind == "text":
            return self._ask(msg.content, msg.source)
        if kind == "voice":
            text = (getattr(msg, "recognition", None) or "").strip()
            if not text:
                from deepdiary.services import voice as voice_service

                audio = self.client.download_media(msg.media_id)
                fmt = (msg.format or "amr").lower()
                text = voice_service.transcribe(self.ctx, audio, filename=f"voice.{fmt}").transcript.strip()
            if not text:
                return say("not_heard", DEFAULT_LANG)
            lang = common.language_of(text)
            return say("heard", lang, text=text) + "\n\n" + self._ask(text, msg.source)
        if kind == "image":
            data = self.client.download_media(msg.media_id)
            result = ingest.ingest_upload(self.ctx, "photos", [(f"wechat-{msg.id}.jpg", data)])
            details = [photos.show_item(self.ctx, i).root for i in result.item_ids]
            return common.photos_ack(result.model_dump(mode="json"), details, DEFAULT_LANG)
        if kind == "location":
            return self._near(msg)
        if kind == "event":
            if msg.event in ("subscribe", "subscribe_scan"):
                return say("welcome", "zh") + "\n" + say("welcome", "en")
            return None
        return say("unsupported", DEFAULT_LANG)

    def _ask(self, question: str, openid: str) -> str:
        answer = ask_service.ask(self.ctx, question, channel=CHANNEL, external_id=openid)
        sources = common.citation_lines(answer.citations, ask_service.citation_line)[:5]
        text = answer.answer
        if sources:
            text += f"\n\n{say('sources', answer.language)}\n" + "\n".join(sources)
        return text

    def _near(self, msg) -> str:
        """A shared location: the photos taken near it, by day."""
        lat, lon = msg.location
        page = search.search_photos(self.ctx, search.PhotoSearch(near=f"{lat},{lon}", limit=200))
        place = msg.label or f"{lat:.4f},{lon:.4f}"
        if not page.results:
            return f"{place}：附近没有照片。\nNo photos near {place}."
        days: OrderedDict[str, int] = OrderedDict()
        for p in sorted(page.results, key=lambda p: p.taken_at or 0):
            day = p.taken_at.date().isoformat() if p.taken_at else "?"
            days[day] = days.get(day, 0) + 1
        listed = "\n".join(f"• {d}: {n}" for d, n in list(days.items())[-10:])
        more = "+" if page.has_more else ""
        return (f"{place} 附近有 {len(page.results)}{more} 张照片，{len(days)} 天：\n{listed}\n"
                f"{len(page.results)}{more} photos near {place}, on {len(days)} days.")

    # ------------------------------------------------------------ once, within the deadline

    @staticmethod
    def key(msg) -> str:
        """Retries share it: the MsgId, or for events the sender and CreateTime."""
        if msg.type == "event" or not getattr(msg, "id", None):
            return f"event:{msg.source}:{msg.create_time.timestamp() if hasattr(msg.create_time, 'timestamp') else msg.create_time}"
        return f"msg:{msg.id}"

    def _job(self, msg) -> tuple[_Job, bool]:
        key = self.key(msg)
        with self.jobs_lock:
            job = self.jobs.get(key)
            if job is not None:
                return job, False
            job = _Job(future=self.pool.submit(self.answer, msg), openid=msg.source)
            self.jobs[key] = job
            while len(self.jobs) > 1024:
                self.jobs.popitem(last=False)
        job.future.add_done_callback(lambda _f: self._push(job))
        return job, True

    def _push(self, job: _Job) -> None:
        """Send a late answer through the customer-service API, once."""
        with job.lock:
            if not job.push or job.delivered or not job.future.done():
                return
            job.delivered = True
        text = job.future.result()
        if not text:
            return
        try:
            for piece in _pieces(text):
                self.client.message.send_text(job.openid, piece)
            log.info("answer sent to %s through the customer-service API", job.openid)
        except Exception as exc:  # noqa: BLE001 - the platform refused or is unreachable: logged, not retried
            log.error("customer-service message to %s failed: %s", job.openid, type(exc).__name__)

    async def reply(self, msg, started: float) -> str | None:
        """The passive reply for ``msg``: the answer when it is ready in time and not yet sent,
        else None (the request answers ``success``; a late answer is pushed)."""
        if msg.source not in self.allowed:
            if msg.source in self.refused:
                return None
            self.refused.add(msg.source)
            log.warning("refused OpenID %s (not in wechat_allowed_openids)", msg.source)
            return say("refused", "zh") + "\n" + say("refused", "en")
        job, first = self._job(msg)
        if not first:
            log.info("retry of %s joins the first request", self.key(msg))
            with job.lock:
                if job.push or job.delivered:
                    return None
        left = self.reply_seconds - (time.monotonic() - started)
        try:
            text = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job.future)), max(left, 0.0))
        except asyncio.TimeoutError:
            with job.lock:
                job.push = True
            asyncio.get_running_loop().run_in_executor(None, self._push, job)  # it may have finished just now
            return None
        if text and not _fits(text):  # too long for one reply: sent whole as customer-service messages
            with job.lock:
                job.push = True
            asyncio.get_running_loop().run_in_executor(None, self._push, job)
            return None
        with job.lock:
            if job.delivered or job.push:
                return None
            job.delivered = True
        return text or None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def callback_router(ctx: AppContext, client: ApiClient | None = None) -> tuple[APIRouter, "WeChatChannel"]:
    """The ``/wechat`` callback routes over one context, for the channel's own app or the web app
    (``deepdiary serve`` mounts them when a WeChat token is set); ``client`` replaces the WeChat
    API client in tests."""
    s = ctx.settings
    if not s.wechat_token:
        raise InvalidInput("no WeChat token: set DEEPDIARY_WECHAT_TOKEN (the callback token of the Official Account)")
    token = s.wechat_token.get_secret_value()
    crypto = None
    if s.wechat_aes_key:
        if not s.wechat_app_id:
            raise InvalidInput("safe mode needs DEEPDIARY_WECHAT_APP_ID with DEEPDIARY_WECHAT_AES_KEY")
        crypto = WeChatCrypto(token, s.wechat_aes_key.get_secret_value(), s.wechat_app_id)
    channel = WeChatChannel(ctx, client)
    router = APIRouter(include_in_schema=False)
    forbidden = PlainTextResponse("invalid signature", status_code=403)

    @router.get("/wechat")
    def verify(signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = ""):
        """The platform's URL check."""
        try:
            check_signature(token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return forbidden
        return PlainTextResponse(echostr)

    @router.post("/wechat")
    async def callback(request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                       encrypt_type: str = "raw", msg_signature: str = ""):
        started = time.monotonic()
        body = await request.body()
        encrypted = encrypt_type.lower() == "aes"
        try:
            check_signature(token, signature, timestamp, nonce)
            if encrypted:
                if crypto is None:
                    return PlainTextResponse("safe mode is not set up (DEEPDIARY_WECHAT_AES_KEY)", status_code=400)
                body = crypto.decrypt_message(body, msg_signature, timestamp, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            log.warning("refused a callback with a bad signature")
            return forbidden
        try:
            msg = parse_message(body)
        except Exception:  # noqa: BLE001 - not XML WeChat would send
            return PlainTextResponse("not a WeChat message", status_code=400)
        text = await channel.reply(msg, started)
        if not text:
            return PlainTextResponse("success")
        xml = create_reply(text, msg).render()
        if encrypted:
            xml = crypto.encrypt_message(xml, nonce, timestamp)
        return Response(xml, media_type="application/xml")

    return router, channel


def create_app(ctx: AppContext, client: ApiClient | None = None) -> FastAPI:
    """The callback as an app of its own (``deepdiary bot wechat``)."""
    router, channel = callback_router(ctx, client)

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.library  # open (and migrate) once, at start-up
        yield
        channel.close()
        ctx.close()

    app = FastAPI(title="Deep Diary on WeChat", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.channel = channel
    app.include_router(router)
    return app


def run(ctx: AppContext, host: str = "127.0.0.1", port: int = 8766) -> None:
    """Serve the callback until SIGINT or SIGTERM (uvicorn shuts down cleanly on either)."""
    import uvicorn

    s = ctx.settings
    missing = [name for name, value in (("DEEPDIARY_WECHAT_TOKEN", s.wechat_token),
                                        ("DEEPDIARY_WECHAT_APP_ID", s.wechat_app_id),
                                        ("DEEPDIARY_WECHAT_APP_SECRET", s.wechat_app_secret)) if not value]
    if missing:
        raise InvalidInput(f"WeChat is not set up: set {', '.join(missing)} (from the Official Account's settings)")
    app = create_app(ctx)
    if s.wechat_allowed_openids:
        log.info("WeChat callback on http://%s:%s/wechat (%s mode); allowed OpenIDs: %s", host, port,
                 "safe" if s.wechat_aes_key else "plain", ", ".join(s.wechat_allowed_openids))
    else:
        log.warning("DEEPDIARY_WECHAT_ALLOWED_OPENIDS is empty: nobody may use the account, everyone is refused")
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again to the handler
    # it found: this one, so that a requested stop ends the process normally (exit 0).
    import signal

    stopped = lambda sig, frame: log.info("WeChat callback stopped (%s)", signal.Signals(sig).name)  # noqa: E731
    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
