"""The face maker: balanced rows, the requested shape, faces kept undistorted, real pixels."""

import itertools
import random

import pytest
from PIL import Image

from deepdiary.core.ratio import parse_ratio
from deepdiary.pipeline.collage import Tile, layout, make_collage, plan_rows


def random_aspects(seed, n=24, lo=0.6, hi=1.6):
    rng = random.Random(seed)
    return [rng.uniform(lo, hi) for _ in range(n)]


def check_tiles(tiles, aspects, width, height, gap):
    """Every image placed once, inside the canvas, without overlap, rows flush to both edges,
    and each tile within 2% of its input's aspect ratio."""
    assert sorted(t.index for t in tiles) == list(range(len(aspects)))
    for t in tiles:
        assert t.width >= 1 and t.height >= 1
        assert 0 <= t.x and t.x + t.width <= width
        assert 0 <= t.y and t.y + t.height <= height
        assert abs((t.width / t.height) / aspects[t.index] - 1) < 0.02, t
    for s, t in itertools.combinations(tiles, 2):
        apart = (
            s.x + s.width <= t.x or t.x + t.width <= s.x or s.y + s.height <= t.y or t.y + t.height <= s.y
        )
        assert apart, (s, t)
    rows = {}
    for t in tiles:
        rows.setdefault(t.y, []).append(t)
    for row in rows.values():
        row.sort(key=lambda t: t.x)
        assert row[0].x == 0 and row[-1].x + row[-1].width == width
        assert all(b.x - (a.x + a.width) == gap for a, b in zip(row, row[1:]))
        assert len({t.height for t in row}) == 1
    # Rows are stacked top to bottom with one gap between them and none at the bottom.
    ys = sorted(rows)
    heights = [rows[y][0].height for y in ys]
    assert ys[0] == 0
    assert all(y2 - (y1 + h1) == gap for y1, y2, h1 in zip(ys, ys[1:], heights))
    assert ys[-1] + heights[-1] == height
    # The input order is kept, left to right and top to bottom.
    assert [t.index for y in ys for t in rows[y]] == list(range(len(aspects)))


def brute_force_rows(aspects, width, height, gap):
    """Try every way of cutting the sequence: per row count keep the most balanced cut, then
    keep the row count whose height is nearest the target."""
    n = len(aspects)
    per_k = {}
    for cuts in itertools.product([False, True], repeat=n - 1):
        rows, row = [], [0]
        for i, cut in enumerate(cuts, start=1):
            if cut:
                rows.append(row)
                row = []
            row.append(i)
        rows.append(row)
        sums = [sum(aspects[i] for i in r) for r in rows]
        cost = sum(s * s for s in sums)
        k = len(rows)
        if k not in per_k or cost < per_k[k][0]:
            per_k[k] = (cost, rows)
    best = None
    for k, (_, rows) in per_k.items():
        h = sum((width - gap * (len(r) - 1)) / sum(aspects[i] for i in r) for r in rows) + gap * (k - 1)
        if best is None or abs(h - height) < best[0]:
            best = (abs(h - height), rows)
    return best[1]


def test_six_squares_in_a_three_by_two_canvas_make_two_rows_of_three():
    assert plan_rows([1.0] * 6, 1200, 800) == [[0, 1, 2], [3, 4, 5]]


def test_nine_squares_in_a_square_canvas_make_a_three_by_three_grid():
    assert plan_rows([1.0] * 9, 900, 900) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    tiles, height = layout([1.0] * 9, 900, 1.0)
    check_tiles(tiles, [1.0] * 9, 900, height, gap=4)
    # (900 - 2 gaps) / 3 = 297.33 pixels a face: only rounding separates it from 900.
    assert abs(height - 900) <= 2
    assert {t.height for t in tiles} == {297} and {t.width for t in tiles} <= {297, 298}


def test_rows_are_balanced_not_greedy():
    # One wide panorama among squares: it gets a row of its own weight, not a row of five.
    rows = plan_rows([1, 1, 1, 1, 4, 1, 1, 1, 1], 1200, 900, gap=0)
    sums = [sum([1, 1, 1, 1, 4, 1, 1, 1, 1][i] for i in r) for r in rows]
    assert rows == [[0, 1, 2, 3], [4], [5, 6, 7, 8]]
    assert sums == [4, 4, 4]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("gap", [0, 4])
def test_plan_rows_matches_exhaustive_search(seed, gap):
    aspects = random_aspects(seed, n=9, lo=0.4, hi=2.5)
    for width, height in [(1200, 800), (800, 1200), (1920, 1080), (600, 600)]:
        assert plan_rows(aspects, width, height, gap) == brute_force_rows(aspects, width, height, gap)


