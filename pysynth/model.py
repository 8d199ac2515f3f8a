"""The runbook model: plain dataclasses between the solver and everything that renders, checks
or runs a runbook. No clingo symbol ever appears here.

A step's ``request`` is the botocore request (member names exactly as botocore spells them) as a
tree of dicts and lists whose leaves are literal values (str, int, float, bool) or references:

- ``InputRef(name)``: a runbook input (``{{ Name }}`` in SSM);
- ``OutputRef(step, output)``: an output of an earlier step (``{{ Step.Output }}``);
- ``GlobalRef(name)``: a value the runtime supplies: ``ACCOUNT_ID``, ``REGION``, ``AWS_PARTITION``;
- ``Template(parts)``: a string made of literal text and references, e.g. an ARN with the
  account id in it.

Steps carry an ``action``: ``aws:executeAwsApi``, or ``aws:waitForAwsResourceProperty`` for a
wait (``Step.wait``); a step that failed in the log before it succeeded carries a ``Step.retry``.
Branches (``aws:branch``) and loops (``aws:loop``) can join them without changing what is here. ``to_json``/``from_json`` give the documented JSON form (``--format json``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Union

EXECUTE_AWS_API = "aws:executeAwsApi"
WAIT_FOR_PROPERTY = "aws:waitForAwsResourceProperty"
GLOBALS = ("ACCOUNT_ID", "REGION", "AWS_PARTITION")
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class InputRef:
    name: str


@dataclass(frozen=True, slots=True)
class OutputRef:
    step: str
    output: str


@dataclass(frozen=True, slots=True)
class GlobalRef:
    name: str  # one of GLOBALS


Reference = Union[InputRef, OutputRef, GlobalRef]


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text and references, concatenated: ``arn:`` + GlobalRef(AWS_PARTITION) + ``:iam::``…"""

    parts: tuple[Union[str, InputRef, OutputRef, GlobalRef], ...]


@dataclass(slots=True)
class Input:
    """A runbook parameter. ``type`` is an SSM parameter type (``String``, ``Integer``,
    ``Boolean``, ``StringList``, ``StringMap``, ``AWS::EC2::Instance::Id``…). A secret input has
    no default and its value never appears in any output; a secret ``StringMap`` or ``MapList``
    is a whole structure the log hides (SendCommand's ``Parameters``)."""

    name: str
    type: str
    description: str
    default: object = None
    secret: bool = False
    # Request paths ("CreateUser.UserName") that take this input, for descriptions and reports.
    used_by: list[str] = field(default_factory=list)
    # The input names a local file whose bytes the request sends (a binary member the log never
    # shows: PutObject's Body, UpdateFunctionCode's ZipFile); the scripts read it, SSM cannot.
    file: bool = False


@dataclass(slots=True)
class Output:
    """A step output: ``selector`` is the JSONPath SSM reads from the response (``$.User.Arn``),
    ``path`` the same place in botocore's response (``User.Arn``), ``type`` an SSM output type."""

    name: str
    selector: str
    type: str
    path: str
    # A secret the step creates (CreateAccessKey's SecretAccessKey): the scripts write it to a file
    # the user names, never to stdout; SSM does not declare it (see README: secrets created by a step).
    secret: bool = False


@dataclass(slots=True)
class RecordRef:
    """The log record a step reproduces."""

    file: str
    index: int
    event_id: str | None
    time: str | None


@dataclass(slots=True)
class Wait:
    """What a wait step waits for: botocore's ``waiter`` (``NatGatewayAvailable``), called with the
    step's request; for SSM, the response property (``$.NatGateways[0].State``, a JSONPath) that
    must take one of ``desired_values``, or None when the waiter accepts on the call succeeding
    (an ``...Exists`` waiter: the read is retried until it succeeds)."""

    waiter: str
    property_selector: str | None
    desired_values: list[str]
    delay_seconds: int
    max_attempts: int


@dataclass(slots=True)
class Retry:
    """A step retried on the errors the log shows it failed with before it succeeded."""

    max_attempts: int
    errors: list[str]  # botocore error codes ("InvalidParameterValue")


@dataclass(slots=True)
class Step:
    """One runbook step: an API call (``aws:executeAwsApi``) or, with ``wait``, a wait that repeats
    the call until a waiter accepts it (``aws:waitForAwsResourceProperty`` in SSM)."""

    name: str
    service: str  # botocore service name: "iam", "ec2"
    api: str  # botocore operation name: "CreateUser"
    request: dict
    outputs: list[Output] = field(default_factory=list)
    records: list[RecordRef] = field(default_factory=list)
    action: str = EXECUTE_AWS_API
    description: str = ""
    wait: Wait | None = None
    retry: Retry | None = None


