"""What both chat bots say: fixed texts in English and Chinese, and service results as chat text.

Nothing here decides anything about the library; it turns what the services return into
the few lines a chat shows, in the user's language (``en`` or ``zh``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Iterable

from deepdiary.core.text import has_cjk

TEXTS: dict[str, dict[str, str]] = {
    "refused": {
        "en": "Sorry, this is a private memory assistant and you are not on its list of users.",
        "zh": "抱歉，这是一个私人记忆助手，你不在它的用户名单上。",
    },
    "help": {
        "en": ("I am your Deep Diary housekeeper. Ask me anything about your photos, chats, diary and places, "
               "in English or Chinese (\"which photos did I take in Hangzhou last summer?\").\n"
               "Send a photo or an album and I add it to your library; send a chat export, a GPX track or a "
               "diary file as a document and I import it; send a voice note and I answer in text and voice.\n"
               "/people – the people I know\n/events – the latest events\n/today – on this day in earlier years\n"
               "/help – this text"),
        "zh": ("我是你的 Deep Diary 记忆管家。用中文或英文问我关于照片、聊天、日记和地点的任何问题"
               "（“去年夏天在杭州拍的照片”）。\n发照片或相册，我会把它们加入你的资料库；把聊天记录导出、GPX 轨迹或日记"
               "作为文件发来，我会导入；发语音，我会用文字和语音回答。\n"
               "/people – 我认识的人\n/events – 最近的事件\n/today – 往年的今天\n/help – 本说明"),
    },
    "welcome": {
        "en": "Welcome to your Deep Diary. Ask me about your photos, chats and places, or send me a photo.",
        "zh": "欢迎使用 Deep Diary。问我关于你的照片、聊天和地点的问题，或者发一张照片给我。",
    },
    "no_people": {"en": "No people yet: ingest some photos with faces first.", "zh": "还没有人物：先导入一些有人脸的照片。"},
    "people": {"en": "{n} people:", "zh": "共 {n} 人："},
    "photos": {"en": "{n} photos", "zh": "{n} 张照片"},
    "no_events": {"en": "No events yet.", "zh": "还没有事件。"},
    "events": {"en": "The latest {n} of {total} events:", "zh": "最近 {n} 个事件（共 {total} 个）："},
    "no_today": {"en": "Nothing from {day} in earlier years.", "zh": "往年的 {day} 没有记录。"},
    "today": {"en": "On this day ({day}):", "zh": "往年的今天（{day}）："},
    "year": {"en": "{year}: {photos} photos{events}", "zh": "{year} 年：{photos} 张照片{events}"},
    "added_photos": {"en": "Added {n} photo(s) to your library.", "zh": "已把 {n} 张照片加入资料库。"},
    "known_photos": {"en": "Already in your library ({n} photo(s)).", "zh": "资料库里已经有了（{n} 张照片）。"},
    "failed": {"en": "{n} file(s) could not be read: {reason}", "zh": "{n} 个文件无法读取：{reason}"},
    "with": {"en": "with {names}", "zh": "和 {names}"},
    "unnamed": {"en": "{n} face(s) not yet named", "zh": "{n} 张脸还没有名字"},
    "no_place": {"en": "no place known", "zh": "地点不明"},
    "ingested": {
        "en": "Imported {name} as {kind}: {added} new, {unchanged} unchanged, {failed} failed.",
        "zh": "已把 {name} 作为{kind}导入：新增 {added}，未变 {unchanged}，失败 {failed}。",
    },
    "problems": {"en": "Problems: {text}", "zh": "问题：{text}"},
    "heard": {"en": "I heard: {text}", "zh": "我听到：{text}"},
    "not_heard": {"en": "I could not make out any words in that voice note.", "zh": "这条语音里我没有听清任何话。"},
    "error": {"en": "Sorry, that did not work: {reason}", "zh": "抱歉，没有成功：{reason}"},
    "bug": {"en": "Sorry, something went wrong on my side; it has been logged.", "zh": "抱歉，我这边出错了，已记录。"},
    "unsupported": {"en": "I cannot read this kind of message; send text, a photo, a file or a voice note.",
                    "zh": "我读不了这种消息；请发文字、照片、文件或语音。"},
    "near_here": {"en": "What did I do near {place}?", "zh": "我在{place}附近做过什么？"},
    "sources": {"en": "Sources:", "zh": "出处："},
}
KIND_NAMES = {
    "photos": {"en": "photos", "zh": "照片"}, "chats": {"en": "chats", "zh": "聊天记录"},
    "diary": {"en": "diary", "zh": "日记"}, "tracks": {"en": "locations", "zh": "位置记录"},
}


def say(key: str, lang: str, **fields: Any) -> str:
    """A fixed text in ``lang`` (``zh`` or anything else for English), its fields filled in."""
    text = TEXTS[key]["zh" if lang == "zh" else "en"]
    return text.format(**fields) if fields else text


def language_of(text: str | None, default: str = "en") -> str:
    """``zh`` for text with Chinese in it, ``en`` for other text, ``default`` for none."""
    if not text or not text.strip():
        return default
    return "zh" if has_cjk(text) else "en"


def language_code(code: str | None) -> str:
    """A chat app's language code (``zh-hans``, ``en``) as ``zh`` or ``en``."""
    return "zh" if (code or "").lower().startswith("zh") else "en"


