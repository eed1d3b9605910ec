"""One model cache per process: every housekeeper, search and enrichment shares its models."""

import threading

from deepdiary.agent.housekeeper import Housekeeper
from deepdiary.core.settings import Settings
from deepdiary.memory.library import Library
from deepdiary.models.registry import models_for


def test_two_housekeepers_share_one_loaded_llm(tmp_path):
    settings = [Settings(home=tmp_path / name, llm_model="smollm2-135m") for name in ("a", "b")]
    first, second = (Library.open(s) for s in settings)
    try:
        cache = models_for(settings[0])
        assert models_for(settings[1]) is cache  # same model configuration, another library
        one, two = Housekeeper(first, backend="llamacpp"), Housekeeper(second, backend="llamacpp")
        assert one.llm is two.llm
        assert cache.loads["llm:llamacpp"] == 1
        assert one.llm.complete_json([{"role": "user", "content": "Say hi as JSON."}],
                                     {"type": "object", "properties": {"hi": {"type": "string"}}}, max_tokens=16)
    finally:
        first.close()
        second.close()


def test_threads_load_a_model_once_and_take_turns(tmp_path):
    cache = models_for(Settings(home=tmp_path, face_upsample=2))  # a configuration no other test uses
    seen, errors = [], []

    def embed():
        try:
            seen.append(cache.text)
            cache.text.embed(["西湖划船", "rowing on West Lake"])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=embed) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and cache.loads["text"] == 1 and all(m is seen[0] for m in seen)
