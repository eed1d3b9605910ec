"""Dominant colours of a picture, of its foreground and of its background.

Every pixel is given the nearest colour of a fixed, named palette (nearest in CIELAB,
which follows perceived difference better than RGB). Each palette colour has several
reference shades, so a pale sky and a navy coat are both "blue".

Foreground and background come from a centre-versus-border split, not from saliency:
the foreground is the central rectangle spanning the middle half of the width and of
the height (a quarter of the area), the background is everything outside it. Photos
are framed around their subject, so this is a fair, model-free stand-in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from deepdiary.core.palette import PALETTE

def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0..255, shape (..., 3)) to CIELAB under D65."""
    c = rgb.astype(np.float32) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array(
        [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]],
        dtype=np.float32,
    )
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883], dtype=np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.stack(
        [116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


_NAMES = list(PALETTE)
_REF_NAME = np.array([i for i, n in enumerate(_NAMES) for _ in PALETTE[n][1]])
_REF_LAB = _srgb_to_lab(np.array([rgb for n in _NAMES for rgb in PALETTE[n][1]], dtype=np.float32))


@dataclass
class Colour:
    region: str
    rank: int
    name: str
    name_zh: str
    rgb: tuple[int, int, int]
    share: float

    @property
    def hex(self) -> str:
        return "#%02x%02x%02x" % self.rgb


def foreground_mask(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[height // 4 : height - height // 4, width // 4 : width - width // 4] = True
    return mask


def dominant_colours(
    image: Image.Image, sample_size: int = 64, min_share: float = 0.05, top: int = 4
) -> list[Colour]:
    """The named colours covering at least ``min_share`` of each region, largest first."""
    small = image.convert("RGB")
    small.thumbnail((sample_size, sample_size), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32)
    h, w, _ = pixels.shape
    lab = _srgb_to_lab(pixels).reshape(-1, 3)
    dist = ((lab[:, None, :] - _REF_LAB[None, :, :]) ** 2).sum(-1)
    labels = _REF_NAME[dist.argmin(1)]
    flat_rgb = pixels.reshape(-1, 3)
    fg = foreground_mask(h, w).reshape(-1)
    out: list[Colour] = []
    for region, mask in (("image", np.ones_like(fg)), ("foreground", fg), ("background", ~fg)):
        region_labels = labels[mask]
        if region_labels.size == 0:
            continue
        counts = np.bincount(region_labels, minlength=len(_NAMES))
        order = np.argsort(-counts, kind="stable")
        rank = 0
        for idx in order[:top]:
            share = counts[idx] / region_labels.size
            if share < min_share:
                break
            mean = flat_rgb[mask][region_labels == idx].mean(0)
            name = _NAMES[idx]
            out.append(
                Colour(region, rank, name, PALETTE[name][0], tuple(int(round(v)) for v in mean), float(round(share, 4)))
            )
            rank += 1
    return out
