"""Enrichment throughput, the face detectors compared, and category learning.

1. Face detectors, all in one run: dlib HOG at 1600 px (the detector Deep Diary used
   until now, the baseline), dlib's CNN (MMOD) and RetinaFace (the default). For each:
   recall of the hand-checked faces in the 18 large photos, false positives per 100
   face-free photos, milliseconds per photo (detection, alignment, embedding and quality),
   and the full pipeline (ingest + every enrichment stage) on the 92 sample photos:
   photos/second and the faces stage's time against the baseline's.
2. Alignment: how far RetinaFace-placed embeddings lie from dlib's own.
3. Category accuracy on a held-out split as corrections accumulate.

    python bench/enrich.py [--samples DIR] [--detectors hog,cnn,retinaface] [--no-categories]
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
from sqlmodel import select

from deepdiary.connectors.photos import iter_photo_files
from deepdiary.memory.categories import CategoryModel
from deepdiary.memory.library import Library
from deepdiary.memory.tables import Category, ItemPath
from deepdiary.memory.vectors import IMAGE_FEATURES
from deepdiary.models.faces import make_analyzer
from deepdiary.models.registry import ModelCache
from deepdiary.models.torch_runtime import set_threads
from deepdiary.pipeline.enrich import Enricher, load_upright
from deepdiary.pipeline.geocode import default_geocoder
from deepdiary.pipeline.ingest import PhotoIngester
from deepdiary.core.settings import Settings

# -- ground truth ------------------------------------------------------------------------
# The 18 large photos: the four face photos, exif-samples' jpg/tests/ and jpg/hdr/. Every
# face in them, checked by eye, as (left, top, width, height) in the upright photo. The
# issue counted 17 "faces": what dlib's HOG detector finds at full resolution. Two of
# those are ornaments on the street lamps of canon_hdr_NO/YES.jpg, not faces, so they are
# not here; the five painted faces of Matejko's Battle of Grunwald (42_IndexError.jpg)
# are, though that painting holds dozens more, too small or hidden to label fairly.
FACES = {
    "faces/biden.jpg": [(419, 241, 322, 322)],
    "faces/obama.jpg": [(349, 142, 269, 268)],
    "faces/obama2.jpg": [(171, 290, 268, 269)],
    "faces/t1.jpg": [(1118, 283, 109, 108), (67, 283, 109, 108), (724, 367, 109, 108), (450, 295, 108, 108),
                     (870, 67, 130, 130), (275, 176, 90, 90)],
    "photos/exif-samples/jpg/tests/28-hex_value.jpg": [(513, 2046, 37, 37)],  # at the lighthouse's foot
    "photos/exif-samples/jpg/tests/42_IndexError.jpg": [(2128, 1167, 53, 53), (577, 1456, 64, 63),
                                                        (3155, 1421, 64, 63), (1241, 1236, 53, 53),
                                                        (1546, 1219, 53, 52)],  # painted
}
LARGE = [f"faces/{n}" for n in ("biden.jpg", "obama.jpg", "obama2.jpg", "t1.jpg")] + [
    f"photos/exif-samples/jpg/tests/{n}" for n in (
        "11-tests.jpg", "22-canon_tags.jpg", "28-hex_value.jpg", "30-type_error.jpg", "32-lens_data.jpeg",
        "33-type_error.jpg", "35-empty.jpg", "42_IndexError.jpg", "45-gps_ifd.jpg", "67-0_length_string.jpg")] + [
    f"photos/exif-samples/jpg/hdr/{n}" for n in (
        "canon_hdr_NO.jpg", "canon_hdr_YES.jpg", "iphone_hdr_NO.jpg", "iphone_hdr_YES.jpg")]
ISSUE_COUNT = 17  # the issue's figure: 15 faces above + 2 lamp ornaments

# Photos with no face in them, checked by eye: landscapes, animals, objects, documents
# (exif-samples less its portraits, crowds, posters, paintings and cartoons), and the two
# scikit-learn photos. Tiny figures whose faces cannot be seen (a cyclist, a driver in a
# helmet) leave a photo face-free.
_X = "photos/exif-samples/"
FACE_FREE = [_X + "jpg/" + n for n in (
    "Canon_40D.jpg", "Canon_40D_photoshop_import.jpg", "Canon_DIGITAL_IXUS_400.jpg", "Canon_PowerShot_S40.jpg",
    "Fujifilm_FinePix6900ZOOM.jpg", "Fujifilm_FinePix_E500.jpg", "Kodak_CX7530.jpg", "Nikon_COOLPIX_P1.jpg",
    "Nikon_D70.jpg", "Olympus_C8080WZ.jpg", "Panasonic_DMC-FZ30.jpg", "Pentax_K10D.jpg",
    "Reconyx_HC500_Hyperfire.jpg", "Ricoh_Caplio_RR330.jpg", "Samsung_Digimax_i50_MP3.jpg", "Sony_HDR-HC3.jpg",
    "WWL_(Polaroid)_ION230.jpg", "corrupted.jpg",
    "exif-org/fujifilm-dx10.jpg", "exif-org/fujifilm-finepix40i.jpg", "exif-org/fujifilm-mx1700.jpg",
    "exif-org/kodak-dc240.jpg", "exif-org/nikon-e950.jpg", "exif-org/ricoh-rdc5300.jpg",
    "exif-org/sanyo-vpcg250.jpg", "exif-org/sanyo-vpcsx550.jpg",
    "gps/DSCN0010.jpg", "gps/DSCN0012.jpg", "gps/DSCN0021.jpg", "gps/DSCN0027.jpg", "gps/DSCN0029.jpg",
    "hdr/canon_hdr_NO.jpg", "hdr/canon_hdr_YES.jpg", "hdr/iphone_hdr_NO.jpg", "hdr/iphone_hdr_YES.jpg",
    "invalid/image01551.jpg", "invalid/image01713.jpg",
    *[f"orientation/{k}_{i}.jpg" for k in ("landscape", "portrait") for i in range(1, 9)],
    "tests/11-tests.jpg", "tests/22-canon_tags.jpg", "tests/30-type_error.jpg", "tests/32-lens_data.jpeg",
    "tests/33-type_error.jpg", "tests/35-empty.jpg", "tests/45-gps_ifd.jpg", "tests/67-0_length_string.jpg",
    "xmp/BlueSquare.jpg")] + [_X + "tiff/" + n for n in (
    "Arbitro.tiff", "Jobagent.tiff", "Picoawards.tiff", "Rudless.tiff", "Tless0.tiff")] + [
    "sklearn:china.jpg", "sklearn:flower.jpg"]

# Each detector at the input size that suits it. HOG at 1600 px with upsampling 1 is
# what enrichment ran until now; the CNN is dlib's slowest path, so 1024 px, no upsampling
# (with upsampling it takes ~20 s a photo here); RetinaFace looks at 1920 px, at 3840 px
# around small faces it half-sees (a crowd), and at 640 px for faces that fill the frame.
DETECTORS = {
    "hog": dict(detector="hog", max_side=1600, upsample=1),
    "cnn": dict(detector="cnn", max_side=1024, upsample=0),
    "retinaface": dict(detector="retinaface", max_side=1920),
}
THREADS = {"n": 1}
LABELS = {"hog": "dlib HOG, 1600 px (baseline)", "cnn": "dlib CNN, 1024 px",
          "retinaface": "RetinaFace, 1920 px (default)"}


def sample_path(samples: Path, rel: str) -> Path:
    if rel.startswith("sklearn:"):
        return Path(sklearn.datasets.__file__).parent / "images" / rel.split(":", 1)[1]
    return samples / rel


def photo_set(samples: Path, dest: Path) -> list[Path]:
    dest.mkdir(parents=True)
    sources = list(iter_photo_files([samples / "photos" / "exif-samples", samples / "faces"]))
    sources += [Path(sklearn.datasets.__file__).parent / "images" / n for n in ("china.jpg", "flower.jpg")]
    for i, src in enumerate(sources):
        shutil.copy(src, dest / f"{i:03d}-{src.name}")
    return sorted(dest.iterdir())


def _matches(found: tuple, truth: tuple) -> bool:
    """Each box's centre inside the other: detectors draw boxes of different extents."""
    fx, fy, fw, fh = found
    tx, ty, tw, th = truth
    return (fx <= tx + tw / 2 <= fx + fw and fy <= ty + th / 2 <= fy + fh
            and tx <= fx + fw / 2 <= tx + tw and ty <= fy + fh / 2 <= ty + th)


