"""Loops after matching: whether each loop's list has as many elements as the log shows iterations,
and the loops whose list the log cannot give. Each finding is one problem for the loop, not one per
call: a list one element short is a single mistake, however many calls the extra iteration made."""

from __future__ import annotations

from collections import defaultdict

from pysynth.ingest.normalize import Normalizer
from pysynth.model import ItemRef
from pysynth.paths import value_at
from pysynth.render.prose import plural
from pysynth.verify import leftovers
from pysynth.verify.instances import Instance
from pysynth.verify.problems import API_ACTIONS, ITERATION_COUNT, UNREPLAYABLE_LOOP, Problem
from pysynth.verify.values import ABSENT, element_text, leaves, record_ref, show

# Iterations a message names one by one before it says how many more there are.
NAMED_ITERATIONS = 3


def account(replay) -> set[tuple]:
    """Problems of the loops whose list is longer or shorter than the log's iterations, or that the
    log cannot replay; the calls they explain are taken. Returns the keys of the instances in the
    iterations the log does not show, which need no problem of their own."""
    _unreplayable(replay)
    runs = _Runs(replay)
    extra: dict[tuple, list[int]] = {}  # loop instance -> the iterations after the last the log shows
    for key in replay.walked:
        last = max(runs.shown[key], default=0)
        # A loop the log shows nothing of is left to its steps' own problems: they say what differs.
        if last:
            extra[key] = sorted(number for number in runs.unmatched[key] if number > last)
    leftovers = runs.leftovers()
    accounted: set[tuple] = set()
    for key, elements in replay.walked.items():
        added, missed = extra.get(key), leftovers.get(key)
        loop = runs.loops[key]
        walks = f"{loop.loop_text} walks {plural(len(elements), 'element')}"
        if added:
            named = ", ".join(f"{number} ({element_text(elements[number - 1])})" for number in added[:NAMED_ITERATIONS])
            more = f" and {len(added) - NAMED_ITERATIONS} more" if len(added) > NAMED_ITERATIONS else ""
            shows = "the log's iterations differ" if missed else \
                f"the log shows {plural(max(runs.shown[key]), 'iteration')}"
            replay.problems.append(Problem(
                ITERATION_COUNT,
                f"{walks}, but {shows}: no call stands for iteration{'s' if len(added) > 1 else ''} {named}{more}",
                step=key[0], iterations=loop.iterations,
            ))
            accounted.update(instance.key for number in added for instance in runs.unmatched[key][number])
        if missed:
            calls = [replay.calls[number] for number in missed]
            made = ", ".join(f"{event.file} record {event.index} ({event.call.operation}{runs.element_of(key, event)})"
                             for event in calls[:NAMED_ITERATIONS])
            more = f" and {len(calls) - NAMED_ITERATIONS} more" if len(calls) > NAMED_ITERATIONS else ""
            shows = "the log's iterations differ" if added else "the log shows more iterations"
            replay.problems.append(Problem(
                ITERATION_COUNT,
                f"{walks}, but {shows}: no iteration makes {made}{more}",
                step=key[0], record=record_ref(calls[0]), iterations=loop.iterations,
            ))
            replay.taken.update(missed)
    return accounted


def _unreplayable(replay) -> None:
    """A loop whose list the log cannot give: one problem, and the calls of its body's operations
    are its own, unchecked (each would otherwise be a call no step makes)."""
    for instance, unknown in replay.unwalked:
        numbers = leftovers.take_unchecked(replay, instance.step.loop.steps)
        if unknown.reported:
            continue
        unchecked = f"; {plural(len(numbers), 'call')} of its body left unchecked" if numbers else ""
        replay.problems.append(Problem(
            UNREPLAYABLE_LOOP,
            f"{instance.loop_text} cannot be replayed: it walks {show(instance.step.loop.over)}, "
            f"but {unknown.why}{unchecked}",
            step=instance.step.name, iterations=instance.iterations,
        ))


class _Runs:
    """What each loop step's instance (by key) made: ``shown`` the iterations with a matched call,
    ``unmatched`` per iteration the write steps' instances that matched none, ``first`` its first
    matched call."""

    def __init__(self, replay):
        self.replay = replay
        self.loops: dict[tuple, Instance] = {}
        self.shown: dict[tuple, set[int]] = defaultdict(set)
        self.unmatched: dict[tuple, dict[int, list[Instance]]] = defaultdict(lambda: defaultdict(list))
        self.first: dict[tuple, int] = {}
        for instance in replay.instances:
            step = instance.step
            if step.loop is not None:
                self.loops[instance.key] = instance
            if step.action not in API_ACTIONS:
                continue
            number = replay.matched.get(instance.key)
            for depth, frame in enumerate(instance.frames):
                key = (frame.loop, instance.iterations[:depth])
                if number is not None:
                    self.shown[key].add(frame.number)
                    self.first[key] = min(self.first.get(key, number), number)
                elif not Normalizer.is_read_only(step.service, step.api):
                    self.unmatched[key][frame.number].append(instance)

    def element_of(self, key: tuple, event) -> str:
        """`` of logs-d``: the element a logged call was made for, where a step of the loop's body
        sends the loop's element whole in a member of that call."""
        for step in self.loops[key].step.loop.steps:
            if (step.service, step.api) != (event.call.service, event.call.operation):
                continue
            for keys, leaf in leaves(step.request):
                if leaf == ItemRef(key[0]):
                    sent = value_at(event.call.params, list(keys), ABSENT)
                    if sent is not ABSENT:
                        return f" of {element_text(sent)}"
        return ""

    def leftovers(self) -> dict[tuple, list[int]]:
        """Write calls no step made, of an operation a loop's body makes: iterations the loop's list
        is missing. Each goes to the loop of that operation that started last before it (else the
        first to start after it, else one that made nothing: an empty list)."""
        replay = self.replay
        by_operation: dict[tuple[str, str], list[tuple]] = defaultdict(list)
        for key in replay.walked:
            body = self.loops[key].step.loop.steps
            for operation in {(step.service, step.api) for step in body if step.action in API_ACTIONS}:
                by_operation[operation].append(key)
        found: dict[tuple, list[int]] = defaultdict(list)
        for number, event in enumerate(replay.calls):
            if number in replay.taken or event.read_only or number in replay.failures:
                continue
            keys = by_operation.get((event.call.service, event.call.operation))
            if not keys:
                continue
            before = [key for key in keys if self.first.get(key, number) < number]
            after = [key for key in keys if key in self.first and key not in before]
            if before:
                found[max(before, key=self.first.__getitem__)].append(number)
            else:
                found[min(after, key=self.first.__getitem__) if after else keys[0]].append(number)
        return found


def collapsed(problems: list[Problem]) -> list[Problem]:
    """Problems in loops once per step, place and kind: the first iteration's, saying in how many
    more iterations it recurs (a wrong literal in a loop's body is wrong in every iteration)."""
    first: dict[tuple, Problem] = {}
    again: dict[tuple, int] = defaultdict(int)
    kept = []
    for problem in problems:
        if not problem.iterations:
            kept.append(problem)
            continue
        key = (problem.kind, problem.step, problem.path)
        if key in first:
            again[key] += 1
            continue
        first[key] = problem
        kept.append(problem)
    for key, count in again.items():
        first[key].message += f" (and in {plural(count, 'more iteration')})"
    return kept
