"""Hostile input, the way a user meets it: a folder or an upload holding one bad file among
good ones. The bad file is refused with its path and a reason a person can act on; the
good files of the same run are stored and found by search; nothing raises.

Each test goes through the services (or the pipeline's ingesters) into a real library.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from deepdiary.core.errors import FileRefused
from deepdiary.core.settings import Settings
from deepdiary.core.text import path_key
from deepdiary.pipeline import file_limits
from deepdiary.services import ingest as ingest_service
from deepdiary.services.context import AppContext
from deepdiary.services.search import ChatSearch, PhotoSearch, search_chats, search_photos

SAMPLES = Path(__file__).parent / "samples"
GOOD_GPX = "gpxpy/route.gpx"  # real track, 4 kB


@pytest.fixture(autouse=True)
def _restore_pillow_limit(monkeypatch):
    # An ingester sets Pillow's process-wide limit from its settings; put it back after.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)


def context(tmp_path: Path, **settings) -> AppContext:
    ctx = AppContext(Settings(home=tmp_path / "lib", **settings))
    return ctx


def problems_of(result, path: Path) -> list[str]:
    key = path_key(path.resolve())
    return [p.reason for p in result.problems if p.path == key]


def photo_titles(ctx: AppContext) -> set[str]:
    return {Path(r.path).name for r in search_photos(ctx, PhotoSearch(limit=200)).results}


# ---------------------------------------------------------------- decompression bombs

def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a few bytes of (zlib) data: what a
    decompression bomb looks like before it is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024)) + chunk(b"IEND", b"")


def test_decompression_bombs_are_refused_and_the_good_photo_stored(tmp_path, exif_samples):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(exif_samples / "jpg" / "Fujifilm_FinePix_E500.jpg", folder / "good.jpg")
    # Past twice the limit Pillow itself raises; between one and two times it only warns.
    (folder / "bomb.png").write_bytes(png_claiming(60_000, 60_000))
    (folder / "warn.png").write_bytes(png_claiming(12_000, 12_000))  # 144 M pixels: under 2 x 100 M
    ctx = context(tmp_path, max_image_pixels=100_000_000)

    result = ingest_service.ingest_photos(ctx, [folder], enrich=False)

    assert Image.MAX_IMAGE_PIXELS == 100_000_000  # Pillow's limit is the setting, set explicitly
    assert (result.added, result.failed) == (1, 2)
    for name, pixels in (("bomb.png", "3600000000 pixels"), ("warn.png", "144000000 pixels")):
        [reason] = problems_of(result, folder / name)
        assert reason.startswith("refused as a decompression bomb: more pixels than the limit of 100,000,000 "
                                 "(setting max_image_pixels)"), reason
        assert pixels in reason
    assert photo_titles(ctx) == {"good.jpg"}


def test_a_photo_over_the_pixel_setting_is_refused_before_decoding(tmp_path, exif_samples):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(exif_samples / "jpg" / "Fujifilm_FinePix_E500.jpg", folder / "small.jpg")
    shutil.copy(exif_samples / "jpg" / "Canon_40D.jpg", folder / "large.jpg")
    small, large = (Image.open(folder / n).size for n in ("small.jpg", "large.jpg"))
    limit = (small[0] * small[1] + large[0] * large[1]) // 2
    assert small[0] * small[1] < limit < large[0] * large[1]
    ctx = context(tmp_path, max_image_pixels=limit)

    result = ingest_service.ingest_photos(ctx, [folder], enrich=False)

    [reason] = problems_of(result, folder / "large.jpg")
    assert reason.startswith("refused as a decompression bomb: ") and "max_image_pixels" in reason
    assert photo_titles(ctx) == {"small.jpg"}


# ---------------------------------------------------------------- files past the size setting

def test_files_over_the_size_setting_are_refused_unread(tmp_path, exif_samples, samples):
    photos, chats, tracks = (tmp_path / n for n in ("photos", "chats", "tracks"))
    for folder in (photos, chats, tracks):
        folder.mkdir()
    shutil.copy(exif_samples / "jpg" / "Fujifilm_FinePix_E500.jpg", photos / "small.jpg")  # 2.2 kB
    shutil.copy(exif_samples / "jpg" / "Canon_PowerShot_S40.jpg", photos / "big.jpg")  # 32 kB
    shutil.copy(SAMPLES / "chats" / "alice.json", chats / "alice.json")  # < 1 kB
    shutil.copy(samples / "chats" / "weclone_test_person_pywxdump.csv", chats / "big.csv")  # 16 kB
    shutil.copy(samples / "gps" / "togeojson" / "strava.gpx", tracks / "small.gpx")  # 3 kB
    shutil.copy(samples / "gps" / "gpxpy" / "korita-zbevnica.gpx", tracks / "big.gpx")  # 88 kB
    ctx = context(tmp_path, max_file_mb=10 / 1024)  # 10 KiB

    photo_run = ingest_service.ingest_photos(ctx, [photos], enrich=False)
    chat_run = ingest_service.ingest_text(ctx, "chats", [chats])
    track_run = ingest_service.ingest_text(ctx, "tracks", [tracks])

    for run, big in ((photo_run, photos / "big.jpg"), (chat_run, chats / "big.csv"), (track_run, tracks / "big.gpx")):
        [reason] = problems_of(run, big)
        assert reason.startswith("refused: the file is ") and "larger than the limit of 0.00976562 MiB" in reason
        assert "max_file_mb" in reason
        assert run.failed == 1
    assert photo_titles(ctx) == {"small.jpg"}
    assert [h.text for h in search_chats(ctx, ChatSearch(question="bakery"))][:1] == ["see you at 6 by the bakery"]
    assert track_run.added >= 1


def test_the_size_check_never_hashes_a_refused_photo(tmp_path, exif_samples, monkeypatch):
    """A 20 GB file must cost a stat, not a read: the check comes before the sha256."""
    import deepdiary.pipeline.ingest as photo_ingest

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(exif_samples / "jpg" / "Canon_PowerShot_S40.jpg", folder / "big.jpg")
    hashed = []
    monkeypatch.setattr(photo_ingest, "sha256_file", lambda p: hashed.append(p) or "0" * 64)
    result = ingest_service.ingest_photos(context(tmp_path, max_file_mb=0.01), [folder], enrich=False)
    assert result.failed == 1 and hashed == []


# ---------------------------------------------------------------- XML entities

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE {root} [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
GPX_BODY = ('<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>{name}</name><trkseg>'
            '<trkpt lat="48.2" lon="16.3"><time>2023-07-14T10:00:00Z</time></trkpt>'
            '<trkpt lat="48.21" lon="16.31"><time>2023-07-14T10:05:00Z</time></trkpt></trkseg></trk></gpx>')
KML_BODY = ('<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>{name}</name>'
            '<Point><coordinates>16.3,48.2</coordinates></Point></Placemark></Document></kml>')


def test_xml_entity_bombs_and_external_entities_are_refused(tmp_path, samples):
    secret = tmp_path / "secret.txt"
    secret.write_text("the neighbour's wifi password")
    external = f'<?xml version="1.0"?>\n<!DOCTYPE {{root}} [<!ENTITY leak SYSTEM "file://{secret}">]>\n'
    folder = tmp_path / "tracks"
    folder.mkdir()
    hostile = {
        "laughs.gpx": BILLION_LAUGHS.format(root="gpx") + GPX_BODY.format(name="&lol9;"),
        "laughs.kml": BILLION_LAUGHS.format(root="kml") + KML_BODY.format(name="&lol9;"),
        "leak.gpx": external.format(root="gpx") + GPX_BODY.format(name="&leak;"),
        "leak.kml": external.format(root="kml") + KML_BODY.format(name="&leak;"),
    }
    for name, text in hostile.items():
        (folder / name).write_text(text)
    # A DOCTYPE with no entities is harmless and still read.
    (folder / "doctype.gpx").write_text('<?xml version="1.0"?>\n<!DOCTYPE gpx>\n' + GPX_BODY.format(name="plain"))
    shutil.copy(samples / "gps" / GOOD_GPX, folder / "good.gpx")
    ctx = context(tmp_path)

    started = time.monotonic()
    result = ingest_service.ingest_text(ctx, "tracks", [folder])
    assert time.monotonic() - started < 30  # nothing was expanded

    for name in hostile:
        [reason] = problems_of(result, folder / name)
        assert reason.startswith("refused: the XML declares "), reason
        assert ("external entity 'leak'" in reason) == name.startswith("leak"), reason
    assert result.failed == len(hostile)
    from deepdiary.memory.tables import Track
    from sqlmodel import select

    with ctx.read() as s:
        tracks = {(Path(t.source_file).name, t.name) for t in s.exec(select(Track))}
    assert ("doctype.gpx", "plain") in tracks
    assert any(name == "good.gpx" for name, _ in tracks)
    db = (ctx.settings.library_dir / "catalogue.db").read_bytes()
    assert b"wifi password" not in db and b"lollollol" not in db


def test_wechat_xml_in_a_chat_export_is_never_expanded(tmp_path):
    """MemoTrace keeps WeChat's message XML as text; a bomb in it stays a few hundred bytes."""
    from tests.connectors.test_chats import memotrace_row, write_memotrace

    path = tmp_path / "chats" / "小虫.csv"
    path.parent.mkdir()
    bomb = BILLION_LAUGHS.format(root="msg") + "<msg><appmsg><title>&lol9;</title><type>5</type></appmsg></msg>"
    write_memotrace(path, [
        memotrace_row(1, 1, 0, 0, "2024-05-01 10:00:00", "明天去西湖划船"),
        memotrace_row(2, 49, 5, 0, "2024-05-01 10:01:00", bomb),
    ])
    ctx = context(tmp_path)
    result = ingest_service.ingest_text(ctx, "chats", [path])
    assert result.failed == 0 and result.added == 2
    db = (ctx.settings.library_dir / "catalogue.db").read_bytes()
    assert b"lollollol" not in db
    assert [h.text for h in search_chats(ctx, ChatSearch(question="西湖划船"))][:1] == ["明天去西湖划船"]


