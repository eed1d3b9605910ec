"""What the vision models make of a photo, computed in worker processes.

On a small machine one process leaves cores idle for much of an enrichment run: dlib
holds the GIL for the ~100 ms it takes to embed each face, and decoding, resizing and
the Python around the models use one core. Each worker loads its own models, with one
thread each, and returns for one photo its faces (boxes, landmarks, embeddings, quality),
its ImageNet analysis (class probabilities and image features) and its perceptual hash.
The caller writes the catalogue itself, photo by photo in order, so a run's results do
not depend on how many workers computed them.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import time
import weakref
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from PIL import Image, ImageOps

__all__ = ["BrokenProcessPool", "PhotoAnalysis", "PhotoWorkers", "analyse_photo", "load_upright"]


def load_upright(path) -> Image.Image:
    """The photo decoded, turned as its EXIF orientation says, in RGB (``path``: a path, or a
    binary file object such as a sealed blob opened in memory)."""
    with Image.open(path) as img:
        img.load()
        return ImageOps.exif_transpose(img).convert("RGB")


@dataclass
class PhotoAnalysis:
    """One photo's model outputs; ``errors`` holds, per stage, why its model failed."""

    faces: list | None = None  # DetectedFace
    analysis: object = None  # ImageAnalysis
    phash: str | None = None
    unreadable: str | None = None  # the photo could not be opened: every stage fails with this
    errors: dict[str, str] = field(default_factory=dict)


def analyse_photo(models, path, stages: tuple[str, ...]) -> PhotoAnalysis:
    """The models' work for ``stages`` (faces, tags, features) on the photo at ``path`` (a path or
    a binary file object)."""
    out = PhotoAnalysis()
    try:
        image = load_upright(path)
    except Exception as exc:  # noqa: BLE001 - reported as the photo's failure, as in one process
        out.unreadable = f"cannot open the photo: {exc}"
        return out
    if "faces" in stages:
        try:
            out.faces = models.faces.analyze(image)
        except Exception as exc:  # noqa: BLE001
            out.errors["faces"] = f"{type(exc).__name__}: {exc}"
    if {"tags", "features"} & set(stages):
        try:
            out.analysis = models.tagger.analyze([image])[0]
        except Exception as exc:  # noqa: BLE001
            out.errors["tags"] = out.errors["features"] = f"{type(exc).__name__}: {exc}"
    if "features" in stages and "features" not in out.errors:
        import imagehash

        out.phash = str(imagehash.phash(image))
    return out


# -- inside a worker ---------------------------------------------------------------------
_worker: dict = {}


def _exit_with_parent() -> None:
    """Exit as soon as the process that started this worker dies: a SIGKILLed ingest would
    otherwise leave its workers (each with its models in memory) running on their own."""
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start(settings) -> None:
    from deepdiary.models import torch_runtime

    _exit_with_parent()
    from deepdiary.models.registry import ModelCache

    torch_runtime.set_threads(settings.torch_threads)
    # The photo ingester's decompression-bomb limit, which a fresh process would not have.
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    models = _worker["models"] = ModelCache(settings)
    # Load now, so the first photo does not wait for it and a missing model shows at once.
    for model in (models.faces, models.tagger):
        if hasattr(model, "_load"):
            model._load()


def _analyse(photo: str | bytes, stages: tuple[str, ...]) -> PhotoAnalysis:
    """``photo``: a file's path, or the bytes of a sealed blob the caller opened."""
    from io import BytesIO

    return analyse_photo(_worker["models"], BytesIO(photo) if isinstance(photo, bytes) else Path(photo), stages)


def _ready() -> int:
    time.sleep(0.05)  # long enough that the next call goes to another worker
    return os.getpid()


# Pools still open when the interpreter stops are shut down first: left to garbage collection,
# their manager thread's callback runs after multiprocessing's globals are gone and prints an error.
_open_pools: "weakref.WeakSet[PhotoWorkers]" = weakref.WeakSet()


@atexit.register
def _close_open_pools() -> None:
    for pool in list(_open_pools):
        pool.close(wait=True)


class PhotoWorkers:
    """A pool of ``workers`` processes, each with its own models at one thread."""

    def __init__(self, settings, workers: int):
        self.workers = workers
        _open_pools.add(self)
        # spawn: a forked child would inherit torch's and onnxruntime's thread pools mid-state.
        self._pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
            initargs=(settings.model_copy(update={"torch_threads": 1, "passphrase": None}),))

    def warm(self) -> None:
        """Start every worker and load its models now (what the first photos would wait for)."""
        seen: set[int] = set()
        for _ in range(10):
            seen |= {f.result() for f in [self._pool.submit(_ready) for _ in range(self.workers)]}
            if len(seen) >= self.workers:
                break

    def analyse(self, jobs: Iterable[tuple[Path | bytes, tuple[str, ...]]]) -> Iterator[PhotoAnalysis]:
        """Each (photo, stages) job's analysis, in the jobs' order, a few photos ahead of the caller.
        A photo is a path, or its bytes (a sealed blob opened by the caller)."""
        window: deque = deque()
        for photo, stages in jobs:
            window.append(self._pool.submit(_analyse, photo if isinstance(photo, bytes) else str(photo), stages))
            if len(window) >= 3 * self.workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()

    def close(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
