"""Chats and diaries, events, places and the graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from deepdiary.api.deps import Ctx
from deepdiary.services import memories
from deepdiary.services import search
from deepdiary.services.schemas import ChatHit, EventRow, GraphPath, MetRow, Record

router = APIRouter()


@router.get("/chats", response_model=list[ChatHit], tags=["chats"])
def search_chats(
    ctx: Ctx,
    q: str,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    with_person: Annotated[str | None, Query(alias="with")] = None,
    limit: int = 10,
    context: int = 0,
    diary: bool = False,
) -> list[ChatHit]:
    """Messages (and diary entries with `diary=true`) by words and meaning."""
    return search.search_chats(ctx, search.ChatSearch(question=q, date_from=date_from, date_to=date_to,
                                                      with_person=with_person, limit=limit, context=context,
                                                      diary=diary))


@router.get("/events", response_model=list[EventRow], tags=["events"])
def events(ctx: Ctx, date_from: Annotated[str | None, Query(alias="from")] = None,
           date_to: Annotated[str | None, Query(alias="to")] = None, place: str | None = None,
           limit: int | None = None) -> list[EventRow]:
    return memories.list_events(ctx, date_from, date_to, place=place, limit=limit)


@router.get("/places", response_model=list[Record], tags=["events"])
def places(ctx: Ctx, date_from: Annotated[str | None, Query(alias="from")] = None,
           date_to: Annotated[str | None, Query(alias="to")] = None) -> list[Record]:
    return memories.places_visited(ctx, date_from, date_to)


@router.get("/graph/met-most", response_model=list[MetRow], tags=["graph"])
def met_most(ctx: Ctx, year: int | None = None, limit: int = 10) -> list[MetRow]:
    return memories.met_most(ctx, year, limit)


@router.get("/graph/connect", response_model=GraphPath, tags=["graph"])
def connect(ctx: Ctx, a: str, b: str) -> GraphPath:
    return memories.connect(ctx, a, b)
