"""Dominant colours of the image, foreground and background, with English and Chinese names."""

from PIL import Image, ImageDraw

from deepdiary.core.palette import colour_name
from deepdiary.pipeline.colours import dominant_colours


def top(colours, region):
    return [c for c in colours if c.region == region][0]


def test_centre_object_on_a_plain_background():
    img = Image.new("RGB", (400, 300), (30, 90, 210))
    ImageDraw.Draw(img).rectangle((100, 75, 299, 224), fill=(220, 30, 30))
    colours = dominant_colours(img)
    assert (top(colours, "foreground").name, top(colours, "foreground").name_zh) == ("red", "红色")
    assert (top(colours, "background").name, top(colours, "background").share) == ("blue", 1.0)
    image = {c.name: c.share for c in colours if c.region == "image"}
    assert image["blue"] == 0.75 and image["red"] == 0.25
    # The reported shade is the mean of the pixels named red (edges blur a little).
    assert all(abs(a - b) <= 8 for a, b in zip(top(colours, "foreground").rgb, (220, 30, 30)))


def test_everyday_shades_get_everyday_names():
    cases = {
        (135, 200, 240): "blue",  # a pale sky
        (25, 35, 90): "blue",  # navy
        (250, 250, 250): "white",
        (15, 15, 15): "black",
        (120, 120, 120): "gray",
        (40, 140, 50): "green",
        (250, 215, 20): "yellow",
        (245, 130, 20): "orange",
        (110, 65, 30): "brown",
        (240, 140, 180): "pink",
        (120, 40, 150): "purple",
    }
    for rgb, name in cases.items():
        assert top(dominant_colours(Image.new("RGB", (50, 50), rgb)), "image").name == name, rgb


def test_colour_words_in_both_languages():
    assert colour_name("Blue") == "blue"
    assert colour_name("蓝色") == "blue"
    assert colour_name("蓝") == "blue"
    assert colour_name("grey") == "gray"
    assert colour_name("粉红色") == "pink"
    assert colour_name("chartreuse") is None
