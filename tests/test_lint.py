"""Every golden SSM runbook passes cfn-lint wrapped in an AWS::SSM::Document, and Systems Manager's
documented limits; ``synth --with-role`` templates pass cfn-lint too; the limits catch what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SHARED, make_record, run_cli, write_log

from pysynth.cloudformation import document_resource
from pysynth.lint import limit_problems, max_document_bytes

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = ["iam-onboarding", "terraform-vpc", "iam-users", "ec2-security-group-snapshot"]
# cfn-lint's W2501 flags any property named Password that is not a NoEcho parameter; in an SSM
# document "Password: {{ Password }}" is a reference to the runbook's secret input, not a literal.
IGNORED = {"W2501"}


def cfn_lint(template: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "template.yaml"
    path.write_text(template)
    linter = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(linter), "--format", "json", "--", str(path)], capture_output=True, text=True,
                          check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode in (0, 2, 4, 6, 8, 10, 12, 14), done.stderr  # cfn-lint's bit mask of what it found
    return [match for match in json.loads(done.stdout or "[]") if match["Rule"]["Id"] not in IGNORED]


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_golden_runbook_passes_cfn_lint_and_ssm_limits(example, tmp_path):
    text = (GOLDEN / f"{example}.ssm.yaml").read_text()
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Runbook": document_resource(text)}}
    assert cfn_lint(yaml.safe_dump(template, sort_keys=False), tmp_path) == []
    assert limit_problems(text) == []


@pytest.mark.parametrize("example", ["iam-onboarding", "terraform-vpc"])
def test_the_template_with_its_role_passes_cfn_lint(example, tmp_path, monkeypatch):
    arguments = {
        "iam-onboarding": ["--principal", "alice", "examples/iam-onboarding.json"],
        "terraform-vpc": ["../shared/cloudtrail/invictus_terraform_vpc_iam_ec2_deploy_session.json"],
    }[example]
    if example == "terraform-vpc" and not SHARED.is_dir():
        pytest.skip(f"shared corpus not present at {SHARED}")
    monkeypatch.chdir(ROOT)
    result = run_cli("synth", "--with-role", *arguments)
    assert result.code == 0, result.stderr
    assert cfn_lint(result.stdout, tmp_path) == []
    template = yaml.safe_load(result.stdout)
    role = template["Resources"]["RunbookRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "ssm.amazonaws.com"}
    content = template["Resources"]["Runbook"]["Properties"]["Content"]
    assert content["parameters"]["AutomationAssumeRole"]["default"] == {"Fn::GetAtt": ["RunbookRole", "Arn"]}
    # The document inside is the golden one.
    golden = yaml.safe_load((GOLDEN / f"{example}.ssm.yaml").read_text())
    golden["parameters"]["AutomationAssumeRole"]["default"] = {"Fn::GetAtt": ["RunbookRole", "Arn"]}
    assert content == golden


def test_with_role_needs_the_ssm_format():
    result = run_cli("synth", "--with-role", "--format", "bash", "--principal", "alice",
                     str(ROOT / "examples" / "iam-onboarding.json"))
    assert result.code == 2 and "--with-role wraps an SSM document" in result.stderr


def test_the_limits_catch_what_they_say():
    loop = {
        "schemaVersion": "0.3",
        "mainSteps": [
            {"name": "Each", "action": "aws:loop",
             "inputs": {"MaxIterations": 101, "Iterators": [str(number) for number in range(101)],
                        "Steps": [{"name": "Each", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}},
            {"name": "Read", "action": "aws:executeAwsApi", "inputs": {"Service": "sts", "Api": "GetCallerIdentity"},
             "outputs": [{"Name": "Account", "Selector": "Account", "Type": "Float"}]},
        ],
    }
    assert limit_problems(yaml.safe_dump(loop)) == [
        "step Each: MaxIterations 101: aws:loop runs 1 to 100 times",
        "step Each: 101 iterators: aws:loop takes at most 100",
        "step Read: output Account: the selector 'Account' is not a JSONPath ($…)",
        ("step Read: output Account: 'Float' is not an output type (String, Integer, Boolean, StringList, StringMap, "
         "MapList)"),
        "step name 'Each' is used 2 times; step names must be unique",
    ]
    # A loop over a parameter walks its default; a body step's own problems count as any step's.
    over_parameter = {
        "schemaVersion": "0.3",
        "parameters": {"Buckets": {"type": "StringList", "default": [f"logs-{number}" for number in range(150)]}},
        "mainSteps": [{"name": "EachBucket", "action": "aws:loop", "inputs": {
            "Iterators": "{{ Buckets }}", "IteratorDataType": "String",
            "Steps": [{"name": "Encrypt", "action": "aws:executeAwsApi", "inputs": {"Service": "s3", "Api": "ListBuckets"},
                       "outputs": [{"Name": "Owner", "Selector": "$.Owner.ID", "Type": "Text"}]}]}}],
    }
    assert limit_problems(yaml.safe_dump(over_parameter)) == [
        ("step EachBucket: it walks parameter Buckets, whose default has 150 elements: aws:loop takes at most 100 "
         "(give a shorter list, or split it)"),
        ("step Encrypt: output Owner: 'Text' is not an output type (String, Integer, Boolean, StringList, StringMap, "
         "MapList)"),
    ]
    nested = {"schemaVersion": "0.3", "mainSteps": [{"name": "EachGroup", "action": "aws:loop", "inputs": {
        "Iterators": ["admins"], "IteratorDataType": "String", "Steps": [{"name": "EachUser", "action": "aws:loop", "inputs": {
            "Iterators": ["bob"], "IteratorDataType": "String",
            "Steps": [{"name": "Pause", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}]}}]}}]}
    assert limit_problems(yaml.safe_dump(nested)) == [
        "step EachUser: Systems Manager runs no aws:loop inside another (EachGroup)"]
    assert max_document_bytes() == 64 * 1024  # botocore's documentation of CreateDocument says so
    big = "schemaVersion: '0.3'\ndescription: \"" + "x" * max_document_bytes() + "\"\nmainSteps: []\n"
    assert limit_problems(big)[0].startswith(f"the document is {len(big):,} bytes; Systems Manager takes at most")


def test_synth_warns_of_a_document_over_the_limits_and_still_prints_it(tmp_path):
    statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::logs-{number}/*"}
                  for number in range(1200)]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    log = write_log(tmp_path / "policy.json", [make_record(
        "PutUserPolicy", request={"userName": "bob", "policyName": "reads", "policyDocument": policy})])
    result = run_cli("synth", "--all-principals", str(log))
    assert result.code == 0, result.stderr
    size = len(result.stdout.encode())
    assert size > max_document_bytes()
    assert (f"warning: Systems Manager would refuse this document: the document is {size:,} bytes; Systems Manager "
            f"takes at most {max_document_bytes():,}") in result.stderr
    # The rendering's check hands on the document it read back: the limits see what a fresh parse sees.
    assert limit_problems(result.stdout, yaml.safe_load(result.stdout)) == limit_problems(result.stdout)


def test_upload_refuses_a_document_over_the_limits(tmp_path):
    document = yaml.safe_load((GOLDEN / "iam-onboarding.ssm.yaml").read_text())
    document["description"] = "x" * max_document_bytes()
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(document))
    result = run_cli("upload", str(path), "--name", "Too-Big", "--endpoint-url", "http://127.0.0.1:9")
    assert result.code == 4 and "Systems Manager takes at most 65,536" in result.stderr
