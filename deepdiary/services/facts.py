"""People's facts, resources and needs learnt from chats by the local LLM, and reading them.

Learning is a job of its own (``deepdiary facts learn``): the model takes seconds per
handful of messages on a small CPU, so ``ingest chats`` runs it only when asked
(``--learn-facts``). The job reads only sessions it has not read, so it resumes after a
kill, and ``since`` keeps it to recent months.
"""

from __future__ import annotations

from deepdiary.core.dates import parse_since
from deepdiary.core.errors import InvalidInput
from deepdiary.core.progress import ProgressFn
from deepdiary.services.context import AppContext
from deepdiary.services.schemas import FactLearnRun, FactRow


def learn_facts(ctx: AppContext, since: str | None = None, progress: ProgressFn | None = None,
                limit: int | None = None) -> FactLearnRun:
    """Read the chat sessions not read yet (those ending after ``since``: ``6m``, ``2w``, a date)
    and store what they say about people."""
    from deepdiary.pipeline.facts import FactLearner

    start = parse_since(since) if since else None
    if limit is not None and limit < 1:
        raise InvalidInput(f"--limit: {limit} must be at least 1")
    report = FactLearner(ctx.library).run(since=start, progress=progress, limit=limit)
    rate = report.messages / report.seconds if report.seconds else 0.0
    return FactLearnRun(id="facts-learn", **{k: v for k, v in report.as_dict().items() if k != "fact_ids"},
                        messages_per_second=round(rate, 3), since=start.isoformat() if start else None)


def _rows(s, facts: list[dict]) -> list[FactRow]:
    from deepdiary.memory.facts import people_by_subject, subject_key

    people = people_by_subject(s)
    return [FactRow(**f, person_id=getattr(people.get(subject_key(f["subject"])), "id", None)) for f in facts]


def list_facts(ctx: AppContext, person: str | None = None, history: bool = False) -> list[FactRow]:
    """What the chats taught: about one person (name, alias or id; or a chat name), or everyone;
    with ``history``, the facts later messages replaced too."""
    from deepdiary.memory.facts import list_facts as rows
    from deepdiary.memory.facts import person_facts
    from deepdiary.memory.people import PersonNotFound, person_or_fail

    with ctx.read() as s:
        if person is None:
            return _rows(s, rows(s, history=history))
        try:
            found = person_facts(s, person_or_fail(s, person), history)
        except PersonNotFound:
            found = rows(s, [person], history)  # a chat partner who is not a person in the library
            if not found:
                raise
        return _rows(s, found)


def person_facts(ctx: AppContext, person_id: int) -> list[FactRow]:
    """One person's facts, current first, then what later messages replaced (for the person page)."""
    from deepdiary.memory.facts import person_facts as rows
    from deepdiary.memory.tables import Person

    with ctx.read() as s:
        p = s.get(Person, person_id)
        found = rows(s, p, history=True) if p else []
        return sorted(_rows(s, found), key=lambda f: not f.current)
