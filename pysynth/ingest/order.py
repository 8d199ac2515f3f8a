"""Ordering: the events of a selection by time, duplicates removed, and the calls of one second
put in data-flow order.

CloudTrail often logs calls of the same second out of causal order (an ``AttachUserPolicy``
before the ``CreateUser`` it depends on). Within a second, a record whose request uses a value
that appears in other records' responses (and not in its own) is placed after them. Each value
is one node between the records that produce it and those that use it, so the cost is linear in
the values of the second, however many records share it.
"""

from __future__ import annotations

import heapq
from itertools import groupby
from operator import attrgetter

from pysynth.ingest.events import Event
from pysynth.paths import strings_of

MIN_VALUE_LENGTH = 3  # shorter strings ("1", "us") are too common to link anything


def order_events(events: list[Event]) -> list[Event]:
    """``events`` (in input order) sorted by time, each second in data-flow order."""
    events.sort(key=attrgetter("epoch"))  # stable: input order within a second
    ordered: list[Event] = []
    for _, group in groupby(events, key=attrgetter("epoch")):
        same_second = list(group)
        ordered.extend(_order_by_evidence(same_second) if len(same_second) > 1 else same_second)
    return ordered


def drop_duplicates(events: list[Event]) -> None:
    """A record delivered twice (same eventID, time, source and name): the later ones are dropped."""
    first_seen: dict[tuple, Event] = {}
    for event in events:
        if event.event_id:
            identity = (event.event_id, event.time, event.event_source, event.event_name)
            original = first_seen.setdefault(identity, event)
            if original is not event:
                event.status, event.reason = "dropped", f"duplicate of {original.file} record {original.index} (same eventID)"


def _order_by_evidence(group: list[Event]) -> list[Event]:
    produced = [strings_of(event.call.response, MIN_VALUE_LENGTH) if event.call and event.call.response else set() for event in group]
    if not any(produced):
        return group
    # Each value is a node between the records: it is ready once every record whose response holds
    # it is placed, and a record that uses it waits for it. Edges grow with the values, not with
    # pairs of records.
    producers: dict[str, list[int]] = {}
    for position, values in enumerate(produced):
        for value in values:
            producers.setdefault(value, []).append(position)
    value_waiting: dict[str, int] = {value: len(places) for value, places in producers.items()}
    users: dict[str, list[int]] = {}
    waiting = [0] * len(group)  # values a record still waits for
    for consumer, event in enumerate(group):
        if event.call is None:
            continue
        for value in strings_of(event.call.params, MIN_VALUE_LENGTH):
            if value in producers and value not in produced[consumer]:
                users.setdefault(value, []).append(consumer)
                waiting[consumer] += 1
    # Kahn's algorithm, always taking the earliest ready record so that the log's order is kept
    # where there is no evidence; in a cycle, the earliest record not yet placed goes next.
    ready = [position for position, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    placed = [False] * len(group)
    order: list[int] = []
    next_unplaced = 0
    while len(order) < len(group):
        if ready:
            position = heapq.heappop(ready)
            if placed[position]:
                continue
        else:
            while placed[next_unplaced]:
                next_unplaced += 1
            position = next_unplaced
        placed[position] = True
        order.append(position)
        for value in produced[position]:
            value_waiting[value] -= 1
            if value_waiting[value] == 0:
                for consumer in users.get(value, ()):
                    waiting[consumer] -= 1
                    if waiting[consumer] == 0 and not placed[consumer]:
                        heapq.heappush(ready, consumer)
    return [group[position] for position in order]
