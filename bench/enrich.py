"""Enrichment throughput, the face-detection size trade-off, and category learning.

1. Photos/second of the full pipeline (ingest + faces, tags, features, description,
   category) on real sample photos, with each stage's share of the time; the
   metadata-only ingest of the same photos, run in the same process, is the baseline.
2. Face-detection recall and time when photos are downscaled to a longest side of
   640/1024/1600 px, against full resolution (the baseline) in the same process.
3. Category accuracy on a held-out split as corrections accumulate.

    python bench/enrich.py [--samples DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import sklearn.datasets
from PIL import Image
from sqlmodel import select

from deepdiary.connectors.photos import iter_photo_files
from deepdiary.memory.categories import CategoryModel
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Category, ItemPath
from deepdiary.memory.vectors import IMAGE_FEATURES
from deepdiary.models.registry import models_for
from deepdiary.pipeline.enrich import Enricher, load_upright
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings


def photo_set(samples: Path, dest: Path) -> list[Path]:
    dest.mkdir(parents=True)
    sources = list(iter_photo_files([samples / "photos" / "exif-samples", samples / "faces"]))
    sources += [Path(sklearn.datasets.__file__).parent / "images" / n for n in ("china.jpg", "flower.jpg")]
    for i, src in enumerate(sources):
        shutil.copy(src, dest / f"{i:03d}-{src.name}")
    return sorted(dest.iterdir())


def bench_pipeline(samples: Path, tmp: Path) -> None:
    photos = photo_set(samples, tmp / "photos")
    settings = Settings(home=tmp / "lib")
    t0 = time.perf_counter()
    models = models_for(settings)
    for name in ("faces", "tagger", "text"):
        getattr(models, name)
    models.faces._load(), models.tagger._load(), models.text._load()
    load = time.perf_counter() - t0

    lib = Library.open(settings)
    t0 = time.perf_counter()
    PhotoIngester(lib).run([tmp / "photos"])
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = Enricher(lib, models).run()
    enrich = time.perf_counter() - t0
    n = len(photos)
    print(f"pipeline: {n} real photos (exif-samples, faces, scikit-learn samples); "
          f"{os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}")
    print(f"  model loading, once      : {load:6.2f} s")
    print(f"  metadata-only ingest     : {n / ingest:6.1f} photos/s  (baseline)")
    print(f"  enrichment stages        : {n / enrich:6.1f} photos/s")
    print(f"  end to end (ingest+enrich): {n / (ingest + enrich):6.1f} photos/s"
          f"  -> {(ingest + enrich) / ingest:.1f}x the metadata-only time")
    total = sum(report.seconds.values())
    shares = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(report.seconds.items(), key=lambda kv: -kv[1]))
    print(f"  share of enrichment time : {shares}")
    print(f"  faces found: {report.faces_added}; stage failures: {len(report.failures)}")
    lib.close()


def bench_detection_size(samples: Path) -> None:
    models = models_for(Settings())
    faces = models.faces
    pics = [load_upright(p) for p in sorted((samples / "faces").glob("*.jpg"))]
    pics += [load_upright(p) for p in sorted((samples / "photos" / "exif-samples" / "jpg" / "tests").glob("*.jp*g"))]
    pics += [load_upright(p) for p in sorted((samples / "photos" / "exif-samples" / "jpg" / "hdr").glob("*.jpg"))]

    def run(side: int | None):
        found, t0 = 0, time.perf_counter()
        for img in pics:
            if side and max(img.size) > side:
                s = side / max(img.size)
                img = img.resize((round(img.width * s), round(img.height * s)), Image.Resampling.BILINEAR)
            found += len(faces.analyze(img))
        return found, (time.perf_counter() - t0) / len(pics)

    full, full_t = run(None)
    largest = max(max(p.size) for p in pics)
    print(f"face detection size ({len(pics)} photos up to {largest} px; full resolution is the baseline):")
    print(f"  full      : {full} faces, {full_t * 1000:6.0f} ms/photo")
    for side in (640, 1024, 1600):
        n, t = run(side)
        print(f"  {side:>4} px  : {n} faces, recall {n / max(full, 1):.0%}, {t * 1000:6.0f} ms/photo"
              f" ({t / full_t:.2f}x the full-resolution time)")


def bench_categories(samples: Path, tmp: Path) -> None:
    exif = samples / "photos" / "exif-samples" / "jpg"
    groups = {
        "portraits": sorted((samples / "faces").glob("*.jpg")) + sorted((exif / "hdr").glob("canon*.jpg")),
        "tuscany": sorted((exif / "gps").glob("*.jpg")),
        "test chart": sorted((exif / "orientation").glob("*.jpg"))[:8],
        "camera samples": sorted((exif / "exif-org").glob("*.jpg")),
    }
    src = tmp / "cats"
    label_of = {}
    for cat, files in groups.items():
        for f in files:
            dest = src / cat.replace(" ", "-") / f.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
            label_of[str(dest.resolve())] = cat
    lib = Library.open(Settings(home=tmp / "catlib"))
    PhotoIngester(lib).run([src])
    Enricher(lib).run(stages=("features",))
    with lib.session() as s:
        truth = {p.item_id: label_of[p.path] for p in s.exec(select(ItemPath))}
    rng = random.Random(3)
    ids = sorted(truth)
    rng.shuffle(ids)
    held_out, pool = ids[: len(ids) // 3], ids[len(ids) // 3:]
    model = CategoryModel(lib)
    feats = lib.vectors.get(IMAGE_FEATURES)
    labelled: list[int] = []
    for cat in groups:  # one example of each to start
        first = next(i for i in pool if truth[i] == cat)
        labelled.append(first)
    print(f"categories: {len(groups)} categories, {len(ids)} photos, {len(held_out)} held out")
    corrections = 0
    with lib.session() as s:
        for i in labelled:
            model.label(s, truth[i], [i])
        names = {c.id: c.name for c in s.exec(select(Category))}
    while True:
        with lib.session() as s:
            centroids = model.centroids(s)
        cats, _ = model.predict(centroids, np.stack([feats[i] for i in held_out]))
        acc = np.mean([names[int(c)] == truth[i] for c, i in zip(cats, held_out)])
        print(f"  {len(labelled):>2} labelled ({corrections:>2} corrections): held-out accuracy {acc:.0%}")
        # The user corrects the first photo of the training pool the model gets wrong.
        rest = [i for i in pool if i not in labelled]
        pc, _ = model.predict(centroids, np.stack([feats[i] for i in rest])) if rest else ([], [])
        wrong = [i for c, i in zip(pc, rest) if names[int(c)] != truth[i]]
        if not wrong:
            print("  no mistakes left in the training pool")
            break
        labelled.append(wrong[0])
        corrections += 1
        with lib.session() as s:
            model.label(s, truth[wrong[0]], [wrong[0]])
    lib.close()


def main() -> None:
    default = Path(os.environ.get("DEEPDIARY_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=default)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_pipeline(args.samples, Path(tmp))
        bench_detection_size(args.samples)
        bench_categories(args.samples, Path(tmp))


if __name__ == "__main__":
    main()
