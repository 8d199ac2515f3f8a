"""Run an SSM Automation runbook on this machine, to try it before uploading it (``pysynth run``).

The runner works on the runbook model (``pysynth.ssm.load_runbook``). Running is in three stages:

1. ``prepare`` checks everything that can be checked without AWS — every step's action has a
   handler and its step is well-formed, every ``--param`` names an input and converts to its SSM
   type, every required input has a value — and refuses the run with all the problems
   (``RunRefused``) before anything happens. For a real run it then sets up the AWS session:
   assumes ``AutomationAssumeRole`` when given, and reads the ``global:`` values the runbook uses.
2. ``execute`` runs the steps in order; the first failure stops the run (``RunFailed``: which step,
   which call, the service's error). It returns the outputs by ``"Step.Output"``.
3. ``plan`` (``--dry-run``) resolves every step's call without making it; an output of an earlier
   step reads as ``<Step.Output>``, a secret as ``<secret Name>``.

Actions plug in through ``ACTIONS``, a registry of handlers keyed by the SSM action name. A handler
checks a step before the run, plans it, and runs it; what it returns may name the step to go to
next, so branches and loops can join ``aws:executeAwsApi`` without changing the runner.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable, Mapping, Protocol

import boto3
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from pysynth.ssm import request_value
from pysynth.model import EXECUTE_AWS_API, WAIT_FOR_PROPERTY, GlobalRef, Input, InputRef, OutputRef, Runbook, Step, Template
from pysynth.paths import parse_selector, value_at
from pysynth.render import ASSUME_ROLE, ASSUME_ROLE_PATTERN, SSM_OUTPUT_TYPES
# The renderer's helpers, so that the runner reads botocore's shapes, stands in for values only
# known at run time, and names the environment variables of secrets exactly as the scripts do.
from pysynth.render import environment_name, item_shape, known_operation, member_shape
from pysynth.render import placeholder_value as stand_in

ROLE_SESSION_NAME = "pysynth-run"
PARAMETER = re.compile(r"([A-Za-z][A-Za-z0-9_]*)=(.*)\Z", re.S)


class RunRefused(Exception):
    """Nothing ran: the runbook or its parameters have problems, one per line in the message."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class RunFailed(Exception):
    """The run stopped: a step failed, or the AWS session could not be set up. One-line message."""


class StepError(Exception):
    """Raised by an action handler: why its step failed. The runner adds which step."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value the runner does not know while planning, or will not show: printed as ``label``."""

    label: str


@dataclass(frozen=True, slots=True)
class Missing:
    """An output whose selector found nothing in the response; a step that uses it fails with ``reason``."""

    reason: str


@dataclass(slots=True)
class StepResult:
    """What a step produced: its outputs by name, and the step to run next (None: the following one)."""

    outputs: dict[str, object] = field(default_factory=dict)
    next_step: str | None = None


class Aws:
    """The boto3 session of a run and its clients, one per service."""

    def __init__(self, session: boto3.Session, endpoint_url: str | None):
        self.session = session
        self.endpoint_url = endpoint_url
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]


@dataclass(slots=True)
class Execution:
    """What steps see: input values, ``global:`` values, earlier steps' outputs and, unless
    planning, the AWS session. While planning, values not known yet are ``Unknown``."""

    inputs: dict[str, object]
    secrets: frozenset[str]
    globals: dict[str, object]
    aws: Aws | None  # None: planning (--dry-run), no AWS call may be made
    outputs: dict[tuple[str, str], object] = field(default_factory=dict)

    def value(self, reference: InputRef | OutputRef | GlobalRef, shown: bool) -> object:
        """The value of ``reference``; ``shown``: as printed, with secrets hidden."""
        if isinstance(reference, InputRef):
            if shown and reference.name in self.secrets:
                return Unknown(f"<secret {reference.name}>")
            return self.inputs[reference.name]
        if isinstance(reference, GlobalRef):
            return self.globals.get(reference.name, Unknown(f"<global:{reference.name}>"))
        value = self.outputs.get((reference.step, reference.output))
        if value is None:
            raise StepError(f"{{{{ {reference.step}.{reference.output} }}}} has no value: step {reference.step} "
                            "has not run")
        if isinstance(value, Missing):
            raise StepError(f"{{{{ {reference.step}.{reference.output} }}}} has no value: {value.reason}")
        return value

    def resolve(self, value: object, shape: Shape | None, shown: bool = False) -> object:
        """A request value with every reference replaced by its value, fitted to botocore's
        ``shape`` for it. ``shown``: as printed (unknown values and secrets as their labels);
        otherwise as sent, unknown values standing in as type-correct values for validation."""
        if isinstance(value, dict):
            return {key: self.resolve(item, member_shape(shape, key), shown) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, item_shape(shape), shown) for item in value]
        if isinstance(value, Template):
            return "".join(part if isinstance(part, str) else _text(self.value(part, shown)) for part in value.parts)
        if isinstance(value, (InputRef, OutputRef, GlobalRef)):
            resolved = self.value(value, shown)
            if isinstance(resolved, Unknown):
                return resolved.label if shown or shape is None or _takes_text(shape) else stand_in(shape)
            return _text(resolved) if _takes_text(shape) else resolved
        return value


