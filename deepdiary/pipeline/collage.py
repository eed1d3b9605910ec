"""The face maker: tile many face crops into one picture of a chosen shape.

Faces must not be cropped or squashed, so each crop keeps its aspect ratio and only
its size is free. That is the justified-gallery problem: put the crops, in order, into
rows, and scale each row so that it spans the full width exactly. A row whose aspect
ratios sum to S is then (width - gaps) / S tall, so every choice of row breaks fixes
the height of the whole picture, and the number of rows k is the main dial on it: few
rows make a wide strip, many rows a tall column.

For a given k the best breaks are those that make the rows' aspect sums as equal as
possible (the "linear partition" problem), because a row with a much smaller sum
than the others comes out as one giant row of huge faces. Minimising the sum of
squared deviations from the ideal sum T/k is a classic dynamic programme over the
prefix sums; doing it for k rows reuses the table for k - 1 rows, so all k are found
in one sweep. Among those balanced layouts we keep the k whose height comes nearest to
width / ratio; near-ties (within half a pixel, which rounding erases anyway) go to the
better balanced one. The sweep stops once even a perfectly balanced layout with more
rows would be taller than the best one found, since heights only grow from there.

Pixels are whole numbers, so each tile's edges are rounded from their exact positions:
sizes are off by at most a pixel and every row still ends exactly at the right edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

_NO_FACES = "no faces to put in a collage"
_TIE_PX = 0.5  # height differences below this are invisible once rounded to pixels


@dataclass
class Tile:
    """Where one input image lands in the output."""

    index: int  # index into the input list
    x: int
    y: int
    width: int
    height: int


def _check_aspects(aspects) -> np.ndarray:
    a = np.asarray(list(aspects), dtype=np.float64)
    if a.size == 0:
        raise ValueError(_NO_FACES)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError("every aspect ratio must be a positive, finite number")
    return a


def _row_heights(aspects: np.ndarray, rows: list[list[int]], width: float, gap: float) -> list[float]:
    """Exact (unrounded) height of each row when scaled to span `width`."""
    return [(width - gap * (len(r) - 1)) / float(aspects[r].sum()) for r in rows]


def plan_rows(aspects: list[float], target_width: int, target_height: int, gap: int = 4) -> list[list[int]]:
    """Split the sequence of images (kept in order) into rows with the linear-partition DP.

    aspects[i] = width/height of image i. Choose the number of rows k and the breaks so that,
    when every row is scaled to the full target width, the total height is as close as possible
    to the target height, while rows stay balanced (minimise the sum of squared deviations of
    each row's aspect sum from the ideal per-row sum). Return the rows as lists of image indices.
    """
    a = _check_aspects(aspects)
    if not target_width >= 1:
        raise ValueError(f"target width must be at least 1 pixel, got {target_width}")
    if not (target_height > 0 and math.isfinite(target_height)):
        raise ValueError(f"target height must be a positive number, got {target_height}")
    if gap < 0:
        raise ValueError(f"gap must not be negative, got {gap}")

    n = a.size
    W, H, g = float(target_width), float(target_height), float(gap)
    prefix = np.concatenate(([0.0], np.cumsum(a)))
    total = prefix[-1]

    # cost[i, j]: squared aspect sum of a row holding images i..j-1 (i < j). Minimising the sum
    # of S_r**2 is the same as minimising the sum of (S_r - T/k)**2, since the S_r add up to T.
    # A row is impossible when its gaps leave less than one pixel per image.
    i_idx = np.arange(n + 1)[:, None]
    j_idx = np.arange(n + 1)[None, :]
    count = j_idx - i_idx
    feasible = (count >= 1) & (W - g * (count - 1) >= count)
    cost = np.where(feasible, (prefix[None, :] - prefix[:, None]) ** 2, np.inf)

    best = None  # (height error, imbalance, rows)
    parents: list[np.ndarray] = []
    layer = np.full(n + 1, np.inf)
    layer[0] = 0.0  # zero images in zero rows
    for k in range(1, n + 1):
        candidates = layer[:, None] + cost  # candidates[i, j]: first i images in k-1 rows, then i..j-1
        parent = np.argmin(candidates, axis=0)
        layer = candidates[parent, np.arange(n + 1)]
        parents.append(parent)

        if math.isfinite(layer[n]):
            rows, end = [], n
            for p in reversed(parents):
                start = int(p[end])
                rows.append(list(range(start, end)))
                end = start
            rows.reverse()
            height = sum(_row_heights(a, rows, W, g)) + g * (k - 1)
            ideal = total / k
            imbalance = sum((float(a[r].sum()) / ideal - 1.0) ** 2 for r in rows)
            error = abs(height - H)
            if (
                best is None
                or error < best[0] - _TIE_PX
                or (error <= best[0] + _TIE_PX and imbalance < best[1])
            ):
                best = (error, imbalance, rows)

        # Lower bound on the height of any layout with k + 1 rows or more: rows hold at most
        # n - k images, and by convexity sum(1/S_r) >= k**2 / T. It grows with k, so once it
        # passes the best height found, no later k can win.
        k1 = k + 1
        narrowest = W - g * (n - k1)
        if best is not None and narrowest > 0:
            bound = narrowest * k1 * k1 / total + g * (k1 - 1)
            if bound - H > best[0] + _TIE_PX:
                break

    assert best is not None  # one image per row is always feasible
    return best[2]


def _split(total: int, parts: list[float]) -> list[int]:
    """Integer sizes (each >= 1) adding up to `total`, each within about a pixel of its
    share; edges are rounded from exact cumulative positions so errors never pile up."""
    scale = total / sum(parts)
    edges = [0]
    acc = 0.0
    for p in parts[:-1]:
        acc += p * scale
        edges.append(int(round(acc)))
    edges.append(total)
    sizes = [b - e for e, b in zip(edges, edges[1:])]
    # A sliver that rounded to nothing borrows a pixel from the widest tile.
    for i, s in enumerate(sizes):
        while sizes[i] < 1:
            widest = max(range(len(sizes)), key=sizes.__getitem__)
            sizes[widest] -= 1
            sizes[i] += 1
    return sizes


def layout(aspects: list[float], width: int, ratio: float, gap: int = 4) -> tuple[list[Tile], int]:
    """Tiles for every image and the final canvas height.

    Every row spans exactly `width`; images keep their aspect ratio except for at most a pixel
    or so of rounding, so faces are never cropped or squashed visibly.
    """
    a = _check_aspects(aspects)
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ValueError(f"ratio must be a positive number, got {ratio}")
    width = int(width)
    rows = plan_rows(list(a), width, width / ratio, gap)

    tiles: list[Tile] = []
    y = 0
    for r, row in enumerate(rows):
        available = width - gap * (len(row) - 1)
        exact_height = available / float(a[row].sum())
        row_height = max(1, int(round(exact_height)))
        x = 0
        for idx, w in zip(row, _split(available, [float(a[i]) for i in row])):
            tiles.append(Tile(index=idx, x=x, y=y, width=w, height=row_height))
            x += w + gap
        y += row_height + (gap if r < len(rows) - 1 else 0)
    return tiles, y


def make_collage(
    images: list[Image.Image],
    width: int = 1920,
    ratio: float = 16 / 9,
    gap: int = 4,
    background=(255, 255, 255),
) -> Image.Image:
    """Render the collage: exactly `width` wide and as close to width/ratio tall as the row
    layout allows (the actual height is the image's height; nothing is stretched to fit)."""
    images = list(images)
    if not images:
        raise ValueError(_NO_FACES)
    for i, im in enumerate(images):
        if im.width < 1 or im.height < 1:
            raise ValueError(f"face {i} is an empty image ({im.width}x{im.height})")
    tiles, height = layout([im.width / im.height for im in images], width, ratio, gap)

    canvas = Image.new("RGB", (int(width), height), tuple(background))
    for t in tiles:
        im = images[t.index]
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA").resize((t.width, t.height), Image.Resampling.LANCZOS)
            canvas.paste(rgba.convert("RGB"), (t.x, t.y), rgba)
        else:
            canvas.paste(im.convert("RGB").resize((t.width, t.height), Image.Resampling.LANCZOS), (t.x, t.y))
    return canvas
