"""Certify that a runbook reproduces a log, from the runbook and the log alone.

No solver state is used, so hand edits are caught as surely as synthesis mistakes. The runbook is
replayed symbolically: inputs take their defaults; a step output takes the value at its path in the
response of the record its step reproduces; ``global:`` values are the session's account id,
region and partition. Each ``aws:executeAwsApi`` step is then matched to a kept call of the log with
the same service, operation and request (the call's parameters without the idempotency tokens
botocore makes afresh; a value the log hides is matched by a secret input and nothing else).

Every problem is reported once, with one line that says what to fix (``Problem.kind`` below).
A call that repeats its step's call exactly, with no call in between using any of its values,
is a retry: the same step covers it (``pysynth.facts`` merges retries by the same rule).
"""

from __future__ import annotations

import heapq
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from rich.table import Table

from pysynth import collector, unlogged
from pysynth.botomodels import operation_model
from pysynth.facts import MIN_EMBEDDED_LENGTH, TOKEN, runtime_values
from pysynth.ingest.events import Event
from pysynth.render.shapes import shape_at
from pysynth.ingest.normalize import Normalizer
from pysynth.verify_plan import moment_of, plan_problems
from pysynth.model import EXECUTE_AWS_API, GLOBALS, WAIT_FOR_PROPERTY, GlobalRef, InputRef, OutputRef, RecordRef, Runbook, Step, Template
from pysynth.paths import parse_path, path_text, value_at

# Problem kinds.
MISSING_CALL = "missing-call"  # a kept call that no step makes
EXTRA_STEP = "extra-step"  # a step that makes a call the log never made
WRONG_OPERATION = "wrong-operation"  # a step that makes another operation than the call it stands for
VALUE_DIFFERS = "value-differs"  # a request value other than the logged one
LITERAL_CREATED_ID = "literal-created-id"  # a value an earlier call created, written as a literal
OUTPUT_BEFORE_PRODUCER = "output-before-producer"  # an output used before (or without) its step
SECRET_LITERAL = "secret-literal"  # a value the log hides, written into the runbook
OMITTED_VALUE = "omitted-value"  # a value the call needed that the log hides or never logs, left out
UNKNOWN_OUTPUT = "unknown-output"  # an output the step does not declare, or its response lacks
UNKNOWN_INPUT = "unknown-input"  # an input the runbook does not declare, or an unknown global
UNSUPPORTED_ACTION = "unsupported-action"  # a step action a log cannot vouch for (branches, loops…)
RECORDS_DIFFER = "records-differ"  # check_synthesized: a step claims other records than it reproduces

# Actions that make an API call a log record can vouch for (a wait repeats a read the log shows).
API_ACTIONS = (EXECUTE_AWS_API, WAIT_FOR_PROPERTY)
# Actions that only read and that no log record stands for.
READ_ONLY_ACTIONS = {"aws:assertAwsResourceProperty", "aws:sleep"}
GLOBAL_VALUES = {"ACCOUNT_ID": "account_id", "REGION": "region", "AWS_PARTITION": "partition"}
MESSAGE_VALUE_LENGTH = 120
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(slots=True)
class Problem:
    """Why a runbook is not certified. ``message`` is one line; the other fields locate it."""

    kind: str
    message: str
    step: str | None = None
    record: RecordRef | None = None
    path: str | None = None
    expected: object = None
    found: object = None

    def __post_init__(self) -> None:
        # Step names and map keys come from the runbook and may hold line breaks: escape them.
        self.message = LINE_BREAKS.sub(lambda match: json.dumps(match.group())[1:-1], self.message)


@dataclass(slots=True)
class Verdict:
    """Each step with the records it reproduces (in runbook order), and the problems found."""

    matches: list[tuple[str, list[RecordRef]]]
    problems: list[Problem]

    @property
    def certified(self) -> bool:
        return not self.problems


