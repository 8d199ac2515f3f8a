"""The joins between calls: which calls of a session may become steps, which outputs each slot may
take, and which calls repeat an earlier one."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict


from pysynth.evidence import PollSeries
from pysynth.paths import canonical_json, strings_of
from pysynth.ingest.events import Event
from pysynth.facts.session import Poll, Session

def candidate_calls(merged: list[Event], series: list[PollSeries], probed: set[int] = frozenset()):
    """The session's calls: the writes and, of the reads (all in time order), the last read of each
    poll series, the recorded reads whose response shows a value a later write's request holds and
    the reads a branch may test (``probed``, ids of the events); with the polls, numbered as calls."""
    later_requests: set[str] = set()
    useful: set[int] = set()
    for index in range(len(merged) - 1, -1, -1):
        event = merged[index]
        if id(event) in probed:
            useful.add(index)
        elif not event.read_only:
            later_requests |= strings_of(event.call.params)
        elif event.call.response and (strings_of(event.call.response) - strings_of(event.call.params)) & later_requests:
            useful.add(index)
    useful.update(item.last for item in series)
    kept = [index for index, event in enumerate(merged) if not event.read_only or index in useful]
    number = {index: position for position, index in enumerate(kept, start=1)}
    polls = [
        Poll(number[item.last], len(item.reads), item.waiters, item.accepted, number.get(item.consumer))
        for item in series if item.waiters
    ]
    return [merged[index] for index in kept], polls


# Outputs of the same moment offered to one slot at most: enough to undo CloudTrail's arbitrary
# order within a second, and bounded however busy the second.
SAME_MOMENT_SOURCES = 3


def join_candidates(session: Session, sources: dict[int, list[tuple[int, int]]]) -> None:
    """For each identifier, created value or whole structure: the first output that showed it,
    the latest one of an earlier moment, and the ones of the same moment (whose order the runbook
    decides). Plain data (a tag value "true", a path "/") is never read from a response that
    merely echoes it: that would tie unrelated steps together."""
    moments = session.moments

    def moment_of(source: tuple[int, int]) -> int:
        return moments[source[0] - 1]

    for slot in session.slots:
        if slot.hidden or slot.runtime or not (slot.identifier or slot.whole or slot.value_id in session.produced):
            continue
        moment = moments[slot.call - 1]
        found = sources.get(slot.value_id, ())
        # A value's sources are in call order, so in moment order: those of earlier moments come
        # first. Bisecting keeps a value shown by every copy of a task (an availability zone)
        # from costing each of its slots all its sources.
        start = bisect_left(found, moment, key=moment_of)
        chosen = {found[0][1], found[start - 1][1]} if start else set()
        same = 0
        for call, output in (found[index] for index in range(start, len(found))):
            if same == SAME_MOMENT_SOURCES or moments[call - 1] != moment:
                break
            # A read's response shows the state after the writes logged before it: only a call
            # logged after the read may take its values.
            if call != slot.call and not (session.is_read(call) and call > slot.call):
                chosen.add(output)
                same += 1
        session.can_take.extend((slot.id, output) for output in sorted(chosen))


def retries(session: Session) -> list[tuple[int, int]]:
    """Pairs (C, C0): write C repeats write C0's request and response, and no call in between uses
    one of their request values, so C may be a retry of C0. C0 is the first call of an unbroken
    run of repeats, so that every retry of a run can merge into the same step."""
    slot_values: dict[int, set[int]] = defaultdict(set)
    for slot in session.slots:
        slot_values[slot.call].add(slot.value_id)
    first_of_run: dict[str, int] = {}
    latest: dict[str, int] = {}
    pairs = []
    for number, event in enumerate(session.calls, start=1):
        if event.read_only:
            continue
        call = event.call
        key = canonical_json([call.service, call.operation, call.params])
        earlier, head = latest.get(key), first_of_run.get(key)
        latest[key] = number
        first_of_run[key] = number
        if earlier is None:
            continue
        same_response = not call.response or call.response == session.call_event(head).call.response
        untouched = not any(slot_values[number] & slot_values[between] for between in range(earlier + 1, number))
        if same_response and untouched:
            pairs.append((number, head))
            first_of_run[key] = head
    return pairs
