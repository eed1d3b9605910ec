"""Ingest throughput and search latency.

1. Photos/second of the metadata-only pipeline (hash, store, EXIF, place, thumbnail,
   colours; no ML) over the sample photos, next to a baseline in the same process that
   only decodes each file and reads its EXIF.
2. Search latency p50/p95 over a synthetic catalogue of 100,000 photos, for three-facet
   queries, next to an unfiltered first page as the baseline.

    python bench/ingest.py [--samples DIR] [--photos 100000] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import insert

from deepdiary.connectors.photos import iter_photo_files
from deepdiary.memory.library import Library
from deepdiary.memory.query import ColourFacet, PhotoQuery, search_photos
from deepdiary.memory.tables import Item, ItemColour, ItemPath, PhotoMeta, Place
from deepdiary.core.palette import PALETTE
from deepdiary.pipeline.geocode import default_geocoder
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_ingest(samples: Path) -> None:
    files = list(iter_photo_files([samples]))
    t0 = time.perf_counter()
    for path in files:
        with Image.open(path) as img:
            img.getexif()
            img.draft("RGB", (384, 384))
            img.load()
    baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    default_geocoder().lookup(0.0, 0.0)
    gazetteer = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Settings(home=Path(tmp) / "lib"))
        t0 = time.perf_counter()
        report = PhotoIngester(lib).run([samples])
        full = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = PhotoIngester(lib).run([samples])
        rerun = time.perf_counter() - t0
        lib.close()
    n = len(files)
    print(f"ingest: {n} sample photos ({report.added} added, {report.failed} failed)")
    print(f"  metadata-only pipeline : {n / full:7.1f} photos/s  ({full:.2f} s)")
    print(f"  gazetteer load, once   : {gazetteer:7.2f} s (not in the figure above)")
    print(f"  baseline decode+EXIF   : {n / baseline:7.1f} photos/s  -> pipeline/baseline time ratio {full / baseline:.2f}x")
    print(f"  re-run (all unchanged) : {n / rerun:7.1f} photos/s  ({again.unchanged} unchanged)")


CREATED = datetime(2026, 1, 1, tzinfo=UTC)
CITIES = [
    ("Hangzhou", "Zhejiang Sheng", "CN", "China", 30.27, 120.15), ("Beijing", "Beijing", "CN", "China", 39.90, 116.40),
    ("Paris", "Ile-de-France", "FR", "France", 48.86, 2.35), ("Florence", "Tuscany", "IT", "Italy", 43.77, 11.26),
    ("New York City", "New York", "US", "United States", 40.71, -74.01), ("Tokyo", "Tokyo", "JP", "Japan", 35.68, 139.69),
    ("Cape Town", "Western Cape", "ZA", "South Africa", -33.92, 18.42), ("Sydney", "New South Wales", "AU", "Australia", -33.87, 151.21),
]
CAMERAS = [("Apple", "iPhone 13"), ("Apple", "iPhone 15 Pro"), ("FUJIFILM", "X100V"), ("Canon", "EOS R6"),
           ("SONY", "ILCE-7M4"), ("samsung", "SM-S918B"), ("Google", "Pixel 8"), ("NIKON", "Z 6")]


def build_catalogue(lib: Library, n: int, rng: random.Random) -> None:
    colours = list(PALETTE)
    start = datetime(2010, 1, 1)
    span = (datetime(2026, 1, 1) - start).total_seconds()
    with lib.engine.begin() as conn:
        conn.execute(insert(Place), [
            dict(id=i + 1, city=c, admin1=a, admin2="", country_code=cc, country=co, lat=la, lon=lo)
            for i, (c, a, cc, co, la, lo) in enumerate(CITIES)
        ])
        batch = 10_000
        for first in range(1, n + 1, batch):
            ids = range(first, min(first + batch, n + 1))
            items, metas, cols, paths = [], [], [], []
            for i in ids:
                place = rng.randrange(len(CITIES) + 1)
                lat = lon = None
                if place < len(CITIES):
                    lat, lon = CITIES[place][4] + rng.uniform(-0.2, 0.2), CITIES[place][5] + rng.uniform(-0.2, 0.2)
                sha = f"{i:064x}"
                items.append(dict(id=i, kind="photo", sha256=sha, ext=".jpg", size=3_000_000,
                                  taken_at=start + timedelta(seconds=rng.uniform(0, span)),
                                  lat=lat, lon=lon, place_id=place + 1 if lat is not None else None,
                                  rating=rng.choice([None, None, None, 1, 2, 3, 4, 5]), created_at=CREATED))
                w, h = rng.choice([(4032, 3024), (3024, 4032), (3000, 3000), (1920, 1080)])
                make, model = rng.choice(CAMERAS)
                metas.append(dict(item_id=i, format="JPEG", width=w, height=h, orientation=1,
                                  layout="wide" if w > h else "tall" if h > w else "square",
                                  camera_make=make, camera_model=model))
                for region in ("image", "foreground", "background"):
                    shares = sorted((rng.random() for _ in range(3)), reverse=True)
                    total = sum(shares)
                    for rank, (name, share) in enumerate(zip(rng.sample(colours, 3), shares)):
                        cols.append(dict(item_id=i, region=region, rank=rank, name=name,
                                         r=0, g=0, b=0, share=round(share / total, 4)))
                paths.append(dict(item_id=i, path=f"/photos/{i:06d}.jpg", size=3_000_000, mtime_ns=0))
            conn.execute(insert(Item), items)
            conn.execute(insert(PhotoMeta), metas)
            conn.execute(insert(ItemColour), cols)
            conn.execute(insert(ItemPath), paths)
    with lib.engine.connect() as conn:
        # VACUUM on PostgreSQL too: its index-only scans need the visibility map that a
        # settled table has (autovacuum would set it a little later).
        verb = "VACUUM ANALYZE" if lib.engine.dialect.name == "postgresql" else "ANALYZE"
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(verb)


def random_query(rng: random.Random) -> PhotoQuery:
    year = rng.randrange(2010, 2025)
    month = rng.randrange(1, 13)
    date_from = datetime(year, month, 1)
    date_to = date_from + timedelta(days=rng.choice([31, 92, 365]))
    kind = rng.randrange(4)
    colour = ColourFacet(name=rng.choice(list(PALETTE)), region=rng.choice(["image", "foreground", "background"]))
    if kind == 0:
        return PhotoQuery(date_from=date_from, date_to=date_to, layout=rng.choice(["wide", "tall"]), colours=[colour])
    if kind == 1:
        return PhotoQuery(place=rng.choice(CITIES)[0], date_from=date_from, date_to=date_to, camera=rng.choice(CAMERAS)[1])
    if kind == 2:
        city = rng.choice(CITIES)
        return PhotoQuery(near_lat=city[4], near_lon=city[5], radius_km=15, layout="wide", colours=[colour])
    return PhotoQuery(place=rng.choice(CITIES)[3], min_rating=4, colours=[colour])


def bench_search(n: int, queries: int) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Settings(home=Path(tmp) / "lib"))
        t0 = time.perf_counter()
        build_catalogue(lib, n, rng)
        print(f"search: synthetic catalogue of {n:,} photos built in {time.perf_counter() - t0:.1f} s")

        def timed(q: PhotoQuery) -> tuple[float, int]:
            with lib.session() as s:
                t = time.perf_counter()
                page = search_photos(s, q, lib)
                return (time.perf_counter() - t) * 1000, len(page.results)

        for _ in range(20):  # warm the page cache and the statement cache
            timed(random_query(rng))
        base = [timed(PhotoQuery())[0] for _ in range(queries)]
        runs = [timed(random_query(rng)) for _ in range(queries)]
        lat = [ms for ms, _ in runs]
        hits = [k for _, k in runs]
        p50, p95 = pct(lat, 50), pct(lat, 95)
        b50, b95 = pct(base, 50), pct(base, 95)
        print(f"  three-facet queries ({queries}): p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(lat):.1f} ms;"
              f" mean hits/page {statistics.mean(hits):.1f}")
        print(f"  baseline first page, no facet: p50 {b50:.1f} ms, p95 {b95:.1f} ms"
              f" -> facet/baseline p95 ratio {p95 / b95:.2f}x")
        lib.close()


def main() -> None:
    default_samples = Path(os.environ.get("DEEPDIARY_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=default_samples / "photos" / "exif-samples")
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    bench_ingest(args.samples)
    bench_search(args.photos, args.queries)


if __name__ == "__main__":
    main()
