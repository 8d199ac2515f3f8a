"""Ingesting: read every record of the inputs, select, and order what the selection holds.

Records are judged as they are read (``classify``): only the events later layers need stay in
memory (the kept write calls, and the reads and failed calls of the selection that are evidence of
polling and retries); every other record is counted by reason and handed to ``left_out`` at once.
Then the held events are ordered by time and data flow (``order``). Memory grows with the
selection, not with the input, and time is linear in the input.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pysynth.ingest import s3
from pysynth.ingest.classify import (
    AS_EVENTS,
    AS_JSON,
    FAILED_CALL,
    READ_ONLY,
    Classifier,
    Part,
    Selection,
    reason_kind,
)
from pysynth.ingest.engines import LocalEngine
from pysynth.ingest.events import Event, EventBuilder
from pysynth.ingest.normalize import Normalizer
from pysynth.ingest.order import drop_duplicates, order_events
from pysynth.ingest.readers import InputError, ReadProblem, Source, expand_inputs

__all__ = [
    "AS_EVENTS", "AS_JSON", "AmbiguousPrincipal", "Ingested", "InputError", "LeftOut", "Selection", "ingest", "is_failure",
    "is_read",
]

ACCOUNT_IN_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):")


@dataclass
class Ingested:
    """The events of the selection, in order, and an account of every other record read.

    ``events`` holds the kept write calls and the evidence later layers use (reads and failed
    calls of the selection) and duplicates of them; every other record is only counted in
    ``left_out`` (by reason kind).
    """

    events: list[Event]
    problems: list[ReadProblem]
    files_read: int = 0
    principal_writes: Counter = field(default_factory=Counter)
    records: int = 0
    left_out: Counter = field(default_factory=Counter)

    @property
    def kept(self) -> list[Event]:
        return [event for event in self.events if event.kept]

    @property
    def reads(self) -> list[Event]:
        return [event for event in self.events if is_read(event)]

    @property
    def failed(self) -> list[Event]:
        return [event for event in self.events if is_failure(event)]

    def drop_counts(self) -> Counter:
        counts = Counter(self.left_out)
        counts.update(reason_kind(event.reason) for event in self.events if not event.kept)
        return counts


def is_read(event: Event) -> bool:
    """A successful read-only call: evidence of waiting and polling for later layers."""
    return event.reason == READ_ONLY and event.call is not None


def is_failure(event: Event) -> bool:
    """A failed call that maps onto an operation: evidence of retries (a call that failed, then
    succeeded with the same request) for later layers."""
    return event.call is not None and (event.reason or "").startswith(FAILED_CALL)


class AmbiguousPrincipal(Exception):
    """Several principals made write calls and none was chosen."""

    def __init__(self, writes: Counter):
        super().__init__("several principals made write calls; choose one with --principal")
        self.writes = writes


@dataclass
class LeftOut:
    """Where the records the selection leaves out go while reading: ``as_`` is ``AS_JSON``
    (``write`` takes the ``events --json`` lines as bytes) or ``AS_EVENTS`` (``write`` takes a
    list of events). ``outside`` False leaves out the records outside the selection (another
    principal, region or time): they are only counted."""

    as_: str
    write: Callable[[list], None]
    outside: bool = True


def ingest(
    paths: Iterable[str],
    selection: Selection,
    normalizer: Normalizer | None = None,
    on_progress: Callable[[int, int, int], None] | None = None,
    *,
    left_out: LeftOut | None = None,
    evidence: bool = True,
    engine=None,
) -> Ingested:
    """Read, select, normalise and order the records of ``paths``.

    ``on_progress(sources_done, sources_total, records_read)`` reports progress. ``evidence``
    False holds only the kept write calls. ``engine`` is a ``LocalEngine`` (the default) or a
    ``DaskEngine``. Raises ``AmbiguousPrincipal`` when the selection is ambiguous, and
    ``InputError`` for an input that names nothing to read (an S3 location that cannot be listed).
    """
    problems: list[ReadProblem] = []
    sources: list[Source] = []
    for item in expand_inputs(paths, key_hints(selection)):
        (problems if isinstance(item, ReadProblem) else sources).append(item)
    classifier = Classifier(EventBuilder(normalizer), selection, evidence, left_out.as_ if left_out else None,
                            left_out.outside if left_out else True)
    engine = engine or LocalEngine()
    total = Part(problems=problems)

    def hand_on(part: Part) -> None:
        if left_out and part.left_out:
            left_out.write(part.left_out)
        part.left_out = []
        if on_progress:
            on_progress(total.sources + part.sources, len(sources), total.records + part.records)

    # Held events are many small objects that all live to the end: the cyclic garbage collector
    # would walk them again and again for nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for part in engine.parts(sources, classifier, hand_on):
            hand_on(part)
            total.add(part)
        drop_duplicates(total.held)
        events = order_events(total.held)
    finally:
        if collecting:
            gc.enable()
    writes = Counter(event.principal.label for event in events if event.kept)
    if selection.principal is None and not selection.all_principals and len(writes) > 1:
        raise AmbiguousPrincipal(writes)
    return Ingested(events, total.problems, files_read=len(sources), principal_writes=writes,
                    records=total.records, left_out=total.counts)


def key_hints(selection: Selection) -> s3.KeyHints:
    """What the selection says about the S3 keys worth listing: an ARN names its account."""
    account = ACCOUNT_IN_ARN.match(selection.principal or "")
    return s3.KeyHints(
        accounts=frozenset([account.group(1)]) if account else None,
        regions=selection.regions,
        since=selection.since,
        until=selection.until,
    )
