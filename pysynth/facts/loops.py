"""Loop candidates: stretches of calls that repeat one body with values drawn, iteration by
iteration, from a list. Python finds them; the encodings (``asp/loops.lp``) choose which become
loops, over which list, under the objectives.

A run is a stretch of consecutive calls whose operations and request shapes repeat a body of one
to ``MAX_BODY`` calls. Every slot position that varies across the iterations of a run must follow
from one walked value, the key: the key itself, the key with literal text around it, the
iteration's number with literal text around it, or an output of an earlier call of the same
iteration (a structure copied whole brings the values within it). The key's values are the list
the loop walks: an input list, or a list in an earlier recorded response, exactly or through a
condition that keeps only the elements the log acted on.

Two levels: runs found among calls are units of a run one level up (for each user, for each
group), when the inner lists are the same in every outer iteration. Everything here is linear in
the session: each call is looked at a bounded number of times per body size.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pysynth.facts.values import value_key
from pysynth.facts.listings import conditions, subsequence
from pysynth.model import Condition
from pysynth.paths import parse_path, value_at

if TYPE_CHECKING:
    from pysynth.facts.session import Session

MAX_BODY = 3
MAX_KEYS = 3  # key positions tried per run: enough for a name and the strings made from it
MAX_SOURCES = 2  # earlier responses tried per key: the first and the latest that list its values
MAX_CONDITIONS = 4
INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True, slots=True)
class Derivation:
    """How a varying value follows from its loop: ``prefix`` + the element (``kind`` "element") or
    the iteration's number from 1 (``kind`` "index") + ``suffix``."""

    kind: str
    prefix: str
    suffix: str


IDENTITY = Derivation("element", "", "")


@dataclass(slots=True)
class ListOutput:
    """A list in a recorded response a loop may walk: ``path`` with ``[*]`` (``Buckets[*].Name``),
    kept through ``where`` when the log acted on some of its elements only."""

    id: int
    call: int
    path: str
    where: Condition | None = None
    rank: int = 0  # among the conditions of one list: 0 is the simplest


@dataclass(slots=True)
class LoopCandidate:
    id: int
    iterations: list[list[int]]  # the calls of each iteration, in log order
    key_slot: int  # the slot of the first iteration the loop walks
    elements: list[object]  # the key's value in each iteration
    element_slots: list[int]  # the key's slot in each iteration
    # Slot of the first iteration -> the ways it follows from the loop, where it varies.
    values: dict[int, list[Derivation]] = field(default_factory=dict)
    outputs: dict[int, list[int]] = field(default_factory=dict)  # slot -> outputs of the same iteration
    # (call, keys) of a first-iteration string cut into fragments -> how its literal text follows
    # from the loop, where that text varies.
    skeletons: dict[tuple, Derivation] = field(default_factory=dict)
    sources: list[ListOutput] = field(default_factory=list)
    batch_member: str | None = None  # the list member one call could take the whole list in
    inner: int | None = None  # the loop candidate of the first iteration's inner loop
    rank: int = 0  # among the candidates of one run (key choices): 0 first

    @property
    def calls(self) -> list[int]:
        return [call for iteration in self.iterations for call in iteration]

    @property
    def body(self) -> list[int]:
        return self.iterations[0]


@dataclass(slots=True)
class _Skeleton:
    """The literal text of a string cut into fragments, each fragment a NUL: ``"\\0-1"`` for the
    tag ``vpc-0abc1234-1`` whose VPC id is a fragment. A position of its own, with a negative id,
    so that text varying around the fragments (the ``-1``, ``-2`` of each iteration) is explained
    like any varying value; it has no binding, so Python fixes its derivation."""

    id: int
    call: int
    keys: tuple
    value: str
    value_id: int
    hidden: bool = False
    identifier: bool = False
    span: None = None
    within: None = None


