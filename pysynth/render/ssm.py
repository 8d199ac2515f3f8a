"""The SSM Automation rendering (schema 0.3) and its check: the YAML must read back to the runbook.

Every value is written by ``yaml_string``, a double-quoted scalar that is also a valid JSON string.
SSM Automation reads ``{{ ... }}`` anywhere in a string as a variable reference and has no escape
for it: a runbook with a literal ``{{`` in a value is refused by validation; in prose
(descriptions) ``{{`` is written as ``{ {``.

A loop step is an ``aws:loop`` over a StringList (``Iterators``: a reference, or a list of values:
the literal texts a loop over plain data walks, or the references a gathered list holds) with its
body under ``Steps``; inside
it, ``{{ Loop.CurrentIteratorValue }}`` is the element and ``{{ Loop.CurrentIteration }}`` its number.
Its description says how many iterations the log shows and what SSM does with more than 100 elements;
a batch step's description says which member takes the whole list. ``pysynth.ssm`` reads both notes
back.

``aws:executeAwsApi`` returns one page of a read botocore paginates. A read with a list output (the
list a loop walks or a batch step takes) is therefore written as pysynth's ``aws:executeScript``
(``templates/ssm_read_every_page.py``), which calls the paginator with the step's request (passed in
``InputPayload``, where Automation substitutes references) from the first page and returns each
output, lists from every page; the outputs select them from ``$.Payload``. The step's description
says why, and the document then requires ``AutomationAssumeRole``: Automation runs a script with
that role's permissions only. ``pysynth.ssm`` reads the script back as the read it makes: the model
does not change.

Branch steps are laid out flat, their arms after them (``pysynth.render.ssm_branches``): a test of a
value is an ``aws:branch``, a test of a call's failure the call's ``onFailure``; the read-back checks
every jump and that ``pysynth.ssm`` reads the branches back as they are.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import replace

import yaml

from pysynth import safe_yaml
from pysynth.model import (
    BRANCH,
    SSM_MAX_ITERATIONS,
    WAIT_FOR_PROPERTY,
    IndexRef,
    InputRef,
    ItemRef,
    OutputRef,
    Runbook,
    Step,
    Template,
    walk,
)
from pysynth.paths import parse_selector, path_steps
from pysynth.render.lists import paging
from pysynth.render.names import NAME
from pysynth.render.prose import plural, records_text
from pysynth.render.shapes import Context
from pysynth.render.ssm_branches import (
    Placed,
    branch_structure,
    expected_note,
    failed_note,
    laid_out,
    ssm_condition,
)
from pysynth.ssm import (
    CURRENT_ITERATION,
    CURRENT_ITERATOR_VALUE,
    EXECUTE_SCRIPT,
    ITERATOR_DATA_TYPE,
    PAYLOAD_SELECTOR,
    PAYLOAD_MEMBERS,
    SCRIPT_HANDLER,
    SCRIPT_RUNTIME,
    DocumentError,
    parse_document,
    read_every_page_script,
    request_value,
)
from pysynth.ssm_branches import END_ACTION, END_DESCRIPTION, END_INPUTS, END_STEP, FAILURE_JUMP, FLOW_KEYS

SSM_OUTPUT_TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")
SSM_STEP_INPUTS = frozenset(("Service", "Api"))  # aws:executeAwsApi's own inputs, beside the request
SSM_WAIT_INPUTS = frozenset(("PropertySelector", "DesiredValues"))  # and aws:waitForAwsResourceProperty's
ASSUME_ROLE = "AutomationAssumeRole"
ASSUME_ROLE_DESCRIPTION = (
    "(Optional) The ARN of the IAM role that allows Automation to perform the actions on your behalf. "
    "If no role is specified, Automation uses the permissions of the user who starts this runbook."
)
# AWS-owned runbooks declare the role as a String with an empty default (an AWS::IAM::Role::Arn
# parameter cannot default to nothing); the pattern still rejects anything but a role ARN.
ASSUME_ROLE_PATTERN = r"^$|^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$"
# A document with a script step needs the role: without one, Automation runs the script with no
# permissions at all.
REQUIRED_ROLE_PATTERN = ASSUME_ROLE_PATTERN.removeprefix("^$|")
YAML_SIMPLE_KEY_LIMIT = 1000


def yaml_string(text: str) -> str:
    """A double-quoted YAML scalar that is also a JSON string: YAML specials are inert inside it, and
    everything YAML would refuse or fold (controls, line separators, BOM, surrogates) is escaped."""
    return _YAML_UNSAFE.sub(_unicode_escape, json.dumps(text, ensure_ascii=False))


# What JSON leaves as it is but YAML refuses or folds: C1 controls, DEL, line and paragraph
# separators, the byte order mark and lone surrogates.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


def _unicode_escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def yaml_prose(text: str) -> str:
    while "{{" in text:
        text = text.replace("{{", "{ {")
    return yaml_string(text)


def ssm_reference(reference) -> str:
    if isinstance(reference, InputRef):
        return f"{{{{ {reference.name} }}}}"
    if isinstance(reference, OutputRef):
        return f"{{{{ {reference.step}.{reference.output} }}}}"
    if isinstance(reference, ItemRef):
        return f"{{{{ {reference.loop}.{CURRENT_ITERATOR_VALUE} }}}}"
    if isinstance(reference, IndexRef):
        return f"{{{{ {reference.loop}.{CURRENT_ITERATION} }}}}"
    return f"{{{{ global:{reference.name} }}}}"


def ssm_text(leaf: object) -> str:
    if isinstance(leaf, Template):
        return "".join(part if isinstance(part, str) else ssm_reference(part) for part in leaf.parts)
    return ssm_reference(leaf)


def yaml_scalar(value: object) -> str:
    if isinstance(value, str):
        return yaml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"  # only empty ones get here
    return yaml_string(ssm_text(value))


def yaml_key(key: str) -> str:
    plain = NAME.match(key) and key.lower() not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
    return key if plain else yaml_string(key)


def _yaml_entry(key: str, value: object, indent: int) -> str:
    pad = " " * indent
    written = yaml_key(key)
    if len(written) > YAML_SIMPLE_KEY_LIMIT:
        # YAML allows implicit keys of at most 1024 characters: a longer one takes the explicit form.
        return f"\n{pad}? {written}\n{pad}:{yaml_value(value, indent + 2)}"
    return f"\n{pad}{written}:{yaml_value(value, indent + 2)}"


def yaml_value(value: object, indent: int) -> str:
    """``value`` as it follows ``key:`` in block YAML at ``indent`` spaces: `` scalar`` or a block."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        return "".join(_yaml_entry(key, item, indent) for key, item in value.items())
    if isinstance(value, list) and value:
        # An item's block starts on the dash's line: "- Key: value".
        items = (yaml_value(item, indent + 2).replace("\n" + pad + "  ", " ", 1) for item in value)
        return "".join(f"\n{pad}-{item}" for item in items)
    return " " + yaml_scalar(value)


