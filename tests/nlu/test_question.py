"""The deterministic question parser: each phrasing with its exact parse, English and Chinese."""

import re
from datetime import date, datetime, time

import pytest

from deepdiary.memory.chat_query import ChatQuery
from deepdiary.memory.library import Library
from deepdiary.memory.query import ColourFacet, PhotoQuery
from deepdiary.nlu.question import ParsedQuestion, parse_question
from deepdiary.memory.tables import Item, ItemTag, Person, Place
from deepdiary.core.settings import Settings

TODAY = date(2026, 11, 24)  # a Tuesday


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    lib = Library.open(Settings(home=tmp_path_factory.mktemp("question")))
    with lib.session() as s:
        s.add_all([
            Person(name="Alice", aliases="爱丽丝"), Person(name="Bob"),
            Person(name="李雷", aliases="Li Lei"), Person(name="韩梅梅", aliases="Meimei"),
            Person(),  # an unnamed face cluster: never matched
            Place(city="Hangzhou", city_zh="杭州", admin1="Zhejiang", admin1_zh="浙江省", country="China",
                  country_zh="中国", country_code="CN", lat=30.27, lon=120.16),
            Place(city="Paris", admin1="Île-de-France", country="France", country_zh="法国", country_code="FR",
                  lat=48.86, lon=2.35),
        ])
        item = Item(kind="photo")
        s.add(item)
        s.flush()
        s.add_all([ItemTag(item_id=item.id, name="birthday", name_zh="生日", kind="user"),
                   ItemTag(item_id=item.id, name="beach", name_zh="海滩", kind="scene", source="model")])
        s.commit()
        yield s
    lib.close()


def span(a: date, b: date, words: str) -> dict:
    return {"date_from": datetime.combine(a, time.min), "date_to": datetime.combine(b, time(23, 59, 59)),
            "time_words": words}


def year(y: int, words: str) -> dict:
    return span(date(y, 1, 1), date(y, 12, 31), words)


def month(y: int, m: int, last: int, words: str) -> dict:
    return span(date(y, m, 1), date(y, m, last), words)


def day(y: int, m: int, d: int, words: str) -> dict:
    return span(date(y, m, d), date(y, m, d), words)


def colour(name: str, region: str = "image") -> dict:
    return {"name": name, "region": region}


SUMMER_2026 = (date(2026, 6, 1), date(2026, 8, 31))
SUMMER_2025 = (date(2025, 6, 1), date(2025, 8, 31))
LAST_WEEKEND = (date(2026, 11, 21), date(2026, 11, 22))
LAST_30_DAYS = (date(2026, 10, 25), TODAY)

