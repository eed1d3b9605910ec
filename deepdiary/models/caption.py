"""BLIP image captions from weights the user supplies (a transformers model folder).

No captioning weights ship in any package; the default description is composed from
extracted facts (pipeline/describe.py). Set ``DEEPDIARY_BLIP_WEIGHTS`` to a local folder
holding a BLIP captioning model and its processor to use it instead.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PIL import Image

from deepdiary.models import ModelUnavailable
from deepdiary.models.torch_runtime import torch

_loaded: dict[str, tuple] = {}
_lock = threading.Lock()


class BlipCaptioner:
    def __init__(self, weights: Path):
        self.weights = Path(weights).expanduser()
        self.name = f"blip:{self.weights.name}"

    def _load(self):
        key = str(self.weights)
        with _lock:
            if key not in _loaded:
                if not self.weights.is_dir():
                    raise ModelUnavailable(f"BLIP weights folder not found: {self.weights}")
                torch()
                try:
                    from transformers import BlipForConditionalGeneration, BlipProcessor
                except ImportError as exc:
                    raise ModelUnavailable("BLIP backend: pip install transformers") from exc
                processor = BlipProcessor.from_pretrained(key, local_files_only=True)
                model = BlipForConditionalGeneration.from_pretrained(key, local_files_only=True).eval()
                _loaded[key] = (processor, model)
        return _loaded[key]

    def caption(self, image: Image.Image, max_new_tokens: int = 30) -> str:
        processor, model = self._load()
        with torch().inference_mode():
            inputs = processor(images=image.convert("RGB"), return_tensors="pt")
            out = model.generate(**inputs, max_new_tokens=max_new_tokens)
        text = processor.decode(out[0], skip_special_tokens=True).strip()
        return (text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")) if text else ""