def ssm_step_inputs(step: Step) -> frozenset[str]:
    """The step's own inputs in SSM, beside the request's members."""
    return SSM_STEP_INPUTS | SSM_WAIT_INPUTS if step.action == WAIT_FOR_PROPERTY else SSM_STEP_INPUTS


def step_attempts(step: Step) -> tuple[int | None, int | None]:
    """(maxAttempts, timeoutSeconds) of a step in SSM: a property wait polls for as long as
    botocore's waiter would; a wait for success retries its read as often as the waiter would; a
    retried step makes its attempts."""
    if step.wait is not None:
        timeout = step.wait.delay_seconds * step.wait.max_attempts
        if step.wait.property_selector is not None:
            return None, timeout
        return step.wait.max_attempts, None
    return (step.retry.max_attempts if step.retry else None), None


def view(context: Context) -> dict:
    runbook = context.runbook
    parameters = []
    for item in runbook.inputs:
        if item.file:
            note = "(Required, secret) "
            description = (
                f"{item.description} SSM Automation cannot read a local file: give the content as text when "
                "you start the automation (the bash and python renderings take a file path)."
            )
        elif item.secret:
            note = "(Required, secret) "
            description = f"{item.description} Give it when you start the automation; pysynth never writes it."
        else:
            note = "(Required) " if item.default is None else "(Optional) "
            description = item.description
        used_by = f" Used by {', '.join(item.used_by)}." if item.used_by else ""
        parameters.append({
            "name": item.name, "type": item.type, "description": note + description + used_by,
            "default": item.default,
        })
    paged = paged_reads(runbook.steps)
    steps = [_placed_view(item, paged) for item in laid_out(runbook.steps)]
    return {
        "description": runbook.description,
        "assume_role": ssm_reference(InputRef(ASSUME_ROLE)),
        "assume_role_name": ASSUME_ROLE, "assume_role_description": assume_role_description(paged),
        "assume_role_required": bool(paged),
        "assume_role_pattern": REQUIRED_ROLE_PATTERN if paged else ASSUME_ROLE_PATTERN,
        "parameters": parameters, "steps": steps,
        "outputs": [f"{step.name}.{output.name}" for step in runbook.steps for output in declared_outputs(step)],
    }