class Action(Protocol):
    """How the runner runs one kind of step (an SSM action)."""

    def problems(self, step: Step) -> list[str]:
        """What keeps ``step`` from running, found before anything runs."""

    def call(self, step: Step) -> str:
        """What the step does, for progress and messages: ``iam CreateUser``."""

    def plan(self, step: Step, execution: Execution) -> dict:
        """The step's resolved call as JSON, without making it. Raises ``StepError``."""

    def run(self, step: Step, execution: Execution) -> StepResult:
        """Run the step. Raises ``StepError`` with the service's error."""


class ExecuteAwsApi:
    """``aws:executeAwsApi``: one AWS API call through boto3; outputs picked by JSONPath selectors."""

    def problems(self, step: Step) -> list[str]:
        operation = known_operation(step.service, step.api)
        if operation is None:
            return [f"step {step.name}: botocore knows no operation {step.service} {step.api}"]
        problems = []
        for output in step.outputs:
            where = f"step {step.name}: output {output.name}"
            if parse_selector(output.selector) is None:
                problems.append(f"{where}: selector {output.selector!r} is not $ followed by .Member and [index] steps")
            if output.type not in SSM_OUTPUT_TYPES:
                problems.append(f"{where}: {output.type!r} is not an SSM output type ({', '.join(SSM_OUTPUT_TYPES)})")
        return problems

    def call(self, step: Step) -> str:
        return f"{step.service} {step.api}"

    def plan(self, step: Step, execution: Execution) -> dict:
        operation = known_operation(step.service, step.api)
        _validate(operation, execution.resolve(step.request, operation.input_shape))
        shown = execution.resolve(step.request, operation.input_shape, shown=True)
        return {"service": step.service, "api": step.api, "request": shown}

    def run(self, step: Step, execution: Execution) -> StepResult:
        response = _call_with_attempts(step, execution)
        outputs = {}
        for output in step.outputs:
            found = value_at(response, parse_selector(output.selector))
            if found is None:
                outputs[output.name] = Missing(f"the response of step {step.name} has no {output.selector}")
                continue
            try:
                outputs[output.name] = convert_output(found, output.type)
            except ValueError as error:
                raise StepError(f"output {output.name} ({output.selector}): {error}") from None
        return StepResult(outputs)


class WaitForAwsResourceProperty(ExecuteAwsApi):
    """``aws:waitForAwsResourceProperty``: the call repeated until the property its selector picks
    takes one of the desired values, as long as the wait's attempts allow."""

    def problems(self, step: Step) -> list[str]:
        problems = super().problems(step)
        if step.wait is None or parse_selector(step.wait.property_selector or "") is None:
            problems.append(f"step {step.name}: PropertySelector is not $ followed by .Member and [index] steps")
        return problems

    def run(self, step: Step, execution: Execution) -> StepResult:
        wait = step.wait
        selector = parse_selector(wait.property_selector)
        # Desired values may name inputs and outputs ("{{ UserName }}"), as SSM allows.
        desired = [_text(execution.resolve(request_value(value, f"step {step.name} DesiredValues"), None))
                   for value in wait.desired_values]
        found = None
        for attempt in range(1, wait.max_attempts + 1):
            found = value_at(_call_with_attempts(step, execution), selector)
            if found is not None and _text(found) in desired:
                return StepResult()
            if attempt < wait.max_attempts:
                time.sleep(wait.delay_seconds)
        raise StepError(f"{wait.property_selector} is {_text(found) if found is not None else 'absent'} after "
                        f"{wait.max_attempts} attempts, not one of {', '.join(desired)}")