# question -> every field that differs from its default (text and language aside)
CASES: list[tuple[str, dict]] = [
    # English
    ("photos of Alice at the beach last summer",
     {"intent": "photos", **span(*SUMMER_2026, "last summer"), "persons": ["Alice"], "scenes": ["beach"]}),
    ("red photos with two people", {"intent": "photos", "colours": [colour("red")], "people_count": 2}),
    ("what did Bob say about the trip in May 2023",
     {"intent": "chats", **month(2023, 5, 31, "May 2023"), "persons": ["Bob"], "speaker": "Bob", "keywords": "trip"}),
    ("pictures from two years ago on weekends",
     {"intent": "photos", **year(2024, "two years ago"), "weekdays": [5, 6]}),
    ("who did I meet most in 2023", {"intent": "graph_met_most", **year(2023, "in 2023")}),
    ("Alise's photos in Paris", {"intent": "photos", "persons": ["Alice"], "places": ["Paris"]}),
    ("how are Alice and 李雷 connected", {"intent": "graph_connect", "persons": ["Alice", "李雷"]}),
    ("who can help me fix a bike", {"intent": "match_demand", "keywords": "fix bike"}),
    ("describe photo 12", {"intent": "describe_photo", "photo_id": 12}),
    ("where did I travel last year", {"intent": "places", **year(2025, "last year")}),
    ("what did I write in my diary about tea", {"intent": "diary", "keywords": "tea"}),
    ("photos in Hangzhou last weekend", {"intent": "photos", **span(*LAST_WEEKEND, "last weekend"), "places": ["Hangzhou"]}),
    ("pictures of Bob and Meimei in France", {"intent": "photos", "persons": ["Bob", "韩梅梅"], "places": ["France"]}),
    ("show me square pictures from 3 March 2024",
     {"intent": "photos", **day(2024, 3, 3, "3 March 2024"), "layout": "square"}),
    ("photos with a blue background from the summer of 2023",
     {"intent": "photos", **span(date(2023, 6, 1), date(2023, 8, 31), "the summer of 2023"),
      "colours": [colour("blue", "background")]}),
    ("photos with red in the foreground and blue in the background",
     {"intent": "photos", "colours": [colour("red", "foreground"), colour("blue", "background")]}),
    ("landscape photos of mountains in Japan",
     {"intent": "photos", "layout": "wide", "scenes": ["mountain"], "places": ["Japan"]}),
    ("a group of four at the beach", {"intent": "photos", "people_count": 4, "scenes": ["beach"]}),
    ("selfies of Alice from March 3, 2024",
     {"intent": "photos", **day(2024, 3, 3, "March 3, 2024"), "persons": ["Alice"]}),
    ("photos like photo 12", {"intent": "photos", "photo_id": 12}),
    ("Li Lei's pictures in Tokyo", {"intent": "photos", "persons": ["李雷"], "places": ["Tokyo"]}),
    ("photos taken on Sundays in China", {"intent": "photos", "weekdays": [6], "places": ["China"]}),
    ("green pictures recently", {"intent": "photos", **span(*LAST_30_DAYS, "recently"), "colours": [colour("green")]}),
    ("birthday photos of Alice", {"intent": "photos", "persons": ["Alice"], "tags": ["birthday"]}),
    ("vertical photos of my cat this winter",
     {"intent": "photos", **span(date(2026, 12, 1), date(2027, 2, 28), "this winter"), "layout": "tall",
      "scenes": ["pet"]}),
    ("pics with 3 people in Zhejiang", {"intent": "photos", "people_count": 3, "places": ["Zhejiang"]}),
    ("photos of Bobby", {"intent": "photos", "keywords": "bobby"}),  # no typo tolerance for names under 4 letters
    ("what did Alice tell me about the concert last week",
     {"intent": "chats", **span(date(2026, 11, 16), date(2026, 11, 22), "last week"), "persons": ["Alice"],
      "speaker": "Alice", "keywords": "concert"}),
    ("messages from Bob yesterday",
     {"intent": "chats", **day(2026, 11, 23, "yesterday"), "persons": ["Bob"], "speaker": "Bob"}),
    ("what did I tell Bob about the party", {"intent": "chats", "persons": ["Bob"], "keywords": "bob party"}),
    ("who is Alice", {"intent": "person_profile", "persons": ["Alice"]}),
    ("tell me about Li Lei", {"intent": "person_profile", "persons": ["李雷"]}),
    ("when did I last see Bob", {"intent": "person_profile", "persons": ["Bob"]}),
    ("who was with me in Paris", {"intent": "people", "places": ["Paris"]}),
    ("which places did I visit in 2024", {"intent": "places", **year(2024, "in 2024")}),
    ("what happened on 3 March 2024", {"intent": "events", **day(2024, 3, 3, "3 March 2024")}),
    ("what did we do last weekend", {"intent": "events", **span(*LAST_WEEKEND, "last weekend")}),
    ("what's the date today", {"intent": "today", **day(2026, 11, 24, "today")}),
    ("what day is it", {"intent": "today"}),
    ("how many photos do I have", {"intent": "stats"}),
    ("who connects Alice and Bob", {"intent": "graph_connect", "persons": ["Alice", "Bob"]}),
    ("who knows about wine", {"intent": "match_demand", "keywords": "wine"}),
    ("what did I write in my journal last month", {"intent": "diary", **month(2026, 10, 31, "last month")}),
    ("photos from 14.03.2024", {"intent": "photos", **day(2024, 3, 14, "from 14.03.2024")}),
    ("who did I see most often last year", {"intent": "graph_met_most", **year(2025, "last year")}),
    ("photos of alice in paris", {"intent": "photos", "persons": ["Alice"], "places": ["Paris"]}),
    ("tea with Alice", {"intent": "chats", "persons": ["Alice"], "keywords": "tea alice"}),
    # Chinese
    ("去年夏天在杭州和李雷的照片",
     {"intent": "photos", **span(*SUMMER_2025, "去年夏天"), "persons": ["李雷"], "places": ["Hangzhou"]}),
    ("蓝色背景的竖版照片", {"intent": "photos", "colours": [colour("blue", "background")], "layout": "tall"}),
    ("上个月韩梅梅说了什么",
     {"intent": "chats", **month(2026, 10, 31, "上个月"), "persons": ["韩梅梅"], "speaker": "韩梅梅"}),
    ("今天几号", {"intent": "today", **day(2026, 11, 24, "今天")}),
    ("我有多少张照片", {"intent": "stats"}),
    ("我去年夏天做了什么", {"intent": "events", **span(*SUMMER_2025, "去年夏天")}),
    ("李雷是谁", {"intent": "person_profile", "persons": ["李雷"]}),
    ("我最后一次见爱丽丝是什么时候", {"intent": "person_profile", "persons": ["Alice"]}),
    ("去年我和谁去了巴黎", {"intent": "people", **year(2025, "去年"), "places": ["Paris"]}),
    ("我去年去过哪些地方", {"intent": "places", **year(2025, "去年")}),
    ("2023年夏天在法国拍的照片",
     {"intent": "photos", **span(date(2023, 6, 1), date(2023, 8, 31), "2023年夏天"), "places": ["France"]}),
    ("前年的横版照片", {"intent": "photos", **year(2024, "前年"), "layout": "wide"}),
    ("三年前的合影", {"intent": "photos", **year(2023, "三年前"), "scenes": ["group"]}),
    ("三个人的合影", {"intent": "photos", "people_count": 3}),  # "group" would mean 3+ faces: the count says it
    ("两个人在海边的照片", {"intent": "photos", "people_count": 2, "scenes": ["beach"]}),
    ("3人的照片", {"intent": "photos", "people_count": 3}),
    ("红色的照片", {"intent": "photos", "colours": [colour("red")]}),
    ("背景是蓝色的照片", {"intent": "photos", "colours": [colour("blue", "background")]}),
    ("蓝底照片", {"intent": "photos", "colours": [colour("blue", "background")]}),
    ("前景是红色，背景是白色的照片",
     {"intent": "photos", "colours": [colour("red", "foreground"), colour("white", "background")]}),
    ("网红店的照片", {"intent": "photos", "keywords": "网红店"}),  # 红 inside a word is no colour
    ("上周末的照片", {"intent": "photos", **span(*LAST_WEEKEND, "上周末")}),
    ("最近的照片", {"intent": "photos", **span(*LAST_30_DAYS, "最近")}),
    ("周末在杭州拍的照片", {"intent": "photos", "weekdays": [5, 6], "places": ["Hangzhou"]}),
    ("星期天的照片", {"intent": "photos", "weekdays": [6]}),
    ("照片12里有什么", {"intent": "describe_photo", "photo_id": 12}),
    ("第5张照片", {"intent": "describe_photo", "photo_id": 5}),
    ("和照片12相似的照片", {"intent": "photos", "photo_id": 12}),
    ("上个月韩梅梅在微信上说了什么",
     {"intent": "chats", **month(2026, 10, 31, "上个月"), "persons": ["韩梅梅"], "speaker": "韩梅梅"}),
    ("李雷跟我说过什么", {"intent": "chats", "persons": ["李雷"], "speaker": "李雷"}),
    ("我跟李雷说了什么", {"intent": "chats", "persons": ["李雷"], "keywords": "李雷"}),  # 李雷 is spoken to
    ("爱丽丝提到过那家餐厅吗", {"intent": "chats", "persons": ["Alice"], "speaker": "Alice", "keywords": "那家餐厅"}),
    ("日记里关于喝茶写了什么", {"intent": "diary", "keywords": "喝茶"}),
    ("我去年见得最多的人是谁", {"intent": "graph_met_most", **year(2025, "去年")}),
    ("爱丽丝和李雷是怎么认识的", {"intent": "graph_connect", "persons": ["Alice", "李雷"]}),
    ("谁能帮我修自行车", {"intent": "match_demand", "scenes": ["vehicle"], "keywords": "修自行车"}),
    ("谁懂摄影", {"intent": "match_demand", "keywords": "摄影"}),
    ("今天星期几", {"intent": "today", **day(2026, 11, 24, "今天")}),
    ("去年五月的照片", {"intent": "photos", **month(2025, 5, 31, "去年五月")}),
    ("2024年3月3日发生了什么", {"intent": "events", **day(2024, 3, 3, "2024年3月3日")}),
    ("韩梅梅去年在浙江的照片",
     {"intent": "photos", **year(2025, "去年"), "persons": ["韩梅梅"], "places": ["Zhejiang"]}),
    ("美国的照片", {"intent": "photos", "places": ["United States"]}),
    ("正方形的照片", {"intent": "photos", "layout": "square"}),
    ("有猫的照片", {"intent": "photos", "scenes": ["pet"]}),
    ("2023年12月在北京的照片", {"intent": "photos", **month(2023, 12, 31, "2023年12月"), "places": ["Beijing"]}),
    ("最近三天的照片", {"intent": "photos", **span(date(2026, 11, 21), TODAY, "最近三天")}),
    ("生日照片", {"intent": "photos", "tags": ["birthday"]}),
    ("我和爱丽丝的合照", {"intent": "photos", "persons": ["Alice"]}),
    ("我有多少条消息", {"intent": "stats"}),
]

