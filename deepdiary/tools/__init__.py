"""The tools an LLM agent calls, as LangChain ``StructuredTool``s over one library.

Every tool opens its own session and returns a JSON-serialisable dict with ``results``,
each result carrying a citation ``ref`` (``photo:12``, ``message:40``, ``diary:7``,
``event:3``, ``person:2``, ``place:5``, ``note:1``). A bad argument (an unknown person, no
such photo, a malformed date) gives ``{"error": ..., "results": []}`` instead of raising.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from langchain_core.tools import StructuredTool
from pydantic import ValidationError

from deepdiary.core.errors import DeepDiaryError
from deepdiary.tools.context import Args, ToolContext
from deepdiary.tools.misc import (
    EventsArgs,
    NoArgs,
    PlacesVisitedArgs,
    events_tool,
    places_visited_tool,
    stats_tool,
    today_tool,
)
from deepdiary.tools.people import (
    FindPeopleArgs,
    GraphQueryArgs,
    MatchDemandArgs,
    PersonProfileArgs,
    SearchFactsArgs,
    find_people_tool,
    graph_query_tool,
    match_demand_tool,
    person_profile_tool,
    search_facts_tool,
)
from deepdiary.tools.photos import (
    DescribePhotoArgs,
    SearchPhotosArgs,
    describe_photo_tool,
    search_photos_tool,
)
from deepdiary.tools.text import (
    SearchChatsArgs,
    SearchDiaryArgs,
    search_chats_tool,
    search_diary_tool,
)

__all__ = ["TOOL_NAMES", "ToolContext", "build_tools"]

_TOOLS: dict[str, tuple[type[Args], Callable[[ToolContext, Args], dict]]] = {
    "search_photos": (SearchPhotosArgs, search_photos_tool),
    "search_chats": (SearchChatsArgs, search_chats_tool),
    "search_diary": (SearchDiaryArgs, search_diary_tool),
    "find_people": (FindPeopleArgs, find_people_tool),
    "person_profile": (PersonProfileArgs, person_profile_tool),
    "events": (EventsArgs, events_tool),
    "places_visited": (PlacesVisitedArgs, places_visited_tool),
    "graph_query": (GraphQueryArgs, graph_query_tool),
    "match_demand": (MatchDemandArgs, match_demand_tool),
    "search_facts": (SearchFactsArgs, search_facts_tool),
    "describe_photo": (DescribePhotoArgs, describe_photo_tool),
    "stats": (NoArgs, stats_tool),
    "today": (NoArgs, today_tool),
}
TOOL_NAMES: tuple[str, ...] = tuple(_TOOLS)


def _bad_arguments(exc: ValidationError) -> dict:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
    return {"error": f"bad arguments: {problems}", "results": []}


def _tool(ctx: ToolContext, name: str, schema: type[Args], impl: Callable[[ToolContext, Args], dict]) -> StructuredTool:
    def run(**kwargs) -> dict:
        try:
            return impl(ctx, schema(**kwargs))
        except ValidationError as exc:
            return _bad_arguments(exc)
        except (DeepDiaryError, LookupError, ValueError) as exc:  # the tools' one mapping of typed errors
            return {"error": str(exc), "results": []}

    return StructuredTool.from_function(func=run, name=name, description=inspect.getdoc(impl), args_schema=schema,
                                        handle_validation_error=_bad_arguments)


def build_tools(ctx: ToolContext) -> list[StructuredTool]:
    """Every tool, bound to ``ctx``, in ``TOOL_NAMES`` order."""
    return [_tool(ctx, name, schema, impl) for name, (schema, impl) in _TOOLS.items()]
