"""Reads botocore paginates, in the SSM rendering: aws:executeAwsApi returns one page, so a read with a
list output is pysynth's aws:executeScript that reads every page. The document says why and reads
back as the same runbook; its script, run for real against a moto server, gives what ``pysynth run``
gives; other reads stay one call. test_loops_emulator runs such documents on moto over several pages
and checks that every element was acted on."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import run_cli
from loop_runbooks import first_listed_key, list_output, loop_step, record, stop_running_instances, tag_listed_objects
from moto_server import REGION, moto_server  # noqa: F401 (the fixture)
from test_lint import cfn_lint
from test_render import HOSTILE

from pysynth.cli import EXIT_USAGE
from pysynth.cloudformation import document_resource
from pysynth.lint import limit_problems
from pysynth.model import Condition, Input, InputRef, ItemRef, OutputRef, Runbook, Step, Template
from pysynth.render import RenderError, render, render_checked
from pysynth.resources import templates_root
from pysynth.ssm import load_runbook, parse_document

SCRIPT = templates_root().joinpath("ssm_read_every_page.py").read_text(encoding="utf-8")


def steps_of(text: str) -> dict[str, dict]:
    return {step["name"]: step for step in yaml.safe_load(text)["mainSteps"]}


def delete_key_pairs(prefix: str = "app-") -> Runbook:
    """DescribeKeyPairs, a read botocore answers in one response, then DeleteKeyPair on each key pair
    whose name starts with ``prefix``."""
    names = list_output("Names", "KeyPairs[*].KeyName", Condition("KeyPairs[*]", "KeyName", "prefix", prefix))
    return Runbook("Delete the app key pairs.", [], [
        Step("DescribeKeyPairs", "ec2", "DescribeKeyPairs", {}, outputs=[names], records=[record(1)]),
        loop_step("EachKeyName", OutputRef("DescribeKeyPairs", "Names"), [
            Step("DeleteKeyPair", "ec2", "DeleteKeyPair", {"KeyName": ItemRef("EachKeyName")}, records=[record(2)]),
        ], iterations=2),
    ])


# --------------------------------------------------------------------------- the document


def test_a_read_with_a_list_output_is_the_script_that_reads_every_page():
    runbook = tag_listed_objects(page_size=2, prefix="reports/", start_token="token-of-a-logged-page")
    text = render_checked(runbook, "ssm")
    document = yaml.safe_load(text)
    listing, loop = document["mainSteps"]
    assert listing["action"] == "aws:executeScript"
    assert listing["inputs"] == {
        "Runtime": "python3.11", "Handler": "read_every_page", "Script": SCRIPT,
        "InputPayload": {
            "Service": "s3", "Api": "ListObjectsV2",
            # The request as the log has it: the script leaves the logged starting token out.
            "Request": {"Bucket": "{{ Bucket }}", "MaxKeys": 2, "ContinuationToken": "token-of-a-logged-page"},
            "Outputs": {"Keys": ["Contents", {"Property": ["Key"], "Test": "prefix", "Value": "reports/"}, "Key"]},
        },
    }
    assert listing["outputs"] == [{"Name": "Keys", "Selector": "$.Payload.Keys", "Type": "StringList"}]
    assert listing["description"].endswith(
        "\n\nReads every page of s3 ListObjectsV2 in a script (aws:executeScript): aws:executeAwsApi returns only "
        "the first page, and a list this step gives holds every element. Automation runs the script with the "
        "permissions of AutomationAssumeRole only, so give that role.")
    # The loop reads the list as before, and still says SSM's limit of 100 iterations.
    assert loop["inputs"]["Iterators"] == "{{ ListObjectsV2.Keys }}"
    assert "at most 100 times: on a longer list this step fails" in loop["description"]
    assert "page" not in loop["description"]
    # Automation runs a script with the role's permissions only: the role is required.
    role = document["parameters"]["AutomationAssumeRole"]
    assert "default" not in role and role["description"].startswith("(Required) ")
    assert "Step ListObjectsV2 reads every page in a script (aws:executeScript)" in role["description"]
    assert role["allowedPattern"] == r"^arn:aws[a-z0-9-]*:iam::\d{12}:role/[\w+=,.@/-]+$"


def test_the_script_reads_back_as_the_same_runbook(tmp_path):
    runbook = first_listed_key(page_size=2, with_every_key=True)  # a single value beside the list
    runbook.steps += tag_listed_objects(start_token="token-of-a-logged-page").steps
    runbook.step("ListObjectsV2").name = "ListFirst"
    text = render_checked(runbook, "ssm")
    assert parse_document(text, "pages.yaml") == runbook
    path = tmp_path / "pages.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_runbook(path) == runbook


def test_a_batch_step_s_list_is_read_from_every_page_too():
    steps = steps_of(render_checked(stop_running_instances(), "ssm"))
    assert steps["DescribeInstances"]["action"] == "aws:executeScript"
    assert steps["DescribeInstances"]["inputs"]["InputPayload"]["Outputs"] == {"RunningIds": [
        "Reservations", "*", "Instances",
        {"Property": ["State", "Name"], "Test": "equals", "Value": "running"}, "InstanceId",
    ]}
    assert steps["StopInstances"]["inputs"]["InstanceIds"] == "{{ DescribeInstances.RunningIds }}"


def test_other_reads_stay_one_aws_execute_aws_api_call():
    # botocore has no paginator for DescribeKeyPairs: one call returns every key pair.
    text = render_checked(delete_key_pairs(), "ssm")
    listing = steps_of(text)["DescribeKeyPairs"]
    assert listing["action"] == "aws:executeAwsApi"
    assert listing["outputs"] == [
        {"Name": "Names", "Selector": "$.KeyPairs[?(@.KeyName =~ /^app\\-.*/)].KeyName", "Type": "StringList"},
    ]
    assert yaml.safe_load(text)["parameters"]["AutomationAssumeRole"]["default"] == ""
    # A single value of a paginated read is its first page's, as one call gives it.
    assert steps_of(render_checked(first_listed_key(), "ssm"))["ListObjectsV2"]["action"] == "aws:executeAwsApi"
    assert parse_document(text, "x") == delete_key_pairs()


def test_hostile_values_in_the_request_and_the_condition_survive():
    runbook = Runbook("Hostile listings.", [Input("Bucket", "String", "b", default="it's \"b\"")], [])
    for index, value in enumerate(HOSTILE):
        keys = list_output("Keys", "Contents[*].Key", Condition("Contents[*]", "Key", "prefix", value))
        runbook.steps.append(Step(f"List{index}", "s3", "ListObjectsV2", {
            "Bucket": InputRef("Bucket"), "Prefix": value, "StartAfter": Template((f"<{value}", InputRef("Bucket"), f"{value}>")),
        }, outputs=[keys], records=[record(index + 1)]))
    text = render_checked(runbook, "ssm")  # check() reads every step back and compares it with the model
    steps = steps_of(text)
    for index, value in enumerate(HOSTILE):
        payload = steps[f"List{index}"]["inputs"]["InputPayload"]
        assert payload["Request"] == {"Bucket": "{{ Bucket }}", "Prefix": value,
                                      "StartAfter": f"<{value}{{{{ Bucket }}}}{value}>"}
        assert payload["Outputs"]["Keys"][1]["Value"] == value
    assert parse_document(text, "x") == runbook


def test_a_brace_in_a_condition_value_is_refused_where_the_script_carries_it():
    # A selector escapes a prefix's braces in its regular expression; the script's payload cannot.
    with pytest.raises(RenderError, match=r"output ListObjectsV2.Keys: the condition's value contains '\{\{'"):
        render(tag_listed_objects(prefix="{{ x }}/"), "ssm")
    render_checked(delete_key_pairs(prefix="{{ x }}"), "ssm")


def test_the_document_passes_cfn_lint_and_the_ssm_limits(tmp_path):
    text = render_checked(tag_listed_objects(), "ssm")
    assert limit_problems(text) == []
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Runbook": document_resource(text)}}
    assert cfn_lint(yaml.safe_dump(template, sort_keys=False), tmp_path) == []


# --------------------------------------------------------------------------- running on the emulator


@pytest.fixture
def endpoint(moto_server) -> str:  # noqa: F811 (the fixture)
    """The moto server's URL, its state reset."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).close()
    return moto_server


