"""Read an SSM Automation document (schemaVersion 0.3, YAML or JSON) back into a runbook model.

Shared by ``pysynth verify`` and the local runner, whose whole interface is ``parse_document``,
``load_runbook`` and ``DocumentError``. A runbook returned here is well-formed: every step has a
name and an action, and every ``{{ ... }}`` is a reference the model knows, to a declared input or
to an earlier step. Whether it reproduces a log is ``pysynth.verify``'s question.

``aws:executeAwsApi`` steps become service, API, request and outputs (a ``maxAttempts`` a retry,
or, on a read with no outputs that a botocore waiter polls, a wait for success);
``aws:waitForAwsResourceProperty`` steps a wait, named after the botocore waiter that checks the
same property; any other action (``aws:branch``, ``aws:loop``…) is kept with its raw inputs so
that the tools can refuse or skip it by name. The parameter the document assumes as its role
(``AutomationAssumeRole``) is where Automation runs, not an input of the task: it is left out.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import yaml

from pysynth import safe_yaml
from pysynth.evidence import property_wait, success_wait
from pysynth.model import (
    EXECUTE_AWS_API, GLOBALS, WAIT_FOR_PROPERTY, GlobalRef, Input, InputRef, Output, OutputRef, RecordRef, Retry, Runbook,
    Step, Template,
    runbook_from_json,
)

SCHEMA_VERSION = "0.3"
ASSUME_ROLE = "AutomationAssumeRole"
REFERENCE = re.compile(r"\{\{(.*?)\}\}", re.S)
REFERENCE_NAME = re.compile(r"(\w+)(?:\.(\w+))?")
# What pysynth's SSM rendering adds to a parameter's description (see pysynth.render.ssm.view): read
# back, they give the input's secret flag, its own description and where it is used.
PARAMETER_NOTE = re.compile(r"\((Required|Optional|Required, secret)\) ?")
SECRET_NOTE = "Required, secret"
SECRET_INSTRUCTIONS = " Give it when you start the automation; pysynth never writes it."
USED_BY = re.compile(r" ?Used by (\w+\.[^,\s]+(?:, \w+\.[^,\s]+)*)\.\Z")
# A step's description starts with the records it reproduces; its own description follows.
RECORDS_NOTE = re.compile(r"Reproduces [^\n]*(?:\n\n|\Z)")
RECORD = re.compile(r"(?:^|; )(?P<file>.+?) record (?P<index>\d+)(?: \((?:event (?P<event>[^,)]+))?(?:, )?(?P<time>[^)]+)?\))?(?=; |$)")
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class DocumentError(Exception):
    """The document is not a runbook pysynth can read; the message is one line."""

    def __init__(self, message: str):
        # Names and keys come from the document and may hold line breaks: escape them.
        super().__init__(LINE_BREAKS.sub(lambda match: json.dumps(match.group())[1:-1], message))


def load_runbook(path: str | Path) -> Runbook:
    """A runbook file: pysynth's JSON model (``--format json``) or an SSM Automation document."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DocumentError(f"{name}: cannot read it ({error})") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "schema" in data and "mainSteps" not in data:
        try:
            runbook = runbook_from_json(data)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise DocumentError(f"{name}: not a pysynth runbook model ({type(error).__name__}: {error})") from None
        _check_references(runbook, name)
        return runbook
    return parse_document(text, name)


