"""Several demonstrations as one session: each is analysed alone (its joins never reach into
another's values), the sessions are merged with their ids offset, and Python lists the candidates
the encoding aligns them by (``asp/demos.lp``):

- which call of a later demonstration may be the same program step as a call of an earlier one
  (same operation, same request members: ``alignable``), slot by slot and output by output;
- which loop candidates may be the same loop;
- the tests a branch may make at a call (``test_at``) and where each holds (``test_holds``): the
  call failed with an error code, or its recorded response shows an enum or flag value.

A probe is a read or failed call a branch may test: a failed call no later call of the same
request made good (a retry's failures are evidence of retries, not outcomes), or the first read of
each request, of an operation more than one demonstration made.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from pysynth.botomodels import operation_model
from pysynth.demos import Demonstration
from pysynth.evidence import request_key
from pysynth.facts.loops import ListOutput, LoopCandidate
from pysynth.facts.session import Poll, Session
from pysynth.facts.values import value_key
from pysynth.ingest.events import Event
from pysynth.paths import meets, parse_path, value_at

# Response values a branch may test: a value from a fixed set means the same in every
# demonstration (a state, a type), while an id or a name would tell the demonstrations apart and
# nothing else.
TESTED_TYPES = ("boolean",)


@dataclasses.dataclass(slots=True)
class Alignment:
    """The candidates that align several demonstrations (ids of the merged session)."""

    names: list[str]
    demo_of_call: list[int]  # call -> its demonstration, from 1
    alignable: list[tuple[int, int]] = dataclasses.field(default_factory=list)  # (later call, earlier demo's call)
    slot_pairs: list[tuple[int, int, bool]] = dataclasses.field(default_factory=list)  # (slot, slot0, same value)
    output_pairs: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    loop_pairs: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    # (call, the previous call of its demonstration with candidates in demonstration E, E), and
    # (call, the previous call of its demonstration that is a candidate of demonstration D's, D):
    # the ladders along which matches keep their order (asp/demos.lp: reach).
    call_after: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)
    head_after: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)
    # Tests: (test term as a tuple, call, holds)
    tests: list[tuple[tuple, int, bool]] = dataclasses.field(default_factory=list)


def probes(demonstrations: list[Demonstration]) -> list[list[Event]]:
    """For each demonstration, the read and failed calls a branch may test."""
    made_by: dict[tuple[str, str], set[int]] = defaultdict(set)
    for number, demonstration in enumerate(demonstrations):
        for event in (*demonstration.kept, *demonstration.reads, *demonstration.failed):
            made_by[(event.call.service, event.call.operation)].add(number)
    tested = {operation for operation, demos in made_by.items() if len(demos) > 1}
    found = []
    for demonstration in demonstrations:
        succeeded = {request_key(event) for event in demonstration.kept}
        seen: set[str] = set()
        chosen = []
        for event in sorted((*demonstration.reads, *demonstration.failed), key=lambda item: item.epoch):
            call = event.call
            key = request_key(event)
            if (call.service, call.operation) not in tested or key in seen:
                continue
            if event.error_code and key in succeeded:
                continue  # a retry's failure: the planning's evidence
            seen.add(key)
            chosen.append(event)
        found.append(chosen)
    return found


def merge_demonstrations(demonstrations: list[Demonstration], sessions: list[Session]) -> Session:
    """One session holding every demonstration's calls in turn, ids offset, with the
    ``Alignment`` candidates."""
    merged = Session(calls=[])
    demo_of_call: list[int] = []
    for number, session in enumerate(sessions, start=1):
        _append(merged, session)
        demo_of_call += [number] * len(session.calls)
    merged.derivations = sorted({way for session in sessions for way in session.derivations},
                                key=lambda way: (way.kind, way.prefix, way.suffix))
    merged.alignment = _alignment(merged, [demonstration.name for demonstration in demonstrations], demo_of_call)
    return merged


def _append(merged: Session, session: Session) -> None:
    calls, slots = len(merged.calls), len(merged.slots)
    values = len(merged.values)
    outputs = max([output.id for output in merged.outputs]
                  + [source.id for loop in merged.loops for source in loop.sources] + [0])
    moments = max(merged.moments, default=0)
    loops = max([loop.id for loop in merged.loops] + [0])

    def slot_id(slot: int) -> int:
        return slot + slots if slot > 0 else slot  # a loop's text skeleton keeps its own negative id

    merged.calls += session.calls
    merged.values += session.values
    merged.slots += [dataclasses.replace(slot, id=slot.id + slots, call=slot.call + calls,
                                         value_id=slot.value_id + values,
                                         within=None if slot.within is None else slot.within + slots)
                     for slot in session.slots]
    merged.outputs += [dataclasses.replace(output, id=output.id + outputs, call=output.call + calls,
                                           value_id=output.value_id + values) for output in session.outputs]
    merged.produced.update({value + values: call + calls for value, call in session.produced.items()})
    merged.first_source.update({value + values: call + calls for value, call in session.first_source.items()})
    merged.can_take += [(slot + slots, output + outputs) for slot, output in session.can_take]
    merged.same_request += [(call + calls, earlier + calls) for call, earlier in session.same_request]
    for kind, value in session.runtime_values.items():
        merged.runtime_values.setdefault(kind, value)
    merged.moments += [moment + moments for moment in session.moments]
    merged.reorderable |= {moment + moments for moment in session.reorderable}
    merged.effects += [(kind, call + calls, value + values) for kind, call, value in session.effects]
    merged.polls += [Poll(poll.call + calls, poll.reads, poll.waiters, poll.accepted,
                          None if poll.consumer is None else poll.consumer + calls) for poll in session.polls]
    merged.failures.update({call + calls: found for call, found in session.failures.items()})
    merged.outcomes.update({call + calls: code for call, code in session.outcomes.items()})
    merged.loops += [LoopCandidate(
        id=loop.id + loops,
        iterations=[[call + calls for call in iteration] for iteration in loop.iterations],
        key_slot=slot_id(loop.key_slot),
        elements=loop.elements,
        element_slots=[slot_id(slot) for slot in loop.element_slots],
        values={slot_id(slot): ways for slot, ways in loop.values.items()},
        outputs={slot_id(slot): [output + outputs for output in through] for slot, through in loop.outputs.items()},
        skeletons={(call + calls, keys): way for (call, keys), way in loop.skeletons.items()},
        sources=[dataclasses.replace(source, id=source.id + outputs, call=source.call + calls) for source in loop.sources],
        batch_member=loop.batch_member,
        inner=None if loop.inner is None else loop.inner + loops,
        rank=loop.rank,
    ) for loop in session.loops]


def _alignment(session: Session, names: list[str], demo_of_call: list[int]) -> Alignment:
    alignment = Alignment(names=names, demo_of_call=demo_of_call)
    by_path: dict[tuple[int, str], list] = defaultdict(list)
    for slot in session.slots:
        by_path[(slot.call, slot.path)].append(slot)
    # Call -> place -> slot. A place is the slot's path, and which of the values at that path it is
    # (a string's fragments share its path; their spans differ with the values).
    places_of: dict[int, dict[tuple, object]] = defaultdict(dict)
    for (call, path), group in by_path.items():
        group.sort(key=lambda slot: (slot.span is not None, slot.span or (0, 0)))
        for number, slot in enumerate(group):
            places_of[call][(path, number)] = slot
    def shape(call: int) -> tuple:
        event = session.call_event(call)
        return (event.call.service, event.call.operation, tuple(sorted(places_of[call])))

    # A call may be the program step an earlier demonstration's call of the same shape is.
    earlier = defaultdict(list)
    for call, demo in enumerate(demo_of_call, start=1):
        alignment.alignable += [(call, head) for head in earlier.get(shape(call), ()) if demo_of_call[head - 1] < demo]
        earlier[shape(call)].append(call)
    alignable = set(alignment.alignable)
    candidates_in: dict[tuple[int, int], list[int]] = defaultdict(list)  # (demo, other demo) -> calls
    heads_for: dict[tuple[int, int], list[int]] = defaultdict(list)  # (demo of heads, demo) -> heads
    for call, head in sorted(alignable):
        candidates_in[(demo_of_call[call - 1], demo_of_call[head - 1])].append(call)
        heads_for[(demo_of_call[head - 1], demo_of_call[call - 1])].append(head)
    for (_, other), calls in candidates_in.items():
        ordered = sorted(set(calls))
        alignment.call_after += [(call, before, other) for before, call in zip(ordered, ordered[1:])]
    for (_, demo), heads in heads_for.items():
        ordered = sorted(set(heads))
        alignment.head_after += [(head, before, demo) for before, head in zip(ordered, ordered[1:])]
    for loop in session.loops:
        for loop0 in session.loops:
            if (demo_of_call[loop0.body[0] - 1] < demo_of_call[loop.body[0] - 1] and len(loop.body) == len(loop0.body)
                    and all(pair in alignable for pair in zip(loop.body, loop0.body))
                    and session.slots[loop.key_slot - 1].path == session.slots[loop0.key_slot - 1].path):
                alignment.loop_pairs.append((loop.id, loop0.id))
                _share_conditions(session, loop, loop0)
    outputs_of: dict[int, list] = defaultdict(list)
    for output in session.outputs:
        outputs_of[output.call].append(output)
    for loop in session.loops:
        for source in loop.sources:
            outputs_of[source.call].append(source)
    for call, head in alignment.alignable:
        places = places_of[head]
        for place, slot in places_of[call].items():
            paired = places[place]
            same = value_key(session.values[slot.value_id - 1]) == value_key(session.values[paired.value_id - 1])
            alignment.slot_pairs.append((slot.id, paired.id, same))
        targets = {_output_place(output): output.id for output in outputs_of[head]}
        for output in outputs_of[call]:
            if _output_place(output) in targets:
                alignment.output_pairs.append((output.id, targets[_output_place(output)]))
    alignment.tests = list(_tests(session, demo_of_call))
    return alignment


def _share_conditions(session: Session, loop: LoopCandidate, loop0: LoopCandidate) -> None:
    """Offer ``loop`` the conditions ``loop0`` (an earlier demonstration's) keeps its list by, where
    they keep exactly ``loop``'s elements of the same listing: a demonstration that acted on every
    bucket it listed shows no condition of its own, but the earlier one's may hold of it too."""
    def place(call, path, where) -> tuple:
        return call, path, where and dataclasses.astuple(where)

    known = {place(source.call, source.path, source.where) for source in loop.sources}
    next_id = max([output.id for output in session.outputs]
                  + [source.id for each in session.loops for source in each.sources] + [0]) + 1
    for source0 in loop0.sources:
        if source0.where is None:
            continue
        for source in list(loop.sources):
            if place(source.call, source.path, source0.where) in known or source.path != source0.path:
                continue
            response = session.call_event(source.call).call.response
            element_path, _, rest = source.path.rpartition("[*]")
            elements = value_at(response, parse_path(element_path + "[*]")) or []
            kept = [value_at(element, parse_path(rest.lstrip("."))) if rest else element
                    for element in elements if meets(element, source0.where)]
            if [value_key(item) for item in kept] == [value_key(item) for item in loop.elements]:
                loop.sources.append(ListOutput(next_id, source.call, source.path, source0.where, source0.rank))
                known.add(place(source.call, source.path, source0.where))
                next_id += 1


def _output_place(output) -> tuple:
    return (output.path, getattr(output, "where", None) and dataclasses.astuple(output.where))


def _tests(session: Session, demo_of_call: list[int]):
    """The tests at each probe: its error code, and each enum or flag value its response shows
    that differs between the probes of its operation."""
    probes_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    for call, event in enumerate(session.calls, start=1):
        if call in session.outcomes or event.read_only:
            probes_of[(event.call.service, event.call.operation)].append(call)
    for (service, operation), calls in probes_of.items():
        if len({demo_of_call[call - 1] for call in calls}) < 2:
            continue
        codes = sorted({session.outcomes[call] for call in calls if call in session.outcomes})
        for code in codes:
            for call in calls:
                yield ("failed", code), call, session.outcomes.get(call) == code
        shown: dict[int, dict[str, str]] = {call: dict(_tested_values(session.call_event(call), service, operation))
                                            for call in calls if call not in session.outcomes}
        paths = {path for values in shown.values() for path in values}
        for path in sorted(paths):
            texts = {values.get(path) for values in shown.values()}
            if len(texts) < 2:
                continue  # the same everywhere: it tells no demonstration from another
            for text in sorted(text for text in texts if text is not None):
                for call in calls:
                    yield ("equals", path, text), call, shown.get(call, {}).get(path) == text


def _tested_values(event: Event, service: str, operation: str):
    """(path, text) of every enum or boolean leaf of a recorded response, lists by position."""
    response = event.call.response
    if not response:
        return
    output_shape = operation_model(service, operation).output_shape
    if output_shape is None:
        return

    def walk(value, shape, path):
        if shape is None:
            return
        if shape.type_name == "structure" and isinstance(value, dict):
            for name, member in shape.members.items():
                if name in value:
                    yield from walk(value[name], member, f"{path}.{name}" if path else name)
        elif shape.type_name == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, shape.member, f"{path}[{index}]")
        elif shape.type_name in TESTED_TYPES and isinstance(value, bool):
            yield path, "true" if value else "false"
        elif shape.type_name == "string" and getattr(shape, "enum", None) and isinstance(value, str):
            yield path, value

    yield from walk(response, output_shape, "")
