"""``pysynth graph``: the data flow of a runbook as Mermaid or DOT, with hostile labels kept inert."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePath

import pydot
import pytest
from conftest import run_cli

from pysynth.graph import graph
from pysynth.model import (
    Input,
    InputRef,
    OutputRef,
    RecordRef,
    Runbook,
    Step,
    runbook_to_json,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parents[1]
# Every line of pysynth's Mermaid: the header, a node, an edge, or the input style.
MERMAID_LINE = re.compile(
    r'flowchart TD'
    r'|  [is]\d+(\[/|\[\[|\[|\{\{|\{|\(\[)"[^"]*"(/\]|\]\]|\]|\}\}|\}|\]\))'
    r'|  [is]\d+ (-->|-\.->|==>)(\|"[^"|]*"\|)? s\d+'
    r'|  classDef input fill:#eef,stroke:#66a|  class [is\d,]+ input'
)


def test_the_onboarding_runbook_as_mermaid():
    result = run_cli("graph", str(GOLDEN / "iam-onboarding.ssm.yaml"))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  i2[/"Password<br/>input (String, secret)"/]' in lines
    assert '  s1["CreateUser<br/>iam CreateUser<br/>iam-onboarding.json record 2"]' in lines
    # The user CreateUser made flows into the four later steps; the group input into AddUserToGroup.
    assert [line for line in lines if line.startswith("  s1 -->")] == [
        f'  s1 -->|"UserName → UserName"| s{number}' for number in (2, 3, 4, 5)
    ]
    assert '  i3 -->|"GroupName"| s4' in lines
    assert [line for line in lines if "-.->" in line] == [f"  s{n} -.-> s{n + 1}" for n in range(1, 5)]


def test_dot_parses_with_the_same_nodes_and_edges(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = run_cli("graph", "--format", "dot", "--principal", "alice", "examples/iam-onboarding.json")
    assert result.code == 0, result.stderr
    (parsed,) = pydot.graph_from_dot_data(result.stdout)
    assert len(parsed.get_nodes()) == 3 + 5 + 2  # inputs, steps, and the node and edge defaults
    assert len(parsed.get_edges()) == 4 + 4 + 3  # order, the user CreateUser made, the three inputs
    labels = {json.loads(node.get("label")) for node in parsed.get_nodes() if node.get("label")}
    assert "AddUserToGroup\niam AddUserToGroup\niam-onboarding.json record 5" in labels


def test_the_terraform_runbook_draws_every_step_and_flow():
    text = graph(_load("terraform-vpc"), "mermaid")
    assert all(MERMAID_LINE.fullmatch(line) for line in text.splitlines()), text
    runbook = _load("terraform-vpc")
    nodes = [line for line in text.splitlines() if re.match(r'  s\d+(\[|\{)', line)]
    assert len(nodes) == len(runbook.steps)
    wait = next(line for line in nodes if "WaitForNatGatewayAvailable" in line)
    assert wait.startswith("  s") and '{{"WaitForNatGatewayAvailable<br/>aws:waitForAwsResourceProperty: ec2 ' \
        'DescribeNatGateways<br/>waits (NatGatewayAvailable) until $.NatGateways[0].State in available' in wait
    # RunInstances takes the instance profile the runbook created.
    assert '  s7 -->|"InstanceProfileName → IamInstanceProfile.Name"| s22' in text.splitlines()


def _load(example: str) -> Runbook:
    from pysynth.ssm import load_runbook

    return load_runbook(GOLDEN / f"{example}.ssm.yaml")


HOSTILE = 'evil"] --> s9 & <b>x</b> `md` | #35; \n]]'


def hostile_runbook() -> Runbook:
    return Runbook(
        description=HOSTILE,
        inputs=[Input("Name", "String", HOSTILE, default=HOSTILE)],
        steps=[
            Step("Make", "sqs", "CreateQueue", {"QueueName": InputRef("Name")},
                 records=[RecordRef(f"logs/{HOSTILE}.json", 3, HOSTILE, HOSTILE)]),
            Step("Wait", "", "", {"Service": "sqs", "Api": "GetQueueUrl", "QueueName": OutputRef("Make", "QueueUrl"),
                                  "PropertySelector": "$.QueueUrl", "DesiredValues": [HOSTILE]},
                 action="aws:waitForAwsResourceProperty"),
            Step("Choose", "", "", {"Choices": [{"NextStep": "Make", "Variable": "{{ Name }}", "StringEquals": "a"}],
                                    "Default": "Wait"}, action="aws:branch"),
            Step("Script", "", "", {"Script": HOSTILE}, action=f"aws:{HOSTILE}"),
        ],
    )


def test_hostile_labels_cannot_break_the_mermaid_or_the_dot():
    runbook = hostile_runbook()
    mermaid = graph(runbook, "mermaid")
    assert all(MERMAID_LINE.fullmatch(line) for line in mermaid.splitlines()), mermaid
    assert '  s2{{"Wait<br/>aws:waitForAwsResourceProperty: sqs GetQueueUrl"}}' in mermaid
    assert '  s3 ==>|"choice 1"| s1' in mermaid and '  s3 ==>|"default"| s2' in mermaid
    (parsed,) = pydot.graph_from_dot_data(graph(runbook, "dot"))
    shapes = {node.get_name(): node.get("shape") for node in parsed.get_nodes()}
    assert (shapes["s2"], shapes["s3"], shapes["s4"]) == ("hexagon", "diamond", "box")
    label = json.loads(next(node for node in parsed.get_nodes() if node.get_name() == "s1").get("label"))
    assert label == f"Make\nsqs CreateQueue\n{PurePath(f'logs/{HOSTILE}.json').name} record 3"


def test_bad_input(tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(runbook_to_json(Runbook("nothing", [], []))))
    result = run_cli("graph", str(empty))
    assert result.code == 1 and result.stderr.strip() == (
        f"error: {empty}: the runbook has no steps, so there is nothing to draw"
    )
    result = run_cli("graph", "--format", "svg", str(GOLDEN / "iam-onboarding.ssm.yaml"))
    assert result.code == 2 and "choose one of mermaid, dot" in result.stderr
    with pytest.raises(ValueError):
        graph(hostile_runbook(), "png")