def written(runbook: Runbook, tmp_path: Path) -> Path:
    path = tmp_path / "runbook.yaml"
    path.write_text(render_checked(runbook, "ssm"), encoding="utf-8")
    return path


def run_script(document: Path, step: str, references: dict[str, str], endpoint: str, monkeypatch) -> dict:
    """What the document's script returns for ``step`` when Automation runs it: its InputPayload with
    ``references`` substituted, its handler called, boto3 pointed at the emulator."""
    inputs = steps_of(document.read_text(encoding="utf-8"))[step]["inputs"]
    payload = json.dumps(inputs["InputPayload"])
    for reference, value in references.items():
        payload = payload.replace(json.dumps(reference), json.dumps(value))
    namespace: dict = {}
    exec(compile(inputs["Script"], "ssm_read_every_page.py", "exec"), namespace)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    return namespace[inputs["Handler"]](json.loads(payload), None)


def test_the_script_and_pysynth_run_read_the_same_elements_from_every_page(endpoint, tmp_path, monkeypatch):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket="finance")
    folder = "it's \"q\" $(x) `y` ü {a}/"
    reports = [f"{folder}{name}" for name in ("r1.csv", "r 2.csv", "r*3", "r'4'", "r5")]
    for key in [*reports, f"{folder}draft.csv", "other/r6.csv", "r7.csv"]:
        s3.put_object(Bucket="finance", Key=key, Body=b"")
    runbook = tag_listed_objects(page_size=2, prefix=f"{folder}r", start_token="token-of-a-logged-page")
    runbook.step("ListObjectsV2").request["Prefix"] = folder
    path = written(runbook, tmp_path)

    returned = run_script(path, "ListObjectsV2", {"{{ Bucket }}": "finance"}, endpoint, monkeypatch)
    assert sorted(returned["Keys"]) == sorted(reports)  # three pages of two keys under the folder
    result = run_cli("run", str(path), "--endpoint-url", endpoint, "--param", "Bucket=finance")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"ListObjectsV2.Keys": returned["Keys"]}
    tagged = [key for key in reports if s3.get_object_tagging(Bucket="finance", Key=key)["TagSet"]]
    assert sorted(tagged) == sorted(reports)

    # A single value beside the list is the first page's; the list has every page's keys, and
    # timestamps are ISO 8601 text in both.
    runbook = first_listed_key(page_size=2, with_every_key=True)
    runbook.step("ListObjectsV2").outputs.append(list_output("Times", "Contents[*].LastModified"))
    path = written(runbook, tmp_path)
    returned = run_script(path, "ListObjectsV2", {"{{ Bucket }}": "finance"}, endpoint, monkeypatch)
    result = run_cli("run", str(path), "--endpoint-url", endpoint, "--param", "Bucket=finance")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"ListObjectsV2.FirstKey": returned["FirstKey"],
                                         "ListObjectsV2.Keys": returned["Keys"], "ListObjectsV2.Times": returned["Times"]}
    assert returned["FirstKey"] == "it's \"q\" $(x) `y` ü {a}/draft.csv" and len(returned["Keys"]) == 8
    assert len(returned["Times"]) == 8 and all("T" in time for time in returned["Times"])