class SeenKeys:
    """The last ``size`` keys seen (update ids, MsgIds): a repeat is recognised, memory stays bounded."""

    def __init__(self, size: int = 2048):
        self.size = size
        self._keys: OrderedDict[Any, None] = OrderedDict()

    def add(self, key: Any) -> bool:
        """True the first time ``key`` is seen, False for a repeat."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True


class RedactSecrets(logging.Filter):
    """Replaces every secret in a log record's message (and its arguments) with ``***``.

    python-telegram-bot and httpx put the bot token in the URLs they log; this filter sits on
    the bot's log handler so that, whatever a library logs, the token never reaches stderr."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(s in text for s in self.secrets):
                for s in self.secrets:
                    text = text.replace(s, "***")
                record.msg, record.args = text, None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                for s in self.secrets:
                    record.exc_text = record.exc_text.replace(s, "***")
        return True


def secrets_of(settings) -> list[str]:
    """The bots' secrets in ``settings``: what no log line may show."""
    values = (settings.telegram_token, settings.wechat_token, settings.wechat_app_secret, settings.wechat_aes_key)
    return [v.get_secret_value() for v in values if v is not None and v.get_secret_value()]


def configure_logging(secrets: Iterable[str], level: int = logging.INFO) -> logging.Handler:
    """Log to stderr through a handler that redacts ``secrets``; the HTTP clients' request lines
    (which carry the token in the URL) are kept at WARNING."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    quiet_http_loggers()
    return handler


def quiet_http_loggers() -> None:
    """httpx logs every request URL at INFO, and python-telegram-bot its API URL at DEBUG: both
    carry the bot token, so neither level is ever emitted (the redacting handler is the second guard)."""
    for name in ("httpx", "httpcore", "urllib3", "telegram.ext.Updater", "apscheduler", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.INFO)


# ---------------------------------------------------------------- service results as text

def place_text(place: dict | None, lang: str) -> str | None:
    if not place:
        return None
    if lang == "zh" and place.get("city_zh"):
        parts = [place.get("city_zh"), place.get("region_zh"), place.get("country_zh")]
    else:
        parts = [place.get("city"), place.get("region"), place.get("country")]
    seen: list[str] = []
    for p in parts:
        if p and p not in seen:
            seen.append(p)
    return ", ".join(seen) if lang != "zh" else "，".join(seen)


def photo_line(details: dict, lang: str) -> str:
    """One ingested photo as what was found in it: date, place, people, description."""
    parts = []
    if details.get("taken_at"):
        parts.append(details["taken_at"][:10])
    parts.append(place_text(details.get("place"), lang) or say("no_place", lang))
    names = list(dict.fromkeys(f["person"] for f in details.get("faces") or [] if f.get("person")))
    unnamed = sum(1 for f in details.get("faces") or [] if not f.get("person"))
    if names:
        parts.append(say("with", lang, names=", ".join(names)))
    if unnamed:
        parts.append(say("unnamed", lang, n=unnamed))
    description = details.get("description_zh") if lang == "zh" else None
    description = description or details.get("description")
    if description:
        parts.append(description)
    return " · ".join(parts)


def photos_ack(result: dict, details: list[dict], lang: str) -> str:
    """The acknowledgement of ingested photos: how many, then what was found in each."""
    lines = []
    if details:
        lines.append(say("added_photos", lang, n=len(details)))
        lines.extend(f"• {photo_line(d, lang)}" for d in details[:10])
    if result.get("unchanged") or result.get("linked"):
        lines.append(say("known_photos", lang, n=result.get("unchanged", 0) + result.get("linked", 0)))
    lines.extend(_failures(result, lang))
    return "\n".join(lines) or say("known_photos", lang, n=0)


def ingest_ack(name: str, kind: str, result: dict, lang: str) -> str:
    """The acknowledgement of an imported document (chats, diary, locations)."""
    lines = [say("ingested", lang, name=name, kind=KIND_NAMES[kind]["zh" if lang == "zh" else "en"],
                 added=result.get("added", 0), unchanged=result.get("unchanged", 0), failed=result.get("failed", 0))]
    problems = [p.get("reason", "") for p in result.get("problems") or []][:3]
    if problems:
        lines.append(say("problems", lang, text="; ".join(problems)))
    return "\n".join(lines)


def _failures(result: dict, lang: str) -> list[str]:
    if not result.get("failed"):
        return []
    reasons = [p.get("reason", "") for p in result.get("problems") or [] if p.get("severity") != "warning"]
    return [say("failed", lang, n=result["failed"], reason="; ".join(reasons[:2]) or "?")]


def people_text(rows: list, lang: str, most: int = 40) -> str:
    named = [r for r in rows if r.name]
    if not named:
        return say("no_people", lang)
    lines = [say("people", lang, n=len(named))]
    lines.extend(f"• {r.name} ({say('photos', lang, n=r.photos)})" for r in named[:most])
    if len(named) > most:
        lines.append("…")
    return "\n".join(lines)


def event_line(e, lang: str) -> str:
    when = e.start[:10] if e.start[:10] == e.end[:10] else f"{e.start[:10]} – {e.end[:10]}"
    place = (e.place_zh if lang == "zh" and e.place_zh else e.place) or ""
    return " · ".join(x for x in (when, e.title, place) if x)


def events_text(rows: list, lang: str, most: int = 10) -> str:
    if not rows:
        return say("no_events", lang)
    latest = rows[-most:][::-1]
    return "\n".join([say("events", lang, n=len(latest), total=len(rows))] + [f"• {event_line(e, lang)}" for e in latest])


def today_text(result, lang: str) -> str:
    day = result.date[5:]
    if not result.years:
        return say("no_today", lang, day=day)
    lines = [say("today", lang, day=day)]
    for y in result.years:
        events = "".join(f"\n   – {event_line(e, lang)}" for e in y.events)
        lines.append("• " + say("year", lang, year=y.year, photos=len(y.photos), events=events))
    return "\n".join(lines)


def citation_lines(citations: list[dict], line) -> list[str]:
    """The non-photo citations (messages, diary entries, events) as one line each; photos are sent as pictures."""
    return [line(c) for c in citations if c.get("kind") != "photo"]


def photo_ids(citations: list[dict], most: int = 10) -> list[int]:
    """The cited photos' item ids, in citation order, at most ``most``."""
    ids = [c["item_id"] for c in citations if c.get("kind") == "photo" and isinstance(c.get("item_id"), int)]
    return list(dict.fromkeys(ids))[:most]