def assume_role_description(paged: frozenset[str]) -> str:
    """The role parameter's description: required where a step is a script, which Automation runs
    with the role's permissions only (with none at all without a role)."""
    if not paged:
        return ASSUME_ROLE_DESCRIPTION
    reads = f"Step {next(iter(paged))} reads" if len(paged) == 1 else f"Steps {', '.join(sorted(paged))} read"
    return (
        "(Required) The ARN of the IAM role that allows Automation to perform the actions on your behalf. "
        f"{reads} every page in a script (aws:executeScript), which Automation runs with this role's "
        "permissions only."
    )


def paged_reads(steps: list[Step]) -> frozenset[str]:
    """The reads SSM runs as pysynth's script that reads every page (``aws:executeScript``), since
    ``aws:executeAwsApi`` returns the first page only: those whose list output the bash and python
    renderings read from every page (a list output of a read botocore paginates, ``lists.paging``)."""
    return frozenset(step.name for step in walk(steps) if paging(step) is not None)


def _placed_view(item: Placed, paged: frozenset[str]) -> dict:
    """A step where the document lists it, with the properties that say where the automation goes on."""
    if item.step is None:
        return {"name": END_STEP, "action": END_ACTION, "description": END_DESCRIPTION, "sleep": END_INPUTS,
                "flow": {}}
    if item.targets is not None:
        step = item.step
        notes = [records_text(step) if step.records else "", step.description]
        return {
            "name": step.name, "action": BRANCH, "description": "\n\n".join(note for note in notes if note),
            "choices": branch_choices(item), "default": item.targets[1], "flow": {},
        }
    view = _step_view(item.step, paged)
    if item.tested_by is not None:
        failure = item.flow["onFailure"].removeprefix(FAILURE_JUMP)
        note = failed_note(item.tested_by, failure, item.flow["nextStep"])
        view["description"] = f"{view['description']}\n\n{note}"
    elif item.step.expected_errors:
        view["description"] = f"{view['description']}\n\n{expected_note(item.step.expected_errors)}"
    return {**view, "flow": item.flow}


def branch_choices(item: Placed) -> list[dict]:
    """An aws:branch's one choice: its test, going on at the first step of the arm it holds for."""
    test = item.step.branch.test
    return [{"NextStep": item.targets[0], **ssm_condition(test, ssm_reference(test.value))}]


def _step_view(step: Step, paged: frozenset[str]) -> dict:
    if step.loop is not None:
        # A loop step reproduces no call of its own: its records, if any, are said; no "none" note.
        records = records_text(step) if step.records else ""
        notes = [records, step.description, loop_note(step)]
        return {
            "name": step.name, "action": step.action, "description": "\n\n".join(note for note in notes if note),
            "iterators": ssm_iterators(step.loop.over), "iterator_data_type": ITERATOR_DATA_TYPE,
            "steps": [_placed_view(inner, paged) for inner in laid_out(step.loop.steps)],
        }
    view = {
        "name": step.name, "action": step.action, "service": step.service, "api": step.api,
        "description": records_text(step) + (f"\n\n{step.description}" if step.description else "")
        + _secrets_note(step) + (f"\n\n{batch_note(step.batch)}" if step.batch else ""),
        "request": step.request, "outputs": declared_outputs(step),
        "max_attempts": step_attempts(step)[0], "timeout_seconds": step_attempts(step)[1],
        "property_selector": step.wait.property_selector if step.wait else None,
        "desired_values": step.wait.desired_values if step.wait else None,
    }
    if step.name not in paged:
        return view
    return {
        **view, "action": EXECUTE_SCRIPT, "description": f"{view['description']}\n\n{pages_note(step)}",
        "runtime": SCRIPT_RUNTIME, "handler": SCRIPT_HANDLER,
        # A literal block under Script, at the indentation of the step's inputs' values; the block
        # keeps the script's final line break.
        "script": textwrap.indent(read_every_page_script(), " " * 6).rstrip("\n"),
        "payload": script_payload(step),
        "outputs": [replace(output, selector=f"{PAYLOAD_SELECTOR}{output.name}") for output in declared_outputs(step)],
    }


