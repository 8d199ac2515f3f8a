"""Read an SSM Automation document (schemaVersion 0.3, YAML or JSON) back into a runbook model.

Shared by ``pysynth verify`` and the local runner, whose whole interface is ``parse_document``,
``load_runbook`` and ``DocumentError``. A runbook returned here is well-formed: every step has a
name and an action, and every ``{{ ... }}`` is a reference the model knows, to a declared input or
to an earlier step. Whether it reproduces a log is ``pysynth.verify``'s question.

``aws:executeAwsApi`` steps become service, API, request and outputs (a ``maxAttempts`` a retry,
or, on a read with no outputs that a botocore waiter polls, a wait for success; a selector with a
filter a list output with its condition), and so does pysynth's own ``aws:executeScript`` that
reads every page of a read (its runtime, handler and script exactly as pysynth writes them, the
call and the outputs' paths in its ``InputPayload``): in the model it is the read, an
``aws:executeAwsApi`` step, which the SSM rendering writes as that script again.
``aws:waitForAwsResourceProperty`` steps become a wait, named after the botocore waiter that checks
the same property; an ``aws:loop`` over one StringList reference or a list of values, literal texts
or references (``Iterators``, ``IteratorDataType: String``) a loop step with its body ``Steps``,
inside which ``{{ Loop.CurrentIteratorValue }}`` and ``{{ Loop.CurrentIteration }}`` are ItemRef
and IndexRef. Branches pysynth writes (``pysynth.ssm_branches``: an ``aws:branch`` of one choice, a
tested call's ``onFailure``, the arms laid out after them) become branch steps with their arms
inside. Any other action (another ``aws:branch``, a do-while ``aws:loop``, another script…) is kept
with its raw inputs so that the tools can refuse or skip it by name. The parameter the document
assumes as its role (``AutomationAssumeRole``) is where Automation runs, not an input of the task:
it is left out.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import yaml

from pysynth import safe_yaml
from pysynth.evidence import property_wait, success_wait
from pysynth.model import (
    BRANCH, EXECUTE_AWS_API, GLOBALS, ITERATORS, LOOP, WAIT_FOR_PROPERTY, Condition, GlobalRef, IndexRef,
    Input, InputRef, ItemRef, Loop, Output, OutputRef, RecordRef, Retry, Runbook, Step, Template,
    runbook_from_json, used_values, walk,
)
from pysynth.ssm_branches import EXPECTED_NOTE, FAILED_NOTE, FLOW_KEYS, LayoutError, branch_step, choice_form, nest
from pysynth.paths import EVERY, Keep, Keys, keys_of_steps, list_selector, parse_selector, path_text
from pysynth.resources import templates_root

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
# Inside a loop's steps, the loop step's element and iteration number: {{ Loop.CurrentIteratorValue }}.
CURRENT_ITERATOR_VALUE = "CurrentIteratorValue"
CURRENT_ITERATION = "CurrentIteration"
ITERATOR_DATA_TYPE = "String"  # a for-each loop over a StringList walks strings
# What pysynth's SSM rendering says of a loop and of a batch step (pysynth.render.ssm.loop_note and
# batch_note), at the end of the step's description: read back, the iterations the log shows and
# the member that takes the whole list.
LOOP_NOTE = re.compile(
    r"(?:\A|\n\n)Runs its steps once for each element of [^\n]*?; the log shows ([\d,]+) iterations?\.[^\n]*\Z"
)
BATCH_NOTE = re.compile(r"(?:\A|\n\n)Makes one call with the whole list in (\w+), where the log shows one call per element\.\Z")
# A read with a list output, written as a script that reads every page (aws:executeAwsApi returns
# the first page only): the script's runtime and handler, its InputPayload's members, where its
# outputs are in what it returns, and what the step's description says of it (render.ssm.pages_note).
EXECUTE_SCRIPT = "aws:executeScript"
SCRIPT_RUNTIME = "python3.11"
SCRIPT_HANDLER = "read_every_page"
SCRIPT_INPUTS = frozenset(("Runtime", "Handler", "Script", "InputPayload"))
PAYLOAD_MEMBERS = frozenset(("Service", "Api", "Request", "Outputs"))
PAYLOAD_SELECTOR = "$.Payload."
PAGES_NOTE = re.compile(r"(?:\A|\n\n)Reads every page of [^\n]*\Z")


@functools.cache
def read_every_page_script() -> str:
    """The script of that step (``templates/ssm_read_every_page.py``)."""
    return templates_root().joinpath("ssm_read_every_page.py").read_text(encoding="utf-8")


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
    flows: dict[str, dict] = {}
    runbook = Runbook(
        description=_text(document.get("description")),
        inputs=[_input(key, spec, name) for key, spec in parameters.items() if key not in (ASSUME_ROLE, role)],
        steps=_nested([_step(spec, str(position), name, (), flows) for position, spec in enumerate(steps, start=1)],
                      flows, name),
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


def _nested(steps: list[Step], flows: dict[str, dict], name: str) -> list[Step]:
    try:
        return nest(steps, flows)
    except LayoutError as error:
        raise DocumentError(f"{name}: {error}") from None


def _step(spec: object, position: str, name: str, loops: tuple[str, ...], flows: dict[str, dict]) -> Step:
    """The step ``spec`` at ``position`` (``3``, or ``2 in loop EachBucket``) inside ``loops``; where
    it goes on (its FLOW_KEYS, a branch's jumps, the branch testing it) into ``flows``."""
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
    flows[step_name] = {key: spec[key] for key in FLOW_KEYS if key in spec}
    description = _text(spec.get("description"))
    failed = FAILED_NOTE.search(description)
    if failed is not None:
        description = description[:failed.start()]
        flows[step_name]["failed"] = _failed_branch(failed)
    expected = EXPECTED_NOTE.search(description)
    if expected is not None:
        description = description[:expected.start()]
        flows[step_name]["expected"] = expected.group("codes").split(", ")
    records, description = _records_and_text(description)
    read = _paged_read(inputs, outputs, f"{name}: step {step_name}") if action == EXECUTE_SCRIPT else None
    outputs = [_output(item, f"{name}: step {step_name}") for item in outputs]
    if action == LOOP and _for_each(inputs):
        return _loop_step(step_name, inputs, outputs, description, records, name, loops, flows)
    if action == BRANCH and choice_form(inputs) is not None:
        where = f"{name}: {step_name}.Choices[0].Variable"
        step = branch_step(step_name, inputs, lambda text: _string(text, where, loops), flows)
        if step is None:
            raise DocumentError(f"{name}: step {step_name}: the choice's Variable is not one input or step output")
        return replace(step, description=description, records=records)
    if read is not None:
        # pysynth's script that reads every page: in the model, the read it makes.
        action, (service, api, request, outputs) = EXECUTE_AWS_API, read
        pages = PAGES_NOTE.search(description)
        description = description[:pages.start()] if pages else description
    elif action not in (EXECUTE_AWS_API, WAIT_FOR_PROPERTY):
        return Step(name=step_name, service="", api="", request=dict(inputs), outputs=outputs, action=action,
                    description=description, records=records)
    else:
        request = dict(inputs)
        service, api = request.pop("Service", None), request.pop("Api", None)
    if not isinstance(service, str) or not isinstance(api, str):
        raise DocumentError(f"{name}: step {step_name}: {action} needs Service and Api")
    batch = BATCH_NOTE.search(description)
    step = Step(name=step_name, service=service, api=api, request={}, outputs=outputs, action=action,
                description=description[:batch.start()] if batch else description, records=records,
                batch=batch.group(1) if batch else None)
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
    step.request = request_value(request, f"{name}: {step_name}", loops)
    return step


def _records_and_text(description: str) -> tuple[list[RecordRef], str]:
    """The records a description starts by saying a step reproduces, and the rest of it."""
    records_note = RECORDS_NOTE.match(description)
    if records_note is None:
        return [], description
    return _records(records_note.group()), description[records_note.end():]


def _failed_branch(note: re.Match) -> dict:
    """What a tested step's note says of the branch that tests it."""
    records, description = _records_and_text(note.group("description") or "")
    return {"branch": note.group("branch"), "fails": note.group("fails") is not None,
            "codes": note.group("codes").split(", "), "description": description, "records": records}


def _paged_read(inputs: dict, outputs: list, where: str) -> tuple[object, object, dict, list[Output]] | None:
    """The service, API, request and outputs of the read that pysynth's script reads every page of;
    None for any other script."""
    script = (inputs.get("Runtime"), inputs.get("Handler"), inputs.get("Script"))
    if set(inputs) != SCRIPT_INPUTS or script != (SCRIPT_RUNTIME, SCRIPT_HANDLER, read_every_page_script()):
        return None
    payload = inputs["InputPayload"]
    if not (isinstance(payload, dict) and set(payload) == PAYLOAD_MEMBERS and isinstance(payload["Request"], dict)
            and isinstance(payload["Outputs"], dict)):
        raise DocumentError(f"{where}: the script's InputPayload needs Service, Api, Request and Outputs, "
                            "as pysynth writes them")
    paths = payload["Outputs"]
    written = {}
    for spec in outputs:
        spec = spec if isinstance(spec, dict) else {}
        output = spec.get("Name")
        if not (isinstance(output, str) and output in paths and spec.get("Selector") == f"{PAYLOAD_SELECTOR}{output}"
                and isinstance(spec.get("Type"), str)):
            raise DocumentError(f"{where}: an output of the script is $.Payload.<Name>, a Name its InputPayload's "
                                "Outputs give a path")
        written[spec["Name"]] = spec["Type"]
    if set(written) != set(paths):
        raise DocumentError(f"{where}: the script's InputPayload gives paths for outputs the step does not declare")
    read_outputs = []
    for output, kind in written.items():
        keys = keys_of_steps(paths[output])
        if not keys or sum(isinstance(key, Keep) for key in keys) > 1:
            raise DocumentError(f"{where}: output {output}: its path in InputPayload is not member names, indexes, "
                                '"*" and one condition')
        path_at, condition = _path_and_condition(keys)
        read_outputs.append(Output(name=output, selector=list_selector(path_at, condition), type=kind, path=path_at,
                                   where=condition))
    return payload["Service"], payload["Api"], dict(payload["Request"]), read_outputs


def _for_each(inputs: dict) -> bool:
    """Whether an aws:loop's inputs are a for-each loop over one reference to a list, or over a
    list of texts (each literal, or references among literal text), with steps."""
    iterators = inputs.get(ITERATORS)
    listed = isinstance(iterators, list) and all(isinstance(item, str) for item in iterators)
    return (
        (listed or isinstance(iterators, str) and REFERENCE.fullmatch(iterators.strip()) is not None)
        and inputs.get("IteratorDataType", ITERATOR_DATA_TYPE) == ITERATOR_DATA_TYPE
        and isinstance(inputs.get("Steps"), list) and bool(inputs["Steps"])
        and set(inputs) <= {ITERATORS, "IteratorDataType", "Steps"}
    )


def _loop_step(
    step_name: str, inputs: dict, outputs: list[Output], description: str, records: list[RecordRef], name: str,
    loops: tuple[str, ...], flows: dict[str, dict],
) -> Step:
    iterators = inputs[ITERATORS]
    where = f"{name}: {step_name}.{ITERATORS}"
    # The loops around this one: an element may be their element, never this loop's own.
    over = request_value(iterators, where, loops) if isinstance(iterators, list) else _string(iterators.strip(), where, loops)
    if not isinstance(over, (InputRef, OutputRef, list)):
        raise DocumentError(f"{name}: step {step_name}: Iterators is not a StringList parameter or step output")
    note = LOOP_NOTE.search(description)
    body = _nested([
        _step(spec, f"{position} in loop {step_name}", name, (*loops, step_name), flows)
        for position, spec in enumerate(inputs["Steps"], start=1)
    ], flows, name)
    return Step(
        name=step_name, service="", api="", request={}, outputs=outputs, action=LOOP,
        description=description[:note.start()] if note else description, records=records,
        # A document pysynth did not write says nothing of the log: no iterations seen.
        loop=Loop(over=over, steps=body, iterations=int(note.group(1).replace(",", "")) if note else 0),
    )


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
    keys = parse_selector(selector) or []
    if sum(isinstance(key, Keep) for key in keys) != 1:
        return Output(name=spec["Name"], selector=selector, type=spec["Type"],
                      path=selector.removeprefix("$").removeprefix("."))
    path, condition = _path_and_condition(keys)
    return Output(name=spec["Name"], selector=selector, type=spec["Type"], path=path, where=condition)


def _path_and_condition(keys: Keys) -> tuple[str, Condition | None]:
    """The path of an output and its condition: a filter in ``keys`` keeps some elements of a list,
    which the path walks every one of."""
    kept = [position for position, key in enumerate(keys) if isinstance(key, Keep)]
    if not kept:
        return path_text(tuple(keys)), None
    position = kept[0]
    keep, listed = keys[position], keys[:position] + [EVERY]
    return (path_text(tuple(listed + keys[position + 1:])),
            Condition(path_text(tuple(listed)), keep.property, keep.test, keep.value))


def request_value(value: object, where: str, loops: tuple[str, ...] = ()) -> object:
    """A request value: ``{{ ... }}`` in strings become references (inside the loop steps ``loops``,
    their element and iteration too); YAML dates become ISO text. Raises DocumentError (naming
    ``where``) for a reference that is not one."""
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DocumentError(f"{where}: the key {key!r} is not text")
            converted[key] = request_value(item, f"{where}.{key}", loops)
        return converted
    if isinstance(value, list):
        return [request_value(item, f"{where}[{index}]", loops) for index, item in enumerate(value)]
    if isinstance(value, str):
        return _string(value, where, loops)
    return _literal(value)


def _literal(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _string(text: str, where: str, loops: tuple[str, ...]):
    """Text, a lone reference, or a Template of both."""
    parts: list = []
    position = 0
    for match in REFERENCE.finditer(text):
        parts += [text[position:match.start()], _reference(match.group(1), where, loops)]
        position = match.end()
    rest = text[position:]
    if "{{" in rest:
        raise DocumentError(f"{where}: '{{{{' opens a reference that is never closed")
    if not parts:
        return text
    parts = [part for part in parts + [rest] if part != ""]
    return parts[0] if len(parts) == 1 else Template(tuple(parts))


def _reference(inner: str, where: str, loops: tuple[str, ...]):
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
    if step_or_input in loops and output == CURRENT_ITERATOR_VALUE:
        return ItemRef(step_or_input)
    if step_or_input in loops and output == CURRENT_ITERATION:
        return IndexRef(step_or_input)
    return OutputRef(step_or_input, output) if output else InputRef(step_or_input)


def _check_references(runbook: Runbook, name: str) -> None:
    """Every reference names a declared input or an earlier step whose outputs it may read (a loop's
    steps' outputs are read within their iteration only); step names are unique."""
    inputs = {item.name for item in runbook.inputs}
    steps = {step.name: step for step in walk(runbook.steps)}
    _check_step_references(runbook.steps, inputs, steps, set(), set(), name)


def _check_step_references(
    steps: list[Step], inputs: set[str], every_step: dict[str, Step], readable: set[str], defined: set[str],
    name: str,
) -> None:
    readable = set(readable)
    for step in steps:
        if step.name in defined:
            raise DocumentError(f"{name}: step {step.name} is defined more than once")
        if step.loop is not None or step.branch is not None or step.action == EXECUTE_AWS_API:
            references = list(_references(used_values(step), step.name))
        else:
            references = []
        for path, reference in references:
            if isinstance(reference, InputRef) and reference.name not in inputs:
                raise DocumentError(f"{name}: {path} refers to input {reference.name}, which the document does not declare")
            if not isinstance(reference, OutputRef):
                continue
            used = f"{name}: {path} uses {{{{ {reference.step}.{reference.output} }}}}"
            if reference.step in every_step and every_step[reference.step].loop is not None:
                raise DocumentError(f"{used}, but a loop step gives only its {CURRENT_ITERATOR_VALUE} and "
                                    f"{CURRENT_ITERATION}, inside its own steps")
            if reference.step not in readable:
                raise DocumentError(f"{used}, but step {reference.step} {_unreadable(reference.step, every_step, defined)}")
        defined.add(step.name)
        if step.loop is not None:
            _check_step_references(step.loop.steps, inputs, every_step, readable, defined, name)
        if step.branch is not None:
            # An arm's steps read what ran before the branch; what follows it reads neither arm's outputs.
            for arm in (step.branch.steps, step.branch.otherwise):
                _check_step_references(arm, inputs, every_step, readable, defined, name)
        readable.add(step.name)


def _unreadable(step: str, every_step: dict[str, Step], defined: set[str]) -> str:
    if step not in every_step:
        return "does not exist"
    if step in defined:  # it ran, in a loop or a branch's way whose steps are over
        in_loop = any(step in {inner.name for inner in walk(outer.loop.steps)}
                      for outer in every_step.values() if outer.loop is not None)
        if in_loop:
            return "runs in a loop, and its outputs are read only by later steps of the same iteration"
        return "runs in one way of a branch, and its outputs are read only by later steps of the same way"
    return "runs later"


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
    elif isinstance(value, (InputRef, OutputRef, GlobalRef, ItemRef, IndexRef)):
        yield path, value
