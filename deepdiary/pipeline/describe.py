"""One-sentence descriptions composed from the facts we extracted, in English and Chinese.

"Alice and Bob outdoors at a beach in Hangzhou, July 2023, mostly blue." No captioning
weights exist offline, so the sentence is built from people, count, scene, top tags,
place, date and colours; a BLIP backend or the local LLM can replace it when configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from deepdiary.core.palette import colour_zh
from deepdiary.pipeline.scenes import SCENES

_SETTING_EN = {"beach": "at a beach", "mountain": "in the mountains", "water": "by the water", "city": "in the city",
               "building": "by a building", "food": "with food", "plant": "with plants", "nature": "in nature"}
_SETTING_ZH = {"beach": "在海滩", "mountain": "在山里", "water": "在水边", "city": "在城市里", "building": "在建筑旁",
               "food": "在吃饭", "plant": "在花草间", "nature": "在大自然中"}
_NUM_ZH = "零一两三四五六七八九十"


@dataclass
class PhotoFacts:
    people: list[str] = field(default_factory=list)  # names of known people, in order
    face_count: int = 0
    scenes: list[str] = field(default_factory=list)  # strongest first
    tags: list[str] = field(default_factory=list)  # ImageNet labels, most likely first
    city: str | None = None
    country: str | None = None
    city_zh: str | None = None
    country_zh: str | None = None
    taken_at: datetime | None = None
    colour: str | None = None  # the dominant colour of the whole picture


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _join_en(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def describe_en(f: PhotoFacts) -> str:
    unnamed = f.face_count - len(f.people)
    if f.people:
        who = _join_en(f.people + ([f"{unnamed} other{'s' if unnamed > 1 else ''}"] if unnamed > 0 else []))
    elif f.face_count == 1:
        who = "A person"
    elif f.face_count > 1:
        who = f"A group of {f.face_count} people" if f.face_count >= 3 else "Two people"
    else:
        who = f"A photo of {_article(f.tags[0])} {f.tags[0]}" if f.tags else "A photo"
    parts = [who]
    place_kind = "outdoors" if "outdoor" in f.scenes else "indoors" if "indoor" in f.scenes else None
    if place_kind and (f.people or f.face_count):
        parts.append(place_kind)
    setting = next((s for s in f.scenes if s in _SETTING_EN), None)
    if setting and (f.people or f.face_count or setting in ("beach", "mountain", "water", "city")):
        parts.append(_SETTING_EN[setting])
    if f.city or f.country:
        parts.append("in " + (f.city or f.country))
    sentence = " ".join(parts)
    tail = []
    if f.taken_at:
        tail.append(f.taken_at.strftime("%B %Y"))
    if f.colour:
        tail.append(f"mostly {f.colour}")
    return sentence + (", " + ", ".join(tail) if tail else "") + "."


def describe_zh(f: PhotoFacts) -> str:
    when = f"{f.taken_at.year}年{f.taken_at.month}月" if f.taken_at else ""
    where = f.city_zh or f.country_zh or f.city or f.country or ""
    unnamed = f.face_count - len(f.people)
    if f.people:
        who = "、".join(f.people) + (f"和另外{unnamed}人" if unnamed > 0 else "")
    elif f.face_count:
        n = _NUM_ZH[f.face_count] if f.face_count <= 10 else str(f.face_count)
        who = f"{n}个人" if f.face_count > 1 else "一个人"
    else:
        who = ""
    setting = next((s for s in f.scenes if s in _SETTING_ZH), None)
    scene_zh = _SETTING_ZH[setting] if setting else ("在户外" if "outdoor" in f.scenes else "在室内" if "indoor" in f.scenes else "")
    place = f"在{where}" if where else ""
    subject = who or (f"一张{SCENES[f.scenes[0]]}照片" if f.scenes else "一张照片")
    text = f"{when}{place}，{subject}{scene_zh if who else ''}" if (when or place) else f"{subject}{scene_zh if who else ''}"
    if f.colour and colour_zh(f.colour):
        text += f"，以{colour_zh(f.colour)}为主"
    return text + "。"
