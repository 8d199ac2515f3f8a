"""Moments: the calls CloudTrail logged in one second, and which of them the solver must order.

CloudTrail's order within one second is arbitrary, so the calls of a moment may run in another
order than logged (``rank/2`` in ``asp/order.lp``). Most moments hold no pair of calls that any
answer could need in the other order: there the log's order is the only one the ``log_order``
objective can choose, and ranking their steps would only give the solver choices that make no
difference. ``reorderable`` finds the moments where some candidate precedence goes against the
log's order; the facts mark them ``reorderable/1`` and only their steps are ranked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from pysynth.ingest.events import Event


def moments_of(calls: list[Event]) -> list[int]:
    """Each call's moment, numbered from 1: calls logged at the same time share one. CloudTrail
    logs whole seconds, so the calls of one second share a moment; a recorded trace's times are
    finer, and its order is the order the calls were made."""
    moments, moment, last = [], 0, None
    for event in calls:
        if event.epoch != last or event.epoch == float("inf"):
            moment, last = moment + 1, event.epoch
        moments.append(moment)
    return moments


def reorderable(
    moments: list[int],
    slots: Iterable[tuple[int, int]],
    takes: Iterable[tuple[int, int]],
    effects: Iterable[tuple[str, int, int]],
    waits: Iterable[tuple[int, int]],
) -> set[int]:
    """The moments where a precedence ``order.lp`` may derive could put a call before one logged
    earlier in the same second. Calls are numbered in log order from 1; ``slots`` are (call, value)
    of every slot, ``takes`` (slot's call, output's call) of every candidate binding, ``effects``
    (``creates`` or ``deletes``, call, value) and ``waits`` (poll's read, the call it waits for).
    A read stays after the writes logged before it, which is the log's order already."""
    found: set[int] = set()

    def against_log(before: int, after: int) -> None:
        """``before`` may have to run before ``after``: against the log when logged later in the same second."""
        if before > after and moments[before - 1] == moments[after - 1]:
            found.add(moments[before - 1])

    for call, source in takes:
        against_log(source, call)
    for poll, consumer in waits:
        against_log(poll, consumer)
    affected: dict[int, list[tuple[str, int]]] = defaultdict(list)  # value -> (kind, call) of its effects
    for kind, call, value in effects:
        affected[value].append((kind, call))
    if not affected:
        return found
    own = {(kind, call, value) for value, found_effects in affected.items() for kind, call in found_effects}
    for call, value in slots:
        for kind, other in affected.get(value, ()):
            if other == call or (kind, call, value) in own:
                continue
            if kind == "creates":
                against_log(other, call)
            else:
                against_log(call, other)
    return found
