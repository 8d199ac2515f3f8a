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
    LOOP,
    Condition,
    IndexRef,
    Input,
    InputRef,
    ItemRef,
    Loop,
    Output,
    OutputRef,
    RecordRef,
    Runbook,
    Step,
    Template,
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
    r'|  subgraph c\d+ \["[^"]*"\]|  end'
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


def loop_runbook() -> Runbook:
    """List the buckets; for each log bucket, encrypt it and tag it with its iteration's number;
    then stop the instances, all in one call."""
    names = Output("Names", "$.Buckets[?(@.Name =~ /^logs\\-.*/)].Name", "StringList", "Buckets[*].Name",
                   where=Condition("Buckets[*]", "Name", "prefix", "logs-"))
    body = [
        Step("EncryptBucket", "s3", "PutBucketEncryption", {
            "Bucket": ItemRef("EachBucket"),
            "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "AES256"}}]}}, records=[RecordRef("trace.json", 1, None, None)]),
        Step("TagBucket", "s3", "PutBucketTagging", {
            "Bucket": ItemRef("EachBucket"),
            "Tagging": {"TagSet": [{"Key": "n", "Value": Template(("bucket-", IndexRef("EachBucket")))}]}}),
    ]
    return Runbook("Buckets.", [Input("InstanceIds", "StringList", "The instances.", default=["i-1", "i-2"])], [
        Step("ListBuckets", "s3", "ListBuckets", {}, outputs=[names]),
        Step("EachBucket", "", "", {}, action=LOOP, loop=Loop(OutputRef("ListBuckets", "Names"), body, 3),
             records=[RecordRef("trace.json", number, None, None) for number in (1, 2, 3)]),
        Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": InputRef("InstanceIds")}, batch="InstanceIds",
             records=[RecordRef("trace.json", number, None, None) for number in range(4, 9)]),
    ])


def test_a_loop_is_a_cluster_its_list_and_element_flow_through():
    lines = graph(loop_runbook(), "mermaid").splitlines()
    assert all(MERMAID_LINE.fullmatch(line) for line in lines), lines
    # The loop node heads its cluster, the body's steps inside it; the step after the loop is outside.
    # The loop node names its iterations, not every call of its body.
    start, end = lines.index('  subgraph c2 ["loop EachBucket"]'), lines.index("  end")
    assert [line.split("[")[0].strip() for line in lines[start + 1:end]] == ["s2", "s3", "s4"]
    assert lines[start + 1] == ('  s2[["EachBucket<br/>aws:loop over ListBuckets.Names (Buckets[*].Name where Name '
                                'starts with #quot;logs-#quot;)<br/>3 iterations in the log"]]')
    assert ('  s5["StopInstances<br/>ec2 StopInstances<br/>one call for the whole list in InstanceIds<br/>'
            'trace.json record 4<br/>trace.json record 5<br/>trace.json record 6<br/>and 2 more records"]') in lines[end:]
    for edge in ['  s1 -->|"Names → each element"| s2', '  s2 -->|"element → Bucket"| s3',
                 '  s2 -->|"element → Bucket"| s4', '  s2 -->|"iteration number → Tagging.TagSet[0].Value"| s4',
                 "  s2 -.-> s3", "  s3 -.-> s4", '  s4 -.->|"next element"| s2', "  s2 -.-> s5", "  s1 -.-> s2"]:
        assert edge in lines


def test_a_loop_is_a_dot_cluster():
    (parsed,) = pydot.graph_from_dot_data(graph(loop_runbook(), "dot"))
    (cluster,) = parsed.get_subgraphs()
    assert cluster.get_name() == "cluster_c2" and json.loads(cluster.get("label")) == "loop EachBucket"
    assert [node.get_name() for node in cluster.get_nodes()] == ["s2", "s3", "s4"]
    assert {node.get_name() for node in parsed.get_nodes()} >= {"i1", "s1", "s5"}
    back = [edge for edge in parsed.get_edges() if (edge.get_source(), edge.get_destination()) == ("s4", "s2")]
    assert [(json.loads(edge.get("label")), edge.get("style")) for edge in back] == [("next element", "dashed")]
