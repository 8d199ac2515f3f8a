"""The runbook model: plain dataclasses between the solver and everything that renders, checks
or runs a runbook. No clingo symbol ever appears here.

A step's ``request`` is the botocore request (member names exactly as botocore spells them) as a
tree of dicts and lists whose leaves are literal values (str, int, float, bool) or references:

- ``InputRef(name)``: a runbook input (``{{ Name }}`` in SSM);
- ``OutputRef(step, output)``: an output of an earlier step (``{{ Step.Output }}``);
- ``GlobalRef(name)``: a value the runtime supplies: ``ACCOUNT_ID``, ``REGION``, ``AWS_PARTITION``;
- ``Template(parts)``: a string made of literal text and references, e.g. an ARN with the
  account id in it;
- ``ItemRef(loop)``: the element the loop step ``loop`` is at (``{{ Loop.CurrentIteratorValue }}``);
- ``IndexRef(loop)``: that iteration's number, from 1 (``{{ Loop.CurrentIteration }}``).

Steps carry an ``action``: ``aws:executeAwsApi``, ``aws:waitForAwsResourceProperty`` for a wait
(``Step.wait``), ``aws:loop`` for a loop (``Step.loop``: its body steps, once per element of a
list), or ``aws:branch`` for a branch (``Step.branch``: the steps run when its test holds, and
those run when it does not). A step may expect errors (``Step.expected_errors``): failing with
one of them is an outcome a later branch tests (``Test``), not a failure of the runbook. A step that failed in the log before it succeeded carries a ``Step.retry``; a step that
makes in one call what the log shows as one call per element of a list carries ``Step.batch``.
``walk`` visits every step, loop bodies included. ``runbook_to_json``/``runbook_from_json`` give
the documented JSON form (``--format json``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Union

EXECUTE_AWS_API = "aws:executeAwsApi"
WAIT_FOR_PROPERTY = "aws:waitForAwsResourceProperty"
LOOP = "aws:loop"
BRANCH = "aws:branch"
# What SSM's aws:loop calls the list it walks; where the references in a loop's list are named.
ITERATORS = "Iterators"
# SSM runs an aws:loop over at most this many elements; the step fails on a longer list.
SSM_MAX_ITERATIONS = 100
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


@dataclass(frozen=True, slots=True)
class ItemRef:
    """The element of the list the enclosing loop step named ``loop`` is at."""

    loop: str


@dataclass(frozen=True, slots=True)
class IndexRef:
    """The number of the iteration the enclosing loop step named ``loop`` is at, counted from 1."""

    loop: str


Reference = Union[InputRef, OutputRef, GlobalRef, ItemRef, IndexRef]


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text and references, concatenated: ``arn:`` + GlobalRef(AWS_PARTITION) + ``:iam::``…,
    or a key made from a loop's element: ItemRef(Loop) + ``/``."""

    parts: tuple[Union[str, InputRef, OutputRef, GlobalRef, ItemRef, IndexRef], ...]


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
class Condition:
    """Which elements of a listed response a list output keeps: those whose ``property`` (a path
    inside the element: ``State.Name``, ``Name``) equals ``value`` (``test`` "equals") or starts
    with it ("prefix"), or, for test "tag", whose tag list at ``property`` (``Tags``) holds a tag
    with key ``value``. ``element`` is the path of the listed elements, a prefix of the output's
    path (``Reservations[*].Instances[*]`` of ``Reservations[*].Instances[*].InstanceId``)."""

    element: str
    property: str
    test: str
    value: str


