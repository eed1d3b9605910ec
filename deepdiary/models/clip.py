"""CLIP image and text embeddings from an open_clip checkpoint the user supplies.

No CLIP weights ship in any package, so this backend is off unless
``DEEPDIARY_CLIP_CHECKPOINT`` names a local checkpoint file (``DEEPDIARY_CLIP_MODEL``
is its architecture: an open_clip name such as ViT-B-32, or a model-config JSON file). Then text→photo search uses CLIP instead of the
tag-and-description matching.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image

from deepdiary.models import ModelUnavailable
from deepdiary.models.torch_runtime import torch


class ClipModel:
    def __init__(self, checkpoint: Path, architecture: str = "ViT-B-32"):
        self.checkpoint = Path(checkpoint).expanduser()
        self.architecture = architecture
        self.name = f"open_clip:{architecture}"
        self._lock = threading.Lock()
        self._loaded = None

    def _load(self):
        with self._lock:
            if self._loaded is None:
                if not self.checkpoint.is_file():
                    raise ModelUnavailable(f"CLIP checkpoint not found: {self.checkpoint}")
                torch()  # registers the torchvision ops shim before open_clip imports torchvision
                try:
                    import open_clip
                except ImportError as exc:
                    raise ModelUnavailable("CLIP backend: pip install open_clip_torch==3.3.0 torchvision==0.28.0") from exc
                name = self.architecture
                if name.endswith(".json"):
                    # An architecture of the user's own, described by an open_clip config file.
                    open_clip.add_model_config(Path(name).expanduser())
                    name = Path(name).stem
                # pretrained= a local file path: open_clip loads it and never touches a hub.
                model, _, preprocess = open_clip.create_model_and_transforms(
                    name, pretrained=str(self.checkpoint), device="cpu")
                self._loaded = (model.eval(), preprocess, open_clip.get_tokenizer(name))
        return self._loaded

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        model, preprocess, _ = self._load()
        t = torch()
        with t.inference_mode():
            batch = t.stack([preprocess(img.convert("RGB")) for img in images])
            feats = model.encode_image(batch)
            return t.nn.functional.normalize(feats, dim=-1).numpy().astype(np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        model, _, tokenizer = self._load()
        t = torch()
        with t.inference_mode():
            feats = model.encode_text(tokenizer(texts))
            return t.nn.functional.normalize(feats, dim=-1).numpy().astype(np.float32)
