"""Demonstrations: each is one performance of the task (a log, a directory, a trace, or a part of
one log cut by ``--split``), and synthesis generalizes over all of them at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from pysynth.ingest.events import Event


@dataclass(slots=True)
class Demonstration:
    """One demonstration's events: its kept write calls, and the evidence later layers use (its
    successful reads and its failed calls). ``name`` says which it is in messages (the file it
    came from, and the part of it a split cut: ``trail.json (2 of 3, from 12:01:05)``)."""

    name: str
    kept: list[Event]
    reads: list[Event] = field(default_factory=list)
    failed: list[Event] = field(default_factory=list)
