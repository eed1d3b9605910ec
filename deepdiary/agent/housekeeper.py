"""The memory housekeeper: plans tool calls for a question and answers it with citations.

Three planners share one loop around the tools:

- ``llamacpp``: a local GGUF model; each step is one JSON object constrained by a schema
  (a call of one tool with its arguments, or the final answer with citations chosen
  from the refs the tools returned).
- ``openai``: any OpenAI-compatible endpoint, with native tool calls.
- ``none``: no model; the parser's suggested call and a templated answer.

The parser's reading of the question is the model's hint, dates are resolved in code
(see ``hint.code_arguments``), and when every search came back empty the answer says so
without asking the model, which is where a small model would invent something.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from functools import cached_property
from typing import Callable

from pydantic import BaseModel, Field

from deepdiary.agent import render
from deepdiary.agent.conversations import open_session, recent_turns, record_turn
from deepdiary.agent.followup import FollowUp, resolve_followup
from deepdiary.agent.hint import (
    HIDDEN_ARGS,
    ToolCall,
    code_arguments,
    suggest_call,
)
from deepdiary.agent.prompts import prompt, say
from deepdiary.core.errors import InvalidInput
from deepdiary.memory.library import Library
from deepdiary.models.registry import LLM_BACKENDS
from deepdiary.nlu.question import ParsedQuestion, parse_question
from deepdiary.tools import ToolContext, build_tools
from deepdiary.tools.context import compact

BACKENDS = LLM_BACKENDS
SEARCH_TOOLS = {"search_photos", "search_chats", "search_diary", "events", "places_visited", "find_people",
                "match_demand", "search_facts"}
REF = re.compile(r"\b(?:photo|message|diary|event|person|place|note):\d+\b")
WEEKDAYS_ZH = "一二三四五六日"
ANSWER_MAX_CHARS = 360


class ToolCallRecord(BaseModel):
    tool: str
    arguments: dict
    results: int = 0
    refs: list[str] = Field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


class Answer(BaseModel):
    id: int = Field(description="the turn's id in the catalogue")
    conversation_id: int
    question: str
    answer: str
    language: str
    citations: list[dict]
    tool_calls: list[ToolCallRecord]
    backend: str
    seconds: float


class Housekeeper:
    def __init__(self, library: Library, backend: str | None = None, llm=None, today: date | None = None,
                 max_steps: int | None = None, hint: bool = True):
        self.library = library
        self.settings = library.settings
        self.backend = backend or self.settings.llm_backend
        if self.backend not in BACKENDS:
            raise InvalidInput(f"unknown backend {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        self._llm = llm
        self._fixed_today = today  # a long-running bot must not keep the day it started on
        self.max_steps = max_steps or self.settings.agent_max_steps
        self.hint = hint  # off only to measure what the parser's reading is worth to a model
        # Bound to no particular day: these give the model its tool list; each question
        # runs tools bound to its own day (see ``ask``).
        self.tools = {t.name: t for t in build_tools(ToolContext(library, self.today))}

    @property
    def today(self) -> date:
        return self._fixed_today or date.today()

    @property
    def llm(self):
        """The model from the process-wide cache: every housekeeper of a process shares it."""
        if self._llm is not None:
            return self._llm
        return self.library.models.llm(self.backend)

    # -- tools ---------------------------------------------------------------------------
    @cached_property
    def model_schemas(self) -> dict[str, dict]:
        """Each tool's argument schema as the model sees it: without the arguments code fills in."""
        out = {}
        for name, tool in self.tools.items():
            schema = tool.args_schema.model_json_schema()
            props = {k: _plain(v, schema.get("$defs", {})) for k, v in schema.get("properties", {}).items()
                     if k not in HIDDEN_ARGS}
            out[name] = {"type": "object", "properties": props,
                         "required": [k for k in schema.get("required", []) if k in props]}
        return out

    def _tool_lines(self) -> str:
        lines = []
        for name, tool in self.tools.items():
            args = ", ".join(self.model_schemas[name]["properties"])
            lines.append(f"- {name}({args}): {tool.description.strip().splitlines()[0]}")
        return "\n".join(lines)

    def run(self, call: ToolCall, tools: dict | None = None) -> tuple[dict, ToolCallRecord]:
        started = time.perf_counter()
        tool = (tools or self.tools).get(call.tool)
        try:
            if tool is None:
                raise ValueError(f"no tool named {call.tool!r}")
            output = tool.invoke(call.arguments)
        except Exception as exc:  # noqa: BLE001 - a bad call is reported to the planner, not raised
            output = {"error": f"{type(exc).__name__}: {exc}", "results": []}
        if not isinstance(output, dict):
            output = {"results": [], "value": output}
        refs = render.refs_in(output)
        return output, ToolCallRecord(tool=call.tool, arguments=call.arguments, results=len(output.get("results") or []),
                                      refs=refs, error=output.get("error"), seconds=round(time.perf_counter() - started, 3))

    # -- asking --------------------------------------------------------------------------
    def ask(self, question: str, conversation_id: int | None = None, channel: str = "cli",
            external_id: str | None = None, today: date | None = None,
            on_tool_call: Callable[[ToolCallRecord], None] | None = None) -> Answer:
        """Answer one question; ``today`` (default: the housekeeper's, else the real date) resolves relative dates.
        ``on_tool_call`` hears of each search as it finishes, so a channel can show progress."""
        started = time.perf_counter()
        question = question.strip()
        today = today or self.today
        tools = {t.name: t for t in build_tools(ToolContext(self.library, today))}
        with self.library.session() as s:
            conv = open_session(s, channel, external_id, conversation_id)
            history = recent_turns(s, conv.id, self.settings.agent_history_turns)
            parsed = parse_question(s, question, today)
            conv_id = conv.id
            s.expunge_all()
        done: list[tuple[ToolCall, dict, ToolCallRecord]] = []

        def execute(call: ToolCall) -> dict:
            output, record = self.run(call, tools)
            done.append((call, output, record))
            if on_tool_call:
                on_tool_call(record)
            return output

        follow = resolve_followup(question, history, lambda c: self.run(c, tools)[0])
        for call in follow.calls if follow else []:
            execute(call)
        if self.backend == "none":
            text, cited = self._answer_from_template(parsed, follow, execute, done)
        elif self.backend == "openai":
            text, cited = self._plan_openai(question, parsed, history, follow, execute, done, today)
        else:
            text, cited = self._plan_llamacpp(question, parsed, history, follow, execute, done, today)

        by_ref = {r["ref"]: r for _, out, _ in done for r in out.get("results") or [] if r.get("ref")}
        citations = [render.citation(by_ref[ref]) for ref in dict.fromkeys(cited) if ref in by_ref]
        records = [rec for _, _, rec in done]
        with self.library.session() as s:
            turn = record_turn(s, conv_id, question, text, parsed.language,
                               [r.model_dump() for r in records], citations)
            turn_id = turn.id
        return Answer(id=turn_id, conversation_id=conv_id, question=question, answer=text, language=parsed.language,
                      citations=citations, tool_calls=records, backend=self.backend,
                      seconds=round(time.perf_counter() - started, 2))

    # -- no model ------------------------------------------------------------------------
    def _answer_from_template(self, parsed: ParsedQuestion, follow: FollowUp | None, execute, done):
        lang = parsed.language
        if not follow:
            execute(suggest_call(parsed))
            if self._nothing_found(done):
                self._widen(parsed, done, execute)
        if follow and follow.kind == "who_else":
            names = _people_in(done, follow.known_people)
            return (say(lang, "who_else", names=", ".join(names)) if names else say(lang, "nobody_else"),
                    [ref for _, _, rec in done for ref in rec.refs])
        return self._templated(lang, done)

    def _templated(self, lang: str, done):
        """The last call's results, listed under a templated heading."""
        if not done or self._nothing_found(done):
            return say(lang, "nothing"), []
        # The last call that found something (after a widened search, the empty ones come first).
        call, output, record = next((d for d in reversed(done) if d[2].results), done[-1])
        if record.error:
            return say(lang, "error", error=record.error), []
        if call.tool == "today":
            weekday = output.get("weekday", "")
            if lang == "zh":
                weekday = "星期" + WEEKDAYS_ZH[date.fromisoformat(output["today"]).weekday()]
            return say(lang, "today", today=output.get("today"), weekday=weekday), []
        head = say(lang, call.tool, n=record.results, name=call.arguments.get("name", ""))
        return f"{head}\n{render.render_output(output)}", record.refs

    def _nothing_found(self, done) -> bool:
        """Every call was a search, and none found anything or failed."""
        return bool(done) and all(rec.tool in SEARCH_TOOLS and not rec.results and not rec.error
                                  and not {k for k, v in out.items() if k not in ("results", "total_shown") and v}
                                  for _, out, rec in done)

    # -- local model ---------------------------------------------------------------------
    def _reading(self, parsed: ParsedQuestion, follow: FollowUp | None) -> str:
        fields = parsed.model_dump(exclude={"text", "language", "cued"}, exclude_defaults=True)
        for k in ("date_from", "date_to"):
            if k in fields:
                fields[k] = fields[k].date().isoformat()
        if follow and follow.known_people:
            fields["already_named"] = follow.known_people
        return json.dumps(fields, ensure_ascii=False, default=str)

    def _first_messages(self, question, parsed, history, follow, today: date, made: bool = False) -> list[dict]:
        system = prompt("planner_system.md").substitute(today=today.isoformat(), tools=self._tool_lines())
        messages = [{"role": "system", "content": system}]
        for turn in history:
            cited = [c["id"] for c in json.loads(turn.citations)]
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": json.dumps(
                {"tool": "answer", "answer": turn.answer, "citations": cited}, ensure_ascii=False)})
        if made:
            # The search is made below, with its dates; the question alone is what the model still
            # needs, and every token of prompt is read at ~60 a second on a small CPU.
            messages.append({"role": "user", "content": f"Question: {question}"})
            return messages
        if follow:
            suggested = "none (the calls below were made for this follow-up)"
        else:
            suggested = _suggestion(suggest_call(parsed))
        reading = self._reading(parsed, follow)
        if not self.hint:
            reading = suggested = "(not given)"
        messages.append({"role": "user", "content": prompt("planner_question.md").substitute(
            question=question, reading=reading, suggested=suggested)})
        return messages

    def _results_message(self, call: ToolCall, output: dict, language: str) -> dict:
        note = " (in Chinese, 用中文回答)" if language == "zh" else " (in English)"
        return {"role": "user", "content": prompt("planner_results.md").substitute(
            tool=call.tool, results=render.render_output(output), language_note=note)}

    def _step_schema(self, refs: list[str], allow_call: bool, allow_answer: bool = True) -> dict:
        options = []
        if allow_call:
            options += [{"type": "object", "properties": {"tool": {"const": name}, "arguments": schema},
                         "required": ["tool", "arguments"]} for name, schema in self.model_schemas.items()]
        # Bounds keep a small model from running on: it repeats a citation or a sentence until
        # the token budget ends, and the JSON with it.
        answer = {"tool": {"const": "answer"}, "answer": {"type": "string", "maxLength": ANSWER_MAX_CHARS}}
        if refs:
            answer["citations"] = {"type": "array", "items": {"enum": refs}, "maxItems": len(refs)}
        if allow_answer:
            options.append({"type": "object", "properties": answer, "required": list(answer)})
        return {"anyOf": options} if len(options) > 1 else options[0]

    def _plan_llamacpp(self, question, parsed, history, follow, execute, done, today: date):
        lang = parsed.language
        made = bool(self.hint and not follow and parsed.cued)
        messages = self._first_messages(question, parsed, history, follow, today, made)
        if made:
            # The question's own words chose the search (the parser alone makes the bench's
            # expected call every time): make it, and spend the model on reading the results
            # and on any further call. Half the model's work, so half the wait on a CPU.
            execute(suggest_call(parsed))
        seen: set[str] = set()
        for call, output, _ in done:
            messages.append({"role": "assistant", "content": json.dumps(_shown(call), ensure_ascii=False)})
            messages.append(self._results_message(call, output, lang))
            seen.add(json.dumps(call.model_dump(), sort_keys=True))
        widened = False
        for step in range(self.max_steps + 1):
            if done and self._nothing_found(done):
                if widened:
                    return say(lang, "nothing"), []
                widened = True
                for call, output in self._widen(parsed, done, execute):
                    messages.append({"role": "assistant", "content": json.dumps(_shown(call), ensure_ascii=False)})
                    messages.append(self._results_message(call, output, lang))
                    seen.add(json.dumps(call.model_dump(), sort_keys=True))
                if self._nothing_found(done):
                    return say(lang, "nothing"), []
            refs = list(dict.fromkeys(ref for _, _, rec in done for ref in rec.refs))
            # The first step must look something up; the last may only answer.
            allow_call = step < self.max_steps
            schema = self._step_schema(refs, allow_call, allow_answer=bool(done))
            try:
                reply = self.llm.complete_json(messages, schema, max_tokens=320 if done else 200)
            except ValueError:
                break
            if reply.get("tool") == "answer":
                return str(reply.get("answer", "")).strip(), [r for r in reply.get("citations", []) if r in refs]
            if not allow_call or reply.get("tool") not in self.tools:
                break
            call = ToolCall(tool=reply["tool"], arguments=code_arguments(
                reply["tool"], compact(reply.get("arguments") or {}), parsed))
            key = json.dumps(call.model_dump(), sort_keys=True)
            messages.append({"role": "assistant", "content": json.dumps(_shown(call), ensure_ascii=False)})
            if key in seen:  # asking again will not change the answer
                messages.append({"role": "user", "content": "You already made that call. Give the final answer now."})
                continue
            seen.add(key)
            messages.append(self._results_message(call, execute(call), lang))
        return self._fallback(parsed, done)

    def _widen(self, parsed: ParsedQuestion, done, execute) -> list[tuple[ToolCall, dict]]:
        """Every search so far came back empty: look in the text memories not searched yet,
        with the question's own words and dates but no other filter, before saying nothing was found (a
        question about what a friend did names no chat, and its scene word made it a photo search)."""
        tried = {rec.tool for _, _, rec in done}
        words = parsed.keywords
        found = []
        if not words:
            return found  # "photos from last year": nothing to look for but the filters that found nothing
        for tool in ("search_chats", "search_diary", *self.extra_sources):
            if tool in self.tools and (tool not in tried or tool in ("search_chats", "search_diary")):
                call = ToolCall(tool=tool, arguments=code_arguments(tool, {"query": words}, parsed))
                if any(c.model_dump() == call.model_dump() for c, _, _ in done):
                    continue
                output = execute(call)
                if output.get("results"):
                    found.append((call, output))
        return found

    # Further sources a widened search tries, by tool name: the facts learnt from chats.
    extra_sources: tuple[str, ...] = ("search_facts",)

    def _fallback(self, parsed, done):
        """The model gave no usable answer: list what the tools found, templated."""
        return self._templated(parsed.language, done)

    # -- OpenAI-compatible ---------------------------------------------------------------
    def _plan_openai(self, question, parsed, history, follow, execute, done, today: date):
        lang = parsed.language
        specs = [{"type": "function", "function": {"name": name, "description": self.tools[name].description,
                                                   "parameters": schema}}
                 for name, schema in self.model_schemas.items()]
        system = prompt("openai_system.md").substitute(today=today.isoformat())
        messages = [{"role": "system", "content": system}]
        for turn in history:
            messages += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": turn.answer}]
        suggested = "none" if follow else _suggestion(suggest_call(parsed))
        messages.append({"role": "user", "content": prompt("planner_question.md").substitute(
            question=question, reading=self._reading(parsed, follow), suggested=suggested)})
        for i, (call, output, _) in enumerate(done):
            messages.append({"role": "assistant", "content": None, "tool_calls": [_openai_call(f"pre{i}", call)]})
            messages.append({"role": "tool", "tool_call_id": f"pre{i}", "content": render.render_output(output)})
        for step in range(self.max_steps + 1):
            if done and self._nothing_found(done):
                return say(lang, "nothing"), []
            message = self.llm.chat(messages, specs if step < self.max_steps else None)
            if not message.tool_calls:
                text = (message.content or "").strip()
                seen = {ref for _, _, rec in done for ref in rec.refs}
                return text, [r for r in REF.findall(text) if r in seen]
            messages.append({"role": "assistant", "content": message.content, "tool_calls": [
                {"id": tc.id, "type": "function", "function": {"name": tc.function.name,
                                                               "arguments": tc.function.arguments}}
                for tc in message.tool_calls]})
            for tc in message.tool_calls:
                try:
                    args = json.loads(tc.function.arguments or "{}")
                except json.JSONDecodeError:
                    args = {}
                call = ToolCall(tool=tc.function.name, arguments=code_arguments(tc.function.name, compact(args), parsed))
                messages.append({"role": "tool", "tool_call_id": tc.id,
                                 "content": render.render_output(execute(call))})
        return self._fallback(parsed, done)


