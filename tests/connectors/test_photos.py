"""Photo files read into records: dates, GPS, orientation, formats and hostile input."""

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from deepdiary.connectors.photos import PhotoReadError, iter_photo_files, read_photo
from tests.photo_factory import exif_bytes, make_photo

# Dates kept by a camera maker's private notes (Reconyx maker notes, Olympus APP12
# PictureInfo) are outside EXIF/XMP; those photos fall back to other dates.
STANDARD_DATE_GROUPS = ("EXIF:DateTimeOriginal", "XMP:DateTimeOriginal")


@pytest.fixture(scope="module")
def exiftool_reference(exif_samples):
    raw = subprocess.run(
        ["exiftool", "-n", "-json", "-G", "-r", "-DateTimeOriginal", "-GPSLatitude", "-GPSLongitude", str(exif_samples)],
        check=True, capture_output=True, text=True,
    ).stdout
    return {str(Path(r["SourceFile"]).resolve()): r for r in json.loads(raw)}


def test_every_sample_file_is_read(exif_samples):
    files = list(iter_photo_files([exif_samples]))
    assert len(files) == 86
    for path in files:
        record = read_photo(path)
        assert record.width > 0 and record.height > 0
        assert record.taken_at is not None and record.date_source


def test_dates_and_gps_match_exiftool(exif_samples, exiftool_reference):
    compared_dates = compared_gps = 0
    for path in iter_photo_files([exif_samples]):
        ref = exiftool_reference[str(path)]
        record = read_photo(path)
        for group in STANDARD_DATE_GROUPS:
            if group in ref:
                expected = datetime.strptime(ref[group][:19], "%Y:%m:%d %H:%M:%S")
                assert record.taken_at == expected, path
                compared_dates += 1
                break
        if "Composite:GPSLatitude" in ref:
            assert record.lat == pytest.approx(ref["Composite:GPSLatitude"], abs=1e-5), path
            assert record.lon == pytest.approx(ref["Composite:GPSLongitude"], abs=1e-5), path
            compared_gps += 1
        else:
            assert record.lat is None and record.lon is None, path
    assert compared_dates == 49
    assert compared_gps == 10


def test_orientation_gives_the_true_size(exif_samples):
    for n in range(1, 9):
        landscape = read_photo(exif_samples / f"jpg/orientation/landscape_{n}.jpg")
        portrait = read_photo(exif_samples / f"jpg/orientation/portrait_{n}.jpg")
        assert (landscape.width, landscape.height, landscape.layout) == (600, 450, "wide")
        assert (portrait.width, portrait.height, portrait.layout) == (450, 600, "tall")
        assert landscape.orientation == n
        # The preview is turned upright too: its long side matches the true layout.
        assert landscape.preview.width > landscape.preview.height
        assert portrait.preview.height > portrait.preview.width


def test_camera_and_offset(tmp_path):
    path = make_photo(
        tmp_path / "a.jpg", taken=datetime(2023, 7, 14, 9, 30, 5), offset="+08:00",
        make="Apple", model="iPhone 13", gps=(30.2741, 120.1551),
    )
    record = read_photo(path)
    assert (record.camera_make, record.camera_model) == ("Apple", "iPhone 13")
    assert record.taken_at == datetime(2023, 7, 14, 9, 30, 5)
    assert record.tz_offset_min == 480
    assert record.lat == pytest.approx(30.2741, abs=1e-6)
    assert record.lon == pytest.approx(120.1551, abs=1e-6)


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tiff"), ("HEIF", ".heic")])
def test_other_formats(tmp_path, fmt, suffix):
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    path = tmp_path / f"photo{suffix}"
    img = Image.new("RGB", (200, 300), (200, 30, 30))
    img.save(path, fmt, exif=exif_bytes(taken=datetime(2021, 5, 1, 12, 0, 0), make="Test", model="Cam"))
    record = read_photo(path)
    assert (record.width, record.height, record.layout) == (200, 300, "tall")
    assert record.taken_at == datetime(2021, 5, 1, 12, 0, 0)
    assert record.camera_model == "Cam"


def test_unreadable_files_raise_with_a_reason(tmp_path, exif_samples):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"this is not a picture" * 100)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes((exif_samples / "jpg/gps/DSCN0010.jpg").read_bytes()[:20000])
    for path, reason in ((empty, "empty file"), (garbage, "not a readable image"), (truncated, "corrupt")):
        with pytest.raises(PhotoReadError, match=reason):
            read_photo(path)


def test_hostile_exif_is_reported_as_warnings(exif_samples):
    expect = {
        "jpg/corrupted.jpg": "odd offset",
        "jpg/tests/30-type_error.jpg": "wrong format",
        "jpg/tests/42_IndexError.jpg": "odd offset",
        "jpg/tests/45-gps_ifd.jpg": "no value",
        "jpg/tests/33-type_error.jpg": "non-standard format",
        "jpg/tests/35-empty.jpg": "fraction over zero",
        "jpg/tests/11-tests.jpg": "belongs in ExifIFD",
        "jpg/tests/67-0_length_string.jpg": "lacks the required ExifVersion",
    }
    for name in sorted((exif_samples / "jpg/invalid").glob("*.jpg")):
        expect[str(name.relative_to(exif_samples))] = "no EXIF metadata"
    assert len(expect) == 13
    for rel, fragment in expect.items():
        record = read_photo(exif_samples / rel)
        assert any(fragment in w for w in record.warnings), (rel, record.warnings)