def _call_with_attempts(step: Step, execution: Execution) -> dict:
    """The step's call, made again after a failure as often as its retry (or, for a wait for
    success, its wait) allows: SSM's maxAttempts."""
    operation = known_operation(step.service, step.api)
    request = execution.resolve(step.request, operation.input_shape)
    _validate(operation, request)
    attempts, delay = 1, 0
    if step.retry is not None:
        attempts = step.retry.max_attempts
    elif step.wait is not None and step.wait.property_selector is None:
        attempts, delay = step.wait.max_attempts, step.wait.delay_seconds
    for attempt in range(1, attempts + 1):
        try:
            return getattr(execution.aws.client(step.service), xform_name(step.api))(**request)
        except ClientError as error:
            details = error.response.get("Error", {})
            if attempt == attempts:
                raise StepError(f"{details.get('Code', 'error')}: {details.get('Message', error)}") from None
        except BotoCoreError as error:
            raise StepError(str(error)) from None
        time.sleep(delay or min(2 * attempt, 20))
    raise AssertionError("unreachable: the last attempt returns or raises")


# The actions the runner runs. Others (aws:branch, aws:loop…) are named before anything runs.
ACTIONS: dict[str, Action] = {EXECUTE_AWS_API: ExecuteAwsApi(), WAIT_FOR_PROPERTY: WaitForAwsResourceProperty()}