@dataclass(slots=True)
class Output:
    """A step output: ``selector`` is the JSONPath SSM reads from the response (``$.User.Arn``),
    ``path`` the same place in botocore's response (``User.Arn``), ``type`` an SSM output type.
    A list output (type ``StringList``) has ``[*]`` in its path (``Buckets[*].Name``: every
    bucket's name) and may keep only the elements that meet ``where``."""

    name: str
    selector: str
    type: str
    path: str
    # A secret the step creates (CreateAccessKey's SecretAccessKey): the scripts write it to a file
    # the user names, never to stdout; SSM does not declare it (see README: secrets created by a step).
    secret: bool = False
    where: Condition | None = None


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
class Loop:
    """What a loop step repeats: its body ``steps`` (a body step may itself be a loop), once for
    each element of ``over``, a list: a ``StringList`` input (InputRef), a list output of an
    earlier step (OutputRef), or a list of values, each a literal text (plain data such as CIDR
    blocks, never names) or a reference (a gathered list: ``[OutputRef("CreateQueue", "QueueUrl"),
    OutputRef("CreateQueue2", "QueueUrl")]``, an input, a Template). Inside the body, ItemRef/IndexRef name the element and the
    iteration; a body step's outputs are read only by later steps of the same iteration.
    ``iterations`` is how many the log shows (the step's records are its first iteration's)."""

    over: InputRef | OutputRef | list
    steps: list[Step]
    iterations: int

    @property
    def gathered(self) -> bool:
        """Whether the list holds references: values the runbook has at run time, not just texts."""
        return isinstance(self.over, list) and any(not isinstance(element, str) for element in self.over)


@dataclass(slots=True)
class Test:
    """What a branch tests, when it runs. ``kind``:

    - ``"failed"``: step ``step`` failed with one of ``codes`` (botocore error codes it expects:
      ``NoSuchEntity``, ``404``, ``DryRunOperation``);
    - ``"equals"``: ``value`` (an OutputRef, or an InputRef) is the text ``text``
      (``{{ DescribeInstances.State }}`` is ``running``);
    - ``"set"``: the input ``value`` was given (it is not empty).

    ``negate`` turns the test round (``failed`` negated: the step succeeded)."""

    kind: str
    value: InputRef | OutputRef | None = None
    step: str | None = None
    codes: list[str] = field(default_factory=list)
    text: str | None = None
    negate: bool = False


@dataclass(slots=True)
class Branch:
    """What a branch step chooses between: ``steps`` when ``test`` holds, else ``otherwise``
    (either may be empty, not both). The runbook goes on after the branch either way; a step
    inside an arm reads only outputs of steps before the branch or earlier in its own arm."""

    test: Test
    steps: list[Step]
    otherwise: list[Step] = field(default_factory=list)


@dataclass(slots=True)
class Step:
    """One runbook step: an API call (``aws:executeAwsApi``); with ``wait``, a wait that repeats
    the call until a waiter accepts it (``aws:waitForAwsResourceProperty`` in SSM); with ``loop``,
    a loop (``aws:loop``; service, api and request are empty); with ``branch``, a branch
    (``aws:branch``; service, api and request are empty). ``batch`` names the request member
    (``InstanceIds``) that takes a whole list in one call where the log shows one call per element:
    each of ``records`` is one of those calls."""

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
    loop: Loop | None = None
    batch: str | None = None
    branch: Branch | None = None
    # Error codes this call may answer with as an outcome (a later branch's ``failed`` test), not
    # as a failure: the runbook goes on, and the step's outputs are then unset.
    expected_errors: list[str] = field(default_factory=list)


def used_values(step: Step) -> dict:
    """What a step uses, as a request tree: a call's request, or a loop step's list under
    ``Iterators``, so that a reference in a loop's list (one of a gathered list's values) is
    found, resolved and checked where a request's are; a branch step's tested value under
    ``Variable``."""
    if step.loop is not None:
        return {ITERATORS: step.loop.over}
    if step.branch is not None:
        return {"Variable": step.branch.test.value} if step.branch.test.value is not None else {}
    return step.request


def walk(steps: list[Step]):
    """Every step, in order, a loop or branch step before its body's or arms' steps (depth first)."""
    for step in steps:
        yield step
        if step.loop is not None:
            yield from walk(step.loop.steps)
        if step.branch is not None:
            yield from walk(step.branch.steps)
            yield from walk(step.branch.otherwise)


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
        """The step of that name, inside a loop's body too."""
        return next(item for item in walk(self.steps) if item.name == name)


# --------------------------------------------------------------------------- JSON form


