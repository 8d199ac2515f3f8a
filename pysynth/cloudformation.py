"""CloudFormation around an SSM rendering: the document as an ``AWS::SSM::Document`` resource, and
(``synth --format ssm --with-role``) a template that also holds the least-privilege role it runs
under.

The role trusts Systems Manager Automation in this account only (``aws:SourceAccount`` and
``aws:SourceArn``, as AWS recommends against the confused deputy). Its policy is ``pysynth iam``'s,
each ARN an ``Fn::Sub``: partition, account and region from the stack, and every runbook input the
ARNs name as a template parameter, defaulting to the input's default. The role is so scoped to the
values the stack is deployed with; the document's AutomationAssumeRole defaults to it.
"""

from __future__ import annotations

import re

import yaml

from pysynth import safe_yaml
from pysynth.iam import (
    GLOBAL_PLACEHOLDERS,
    Parts,
    Placeholder,
    permissions,
    policy_document,
)
from pysynth.model import Runbook
from pysynth.render.ssm import ASSUME_ROLE

TEMPLATE_VERSION = "2010-09-09"
DOCUMENT = "Runbook"
ROLE = "RunbookRole"
STACK_VALUES = {"Partition": "AWS::Partition", "Account": "AWS::AccountId", "Region": "AWS::Region"}


def document_resource(ssm_text: str) -> dict:
    """The SSM document as a resource; its content a mapping, as CloudFormation takes it."""
    return {"Type": "AWS::SSM::Document",
            "Properties": {"DocumentType": "Automation", "Content": safe_yaml.load(ssm_text),
                           "UpdateMethod": "NewVersion"}}


def template_with_role(runbook: Runbook, ssm_text: str) -> str:
    granted = permissions(runbook)
    parameters = _parameter_names([name for name in granted.placeholders if name not in GLOBAL_PLACEHOLDERS.values()])

    def sub(parts: Parts) -> object:
        text = "".join(
            part.replace("${", "${!") if isinstance(part, str) else "${" + _stack_name(part, parameters) + "}"
            for part in parts
        )
        return {"Fn::Sub": text} if any(isinstance(part, Placeholder) for part in parts) else text

    inputs = {item.name: item for item in runbook.inputs}
    document = document_resource(ssm_text)
    content_parameters = document["Properties"]["Content"].get("parameters", {})
    if ASSUME_ROLE in content_parameters:
        content_parameters[ASSUME_ROLE]["default"] = {"Fn::GetAtt": [ROLE, "Arn"]}
    template = {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": _one_line(f"pysynth runbook and the least-privilege role it runs under. {runbook.description}"),
        "Parameters": {
            parameter: {
                "Type": "String",
                "Description": _one_line(f"The runbook's input {name}, which the role's resources name."),
                **({"Default": str(inputs[name].default)} if name in inputs and inputs[name].default is not None else {}),
            }
            for name, parameter in parameters.items()
        },
        "Resources": {
            ROLE: {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Description": "The role the pysynth runbook runs under (AutomationAssumeRole).",
                    "AssumeRolePolicyDocument": _trust_policy(),
                    "Policies": [{"PolicyName": "runbook", "PolicyDocument": policy_document(granted, arn=sub)}],
                },
            },
            DOCUMENT: document,
        },
        "Outputs": {
            "DocumentName": {"Value": {"Ref": DOCUMENT}, "Description": "The Automation document to start."},
            "RoleArn": {"Value": {"Fn::GetAtt": [ROLE, "Arn"]}, "Description": "The role it runs under."},
        },
    }
    if not template["Parameters"]:
        del template["Parameters"]
    return yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=120)


def _trust_policy() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ssm.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnLike": {"aws:SourceArn": {
                    "Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:automation-execution/*"}},
            },
        }],
    }


def _parameter_names(inputs: list[str]) -> dict[str, str]:
    """A CloudFormation parameter name (letters and digits) for each input, unique."""
    names: dict[str, str] = {}
    for name in inputs:
        base = re.sub(r"[^A-Za-z0-9]", "", name) or "Input"
        candidate, number = base, 1
        while candidate in names.values() or candidate in (DOCUMENT, ROLE):
            number += 1
            candidate = f"{base}{number}"
        names[name] = candidate
    return names


def _stack_name(placeholder: Placeholder, parameters: dict[str, str]) -> str:
    return STACK_VALUES.get(placeholder.name) or parameters[placeholder.name]


def _one_line(text: str) -> str:
    return " ".join(text.split())[:1024]
