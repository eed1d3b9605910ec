"""Learning people's facts, resources and needs from chats, mem0-style, with the local LLM.

A chat is cut into sessions: the messages of one conversation with no pause longer than
``session_gap``. Each session is shown to the model in windows of a few messages, numbered;
it answers one JSON object under a schema (llama.cpp turns it into a grammar): for each fact
the number of the message that states it, the words of it that do (copied), its kind and
attribute, and a short value. A small model readily pins what one writer says to the other
("you'd be a great nurse"), turns a passing activity into a job, or repeats its prompt's
example, so code keeps only facts that stand on their message (see ``check``): the quote is
in it, the writer speaks of themselves in it, and the value shares a word with it. The fact
is then the writer's. The session's facts and its ``FactSession`` row are stored in one
transaction, so a killed run either stored a session completely or not at all, and the next
run skips only what is stored. The model runs outside any transaction: it takes seconds per
window, and an ingest must be able to write meanwhile.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from deepdiary.core.progress import ProgressFn
from deepdiary.core.text import content_words
from deepdiary.memory.facts import ATTRIBUTES, KINDS, LearntFact, record_fact, value_key
from deepdiary.memory.library import Library
from deepdiary.memory.tables import ChatMeta, Conversation, FactSession, Item
from deepdiary.prompts import prompt

WINDOW_MESSAGES = 16  # messages per model call; more and a 1.5B model starts to miss facts
WINDOW_CHARS = 2400
MESSAGE_CHARS = 400  # a pasted article is cut: facts sit in the first lines
MAX_FACTS = 6
QUOTE_CHARS = 120
REPLY_TOKENS = 110 * MAX_FACTS  # a reply cut off mid-object is lost: room for MAX_FACTS whole facts
# The writer speaking of themselves (or their family, home, things): a fact is theirs.
FIRST_PERSON = re.compile(r"\b(?:i|i'm|i’m|i've|i’ve|i'd|i'll|me|my|mine|myself|we|we're|we've|us|our|ours)\b|我", re.I)


SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s*")


def _cue(words: str, zh: str) -> re.Pattern:
    return re.compile(rf"\b(?:{words})\b|{zh}", re.I)


# What a quote must name for its fact to be of that attribute (or kind): a small model calls a
# charity race a job and thanks a need. Attributes without a cue stand on the quote alone.
_NEED = _cue(r"need\w*|looking for|look for|want\w*|wish\w*|hop(?:e|ing) to|help|find|search\w*", "需要|想要|找|帮")
CUES = {
    "job": _cue(r"work\w*|job|jobs|career|employ\w*|hired|office|boss|colleagues?|coworkers?|company|profession\w*"
                r"|shifts?|as an?", "工作|上班|职业|公司|当"),
    "city": _cue(r"live[sd]?|living|move[sd]?|moving|from|home ?town|city|town|relocat\w*", "住|搬|老家"),
    "family": _cue(r"husband|wife|kids?|child|children|sons?|daughters?|mom|mum|mother|dad|father|parents?|brothers?"
                   r"|sisters?|family|married|baby|babies|grand\w+|aunt|uncle|cousin|niece|nephew",
                   "家|孩子|老公|老婆|丈夫|妻子|儿子|女儿|妈|爸|哥|姐|弟|妹"),
    "relationship": _cue(r"married|marry|husband|wife|boyfriend|girlfriend|partner|dating|date[sd]?|breakup|broke up"
                         r"|single|divorce\w*|engaged|fianc\w*", "结婚|男朋友|女朋友|对象|离婚|订婚|分手"),
    "pet": _cue(r"dogs?|cats?|pets?|pupp(?:y|ies)|kittens?|birds?|fish|hamsters?|rabbits?|horses?|parrots?", "狗|猫|宠物|鸟|鱼|兔"),
    "education": _cue(r"school|college|universit\w*|degree|stud(?:y|ies|ying|ied)|class\w*|course\w*|graduat\w*"
                      r"|students?|major\w*|phd|master'?s", "学|课|毕业|专业"),
    "likes": _cue(r"love[sd]?|loving|like[sd]?|enjoy\w*|favou?rite|fan|into|prefer\w*|passion\w*", "喜欢|爱"),
    "hobby": _cue(r"love|like|enjoy\w*|hobb(?:y|ies)|often|every|always|usually|regularly|play(?:s|ing)?|practi[cs]\w*"
                  r"|favou?rite|since", "喜欢|经常|每|爱好|常"),
    "plan": _cue(r"will|going to|gonna|plan\w*|next|soon|tomorrow|thinking (?:about|of)|want to|hop(?:e|ing) to"
                 r"|intend\w*|upcoming", "要|打算|计划|准备|下周|明天|将"),
    "need": _NEED,
}
KIND_CUES = {"demand": _NEED,
             "resource": _cue(r"have|has|had|own|owns|got|can|could|lend|spare|offer\w*|borrow", "有|能|可以|借|会")}
# Words that make no fact on their own: "thanks for your support", "friends and family".
VAGUE = frozenset("thanks thank support supportive encouragement encouraging courage love loving kind kindness help "
                  "friends friend family people things thing life time stuff journey happy happiness great good "
                  "awesome amazing inspiring inspiration motivation motivated strength hope proud care caring "
                  "works lives needs likes loves plays".split())


@dataclass
class ChatSession:
    conversation_id: int
    conversation: str
    messages: list[tuple[int, datetime, str, str]]  # (item id, time, sender, text)

    @property
    def first_id(self) -> int:
        return self.messages[0][0]

    @property
    def start(self) -> datetime:
        return self.messages[0][1]

    @property
    def end(self) -> datetime:
        return self.messages[-1][1]


@dataclass
class LearnReport:
    sessions: int = 0
    read: int = 0
    skipped: int = 0
    messages: int = 0
    facts_new: int = 0
    facts_merged: int = 0
    dropped: int = 0  # facts the model gave that cited no message of their window
    failed_windows: int = 0
    seconds: float = 0.0
    model: str = ""
    fact_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def chat_sessions(s: Session, session_gap: timedelta = timedelta(hours=2), since: datetime | None = None,
                  conversation_ids: list[int] | None = None) -> list[ChatSession]:
    """Every conversation's text messages cut at pauses longer than ``session_gap``, oldest first;
    with ``since``, only sessions that end on or after it."""
    names = dict(s.exec(select(Conversation.id, Conversation.name)).all())
    stmt = (select(Item.id, Item.taken_at, ChatMeta.conversation_id, ChatMeta.sender, Item.text)
            .join(ChatMeta, ChatMeta.item_id == Item.id)
            .where(Item.taken_at.is_not(None), Item.text.is_not(None), ChatMeta.msg_kind == "text")
            .order_by(ChatMeta.conversation_id, Item.taken_at, Item.id))
    if conversation_ids is not None:
        stmt = stmt.where(ChatMeta.conversation_id.in_(conversation_ids))
    out: list[ChatSession] = []
    for item_id, taken, conv, sender, text in s.exec(stmt):
        if not text.strip():
            continue
        last = out[-1] if out else None
        if last is None or last.conversation_id != conv or taken - last.end > session_gap:
            last = ChatSession(conv, names.get(conv, ""), [])
            out.append(last)
        last.messages.append((item_id, taken, sender, text.strip()))
    return [x for x in out if since is None or x.end >= since]


def windows(messages: list, size: int = WINDOW_MESSAGES, chars: int = WINDOW_CHARS) -> list[list]:
    """The session in consecutive windows of at most ``size`` messages and about ``chars`` characters."""
    out, current, length = [], [], 0
    for m in messages:
        n = min(len(m[3]), MESSAGE_CHARS)
        if current and (len(current) >= size or length + n > chars):
            out.append(current)
            current, length = [], 0
        current.append(m)
        length += n
    if current:
        out.append(current)
    return out


def candidates(window: list) -> list[int]:
    """The numbers (from 1) of the window's messages that may state a fact: the writer speaks of
    themselves and names something a fact is about (work, a home, family, a need...). Only
    these are numbered for the model; the others are context, and a window without any
    costs no model call."""
    cues = [*CUES.values(), *KIND_CUES.values()]
    return [n for n, m in enumerate(window, 1)
            if FIRST_PERSON.search(m[3]) and any(c.search(m[3][:MESSAGE_CHARS]) for c in cues)]


def _schema(numbers: list[int]) -> dict:
    # The message comes first, then the words copied from it: the model picks what it read and
    # quotes it before it says what it means, and the quote is checked against the message.
    fact = {"type": "object", "properties": {
        "message": {"enum": numbers},
        "quote": {"type": "string", "minLength": 6, "maxLength": QUOTE_CHARS},
        "kind": {"enum": list(KINDS)},
        "attribute": {"enum": list(ATTRIBUTES)},
        "value": {"type": "string", "minLength": 3, "maxLength": 80},
    }, "required": ["message", "quote", "kind", "attribute", "value"]}
    return {"type": "object", "properties": {"facts": {
        "type": "array", "items": fact, "maxItems": min(MAX_FACTS, len(numbers))}}, "required": ["facts"]}


def _prompt(window: list, numbers: list[int]) -> list[dict]:
    speakers = list(dict.fromkeys(m[2] for m in window))
    lines = []
    for i, (_, taken, sender, text) in enumerate(window, 1):
        text = " ".join(text[:MESSAGE_CHARS].split())
        lines.append(f"{f'[{i}]' if i in numbers else '   '} {taken:%Y-%m-%d} {sender}: {text}")
    user = prompt("facts_session.md").substitute(speakers=", ".join(speakers), messages="\n".join(lines))
    return [{"role": "system", "content": prompt("facts_system.md").template.strip()},
            {"role": "user", "content": user.strip()}]


def quoted(quote: str, text: str) -> bool:
    """Whether the message says the quote: copied (case, punctuation and spacing aside), or
    nearly so (three in four of its content words), as a small model copies."""
    q, said = value_key(quote), value_key(text)
    if q and q in said:
        return True
    words = content_words(quote)
    return bool(words) and len(words & content_words(text)) * 4 >= len(words) * 3


def check(f: dict, window: list) -> tuple | None:
    """The message a fact of the model's reply stands on, or None when it does not stand:
    an invalid number; a quote the message does not say; a quote in which the writer does not
    speak of themselves (what one says about the other, "you'd be a great nurse", is no fact
    about either, nor is a question); a quote that does not name what its attribute or kind is
    about (``CUES``: no work named, no job); or a value with no word of the quote but vague
    ones and names (the prompt's example, a guess, "thanks for your support"). The cue and the
    value's words must meet in one of the writer's own statements of the quote."""
    n, quote = f.get("message"), " ".join(str(f.get("quote") or "").split())
    value = " ".join(str(f.get("value") or "").split())
    if (n not in candidates(window) or f.get("kind") not in KINDS
            or f.get("attribute") not in ATTRIBUTES or len(value) < 3):
        return None
    message = window[n - 1]
    text = " ".join(message[3][:MESSAGE_CHARS].split())
    if not quoted(quote, text):
        return None
    # One statement of the quote carries the fact: the writer's own, not a question to the other.
    statements = [x for x in SENTENCE_END.split(quote) if FIRST_PERSON.search(x) and not x.rstrip().endswith(("?", "？"))]
    cues = [c for c in (CUES.get(f["attribute"]), KIND_CUES.get(f["kind"])) if c is not None]
    speakers = set().union(*(content_words(m[2]) for m in window))
    words = content_words(value) - VAGUE - speakers
    stands = any(all(c.search(x) for c in cues) and words & content_words(x) for x in statements)
    return message if stands else None


def facts_in_window(llm, window: list) -> tuple[list[LearntFact], int]:
    """The facts the model finds in one window, each about the writer of the message it
    quotes and citing that message; returns them and how many were dropped (see ``check``)."""
    numbers = candidates(window)
    if not numbers:
        return [], 0
    reply = llm.complete_json(_prompt(window, numbers), _schema(numbers), max_tokens=REPLY_TOKENS)
    found, dropped, seen = [], 0, set()
    for f in reply.get("facts") or []:
        if isinstance(f, dict) and f.get("attribute") == "job" and CUES["plan"].search(str(f.get("quote") or "")):
            f["attribute"] = "plan"  # "I'm thinking of working with ...": a job one means to have is a plan
        message = check(f, window) if isinstance(f, dict) else None
        if message is None:
            dropped += 1
            continue
        value = " ".join(str(f["value"]).split())
        key = (message[2], f["kind"], f["attribute"], value_key(value))
        if key in seen:
            continue
        seen.add(key)
        found.append(LearntFact(subject=message[2], kind=f["kind"], attribute=f["attribute"], value=value,
                                message_ids=[message[0]], valid_from=message[1]))
    return found, dropped


class FactLearner:
    """Reads the chat sessions not read yet and stores what they say about people."""

    def __init__(self, library: Library, llm=None, session_gap: timedelta = timedelta(hours=2)):
        self.library = library
        self._llm = llm
        self.session_gap = session_gap

    @property
    def llm(self):
        if self._llm is None:
            self._llm = self.library.models.llm("llamacpp")
        return self._llm

    def pending(self, since: datetime | None = None, conversation_ids: list[int] | None = None
                ) -> tuple[list[ChatSession], int]:
        """The sessions still to read (new, or grown since they were read) and how many are already read."""
        with self.library.read_session() as s:
            sessions = chat_sessions(s, self.session_gap, since, conversation_ids)
            read = {(r.conversation_id, r.first_item_id): r.messages for r in s.exec(select(FactSession))}
        todo = [x for x in sessions if read.get((x.conversation_id, x.first_id), -1) < len(x.messages)]
        return todo, len(sessions) - len(todo)

    def run(self, since: datetime | None = None, progress: ProgressFn | None = None,
            conversation_ids: list[int] | None = None, limit: int | None = None) -> LearnReport:
        """Read the pending sessions, oldest first (at most ``limit`` of them); ``sessions`` counts
        every session in range, so a limited run shows how many are left."""
        started = time.perf_counter()
        todo, skipped = self.pending(since, conversation_ids)
        settings = self.library.settings
        report = LearnReport(sessions=len(todo) + skipped, skipped=skipped,
                             model=str(settings.llm_model_path or settings.llm_model))
        todo = todo[:limit] if limit is not None else todo
        total = sum(len(x.messages) for x in todo)
        if progress:
            progress("facts", 0, total, "")
        for session in todo:
            learnt: list[LearntFact] = []
            for window in windows(session.messages):
                try:
                    found, dropped = facts_in_window(self.llm, window)
                except ValueError:  # the token budget ran out mid-object: this window gives nothing
                    report.failed_windows += 1
                    found, dropped = [], 0
                learnt += found
                report.dropped += dropped
                report.messages += len(window)
                if progress:
                    progress("facts", report.messages, total, session.conversation)
            self._store(session, learnt, report)
            report.read += 1
        report.seconds = round(time.perf_counter() - started, 2)
        return report

    def _store(self, session: ChatSession, learnt: list[LearntFact], report: LearnReport) -> None:
        with self.library.session() as s:
            row = s.exec(select(FactSession).where(FactSession.conversation_id == session.conversation_id,
                                                   FactSession.first_item_id == session.first_id)).first()
            row = row or FactSession(conversation_id=session.conversation_id, first_item_id=session.first_id,
                                     last_item_id=session.messages[-1][0], start=session.start, end=session.end)
            row.last_item_id, row.end, row.messages = session.messages[-1][0], session.end, len(session.messages)
            row.model, row.learnt_at = report.model, datetime.now(UTC)
            s.add(row)
            s.flush()
            stored = 0
            for f in learnt:
                fact, new = record_fact(s, session.conversation_id, row.id, f)
                stored += 1
                report.facts_new += new
                report.facts_merged += not new
                report.fact_ids.append(fact.id)
            row.facts = stored
            s.add(row)
