"""Conversation memory: each session's turns live in the catalogue, so follow-ups can refer back."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from deepdiary.core.errors import NotFound
from deepdiary.memory.tables import AgentSession, AgentTurn


def open_session(s: Session, channel: str = "cli", external_id: str | None = None,
                 session_id: int | None = None) -> AgentSession:
    """An existing session (by id, or by the channel's own id), or a new one."""
    if session_id is not None:
        found = s.get(AgentSession, session_id)
        if found is None:
            raise NotFound(f"no conversation {session_id}")
        return found
    if external_id is not None:
        found = s.exec(select(AgentSession).where(AgentSession.channel == channel,
                                                  AgentSession.external_id == external_id)).first()
        if found:
            return found
    session = AgentSession(channel=channel, external_id=external_id)
    s.add(session)
    s.flush()
    return session


def recent_turns(s: Session, session_id: int, limit: int) -> list[AgentTurn]:
    turns = s.exec(select(AgentTurn).where(AgentTurn.session_id == session_id)
                   .order_by(AgentTurn.id.desc()).limit(limit)).all()
    return list(reversed(turns))


def record_turn(s: Session, session_id: int, question: str, answer: str, language: str,
                tool_calls: list[dict], citations: list[dict]) -> AgentTurn:
    turn = AgentTurn(session_id=session_id, question=question, answer=answer, language=language,
                     tool_calls=json.dumps(tool_calls, ensure_ascii=False, default=str),
                     citations=json.dumps(citations, ensure_ascii=False, default=str))
    s.add(turn)
    s.flush()
    return turn