@pytest.mark.parametrize(
    "seed, width, ratio",
    [(0, 1920, 16 / 9), (1, 1920, 16 / 9), (2, 1200, 4 / 3), (3, 1080, 1.0), (4, 1080, 9 / 16), (5, 2000, 3 / 2)],
)
def test_layout_fills_the_requested_shape_without_distorting_faces(seed, width, ratio):
    aspects = random_aspects(seed)
    tiles, height = layout(aspects, width, ratio)
    check_tiles(tiles, aspects, width, height, gap=4)
    # Row counts are whole numbers, so with two dozen faces the shape can only be approached
    # (4 rows give 726 px where 900 are asked for in the 4:3 case, 5 rows far more); which
    # row count is best is checked exhaustively above.
    assert abs(height - width / ratio) <= 0.25 * width / ratio


def test_many_faces_fit_the_shape_closely():
    aspects = random_aspects(7, n=200)
    tiles, height = layout(aspects, 1920, 16 / 9)
    check_tiles(tiles, aspects, 1920, height, gap=4)
    assert abs(height - 1080) <= 0.05 * 1080


def test_single_and_extreme_images():
    tiles, height = layout([0.75], 600, 16 / 9)
    assert tiles == [Tile(index=0, x=0, y=0, width=600, height=800)]
    assert height == 800

    # A panorama and a very tall strip among ordinary faces still keep their shapes.
    aspects = [1.0, 12.0, 0.8, 0.08, 1.3, 1.0, 0.7]
    tiles, height = layout(aspects, 1600, 16 / 9, gap=0)
    check_tiles(tiles, aspects, 1600, height, gap=0)


def test_gaps_too_wide_for_a_long_row_fall_back_to_fewer_faces_per_row():
    aspects = [1.0] * 12
    tiles, height = layout(aspects, 40, 1 / 20, gap=10)
    check_tiles(tiles, aspects, 40, height, gap=10)


def test_no_faces_is_an_error():
    with pytest.raises(ValueError, match="no faces to put in a collage"):
        plan_rows([], 100, 100)
    with pytest.raises(ValueError, match="no faces to put in a collage"):
        layout([], 100, 1.0)
    with pytest.raises(ValueError, match="no faces to put in a collage"):
        make_collage([])


def test_make_collage_pastes_each_face_where_its_tile_is():
    rng = random.Random(11)
    sizes = [(rng.randint(60, 160), rng.randint(60, 160)) for _ in range(15)]
    colours = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in sizes]
    images = [Image.new("RGB", size, colour) for size, colour in zip(sizes, colours)]
    out = make_collage(images, width=1000, ratio=4 / 3, gap=6, background=(0, 0, 0))

    tiles, height = layout([w / h for w, h in sizes], 1000, 4 / 3, gap=6)
    assert out.size == (1000, height)
    assert out.mode == "RGB"
    for t in tiles:
        centre = out.getpixel((t.x + t.width // 2, t.y + t.height // 2))
        assert centre == colours[t.index], t
    # The gaps keep the background colour.
    first_row = sorted((t for t in tiles if t.y == 0), key=lambda t: t.x)
    assert out.getpixel((first_row[0].width + 2, first_row[0].height // 2)) == (0, 0, 0)


def test_make_collage_defaults_and_transparent_faces():
    faces = [Image.new("RGBA", (90, 120), (200, 40, 40, 0)) for _ in range(5)]
    faces += [Image.new("L", (120, 90), 128) for _ in range(5)]
    out = make_collage(faces)
    assert out.width == 1920
    tiles, height = layout([f.width / f.height for f in faces], 1920, 16 / 9)
    assert out.height == height
    for t in tiles:
        centre = out.getpixel((t.x + t.width // 2, t.y + t.height // 2))
        # Fully transparent faces show the white background; grey faces are grey.
        assert centre == ((255, 255, 255) if t.index < 5 else (128, 128, 128))


def test_parse_ratio():
    assert parse_ratio("16:9") == pytest.approx(16 / 9)
    assert parse_ratio("4/3") == pytest.approx(4 / 3)
    assert parse_ratio("1.5") == 1.5
    assert parse_ratio(" 1:1 ") == 1.0
    for bad in ["wide", "", "16:", ":9", "0:9", "16:0", "-1", "1:2:3", "nan"]:
        with pytest.raises(ValueError, match="aspect ratio"):
            parse_ratio(bad)
