"""Tasks: a trail cut into the pieces of work a person did, to find what is worth automating.

The kept write calls of each principal's session (its ARN, and its access key when the log names
one: a console session and a CLI session of the same user are two sessions) are cut where no
write call came for ``gap`` seconds. Sessions whose write calls have the same shape (the same
operations in the same order, a repeated run of operations collapsed into one, values aside) are
one task done several times. A task's id is derived from its shape, so it is the same in every run
over the same logs and selection.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from pysynth.ingest.events import Event

DEFAULT_GAP = "15m"
GAP_PATTERN = re.compile(r"(\d+)([smhd])")
SECONDS_PER = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Longest run of operations recognised as a loop body.
MAX_LOOP_BODY = 8
# Verbs that change the most, to tell a session's operations apart from its bookkeeping.
TELLING_VERBS = ("Create", "Run", "Put", "Attach", "Authorize", "Associate", "Register", "Start", "Delete", "Update", "Modify")
TELLING_SHOWN = 4


def parse_gap(text: str) -> float:
    """Seconds of ``15m``, ``90s``, ``1h30m``, ``2d``; raises ValueError."""
    text = text.strip().lower()
    if not text or GAP_PATTERN.sub("", text):
        raise ValueError(f"{text!r} is not a duration such as 15m, 90s, 1h30m")
    seconds = sum(int(amount) * SECONDS_PER[unit] for amount, unit in GAP_PATTERN.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return float(seconds)


@dataclass
class Session:
    """One stretch of a principal's work: its write calls, none more than the gap apart."""

    principal: str
    access_key_id: str | None
    writes: list[Event]

    @property
    def start(self) -> Event:
        return self.writes[0]

    @property
    def end(self) -> Event:
        return self.writes[-1]

    @property
    def operations(self) -> list[str]:
        return [f"{event.service}:{event.operation}" for event in self.writes]

    @property
    def services(self) -> list[str]:
        return list(dict.fromkeys(event.service for event in self.writes))

    def telling_operations(self) -> list[str]:
        """The operations that say most about what was done: the changing verbs first."""
        names = list(dict.fromkeys(event.operation for event in self.writes))
        names.sort(key=lambda name: not name.startswith(TELLING_VERBS))
        return names[:TELLING_SHOWN]

    @property
    def selector(self) -> str:
        """What ``--principal`` answers to for exactly this session."""
        return self.access_key_id or self.principal


@dataclass
class Task:
    """Sessions of one shape, in time order."""

    id: str
    shape: tuple[str, ...]
    sessions: list[Session] = field(default_factory=list)


def find_sessions(kept: list[Event], gap_seconds: float) -> list[Session]:
    """The sessions of ``kept`` (write calls in time order), in order of their first call."""
    open_sessions: dict[tuple, Session] = {}
    sessions: list[Session] = []
    for event in kept:
        key = (event.principal.label, event.principal.access_key_id)
        session = open_sessions.get(key)
        if session is None or event.epoch - session.end.epoch > gap_seconds:
            session = open_sessions[key] = Session(key[0], key[1], [])
            sessions.append(session)
        session.writes.append(event)
    return sessions


def find_tasks(kept: list[Event], gap_seconds: float) -> list[Task]:
    """Sessions grouped by shape, in order of each task's first occurrence."""
    tasks: dict[tuple[str, ...], Task] = {}
    for session in find_sessions(kept, gap_seconds):
        shape = collapse_loops(session.operations)
        task = tasks.get(shape)
        if task is None:
            task = tasks[shape] = Task(shape_id(shape), shape)
        task.sessions.append(session)
    return list(tasks.values())


def collapse_loops(operations: list[str]) -> tuple[str, ...]:
    """``operations`` with every run of a repeated block written once, as ``(A B)+``: three users
    onboarded and five have the same shape. Shorter blocks are collapsed first."""
    items = list(operations)
    changed = True
    while changed:
        changed = False
        for length in range(1, min(MAX_LOOP_BODY, len(items) // 2) + 1):
            collapsed, position = [], 0
            while position < len(items):
                block = items[position:position + length]
                following = position + length
                while items[following:following + length] == block:
                    following += length
                if following > position + length:
                    token = block[0] if length == 1 else " ".join(block)
                    collapsed.append(token if token.endswith(")+") else f"({token})+")
                    position = following
                    changed = True
                else:
                    collapsed.append(items[position])
                    position += 1
            if changed:
                items = collapsed
                break
    return tuple(items)


def shape_id(shape: tuple[str, ...]) -> str:
    return hashlib.sha256("\n".join(shape).encode()).hexdigest()[:8]


def find_task(tasks: list[Task], wanted: str) -> Session | None:
    """The session ``ID`` (its first occurrence) or ``ID.N`` (its N-th) names, or None."""
    task_id, _, number = wanted.partition(".")
    for task in tasks:
        if task.id == task_id:
            if number and not number.isdigit():
                return None
            occurrence = int(number) if number else 1
            return task.sessions[occurrence - 1] if 1 <= occurrence <= len(task.sessions) else None
    return None