@dataclass(slots=True)
class _Unit:
    """One item of a level's sequence: a call, or (one level up) an inner loop candidate's run.
    ``positions`` are the slots that carry the unit's values at this level, aligned by index
    between units of the same signature."""

    calls: list[int]
    signature: tuple
    positions: list[int]
    loop: LoopCandidate | None = None


class LoopFinder:
    def __init__(self, session: Session):
        self.session = session
        self.slots_of: dict[int, list] = defaultdict(list)
        for slot in session.slots:
            self.slots_of[slot.call].append(slot)
        self.slot_by_id: dict[int, object] = {slot.id: slot for slot in session.slots}
        self.skeleton_slots: dict[int, _Skeleton] = {}
        self.skeleton_ids: dict[str, int] = {}
        self.units: dict[int, _Unit] = {}
        self.value_ids = {value_key(value): number for number, value in enumerate(session.values, start=1)}
        self.outputs_of: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
        self.shown_by: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for output in session.outputs:
            self.outputs_of[output.call].setdefault(output.path, (output.id, output.value_id))
            self.shown_by[output.value_id].append((output.call, output.path))
        self.next_output = len(session.outputs) + 1
        self.candidates: list[LoopCandidate] = []
        self.lists: dict[tuple, list[ListOutput]] = {}
        self.moment_calls: dict[int, set[int]] = defaultdict(set)
        for number, moment in enumerate(session.moments, start=1):
            self.moment_calls[moment].add(number)

    def run(self) -> list[LoopCandidate]:
        units = [self.call_unit(number) for number in range(1, len(self.session.calls) + 1)]
        inner = self.find(units)
        if inner:
            # One level up: each inner run (its first candidate) is one unit.
            upper: list[_Unit] = []
            taken = -1
            starts = {}
            for candidate in sorted(inner, key=lambda item: item.calls[0]):
                if candidate.calls[0] > taken:
                    starts[candidate.calls[0]] = candidate
                    taken = candidate.calls[-1]
            number = 1
            while number <= len(self.session.calls):
                candidate = starts.get(number)
                if candidate is not None:
                    upper.append(self.loop_unit(candidate))
                    number = candidate.calls[-1] + 1
                else:
                    upper.append(units[number - 1])
                    number += 1
            self.find(upper, nested=True)
        return self.candidates

    # -- units ------------------------------------------------------------------------------

    def call_unit(self, call: int) -> _Unit:
        known = self.units.get(call)
        if known is not None:
            return known
        event = self.session.call_event(call)
        slots = sorted(self.slots_of[call], key=lambda slot: (slot.path, slot.span or (0, 0)))
        signature = (event.read_only, event.call.service, event.call.operation,
                     tuple((slot.path, slot.span is not None, slot.hidden) for slot in slots))
        positions = [slot.id for slot in slots]
        pieces: dict[tuple, list] = defaultdict(list)
        for slot in slots:
            if slot.span is not None:
                pieces[slot.keys].append(slot)
        for keys, cut in pieces.items():
            text = value_at(event.call.params, list(keys))
            skeleton, position = "", 0
            for slot in cut:
                skeleton += text[position:slot.span[0]] + "\0"
                position = slot.span[1]
            skeleton += text[position:]
            value_id = self.skeleton_ids.setdefault(skeleton, -len(self.skeleton_ids) - 1)
            pseudo = _Skeleton(-len(self.skeleton_slots) - 1, call, keys, skeleton, value_id)
            self.skeleton_slots[pseudo.id] = pseudo
            self.slot_by_id[pseudo.id] = pseudo
            positions.append(pseudo.id)
        unit = self.units[call] = _Unit([call], signature, positions)
        return unit

    def loop_unit(self, candidate: LoopCandidate) -> _Unit:
        """An inner loop as one unit: its calls, the slots of its first iteration that do not
        vary with it, and a signature that holds the list it walks (the same in every outer
        iteration, or the units do not align)."""
        varying = set(candidate.values) | set(candidate.outputs)
        positions = [slot for call in candidate.body for slot in self.unit_positions(call) if slot not in varying
                     and not (slot < 0 and (self.slot_by_id[slot].call, self.slot_by_id[slot].keys) in candidate.skeletons)]
        signature = ("loop", tuple(self.call_unit(call).signature for call in candidate.body),
                     tuple(value_key(element) for element in candidate.elements),
                     tuple(sorted((self.position_of(candidate, slot), tuple(ways)) for slot, ways in candidate.values.items())))
        return _Unit(candidate.calls, signature, positions, candidate)

    def unit_positions(self, call: int) -> list[int]:
        return self.call_unit(call).positions

    def position_of(self, candidate: LoopCandidate, slot: int) -> tuple:
        found = self.slot_by_id[slot]
        return candidate.body.index(found.call), found.path, found.span or (0, 0)

    # -- runs -------------------------------------------------------------------------------

    def find(self, units: list[_Unit], nested: bool = False) -> list[LoopCandidate]:
        """Loop candidates for the runs of ``units``; the first candidate of each explained run,
        for the level up. One level up, only runs with an inner loop are new."""
        first_candidates: list[LoopCandidate] = []
        for size in range(1, MAX_BODY + 1):
            start = 0
            while start + 2 * size <= len(units):
                body = [unit.signature for unit in units[start:start + size]]
                if [unit.signature for unit in units[start + size:start + 2 * size]] != body:
                    start += 1
                    continue
                end = start + 2 * size
                while [unit.signature for unit in units[end:end + size]] == body:
                    end += size
                iterations = [units[index:index + size] for index in range(start, end, size)]
                for segment in self.segments(iterations):
                    if nested and not any(unit.loop for iteration in segment for unit in iteration):
                        continue
                    found = self.explain(segment)
                    if found:
                        first_candidates.append(found[0])
                start = end
        return first_candidates

    def segments(self, iterations: list[list[_Unit]]) -> list[list[list[_Unit]]]:
        """The run whole when one key explains it; else split where more positions change between
        two iterations than between most (for each user, for each group: the user changes)."""
        if len(iterations) < 2:
            return []
        changes = [frozenset(self.changed(a, b)) for a, b in zip(iterations, iterations[1:])]
        common = Counter(changes).most_common(1)[0][0]
        if all(change == common for change in changes) or self.explainable(iterations):
            return [iterations]
        pieces, current = [], [iterations[0]]
        for change, iteration in zip(changes, iterations[1:]):
            if change == common:
                current.append(iteration)
            else:
                pieces.append(current)
                current = [iteration]
        pieces.append(current)
        return [piece for piece in pieces if len(piece) >= 2]

    def changed(self, first: list[_Unit], second: list[_Unit]) -> set[int]:
        return {index for index, (a, b) in enumerate(zip(self.positions(first), self.positions(second)))
                if self.slot_by_id[a].value_id != self.slot_by_id[b].value_id}

    @staticmethod
    def positions(iteration: list[_Unit]) -> list[int]:
        return [slot for unit in iteration for slot in unit.positions]

    def explainable(self, iterations: list[list[_Unit]]) -> bool:
        return bool(self.key_choices(iterations))

    # -- explaining a segment ---------------------------------------------------------------

    def explain(self, iterations: list[list[_Unit]]) -> list[LoopCandidate]:
        session = self.session
        calls = [call for iteration in iterations for unit in iteration for call in unit.calls]
        if not any(not session.is_read(call) for call in calls):
            return []
        outside = set(range(calls[0], calls[-1] + 1)) - set(calls)
        if outside or self.shares_reorderable_moment(calls):
            return []
        found = []
        for rank, (key, values, outputs, skeletons) in enumerate(self.key_choices(iterations)):
            key_slot = self.slot_by_id[key]
            at = self.positions(iterations[0]).index(key)
            element_slots = [self.positions(iteration)[at] for iteration in iterations]
            elements = [self.slot_by_id[slot].value for slot in element_slots]
            candidate = LoopCandidate(
                id=len(self.candidates) + 1,
                iterations=[[call for unit in iteration for call in unit.calls] for iteration in iterations],
                key_slot=key, elements=elements, element_slots=element_slots, values=values, outputs=outputs, skeletons=skeletons, rank=rank,
                inner=next((unit.loop.id for unit in iterations[0] if unit.loop is not None), None),
            )
            candidate.sources = self.list_sources(candidate)
            if len(iterations[0]) == 1 and iterations[0][0].loop is None and len(values) == 1 and not outputs:
                candidate.batch_member = self.batch_member(candidate, key_slot)
            self.candidates.append(candidate)
            found.append(candidate)
        return found

    def shares_reorderable_moment(self, calls: list[int]) -> bool:
        """The solver may reorder the calls of a reorderable moment: a loop stands where its
        first iteration does, so no other call may share such a moment with its calls."""
        inside = set(calls)
        for moment in {self.session.moments[call - 1] for call in calls}:
            if moment in self.session.reorderable and not self.moment_calls[moment] <= inside:
                return True
        return False

    def key_choices(self, iterations: list[list[_Unit]]):
        """(key slot, derivations by slot, same-iteration outputs by slot) for each slot position
        that can be the walked key: every other varying position follows from it."""
        rows = [self.positions(iteration) for iteration in iterations]
        slot = self.slot_by_id
        varying = [index for index in range(len(rows[0]))
                   if len({slot[row[index]].value_id for row in rows}) > 1]
        if not varying:
            return []
        produced, first, last = self.session.produced, iterations[0][0].calls[0], iterations[-1][-1].calls[-1]

        def produced_inside(value_id: int) -> bool:
            return first <= produced.get(value_id, 0) <= last  # calls are numbered from 1

        # A value within a structure that varies whole is no key: the structure is what flows.
        keys = [index for index in varying
                if rows[0][index] > 0 and slot[rows[0][index]].within is None
                and all(isinstance(slot[row[index]].value, str) and not slot[row[index]].hidden
                        and not produced_inside(slot[row[index]].value_id) for row in rows)]
        keys.sort(key=lambda index: (not (slot[rows[0][index]].identifier or slot[rows[0][index]].span), index))
        choices = []
        for key in keys[:MAX_KEYS]:
            elements = [slot[row[key]].value for row in rows]
            values: dict[int, list[Derivation]] = {rows[0][key]: [IDENTITY]}
            outputs: dict[int, list[int]] = {}
            skeletons: dict[tuple, Derivation] = {}
            for index in varying:
                if index == key or slot[rows[0][index]].within in outputs:
                    continue  # the key, or a value within a structure the iteration copies whole
                texts = [slot[row[index]].value for row in rows]
                # A created id comes from its creator, whatever pattern its digits happen to follow.
                created = any(slot[row[index]].value_id in self.session.produced for row in rows)
                ways = [] if created else derivations(texts, elements)
                if rows[0][index] < 0:
                    if not ways:
                        break
                    skeleton = slot[rows[0][index]]
                    skeletons[(skeleton.call, skeleton.keys)] = ways[0]
                    continue
                through = self.same_iteration_outputs(iterations, rows, index)
                if not ways and not through:
                    break
                if ways:
                    values[rows[0][index]] = ways
                if through:
                    outputs[rows[0][index]] = through
            else:
                choices.append((rows[0][key], values, outputs, skeletons))
        return choices

    def same_iteration_outputs(self, iterations, rows, index) -> list[int]:
        """Outputs of an earlier call of the same iteration that hold the position's value in
        every iteration (the new subnet's id that the next call tags)."""
        slot = self.slot_by_id[rows[0][index]]
        found = []
        for position, unit in enumerate(iterations[0]):
            if unit.loop is not None or unit.calls[0] >= slot.call:
                continue
            for path, (output, value_id) in self.outputs_of[unit.calls[0]].items():
                if value_id != slot.value_id:
                    continue
                if all(self.outputs_of[iteration[position].calls[0]].get(path, (0, 0))[1]
                       == self.slot_by_id[row[index]].value_id for iteration, row in zip(iterations, rows)):
                    found.append(output)
        return found[:1]

    # -- the lists a loop may walk ----------------------------------------------------------

    def list_sources(self, candidate: LoopCandidate) -> list[ListOutput]:
        """Lists in responses logged before the loop whose elements (all, or those a condition
        keeps) are the loop's elements, in order."""
        first = candidate.iterations[0][0]
        wanted = [self.value_ids.get(value_key(element)) for element in candidate.elements]
        seen: set[tuple[int, str]] = set()
        places = []
        for call, path in self.shown_by.get(wanted[0], ()):
            general = INDEX.sub("[*]", path)
            if call < first and "[*]" in general and (call, general) not in seen:
                seen.add((call, general))
                places.append((call, general))
        sources = []
        for call, general in places[:1] + places[-1:] if len(places) > 1 else places:
            sources += self.list_outputs(call, general, wanted)
            if len(sources) >= MAX_SOURCES + MAX_CONDITIONS:
                break
        return sources

    def list_outputs(self, call: int, path: str, wanted: list[int | None]) -> list[ListOutput]:
        known = self.lists.get((call, path, tuple(wanted)))
        if known is not None:
            return known
        response = self.session.call_event(call).call.response
        element_path, _, rest = path.rpartition("[*]")
        element_path += "[*]"
        elements = value_at(response, parse_path(element_path))
        walked = [value_at(element, parse_path(rest.lstrip("."))) if rest else element for element in elements]
        listed = [self.value_ids.get(value_key(item)) for item in walked]
        found: list[ListOutput] = []
        if listed == wanted:
            found.append(self.new_list_output(call, path, None, 0))
        else:
            acted = subsequence(listed, wanted)
            if acted is not None:
                for rank, where in enumerate(conditions(element_path, elements, acted)[:MAX_CONDITIONS]):
                    found.append(self.new_list_output(call, path, where, rank))
        self.lists[(call, path, tuple(wanted))] = found
        return found

    def new_list_output(self, call, path, where, rank) -> ListOutput:
        output = ListOutput(self.next_output, call, path, where, rank)
        self.next_output += 1
        return output

    def batch_member(self, candidate: LoopCandidate, key_slot) -> str | None:
        """The list member (``InstanceIds``) that holds the key alone in every iteration: one call
        could take the whole list there."""
        keys = key_slot.keys
        if key_slot.span is not None or not keys or keys[-1] != 0:
            return None
        for iteration in candidate.iterations:
            params = self.session.call_event(iteration[0]).call.params
            held = value_at(params, list(keys[:-1]))
            if not isinstance(held, list) or len(held) != 1:
                return None
        return key_slot.path.rsplit("[", 1)[0]


def derivations(texts: list[object], elements: list[str]) -> list[Derivation]:
    """The ways every text is literal text around its iteration's element, or around the
    iteration's number from 1."""
    if not all(isinstance(text, str) for text in texts):
        return []
    found = []
    first, element = texts[0], elements[0]
    start = first.find(element) if element else -1
    while start >= 0:
        way = Derivation("element", first[:start], first[start + len(element):])
        if all(text == way.prefix + item + way.suffix for text, item in zip(texts, elements)):
            found.append(way)
        start = first.find(element, start + 1)
    start = first.find("1")
    while start >= 0:
        way = Derivation("index", first[:start], first[start + 1:])
        if all(text == f"{way.prefix}{number}{way.suffix}" for number, text in enumerate(texts, start=1)):
            found.append(way)
        start = first.find("1", start + 1)
    return found