def script_payload(step: Step) -> dict:
    """The InputPayload of the script that reads every page of ``step``: the call, and each output's
    path as the script walks it (``pysynth.paths.path_steps``)."""
    return {
        "Service": step.service, "Api": step.api, "Request": step.request,
        "Outputs": {output.name: path_steps(parse_selector(output.selector)) for output in declared_outputs(step)},
    }


def pages_note(step: Step) -> str:
    """Why a read is a script (``pysynth.ssm.PAGES_NOTE`` reads it back)."""
    return (
        f"Reads every page of {step.service} {step.api} in a script (aws:executeScript): aws:executeAwsApi "
        "returns only the first page, and a list this step gives holds every element. Automation runs the "
        f"script with the permissions of {ASSUME_ROLE} only, so give that role."
    )


def ssm_iterators(over: InputRef | OutputRef | list) -> str | list[str]:
    """A loop's Iterators: a reference to its list, or the values it walks, each a literal text or
    a reference (``{{ CreateQueue.QueueUrl }}``) or a template of both."""
    if isinstance(over, list):
        return [element if isinstance(element, str) else ssm_text(element) for element in over]
    return ssm_reference(over)


def loop_note(step: Step) -> str:
    """What a loop step's description says of its list: the iterations the log shows and SSM's limit
    (``pysynth.ssm.LOOP_NOTE`` reads it back)."""
    return (
        f"Runs its steps once for each element of {loop_list_text(step.loop.over)}; the log shows "
        f"{plural(step.loop.iterations, 'iteration')}. SSM Automation runs a loop at most {SSM_MAX_ITERATIONS} "
        "times: on a longer list this step fails, so render the runbook as bash or python, or split the list."
    )


def loop_list_text(over: InputRef | OutputRef | list) -> str:
    """A loop's list in prose: ``input Buckets``, ``ListBuckets.Names``, ``the 3 listed values``."""
    if isinstance(over, InputRef):
        return f"input {over.name}"
    if isinstance(over, OutputRef):
        return f"{over.step}.{over.output}"
    return f"the {plural(len(over), 'listed value')}"


def batch_note(member: str) -> str:
    """What a batch step's description says (``pysynth.ssm.BATCH_NOTE`` reads it back)."""
    return f"Makes one call with the whole list in {member}, where the log shows one call per element."


def declared_outputs(step: Step) -> list:
    """The outputs the document declares: not the secrets the step creates, since SSM Automation
    shows every step output in the execution history, to anyone who may read the execution."""
    return [output for output in step.outputs if not output.secret]


def _secrets_note(step: Step) -> str:
    secrets = [output.path for output in step.outputs if output.secret]
    if not secrets:
        return ""
    return (
        f"\n\nThis call creates a secret ({', '.join(secrets)}) that this runbook does not keep: SSM "
        "Automation shows step outputs in the execution history, so it is not declared as one. To keep "
        "it, run the bash or python rendering with --secrets-file, or create a new one afterwards."
    )


def _normalized(value: object) -> object:
    """Templates without empty or adjacent literal parts; a lone reference or text as itself."""
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalized(item) for item in value]
    if not isinstance(value, Template):
        return value
    parts: list = []
    for part in value.parts:
        if isinstance(part, str) and parts and isinstance(parts[-1], str):
            parts[-1] += part
        elif part != "":
            parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return Template(tuple(parts)) if parts else ""


def read_back(runbook: Runbook, text: str) -> tuple[list[str], object]:
    """The problems of ``text`` as the runbook's SSM rendering, and the document it reads as (None
    when it is not YAML), for the checks that look at the document further."""
    try:
        document = safe_yaml.load(text)
    except yaml.YAMLError as error:
        return [f"the SSM document is not YAML: {error}"], None
    if not isinstance(document, dict):
        return ["the SSM document is not a mapping"], document
    problems = []

    def expect(where: str, actual: object, expected: object) -> None:
        if actual != expected:
            problems.append(f"SSM {where}: wrote {actual!r}, expected {expected!r}")

    expect("schemaVersion", document.get("schemaVersion"), "0.3")
    expect("assumeRole", document.get("assumeRole"), ssm_reference(InputRef(ASSUME_ROLE)))
    parameters = _mapping(document.get("parameters"))
    expect("parameter names", list(parameters), [item.name for item in runbook.inputs] + [ASSUME_ROLE])
    for item in runbook.inputs:
        parameter = _mapping(parameters.get(item.name))
        expect(f"parameter {item.name} type", parameter.get("type"), item.type)
        expect(f"parameter {item.name} default", parameter.get("default"), item.default)
    paged = paged_reads(runbook.steps)
    role = _mapping(parameters.get(ASSUME_ROLE))
    expect(f"parameter {ASSUME_ROLE} default", role.get("default"), None if paged else "")
    _check_steps(_sequence(document.get("mainSteps")), laid_out(runbook.steps), (), paged, expect, problems)
    if not problems and any(step.branch or step.expected_errors for step in walk(runbook.steps)):
        try:
            read = parse_document(text, "the SSM document").steps
        except DocumentError as error:
            return [f"SSM branches: {error}"], document
        expect("branches as read back", branch_structure(read), branch_structure(runbook.steps))
    return problems, document