# ---------------------------------------------------------------- path traversal

@pytest.mark.parametrize("name, stored", ids=["dotdot", "backslashes", "absolute", "drive", "nul", "only-dots",
                                              "dots-and-slashes", "long-cjk"], argvalues=[
    ("../../../../evil.gpx", "evil.gpx"),
    ("..\\..\\windows\\evil.gpx", "evil.gpx"),
    ("/etc/cron.d/evil.gpx", "evil.gpx"),
    ("C:\\Users\\me\\evil.gpx", "evil.gpx"),
    ("ev\x00il.gpx", "evil.gpx"),
    ("..", None),
    ("../.../", None),
    ("西湖" * 100 + ".gpx", "西湖" * 32 + "西.gpx"),  # 199 bytes, the extension kept
])
def test_upload_names_cannot_leave_the_uploads_folder(tmp_path, samples, name, stored):
    ctx = context(tmp_path)
    data = (samples / "gps" / GOOD_GPX).read_bytes()
    if stored is None:
        with pytest.raises(ingest_service.InvalidInput, match="has no file name"):
            ingest_service.ingest_upload(ctx, "tracks", [(name, data)])
        return
    result = ingest_service.ingest_upload(ctx, "tracks", [(name, data)])
    assert result.failed == 0 and result.added >= 1
    uploads = ctx.settings.library_dir / "uploads"
    written = [p for p in uploads.rglob("*") if p.is_file()]
    assert [p.name for p in written] == [stored]
    assert len(stored.encode()) <= 200
    assert not (tmp_path / "evil.gpx").exists() and not Path("/etc/cron.d/evil.gpx").exists()


