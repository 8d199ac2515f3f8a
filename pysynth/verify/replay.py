"""The replay of a runbook against a log: each step matched to the call it makes, and the problems
of each matched step."""

from __future__ import annotations

from collections import defaultdict


from pysynth import unlogged
from pysynth.botomodels import operation_model
from pysynth.facts import TOKEN, runtime_values
from pysynth.ingest.events import Event
from pysynth.render.shapes import shape_at
from pysynth.ingest.normalize import Normalizer
from pysynth.verify.plan import moment_of
from pysynth.model import GLOBALS, GlobalRef, InputRef, OutputRef, Runbook, Step, Template
from pysynth.paths import parse_path, path_text
from pysynth.verify.problems import (
    API_ACTIONS, EXTRA_STEP, GLOBAL_VALUES, LITERAL_CREATED_ID, MISSING_CALL, OMITTED_VALUE, OUTPUT_BEFORE_PRODUCER,
    READ_ONLY_ACTIONS, SECRET_LITERAL, UNKNOWN_INPUT, UNKNOWN_OUTPUT, UNSUPPORTED_ACTION, VALUE_DIFFERS,
    WRONG_OPERATION, Problem, Verdict,
)
from pysynth.verify.values import (
    ABSENT, Finding, Unknown, at_path, created_ids, expected_request, leaves, literal_texts, record_ref, record_text,
    reference_text, references, same, show, show_pair, text_of, unlogged_reason, value_key,
)

# --------------------------------------------------------------------------- the replay


