"""The Telegram bot: questions, photos, documents and voice notes in; answers, pictures and voice out.

An interface like the CLI and the web API: each handler reads the message, calls services
(``ask``, ``ingest``, ``people``, ``memories``, ``photos``, ``voice``) in a worker thread,
and renders the result as chat messages. The order of things:

1. ``gate`` (group -1) runs before any handler: a repeated update id is dropped, and a user
   not in ``telegram_allowed_users`` gets one refusal (the first time) and nothing else;
   ``ApplicationHandlerStop`` keeps every other handler from seeing the update.
2. Commands (``/people``, ``/events``, ``/today``, ``/help``), text (an answer, with the cited
   photos as a media group), photos and albums (ingested, acknowledged with the people,
   place and description found), documents (ingested as the kind they are), voice notes
   (transcribed, answered in text and as an OGG/Opus voice note).
3. ``on_error`` is the bot's one mapping of typed errors to replies; anything else is a bug,
   logged (never with the token) and answered with an apology.

``build_application`` takes a ``telegram.request.BaseRequest`` so tests can stand in for the
Telegram servers; ``run`` polls until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import html
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

from telegram import InputMediaPhoto, Message, Update
from telegram.constants import ChatAction, MessageLimit, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application, ApplicationHandlerStop, CommandHandler, ContextTypes, MessageHandler, TypeHandler, filters,
)

from deepdiary.bots import common
from deepdiary.bots.common import say
from deepdiary.core.errors import DeepDiaryError, InvalidInput, NotFound
from deepdiary.services import AppContext
from deepdiary.services import ask as ask_service
from deepdiary.services import ingest, memories, people, photos

log = logging.getLogger("deepdiary.bots.telegram")

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_MEDIA_GROUP = 10
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto's limit
CHANNEL = "telegram"


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in pieces whose HTML-escaped form fits one message: at paragraph or line
    breaks where it can, inside a line only when a line is too long."""
    def size(s: str) -> int:
        return len(html.escape(s, quote=False))

    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if size(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        while size(line) > limit:  # one line longer than a message: cut it, at a space if there is one
            cut = limit
            while size(line[:cut]) > limit:
                cut -= max(1, (size(line[:cut]) - limit) // 5)
            space = line.rfind(" ", 0, cut)
            cut = space + 1 if space > cut // 2 else cut
            pieces.append(line[:cut].rstrip())
            line = line[cut:]
        current = line
    if current.strip() or not pieces:
        pieces.append(current)
    return pieces


def _is_parse_error(exc: BadRequest) -> bool:
    text = str(exc).lower()
    return "parse" in text or "entit" in text or "tag" in text


@dataclass
class _Album:
    message: Message
    lang: str
    files: list[tuple[str, bytes]] = field(default_factory=list)


class TelegramBot:
    """The handlers over one application context."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.allowed = set(ctx.settings.telegram_allowed_users)
        self.album_seconds = ctx.settings.telegram_album_seconds
        self.seen = common.SeenKeys()
        self.refused: set[int] = set()
        self.albums: dict[str, _Album] = {}

    # ------------------------------------------------------------ wiring

    def install(self, app: Application) -> Application:
        app.add_handler(TypeHandler(Update, self.gate), group=-1)
        app.add_handler(CommandHandler(["start", "help"], self.on_help))
        app.add_handler(CommandHandler("people", self.on_people))
        app.add_handler(CommandHandler("events", self.on_events))
        app.add_handler(CommandHandler("today", self.on_today))
        new = filters.UpdateType.MESSAGE  # an edited message is not asked again
        app.add_handler(MessageHandler(new & filters.PHOTO, self.on_photo))
        app.add_handler(MessageHandler(new & (filters.VOICE | filters.AUDIO), self.on_voice))
        app.add_handler(MessageHandler(new & filters.Document.ALL, self.on_document))
        app.add_handler(MessageHandler(new & filters.TEXT & ~filters.COMMAND, self.on_text))
        app.add_handler(MessageHandler(new & ~filters.COMMAND & ~filters.StatusUpdate.ALL, self.on_other))
        app.add_error_handler(self.on_error)
        return app

    # ------------------------------------------------------------ the gate

    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Runs first: repeats are dropped, strangers refused once and otherwise ignored."""
        if not self.seen.add(update.update_id):
            log.info("update %s seen before: ignored", update.update_id)
            raise ApplicationHandlerStop
        user = update.effective_user
        if user is not None and user.id in self.allowed:
            return
        if user is not None and user.id not in self.refused:
            self.refused.add(user.id)
            log.warning("refused user %s (not in telegram_allowed_users)", user.id)
            if update.effective_chat is not None:
                await context.bot.send_message(update.effective_chat.id,
                                               say("refused", common.language_code(user.language_code)))
        raise ApplicationHandlerStop

    # ------------------------------------------------------------ replies

    @staticmethod
    def _lang(update: Update) -> str:
        user = update.effective_user
        return common.language_code(user.language_code if user else None)

    async def _reply(self, message: Message, text: str) -> None:
        """``text`` as HTML messages of at most 4096 characters each; a piece whose HTML Telegram
        cannot parse is sent again as plain text."""
        for piece in split_text(text):
            try:
                await message.reply_text(html.escape(piece, quote=False), parse_mode=ParseMode.HTML)
            except BadRequest as exc:
                if not _is_parse_error(exc):
                    raise
                log.info("HTML refused (%s): sent as plain text", exc)
                await message.reply_text(piece)

    def _photo_bytes(self, item_id: int) -> bytes | None:
        """A cited photo as Telegram takes it: the original when it is a JPEG or PNG small enough,
        else its thumbnail as JPEG."""
        details = photos.show_item(self.ctx, item_id).root
        original = Path(details["original"]) if details.get("original") else None
        if original and original.suffix.lower() in (".jpg", ".jpeg", ".png") \
                and (details.get("size") or 0) <= MAX_PHOTO_BYTES:
            try:  # from the blob store, wherever it is (a folder, S3)
                return photos.photo_file(self.ctx, item_id, "original").read()
            except NotFound:
                pass
        for key in ("thumbnail", "original"):
            if details.get(key):
                try:
                    from PIL import Image

                    with Image.open(photos.photo_file(self.ctx, item_id, key).image_source()) as im:
                        im = im.convert("RGB")
                        im.thumbnail((1280, 1280))
                        out = io.BytesIO()
                        im.save(out, "JPEG", quality=88)
                        return out.getvalue()
                except (OSError, NotFound):
                    continue
        return None

    async def _send_photos(self, message: Message, item_ids: list[int]) -> None:
        """The photos as one picture or one media group (2 to 10)."""
        data = [b for b in [await asyncio.to_thread(self._photo_bytes, i) for i in item_ids[:MAX_MEDIA_GROUP]] if b]
        if len(data) == 1:
            await message.reply_photo(photo=data[0])
        elif data:
            await message.reply_media_group(media=[InputMediaPhoto(media=b) for b in data])

    async def _answer(self, message: Message, question: str, prefix: str = "") -> object:
        await message.get_bot().send_chat_action(message.chat_id, ChatAction.TYPING)
        answer = await asyncio.to_thread(ask_service.ask, self.ctx, question, channel=CHANNEL,
                                         external_id=str(message.chat_id))
        sources = common.citation_lines(answer.citations, ask_service.citation_line)
        text = answer.answer
        if sources:
            text += f"\n\n{say('sources', answer.language)}\n" + "\n".join(sources)
        await self._reply(message, prefix + text)
        await self._send_photos(message, common.photo_ids(answer.citations))
        return answer

    # ------------------------------------------------------------ handlers

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update.effective_message, say("help", self._lang(update)))

    async def on_people(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        rows = await asyncio.to_thread(people.list_people, self.ctx)
        await self._reply(update.effective_message, common.people_text(rows, self._lang(update)))

    async def on_events(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        rows = await asyncio.to_thread(memories.list_events, self.ctx)
        await self._reply(update.effective_message, common.events_text(rows, self._lang(update)))

    async def on_today(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        day = context.args[0] if context.args else None  # /today 07-14 looks at another day
        result = await asyncio.to_thread(memories.on_this_day, self.ctx, day)
        await self._reply(update.effective_message, common.today_text(result, self._lang(update)))
        ids = [p.id for y in result.years for p in y.photos]
        await self._send_photos(update.effective_message, ids[:MAX_MEDIA_GROUP])

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._answer(update.effective_message, update.effective_message.text)

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update.effective_message, say("unsupported", self._lang(update)))

    @staticmethod
    async def _download(attachment) -> bytes:
        try:
            file = await attachment.get_file()
        except BadRequest as exc:  # "file is too big": bots may download 20 MB at most
            raise InvalidInput(f"Telegram would not hand the file over: {exc}") from None
        return bytes(await file.download_as_bytearray())

    async def on_photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        biggest = message.photo[-1]
        data = await self._download(biggest)
        await self._photo_in(update, context, (f"telegram-{biggest.file_unique_id}.jpg", data))

    async def _photo_in(self, update: Update, context: ContextTypes.DEFAULT_TYPE, file: tuple[str, bytes]) -> None:
        """One photo: ingested now, or, when it belongs to an album, with the album's others once
        none has arrived for ``telegram_album_seconds``."""
        message = update.effective_message
        group = message.media_group_id
        if group is None or context.job_queue is None:
            await self._ingest_photos(message, [file], self._lang(update))
            return
        key = f"album:{message.chat_id}:{group}"
        album = self.albums.setdefault(key, _Album(message=message, lang=self._lang(update)))
        album.files.append(file)
        for job in context.job_queue.get_jobs_by_name(key):
            job.schedule_removal()
        context.job_queue.run_once(self._album_done, self.album_seconds, data=key, name=key)

    async def _album_done(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        album = self.albums.pop(context.job.data, None)
        if album is None:
            return
        try:
            await self._ingest_photos(album.message, album.files, album.lang)
        except Exception as exc:  # noqa: BLE001 - a job has no update: report it the same way here
            await self._report(album.message, exc, album.lang)

    async def _ingest_photos(self, message: Message, files: list[tuple[str, bytes]], lang: str) -> None:
        await message.get_bot().send_chat_action(message.chat_id, ChatAction.UPLOAD_PHOTO)
        result = await asyncio.to_thread(ingest.ingest_upload, self.ctx, "photos", files)
        details = [(await asyncio.to_thread(photos.show_item, self.ctx, i)).root for i in result.item_ids]
        await self._reply(message, common.photos_ack(result.model_dump(mode="json"), details, lang))

    async def on_document(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        document = message.document
        name = document.file_name or f"telegram-{document.file_unique_id}"
        data = await self._download(document)
        kind = await asyncio.to_thread(ingest.guess_upload_kind, name, data)
        if kind == "photos":
            await self._photo_in(update, context, (name, data))
            return
        result = await asyncio.to_thread(ingest.ingest_upload, self.ctx, kind, [(name, data)])
        await self._reply(message, common.ingest_ack(name, kind, result.model_dump(mode="json"), self._lang(update)))

    async def on_voice(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        from deepdiary.services import voice as voice_service

        message = update.effective_message
        note = message.voice or message.audio
        data = await self._download(note)
        await message.get_bot().send_chat_action(message.chat_id, ChatAction.TYPING)
        heard = await asyncio.to_thread(voice_service.transcribe, self.ctx, data,
                                        filename=getattr(note, "file_name", None) or "voice.ogg")
        text = (heard.transcript or "").strip()
        lang = common.language_of(text, self._lang(update))
        if not text:
            await self._reply(message, say("not_heard", self._lang(update)))
            return
        answer = await self._answer(message, text, prefix=say("heard", lang, text=text) + "\n\n")
        await message.get_bot().send_chat_action(message.chat_id, ChatAction.RECORD_VOICE)
        audio = await asyncio.to_thread(voice_service.speak, self.ctx, answer.answer, answer.language, "ogg")
        await message.reply_voice(voice=audio)

    # ------------------------------------------------------------ errors

    async def _report(self, message: Message | None, exc: BaseException, lang: str) -> None:
        if isinstance(exc, DeepDiaryError):
            log.info("%s: %s", type(exc).__name__, exc)
            text = say("error", lang, reason=str(exc))
        else:
            log.error("unexpected %s", type(exc).__name__, exc_info=exc)
            text = say("bug", lang)
        if message is not None:
            await message.reply_text(text)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot's one mapping of errors to replies."""
        message = update.effective_message if isinstance(update, Update) else None
        lang = self._lang(update) if isinstance(update, Update) else "en"
        try:
            await self._report(message, context.error, lang)
        except Exception as exc:  # noqa: BLE001 - the apology itself failed (network): log it only
            log.error("could not report an error: %s", type(exc).__name__)


def build_application(ctx: AppContext, request=None, token: str | None = None) -> Application:
    """The Telegram application with Deep Diary's handlers. ``request`` (a ``BaseRequest``)
    replaces the HTTP client for every call and download, and the poller is left out: tests
    feed updates with ``process_update``."""
    secret = ctx.settings.telegram_token
    token = token or (secret.get_secret_value() if secret else None)
    if not token:
        raise InvalidInput("no Telegram token: set DEEPDIARY_TELEGRAM_TOKEN (from @BotFather)")
    builder = Application.builder().token(token)
    if request is not None:
        builder = builder.request(request).get_updates_request(request).updater(None)
    app = builder.build()
    TelegramBot(ctx).install(app)
    return app


def run(ctx: AppContext) -> None:
    """Poll Telegram until SIGINT or SIGTERM, then shut down cleanly."""
    app = build_application(ctx)
    allowed = ctx.settings.telegram_allowed_users
    if allowed:
        log.info("Telegram bot starting; allowed users: %s", ", ".join(map(str, allowed)))
    else:
        log.warning("DEEPDIARY_TELEGRAM_ALLOWED_USERS is empty: nobody may use the bot, everyone is refused")
    import signal

    app.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=(signal.SIGINT, signal.SIGTERM),
                    close_loop=False)
    log.info("Telegram bot stopped")