def test_an_archive_with_traversing_member_names_is_refused_unopened(tmp_path, samples):
    """Deep Diary opens no archives (a Takeout zip or a KMZ is to be unpacked first), so a
    zip-slip member name can never be written anywhere: the upload says what to do."""
    archive = tmp_path / "takeout.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../../../evil.gpx", (samples / "gps" / GOOD_GPX).read_bytes())
    ctx = context(tmp_path)
    result = ingest_service.ingest_upload(ctx, "tracks", [("takeout.zip", archive.read_bytes()),
                                                         ("good.gpx", (samples / "gps" / GOOD_GPX).read_bytes())])
    [reason] = [p.reason for p in result.problems if p.path.endswith("takeout.zip")]
    assert "ZIP archive" in reason and "unpack it" in reason
    assert result.added >= 1 and result.failed == 1
    assert not list(tmp_path.rglob("evil.gpx"))


# ---------------------------------------------------------------- symlinks

def test_links_out_of_the_folder_are_reported_not_followed(tmp_path, exif_samples):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(exif_samples / "jpg" / "Canon_40D.jpg", outside / "private.jpg")
    (outside / "sub").mkdir()
    shutil.copy(exif_samples / "jpg" / "Kodak_CX7530.jpg", outside / "sub" / "private2.jpg")
    folder = tmp_path / "photos"
    (folder / "inner").mkdir(parents=True)
    shutil.copy(exif_samples / "jpg" / "Fujifilm_FinePix_E500.jpg", folder / "inner" / "good.jpg")
    os.symlink(outside / "private.jpg", folder / "out.jpg")
    os.symlink(outside / "sub", folder / "out-folder")
    os.symlink(tmp_path / "missing.jpg", folder / "dangling.jpg")
    os.symlink(folder / "inner" / "good.jpg", folder / "alias.jpg")  # inside: fine
    os.symlink(folder / "inner", folder / "inner-link")  # inside: fine
    ctx = context(tmp_path)

    result = ingest_service.ingest_photos(ctx, [folder], enrich=False)

    problems = {Path(p.path).name: p.reason for p in result.problems}
    assert "symbolic link out of the folder" in problems["out.jpg"] and "not followed" in problems["out.jpg"]
    assert "symbolic link out of the folder" in problems["out-folder"]
    assert "a symbolic link to nothing" in problems["dangling.jpg"]
    assert set(problems) == {"out.jpg", "out-folder", "dangling.jpg"}
    assert photo_titles(ctx) == {"good.jpg"}
    assert result.added == 1 and result.failed == 0