def _check_steps(
    written_steps: list, placed: list[Placed], loops: tuple[str, ...], paged: frozenset[str], expect,
    problems: list[str],
) -> None:
    """The written steps are the model's, laid out with their jumps; a loop's body steps (inside
    ``loops``) are under its Steps; the reads in ``paged`` are pysynth's script that reads every page."""
    written_steps = [_mapping(step) for step in written_steps]
    within = f" in loop {loops[-1]}" if loops else ""
    expect(f"step names{within}", [step.get("name") for step in written_steps],
           [END_STEP if item.step is None else item.step.name for item in placed])
    for written, item in zip(written_steps, placed):
        inputs = dict(_mapping(written.get("inputs")))
        step = item.step
        name = END_STEP if step is None else step.name
        expect(f"step {name} jumps", {key: written[key] for key in FLOW_KEYS if key in written}, item.flow)
        if step is None:
            expect(f"step {name}", (written.get("action"), inputs), (END_ACTION, END_INPUTS))
            continue
        if item.targets is not None:
            expect(f"step {name} branch", inputs, {"Choices": branch_choices(item), "Default": item.targets[1]})
            continue
        script = step.name in paged
        expect(f"step {step.name} action", written.get("action"), EXECUTE_SCRIPT if script else step.action)
        if step.loop is not None:
            expect(f"step {step.name} Iterators", inputs.pop("Iterators", None), ssm_iterators(step.loop.over))
            expect(f"step {step.name} IteratorDataType", inputs.pop("IteratorDataType", None), ITERATOR_DATA_TYPE)
            _check_steps(_sequence(inputs.pop("Steps", None)), laid_out(step.loop.steps), (*loops, step.name), paged,
                         expect, problems)
            expect(f"step {step.name} other inputs", inputs, {})
            continue
        if script:
            payload = _mapping(inputs.pop("InputPayload", None))
            expect(f"step {step.name} script", inputs,
                   {"Runtime": SCRIPT_RUNTIME, "Handler": SCRIPT_HANDLER, "Script": read_every_page_script()})
            expect(f"step {step.name} InputPayload members", set(payload), PAYLOAD_MEMBERS)
            expect(f"step {step.name} output paths", payload.get("Outputs"), script_payload(step)["Outputs"])
            service, api, inputs = payload.get("Service"), payload.get("Api"), dict(_mapping(payload.get("Request")))
        else:
            service, api = inputs.pop("Service", None), inputs.pop("Api", None)
        expect(f"step {step.name} Service", service, step.service)
        expect(f"step {step.name} Api", api, step.api)
        expect(f"step {step.name} attempts", (written.get("maxAttempts"), written.get("timeoutSeconds")),
               step_attempts(step))
        if step.action == WAIT_FOR_PROPERTY:
            expect(f"step {step.name} PropertySelector", inputs.pop("PropertySelector", None),
                   step.wait.property_selector)
            expect(f"step {step.name} DesiredValues", inputs.pop("DesiredValues", None), step.wait.desired_values)
        try:
            written_request = request_value(inputs, f"step {step.name}", loops)
        except DocumentError as error:
            problems.append(f"SSM {error}")
            continue
        expect(f"step {step.name} request", written_request, _normalized(step.request))
        outputs = [_mapping(output) for output in _sequence(written.get("outputs"))]
        expect(
            f"step {step.name} outputs", [(o.get("Name"), o.get("Selector"), o.get("Type")) for o in outputs],
            [(o.name, f"{PAYLOAD_SELECTOR}{o.name}" if script else o.selector, o.type) for o in declared_outputs(step)],
        )


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value: object) -> list:
    return value if isinstance(value, list) else []
