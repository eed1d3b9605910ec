"""Import torch once, with the few process-wide settings every model here relies on."""

from __future__ import annotations

from functools import lru_cache

from deepdiary.models import ModelUnavailable

_keep: list = []
_threads = {"n": 0}  # 0: torch's default; the services set it from Settings.torch_threads


def set_threads(n: int) -> None:
    """The CPU threads torch uses, applied when torch is first imported (or now, if it was)."""
    _threads["n"] = n
    if n > 0 and torch.cache_info().currsize:
        torch().set_num_threads(n)


@lru_cache(maxsize=1)
def torch():
    try:
        import torch as _torch
    except ImportError as exc:  # pragma: no cover - torch is a pinned dependency
        raise ModelUnavailable("PyTorch is missing: pip install torch==2.13.0 (the CPU build)") from exc
    threads = _threads["n"]
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
