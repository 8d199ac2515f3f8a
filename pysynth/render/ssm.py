"""The SSM Automation rendering (schema 0.3) and its check: the YAML must read back to the runbook.

Every value is written by ``yaml_string``, a double-quoted scalar that is also a valid JSON string.
SSM Automation reads ``{{ ... }}`` anywhere in a string as a variable reference and has no escape
for it: a runbook with a literal ``{{`` in a value is refused by validation; in prose
(descriptions) ``{{`` is written as ``{ {``.
"""

from __future__ import annotations

import json
import re

import yaml

from pysynth import safe_yaml
from pysynth.model import WAIT_FOR_PROPERTY, InputRef, OutputRef, Runbook, Step, Template
from pysynth.render.names import NAME
from pysynth.render.prose import records_text
from pysynth.render.shapes import Context
from pysynth.ssm import DocumentError, request_value

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
    steps = [
        {
            "name": step.name, "action": step.action, "service": step.service, "api": step.api,
            "description": records_text(step) + (f"\n\n{step.description}" if step.description else "")
            + _secrets_note(step),
            "request": step.request, "outputs": declared_outputs(step),
            "max_attempts": step_attempts(step)[0], "timeout_seconds": step_attempts(step)[1],
            "property_selector": step.wait.property_selector if step.wait else None,
            "desired_values": step.wait.desired_values if step.wait else None,
        }
        for step in runbook.steps
    ]
    return {
        "description": runbook.description,
        "assume_role": ssm_reference(InputRef(ASSUME_ROLE)),
        "assume_role_name": ASSUME_ROLE, "assume_role_description": ASSUME_ROLE_DESCRIPTION,
        "assume_role_pattern": ASSUME_ROLE_PATTERN,
        "parameters": parameters, "steps": steps,
        "outputs": [f"{step.name}.{output.name}" for step in runbook.steps for output in declared_outputs(step)],
    }


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


def check_text(runbook: Runbook, text: str) -> list[str]:
    try:
        document = safe_yaml.load(text)
    except yaml.YAMLError as error:
        return [f"the SSM document is not YAML: {error}"]
    if not isinstance(document, dict):
        return ["the SSM document is not a mapping"]
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
    steps = [_mapping(step) for step in _sequence(document.get("mainSteps"))]
    expect("step names", [step.get("name") for step in steps], [step.name for step in runbook.steps])
    for written, step in zip(steps, runbook.steps):
        inputs = dict(_mapping(written.get("inputs")))
        expect(f"step {step.name} action", written.get("action"), step.action)
        expect(f"step {step.name} Service", inputs.pop("Service", None), step.service)
        expect(f"step {step.name} Api", inputs.pop("Api", None), step.api)
        expect(f"step {step.name} attempts", (written.get("maxAttempts"), written.get("timeoutSeconds")),
               step_attempts(step))
        if step.action == WAIT_FOR_PROPERTY:
            expect(f"step {step.name} PropertySelector", inputs.pop("PropertySelector", None),
                   step.wait.property_selector)
            expect(f"step {step.name} DesiredValues", inputs.pop("DesiredValues", None), step.wait.desired_values)
        try:
            written_request = request_value(inputs, f"step {step.name}")
        except DocumentError as error:
            problems.append(f"SSM {error}")
            continue
        expect(f"step {step.name} request", written_request, _normalized(step.request))
        outputs = [_mapping(output) for output in _sequence(written.get("outputs"))]
        expect(
            f"step {step.name} outputs", [(o.get("Name"), o.get("Selector"), o.get("Type")) for o in outputs],
            [(o.name, o.selector, o.type) for o in declared_outputs(step)],
        )
    return problems


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value: object) -> list:
    return value if isinstance(value, list) else []
