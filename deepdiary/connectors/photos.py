"""Photo files to photo records: EXIF date, GPS, camera, orientation and layout.

No ML and no catalogue here: ``read_photo`` turns one file into a ``PhotoRecord``
(or raises ``PhotoReadError`` with the reason), and ``iter_photo_files`` walks folders.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from deepdiary.connectors.exif_check import exif_block, exif_problems
from deepdiary.connectors.files import Refused, iter_files, untrusted_date

PHOTO_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif"}

# EXIF tag numbers (TIFF/EXIF 2.32).
_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825
_MAKE, _MODEL, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_TIME_ORIGINAL, _OFFSET_TIME = 0x9011, 0x9010
_LENS_MAKE, _LENS_MODEL = 0xA433, 0xA434

# Orientations 5-8 rotate by 90 degrees, so the stored width and height swap.
_SWAPS_AXES = {5, 6, 7, 8}
# A picture within 5% of square is "square": phone crops are rarely exact.
SQUARE_TOLERANCE = 0.05

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True


class PhotoReadError(Exception):
    """A file that is not a readable image; the message says why."""


@dataclass
class PhotoRecord:
    path: Path
    format: str
    width: int
    height: int
    orientation: int
    layout: str
    size: int
    mtime_ns: int
    taken_at: datetime | None = None
    tz_offset_min: int | None = None
    date_source: str | None = None
    lat: float | None = None
    lon: float | None = None
    alt: float | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    warnings: list[str] = field(default_factory=list)
    # The picture as a person sees it (orientation applied), RGB, reduced to at most
    # the preview size; thumbnails and colours are computed from it.
    preview: Image.Image | None = field(default=None, repr=False)


def iter_photo_files(paths: Iterable[Path], skip: Iterable[Path] = (), refused: Refused | None = None) -> Iterator[Path]:
    """Photo files under ``paths``: sorted, hidden entries and ``skip`` folders left out (see ``iter_files``)."""
    return iter_files(paths, PHOTO_EXTENSIONS, skip, refused)


def layout_of(width: int, height: int) -> str:
    ratio = width / height
    if abs(ratio - 1.0) <= SQUARE_TOLERANCE:
        return "square"
    return "wide" if ratio > 1.0 else "tall"


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


_EXIF_DATE = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):?(\d{2})\s*$")


def parse_exif_datetime(value) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    match = _EXIF_DATE.match(text)
    if not match:
        raise ValueError(f"not an EXIF date: {text!r}")
    return datetime(*(int(g) for g in match.groups()))


def parse_offset_minutes(value) -> int | None:
    text = _text(value)
    if not text:
        return None
    match = _OFFSET.match(text)
    if not match:
        return None
    sign, hours, minutes = match.groups()
    total = int(hours) * 60 + int(minutes)
    return -total if sign == "-" else total


def _rational(value) -> float:
    if isinstance(value, tuple) and len(value) == 2:
        num, den = value
        return float(num) / float(den)
    return float(value)


def _dms(values) -> float:
    if not isinstance(values, (tuple, list)) or not values:
        raise ValueError(f"GPS coordinate is not a degrees/minutes/seconds triple: {values!r}")
    parts = [_rational(v) for v in values] + [0.0, 0.0]
    degrees = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0
    if not math.isfinite(degrees):
        raise ValueError(f"GPS coordinate is not a number: {values!r}")
    return degrees


def _read_gps(gps: dict) -> tuple[float | None, float | None, float | None]:
    if not gps or 2 not in gps or 4 not in gps:
        return None, None, None
    lat, lon = _dms(gps[2]), _dms(gps[4])
    if (_text(gps.get(1)) or "N").upper().startswith("S"):
        lat = -lat
    if (_text(gps.get(3)) or "E").upper().startswith("W"):
        lon = -lon
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"GPS position out of range: {lat}, {lon}")
    alt = None
    if 6 in gps:
        try:
            alt = _rational(gps[6])
            ref = gps.get(5)
            if isinstance(ref, bytes):
                ref = ref[:1] == b"\x01"
            if ref in (1, True):
                alt = -alt
            if not math.isfinite(alt):
                alt = None
        except (TypeError, ValueError, ZeroDivisionError):
            alt = None
    return lat, lon, alt


_XMP_ISO = re.compile(
    r"(\d{4})[:\-](\d{2})[:\-](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?"
)


def xmp_datetime(xmp: bytes | None, prop: str) -> tuple[datetime | None, int | None]:
    """An XMP date property (attribute or element form) as wall-clock time and UTC offset."""
    if not xmp:
        return None, None
    text = xmp.decode("utf-8", "replace")
    name = re.escape(prop)
    match = re.search(rf'{name}="([^"]*)"', text) or re.search(rf"<{name}>([^<]*)</{name}>", text)
    if not match:
        return None, None
    value = match.group(1).strip()
    iso = _XMP_ISO.match(value)
    if not iso:
        raise ValueError(f"not an XMP date: {value!r}")
    y, mo, d, h, mi, sec, zone = iso.groups()
    when = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0))
    offset = 0 if zone == "Z" else parse_offset_minutes(zone) if zone else None
    return when, offset


def _apply_exif(record: PhotoRecord, exif: Image.Exif, xmp: bytes | None = None) -> None:
    """Fill the record from EXIF; each broken field is a warning, never a failure."""

    def attempt(what: str, fn) -> None:
        try:
            fn()
        except Exception as exc:  # hostile EXIF can raise anything
            record.warnings.append(f"{what}: {exc}")

    def sub_ifd(tag):
        try:
            return exif.get_ifd(tag) or {}
        except Exception as exc:
            record.warnings.append(f"EXIF sub-directory {tag:#x} unreadable: {exc}")
            return {}

    exif_ifd, gps_ifd = sub_ifd(_IFD_EXIF), sub_ifd(_IFD_GPS)

    def camera():
        record.camera_make = _text(exif.get(_MAKE))
        record.camera_model = _text(exif.get(_MODEL))
        lens = _text(exif_ifd.get(_LENS_MODEL))
        record.lens = lens

    def date():
        for source, ifd, tag in (
            ("exif:DateTimeOriginal", exif_ifd, _DATETIME_ORIGINAL),
            ("xmp:exif:DateTimeOriginal", None, "exif:DateTimeOriginal"),
            ("exif:DateTimeDigitized", exif_ifd, _DATETIME_DIGITIZED),
            ("exif:DateTime", exif, _DATETIME),
            ("xmp:photoshop:DateCreated", None, "photoshop:DateCreated"),
            ("xmp:xmp:CreateDate", None, "xmp:CreateDate"),
        ):
            try:
                if ifd is None:
                    value, offset = xmp_datetime(xmp, tag)
                else:
                    value = parse_exif_datetime(ifd.get(tag))
                    offset_tag = _OFFSET_TIME_ORIGINAL if tag == _DATETIME_ORIGINAL else _OFFSET_TIME
                    offset = parse_offset_minutes(exif_ifd.get(offset_tag)) if value else None
            except ValueError as exc:
                record.warnings.append(f"{source}: {exc}")
                continue
            if value is not None:
                # A year 9999 or 1800 is a broken clock: the next source may know better.
                doubt = untrusted_date(value)
                if doubt:
                    record.warnings.append(f"{source}: {doubt}; not trusted")
                    continue
                record.taken_at, record.date_source, record.tz_offset_min = value, source, offset
                return

    def gps():
        lat, lon, alt = _read_gps(gps_ifd)
        if lat is not None:
            record.lat, record.lon, record.alt = lat, lon, alt

    attempt("camera", camera)
    attempt("date", date)
    attempt("GPS", gps)


def limit_image_pixels(max_pixels: int) -> None:
    """Set Pillow's decompression-bomb limit for this process (every ``Image.open``, the
    enrichment's too) and make its warning, for pictures between one and two times the
    limit, an error: such a picture is refused, not decoded."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    # Each call (not once): test runners reset the filters; warnings drops the duplicate.
    warnings.simplefilter("error", Image.DecompressionBombWarning)


