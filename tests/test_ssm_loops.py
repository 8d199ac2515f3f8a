"""Loops in the SSM Automation rendering: aws:loop steps with their body nested, list outputs with
filters, batch steps; the document read back as the same runbook."""

from __future__ import annotations

import pytest
import yaml
from test_lint import cfn_lint

from pysynth.cloudformation import document_resource
from pysynth.lint import limit_problems
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
)
from pysynth.paths import list_selector
from pysynth.render import RenderError, render, render_checked
from pysynth.ssm import DocumentError, load_runbook, parse_document

LOG = "trail.json"
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


def loop_step(name: str, over, steps: list[Step], iterations: int, description: str = "") -> Step:
    return Step(name, "", "", {}, action=LOOP, description=description, loop=Loop(over, steps, iterations))


def list_output(name: str, path: str, where: Condition | None = None) -> Output:
    return Output(name, list_selector(path, where), "StringList", path, where=where)


def encrypt_logs_buckets(prefix: str = "logs-") -> Runbook:
    """ListBuckets, then PutBucketEncryption on each bucket whose name starts with ``prefix``."""
    names = list_output("Names", "Buckets[*].Name", Condition("Buckets[*]", "Name", "prefix", prefix))
    return Runbook("Encrypt the log buckets.", [], [
        Step("ListBuckets", "s3", "ListBuckets", {}, outputs=[names], records=[RecordRef(LOG, 1, "e1", None)]),
        loop_step("EachBucket", OutputRef("ListBuckets", "Names"), [
            Step("PutBucketEncryption", "s3", "PutBucketEncryption",
                 {"Bucket": ItemRef("EachBucket"), "ServerSideEncryptionConfiguration": ENCRYPTION},
                 records=[RecordRef(LOG, 2, "e2", None)]),
        ], iterations=2),
    ])


def queues_per_name(names: list[str]) -> Runbook:
    """For each name of an input list: create a queue, then tag the new queue (its URL from the
    first step) with the iteration number and a value derived from the name."""
    return Runbook("A tagged queue per name.", [Input("QueueNames", "StringList", "The queues.", default=names)], [
        loop_step("EachName", InputRef("QueueNames"), [
            Step("CreateQueue", "sqs", "CreateQueue", {"QueueName": ItemRef("EachName")},
                 outputs=[Output("QueueUrl", "$.QueueUrl", "String", "QueueUrl")]),
            Step("TagQueue", "sqs", "TagQueue", {"QueueUrl": OutputRef("CreateQueue", "QueueUrl"), "Tags": {
                "position": IndexRef("EachName"), "dead-letter": Template((ItemRef("EachName"), "-dlq")),
            }}),
        ], iterations=len(names), description="One queue per team."),
    ])


def everything() -> Runbook:
    """A filtered list loop with a derived key, an input list loop with a two-step body, and a batch step."""
    runbook = encrypt_logs_buckets()
    runbook.step("EachBucket").loop.steps.append(Step("PutObject", "s3", "PutObject", {
        "Bucket": ItemRef("EachBucket"), "Key": Template((ItemRef("EachBucket"), "/", IndexRef("EachBucket"), "/")),
    }))
    queues = queues_per_name(["build", "deploy"])
    runbook.inputs += queues.inputs + [Input("InstanceIds", "StringList", "The instances.", default=["i-0abc"])]
    runbook.steps += queues.steps + [
        Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": InputRef("InstanceIds")}, batch="InstanceIds",
             records=[RecordRef(LOG, 7, "e7", None), RecordRef(LOG, 8, "e8", None)]),
    ]
    return runbook


def mapping(text: str) -> dict:
    return yaml.safe_load(text)


# --------------------------------------------------------------------------- rendering


def test_a_loop_over_a_filtered_list_renders_as_aws_loop_with_its_body_nested():
    document = mapping(render_checked(everything(), "ssm"))
    listing, loop, queues, stop = document["mainSteps"]
    assert listing["outputs"] == [
        {"Name": "Names", "Selector": "$.Buckets[?(@.Name =~ /^logs\\-.*/)].Name", "Type": "StringList"},
    ]
    assert loop["action"] == "aws:loop"
    assert {key: value for key, value in loop["inputs"].items() if key != "Steps"} == {
        "Iterators": "{{ ListBuckets.Names }}", "IteratorDataType": "String",
    }
    encrypt, put = loop["inputs"]["Steps"]
    assert encrypt["inputs"] == {
        "Service": "s3", "Api": "PutBucketEncryption", "Bucket": "{{ EachBucket.CurrentIteratorValue }}",
        "ServerSideEncryptionConfiguration": ENCRYPTION,
    }
    assert put["inputs"]["Key"] == "{{ EachBucket.CurrentIteratorValue }}/{{ EachBucket.CurrentIteration }}/"
    # The body's steps are not the document's outputs: they are read within their iteration only.
    assert document["outputs"] == ["ListBuckets.Names"]
    tag = queues["inputs"]["Steps"][1]["inputs"]
    assert tag["QueueUrl"] == "{{ CreateQueue.QueueUrl }}"
    assert tag["Tags"] == {"position": "{{ EachName.CurrentIteration }}",
                           "dead-letter": "{{ EachName.CurrentIteratorValue }}-dlq"}
    assert queues["inputs"]["Iterators"] == "{{ QueueNames }}"
    assert stop["inputs"]["InstanceIds"] == "{{ InstanceIds }}"


