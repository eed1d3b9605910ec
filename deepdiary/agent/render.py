"""Tool results as the model reads them (one short line per result) and as citations."""

from __future__ import annotations

import json

# The fields worth a model's attention, in the order they are shown.
LINE_FIELDS = ("name", "title", "time", "taken_at", "start", "end", "first_seen", "last_seen", "sender",
               "conversation", "place", "city", "people", "person", "days", "photos", "messages", "visits",
               "resource", "text", "description", "diary", "label", "via")
# What a citation keeps, so a reader can find the item again.
CITATION_FIELDS = ("path", "time", "taken_at", "start", "end", "sender", "conversation", "source", "title",
                   "name", "place", "text")
MAX_FIELD = 140


def _short(value) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False)
    text = " ".join(str(value).split())
    return text if len(text) <= MAX_FIELD else text[: MAX_FIELD - 1] + "…"


def result_line(result: dict) -> str:
    parts = [f"{k}: {_short(result[k])}" for k in LINE_FIELDS if result.get(k) not in (None, "", [], {})]
    ref = result.get("ref")
    return f"[{ref}] " + "; ".join(parts) if ref else "; ".join(parts)


def render_output(output: dict, max_results: int = 8) -> str:
    """A tool's output in a few lines: its results, then any other facts it returned."""
    if output.get("error"):
        return f"error: {output['error']}"
    results = output.get("results") or []
    lines = [result_line(r) for r in results[:max_results]]
    extra = {k: v for k, v in output.items() if k not in ("results", "total_shown") and v not in (None, [], {}, "")}
    if extra:
        lines.append(json.dumps(extra, ensure_ascii=False, default=str)[:800])
    return "\n".join(lines) if lines else "(no results)"


def citation(result: dict) -> dict:
    ref = result["ref"]
    kind, _, ident = ref.partition(":")
    out = {"id": ref, "kind": kind, "item_id": int(ident) if ident.isdigit() else ident}
    out.update({k: result[k] for k in CITATION_FIELDS if result.get(k) not in (None, "", [], {})})
    return out


def citation_line(c: dict) -> str:
    """A citation on one line: ref, when, who, where."""
    when = c.get("taken_at") or c.get("time") or c.get("start") or ""
    where = c.get("path") or c.get("source") or c.get("title") or c.get("name") or ""
    return " ".join(x for x in (f"[{c['id']}]", when, c.get("sender") or "", where) if x)


def refs_in(output: dict) -> list[str]:
    return [r["ref"] for r in output.get("results") or [] if isinstance(r, dict) and r.get("ref")]
