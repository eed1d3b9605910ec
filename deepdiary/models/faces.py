"""Faces: a detector, dlib's 128-d embedding, and a quality score for each face.

``FaceAnalyzer`` joins one of the detectors of ``face_detect`` (RetinaFace by default)
to dlib's ResNet embedding (weights in ``face_recognition_models``):

1. The detector finds the face and its landmarks in the full-resolution photo.
2. Alignment. dlib's embedding was trained on chips cut by dlib's own 5-point
   alignment, so the detector's landmarks place a box (side 2.5× the eye distance,
   centred on the landmarks) and dlib's 5-point shape predictor refines the eye corners
   and nose inside it; dlib then cuts the 150×150 chip from the full-resolution photo.
   Measured on the sample faces (``bench/enrich.py``), these embeddings are 0.05 apart
   from those of dlib's own detector, so libraries enriched before keep their people;
   a similarity fit of RetinaFace's five points to a template moved them 0.19.
3. Quality, from 0 to 1: the product of size (the distance between the eyes, in the
   photo's pixels), sharpness (the Laplacian of the chip; blur and up-scaling both
   lower it) and pose (how far the nose sits from the middle of the eyes, and from
   between the eyes and the mouth). Calibrated so that an embedding whose quality is at
   least 0.5 stays within ~0.3 of the same face photographed well, against ≥ 0.55 to
   anyone else; a blurry 20 px face scores near 0.

``InsightFaceAnalyzer`` stays for users with an insightface model pack.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from deepdiary.models import ModelUnavailable
from deepdiary.models.face_detect import Detection, FaceDetector, _face_models, downscaled, make_detector

EMBEDDING = "dlib-resnet-v1"
CHIP_SIZE, CHIP_PADDING = 150, 0.25


@dataclass
class DetectedFace:
    box: tuple[int, int, int, int]  # left, top, width, height in the full-resolution photo's pixels
    score: float
    landmarks: list[tuple[int, int]] = field(default_factory=list)
    embedding: np.ndarray | None = None
    quality: float | None = None
    quality_parts: dict[str, float] = field(default_factory=dict)


# -- quality ------------------------------------------------------------------------------


def _ramp(x: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear between."""
    return float(min(1.0, max(0.0, (x - low) / (high - low))))


def chip_sharpness(chip: np.ndarray) -> float:
    """Variance of the Laplacian over the middle of a 150×150 face chip (eyes to mouth)."""
    g = chip[35:125, 30:120].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


# Where the nose sits between the eyes (0) and the mouth (1): about 0.45-0.6 facing the
# camera; a face tipped far back or down leaves this band.
PITCH = (0.1, 0.25, 0.85, 1.0)


def face_quality(landmarks: np.ndarray, chip: np.ndarray) -> dict[str, float]:
    """Size, sharpness and pose, each 0..1, and their product ``quality``.

    ``landmarks`` are the five points of ``Detection.landmarks`` in the photo's pixels
    (mouth corners may be NaN). Thresholds come from degrading the sample faces: an eye
    distance of 8 px or a chip Laplacian variance of 3 leaves an embedding ~0.5 from
    the original, as far as a different person; 18 px and 15 leave ~0.2.
    """
    left, right, nose = landmarks[0], landmarks[1], landmarks[2]
    eyes = right - left
    iod = float(np.hypot(*eyes))
    size = _ramp(iod, 7.0, 18.0)
    sharp_raw = chip_sharpness(chip)
    sharpness = _ramp(np.log(max(sharp_raw, 1e-6)), np.log(3.0), np.log(15.0))
    # Pose, in the frame of the eye line: the nose's sideways offset from the middle of
    # the eyes (yaw; about 0.55·tan(yaw) of the eye distance), and where the nose sits
    # between the eyes and the mouth (pitch), when the detector gives the mouth.
    if iod > 0:
        c, s = eyes / iod
        rot = np.array([[c, s], [-s, c]])
        rel = (landmarks - (left + right) / 2) @ rot.T / iod
        yaw = abs(float(rel[2, 0]))
        pose = 1.0 - _ramp(yaw, 0.35, 0.8)
        pitch = float("nan")
        if np.all(np.isfinite(rel[3:])):
            mouth_y = float(rel[3:, 1].mean())
            pitch = float(rel[2, 1]) / mouth_y if mouth_y > 0 else 0.0
            pose *= min(_ramp(pitch, PITCH[0], PITCH[1]), 1.0 - _ramp(pitch, PITCH[2], PITCH[3]))
    else:
        yaw, pitch, pose = 1.0, float("nan"), 0.0
    return {"size": round(size, 3), "sharpness": round(sharpness, 3), "pose": round(pose, 3),
            "quality": round(size * sharpness * pose, 3), "eye_distance": round(iod, 1),
            "laplacian": round(sharp_raw, 1), "yaw": round(yaw, 3),
            "pitch": round(pitch, 3)}


# -- the analyzer -------------------------------------------------------------------------