def verify(runbook: Runbook, calls: list[Event], reads: list[Event] = (), failed: list[Event] = (),
           *, require_waits: bool = True, require_retries: bool = True) -> Verdict:
    """Check ``runbook`` against the kept calls of a log, in log order. ``reads`` (successful read
    calls) are what read and wait steps may make and the evidence of polling; ``failed`` (failed
    calls) the evidence of retries. ``require_waits``/``require_retries``: a missing wait or retry
    where the log shows polling or failures is a problem."""
    with collector.paused():
        replay = _Replay(runbook, list(heapq.merge(calls, reads, key=lambda event: event.epoch)))
        verdict = replay.run()
        verdict.problems += plan_problems(
            runbook, replay.calls, replay.matched, failed, require_waits=require_waits, require_retries=require_retries,
        )
    return verdict


def check_synthesized(runbook: Runbook, calls: list[Event], reads: list[Event] = (), failed: list[Event] = (),
                      *, require_waits: bool = True, require_retries: bool = True) -> Verdict:
    """``verify``, and also that every step reproduces exactly the records it claims to (the
    records its description names)."""
    verdict = verify(runbook, calls, reads, failed, require_waits=require_waits, require_retries=require_retries)
    matched = dict(verdict.matches)
    for step in runbook.steps:
        claimed = [(record.file, record.index) for record in step.records]
        found = [(record.file, record.index) for record in matched.get(step.name, [])]
        if claimed != found:
            verdict.problems.append(Problem(
                RECORDS_DIFFER,
                f"step {step.name} claims to reproduce {_records_text(step.records)}, "
                f"but reproduces {_records_text(matched.get(step.name, []))}",
                step=step.name,
            ))
    return verdict


def matches_table(runbook: Runbook, verdict: Verdict) -> Table:
    table = Table(title="verified steps" if verdict.certified else "steps")
    for column in ("step", "call", "reproduces"):
        table.add_column(column)
    for (name, records), step in zip(verdict.matches, runbook.steps):
        call = f"{step.service} {step.api}" if step.action == EXECUTE_AWS_API else step.action
        table.add_row(name, call, "\n".join(_record_text(record) for record in records) or "no record")
    return table


# --------------------------------------------------------------------------- values


class _Absent:
    """No value at all: a member one side has and the other does not."""

    def __repr__(self) -> str:
        return "nothing"


ABSENT = _Absent()


@dataclass(frozen=True, slots=True)
class _Unknown:
    """A reference the replay cannot give a value. ``reported``: a problem already says why, so
    places that use it need no problem of their own."""

    why: str
    reported: bool = False


@dataclass(slots=True)
class _Finding:
    kind: str  # VALUE_DIFFERS or SECRET_LITERAL
    path: str
    expected: object
    found: object
    source: object = None  # the reference the found value came from

    @property
    def concrete(self) -> bool:
        """A difference in actual values, not a reference the replay could not resolve."""
        return self.kind == VALUE_DIFFERS and not isinstance(self.found, _Unknown)


def _same(found: object, expected: object) -> bool:
    if isinstance(expected, datetime) and isinstance(found, str):
        try:
            return datetime.fromisoformat(found.replace("Z", "+00:00")) == expected
        except ValueError:
            return False
    if isinstance(found, bool) or isinstance(expected, bool):
        return found is expected
    if isinstance(found, (int, float)) and isinstance(expected, (int, float)):
        return found == expected
    return type(found) is type(expected) and found == expected


