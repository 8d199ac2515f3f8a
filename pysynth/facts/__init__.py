"""From kept calls to ASP facts: the heavy joins happen here, in Python, in time linear in the
session; the encodings only choose among the candidates found here.

Each kept write call's request is cut into slots (a scalar, a whole list of scalars, an id,
account id or region inside a longer string, or a whole map or structure a recorded read's response
holds), each response into outputs; every distinct value gets one id. For each slot, the candidate outputs are the first call that showed its value and the most
recent earlier one: enough for every binding the encodings allow, and linear in size.
The fact schema is documented in ``asp/README.md``.

The modules, one concern each: ``values`` (value ids and texts, runtime values), ``session`` (the
analysed session), ``slots`` (requests into classified slots, responses into outputs), ``joins``
(candidate calls, candidate sources, retries) and ``emit`` (the facts themselves).
"""

from __future__ import annotations

import heapq

from pysynth.demos import Demonstration
from pysynth.evidence import failures_before, poll_series
from pysynth.facts.demos import merge_demonstrations
from pysynth.facts.joins import candidate_calls
from pysynth.facts.loops import LoopFinder
from pysynth.facts.session import OutputSlot, Poll, Session, Slot
from pysynth.facts.slots import Analyser
from pysynth.facts.values import (
    MIN_EMBEDDED_LENGTH, RESOURCE_ID, TOKEN, cidr_prefix, runtime_values, value_key, value_text,
)
from pysynth.ingest.events import Event
from pysynth.moments import reorderable

__all__ = [
    "MIN_EMBEDDED_LENGTH", "RESOURCE_ID", "TOKEN", "OutputSlot", "Poll", "Session", "Slot", "analyse", "analyse_demonstrations", "cidr_prefix",
    "runtime_values", "value_key", "value_text",
]


def analyse_demonstrations(demonstrations: list[Demonstration]) -> Session:
    """One demonstration's session as ``analyse`` makes it; several, each analysed alone and
    merged into one session (``pysynth.facts.demos``), with the candidates that align them."""
    if len(demonstrations) == 1:
        only = demonstrations[0]
        return analyse(only.kept, only.reads, only.failed)
    return merge_demonstrations(demonstrations, [analyse(each.kept, each.reads, each.failed) for each in demonstrations])


def analyse(writes: list[Event], reads: list[Event] = (), failed: list[Event] = ()) -> Session:
    """Slots, outputs, values, candidate bindings and evidence for the kept write calls in log
    order, with the read calls that polled a resource or whose recorded responses carry a value a
    later write uses, and the failed attempts before a write succeeded."""
    merged = list(heapq.merge(writes, reads, key=_epoch))
    calls, polls = candidate_calls(merged, poll_series(merged))
    session = Analyser(calls).run()
    session.polls = polls
    positions = {id(event): number for number, event in enumerate(calls, start=1)}
    session.failures = {positions[id(writes[index])]: found for index, found in failures_before(writes, failed).items()}
    outputs = session.outputs
    session.reorderable = reorderable(
        session.moments,
        ((slot.call, slot.value_id) for slot in session.slots),
        ((session.slots[slot - 1].call, outputs[output - 1].call) for slot, output in session.can_take),
        session.effects,
        ((poll.call, poll.consumer) for poll in polls if poll.consumer is not None),
    )
    session.loops = LoopFinder(session).run()
    session.derivations = sorted({way for loop in session.loops for ways in loop.values.values() for way in ways},
                                 key=lambda way: (way.kind, way.prefix, way.suffix))
    offered = set(session.can_take)
    session.can_take.extend(sorted({(slot, output) for loop in session.loops for slot, through in loop.outputs.items()
                                    for output in through} - offered))
    return session


def _epoch(event: Event) -> float:
    return event.epoch