class Reporter(Protocol):
    """Progress of a run, step by step."""

    def started(self, position: int, total: int, step: Step, call: str) -> None: ...

    def finished(self, step: Step, seconds: float, missing: list[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class RunOptions:
    parameters: dict[str, str] = field(default_factory=dict)  # input name -> text, from --param
    endpoint_url: str | None = None
    region: str | None = None
    dry_run: bool = False


# --------------------------------------------------------------------------- preparing a run


def parse_parameters(texts: list[str]) -> dict[str, str]:
    """``["Name=value", ...]`` as a mapping. Raises ``RunRefused`` on text without ``Name=``
    or a name given twice."""
    parameters: dict[str, str] = {}
    problems = []
    for text in texts:
        match = PARAMETER.match(text)
        if match is None:
            problems.append(f"--param {text!r}: expected NAME=VALUE, NAME a parameter of the runbook")
        elif match.group(1) in parameters:
            problems.append(f"--param {match.group(1)} is given more than once")
        else:
            parameters[match.group(1)] = match.group(2)
    if problems:
        raise RunRefused(problems)
    return parameters


def prepare(runbook: Runbook, options: RunOptions, environment: Mapping[str, str] = os.environ) -> Execution:
    """Check the run and set it up; ``RunRefused`` lists every problem found before anything runs,
    ``RunFailed`` says why the AWS session could not be set up."""
    try:
        session = boto3.Session(region_name=options.region or environment.get("AWS_REGION") or None)
    except BotoCoreError as error:  # AWS_PROFILE names a profile that does not exist
        raise RunRefused([f"cannot set up the AWS session: {error}"]) from None
    problems = []
    for step in runbook.steps:
        action = ACTIONS.get(step.action)
        if action is None:
            supported = ", ".join(ACTIONS)
            problems.append(f"step {step.name}: action {step.action} is not supported by pysynth run yet "
                            f"(it runs {supported})")
        else:
            problems += action.problems(step)
    inputs, input_problems = input_values(runbook.inputs, options.parameters, environment, planning=options.dry_run)
    problems += input_problems
    role = options.parameters.get(ASSUME_ROLE, "")
    if not re.match(ASSUME_ROLE_PATTERN, role):
        problems.append(f"--param {ASSUME_ROLE}: {role!r} is not the ARN of an IAM role")
    if not options.dry_run and not session.region_name:
        problems.append("no AWS region: give --region, or set AWS_REGION or AWS_DEFAULT_REGION")
    if problems:
        raise RunRefused(problems)
    secrets = frozenset(item.name for item in runbook.inputs if item.secret)
    if options.dry_run:
        known = {"REGION": session.region_name} if session.region_name else {}
        return Execution(inputs, secrets, known, aws=None)
    if role:
        session = _assumed(session, role, options.endpoint_url)
    aws = Aws(session, options.endpoint_url)
    return Execution(inputs, secrets, _globals(runbook, aws), aws)


def input_values(
    inputs: list[Input], parameters: dict[str, str], environment: Mapping[str, str], planning: bool = False
) -> tuple[dict[str, object], list[str]]:
    """Each input's value, from its --param (converted to its SSM type), else for a secret from
    the environment variable the scripts read, else its default; and the problems found. While
    planning (--dry-run), a secret nobody gave is shown as a placeholder: the plan needs no secret."""
    declared = {item.name for item in inputs}
    problems = [
        f"--param {name}: the runbook has no such parameter (its parameters: {', '.join(sorted(declared)) or 'none'})"
        for name in parameters if name not in declared and name != ASSUME_ROLE
    ]
    values: dict[str, object] = {}
    for item in inputs:
        variable = environment_name(item.name)
        if item.name in parameters:
            try:
                values[item.name] = convert_input(parameters[item.name], item.type)
            except ValueError as error:
                problems.append(f"--param {item.name}: {error}")
        elif item.secret and variable in environment:
            try:  # a secret StringMap (SendCommand's Parameters) is JSON, as in the scripts
                values[item.name] = convert_input(environment[variable], item.type)
            except ValueError:
                # Never the value in the message: it is a secret.
                problems.append(f"input {item.name}: the environment variable {variable} is not a {item.type}")
        elif item.default is not None and not item.secret:
            values[item.name] = item.default
        elif item.secret and planning:
            values[item.name] = Unknown(f"<secret {item.name}>")
        elif item.secret:
            problems.append(f"input {item.name} is required (a secret): set {variable} in the environment, "
                            f"or give --param {item.name}=VALUE")
        else:
            problems.append(f"input {item.name} is required: give --param {item.name}=VALUE")
    return values, problems


def convert_input(text: str, ssm_type: str) -> object:
    """A --param value as its SSM parameter type; ``ValueError`` says why it is not one."""
    if ssm_type == "Integer":
        if not re.fullmatch(r"[+-]?\d+", text.strip()):
            raise ValueError(f"{text!r} is not an Integer")
        return int(text)
    if ssm_type == "Boolean":
        if text.strip().lower() not in ("true", "false"):
            raise ValueError(f"{text!r} is not a Boolean (true or false)")
        return text.strip().lower() == "true"
    if ssm_type == "StringList":
        if text.lstrip().startswith("["):
            value = _json(text, ssm_type)
            if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise ValueError(f"{text!r} is not a StringList (a JSON list of strings, or a comma list)")
            return value
        return [item.strip() for item in text.split(",")] if text.strip() else []
    if ssm_type == "StringMap":
        value = _json(text, ssm_type)
        if not isinstance(value, dict):
            raise ValueError(f"{text!r} is not a StringMap (a JSON object)")
        return value
    if ssm_type == "MapList":
        value = _json(text, ssm_type)
        if not (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
            raise ValueError(f"{text!r} is not a MapList (a JSON list of objects)")
        return value
    return text  # String and the AWS::… types are text


def _json(text: str, ssm_type: str) -> object:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a {ssm_type} in JSON ({error})") from None


def _assumed(session: boto3.Session, role: str, endpoint_url: str | None) -> boto3.Session:
    try:
        credentials = session.client("sts", endpoint_url=endpoint_url).assume_role(
            RoleArn=role, RoleSessionName=ROLE_SESSION_NAME
        )["Credentials"]
    except (BotoCoreError, ClientError) as error:
        raise RunFailed(f"cannot assume {ASSUME_ROLE} {role}: {error}") from None
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"], region_name=session.region_name,
    )


def _globals(runbook: Runbook, aws: Aws) -> dict[str, object]:
    """The ``global:`` values; the caller identity is only asked for when the runbook uses it."""
    values: dict[str, object] = {"REGION": aws.session.region_name}
    used = {reference.name for step in runbook.steps for reference in _references(step.request)
            if isinstance(reference, GlobalRef)}
    if used & {"ACCOUNT_ID", "AWS_PARTITION"}:
        try:
            identity = aws.client("sts").get_caller_identity()
        except (BotoCoreError, ClientError) as error:
            raise RunFailed(f"cannot read the account id and partition (sts GetCallerIdentity): {error}") from None
        values["ACCOUNT_ID"] = identity["Account"]
        values["AWS_PARTITION"] = identity["Arn"].split(":")[1]
    return values


def _references(value: object):
    if isinstance(value, dict):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, Template):
        yield from (part for part in value.parts if not isinstance(part, str))
    elif isinstance(value, (InputRef, OutputRef, GlobalRef)):
        yield value


# --------------------------------------------------------------------------- running


def execute(runbook: Runbook, execution: Execution, reporter: Reporter) -> dict[str, object]:
    """Run the steps; the outputs by ``"Step.Output"`` (those whose selector found nothing left out)."""

    def run_step(step: Step, action: Action) -> StepResult:
        started = time.monotonic()
        result = action.run(step, execution)
        execution.outputs.update({(step.name, name): value for name, value in result.outputs.items()})
        missing = [value.reason for value in result.outputs.values() if isinstance(value, Missing)]
        reporter.finished(step, time.monotonic() - started, missing)
        return result

    _walk(runbook, reporter, run_step)
    return {
        f"{step}.{output}": value for (step, output), value in execution.outputs.items()
        if not isinstance(value, Missing)
    }


def plan(runbook: Runbook, execution: Execution, reporter: Reporter) -> list[dict]:
    """Every step's resolved call, without making any."""
    calls = []

    def plan_step(step: Step, action: Action) -> StepResult:
        calls.append({"step": step.name, "action": step.action, **action.plan(step, execution)})
        execution.outputs.update({(step.name, o.name): Unknown(f"<{step.name}.{o.name}>") for o in step.outputs})
        reporter.finished(step, 0.0, [])
        return StepResult()

    _walk(runbook, reporter, plan_step)
    return calls


def _walk(runbook: Runbook, reporter: Reporter, visit: Callable[[Step, Action], StepResult]) -> None:
    """Visit the steps in order, or where a step's result says to go next; stop at the first failure."""
    positions = {step.name: position for position, step in enumerate(runbook.steps)}
    position = 0
    while position < len(runbook.steps):
        step = runbook.steps[position]
        action = ACTIONS[step.action]
        call = action.call(step)
        reporter.started(position + 1, len(runbook.steps), step, call)
        try:
            result = visit(step, action)
        except StepError as error:
            raise RunFailed(f"step {step.name} failed: {call}: {error}") from None
        if result.next_step is None:
            position += 1
        elif result.next_step in positions:
            position = positions[result.next_step]
        else:
            raise RunFailed(f"step {step.name} goes on to step {result.next_step}, which the runbook does not have")


# --------------------------------------------------------------------------- requests and responses


def _takes_text(shape: Shape | None) -> bool:
    return shape is not None and shape.type_name == "string"


def _text(value: object) -> str:
    """A value inside text: integers and booleans as their JSON (``5``, ``true``), as SSM writes them."""
    if isinstance(value, Unknown):
        return value.label
    return value if isinstance(value, str) else json.dumps(value)


def _validate(operation: OperationModel, request: dict) -> None:
    """botocore's own validation, also when planning: a bad request fails its step, not the call."""
    if operation.input_shape is None:  # an operation that takes no parameters (iam GetAccountSummary)
        if request:
            raise StepError(f"the request is not valid: {operation.name} takes no parameters")
        return
    report = ParamValidator().validate(request, operation.input_shape)
    if report.has_errors():
        raise StepError("the request is not valid: " + "; ".join(report.generate_report().splitlines()))


def convert_output(value: object, ssm_type: str) -> object:
    """A selected value as its output type, converting as SSM does (an Integer read as a String is
    its text); ``ValueError`` when it cannot be one."""
    value = _plain(value)
    if ssm_type == "String" and not isinstance(value, (dict, list)):
        return _text(value)
    if ssm_type == "Integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value):
            return int(value)
    if ssm_type == "Boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    if ssm_type == "StringList" and isinstance(value, list) and not any(isinstance(item, (dict, list)) for item in value):
        return [_text(item) for item in value]
    if ssm_type == "StringMap" and isinstance(value, dict):
        return value
    if ssm_type == "MapList" and isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise ValueError(f"the response has {json.dumps(value, default=repr)[:200]} here, which is not of type {ssm_type}")


def _plain(value: object) -> object:
    """Timestamps, which boto3 parses, back to ISO 8601 text as SSM gives them."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value


# --------------------------------------------------------------------------- progress


class ConsoleReporter:
    """Progress on a rich console (stderr): a line per step done and, on a terminal, a bar showing
    the step that is running. Use it as a context manager so the bar is gone before any message."""

    def __init__(self, console: Console, planning: bool):
        self.console = console
        self.verb = "planned" if planning else "ran"
        self.planning = planning
        self.bar = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=not console.is_terminal,
        )
        self.task = None
        self.current = ""

    def __enter__(self) -> ConsoleReporter:
        self.bar.start()
        return self

    def __exit__(self, *exception) -> None:
        self.bar.stop()

    def started(self, position: int, total: int, step: Step, call: str) -> None:
        self.current = f"{position}/{total} {step.name}: {call}"
        if self.task is None:
            self.task = self.bar.add_task(self.current, total=total)
        self.bar.update(self.task, description=self.current, completed=position - 1)

    def finished(self, step: Step, seconds: float, missing: list[str]) -> None:
        self.bar.advance(self.task)
        timing = "" if self.planning else f" ({seconds:.2f} s)"
        self.console.print(Text(f"{self.verb} {self.current}{timing}"))
        for reason in missing:
            self.console.print(Text(f"warning: {reason}; a step that uses this output will fail", style="yellow"))
