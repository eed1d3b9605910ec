"""The models enrichment and search use, created on first use and shared per process."""

from __future__ import annotations

from functools import cached_property

from deepdiary.core.settings import Settings


class ModelSet:
    """The models enrichment and search use, each created on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @cached_property
    def faces(self):
        from deepdiary.models.faces import DlibFaceAnalyzer, InsightFaceAnalyzer

        if self.settings.face_backend == "insightface":
            if not self.settings.insightface_pack:
                from deepdiary.models import ModelUnavailable

                raise ModelUnavailable("face_backend=insightface needs DEEPDIARY_INSIGHTFACE_PACK")
            return InsightFaceAnalyzer(str(self.settings.insightface_pack))
        return DlibFaceAnalyzer(upsample=self.settings.face_upsample)

    @cached_property
    def tagger(self):
        from deepdiary.models.imagenet import ImageNetTagger

        return ImageNetTagger()

    @cached_property
    def text(self):
        from deepdiary.models.text import TextEmbedder

        return TextEmbedder()

    @cached_property
    def clip(self):
        if not self.settings.clip_checkpoint:
            return None
        from deepdiary.models.clip import ClipModel

        return ClipModel(self.settings.clip_checkpoint, self.settings.clip_model)


_shared: dict[tuple, ModelSet] = {}


def models_for(settings: Settings) -> ModelSet:
    """One ModelSet per distinct model configuration, shared across the process."""
    key = (settings.face_backend, str(settings.insightface_pack), settings.face_upsample,
           str(settings.clip_checkpoint), settings.clip_model)
    if key not in _shared:
        _shared[key] = ModelSet(settings)
    return _shared[key]