class Replay:
    def __init__(self, runbook: Runbook, calls: list[Event]):
        self.runbook = runbook
        self.calls = calls
        self.inputs = {item.name: item for item in runbook.inputs}
        self.position = {step.name: number for number, step in enumerate(runbook.steps)}
        self.steps_by_name: dict[str, Step] = {}  # the first step of each name, as Runbook.step finds it
        for step in runbook.steps:
            self.steps_by_name.setdefault(step.name, step)
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
        self.matched: dict[str, int] = {}  # step name -> the call it makes
        self.retries: dict[str, list[int]] = defaultdict(list)
        self.taken: set[int] = set()
        self.problems: list[Problem] = []
        self.bad_references: set[tuple[str, object]] = set()  # (step, reference) already reported
        self.created = created_ids(calls, {value for value in self.globals.values() if value})

    def run(self) -> Verdict:
        api_steps = [step for step in self.runbook.steps if step.action in API_ACTIONS]
        self.check_inputs()
        for step in self.runbook.steps:
            self.check_action(step)
            self.check_references(step)
        # Exact matches first, so that a step that differs does not take the call another step makes.
        for step in api_steps:
            self.match(step, exact=True)
        for step in api_steps:
            if step.name not in self.matched:
                self.match(step, exact=False)
        self.cover_retries()
        for step in api_steps:
            # A read or wait the log does not show changes nothing: only what it feeds is checked.
            if step.name not in self.matched and not Normalizer.is_read_only(step.service, step.api):
                self.match_other_operation(step)
        for step in api_steps:
            if step.name in self.matched:
                self.check_step(step)
        for number, event in enumerate(self.calls):
            if number not in self.taken and not event.read_only:
                self.problems.append(Problem(
                    MISSING_CALL,
                    f"{record_text(event)}: {event.call.service} {event.call.operation}"
                    f"{f' (event {event.event_id})' if event.event_id else ''} is made by no step",
                    record=record_ref(event),
                ))
        matches = []
        for step in self.runbook.steps:
            numbers = [self.matched[step.name], *self.retries[step.name]] if step.name in self.matched else []
            matches.append((step.name, [record_ref(self.calls[number]) for number in numbers]))
        return Verdict(matches, self.problems)

    # -- what the runbook says on its own -------------------------------------------------------

    def check_inputs(self) -> None:
        for item in self.runbook.inputs:
            if item.secret and item.default is not None:
                self.problems.append(Problem(
                    SECRET_LITERAL,
                    f"input {item.name} is secret but has a default: a secret is given when the runbook "
                    f"starts and never written into it",
                ))

    def check_action(self, step: Step) -> None:
        if step.action not in API_ACTIONS and step.action not in READ_ONLY_ACTIONS:
            self.problems.append(Problem(
                UNSUPPORTED_ACTION,
                f"step {step.name}: action {step.action} cannot be checked against a log",
                step=step.name,
            ))

    def check_references(self, step: Step) -> None:
        if step.action not in API_ACTIONS:
            return
        for path, reference in references(step.request):
            where = f"step {step.name} {path}"
            problem = None
            if isinstance(reference, InputRef) and reference.name not in self.inputs:
                problem = (UNKNOWN_INPUT, f"{where}: {reference_text(reference)} names no input of the runbook")
            elif isinstance(reference, GlobalRef) and reference.name not in GLOBALS:
                problem = (UNKNOWN_INPUT, f"{where}: {reference_text(reference)} is no runtime value "
                                          f"({', '.join(GLOBALS)})")
            elif isinstance(reference, OutputRef):
                producer = self.position.get(reference.step)
                if producer is None or producer >= self.position[step.name]:
                    when = "there is no such step" if producer is None else f"step {reference.step} runs later"
                    problem = (OUTPUT_BEFORE_PRODUCER, f"{where} uses {reference_text(reference)}, but {when}")
                elif reference.output not in {o.name for o in self.runbook.steps[producer].outputs}:
                    problem = (UNKNOWN_OUTPUT, f"{where} uses {reference_text(reference)}, but step "
                                               f"{reference.step} declares no output {reference.output}")
            if problem and (step.name, reference) not in self.bad_references:
                self.bad_references.add((step.name, reference))
                self.problems.append(Problem(problem[0], problem[1], step=step.name, path=path))

    # -- resolving references -------------------------------------------------------------------

    def resolve(self, step: Step, leaf: object) -> object:
        """The value of a reference or template in ``step``'s request during the replay."""
        if (step.name, leaf) in self.bad_references:
            return Unknown("reported", reported=True)
        if isinstance(leaf, Template):
            texts = []
            for part in leaf.parts:
                value = part if isinstance(part, str) else self.resolve(step, part)
                if isinstance(value, Unknown):
                    return value
                texts.append(text_of(value))
            return "".join(texts)
        if isinstance(leaf, InputRef):
            item = self.inputs[leaf.name]
            if item.default is None:
                return Unknown(f"input {leaf.name} is secret" if item.secret else f"input {leaf.name} has no default")
            return item.default
        if isinstance(leaf, GlobalRef):
            value = self.globals[leaf.name]
            return value if value is not None else Unknown(f"the log does not show the {GLOBAL_VALUES[leaf.name]}")
        producer = self.steps_by_name[leaf.step]
        number = self.matched.get(producer.name)
        if number is None:
            return Unknown(f"step {producer.name} reproduces no record")
        output = next(item for item in producer.outputs if item.name == leaf.output)
        value = at_path(self.calls[number].call.response, output.path)
        if value is ABSENT:
            self.bad_references.add((step.name, leaf))
            self.problems.append(Problem(
                UNKNOWN_OUTPUT,
                f"step {step.name} uses {reference_text(leaf)}, but the response of "
                f"{record_text(self.calls[number])} has nothing at {output.path}",
                step=step.name, record=record_ref(self.calls[number]),
            ))
            return Unknown("reported", reported=True)
        return value

    # -- comparing a request with a call --------------------------------------------------------

    def compare(self, step: Step, node: object, expected: object, keys: tuple, hidden: set[str], source=None):
        """Findings where ``node`` (a request tree of ``step``) differs from ``expected``."""
        path = path_text(keys)
        if path in hidden:
            if source is None and isinstance(node, InputRef) and node.name in self.inputs:
                item = self.inputs[node.name]
                if item.secret or item.default is None:
                    return  # a secret: the person running the runbook gives it (its default is checked apart)
            if not isinstance(node, (InputRef, OutputRef, GlobalRef)) or (step.name, node) not in self.bad_references:
                yield Finding(SECRET_LITERAL, path, expected, node, source)
            return
        if isinstance(node, (InputRef, OutputRef, GlobalRef, Template)):
            value = self.resolve(step, node)
            if isinstance(value, Unknown):
                if not value.reported:
                    yield Finding(VALUE_DIFFERS, path, expected, value, node)
                return
            node, source = value, node
        if isinstance(node, dict) and isinstance(expected, dict):
            for key in dict.fromkeys([*expected, *node]):
                child, wanted = node.get(key, ABSENT), expected.get(key, ABSENT)
                if child is ABSENT and path_text(keys + (key,)) in hidden:
                    yield Finding(OMITTED_VALUE, path_text(keys + (key,)), wanted, child, source)
                elif child is ABSENT or wanted is ABSENT:
                    yield Finding(VALUE_DIFFERS, path_text(keys + (key,)), wanted, child, source)
                else:
                    yield from self.compare(step, child, wanted, keys + (key,), hidden, source)
        elif isinstance(node, list) and isinstance(expected, list) and len(node) == len(expected):
            for index, (child, wanted) in enumerate(zip(node, expected)):
                yield from self.compare(step, child, wanted, keys + (index,), hidden, source)
        elif not same(node, expected):
            yield Finding(VALUE_DIFFERS, path, expected, node, source)

    def findings(self, step: Step, number: int) -> list[Finding]:
        return list(self.compare(step, step.request, self.expected[number], (), self.hidden[number]))

    # -- matching steps to calls ----------------------------------------------------------------

    def producers_before(self, step: Step, number: int) -> bool:
        """Whether every step whose output ``step`` uses made its call no later than the second of
        call ``number`` (CloudTrail's order within one second is arbitrary)."""
        for _, reference in references(step.request):
            producer = self.matched.get(reference.step) if isinstance(reference, OutputRef) else None
            if producer is not None and moment_of(self.calls[producer]) > moment_of(self.calls[number]):
                return False
        return True

    def match(self, step: Step, exact: bool) -> None:
        if exact:
            number = self.identical_call(step)
            if number is not None:
                self.assign(step, number)
                return
        best = None
        for number in self.by_operation.get((step.service, step.api), ()):
            if number in self.taken:
                continue
            found = self.findings(step, number)
            if exact and any(finding.kind in (VALUE_DIFFERS, OMITTED_VALUE) for finding in found):
                continue
            score = (sum(finding.concrete for finding in found), not self.producers_before(step, number), number)
            if best is None or score < best:
                best = score
        if best is not None:
            self.assign(step, best[2])

    def identical_call(self, step: Step) -> int | None:
        """The first free call whose request is exactly the step's replayed one, made after the
        calls of the steps it reads from."""
        request = self.concrete(step, step.request)
        if isinstance(request, Unknown):
            return None
        key = value_key([step.service, step.api, request])
        free = [number for number in self.by_request.get(key, ())
                if number not in self.taken and self.producers_before(step, number)]
        if free and self.calls[free[0]].read_only:
            # Identical reads (a poll series) are one and the same to a read or wait step: the one it
            # names, else the last.
            claimed = {(record.file, record.index) for record in step.records}
            return next((number for number in free if (self.calls[number].file, self.calls[number].index) in claimed),
                        free[-1])
        return free[0] if free else None

    def concrete(self, step: Step, node: object) -> object:
        """``node`` with every reference replaced by its replayed value (an Unknown if any has none)."""
        if isinstance(node, (InputRef, OutputRef, GlobalRef, Template)):
            return self.resolve(step, node)
        if isinstance(node, dict):
            items = {key: self.concrete(step, item) for key, item in node.items()}
            unknown = next((item for item in items.values() if isinstance(item, Unknown)), None)
            return unknown or items
        if isinstance(node, list):
            items = [self.concrete(step, item) for item in node]
            return next((item for item in items if isinstance(item, Unknown)), items)
        return node

    def assign(self, step: Step, number: int) -> None:
        self.matched[step.name] = number
        self.taken.add(number)

    def cover_retries(self) -> None:
        """A call that repeats a matched call exactly, with no call in between using one of its
        values, is that call retried: the same step covers it."""
        step_of = {number: name for name, number in self.matched.items()}
        last_of_request: dict[str, int] = {}
        for number, event in enumerate(self.calls):
            if event.read_only:
                continue
            call = event.call
            key = value_key([call.service, call.operation, call.params])
            earlier = last_of_request.get(key)
            last_of_request[key] = number
            if number in self.taken or earlier not in step_of:
                continue
            same_response = not call.response or call.response == self.calls[earlier].call.response
            values = self.request_values(number)
            untouched = not any(values & self.request_values(between) for between in range(earlier + 1, number))
            if same_response and untouched:
                step_of[number] = step_of[earlier]
                self.retries[step_of[earlier]].append(number)
                self.taken.add(number)

    def request_values(self, number: int) -> set[str]:
        """The values a call's request shows (a hidden placeholder shows nothing)."""
        hidden = self.hidden[number]
        return {value_key(leaf) for keys, leaf in leaves(self.expected[number]) if path_text(keys) not in hidden}

    def match_other_operation(self, step: Step) -> None:
        """A step of an operation the log never made: the same service's left-over call that
        shares the most top-level values stands for it (wrong-operation); else it is extra."""
        best = None
        for number, event in enumerate(self.calls):
            if number in self.taken or event.call.service != step.service:
                continue
            expected, hidden = self.expected[number], self.hidden[number]
            shared = sum(
                key in expected and not any(
                    finding.kind == VALUE_DIFFERS for finding in self.compare(step, value, expected[key], (key,), hidden)
                )
                for key, value in step.request.items()
            )
            if shared and (best is None or shared > best[0]):
                best = (shared, number)
        if best is None:
            self.problems.append(Problem(
                EXTRA_STEP, f"step {step.name}: the log has no {step.service} {step.api} call it reproduces",
                step=step.name,
            ))
            return
        event = self.calls[best[1]]
        self.taken.add(best[1])
        self.problems.append(Problem(
            WRONG_OPERATION,
            f"step {step.name} calls {step.service} {step.api}, but {record_text(event)} made "
            f"{event.call.service} {event.call.operation}",
            step=step.name, record=record_ref(event),
        ))

    # -- a matched step -------------------------------------------------------------------------

    def check_step(self, step: Step) -> None:
        number = self.matched[step.name]
        event = self.calls[number]
        for finding in self.findings(step, number):
            self.problems.append(self.finding_problem(step, number, finding))
        for path, reference in references(step.request):
            producer_number = self.matched.get(reference.step) if isinstance(reference, OutputRef) else None
            if producer_number is not None and moment_of(self.calls[producer_number]) > moment_of(event):
                producer = self.calls[producer_number]
                self.problems.append(Problem(
                    OUTPUT_BEFORE_PRODUCER,
                    f"step {step.name} {path} uses {reference_text(reference)}, but the log made "
                    f"{record_text(event)} before {record_text(producer)}",
                    step=step.name, record=record_ref(event), path=path,
                ))
        self.check_literals(step, number)

    def finding_problem(self, step: Step, number: int, finding: Finding) -> Problem:
        event = self.calls[number]
        where = f"step {step.name} {finding.path or '(request)'}"
        record = record_ref(event)
        if finding.kind == OMITTED_VALUE:
            return Problem(
                OMITTED_VALUE,
                f"{where}: {record_text(event)} sent a value here that the log does not show "
                f"({unlogged_reason(event, finding.path)}); the runbook leaves it out, so it would not do "
                f"what the log did: give it through a secret input (a file input for binary data)",
                step=step.name, record=record, path=finding.path,
            )
        if finding.kind == SECRET_LITERAL:
            # The message never shows the value: it may be the secret itself.
            if finding.source is not None:
                given = f"a value of {reference_text(finding.source)}"
            elif isinstance(finding.found, InputRef):
                given = f"input {finding.found.name}, which has a default"
            elif isinstance(finding.found, (OutputRef, GlobalRef)):
                given = reference_text(finding.found)
            else:
                given = "a template" if isinstance(finding.found, Template) else "a literal"
            return Problem(
                SECRET_LITERAL,
                f"{where}: {record_text(event)} hides this value, so only a secret input may give it, "
                f"not {given}",
                step=step.name, record=record, path=finding.path,
            )
        if isinstance(finding.found, Unknown):
            found = f"{reference_text(finding.source)}, which has no value ({finding.found.why})"
            expected = show(finding.expected)
        else:
            expected, found = show_pair(finding.expected, finding.found)
            if finding.source is not None:
                found = f"{found} (from {reference_text(finding.source)})"
        if finding.expected is not ABSENT and finding.path in self.hidden[number]:
            expected = "a hidden value"
        return Problem(
            VALUE_DIFFERS,
            f"{where}: {record_text(event)} has {expected}, the runbook gives {found}",
            step=step.name, record=record, path=finding.path, expected=finding.expected,
            found=finding.source if isinstance(finding.found, Unknown) else finding.found,
        )

    def check_literals(self, step: Step, number: int) -> None:
        """Literals that are ids an earlier call created, whole or inside a longer text."""
        hidden = self.hidden[number]
        reported: set[str] = set()
        request_shape = operation_model(step.service, step.api).input_shape
        for path, text in literal_texts(step.request):
            if path in hidden or path in reported:
                continue
            shape = shape_at(request_shape, parse_path(path) or [])
            if shape is not None and text in (shape.enum or ()):
                continue  # an enum value a response showed first (an architecture) was not created
            candidates = [text] + [token.group() for token in TOKEN.finditer(text)]
            value = next((item for item in candidates if self.created.get(item, number) < number), None)
            if value is None:
                continue
            reported.add(path)
            producer = self.created[value]
            self.problems.append(Problem(
                LITERAL_CREATED_ID,
                f"step {step.name} {path or '(request)'}: {show(value)} is written as a literal, but "
                f"{record_text(self.calls[producer])} ({self.calls[producer].call.operation}) created it; "
                f"{self.suggestion(producer, value)}",
                step=step.name, record=record_ref(self.calls[producer]), path=path, found=value,
            ))

    def suggestion(self, producer: int, value: str) -> str:
        step_name = next((name for name, number in self.matched.items() if number == producer), None)
        if step_name is None:
            return "no step makes that call"
        step = self.steps_by_name[step_name]
        for output in step.outputs:
            if at_path(self.calls[producer].call.response, output.path) == value:
                return f"use {reference_text(OutputRef(step.name, output.name))}"
        return f"declare an output of step {step.name} that selects it and use that"
