"""Photos made for tests: rendered pictures with real EXIF written by piexif."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import piexif
from PIL import Image, ImageDraw


def _dms(value: float):
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = round(((value - deg) * 60 - minutes) * 60 * 10000)
    return ((deg, 1), (minutes, 1), (seconds, 10000))


def exif_bytes(
    taken: datetime | None = None,
    offset: str | None = None,
    gps: tuple[float, float] | None = None,
    make: str | None = None,
    model: str | None = None,
    orientation: int | None = None,
) -> bytes:
    zeroth, exif, gps_ifd = {}, {}, {}
    if make:
        zeroth[piexif.ImageIFD.Make] = make.encode()
    if model:
        zeroth[piexif.ImageIFD.Model] = model.encode()
    if orientation:
        zeroth[piexif.ImageIFD.Orientation] = orientation
    if taken:
        exif[piexif.ExifIFD.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S").encode()
        exif[piexif.ExifIFD.ExifVersion] = b"0232"
    if offset:
        exif[0x9011] = offset.encode()
    if gps:
        lat, lon = gps
        gps_ifd = {
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _dms(lon),
        }
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps_ifd, "1st": {}, "thumbnail": None})


def make_photo(
    path: Path,
    size: tuple[int, int] = (320, 240),
    background: tuple[int, int, int] = (30, 90, 210),
    foreground: tuple[int, int, int] | None = None,
    fmt: str = "JPEG",
    **exif,
) -> Path:
    """A picture of one background colour, with an optional centred block of another."""
    img = Image.new("RGB", size, background)
    if foreground:
        w, h = size
        ImageDraw.Draw(img).rectangle((w // 4, h // 4, w - w // 4 - 1, h - h // 4 - 1), fill=foreground)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = exif_bytes(**exif) if exif else None
    kwargs = {"exif": data} if data else {}
    if fmt == "JPEG":
        kwargs["quality"] = 92
    img.save(path, fmt, **kwargs)
    return path
