"""The named colour palette, in English and Chinese, shared by colour analysis and search."""

from __future__ import annotations

# name -> (Chinese name, reference shades in sRGB)
PALETTE: dict[str, tuple[str, list[tuple[int, int, int]]]] = {
    "black": ("黑色", [(0, 0, 0), (30, 30, 30)]),
    "gray": ("灰色", [(128, 128, 128), (80, 80, 80), (175, 175, 175)]),
    "white": ("白色", [(255, 255, 255), (230, 230, 225)]),
    "red": ("红色", [(220, 20, 30), (160, 20, 30), (255, 60, 60)]),
    "orange": ("橙色", [(255, 140, 0), (240, 110, 30)]),
    "yellow": ("黄色", [(255, 220, 0), (240, 230, 110), (200, 180, 30)]),
    "green": ("绿色", [(40, 160, 40), (20, 90, 30), (140, 200, 90), (90, 110, 40)]),
    "cyan": ("青色", [(0, 180, 180), (90, 220, 220), (0, 110, 120)]),
    "blue": ("蓝色", [(30, 80, 220), (20, 30, 110), (135, 190, 235), (70, 130, 200)]),
    "purple": ("紫色", [(130, 50, 160), (80, 30, 100), (180, 140, 210)]),
    "pink": ("粉色", [(255, 150, 190), (230, 80, 150), (250, 200, 210)]),
    "brown": ("棕色", [(120, 70, 30), (80, 50, 25), (190, 150, 110)]),
}

# Other words a person may use for a palette colour, English and Chinese.
ALIASES: dict[str, str] = {
    "grey": "gray", "silver": "gray", "navy": "blue", "teal": "cyan", "violet": "purple",
    "beige": "brown", "tan": "brown", "gold": "yellow", "golden": "yellow", "magenta": "pink",
    "黑": "black", "白": "white", "灰": "gray", "银色": "gray", "红": "red", "橙": "orange",
    "橘色": "orange", "黄": "yellow", "金色": "yellow", "绿": "green", "青": "cyan",
    "蓝": "blue", "天蓝色": "blue", "紫": "purple", "粉": "pink", "粉红色": "pink",
    "棕": "brown", "褐色": "brown", "咖啡色": "brown",
}




def colour_name(word: str) -> str | None:
    """The palette name for an English or Chinese colour word, or None."""
    word = word.strip().lower()
    if word in PALETTE:
        return word
    if word in ALIASES:
        return ALIASES[word]
    for name, (zh, _) in PALETTE.items():
        if word == zh:
            return name
    return None


def colour_zh(name: str) -> str | None:
    entry = PALETTE.get(name)
    return entry[0] if entry else None
