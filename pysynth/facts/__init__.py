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

from pysynth.botomodels import api_error_code
from pysynth.demos import Demonstration
from pysynth.evidence import failures_before, poll_series
from pysynth.facts.demos import merge_demonstrations, probes
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
    tested = probes(demonstrations)
    sessions = [analyse(each.kept, each.reads, [event for event in each.failed if event not in probed], probed)
                for each, probed in zip(demonstrations, tested)]
    return merge_demonstrations(demonstrations, sessions)


def analyse(writes: list[Event], reads: list[Event] = (), failed: list[Event] = (), probed: list[Event] = ()) -> Session:
    """Slots, outputs, values, candidate bindings and evidence for the kept write calls in log
    order, with the read calls that polled a resource or whose recorded responses carry a value a
    later write uses, and the failed attempts before a write succeeded. ``probed``: reads and
    failed calls a branch may test (several demonstrations), calls of the session whatever else."""
    probed_reads = [event for event in probed if not event.error_code]
    outcomes = [event for event in probed if event.error_code]
    merged = list(heapq.merge(writes, sorted([*reads, *outcomes, *(event for event in probed_reads if event not in reads)],
                                             key=_epoch), key=_epoch))
    calls, polls = candidate_calls(merged, _polls(merged), {id(event) for event in probed})
    session = Analyser(calls).run()
    session.outcomes = {number: api_error_code(event.call.service, event.error_code)
                        for number, event in enumerate(calls, start=1) if event.error_code}
    session.effects = [effect for effect in session.effects if effect[1] not in session.outcomes]
    session.polls = polls
    positions = {id(event): number for number, event in enumerate(calls, start=1)}
    session.failures = {positions[id(writes[index])]: found for index, found in failures_before(writes, failed).items()}
    outputs, slots, produced = session.outputs, session.slots, session.produced
    session.reorderable = reorderable(
        session.moments,
        ((slot.call, slot.value_id) for slot in slots),
        # A created value is taken from its producer only (created_from_producer): a later echo of
        # it in the same second (a second CreateRouteTable's VpcId) is no precedence to weigh.
        ((slots[slot - 1].call, outputs[output - 1].call) for slot, output in session.can_take
         if produced.get(slots[slot - 1].value_id, outputs[output - 1].call) == outputs[output - 1].call
         or slots[slot - 1].constant),
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


def _polls(merged: list[Event]):
    """The poll series of the successful calls (a failed probe polls nothing), indexes into ``merged``."""
    succeeded = [index for index, event in enumerate(merged) if not event.error_code]
    if len(succeeded) == len(merged):
        return poll_series(merged)
    series = poll_series([merged[index] for index in succeeded])
    for item in series:
        item.reads = [succeeded[index] for index in item.reads]
        item.consumer = None if item.consumer is None else succeeded[item.consumer]
        item.setter = None if item.setter is None else succeeded[item.setter]
    return series


def _epoch(event: Event) -> float:
    return event.epoch