class DlibEmbedder:
    """dlib's 5-point alignment and ResNet embedding; same person ≤ ~0.45 apart, others ≥ ~0.6."""

    name = EMBEDDING
    dim = 128

    def __init__(self):
        self._lock = threading.Lock()
        self._loaded = None

    def _load(self):
        with self._lock:
            if self._loaded is None:
                dlib, frm = _face_models()
                self._loaded = (dlib, dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                                dlib.face_recognition_model_v1(frm.face_recognition_model_location()))
        return self._loaded

    def shapes(self, pixels: np.ndarray, detections: list[Detection], offset: tuple[float, float] = (0, 0)):
        """dlib 5-point shapes for the detections, in ``pixels``: the full-resolution photo,
        or the part of it from ``offset`` on."""
        dlib, shaper, _ = self._load()
        out = dlib.full_object_detections()
        ox, oy = offset
        for d in detections:
            if d.dlib_parts is not None:  # a dlib detector: its own shape, as before
                parts = d.dlib_parts - [ox, oy]
                x0, y0, x1, y1 = (int(round(v)) for v in (d.box[0] - ox, d.box[1] - oy, d.box[2] - ox, d.box[3] - oy))
                rect = dlib.rectangle(x0, y0, x1 - 1, y1 - 1)
                out.append(dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y)))
                                                             for x, y in parts]))
                continue
            # The box dlib's shape predictor was trained on, placed from the landmarks:
            # about 2.5 eye distances wide, centred a little above the landmarks' mean.
            points = d.landmarks[np.all(np.isfinite(d.landmarks), axis=1)] - [ox, oy]
            iod = float(np.hypot(*(d.landmarks[1] - d.landmarks[0])))
            if not np.isfinite(iod) or iod < 1:
                iod = max(d.width, d.height) / 2.5
            cx, cy = points.mean(0) if len(points) else ((d.box[0] + d.box[2]) / 2 - ox, (d.box[1] + d.box[3]) / 2 - oy)
            cy -= 0.05 * iod
            half = 1.25 * iod
            rect = dlib.rectangle(int(round(cx - half)), int(round(cy - half)),
                                  int(round(cx + half)), int(round(cy + half)))
            out.append(shaper(pixels, rect))
        return out

    def embed(self, pixels: np.ndarray, detections: list[Detection],
              offset: tuple[float, float] = (0, 0)) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Embeddings and the 150×150 chips they came from, one per detection."""
        if not detections:
            return [], []
        dlib, _, model = self._load()
        shapes = self.shapes(pixels, detections, offset)
        chips = dlib.get_face_chips(pixels, shapes, size=CHIP_SIZE, padding=CHIP_PADDING)
        vectors = model.compute_face_descriptor(chips)
        return [np.asarray(v, dtype=np.float32) for v in vectors], [np.asarray(c) for c in chips]


class FaceAnalyzer:
    """A detector plus dlib's alignment, embedding and the quality score."""

    dim = 128

    def __init__(self, detector: FaceDetector, embedder: DlibEmbedder | None = None):
        self.detector = detector
        self.embedder = embedder or DlibEmbedder()
        self.name = f"{detector.name}+{EMBEDDING}"

    def _load(self):  # warm both models (the bench times loading apart)
        if hasattr(self.detector, "_load"):
            self.detector._load()
        self.embedder._load()

    def analyze(self, image: Image.Image) -> list[DetectedFace]:
        """Faces in the upright photo at full resolution; boxes and landmarks in its pixels."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        detections = self.detector.detect(image)
        if not detections:
            return []
        # Only the part of the photo around the faces is handed to dlib (a 12-megapixel
        # array is slow to copy and to sample from).
        boxes = np.array([d.box for d in detections])
        margin = float(np.max(boxes[:, 2:] - boxes[:, :2]))
        x0, y0 = (max(0, int(v - margin)) for v in boxes[:, :2].min(0))
        x1, y1 = int(min(image.width, boxes[:, 2].max() + margin)), int(min(image.height, boxes[:, 3].max() + margin))
        pixels = np.asarray(image.crop((x0, y0, x1, y1)))
        vectors, chips = self.embedder.embed(pixels, detections, (x0, y0))
        faces = []
        for d, vector, chip in zip(detections, vectors, chips):
            quality = face_quality(d.landmarks, chip)
            x0, y0, x1, y1 = d.box
            if d.dlib_parts is None and y1 - y0 > x1 - x0:
                # RetinaFace's box runs from the hairline to the chin; the stored box is, as
                # dlib's always was, a square from the brows to the chin (collages add the margin).
                y0 = y1 - (x1 - x0)
            left, top = max(int(round(x0)), 0), max(int(round(y0)), 0)
            right, bottom = min(int(round(x1)), image.width), min(int(round(y1)), image.height)
            points = d.dlib_parts if d.dlib_parts is not None else d.landmarks
            faces.append(DetectedFace(
                box=(left, top, max(right - left, 1), max(bottom - top, 1)), score=round(d.score, 4),
                landmarks=[(int(round(x)), int(round(y))) for x, y in points if np.isfinite(x) and np.isfinite(y)],
                embedding=vector, quality=quality["quality"], quality_parts=quality,
            ))
        return faces


def make_analyzer(detector: str = "retinaface", max_side: int | None = None, **options) -> FaceAnalyzer:
    return FaceAnalyzer(make_detector(detector, max_side, **options))


# Kept for callers written before the detectors were separate: dlib's HOG path.
def DlibFaceAnalyzer(upsample: int = 1, max_side: int = 1600) -> FaceAnalyzer:  # noqa: N802
    return make_analyzer("hog", max_side, upsample=upsample)


class InsightFaceAnalyzer:
    """insightface's detector and ArcFace embedder from a user-supplied model pack."""

    name = "insightface"
    dim = 512

    def __init__(self, pack_dir: str, max_side: int = 1600):
        self.pack_dir = pack_dir
        self.max_side = max_side
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
        small, scale = downscaled(image.convert("RGB"), self.max_side)
        bgr = np.asarray(small)[:, :, ::-1]
        faces = []
        for f in self._app.get(bgr):
            x1, y1, x2, y2 = (float(v) * scale for v in f.bbox)
            faces.append(DetectedFace(
                box=(round(x1), round(y1), round(x2 - x1), round(y2 - y1)), score=float(f.det_score),
                landmarks=[(round(x * scale), round(y * scale)) for x, y in f.kps],
                embedding=np.asarray(f.normed_embedding, dtype=np.float32),
            ))
        return faces
