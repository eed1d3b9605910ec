"""What encryption at rest costs: the same photos and chat export ingested into a plain and an
encrypted library in one process, then the same searches asked of each.

Photos: the camera JPEGs of the sample data (``photos/exif-samples/jpg``, the GPS ones
included, the corrupted one left out) and the face samples, enriched by the real models;
chats: every PyWxDump CSV of ``chats/``. The models are loaded and warmed by a first,
untimed ingest of the same files into a scratch library, so neither pays for loading them;
``--repeats`` libraries of each kind are built, in alternating order. Printed for each
kind: the median ingest seconds (photos with enrichment, then chats), the median and p95 of
chat searches and of photo searches (free text, facets, likeness), and the ratio
encrypted / plain of each.

    DEEPDIARY_SAMPLES=../shared/data python bench/encryption.py [--photos 24] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from deepdiary.core.settings import Settings
from deepdiary.services import AppContext, encryption, ingest, search
from deepdiary.services.search import ChatSearch, PhotoSearch

CHAT_QUESTIONS = ("环岛骑一圈", "养马岛", "租车", "吃饭", "签约", "几点到", "拼多多", "小熊")
PHOTO_SEARCHES = (PhotoSearch(query="a man in a suit"), PhotoSearch(query="a street with buildings"),
                  PhotoSearch(near="43.46,11.88", radius=50), PhotoSearch(layout="wide"), PhotoSearch(like="1"),
                  PhotoSearch(date_from="2008", date_to="2010"))


def sample_photos(samples: Path, n: int, into: Path) -> Path:
    found = sorted((samples / "photos/exif-samples/jpg").glob("*.jpg")) + sorted(
        (samples / "photos/exif-samples/jpg/gps").glob("*.jpg")) + sorted((samples / "faces").glob("*.jpg"))
    into.mkdir(parents=True)
    for path in [p for p in found if p.name != "corrupted.jpg"][:n]:
        shutil.copy(path, into / path.name)
    return into


def timed_ingest(ctx: AppContext, photos: Path, chats: list[Path]) -> tuple[float, int, dict[str, int]]:
    t = time.perf_counter()
    report = ingest.ingest_photos(ctx, [photos])
    ingest.ingest_text(ctx, "chats", chats)
    return time.perf_counter() - t, report.added, report.enrich.stages_run


def search_times(ctx: AppContext, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"chats": [], "photos": []}
    for _ in range(rounds):
        for q in CHAT_QUESTIONS:
            t = time.perf_counter()
            search.search_chats(ctx, ChatSearch(question=q, limit=10))
            out["chats"].append(time.perf_counter() - t)
        for p in PHOTO_SEARCHES:
            t = time.perf_counter()
            search.search_photos(ctx, p)
            out["photos"].append(time.perf_counter() - t)
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=5, help="times each search is asked of each library")
    parser.add_argument("--repeats", type=int, default=4, help="libraries of each kind built (median ingest time)")
    args = parser.parse_args()
    samples = Path(os.environ.get("DEEPDIARY_SAMPLES", Path(__file__).resolve().parents[2] / "shared" / "data"))
    chats = sorted((samples / "chats").glob("*pywxdump*.csv"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = sample_photos(samples, args.photos, tmp / "photos")
        base = Settings(home=tmp / "warm", enrich_workers=1)
        warm = AppContext(base)
        timed_ingest(warm, photos, chats)  # every model loaded and warmed on the same photos
        kinds = {"plain": {}, "encrypted": {"passphrase": SecretStr("bench passphrase")}}
        results = {name: {"ingest": [], "chats": [], "photos": []} for name in kinds}
        for rep in range(args.repeats):  # alternating which goes first, so neither gains from the other
            for name in (list(kinds) if rep % 2 == 0 else list(kinds)[::-1]):
                ctx = AppContext(base.model_copy(update={"home": tmp / f"{name}-{rep}", **kinds[name]}), warm.models)
                if kinds[name]:
                    encryption.init_library(ctx, encrypt=True)
                seconds, added, stages = timed_ingest(ctx, photos, chats)
                r = results[name]
                r["ingest"].append(seconds)
                r["added"], r["stages"] = added, stages
                for what, times in search_times(ctx, args.rounds).items():
                    r[what] += times
                ctx.close()
        warm.close()
    for r in results.values():
        r["ingest"] = statistics.median(r["ingest"])
    print(f"{results['plain']['added']} photos (enriched) and {len(chats)} chat export(s), {args.repeats} libraries "
          f"of each kind; {args.rounds} rounds of {len(CHAT_QUESTIONS)} chat and {len(PHOTO_SEARCHES)} photo searches")
    print("enrichment stages run per library:", ", ".join(f"{k} {v}" for k, v in results["encrypted"]["stages"].items()))
    print(f"{'':10} {'ingest s':>9} {'chat med ms':>12} {'chat p95 ms':>12} {'photo med ms':>13} {'photo p95 ms':>13}")
    for name, r in results.items():
        print(f"{name:10} {r['ingest']:9.2f} {1e3 * statistics.median(r['chats']):12.2f} {1e3 * p95(r['chats']):12.2f} "
              f"{1e3 * statistics.median(r['photos']):13.2f} {1e3 * p95(r['photos']):13.2f}")
    plain, sealed = results["plain"], results["encrypted"]
    print(f"{'ratio':10} {sealed['ingest'] / plain['ingest']:9.2f} "
          f"{statistics.median(sealed['chats']) / statistics.median(plain['chats']):12.2f} {'':12} "
          f"{statistics.median(sealed['photos']) / statistics.median(plain['photos']):13.2f}")


if __name__ == "__main__":
    main()
