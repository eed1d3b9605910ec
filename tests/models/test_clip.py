"""The CLIP backend's plumbing, with a randomly initialised checkpoint made here.

No real CLIP weights exist offline, so this checks that a configured checkpoint is
loaded from disk, that enrichment stores CLIP image vectors, and that text search then
goes through CLIP; it does not judge quality.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.photo_factory import make_photo

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from deepdiary.models.torch_runtime import torch

    t = torch()
    import open_clip

    root = tmp_path_factory.mktemp("clip")
    config = root / "tiny-clip.json"
    config.write_text(json.dumps(TINY))
    open_clip.add_model_config(config)
    t.manual_seed(0)
    model = open_clip.create_model("tiny-clip", pretrained=None)
    checkpoint = root / "tiny-clip.pt"
    t.save({"state_dict": model.state_dict()}, checkpoint)
    return checkpoint, config, model


def test_checkpoint_loads_and_embeds(tiny_clip):
    from PIL import Image

    from deepdiary.models.clip import ClipModel
    from deepdiary.models.torch_runtime import torch

    checkpoint, config, reference = tiny_clip
    clip = ClipModel(checkpoint, str(config))
    images = clip.embed_images([Image.new("RGB", (80, 60), (200, 30, 30))])
    texts = clip.embed_texts(["a red square", "一只狗"])
    assert images.shape == (1, 32) and texts.shape == (2, 32)
    assert abs(float((texts ** 2).sum(axis=1)[0]) - 1.0) < 1e-4
    # The weights are the checkpoint's, not a fresh random init.
    loaded = clip._load()[0].state_dict()
    for key, value in reference.state_dict().items():
        assert torch().equal(loaded[key], value), key


def test_search_goes_through_clip(tiny_clip, tmp_path):
    checkpoint, config, _ = tiny_clip
    make_photo(tmp_path / "photos" / "red.jpg", background=(220, 30, 30))
    make_photo(tmp_path / "photos" / "blue.jpg", background=(30, 90, 210))
    env = {**os.environ, "DEEPDIARY_CLIP_CHECKPOINT": str(checkpoint), "DEEPDIARY_CLIP_MODEL": str(config)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(tmp_path / "lib"), *a],
                                    capture_output=True, text=True, check=True, env=env)
    report = json.loads(run("ingest", "photos", str(tmp_path / "photos"), "--json").stdout)
    assert report["enrich"]["failures"] == []
    shown = json.loads(run("show", str(report["item_ids"][0]), "--json").stdout)
    assert shown["stages"]["features"]["model"] == "efficientnet-lite0+clip"
    found = json.loads(run("search", "photos", "--query", "a red square", "--json").stdout)
    assert len(found) == 2 and all(r["score"] is not None for r in found)
    from deepdiary.memory.vectors import CLIP_IMAGE, LocalVectors

    stored = LocalVectors(tmp_path / "lib" / "vectors").get(CLIP_IMAGE)
    assert sorted(stored) == sorted(report["item_ids"]) and all(v.shape == (32,) for v in stored.values())