def parse_document(text: str, name: str) -> Runbook:
    """The SSM Automation document ``text`` as a runbook; ``name`` says where it came from in errors."""
    try:
        document = safe_yaml.load(text)
    except yaml.YAMLError as error:
        raise DocumentError(f"{name}: not YAML or JSON: {_yaml_problem(error)}") from None
    if not isinstance(document, dict):
        raise DocumentError(f"{name}: not an SSM document (it is not a mapping of schemaVersion, parameters, mainSteps…)")
    version = document.get("schemaVersion")
    if str(version) != SCHEMA_VERSION:
        raise DocumentError(f"{name}: schemaVersion {version!r}: pysynth reads Automation documents, schemaVersion '0.3'")
    steps = document.get("mainSteps")
    if not isinstance(steps, list) or not steps:
        raise DocumentError(f"{name}: no mainSteps: an Automation document needs a list of steps")
    parameters = document.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise DocumentError(f"{name}: parameters is not a mapping of parameter names")
    role = _assumed_role(document.get("assumeRole"))
    runbook = Runbook(
        description=_text(document.get("description")),
        inputs=[_input(key, spec, name) for key, spec in parameters.items() if key not in (ASSUME_ROLE, role)],
        steps=[_step(spec, position, name) for position, spec in enumerate(steps, start=1)],
    )
    _check_references(runbook, name)
    return runbook


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _assumed_role(value: object) -> str | None:
    match = REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return match.group(1).strip() if match else None


def _input(key: object, spec: object, name: str) -> Input:
    if not isinstance(key, str) or not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise DocumentError(f"{name}: parameter {key} has no type")
    description, secret, used_by = _parameter_description(_text(spec.get("description")))
    return Input(
        name=key, type=spec["type"], description=description, default=_literal(spec.get("default")),
        secret=secret, used_by=used_by,
    )


def _parameter_description(text: str) -> tuple[str, bool, list[str]]:
    """(description, secret, used_by) from a parameter description pysynth may have written."""
    note = PARAMETER_NOTE.match(text)
    secret = note is not None and note.group(1) == SECRET_NOTE
    text = text[note.end():] if note else text
    used_by = USED_BY.search(text)
    if used_by:
        text = text[:used_by.start()]
    if secret:
        text = text.removesuffix(SECRET_INSTRUCTIONS)
    return text.strip(), secret, used_by.group(1).split(", ") if used_by else []


def _step(spec: object, position: int, name: str) -> Step:
    if not isinstance(spec, dict):
        raise DocumentError(f"{name}: step {position} is not a mapping")
    step_name, action = spec.get("name"), spec.get("action")
    if not isinstance(step_name, str) or not step_name:
        raise DocumentError(f"{name}: step {position} has no name")
    if not isinstance(action, str) or not action:
        raise DocumentError(f"{name}: step {step_name} has no action")
    inputs = spec.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise DocumentError(f"{name}: step {step_name}: inputs is not a mapping")
    outputs = spec.get("outputs") or []
    if not isinstance(outputs, list):
        raise DocumentError(f"{name}: step {step_name}: outputs is not a list")
    description = _text(spec.get("description"))
    records_note = RECORDS_NOTE.match(description)
    records = _records(records_note.group()) if records_note else []
    description = description[records_note.end():] if records_note else description
    outputs = [_output(item, f"{name}: step {step_name}") for item in outputs]
    if action not in (EXECUTE_AWS_API, WAIT_FOR_PROPERTY):
        return Step(name=step_name, service="", api="", request=dict(inputs), outputs=outputs, action=action,
                    description=description, records=records)
    request = dict(inputs)
    service, api = request.pop("Service", None), request.pop("Api", None)
    if not isinstance(service, str) or not isinstance(api, str):
        raise DocumentError(f"{name}: step {step_name}: {action} needs Service and Api")
    step = Step(name=step_name, service=service, api=api, request={}, outputs=outputs, action=action,
                description=description, records=records)
    attempts = spec.get("maxAttempts")
    if action == WAIT_FOR_PROPERTY:
        selector, desired = request.pop("PropertySelector", None), request.pop("DesiredValues", None)
        if not isinstance(selector, str) or not isinstance(desired, list) or not desired:
            raise DocumentError(f"{name}: step {step_name}: {action} needs PropertySelector and DesiredValues")
        step.wait = property_wait(service, api, selector, [_text(value) for value in desired],
                                  spec.get("timeoutSeconds"))
    elif isinstance(attempts, int) and attempts > 1:
        step.wait = success_wait(service, api, attempts) if not outputs else None
        if step.wait is None:
            step.retry = Retry(max_attempts=attempts, errors=[])
    step.request = request_value(request, f"{name}: {step_name}")
    return step


