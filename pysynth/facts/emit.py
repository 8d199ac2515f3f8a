"""The facts of an analysed session, as ``asp/README.md`` documents them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import re
from collections import defaultdict


from pysynth.solve import Fact, Term
from pysynth.facts.values import cidr_prefix, value_text

# A list position past the first: [1], [12].
LATER_POSITION = re.compile(r"\[[1-9]\d*\]")

if TYPE_CHECKING:
    from pysynth.facts.session import Session

def storable(fact: Fact) -> Fact:
    """clingo strings cannot hold NUL: a log value with one shows it as U+FFFD in the facts (the
    runbook keeps the real value; only policies reading value_text/2 see the stand-in)."""
    for arg in fact.args:  # a loop, not any(): this runs for every one of a session's facts
        if isinstance(arg, str) and "\x00" in arg:
            return Fact(fact.predicate, tuple(arg.replace("\x00", "\ufffd") if isinstance(arg, str) else arg
                                              for arg in fact.args))
    return fact


def session_facts(session: Session):
    sizes: dict[int, int] = defaultdict(int)
    for number, event in enumerate(session.calls, start=1):
        yield Fact("read" if event.read_only else "call", (number,))
        yield Fact("call_operation", (number, event.call.service, event.call.operation))
        moment = session.moments[number - 1]
        sizes[moment] += 1
        yield Fact("moment", (number, moment, sizes[moment]))
    for moment, size in sizes.items():
        if size > 1:
            yield Fact("moment_size", (moment, size))
            if moment in session.reorderable:
                yield Fact("reorderable", (moment,))
    for call, earlier in session.same_request:
        yield Fact("same_request", (call, earlier))
    for kind, call, value_id in session.effects:
        yield Fact(kind, (call, value_id))
    for poll in session.polls:
        yield Fact("poll", (poll.call, poll.reads))
        for rank, name in enumerate(poll.waiters):
            yield Fact("waiter", (poll.call, name, rank))
        for name in poll.accepted:
            yield Fact("waiter_accepts", (poll.call, name))
        if poll.consumer is not None:
            yield Fact("polled_before", (poll.call, poll.consumer))
    for call, found in session.failures.items():
        yield Fact("failed_attempts", (call, found.count))
    for slot in session.slots:
        yield Fact("slot", (slot.id, slot.call, slot.path))
        yield Fact("slot_member", (slot.id, slot.member))
        for container in dict.fromkeys(slot.containers):
            if container:
                yield Fact("slot_in", (slot.id, container))
        yield Fact("slot_value", (slot.id, slot.value_id))
        yield Fact("slot_type", (slot.id, slot.type))
        if slot.span is not None:
            yield Fact("fragment", (slot.id,))
        if slot.hidden:
            yield Fact("hidden", (slot.id,))
        if slot.runtime:
            yield Fact("runtime", (slot.id, Term(slot.runtime)))
        if slot.identifier:
            yield Fact("identifier", (slot.id,))
        if slot.constant:
            yield Fact("constant", (slot.id,))
        if slot.whole:
            yield Fact("whole", (slot.id,))
        if slot.within is not None:
            yield Fact("slot_within", (slot.id, slot.within))
    yield from overlapping_fragments(session)
    hidden_values = {slot.value_id for slot in session.slots if slot.hidden}
    for value_id, value in enumerate(session.values, start=1):
        if value_id not in hidden_values:
            yield Fact("value_text", (value_id, value_text(value)))
            bits = cidr_prefix(value)
            if bits is not None:
                yield Fact("value_cidr", (value_id, bits))
    # Only outputs some slot may take: the rest of every response (most of it) could bind nothing.
    offered = {output_id for _, output_id in session.can_take}
    for output in session.outputs:
        if output.id not in offered:
            continue
        yield Fact("output", (output.id, output.call, output.path))
        yield Fact("output_value", (output.id, output.value_id))
        yield Fact("output_type", (output.id, output.type))
        if session.is_read(output.call) and LATER_POSITION.search(output.path):
            yield Fact("positional", (output.id,))
    for value_id, call in session.produced.items():
        yield Fact("produced", (value_id, call))
    for value_id, call in session.first_source.items():
        yield Fact("first_source", (value_id, call))
    for slot_id, output_id in session.can_take:
        yield Fact("can_take", (slot_id, output_id))
    yield from loop_facts(session)
    if session.alignment is not None:
        yield from demonstration_facts(session)


# How a kind of test ranks among a branch's candidate tests: 0 first. An error code is the
# evidence the demonstrations acted on most directly; a response value next.
TEST_RANKS = {"failed": 0, "equals": 1}


def demonstration_facts(session: Session):
    """The demonstrations, and the candidates that align them (``pysynth.facts.demos``)."""
    alignment = session.alignment
    for number in range(1, len(alignment.names) + 1):
        yield Fact("demonstration", (number,))
    for call, number in enumerate(alignment.demo_of_call, start=1):
        yield Fact("demo", (call, number))
    for call, head in alignment.alignable:
        yield Fact("alignable", (call, head))
    for call, before, other in alignment.call_after:
        yield Fact("call_after", (call, before, other))
    for head, before, demo in alignment.head_after:
        yield Fact("head_after", (head, before, demo))
    for slot, paired, same in alignment.slot_pairs:
        yield Fact("slot_pair", (slot, paired))
        if same:
            yield Fact("same_value", (slot, paired))
    for output, paired in alignment.output_pairs:
        yield Fact("output_pair", (output, paired))
    for loop, paired in alignment.loop_pairs:
        yield Fact("loop_pair", (loop, paired))
    ranked = set()
    for test, call, holds in alignment.tests:
        term = Term(test[0], test[1:])
        yield Fact("test_at", (term, call))
        if holds:
            yield Fact("test_holds", (term, call))
        if term not in ranked:
            ranked.add(term)
            yield Fact("test_rank", (term, TEST_RANKS[test[0]]))


def overlapping_fragments(session: Session):
    """Pairs of fragments of one string that overlap: alternative ways to cut it."""
    pieces: dict[tuple, list] = defaultdict(list)
    for slot in session.slots:
        if slot.span is not None:
            pieces[(slot.call, slot.keys)].append(slot)
    for group in pieces.values():
        overlapping = set()
        for index, first in enumerate(group):
            for second in group[index + 1:]:
                if first.span[0] < second.span[1] and second.span[0] < first.span[1]:
                    yield Fact("fragment_overlaps", (first.id, second.id))
                    overlapping |= {first.id, second.id}
        for slot in group:
            if slot.id in overlapping:
                yield Fact("fragment_length", (slot.id, slot.span[1] - slot.span[0]))


def loop_facts(session: Session):
    """The loop candidates (``pysynth.facts.loops``): their calls, how each varying slot follows
    from the loop, and the lists each may walk."""
    derivation_ids = {way: number for number, way in enumerate(session.derivations, start=1)}
    for way, number in derivation_ids.items():
        yield Fact("derivation", (number, way.kind, way.prefix, way.suffix))
        yield Fact("derivation_length", (number, len(way.prefix) + len(way.suffix)))
    inner_loops = {loop.inner for loop in session.loops if loop.inner is not None}
    for loop in session.loops:
        yield Fact("loop", (loop.id,))
        yield Fact("loop_iterations", (loop.id, len(loop.iterations)))
        yield Fact("loop_rank", (loop.id, loop.rank))
        yield Fact("loop_key", (loop.id, loop.key_slot))
        for call in loop.calls:
            yield Fact("loop_call", (loop.id, call))
        for call in loop.body:
            yield Fact("loop_body", (loop.id, call))
        for slot, ways in loop.values.items():
            yield Fact("loop_varies", (loop.id, slot))
            for way in ways:
                yield Fact("loop_value", (loop.id, slot, derivation_ids[way]))
        for slot, outputs in loop.outputs.items():
            yield Fact("loop_varies", (loop.id, slot))
            for output in outputs:
                yield Fact("loop_output", (loop.id, slot, output))
        yield Fact("loop_source", (loop.id, Term("input")))
        if loop.id not in inner_loops:
            # The list as each iteration's call had its key, each element bound like any value.
            yield Fact("loop_source", (loop.id, Term("gathered")))
            for slot in loop.element_slots[1:]:
                yield Fact("loop_element", (loop.id, slot))
        key = session.slots[loop.key_slot - 1]
        if not (key.identifier or key.span is not None or key.hidden or key.runtime):
            yield Fact("loop_source", (loop.id, Term("literal")))
        for source in loop.sources:
            yield Fact("loop_source", (loop.id, Term("output", (source.id,))))
            yield Fact("output", (source.id, source.call, source.path))
            yield Fact("output_type", (source.id, "list"))
            if source.where is not None:
                where = source.where
                yield Fact("list_condition", (source.id, where.test, where.property, where.value))
                yield Fact("condition_rank", (source.id, source.rank))
        if loop.batch_member is not None:
            yield Fact("loop_batch", (loop.id,))
        if loop.inner is not None:
            yield Fact("loop_inner", (loop.id, loop.inner))