def bench_detection(samples: Path, name: str) -> dict:
    """Recall on the 18 large photos, false positives on the face-free ones, ms per photo."""
    spec = DETECTORS[name]
    analyzer = make_analyzer(**spec, **({"threads": THREADS["n"]} if spec["detector"] == "retinaface" else {}))
    analyzer._load()
    analyzer.analyze(load_upright(samples / "faces" / "obama.jpg"))  # warm up
    found = missed = extra = 0
    seconds = 0.0
    for rel in LARGE:
        image = load_upright(samples / rel)
        t = time.perf_counter()
        faces = analyzer.analyze(image)
        seconds += time.perf_counter() - t
        truth = FACES.get(rel, [])
        hit = [any(_matches(f.box, g) for f in faces) for g in truth]
        found += sum(hit)
        missed += len(hit) - sum(hit)
        extra += sum(not any(_matches(f.box, g) for g in truth) for f in faces)
    false_pos, free_seconds = 0, 0.0
    for rel in FACE_FREE:
        image = load_upright(sample_path(samples, rel))
        t = time.perf_counter()
        false_pos += len(analyzer.analyze(image))
        free_seconds += time.perf_counter() - t
    return {"found": found, "truth": found + missed, "extra": extra, "ms": 1000 * seconds / len(LARGE),
            "fp100": 100 * false_pos / len(FACE_FREE), "fp": false_pos,
            "free_ms": 1000 * free_seconds / len(FACE_FREE)}