def _records(note: str) -> list[RecordRef]:
    """The records a step's description says it reproduces (``render.prose.records_text``)."""
    return [
        RecordRef(match.group("file"), int(match.group("index")), match.group("event"), match.group("time"))
        for match in RECORD.finditer(note.removeprefix("Reproduces ").rstrip().removesuffix("."))
    ]


def _output(spec: object, where: str) -> Output:
    fields = ("Name", "Selector", "Type")
    if not isinstance(spec, dict) or not all(isinstance(spec.get(field), str) for field in fields):
        raise DocumentError(f"{where}: an output needs Name, Selector and Type")
    selector = spec["Selector"]
    return Output(name=spec["Name"], selector=selector, type=spec["Type"],
                  path=selector.removeprefix("$").removeprefix("."))


def request_value(value: object, where: str) -> object:
    """A request value: ``{{ ... }}`` in strings become references; YAML dates become ISO text.
    Raises DocumentError (naming ``where``) for a reference that is not one."""
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentError(f"{where}: the key {key!r} is not text")
            converted[key] = request_value(item, f"{where}.{key}")
        return converted
    if isinstance(value, list):
        return [request_value(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, str):
        return _string(value, where)
    return _literal(value)


def _literal(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _string(text: str, where: str):
    """Text, a lone reference, or a Template of both."""
    parts: list = []
    position = 0
    for match in REFERENCE.finditer(text):
        parts += [text[position:match.start()], _reference(match.group(1), where)]
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        raise DocumentError(f"{where}: '{{{{' opens a reference that is never closed")
    if not parts:
        return text
    parts = [part for part in parts + [rest] if part != ""]
    return parts[0] if len(parts) == 1 else Template(tuple(parts))


def _reference(inner: str, where: str):
    text = inner.strip()
    if text.startswith("global:"):
        name = text.removeprefix("global:")
        if name not in GLOBALS:
            raise DocumentError(f"{where}: {{{{ {text} }}}} is not a runtime value pysynth knows ({', '.join(GLOBALS)})")
        return GlobalRef(name)
    match = REFERENCE_NAME.fullmatch(text)
    if match is None:
        raise DocumentError(f"{where}: {{{{{inner}}}}} is not a reference to an input, a step output or a global")
    step_or_input, output = match.groups()
    return OutputRef(step_or_input, output) if output else InputRef(step_or_input)


def _check_references(runbook: Runbook, name: str) -> None:
    """Every reference names a declared input or an earlier step; step names are unique."""
    inputs = {item.name for item in runbook.inputs}
    all_steps = {step.name for step in runbook.steps}
    earlier: set[str] = set()
    for step in runbook.steps:
        if step.name in earlier:
            raise DocumentError(f"{name}: step {step.name} is defined more than once")
        if step.action == EXECUTE_AWS_API:
            for path, reference in _references(step.request, step.name):
                if isinstance(reference, InputRef) and reference.name not in inputs:
                    raise DocumentError(f"{name}: {path} refers to input {reference.name}, which the document does not declare")
                if isinstance(reference, OutputRef) and reference.step not in earlier:
                    where = "runs later" if reference.step in all_steps else "does not exist"
                    raise DocumentError(
                        f"{name}: {path} uses {{{{ {reference.step}.{reference.output} }}}}, but step {reference.step} {where}"
                    )
        earlier.add(step.name)


def _references(value: object, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _references(item, f"{path}[{index}]")
    elif isinstance(value, Template):
        for part in value.parts:
            if not isinstance(part, str):
                yield path, part
    elif isinstance(value, (InputRef, OutputRef, GlobalRef)):
        yield path, value