def test_a_loop_step_says_what_ssm_does_with_long_lists_and_pages():
    steps = {step["name"]: step for step in mapping(render_checked(everything(), "ssm"))["mainSteps"]}
    over_buckets = steps["EachBucket"]["description"]
    assert "for each element of ListBuckets.Names; the log shows 2 iterations." in over_buckets
    assert "at most 100 times: on a longer list this step fails" in over_buckets
    assert "render the runbook as bash or python, or split the list" in over_buckets
    # botocore pages ListBuckets; a single aws:executeAwsApi call sees the first page only.
    assert "s3 ListBuckets returns its list in pages, and aws:executeAwsApi returns only the first page" in over_buckets
    over_input = steps["EachName"]["description"]
    assert over_input.startswith("One queue per team.\n\nRuns its steps once for each element of input QueueNames")
    assert "page" not in over_input
    assert steps["StopInstances"]["description"].endswith(
        "Makes one call with the whole list in InstanceIds, where the log shows one call per element.")


def test_the_document_passes_cfn_lint_and_the_ssm_limits(tmp_path):
    text = render_checked(everything(), "ssm")
    assert limit_problems(text) == []
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Runbook": document_resource(text)}}
    assert cfn_lint(yaml.safe_dump(template, sort_keys=False), tmp_path) == []


def test_the_document_reads_back_as_the_same_runbook(tmp_path):
    runbook = everything()
    text = render_checked(runbook, "ssm")
    assert parse_document(text, "loops.yaml") == runbook
    path = tmp_path / "loops.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_runbook(path) == runbook


@pytest.mark.parametrize("test, value", [
    ("prefix", "logs-"), ("prefix", "a/b.*(c)[d]\\e^$"), ("equals", "it's \"quoted\"\n"), ("tag", "owner: ü ')]"),
])
def test_a_condition_from_the_log_stays_inside_its_filter(test, value):
    element, prop = ("Reservations[*].Instances[*]", "Tags" if test == "tag" else "State.Name")
    where = Condition(element, prop, test, value)
    runbook = Runbook("Stop the kept instances.", [], [
        Step("DescribeInstances", "ec2", "DescribeInstances", {},
             outputs=[list_output("Ids", "Reservations[*].Instances[*].InstanceId", where)]),
        loop_step("EachInstance", OutputRef("DescribeInstances", "Ids"), [
            Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": [ItemRef("EachInstance")]}),
        ], iterations=1),
    ])
    read = parse_document(render_checked(runbook, "ssm"), "x")
    assert read == runbook
    assert read.step("DescribeInstances").outputs[0].where == where


def test_ssm_refuses_a_loop_inside_a_loop_and_names_it():
    runbook = Runbook("Objects under each prefix of each bucket.", [
        Input("Buckets", "StringList", "b", default=["b-1"]), Input("Prefixes", "StringList", "p", default=["x"]),
    ], [
        loop_step("EachBucket", InputRef("Buckets"), [
            loop_step("EachPrefix", InputRef("Prefixes"), [
                Step("PutObject", "s3", "PutObject", {
                    "Bucket": ItemRef("EachBucket"), "Key": Template((ItemRef("EachPrefix"), "/")),
                }),
            ], iterations=1),
        ], iterations=1),
    ])
    with pytest.raises(RenderError) as refused:
        render(runbook, "ssm")
    assert str(refused.value) == (
        "step EachPrefix: SSM Automation cannot run a loop inside a loop (EachBucket); "
        "render this runbook as bash or python"
    )


def test_loop_references_are_checked_before_rendering():
    runbook = queues_per_name(["a"])
    runbook.inputs.append(Input("Single", "String", "Not a list.", default="x"))
    runbook.steps += [
        Step("GetQueueAttributes", "sqs", "GetQueueAttributes", {"QueueUrl": OutputRef("CreateQueue", "QueueUrl")}),
        Step("CreateQueue2", "sqs", "CreateQueue", {"QueueName": ItemRef("EachName")}),
        loop_step("EachSingle", InputRef("Single"), [
            Step("CreateQueue3", "sqs", "CreateQueue", {"QueueName": ItemRef("EachSingle")}),
        ], iterations=1),
    ]
    with pytest.raises(RenderError) as refused:
        render(runbook, "ssm")
    assert refused.value.problems == [
        "GetQueueAttributes.QueueUrl: output CreateQueue.QueueUrl is not defined before step GetQueueAttributes",
        "CreateQueue2.QueueName: the element of loop EachName is used outside that loop's steps",
        "step EachSingle: it loops over input Single, which is not a StringList input or a list output of an "
        "earlier step",
    ]


def test_a_brace_in_a_condition_value_is_refused_for_ssm():
    runbook = encrypt_logs_buckets()
    # A prefix's braces are escaped in its regular expression; an equal value's are not.
    where = Condition("Buckets[*]", "Name", "equals", "{{ x }}")
    runbook.steps[0].outputs = [list_output("Names", "Buckets[*].Name", where)]
    with pytest.raises(RenderError, match=r"output ListBuckets.Names: the selector contains '\{\{'"):
        render(runbook, "ssm")


def test_a_hand_written_document_may_not_read_a_loop_from_outside():
    text = render_checked(queues_per_name(["a"]), "ssm")
    after = text + """\
  - name: Later
    action: aws:executeAwsApi
    inputs:
      Service: sqs
      Api: GetQueueUrl
      QueueName: "{{ VALUE }}"
"""
    with pytest.raises(DocumentError, match="step CreateQueue runs in a loop, and its outputs are read only by later "
                                            "steps of the same iteration"):
        parse_document(after.replace("{{ VALUE }}", "{{ CreateQueue.QueueUrl }}"), "x.yaml")
    with pytest.raises(DocumentError, match=r"uses \{\{ EachName.CurrentIteratorValue \}\}, but a loop step gives "
                                            "only its CurrentIteratorValue and CurrentIteration, inside its own steps"):
        parse_document(after.replace("{{ VALUE }}", "{{ EachName.CurrentIteratorValue }}"), "x.yaml")