def bench_pipeline(samples: Path, tmp: Path, name: str, workers: int = 1) -> dict:
    """Ingest and every enrichment stage over the 92 photos, with this detector, the vision models
    in this process (``workers`` 1) or in worker processes (0: one per core, the default)."""
    photos = photo_set(samples, tmp / f"photos-{name}-{workers}")
    spec = DETECTORS[name]
    settings = Settings(home=tmp / f"lib-{name}-{workers}", face_detector=spec["detector"],
                        torch_threads=THREADS["n"], enrich_workers=workers,
                        **({"retinaface_max_side": spec["max_side"]} if name == "retinaface" else
                           {"detect_max_side": spec["max_side"], "face_upsample": spec["upsample"]}))
    models = ModelCache(settings)  # a fresh cache: loading is timed apart, not inside the stages
    t0 = time.perf_counter()
    models.faces._load(), models.tagger._load(), models.text._load()
    lib = Library.open(settings, models)
    # What a process loads once, like the models: the gazetteers and the vector store's client
    # (about 3.5 s together, a cost per run, not per photo).
    default_geocoder().lookup(48.85, 2.35)
    lib.vectors.collection(IMAGE_FEATURES)
    pool = models.photo_workers if workers != 1 else None
    if pool is not None:
        pool.warm()  # the workers start and load their models
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    PhotoIngester(lib).run([photos[0].parent])
    ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = Enricher(lib, models).run()
    enrich = time.perf_counter() - t0
    lib.close()
    models.forget("photo_workers")
    n = len(photos)
    return {"n": n, "load": load, "workers": pool.workers if pool is not None else 1, "ingest": ingest, "enrich": enrich, "faces_s": report.seconds["faces"],
            "e2e": n / (ingest + enrich), "faces": report.faces_added, "failures": len(report.failures),
            "shares": {k: v / sum(report.seconds.values()) for k, v in report.seconds.items()}}


