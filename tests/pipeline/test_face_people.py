"""Low-quality faces are kept and shown, but never make a person of their own."""

import numpy as np
from PIL import Image, ImageFilter
from sqlmodel import select

from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.memory.people import FaceClusterer, list_people, split_face
from deepdiary.memory.tables import Face, Item, PhotoMeta
from deepdiary.pipeline.enrich import Enricher
from deepdiary.pipeline.ingest import PhotoIngester


def _distant_blurry_face(samples, dest, scale=0.08, blur=1.0):
    """A landscape with a face about 20 px wide, softened, pasted into it."""
    scene = Image.open(samples / "photos" / "exif-samples" / "jpg" / "gps" / "DSCN0012.jpg").convert("RGB")
    face = Image.open(samples / "faces" / "biden.jpg").convert("RGB").crop((380, 180, 790, 620))
    face = face.resize((round(face.width * scale), round(face.height * scale)), Image.Resampling.LANCZOS)
    scene.paste(face.filter(ImageFilter.GaussianBlur(blur)), (300, 200))
    scene.save(dest, quality=92)


def test_a_tiny_blurry_face_does_not_create_a_person(samples, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "obama.jpg").write_bytes((samples / "faces" / "obama.jpg").read_bytes())
    _distant_blurry_face(samples, photos / "distant.jpg")
    lib = Library.open(Settings(home=tmp_path / "lib"))
    PhotoIngester(lib).run([photos])
    report = Enricher(lib).run(stages=("faces",))
    assert report.faces_added == 2 and report.failures == []
    with lib.session() as s:
        faces = s.exec(select(Face)).all()
        weak = [f for f in faces if f.quality < 0.5]
        good = [f for f in faces if f.quality >= 0.5]
        assert len(weak) == 1 and len(good) == 1
        assert weak[0].width < 30 and weak[0].person_id is None  # stored, but nobody's
        assert s.get(PhotoMeta, weak[0].item_id).people_count == 1  # and counted in the photo
        people = list_people(s)
        assert [p["faces"] for p in people] == [1] and people[0]["id"] == good[0].person_id
        # Re-clustering keeps it that way.
        FaceClusterer(s).recluster()
        s.flush()
        assert s.get(Face, weak[0].id).person_id is None
        assert len(list_people(s)) == 1
        # The user can still make it a person; their choice shows.
        split_face(s, weak[0].id)
        assert len(list_people(s)) == 2
    lib.close()


def _face(s, item_id, vector, quality, person_id=None, by="auto"):
    face = Face(item_id=item_id, x=0, y=0, width=20, height=20, score=0.9, quality=quality, model="test",
                embedding=np.asarray(vector, dtype=np.float32).tobytes(), person_id=person_id, assigned_by=by)
    s.add(face)
    s.flush()
    return face


def test_low_quality_faces_join_only_people_they_are_clearly_close_to(library):
    rng = np.random.default_rng(0)
    alice = rng.normal(size=128).astype(np.float32)
    alice /= np.linalg.norm(alice)
    away = rng.normal(size=128).astype(np.float32)
    away /= np.linalg.norm(away)
    with library.session() as s:
        item = Item(kind="photo", sha256="0" * 64, ext=".jpg", size=1)
        s.add(item)
        s.flush()
        clusterer = FaceClusterer(s, 0.5, min_quality=0.5, weak_threshold=0.4)
        first = clusterer.assign(_face(s, item.id, alice, 0.9))
        assert first is not None
        # Blurry, but clearly Alice: joins her.
        assert clusterer.assign(_face(s, item.id, alice + 0.3 * away / np.sqrt(2), 0.2)) == first
        # Blurry and only loosely like her (0.45 away, under the 0.5 a good face needs): nobody.
        assert clusterer.assign(_face(s, item.id, alice + 0.45 * away, 0.2)) is None
        # Blurry and unlike anyone: nobody, and no new person.
        assert clusterer.assign(_face(s, item.id, -alice, 0.1)) is None
        # A good face unlike anyone starts a person; a face from before quality existed counts as good.
        assert clusterer.assign(_face(s, item.id, -alice, 0.8)) not in (None, first)
        assert clusterer.assign(_face(s, item.id, away, None)) not in (None, first)
        assert len(list_people(s)) == 3
        # A person left with only low-quality faces is hidden unless asked for.
        ghost = _face(s, item.id, away * -1, 0.1)
        split_face(s, ghost.id)
        s.flush()
        ghost.assigned_by = "auto"  # as if clustered so before the user ever saw it
        s.add(ghost)
        s.flush()
        assert len(list_people(s)) == 3
        shown = list_people(s, include_low_quality=True)
        assert len(shown) == 4 and ghost.person_id in {p["id"] for p in shown}
