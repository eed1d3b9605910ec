"""Chats and diaries, events, places and the graph."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from deepdiary.api.deps import Ctx
from deepdiary.services import memories
from deepdiary.services import search
from deepdiary.services.schemas import ChatHit, EventDetail, EventRow, GraphPath, GraphView, MetRow, OnThisDay, Record

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


@router.get("/diaries", response_model=list[ChatHit], tags=["chats"])
def search_diaries(
    ctx: Ctx,
    q: str,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    limit: int = 10,
) -> list[ChatHit]:
    """Diary entries by words and meaning."""
    return search.search_chats(ctx, search.ChatSearch(question=q, date_from=date_from, date_to=date_to,
                                                      limit=limit, diary_only=True))


@router.get("/events/on-this-day", response_model=OnThisDay, tags=["events"])
def on_this_day(ctx: Ctx, date: str | None = None) -> OnThisDay:
    """This day (YYYY-MM-DD or MM-DD; default today) in earlier years: photos and events."""
    return memories.on_this_day(ctx, date)


@router.get("/events/{event_id}", response_model=EventDetail, tags=["events"])
def event(ctx: Ctx, event_id: int) -> EventDetail:
    return memories.event_detail(ctx, event_id)


@router.get("/map", tags=["map"])
def map_features(ctx: Ctx, bbox: str | None = None, date_from: Annotated[str | None, Query(alias="from")] = None,
                 date_to: Annotated[str | None, Query(alias="to")] = None) -> dict:
    """GeoJSON of photo points, stays and tracks; `bbox=west,south,east,north`."""
    return memories.map_features(ctx, bbox, date_from, date_to)


@router.get("/graph", response_model=GraphView, tags=["graph"])
def graph(ctx: Ctx, year: int | None = None, person: str | None = None) -> GraphView:
    """People, places and events as nodes and edges, including who appears with whom."""
    return memories.graph_view(ctx, year, person)


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
