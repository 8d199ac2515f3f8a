"""The replay of a runbook against one demonstration: each step, in each iteration of the loops
around it and in the arm each branch takes, matched to the call it makes.

Matching runs twice over the runbook in order. The first pass takes only calls whose request is
exactly the step's replayed one, so that a step that differs does not take the call another step
makes; the second matches what is left to the call that differs least. A loop step expands into
its iterations as the replay reaches it (its list is only known once the step that lists it is
matched); in a loop, iteration after iteration, each step takes the next call of its operation
the log shows: the iterations must reproduce the logged calls one for one and in order. A branch
step is followed by the arm its test chooses (``branches``); in the first pass a test on what is
not known yet (a step not matched, an input not shown) leaves both arms to the second.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import defaultdict

from pysynth import unlogged
from pysynth.botomodels import api_error_code
from pysynth.facts import runtime_values
from pysynth.demos import Demonstration
from pysynth.ingest.normalize import Normalizer
from pysynth.model import (
    GLOBALS, GlobalRef, IndexRef, InputRef, ItemRef, OutputRef, Runbook, Step, Template, used_values, walk,
)
from pysynth.paths import path_text
from pysynth.verify import batches, branches, checks, leftovers, loops
from pysynth.verify.inputs import InputValues
from pysynth.verify.instances import Frame, Instance, Scopes
from pysynth.verify.plan import moment_of
from pysynth.verify.problems import (
    API_ACTIONS, GLOBAL_VALUES, ITERATION_ORDER, MISSING_CALL, OMITTED_VALUE, SECRET_LITERAL,
    UNKNOWN_OUTPUT, VALUE_DIFFERS, Problem, Verdict,
)
from pysynth.verify.values import (
    ABSENT, REFERENCES, Finding, Unknown, created_ids, expected_request, output_value, record_ref,
    record_text, reference_text, references, same, text_of, value_key,
)


class Replay:
    """One demonstration's replay. ``inferred``: each input's value is the one the demonstration
    shows (``inputs``), not its default: it is one of several."""

    def __init__(self, runbook: Runbook, demonstration: Demonstration, inferred: bool = False):
        self.runbook = runbook
        self.name = demonstration.name
        # Failed calls a step may make (it expects their error) are calls too: a branch tests them.
        expected = {(step.service, step.api, code) for step in walk(runbook.steps) for code in step.expected_errors}
        outcomes = {id(event): code for event in demonstration.failed
                    if (event.call.service, event.call.operation,
                        code := api_error_code(event.call.service, event.error_code or "")) in expected}
        failed = [event for event in demonstration.failed if id(event) in outcomes]
        calls = list(heapq.merge(demonstration.kept, demonstration.reads, failed, key=lambda event: event.epoch))
        self.calls = calls
        # Failed call -> its error code as the API spells it (CloudTrail writes NoSuchEntityException).
        self.failures = {number: outcomes[id(event)] for number, event in enumerate(calls) if id(event) in outcomes}
        self.inputs = {item.name: item for item in runbook.inputs}
        self.input_values = InputValues(runbook, inferred)
        self.scopes = Scopes(runbook.steps)
        runtime = runtime_values(calls)
        self.globals = {name: runtime.get(GLOBAL_VALUES[name]) for name in GLOBALS}
        self.expected, self.hidden = [], []
        for event in calls:
            expected, hidden = unlogged.complete(
                event.call.service, event.call.operation, expected_request(event), event.call.hidden)
            self.expected.append(expected)
            self.hidden.append(set(hidden))
        self.by_operation: dict[tuple[str, str], list[int]] = defaultdict(list)
        # Calls by their whole request, so that a step whose replayed request is exactly a call's
        # finds it at once: scanning every call of the operation per step is quadratic.
        self.by_request: dict[str, list[int]] = defaultdict(list)
        for number, event in enumerate(calls):
            self.by_operation[(event.call.service, event.call.operation)].append(number)
            if not self.hidden[number]:
                key = value_key([event.call.service, event.call.operation, self.expected[number]])
                self.by_request[key].append(number)
        # The moments of each operation's calls, in log order: where a loop's next call may be.
        self.moments = {operation: [moment_of(calls[number]) for number in numbers]
                        for operation, numbers in self.by_operation.items()}
        self.matched: dict[tuple, int] = {}  # instance key -> the call it makes
        self.key_of_call: dict[int, tuple] = {}
        self.batched: dict[tuple, list[int]] = {}  # a batch step's instance -> its further calls
        self.retries: dict[tuple, list[int]] = defaultdict(list)
        self.taken: set[int] = set()
        self.problems: list[Problem] = []
        self.bad_references: set[tuple[str, object]] = set()  # (step, reference) already reported
        self.literals_reported: set[tuple[str, str]] = set()  # (step, path) of created ids written as literals
        self.created = created_ids(calls, {value for value in self.globals.values() if value})
        self.instances: list[Instance] = []  # every instance, in the order the runbook runs them
        self.walked: dict[tuple, list] = {}  # a loop step's instance -> the elements it walks
        self.unwalked: list[tuple[Instance, Unknown]] = []  # loop instances whose list the log cannot give
        # The latest call each outermost loop's instances have made so far: the next iteration's
        # calls come after it.
        self.last_in_run: dict[str, int] = {}
        self._references: dict[int, list] = {}  # id of a step -> the references of what it uses
        self.bad_tests: set[str] = set()  # branch steps whose test is reported as wrong
        self.runbook_problems = 0  # how many of the problems are the runbook's own, found first
        self.undecided: list[tuple[Instance, Unknown]] = []  # branch instances the demonstration cannot decide
        self.arms: dict[str, list[tuple[str, str]]] = defaultdict(list)  # branch -> (demonstration, arm) per run

    def references(self, step: Step) -> list[tuple[str, object]]:
        """(path, reference) of each reference of what the step uses (``model.used_values``), found
        once for the step rather than for each of its instances and each call they are compared with."""
        found = self._references.get(id(step))
        if found is None:
            found = self._references[id(step)] = references(used_values(step))
        return found

    def run(self) -> Verdict:
        checks.check_runbook(self)
        # The runbook's own problems come first: every demonstration finds the same.
        self.runbook_problems = len(self.problems)
        for instance in self.expand(self.runbook.steps, ()):
            if instance.step.action in API_ACTIONS:
                self.match(instance, exact=True)
        self.last_in_run.clear()
        for instance in self.expand(self.runbook.steps, (), final=True):
            self.instances.append(instance)
            if instance.step.action in API_ACTIONS:
                self.match(instance, exact=False)
        leftovers.cover_retries(self)
        accounted = loops.account(self)
        branches.account(self)
        for instance in self.instances:
            # A read or wait the log does not show changes nothing: only what it feeds is checked.
            step = instance.step
            if (step.action in API_ACTIONS and instance.key not in self.matched and instance.key not in accounted
                    and not Normalizer.is_read_only(step.service, step.api)):
                leftovers.match_other_operation(self, instance)
        for instance in self.instances:
            if instance.key in self.matched:
                checks.check_step(self, instance)
        for number, event in enumerate(self.calls):
            if number not in self.taken and not event.read_only and number not in self.failures:
                self.problems.append(Problem(
                    MISSING_CALL,
                    f"{record_text(event)}: {event.call.service} {event.call.operation}"
                    f"{f' (event {event.event_id})' if event.event_id else ''} is made by no step",
                    record=record_ref(event),
                ))
        return self.verdict()

    # -- loops ----------------------------------------------------------------------------------

    def expand(self, steps: list[Step], frames: tuple[Frame, ...], final: bool = False):
        """Every instance of ``steps`` in the order the runbook runs them, each loop step followed by
        its body once per element of its list, each branch step by the arm its test chooses. The
        generator is consumed one instance at a time, each matched before the next is made: a loop's
        list and a branch's test come from calls matched before them."""
        for step in steps:
            instance = Instance(step, frames)
            yield instance
            if step.branch is not None:
                yield from self.expand(branches.chosen_arm(self, instance, final) or [], frames, final)
            if step.loop is None:
                continue
            elements = self.elements(instance)
            if isinstance(elements, Unknown):
                if final:
                    self.unwalked.append((instance, elements))
                continue
            if final:
                self.walked[instance.key] = elements
            for number, element in enumerate(elements, start=1):
                yield from self.expand(step.loop.steps, frames + (Frame(step.name, number, element),), final)

    def elements(self, instance: Instance) -> list | Unknown:
        """The list a loop step's instance walks: its list of values, each resolved as a request's
        values are (an input's value, the matched producing call's response…), its input's value
        (``inputs``), or the list output in the logged response of the call its step made."""
        over = instance.step.loop.over
        if isinstance(over, list):
            return self.listed(instance, over)
        if (instance.step.name, over) in self.bad_references:
            return Unknown("reported", reported=True)
        if isinstance(over, InputRef):
            return self.input_values.walked(self, instance)
        number = self.matched.get(self.scopes.producer_key(instance, over.step))
        if number is None:
            return Unknown(f"step {over.step} reproduces no record")
        event = self.calls[number]
        if event.call.response is None:
            return Unknown(f"{record_text(event)} ({event.call.operation}) has no response in the log: CloudTrail logs "
                           f"none for reads; record the session with `pysynth record`, or walk an input list whose "
                           f"default is the demonstrated values")
        output = next(item for item in self.scopes.steps[over.step].outputs if item.name == over.output)
        value = output_value(event.call.response, output)
        if not isinstance(value, list):
            return Unknown(f"the response of {record_text(event)} has no list at {output.path}")
        return value

    def listed(self, instance: Instance, values: list) -> list | Unknown:
        """A loop's list of values, each as text (an element of a StringList); Unknown naming the
        first element that has no value."""
        elements = []
        for number, value in enumerate(values, start=1):
            element = self.resolve(instance, value) if isinstance(value, (*REFERENCES, Template)) else value
            if isinstance(element, Unknown):
                if element.reported:
                    return element
                return Unknown(f"its element {number}, {reference_text(value)}, has no value: {element.why}")
            elements.append(text_of(element))
        return elements

    # -- resolving references -------------------------------------------------------------------

    def resolve(self, instance: Instance, leaf: object) -> object:
        """The value of a reference or template in ``instance``'s request during the replay."""
        step = instance.step
        if (step.name, leaf) in self.bad_references:
            return Unknown("reported", reported=True)
        if isinstance(leaf, Template):
            texts = []
            for part in leaf.parts:
                value = part if isinstance(part, str) else self.resolve(instance, part)
                if isinstance(value, Unknown):
                    return value
                texts.append(text_of(value))
            return "".join(texts)
        if isinstance(leaf, InputRef):
            return self.input_values.value(leaf.name)
        if isinstance(leaf, GlobalRef):
            value = self.globals[leaf.name]
            return value if value is not None else Unknown(f"the log does not show the {GLOBAL_VALUES[leaf.name]}")
        if isinstance(leaf, (ItemRef, IndexRef)):
            frame = next(frame for frame in instance.frames if frame.loop == leaf.loop)
            return frame.element if isinstance(leaf, ItemRef) else frame.number
        number = self.matched.get(self.scopes.producer_key(instance, leaf.step))
        if number is None:
            return Unknown(f"step {leaf.step} reproduces no record")
        output = next(item for item in self.scopes.steps[leaf.step].outputs if item.name == leaf.output)
        event = self.calls[number]
        value = output_value(event.call.response, output) if event.call.response is not None else ABSENT
        if value is ABSENT:
            self.bad_references.add((step.name, leaf))
            if number in self.failures:
                what = f"step {leaf.step} failed with {self.failures[number]} there ({record_text(event)}): its outputs are unset"
            elif event.call.response is None:
                what = f"{record_text(event)} has no response in the log"
            else:
                what = f"the response of {record_text(event)} has nothing at {output.path}"
            self.problems.append(Problem(
                UNKNOWN_OUTPUT, f"{instance.text} uses {reference_text(leaf)}, but {what}",
                step=step.name, record=record_ref(event), iterations=instance.iterations,
            ))
            return Unknown("reported", reported=True)
        return value

    def concrete(self, instance: Instance, node: object) -> object:
        """``node`` with every reference replaced by its replayed value (an Unknown if any has none)."""
        if isinstance(node, (*REFERENCES, Template)):
            return self.resolve(instance, node)
        if isinstance(node, dict):
            items = {key: self.concrete(instance, item) for key, item in node.items()}
            unknown = next((item for item in items.values() if isinstance(item, Unknown)), None)
            return unknown or items
        if isinstance(node, list):
            items = [self.concrete(instance, item) for item in node]
            return next((item for item in items if isinstance(item, Unknown)), items)
        return node

    # -- comparing a request with a call --------------------------------------------------------

    def compare(self, instance: Instance, node: object, expected: object, keys: tuple, hidden: set[str],
                source=None):
        """Findings where ``node`` (a request tree of ``instance``'s step) differs from ``expected``."""
        # Most calls hide nothing: a path is written out only to look it up there, or for a finding.
        if hidden and (path := path_text(keys)) in hidden:
            if source is None and isinstance(node, InputRef) and node.name in self.inputs:
                item = self.inputs[node.name]
                if item.secret or item.default is None:
                    return  # a secret: the person running the runbook gives it (its default is checked apart)
            if not isinstance(node, REFERENCES) or (instance.step.name, node) not in self.bad_references:
                yield Finding(SECRET_LITERAL, path, expected, node, source)
            return
        if isinstance(node, (*REFERENCES, Template)):
            value = self.resolve(instance, node)
            if isinstance(value, Unknown):
                if not value.reported:
                    yield Finding(VALUE_DIFFERS, path_text(keys), expected, value, node)
                return
            node, source = value, node
        if isinstance(node, dict) and isinstance(expected, dict):
            for key in dict.fromkeys([*expected, *node]):
                child, wanted = node.get(key, ABSENT), expected.get(key, ABSENT)
                if child is ABSENT and hidden and path_text(keys + (key,)) in hidden:
                    yield Finding(OMITTED_VALUE, path_text(keys + (key,)), wanted, child, source)
                elif child is ABSENT or wanted is ABSENT:
                    yield Finding(VALUE_DIFFERS, path_text(keys + (key,)), wanted, child, source)
                else:
                    yield from self.compare(instance, child, wanted, keys + (key,), hidden, source)
        elif isinstance(node, list) and isinstance(expected, list) and len(node) == len(expected):
            for index, (child, wanted) in enumerate(zip(node, expected)):
                yield from self.compare(instance, child, wanted, keys + (index,), hidden, source)
        elif not same(node, expected):
            yield Finding(VALUE_DIFFERS, path_text(keys), expected, node, source)

    def findings(self, instance: Instance, number: int) -> list[Finding]:
        found = self.compare(instance, instance.step.request, self.expected[number], (), self.hidden[number])
        member = instance.step.batch
        if member is None:
            return list(found)
        # A batch step's list is checked against all its calls together (``batches``), not against one.
        return [finding for finding in found if not batches.in_member(finding.path, member)]

    # -- matching steps to calls ----------------------------------------------------------------

    def producers_before(self, instance: Instance, number: int) -> bool:
        """Whether every step whose output ``instance`` uses made its call no later than the second
        of call ``number`` (CloudTrail's order within one second is arbitrary)."""
        for _, reference in self.references(instance.step):
            producer = (self.matched.get(self.scopes.producer_key(instance, reference.step))
                        if isinstance(reference, OutputRef) else None)
            if producer is not None and moment_of(self.calls[producer]) > moment_of(self.calls[number]):
                return False
        return True

    def in_order(self, instance: Instance, number: int) -> bool:
        """Whether call ``number`` may be ``instance``'s: in a loop, no earlier than the calls of the
        iterations before it (within one second, CloudTrail's order is arbitrary)."""
        last = self.last_in_run.get(instance.frames[0].loop) if instance.frames else None
        return last is None or moment_of(self.calls[number]) >= moment_of(self.calls[last])

    def may_make(self, instance: Instance, number: int) -> bool:
        """Whether call ``number`` may be ``instance``'s: a failed call only for a step that expects its error."""
        return number not in self.failures or self.failures[number] in instance.step.expected_errors

    def free(self, instance: Instance, number: int) -> bool:
        """Whether call ``number``, taken by no step yet, may be ``instance``'s, there in the log."""
        return number not in self.taken and self.may_make(instance, number) and self.in_order(instance, number)

    def match(self, instance: Instance, exact: bool) -> None:
        if instance.key in self.matched:
            self.follow(instance, self.matched[instance.key])
            return
        if instance.step.batch is not None and batches.match(self, instance, exact):
            return
        number = self.identical_call(instance)
        if number is not None:
            self.assign(instance, number)
            return
        if not exact and instance.frames:
            self.match_next(instance)
            return
        best = None
        step = instance.step
        for number in self.by_operation.get((step.service, step.api), ()):
            if not self.free(instance, number):
                continue
            found = self.findings(instance, number)
            if exact and any(finding.kind in (VALUE_DIFFERS, OMITTED_VALUE) for finding in found):
                continue
            score = (sum(finding.concrete for finding in found), not self.producers_before(instance, number), number)
            if best is None or score < best:
                best = score
        if best is not None:
            self.assign(instance, best[2])

    def identical_calls(self, instance: Instance) -> list[int]:
        """The free calls whose request is exactly the instance's replayed one, made after the calls
        of the steps it reads from."""
        step = instance.step
        request = self.concrete(instance, step.request)
        if isinstance(request, Unknown):
            return []
        key = value_key([step.service, step.api, request])
        return [number for number in self.by_request.get(key, ())
                if number not in self.taken and self.may_make(instance, number) and self.producers_before(instance, number)]

    def identical_call(self, instance: Instance) -> int | None:
        free = [number for number in self.identical_calls(instance) if self.in_order(instance, number)]
        if free and self.calls[free[0]].read_only and not instance.frames:
            # Identical reads (a poll series) are one and the same to a read or wait step: the one it
            # names, else the last; but a read whose failure a branch tests is the first, before the
            # branch's steps (a later one checks their work).
            claimed = {(record.file, record.index) for record in instance.step.records}
            return next((number for number in free if (self.calls[number].file, self.calls[number].index) in claimed),
                        free[0] if instance.step.expected_errors else free[-1])
        return free[0] if free else None

    def match_next(self, instance: Instance) -> None:
        """An instance in a loop that no identical call matched: the next call of its operation the
        log shows after the iterations before it, to be compared value by value. When there is
        none, but an identical call came earlier, the log made the iterations in another order."""
        step = instance.step
        operation = (step.service, step.api)
        numbers = self.by_operation.get(operation, ())
        last = self.last_in_run.get(instance.frames[0].loop)
        start = 0 if last is None else bisect_left(self.moments[operation], moment_of(self.calls[last]))
        number = next((number for number in numbers[start:]
                       if number not in self.taken and self.may_make(instance, number)), None)
        if number is not None:
            self.assign(instance, number)
            return
        earlier = self.identical_calls(instance)
        if earlier:
            self.problems.append(Problem(
                ITERATION_ORDER,
                f"{instance.text}: the log made its call, {record_text(self.calls[earlier[0]])}, before "
                f"{record_text(self.calls[last])} of an earlier iteration: the list is not in the order of the log",
                step=step.name, record=record_ref(self.calls[earlier[0]]), iterations=instance.iterations,
            ))
            self.assign(instance, earlier[0])

    def assign(self, instance: Instance, number: int) -> None:
        self.matched[instance.key] = number
        self.key_of_call[number] = instance.key
        self.taken.add(number)
        self.follow(instance, number)
        self.unify(instance, number)

    def unify(self, instance: Instance, number: int) -> None:
        """The inputs the instance uses that the demonstration had not shown yet: as call ``number`` sent them."""
        self.input_values.unify(lambda reference: self.resolve(instance, reference), instance.step.request,
                                self.expected[number], self.hidden[number])

    def follow(self, instance: Instance, number: int) -> None:
        """The loop around ``instance`` has made call ``number``: its next calls come after it."""
        if instance.frames:
            run = instance.frames[0].loop
            last = self.last_in_run.get(run)
            self.last_in_run[run] = number if last is None else max(last, number)

    # -- the verdict ----------------------------------------------------------------------------

    def calls_of(self, instance: Instance) -> list[int]:
        """The calls an instance makes: its own (a batch step's several), and the retries it covers."""
        if instance.key not in self.matched:
            return []
        return [self.matched[instance.key], *self.batched.get(instance.key, ()), *self.retries[instance.key]]

    def verdict(self) -> Verdict:
        iterations: dict[str, list[int]] = defaultdict(list)
        first_walk: dict[str, tuple] = {}  # each loop step -> its first instance that walked a list
        for key, elements in self.walked.items():
            iterations[key[0]].append(len(elements))
            first_walk.setdefault(key[0], key)
        records: dict[str, list] = defaultdict(list)
        first: dict[str, list] = {}
        for instance in self.instances:
            made = [record_ref(self.calls[number]) for number in self.calls_of(instance)]
            records[instance.step.name] += made
            if instance.frames and instance.step.name not in first:
                first[instance.step.name] = made
            # Each loop around the instance made these calls too: the first time it ran, they are its.
            for depth, frame in enumerate(instance.frames):
                if first_walk.get(frame.loop) == (frame.loop, instance.iterations[:depth]):
                    first.setdefault(frame.loop, []).extend(made)
        matches = [(step.name, records.get(step.name, [])) for step in walk(self.runbook.steps)]
        return Verdict(matches, loops.collapsed(self.problems), first, dict(iterations), dict(self.arms))

