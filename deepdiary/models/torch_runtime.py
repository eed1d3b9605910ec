"""Import torch once, with the few process-wide settings every model here relies on."""

from __future__ import annotations

import os
from functools import lru_cache

from deepdiary.models import ModelUnavailable

_keep: list = []


@lru_cache(maxsize=1)
def torch():
    try:
        import torch as _torch
    except ImportError as exc:  # pragma: no cover - torch is a pinned dependency
        raise ModelUnavailable("PyTorch is missing: pip install torch==2.13.0 (the CPU build)") from exc
    threads = int(os.environ.get("DEEPDIARY_TORCH_THREADS", "0") or 0)
    if threads > 0:
        _torch.set_num_threads(threads)
    # PyPI's torchvision (pulled in by open_clip and transformers) cannot register its
    # C++ ops beside the CPU build of torch; declaring them first lets it import.
    # The library object must stay referenced for the definitions to live.
    try:
        lib = _torch.library.Library("torchvision", "FRAGMENT")
        for schema in ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
                       "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"):
            lib.define(schema)
        _keep.append(lib)
    except RuntimeError:
        pass  # already defined: a real torchvision build is loaded
    return _torch
