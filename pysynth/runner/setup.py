"""Setting up a run before anything runs: the parameters the user gave, converted to their SSM types,
every step checked by its action's handler, and the AWS session (the assumed role, the ``global:``
values the runbook uses)."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Mapping

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from pysynth.model import GlobalRef, Input, Runbook, Template, used_values, walk
from pysynth.render import ASSUME_ROLE, ASSUME_ROLE_PATTERN, environment_name
from pysynth.render.ssm import paged_reads
from pysynth.runner.actions import step_problems
from pysynth.runner.values import REFERENCES, Aws, Execution, RunFailed, RunRefused, Unknown

ROLE_SESSION_NAME = "pysynth-run"
PARAMETER = re.compile(r"([A-Za-z][A-Za-z0-9_]*)=(.*)\Z", re.S)


@dataclass(frozen=True, slots=True)
class RunOptions:
    parameters: dict[str, str] = field(default_factory=dict)  # input name -> text, from --param
    endpoint_url: str | None = None
    region: str | None = None
    dry_run: bool = False


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
        problems += step_problems(step)
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
    paged = paged_reads(runbook.steps)
    if options.dry_run:
        known = {"REGION": session.region_name} if session.region_name else {}
        return Execution(inputs, secrets, known, aws=None, paged_reads=paged)
    if role:
        session = _assumed(session, role, options.endpoint_url)
    aws = Aws(session, options.endpoint_url)
    return Execution(inputs, secrets, _globals(runbook, aws), aws, paged_reads=paged)


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
    used = {reference.name for step in walk(runbook.steps) for reference in _references(used_values(step))
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
    elif isinstance(value, REFERENCES):
        yield value
