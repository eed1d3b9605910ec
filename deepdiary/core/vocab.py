"""The scene words people search by, in English and Chinese, shared by enrichment, search and the question parser."""

from __future__ import annotations

SCENES: dict[str, str] = {
    "outdoor": "户外", "indoor": "室内", "beach": "海滩", "mountain": "山景", "water": "水边",
    "nature": "自然", "plant": "植物", "city": "城市", "building": "建筑", "food": "美食",
    "animal": "动物", "pet": "宠物", "vehicle": "交通工具", "document": "文档",
    "people": "人物", "group": "合影", "sport": "运动",
}

SCENE_ALIASES = {
    "seaside": "beach", "seashore": "beach", "海边": "beach", "沙滩": "beach", "mountains": "mountain",
    "山": "mountain", "山区": "mountain", "lake": "water", "river": "water", "湖边": "water", "河边": "water",
    "urban": "city", "street": "city", "街道": "city", "街景": "city", "architecture": "building",
    "建筑物": "building", "meal": "food", "dinner": "food", "吃饭": "food", "食物": "food", "美食": "food",
    "animals": "animal", "dog": "pet", "cat": "pet", "狗": "pet", "猫": "pet", "car": "vehicle",
    "车": "vehicle", "汽车": "vehicle", "paper": "document", "text": "document", "文件": "document",
    "person": "people", "portrait": "people", "人": "people", "人像": "people", "group photo": "group",
    "集体照": "group", "outside": "outdoor", "inside": "indoor", "室外": "outdoor", "flowers": "plant",
    "flower": "plant", "花": "plant", "植物": "plant", "花卉": "plant", "sports": "sport", "体育": "sport",
}


def scene_word(text: str) -> str | None:
    """The scene a word names, English or Chinese ("beach", "海滩", "海边")."""
    text = text.strip().lower()
    if text in SCENES:
        return text
    for scene, zh in SCENES.items():
        if text == zh:
            return scene
    return SCENE_ALIASES.get(text)