def test_a_dry_run_says_which_reads_read_every_page(tmp_path):
    runbook = tag_listed_objects(start_token="token-of-a-logged-page")
    result = run_cli("run", str(written(runbook, tmp_path)), "--dry-run")
    assert result.code == 0, result.stderr
    listing = json.loads(result.stdout)[0]
    # From the first page: the request the paginator starts with, without the logged token.
    assert listing == {"step": "ListObjectsV2", "action": "aws:executeAwsApi", "service": "s3",
                       "api": "ListObjectsV2", "request": {"Bucket": "audit-logs", "MaxKeys": 2}, "every_page": True}


def test_a_read_without_a_paginator_walked_by_a_loop_runs_as_one_call(endpoint, tmp_path):
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=REGION)
    for name in ("app-web", "app-db", "app-queue", "build", "apps"):
        ec2.create_key_pair(KeyName=name)
    result = run_cli("run", str(written(delete_key_pairs(), tmp_path)), "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    assert sorted(pair["KeyName"] for pair in ec2.describe_key_pairs()["KeyPairs"]) == ["apps", "build"]


def test_pysynth_run_refuses_any_other_script_before_any_call(endpoint, tmp_path):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket="audit-logs")
    s3.put_object(Bucket="audit-logs", Key="reports/a.csv", Body=b"")
    text = render_checked(tag_listed_objects(), "ssm")
    # Not the script pysynth writes: another script, which pysynth run does not run.
    changed = tmp_path / "changed.yaml"
    changed.write_text(text.replace("def read_every_page(events, context):",
                                    "def read_every_page(events, context):\n        print(events)"), encoding="utf-8")
    result = run_cli("run", str(changed), "--endpoint-url", endpoint)
    assert result.code == EXIT_USAGE
    assert ("error: step ListObjectsV2: action aws:executeScript is not supported by pysynth run yet (it runs "
            "aws:executeAwsApi, aws:waitForAwsResourceProperty, aws:loop, aws:branch)") in result.stderr
    # pysynth's script with an InputPayload it does not write: named, and nothing runs either.
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("        Outputs:\n", "        Paths:\n"), encoding="utf-8")
    result = run_cli("run", str(broken), "--endpoint-url", endpoint)
    assert result.code == EXIT_USAGE
    assert (f"error: {broken}: step ListObjectsV2: the script's InputPayload needs Service, Api, Request and "
            "Outputs, as pysynth writes them") in result.stderr
    assert s3.get_object_tagging(Bucket="audit-logs", Key="reports/a.csv")["TagSet"] == []