def test_links_out_of_a_diary_folder_are_reported(tmp_path):
    folder = tmp_path / "diary"
    folder.mkdir()
    shutil.copy(SAMPLES / "diary" / "2023-07.md", folder / "2023-07.md")
    secret = tmp_path / "ssh-notes.md"
    secret.write_text("# 2024-01-01\nthe server's root password is hunter2\n")
    os.symlink(secret, folder / "notes.md")
    ctx = context(tmp_path)
    result = ingest_service.ingest_text(ctx, "diary", [folder])
    assert "symbolic link out of the folder" in problems_of_link(result, folder / "notes.md")
    hits = search_chats(ctx, ChatSearch(question="lotus West Lake", diary_only=True))
    assert hits and "lotus" in hits[0].text
    assert all("hunter2" not in h.text for h in search_chats(ctx, ChatSearch(question="hunter2 password", diary_only=True)))
    assert b"hunter2" not in (ctx.settings.library_dir / "catalogue.db").read_bytes()


def problems_of_link(result, link: Path) -> str:
    # A link is reported under its own path (the walk does not resolve what it refuses).
    [reason] = [p.reason for p in result.problems if p.path == path_key(link)]
    return reason


# ---------------------------------------------------------------- the per-file time limit

def _slow_for(name: str, real):
    def read(path, *args, **kwargs):
        if Path(path).name == name:
            while True:  # a pathological file: a pure-Python parse that never ends
                sum(range(1000))
        return real(path, *args, **kwargs)
    return read


@pytest.mark.parametrize("on_a_worker_thread", [False, True])
def test_a_file_slower_than_the_time_limit_is_reported_and_the_run_goes_on(tmp_path, monkeypatch, on_a_worker_thread):
    """The web server ingests on worker threads, where a signal alarm cannot reach."""
    import deepdiary.connectors.diary as diary

    folder = tmp_path / "diary"
    folder.mkdir()
    shutil.copy(SAMPLES / "diary" / "2023-07.md", folder / "2023-07.md")
    (folder / "2023-08 stuck.md").write_text("# 2023-08-01\nnever read\n")
    monkeypatch.setattr(diary, "read_diary", _slow_for("2023-08 stuck.md", diary.read_diary))
    ctx = context(tmp_path, file_read_seconds=0.5)

    out = {}
    started = time.monotonic()
    if on_a_worker_thread:
        worker = threading.Thread(target=lambda: out.update(r=ingest_service.ingest_text(ctx, "diary", [folder])))
        worker.start()
        worker.join(60)
        assert not worker.is_alive()
    else:
        out["r"] = ingest_service.ingest_text(ctx, "diary", [folder])
    result = out["r"]

    assert time.monotonic() - started < 30
    [reason] = problems_of(result, folder / "2023-08 stuck.md")
    assert reason == ("refused: reading the file took longer than 0.5 s (setting file_read_seconds); "
                      "the rest of the ingest went on")
    assert (result.added, result.failed) == (3, 1)
    time.sleep(0.7)  # a watchdog that fired late would raise here, in the caller's code


def test_the_time_limit_cannot_be_swallowed_by_a_parser_catching_everything():
    """Hostile EXIF is caught tag by tag with ``except Exception``; the limit still ends the read."""
    def stubborn():
        while True:
            try:
                sum(range(1000))
            except Exception:
                pass

    started = time.monotonic()
    with pytest.raises(FileRefused, match="longer than 0.2 s"):
        with file_limits.time_limit(0.2):
            stubborn()
    assert time.monotonic() - started < 5
    with file_limits.time_limit(0.2):
        pass
    time.sleep(0.4)  # nothing left pending


def test_a_photo_reader_slower_than_the_limit_is_reported(tmp_path, exif_samples, monkeypatch):
    import deepdiary.pipeline.ingest as photo_ingest

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(exif_samples / "jpg" / "Fujifilm_FinePix_E500.jpg", folder / "good.jpg")
    shutil.copy(exif_samples / "jpg" / "Canon_40D.jpg", folder / "stuck.jpg")
    monkeypatch.setattr(photo_ingest, "read_photo", _slow_for("stuck.jpg", photo_ingest.read_photo))
    ctx = context(tmp_path, file_read_seconds=0.5)
    result = ingest_service.ingest_photos(ctx, [folder], enrich=False)
    [reason] = problems_of(result, folder / "stuck.jpg")
    assert "took longer than 0.5 s" in reason
    assert photo_titles(ctx) == {"good.jpg"}
