"""Demonstrations: each is one performance of the task (a log, a directory, a trace, or a part of
one log cut by ``--split``), and synthesis generalizes over all of them at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pysynth.ingest.events import Event
from pysynth.ingest.select import is_failure, is_read
from pysynth.noise import drop_noise
from pysynth.tasks import parse_gap


@dataclass(slots=True)
class Demonstration:
    """One demonstration's events: its kept write calls, and the evidence later layers use (its
    successful reads and its failed calls). ``name`` says which it is in messages (the file it
    came from, and the part of it a split cut: ``trail.json (2 of 3, from 12:01:05)``)."""

    name: str
    kept: list[Event]
    reads: list[Event] = field(default_factory=list)
    failed: list[Event] = field(default_factory=list)


SESSION = "session"
IDLE = "idle"


@dataclass(frozen=True, slots=True)
class Split:
    """How ``--split`` cuts a log: where no call came for ``seconds`` (``idle``), or by the
    principal's session (``session``). ``text`` is the option as the user wrote it."""

    kind: str
    text: str
    seconds: float = 0.0


def parse_split(text: str) -> Split:
    """``idle=15m`` (any duration ``--gap`` takes) or ``session``; raises ValueError."""
    kind, equals, duration = text.strip().partition("=")
    if kind == SESSION and not equals:
        return Split(SESSION, text)
    if kind == IDLE and equals:
        return Split(IDLE, text, parse_gap(duration))
    raise ValueError(f"{text!r} is not idle=DURATION (idle=15m, idle=90s) or session")


def demonstrations_of(name: str, events: list[Event], split: Split | None = None,
                      keep_noise: bool = False) -> tuple[list[Demonstration], list[Event]]:
    """The demonstrations in one log's selected events (in log order), each without its noise
    unless ``keep_noise``; and the noise dropped."""
    parts = split_events(events, split) if split else [events]
    demonstrations, noise = [], []
    for number, part in enumerate(parts, start=1):
        if not keep_noise:
            noise += drop_noise(part)
        demonstrations.append(Demonstration(
            part_name(name, number, parts) if len(parts) > 1 else name,
            [event for event in part if event.kept],
            [event for event in part if is_read(event)],
            [event for event in part if is_failure(event)],
        ))
    return demonstrations, noise


def split_events(events: list[Event], split: Split) -> list[list[Event]]:
    """``events`` (in log order) cut as ``split`` says, parts in order of their first event. A part
    without a write call is not a demonstration: its reads and failures are evidence of the work
    that follows it (a check before acting), or of the work before it when none follows."""
    if split.kind == IDLE:
        parts: list[list[Event]] = []
        for event in events:
            if not parts or event.epoch - parts[-1][-1].epoch > split.seconds:
                parts.append([])
            parts[-1].append(event)
    else:
        by_session: dict[tuple, list[Event]] = {}
        for event in events:
            by_session.setdefault(session_of(event), []).append(event)
        parts = list(by_session.values())
    joined: list[list[Event]] = []
    waiting: list[Event] = []
    for part in parts:
        if any(event.kept for event in part):
            joined.append(waiting + part)
            waiting = []
        else:
            waiting += part
    if waiting and joined:
        joined[-1] += waiting
    elif waiting:
        joined.append(waiting)
    # Joined parts of several sessions interleave: back to log order.
    position = {id(event): number for number, event in enumerate(events)}
    return [sorted(part, key=lambda event: position[id(event)]) for part in joined]


def session_of(event: Event) -> tuple:
    """The principal's session an event belongs to: an assumed role's session by its name and the
    time its credentials were issued, when the log says; else the access key id."""
    principal = event.principal
    if principal.role_name and principal.session_created:
        return principal.label, principal.session_created
    return principal.label, principal.access_key_id


def part_name(name: str, number: int, parts: list[list[Event]]) -> str:
    """``trail.json (2 of 3, from 12:01:05)``; with the date too when the parts span several days."""
    days = {_moment(part[0].epoch).date() for part in parts}
    moment = _moment(parts[number - 1][0].epoch)
    when = moment.strftime("%Y-%m-%d %H:%M:%S" if len(days) > 1 else "%H:%M:%S")
    return f"{name} ({number} of {len(parts)}, from {when})"


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