def bench_detectors(samples: Path, tmp: Path, names: list[str]) -> None:
    from deepdiary.models.torch_runtime import torch as torch_module

    torch = torch_module()  # with the thread count set

    print(f"face detectors: {len(LARGE)} large photos holding {sum(map(len, FACES.values()))} faces "
          f"(the issue's {ISSUE_COUNT} less 2 lamp ornaments), {len(FACE_FREE)} face-free photos; "
          f"{os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, onnxruntime threads "
          f"{THREADS['n'] or 'default'}")
    rows = {}
    for name in names:
        det = bench_detection(samples, name)
        run = bench_pipeline(samples, tmp, name)
        rows[name] = det | run
        print(f"  {name}: done ({run['n']} photos, {run['faces']} faces stored)", flush=True)
    if "retinaface" in rows:
        pooled = bench_pipeline(samples, tmp, "retinaface", workers=0)
        one = rows["retinaface"]
        print(f"  retinaface, models in {pooled['workers']} worker processes (the default): "
              f"{pooled['faces']} faces stored, {pooled['e2e']:.1f} photos/s end to end "
              f"({pooled['e2e'] / one['e2e']:.2f}x one process"
              + (f", {pooled['e2e'] / rows['hog']['e2e']:.2f}x the HOG baseline" if "hog" in rows else "") + ")",
              flush=True)
        rows["retinaface"]["pooled"] = pooled
    base = rows.get("hog")
    print(f"  {'detector':34s} {'recall':>8s} {'other':>5s} {'FP/100':>7s} {'ms/photo':>9s} "
          f"{'faces stage':>12s} {'end to end':>11s}")
    for name, r in rows.items():
        ratio = f" ({r['faces_s'] / base['faces_s']:.2f}x)" if base and name != "hog" else " (1.00x)" if base else ""
        print(f"  {LABELS[name]:34s} {r['found']:>3d}/{r['truth']:<4d} {r['extra']:>5d} {r['fp100']:>7.1f} "
              f"{r['ms']:>9.0f} {r['faces_s']:>5.1f} s{ratio:8s} {r['e2e']:>5.1f} photos/s")
    print("  recall: faces found of the labelled ones; other: detections in the 18 photos matching no label "
          "(more painted faces, or mistakes);")
    print("  FP/100: faces found per 100 face-free photos; ms/photo: detection, alignment, embedding and quality,")
    print("  on the 18 large photos; faces stage: its time in the full pipeline on the 92 photos (x the baseline's);")
    print("  end to end: ingest plus every enrichment stage (faces, tags, features, description, category).")
    if base and "retinaface" in rows:
        r = rows["retinaface"]
        print(f"  goals for the default: recall {r['found']}/{r['truth']} of the real faces "
              f"(goal 15/17 of the issue's count, {15 / 17:.0%}): {r['found'] / r['truth']:.0%}; "
              f"{r['fp100']:.1f} false positives per 100 (goal ≤ 2); faces stage {r['faces_s'] / base['faces_s']:.3f}x "
              f"the baseline (goal ≤ 0.5x); end to end {r['pooled']['e2e']:.1f} photos/s with worker processes, "
              f"{r['e2e']:.1f} in one process (goal ≥ 6)")
    if "retinaface" in rows:
        rows["retinaface (workers)"] = rows["retinaface"].pop("pooled")
    for name, r in rows.items():
        shares = ", ".join(f"{k} {v:.0%}" for k, v in sorted(r["shares"].items(), key=lambda kv: -kv[1]))
        print(f"  {name}: models, gazetteers and vector store load in {r['load']:.1f} s; ingest {r['ingest']:.1f} s, enrichment {r['enrich']:.1f} s "
              f"({shares}); {r['failures']} stage failures")


def bench_alignment(samples: Path) -> None:
    """Distances between embeddings of the same faces, RetinaFace-placed against dlib's own."""
    ours, theirs = make_analyzer("retinaface"), make_analyzer("hog", 1600)
    apart, vectors = [], {}
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg"):
        image = load_upright(samples / "faces" / name)
        a, b = ours.analyze(image), theirs.analyze(image)
        for i, f in enumerate(a):
            apart.append(min(float(np.linalg.norm(f.embedding - g.embedding)) for g in b))
            vectors[f"{name}:{i}"] = f.embedding
    same = float(np.linalg.norm(vectors["obama.jpg:0"] - vectors["obama2.jpg:0"]))
    keys = list(vectors)
    others = min(float(np.linalg.norm(vectors[p] - vectors[q])) for i, p in enumerate(keys) for q in keys[i + 1:]
                 if {p.split(":")[0], q.split(":")[0]} != {"obama.jpg", "obama2.jpg"})
    print(f"alignment: {len(apart)} sample faces placed by RetinaFace's landmarks embed {np.mean(apart):.2f} "
          f"(at most {max(apart):.2f}) from dlib's own alignment; the two Obama photos {same:.2f} apart, "
          f"the closest two different people {others:.2f} (a face joins a person within 0.5)")


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
    parser.add_argument("--detectors", default="hog,cnn,retinaface", help="comma-separated: hog, cnn, retinaface")
    parser.add_argument("--no-categories", action="store_true", help="skip the category-learning part")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch and onnxruntime (Settings.torch_threads; 0: their default)")
    args = parser.parse_args()
    THREADS["n"] = args.threads
    set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        bench_detectors(args.samples, Path(tmp), [d for d in args.detectors.split(",") if d])
        bench_alignment(args.samples)
        if not args.no_categories:
            bench_categories(args.samples, Path(tmp))


if __name__ == "__main__":
    main()