def value_to_json(value: object) -> object:
    """A request value as JSON: references become one-key objects (``{"$input": "UserName"}``,
    ``{"$output": ["CreateUser", "Arn"]}``, ``{"$global": "REGION"}``, ``{"$item": "Loop"}``,
    ``{"$index": "Loop"}``, ``{"$template": [...]}``);
    a literal dict whose keys start with ``$`` is wrapped as ``{"$literal": {...}}``."""
    if isinstance(value, InputRef):
        return {"$input": value.name}
    if isinstance(value, OutputRef):
        return {"$output": [value.step, value.output]}
    if isinstance(value, GlobalRef):
        return {"$global": value.name}
    if isinstance(value, ItemRef):
        return {"$item": value.loop}
    if isinstance(value, IndexRef):
        return {"$index": value.loop}
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
            if key == "$item":
                return ItemRef(item)
            if key == "$index":
                return IndexRef(item)
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
        "steps": [_step_to_json(step) for step in runbook.steps],
        "solution": {
            "objectives": runbook.solution.objectives, "optimal": runbook.solution.optimal,
            "models": runbook.solution.models, "seconds": runbook.solution.seconds,
        },
    }


def _step_to_json(s: Step) -> dict:
    return {
        "name": s.name, "action": s.action, "service": s.service, "api": s.api,
        "description": s.description,
        "request": value_to_json(s.request),
        "outputs": [
            {"name": o.name, "selector": o.selector, "type": o.type, "path": o.path,
             **({"secret": True} if o.secret else {}), **({"where": asdict(o.where)} if o.where else {})}
            for o in s.outputs
        ],
        "records": [{"file": r.file, "index": r.index, "event_id": r.event_id, "time": r.time} for r in s.records],
        **({"wait": asdict(s.wait)} if s.wait else {}),
        **({"retry": asdict(s.retry)} if s.retry else {}),
        **({"batch": s.batch} if s.batch else {}),
        **({"loop": {"over": value_to_json(s.loop.over), "iterations": s.loop.iterations,
                     "steps": [_step_to_json(inner) for inner in s.loop.steps]}} if s.loop else {}),
        **({"branch": _branch_to_json(s.branch)} if s.branch else {}),
        **({"expected_errors": s.expected_errors} if s.expected_errors else {}),
    }


def _branch_to_json(branch: Branch) -> dict:
    test = branch.test
    return {
        "test": {"kind": test.kind, "value": value_to_json(test.value), "step": test.step,
                 "codes": test.codes, "text": test.text, "negate": test.negate},
        "steps": [_step_to_json(inner) for inner in branch.steps],
        "otherwise": [_step_to_json(inner) for inner in branch.otherwise],
    }


def _branch_from_json(data: dict) -> Branch:
    test = data["test"]
    return Branch(
        test=Test(kind=test["kind"], value=value_from_json(test.get("value")), step=test.get("step"),
                  codes=list(test.get("codes", [])), text=test.get("text"), negate=test.get("negate", False)),
        steps=[_step_from_json(inner) for inner in data.get("steps", [])],
        otherwise=[_step_from_json(inner) for inner in data.get("otherwise", [])],
    )


def runbook_from_json(data: dict) -> Runbook:
    solution = data.get("solution") or {}
    return Runbook(
        description=data.get("description", ""),
        inputs=[Input(**item) for item in data["inputs"]],
        steps=[_step_from_json(s) for s in data["steps"]],
        solution=Solution(**solution),
    )


def _step_from_json(s: dict) -> Step:
    loop = s.get("loop")
    return Step(
        name=s["name"], service=s["service"], api=s["api"], action=s.get("action", EXECUTE_AWS_API),
        description=s.get("description", ""), request=value_from_json(s["request"]),
        outputs=[Output(**{**o, "where": Condition(**o["where"]) if o.get("where") else None})
                 for o in s.get("outputs", [])],
        records=[RecordRef(**r) for r in s.get("records", [])],
        wait=Wait(**s["wait"]) if s.get("wait") else None,
        retry=Retry(**s["retry"]) if s.get("retry") else None,
        batch=s.get("batch"),
        loop=Loop(over=value_from_json(loop["over"]), iterations=loop["iterations"],
                  steps=[_step_from_json(inner) for inner in loop["steps"]]) if loop else None,
        branch=_branch_from_json(s["branch"]) if s.get("branch") else None,
        expected_errors=list(s.get("expected_errors", [])),
    )
