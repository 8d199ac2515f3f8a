"""What a run's steps see and produce: the values of inputs, ``global:`` values, earlier steps'
outputs and the loops the steps run in (``Execution``), requests resolved against them and checked
by botocore, and responses converted to their SSM output types as SSM converts them."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Callable

import boto3
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

from pysynth.model import GlobalRef, IndexRef, InputRef, ItemRef, OutputRef, Step, Template
from pysynth.render import item_shape, member_shape
from pysynth.render import placeholder_value as stand_in
from pysynth.ssm import CURRENT_ITERATION, CURRENT_ITERATOR_VALUE

REFERENCES = (InputRef, OutputRef, GlobalRef, ItemRef, IndexRef)


class RunRefused(Exception):
    """Nothing ran: the runbook or its parameters have problems, one per line in the message."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class RunFailed(Exception):
    """The run stopped: a step failed, or the AWS session could not be set up. One-line message."""


class StepError(Exception):
    """Raised by an action handler: why its step failed. The runner adds which step."""


class CallFailed(StepError):
    """The service answered a step's call with an error: its ``code`` (``NoSuchEntity``)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


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


# How the runner goes through a list of steps (a loop's body, in one iteration): the steps, what they
# see, and the iteration ("EachBucket iteration 2/5") for progress and messages. Planning, it gives the
# planned calls; running, none.
StepsRunner = Callable[[list[Step], "Execution", str], list[dict]]


@dataclass(slots=True)
class Execution:
    """What steps see: input values, ``global:`` values, earlier steps' outputs and expected errors,
    the element and number of each loop they run in and, unless planning, the AWS session; and which
    reads read every page. While planning, values not known yet are ``Unknown``."""

    inputs: dict[str, object]
    secrets: frozenset[str]
    globals: dict[str, object]
    aws: Aws | None  # None: planning (--dry-run), no AWS call may be made
    outputs: dict[tuple[str, str], object] = field(default_factory=dict)
    iterations: dict[str, tuple[object, object]] = field(default_factory=dict)  # loop -> (element, number)
    # The error code each call that expects errors answered with, when it failed with one.
    errors: dict[str, str] = field(default_factory=dict)
    # The reads SSM runs as pysynth's script that reads every page (pysynth.render.ssm.paged_reads).
    paged_reads: frozenset[str] = frozenset()
    steps_runner: StepsRunner | None = None  # set by execute and plan: how a loop runs its body

    def iteration(self, loop: str, element: object, number: object) -> Execution:
        """What a loop's body sees in one iteration: the element and its number besides what the
        loop sees; outputs the body adds stay in the iteration."""
        return replace(self, outputs=dict(self.outputs), errors=dict(self.errors),
                       iterations={**self.iterations, loop: (element, number)})

    def value(self, reference, shown: bool) -> object:
        """The value of ``reference``; ``shown``: as printed, with secrets hidden."""
        if isinstance(reference, InputRef):
            if shown and reference.name in self.secrets:
                return Unknown(f"<secret {reference.name}>")
            return self.inputs[reference.name]
        if isinstance(reference, GlobalRef):
            return self.globals.get(reference.name, Unknown(f"<global:{reference.name}>"))
        if isinstance(reference, (ItemRef, IndexRef)):
            variable = CURRENT_ITERATOR_VALUE if isinstance(reference, ItemRef) else CURRENT_ITERATION
            if reference.loop not in self.iterations:
                raise StepError(f"{{{{ {reference.loop}.{variable} }}}} has no value: it is used outside the steps "
                                f"of loop {reference.loop}")
            element, number = self.iterations[reference.loop]
            return element if isinstance(reference, ItemRef) else number
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
            return "".join(part if isinstance(part, str) else text(self.value(part, shown)) for part in value.parts)
        if isinstance(value, REFERENCES):
            resolved = self.value(value, shown)
            if isinstance(resolved, Unknown):
                return resolved.label if shown or shape is None or takes_text(shape) else stand_in(shape)
            return text(resolved) if takes_text(shape) else resolved
        return value


def takes_text(shape: Shape | None) -> bool:
    return shape is not None and shape.type_name == "string"


def text(value: object) -> str:
    """A value inside text: integers and booleans as their JSON (``5``, ``true``), as SSM writes them."""
    if isinstance(value, Unknown):
        return value.label
    return value if isinstance(value, str) else json.dumps(value)


def validate_request(operation: OperationModel, request: dict) -> None:
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
        return text(value)
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
        return [text(item) for item in value]
    if ssm_type == "StringMap" and isinstance(value, dict):
        return value
    if ssm_type == "MapList" and isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise ValueError(f"the response has {json.dumps(value, default=repr)[:200]} here, which is not of type {ssm_type}")


def json_default(value: object) -> str:
    """What JSON has no form for in an output (a structure's binary data, which a later step sends
    as it is), printed as SSM and the AWS CLI print it: base64."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not an output value")


def _plain(value: object) -> object:
    """Timestamps, which boto3 parses, back to ISO 8601 text as SSM gives them."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value