def _shown(call: ToolCall) -> dict:
    """A call as the model writes it: without the arguments code fills in."""
    return {"tool": call.tool, "arguments": {k: v for k, v in call.arguments.items() if k not in HIDDEN_ARGS}}


def _suggestion(call: ToolCall) -> str:
    """The parser's call as the model should copy it, and what the program adds to it."""
    shown = json.dumps(_shown(call), ensure_ascii=False)
    added = {k: v for k, v in call.arguments.items() if k in HIDDEN_ARGS}
    return f"{shown} (the program adds {json.dumps(added, ensure_ascii=False)})" if added else shown


def _openai_call(call_id: str, call: ToolCall) -> dict:
    return {"id": call_id, "type": "function",
            "function": {"name": call.tool, "arguments": json.dumps(_shown(call)["arguments"], ensure_ascii=False)}}


def _plain(prop: dict, defs: dict) -> dict:
    """A property schema with $refs inlined and titles dropped (llama.cpp builds a grammar from it)."""
    if "$ref" in prop:
        prop = defs[prop["$ref"].split("/")[-1]]
    out = {k: v for k, v in prop.items() if k not in ("title", "description", "default")}
    for key in ("anyOf", "oneOf"):
        if key in out:
            out[key] = [_plain(p, defs) for p in out[key]]
    if "items" in out:
        out["items"] = _plain(out["items"], defs)
    if "properties" in out:
        out["properties"] = {k: _plain(v, defs) for k, v in out["properties"].items()}
    return out


def _people_in(done, known: list[str]) -> list[str]:
    skip = {k.lower() for k in known}
    names = []
    for _, out, _ in done:
        for r in out.get("results") or []:
            for name in r.get("people") or []:
                name = name.get("name") if isinstance(name, dict) else name
                if name and name.lower() not in skip and name not in names:
                    names.append(name)
    return names