DEFAULTS = {name: field.get_default(call_default_factory=True)
            for name, field in ParsedQuestion.model_fields.items() if name not in ("text", "language", "intent", "cued")}


def parse(session, text: str, **kwargs) -> ParsedQuestion:
    return parse_question(session, text, TODAY, **kwargs)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_parse(session, text, expected):
    language = "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"
    assert parse(session, text).model_dump(exclude={"cued"}) == {"text": text, "language": language, **DEFAULTS,
                                                                 **expected}


@pytest.mark.parametrize(("text", "cued"), [
    ("photos in Hangzhou last July", True), ("李雷关于茶说了什么？", True), ("red background", True),
    ("hello", False), ("Hangzhou last July", False),
])
def test_the_question_or_only_the_fallback_chose_the_intent(session, text, cued):
    # A cued question's search is made without asking the model which one to make.
    assert parse(session, text).cued is cued


def test_enough_phrasings_in_both_languages():
    zh = sum(bool(re.search(r"[\u4e00-\u9fff]", text)) for text, _ in CASES)
    assert zh >= 35 and len(CASES) - zh >= 35


def q_range(a: date, b: date) -> dict:
    return {"date_from": datetime.combine(a, time.min), "date_to": datetime.combine(b, time(23, 59, 59))}


PHOTO_QUERIES = [
    ("photos of Alice at the beach last summer", PhotoQuery(**q_range(*SUMMER_2026), persons=["Alice"], scenes=["beach"])),
    ("去年夏天在杭州和李雷的照片", PhotoQuery(**q_range(*SUMMER_2025), place="Hangzhou", persons=["李雷"])),
    ("red photos with two people", PhotoQuery(colours=[ColourFacet(name="red")], people_count=2)),
    ("蓝色背景的竖版照片", PhotoQuery(colours=[ColourFacet(name="blue", region="background")], layout="tall")),
    ("pictures from two years ago on weekends", PhotoQuery(**q_range(date(2024, 1, 1), date(2024, 12, 31)), weekdays=[5, 6])),
    ("Alise's photos in Paris", PhotoQuery(place="Paris", persons=["Alice"])),
    ("pictures of Bob and Meimei in France", PhotoQuery(place="France", persons=["Bob", "韩梅梅"])),
    ("photos like photo 12", PhotoQuery(like_item=12)),
    ("和照片12相似的照片", PhotoQuery(like_item=12)),
    ("birthday photos of Alice", PhotoQuery(persons=["Alice"], tags=["birthday"])),
    ("photos with red in the foreground and blue in the background",
     PhotoQuery(colours=[ColourFacet(name="red", region="foreground"), ColourFacet(name="blue", region="background")])),
    ("两个人在海边的照片", PhotoQuery(people_count=2, scenes=["beach"])),
    ("周末在杭州拍的照片", PhotoQuery(weekdays=[5, 6], place="Hangzhou")),
    ("美国的照片", PhotoQuery(place="United States")),
    ("photos of Bobby", PhotoQuery(text="bobby")),
]