@dataclass(slots=True)
class Solution:
    """How the runbook was chosen: objective values by name (in priority order), whether the
    solver proved them optimal, and solver statistics."""

    objectives: dict[str, int] = field(default_factory=dict)
    optimal: bool = False
    models: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class Runbook:
    description: str
    inputs: list[Input]
    steps: list[Step]
    solution: Solution = field(default_factory=Solution)

    def input(self, name: str) -> Input:
        return next(item for item in self.inputs if item.name == name)

    def step(self, name: str) -> Step:
        return next(item for item in self.steps if item.name == name)


# --------------------------------------------------------------------------- JSON form


def value_to_json(value: object) -> object:
    """A request value as JSON: references become one-key objects (``{"$input": "UserName"}``,
    ``{"$output": ["CreateUser", "Arn"]}``, ``{"$global": "REGION"}``, ``{"$template": [...]}``);
    a literal dict whose keys start with ``$`` is wrapped as ``{"$literal": {...}}``."""
    if isinstance(value, InputRef):
        return {"$input": value.name}
    if isinstance(value, OutputRef):
        return {"$output": [value.step, value.output]}
    if isinstance(value, GlobalRef):
        return {"$global": value.name}
    if isinstance(value, Template):
        return {"$template": [value_to_json(part) for part in value.parts]}
    if isinstance(value, dict):
        converted = {key: value_to_json(item) for key, item in value.items()}
        return {"$literal": converted} if any(key.startswith("$") for key in value) else converted
    if isinstance(value, list):
        return [value_to_json(item) for item in value]
    return value


def value_from_json(value: object) -> object:
    if isinstance(value, dict):
        if len(value) == 1:
            (key, item), = value.items()
            if key == "$input":
                return InputRef(item)
            if key == "$output":
                return OutputRef(item[0], item[1])
            if key == "$global":
                return GlobalRef(item)
            if key == "$template":
                return Template(tuple(value_from_json(part) for part in item))
            if key == "$literal":
                return {name: value_from_json(inner) for name, inner in item.items()}
        return {key: value_from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [value_from_json(item) for item in value]
    return value


def runbook_to_json(runbook: Runbook) -> dict:
    return {
        "schema": SCHEMA_VERSION,
        "description": runbook.description,
        "inputs": [
            {"name": i.name, "type": i.type, "description": i.description, "default": i.default,
             "secret": i.secret, "used_by": i.used_by, **({"file": True} if i.file else {})}
            for i in runbook.inputs
        ],
        "steps": [
            {
                "name": s.name, "action": s.action, "service": s.service, "api": s.api,
                "description": s.description,
                "request": value_to_json(s.request),
                "outputs": [
                    {"name": o.name, "selector": o.selector, "type": o.type, "path": o.path,
                     **({"secret": True} if o.secret else {})}
                    for o in s.outputs
                ],
                "records": [{"file": r.file, "index": r.index, "event_id": r.event_id, "time": r.time} for r in s.records],
                **({"wait": asdict(s.wait)} if s.wait else {}),
                **({"retry": asdict(s.retry)} if s.retry else {}),
            }
            for s in runbook.steps
        ],
        "solution": {
            "objectives": runbook.solution.objectives, "optimal": runbook.solution.optimal,
            "models": runbook.solution.models, "seconds": runbook.solution.seconds,
        },
    }


def runbook_from_json(data: dict) -> Runbook:
    solution = data.get("solution") or {}
    return Runbook(
        description=data.get("description", ""),
        inputs=[Input(**item) for item in data["inputs"]],
        steps=[
            Step(
                name=s["name"], service=s["service"], api=s["api"], action=s.get("action", EXECUTE_AWS_API),
                description=s.get("description", ""), request=value_from_json(s["request"]),
                outputs=[Output(**o) for o in s.get("outputs", [])],
                records=[RecordRef(**r) for r in s.get("records", [])],
                wait=Wait(**s["wait"]) if s.get("wait") else None,
                retry=Retry(**s["retry"]) if s.get("retry") else None,
            )
            for s in data["steps"]
        ],
        solution=Solution(**solution),
    )