def _refuse_bomb(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise PhotoReadError(f"refused as a decompression bomb: {width}x{height} is {width * height:,} pixels, "
                             f"more than the limit of {max_pixels:,} (setting max_image_pixels)")


def read_photo(path: Path, preview_size: int = 512, max_pixels: int | None = None) -> PhotoRecord:
    """Read one photo; raises ``PhotoReadError`` when the file is not a decodable image, or
    when it has more than ``max_pixels`` pixels (default: Pillow's ``MAX_IMAGE_PIXELS``)."""
    path = Path(path)
    limit = max_pixels if max_pixels is not None else (Image.MAX_IMAGE_PIXELS or 0)
    if path.suffix.lower() in {".heic", ".heif"}:
        _register_heif()
    try:
        stat = path.stat()
    except OSError as exc:
        raise PhotoReadError(f"cannot read file: {exc.strerror or exc}") from exc
    if stat.st_size == 0:
        raise PhotoReadError("empty file")
    try:
        with Image.open(path) as img:
            fmt = img.format or path.suffix.lstrip(".").upper()
            raw_w, raw_h = img.size
            if limit:  # checked before a single pixel is decoded
                _refuse_bomb(raw_w, raw_h, limit)
            try:
                exif = img.getexif()
            except Exception as exc:
                exif = Image.Exif()
                exif_error = f"EXIF unreadable: {exc}"
            else:
                exif_error = None
            try:
                orientation = int(exif.get(_ORIENTATION, 1) or 1)
            except (TypeError, ValueError):
                orientation = 1
            if orientation not in range(1, 9):
                orientation = 1
            # JPEG can decode straight at 1/2..1/8 scale, which is most of the speed.
            img.draft("RGB", (preview_size, preview_size))
            img.load()
            preview = img.convert("RGB") if img.mode != "RGB" else img.copy()
            xmp = img.info.get("xmp")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoReadError(f"refused as a decompression bomb: more pixels than the limit of {limit:,} "
                             f"(setting max_image_pixels); Pillow says: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise PhotoReadError(f"not a readable image: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise PhotoReadError(f"image data is corrupt: {exc}") from exc

    preview.thumbnail((preview_size, preview_size))
    if orientation != 1:
        preview = ImageOps.exif_transpose(_with_orientation(preview, orientation))
    width, height = (raw_h, raw_w) if orientation in _SWAPS_AXES else (raw_w, raw_h)
    if width <= 0 or height <= 0:
        raise PhotoReadError(f"image has no pixels ({raw_w}x{raw_h})")
    record = PhotoRecord(
        path=path,
        format=fmt,
        width=width,
        height=height,
        orientation=orientation,
        layout=layout_of(width, height),
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
        preview=preview,
    )
    if exif_error:
        record.warnings.append(exif_error)
    if fmt == "JPEG":
        with open(path, "rb") as fh:
            head = fh.read(256 * 1024)
        if exif_block(head) is None:
            record.warnings.append("no EXIF metadata" + (" (XMP only)" if xmp else ""))
        record.warnings.extend(f"malformed EXIF: {p}" for p in exif_problems(head))
    elif not len(exif):
        record.warnings.append("no EXIF metadata")
    _apply_exif(record, exif, xmp if isinstance(xmp, bytes) else None)
    if record.taken_at is None:
        # Like Immich, fall back to the file's own time so the photo still sorts.
        record.taken_at = datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0)
        record.date_source = "file:mtime"
        record.warnings.append("no date in the metadata: the file's modification time is used")
        doubt = untrusted_date(record.taken_at)
        if doubt:  # nothing else to fall back on: keep it so the photo sorts somewhere, but say so
            record.warnings.append(f"file:mtime: {doubt}")
    return record


def _with_orientation(image: Image.Image, orientation: int) -> Image.Image:
    exif = Image.Exif()
    exif[_ORIENTATION] = orientation
    image.info["exif"] = exif.tobytes()
    image.getexif()[_ORIENTATION] = orientation
    return image
