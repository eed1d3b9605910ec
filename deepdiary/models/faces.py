"""Face detection and 128-d face embeddings.

The default backend is dlib (HOG detector, 5-point landmarks, ResNet embedding) with the
weights shipped in ``face_recognition_models``; ``insightface`` is used instead when the
user configures a model pack folder (``DEEPDIARY_INSIGHTFACE_PACK``).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from deepdiary.models import ModelUnavailable


@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]  # left, top, width, height in the analysed image's pixels
    score: float
    landmarks: list[tuple[int, int]] = field(default_factory=list)
    embedding: np.ndarray | None = None


class DlibFaceAnalyzer:
    """dlib's HOG detector and ResNet embedder. Same person ≤ ~0.45 apart, others ≥ ~0.6."""

    name = "dlib-resnet-v1"
    dim = 128

    def __init__(self, upsample: int = 1, min_score: float = -0.2):
        self.upsample = upsample
        self.min_score = min_score
        self._lock = threading.Lock()
        self._loaded = None

    def _load(self):
        with self._lock:
            if self._loaded is None:
                try:
                    import dlib
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # pkg_resources deprecation notice
                        import face_recognition_models as frm
                except ImportError as exc:
                    raise ModelUnavailable(
                        "face models are missing: pip install dlib-bin==20.0.1.post1 "
                        "face_recognition_models==0.3.0 'setuptools<81'"
                    ) from exc
                self._loaded = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                    dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
                )
        return self._loaded

    def analyze(self, image: Image.Image) -> list[DetectedFace]:
        detector, shaper, embedder = self._load()
        pixels = np.asarray(image.convert("RGB"))
        rects, scores, _ = detector.run(pixels, self.upsample, self.min_score)
        faces = []
        for rect, score in zip(rects, scores):
            shape = shaper(pixels, rect)
            left, top = max(rect.left(), 0), max(rect.top(), 0)
            right, bottom = min(rect.right(), pixels.shape[1] - 1), min(rect.bottom(), pixels.shape[0] - 1)
            faces.append(DetectedFace(
                box=(left, top, right - left + 1, bottom - top + 1),
                score=float(score),
                landmarks=[(p.x, p.y) for p in shape.parts()],
                embedding=np.asarray(embedder.compute_face_descriptor(pixels, shape, 1), dtype=np.float32),
            ))
        return faces


class InsightFaceAnalyzer:
    """insightface's detector and ArcFace embedder from a user-supplied model pack."""

    name = "insightface"
    dim = 512

    def __init__(self, pack_dir: str):
        self.pack_dir = pack_dir
        self._app = None

    def analyze(self, image: Image.Image) -> list[DetectedFace]:
        if self._app is None:
            try:
                from insightface.app import FaceAnalysis
            except ImportError as exc:
                raise ModelUnavailable("insightface backend: pip install insightface onnxruntime") from exc
            from pathlib import Path

            pack = Path(self.pack_dir).expanduser()
            if not pack.is_dir():
                raise ModelUnavailable(f"insightface model pack not found at {pack}")
            app = FaceAnalysis(name=pack.name, root=str(pack.parent.parent), providers=["CPUExecutionProvider"])
            app.prepare(ctx_id=-1)
            self._app = app
        bgr = np.asarray(image.convert("RGB"))[:, :, ::-1]
        faces = []
        for f in self._app.get(bgr):
            x1, y1, x2, y2 = (int(v) for v in f.bbox)
            faces.append(DetectedFace(
                box=(x1, y1, x2 - x1, y2 - y1), score=float(f.det_score),
                landmarks=[(int(x), int(y)) for x, y in f.kps],
                embedding=np.asarray(f.normed_embedding, dtype=np.float32),
            ))
        return faces