CHAT_QUERIES = [
    ("what did Bob say about the trip in May 2023",
     ChatQuery(text="trip", **q_range(date(2023, 5, 1), date(2023, 5, 31)), with_person="Bob", use_time_words=False)),
    ("上个月韩梅梅说了什么",
     ChatQuery(text="上个月韩梅梅说了什么", **q_range(date(2026, 10, 1), date(2026, 10, 31)), with_person="韩梅梅",
               use_time_words=False)),
    ("what did I write in my diary about tea", ChatQuery(text="tea", kinds=["diary"], use_time_words=False)),
    ("日记里关于喝茶写了什么", ChatQuery(text="喝茶", kinds=["diary"], use_time_words=False)),
    ("what did I tell Bob about the party", ChatQuery(text="bob party", use_time_words=False)),
    ("messages from Bob yesterday",
     ChatQuery(text="messages from Bob yesterday", **q_range(date(2026, 11, 23), date(2026, 11, 23)),
               with_person="Bob", use_time_words=False)),
    ("李雷跟我说过什么", ChatQuery(text="李雷跟我说过什么", with_person="李雷", use_time_words=False)),
    ("爱丽丝提到过那家餐厅吗", ChatQuery(text="那家餐厅", with_person="Alice", use_time_words=False)),
    ("what did I write in my journal last month",
     ChatQuery(text="what did I write in my journal last month", **q_range(date(2026, 10, 1), date(2026, 10, 31)),
               kinds=["diary"], use_time_words=False)),
]


@pytest.mark.parametrize(("text", "expected"), PHOTO_QUERIES, ids=[c[0] for c in PHOTO_QUERIES])
def test_photo_query(session, text, expected):
    assert parse(session, text).photo_query().model_dump() == expected.model_dump()


@pytest.mark.parametrize(("text", "expected"), CHAT_QUERIES, ids=[c[0] for c in CHAT_QUERIES])
def test_chat_query(session, text, expected):
    assert parse(session, text).chat_query().model_dump() == expected.model_dump()


def test_gazetteer_can_be_left_out(session):
    assert parse(session, "Li Lei's pictures in Tokyo", gazetteer=False).places == []
    assert parse(session, "去年夏天在杭州和李雷的照片", gazetteer=False).places == ["Hangzhou"]  # the catalogue's own


def test_same_question_same_parse(session):
    text = "去年夏天在杭州和李雷的照片"
    assert parse(session, text) == parse(session, text)