def _text_of(value: object) -> str:
    """A value as SSM puts it into a string: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, default=str)


def _show(value: object) -> str:
    if value is ABSENT:
        return "nothing"
    if isinstance(value, (InputRef, OutputRef, GlobalRef, Template)):
        return _reference_text(value)
    text = json.dumps(value, ensure_ascii=False, default=_shown_inside)
    return text if len(text) <= MESSAGE_VALUE_LENGTH else text[:MESSAGE_VALUE_LENGTH - 1] + "…"


def _shown_inside(value: object) -> str:
    """References and timestamps inside a list or map shown in a message."""
    return _reference_text(value) if isinstance(value, (InputRef, OutputRef, GlobalRef, Template)) else str(value)


def _show_pair(expected: object, found: object) -> tuple[str, str]:
    """Both values for a message; long texts from a little before where they first differ."""
    if isinstance(expected, str) and isinstance(found, str) and max(len(expected), len(found)) > MESSAGE_VALUE_LENGTH:
        start = next((i for i, (a, b) in enumerate(zip(expected, found)) if a != b), min(len(expected), len(found)))
        start = max(0, start - 20)
        return _show(("…" if start else "") + expected[start:]), _show(("…" if start else "") + found[start:])
    return _show(expected), _show(found)


def _reference_text(reference) -> str:
    if isinstance(reference, InputRef):
        return f"{{{{ {reference.name} }}}}"
    if isinstance(reference, OutputRef):
        return f"{{{{ {reference.step}.{reference.output} }}}}"
    if isinstance(reference, GlobalRef):
        return f"{{{{ global:{reference.name} }}}}"
    return json.dumps("".join(part if isinstance(part, str) else _reference_text(part) for part in reference.parts),
                      ensure_ascii=False)


def _leaves(value: object, keys: tuple = ()):
    """(keys, leaf) for every leaf of a tree of dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, keys + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, keys + (index,))
    else:
        yield keys, value


def _references(request: dict):
    """(path, reference) for every distinct reference of a request, in templates too."""
    found = []
    for keys, leaf in _leaves(request):
        parts = leaf.parts if isinstance(leaf, Template) else (leaf,)
        found += [(path_text(keys), part) for part in parts if isinstance(part, (InputRef, OutputRef, GlobalRef))]
    return list(dict.fromkeys(found))


def _literal_texts(request: dict):
    """(path, text) for every literal string of a request, template text included."""
    for keys, leaf in _leaves(request):
        parts = leaf.parts if isinstance(leaf, Template) else (leaf,)
        yield from ((path_text(keys), part) for part in parts if isinstance(part, str))


def _at_path(value: object, path: str) -> object:
    """The value at an output path (``Instances[0].InstanceId``), or ABSENT."""
    keys = parse_path(path)
    return ABSENT if keys is None else value_at(value, keys, ABSENT)


def _expected_request(event: Event) -> dict:
    """The call's parameters without the top-level idempotency tokens botocore fills in afresh.
    Only top-level members are left out and the replay never changes a request, so the nested
    values are the log's own, not copies."""
    request = dict(event.call.params)
    shape = operation_model(event.call.service, event.call.operation).input_shape
    for member, member_shape in (shape.members.items() if shape is not None else ()):
        if member_shape.metadata.get("idempotencyToken"):
            request.pop(member, None)
    return request


def _unlogged_reason(event: Event, path: str) -> str:
    if path in event.call.hidden:
        return "CloudTrail hid it"
    return f"CloudTrail never logs it, and {event.call.service} {event.call.operation} needs it"


def _record(event: Event) -> RecordRef:
    return RecordRef(file=event.file, index=event.index, event_id=event.event_id, time=event.time)


def _record_text(record: RecordRef | Event) -> str:
    return f"{record.file} record {record.index}" + (f" ({record.time})" if record.time else "")


def _records_text(records: list[RecordRef]) -> str:
    return ", ".join(f"{record.file} record {record.index}" for record in records) or "no record"


def _value_key(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _created_ids(calls: list[Event], runtime: set[str]) -> dict[str, int]:
    """Ids first seen in the response of a call, in no earlier request -> that call: what the call
    created. An id is text of six characters or more with a digit in it, or an ARN; the enums and
    flags of a response are plain words. The session's account id and region show up in responses
    too, but no call created them."""
    seen: set[str] = set()
    created: dict[str, int] = {}
    for number, event in enumerate(calls):
        if event.read_only:
            continue  # a read shows what existed; it creates nothing
        seen.update(value for _, value in _leaves(event.call.params) if isinstance(value, str))
        for _, value in _leaves(event.call.response or {}):
            if not isinstance(value, str) or value in seen:
                continue
            seen.add(value)
            if value not in runtime and _is_id(value):
                created[value] = number
    return created


def _is_id(text: str) -> bool:
    return text.startswith("arn:") or (len(text) >= MIN_EMBEDDED_LENGTH and any(char.isdigit() for char in text))


# --------------------------------------------------------------------------- the replay


class _Replay:
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
                event.call.service, event.call.operation, _expected_request(event), event.call.hidden)
            self.expected.append(expected)
            self.hidden.append(set(hidden))
        self.by_operation: dict[tuple[str, str], list[int]] = defaultdict(list)
        # Calls by their whole request, so that a step whose replayed request is exactly a call's
        # finds it at once: scanning every call of the operation per step is quadratic.
        self.by_request: dict[str, list[int]] = defaultdict(list)
        for number, event in enumerate(calls):
            self.by_operation[(event.call.service, event.call.operation)].append(number)
            if not self.hidden[number]:
                key = _value_key([event.call.service, event.call.operation, self.expected[number]])
                self.by_request[key].append(number)
        self.matched: dict[str, int] = {}  # step name -> the call it makes
        self.retries: dict[str, list[int]] = defaultdict(list)
        self.taken: set[int] = set()
        self.problems: list[Problem] = []
        self.bad_references: set[tuple[str, object]] = set()  # (step, reference) already reported
        self.created = _created_ids(calls, {value for value in self.globals.values() if value})

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
                    f"{_record_text(event)}: {event.call.service} {event.call.operation}"
                    f"{f' (event {event.event_id})' if event.event_id else ''} is made by no step",
                    record=_record(event),
                ))
        matches = []
        for step in self.runbook.steps:
            numbers = [self.matched[step.name], *self.retries[step.name]] if step.name in self.matched else []
            matches.append((step.name, [_record(self.calls[number]) for number in numbers]))
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
        for path, reference in _references(step.request):
            where = f"step {step.name} {path}"
            problem = None
            if isinstance(reference, InputRef) and reference.name not in self.inputs:
                problem = (UNKNOWN_INPUT, f"{where}: {_reference_text(reference)} names no input of the runbook")
            elif isinstance(reference, GlobalRef) and reference.name not in GLOBALS:
                problem = (UNKNOWN_INPUT, f"{where}: {_reference_text(reference)} is no runtime value "
                                          f"({', '.join(GLOBALS)})")
            elif isinstance(reference, OutputRef):
                producer = self.position.get(reference.step)
                if producer is None or producer >= self.position[step.name]:
                    when = "there is no such step" if producer is None else f"step {reference.step} runs later"
                    problem = (OUTPUT_BEFORE_PRODUCER, f"{where} uses {_reference_text(reference)}, but {when}")
                elif reference.output not in {o.name for o in self.runbook.steps[producer].outputs}:
                    problem = (UNKNOWN_OUTPUT, f"{where} uses {_reference_text(reference)}, but step "
                                               f"{reference.step} declares no output {reference.output}")
            if problem and (step.name, reference) not in self.bad_references:
                self.bad_references.add((step.name, reference))
                self.problems.append(Problem(problem[0], problem[1], step=step.name, path=path))

    # -- resolving references -------------------------------------------------------------------

    def resolve(self, step: Step, leaf: object) -> object:
        """The value of a reference or template in ``step``'s request during the replay."""
        if (step.name, leaf) in self.bad_references:
            return _Unknown("reported", reported=True)
        if isinstance(leaf, Template):
            texts = []
            for part in leaf.parts:
                value = part if isinstance(part, str) else self.resolve(step, part)
                if isinstance(value, _Unknown):
                    return value
                texts.append(_text_of(value))
            return "".join(texts)
        if isinstance(leaf, InputRef):
            item = self.inputs[leaf.name]
            if item.default is None:
                return _Unknown(f"input {leaf.name} is secret" if item.secret else f"input {leaf.name} has no default")
            return item.default
        if isinstance(leaf, GlobalRef):
            value = self.globals[leaf.name]
            return value if value is not None else _Unknown(f"the log does not show the {GLOBAL_VALUES[leaf.name]}")
        producer = self.steps_by_name[leaf.step]
        number = self.matched.get(producer.name)
        if number is None:
            return _Unknown(f"step {producer.name} reproduces no record")
        output = next(item for item in producer.outputs if item.name == leaf.output)
        value = _at_path(self.calls[number].call.response, output.path)
        if value is ABSENT:
            self.bad_references.add((step.name, leaf))
            self.problems.append(Problem(
                UNKNOWN_OUTPUT,
                f"step {step.name} uses {_reference_text(leaf)}, but the response of "
                f"{_record_text(self.calls[number])} has nothing at {output.path}",
                step=step.name, record=_record(self.calls[number]),
            ))
            return _Unknown("reported", reported=True)
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
                yield _Finding(SECRET_LITERAL, path, expected, node, source)
            return
        if isinstance(node, (InputRef, OutputRef, GlobalRef, Template)):
            value = self.resolve(step, node)
            if isinstance(value, _Unknown):
                if not value.reported:
                    yield _Finding(VALUE_DIFFERS, path, expected, value, node)
                return
            node, source = value, node
        if isinstance(node, dict) and isinstance(expected, dict):
            for key in dict.fromkeys([*expected, *node]):
                child, wanted = node.get(key, ABSENT), expected.get(key, ABSENT)
                if child is ABSENT and path_text(keys + (key,)) in hidden:
                    yield _Finding(OMITTED_VALUE, path_text(keys + (key,)), wanted, child, source)
                elif child is ABSENT or wanted is ABSENT:
                    yield _Finding(VALUE_DIFFERS, path_text(keys + (key,)), wanted, child, source)
                else:
                    yield from self.compare(step, child, wanted, keys + (key,), hidden, source)
        elif isinstance(node, list) and isinstance(expected, list) and len(node) == len(expected):
            for index, (child, wanted) in enumerate(zip(node, expected)):
                yield from self.compare(step, child, wanted, keys + (index,), hidden, source)
        elif not _same(node, expected):
            yield _Finding(VALUE_DIFFERS, path, expected, node, source)

    def findings(self, step: Step, number: int) -> list[_Finding]:
        return list(self.compare(step, step.request, self.expected[number], (), self.hidden[number]))

    # -- matching steps to calls ----------------------------------------------------------------

    def producers_before(self, step: Step, number: int) -> bool:
        """Whether every step whose output ``step`` uses made its call no later than the second of
        call ``number`` (CloudTrail's order within one second is arbitrary)."""
        for _, reference in _references(step.request):
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
        if isinstance(request, _Unknown):
            return None
        key = _value_key([step.service, step.api, request])
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
        """``node`` with every reference replaced by its replayed value (an _Unknown if any has none)."""
        if isinstance(node, (InputRef, OutputRef, GlobalRef, Template)):
            return self.resolve(step, node)
        if isinstance(node, dict):
            items = {key: self.concrete(step, item) for key, item in node.items()}
            unknown = next((item for item in items.values() if isinstance(item, _Unknown)), None)
            return unknown or items
        if isinstance(node, list):
            items = [self.concrete(step, item) for item in node]
            return next((item for item in items if isinstance(item, _Unknown)), items)
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
            key = _value_key([call.service, call.operation, call.params])
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
        return {_value_key(leaf) for keys, leaf in _leaves(self.expected[number]) if path_text(keys) not in hidden}

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
            f"step {step.name} calls {step.service} {step.api}, but {_record_text(event)} made "
            f"{event.call.service} {event.call.operation}",
            step=step.name, record=_record(event),
        ))

    # -- a matched step -------------------------------------------------------------------------

    def check_step(self, step: Step) -> None:
        number = self.matched[step.name]
        event = self.calls[number]
        for finding in self.findings(step, number):
            self.problems.append(self.finding_problem(step, number, finding))
        for path, reference in _references(step.request):
            producer_number = self.matched.get(reference.step) if isinstance(reference, OutputRef) else None
            if producer_number is not None and moment_of(self.calls[producer_number]) > moment_of(event):
                producer = self.calls[producer_number]
                self.problems.append(Problem(
                    OUTPUT_BEFORE_PRODUCER,
                    f"step {step.name} {path} uses {_reference_text(reference)}, but the log made "
                    f"{_record_text(event)} before {_record_text(producer)}",
                    step=step.name, record=_record(event), path=path,
                ))
        self.check_literals(step, number)

    def finding_problem(self, step: Step, number: int, finding: _Finding) -> Problem:
        event = self.calls[number]
        where = f"step {step.name} {finding.path or '(request)'}"
        record = _record(event)
        if finding.kind == OMITTED_VALUE:
            return Problem(
                OMITTED_VALUE,
                f"{where}: {_record_text(event)} sent a value here that the log does not show "
                f"({_unlogged_reason(event, finding.path)}); the runbook leaves it out, so it would not do "
                f"what the log did: give it through a secret input (a file input for binary data)",
                step=step.name, record=record, path=finding.path,
            )
        if finding.kind == SECRET_LITERAL:
            # The message never shows the value: it may be the secret itself.
            if finding.source is not None:
                given = f"a value of {_reference_text(finding.source)}"
            elif isinstance(finding.found, InputRef):
                given = f"input {finding.found.name}, which has a default"
            elif isinstance(finding.found, (OutputRef, GlobalRef)):
                given = _reference_text(finding.found)
            else:
                given = "a template" if isinstance(finding.found, Template) else "a literal"
            return Problem(
                SECRET_LITERAL,
                f"{where}: {_record_text(event)} hides this value, so only a secret input may give it, "
                f"not {given}",
                step=step.name, record=record, path=finding.path,
            )
        if isinstance(finding.found, _Unknown):
            found = f"{_reference_text(finding.source)}, which has no value ({finding.found.why})"
            expected = _show(finding.expected)
        else:
            expected, found = _show_pair(finding.expected, finding.found)
            if finding.source is not None:
                found = f"{found} (from {_reference_text(finding.source)})"
        if finding.expected is not ABSENT and finding.path in self.hidden[number]:
            expected = "a hidden value"
        return Problem(
            VALUE_DIFFERS,
            f"{where}: {_record_text(event)} has {expected}, the runbook gives {found}",
            step=step.name, record=record, path=finding.path, expected=finding.expected,
            found=finding.source if isinstance(finding.found, _Unknown) else finding.found,
        )

    def check_literals(self, step: Step, number: int) -> None:
        """Literals that are ids an earlier call created, whole or inside a longer text."""
        hidden = self.hidden[number]
        reported: set[str] = set()
        request_shape = operation_model(step.service, step.api).input_shape
        for path, text in _literal_texts(step.request):
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
                f"step {step.name} {path or '(request)'}: {_show(value)} is written as a literal, but "
                f"{_record_text(self.calls[producer])} ({self.calls[producer].call.operation}) created it; "
                f"{self.suggestion(producer, value)}",
                step=step.name, record=_record(self.calls[producer]), path=path, found=value,
            ))

    def suggestion(self, producer: int, value: str) -> str:
        step_name = next((name for name, number in self.matched.items() if number == producer), None)
        if step_name is None:
            return "no step makes that call"
        step = self.steps_by_name[step_name]
        for output in step.outputs:
            if _at_path(self.calls[producer].call.response, output.path) == value:
                return f"use {_reference_text(OutputRef(step.name, output.name))}"
        return f"declare an output of step {step.name} that selects it and use that"
