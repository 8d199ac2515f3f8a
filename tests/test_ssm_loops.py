"""Loops in the SSM Automation rendering: aws:loop steps with their body nested, list outputs with
filters, batch steps; the document read back as the same runbook; and the rendered document (built
here, or synthesized from a small log) run with ``pysynth run`` against a moto server, with other
names and list lengths than the log's."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml
from conftest import run_cli
from loop_logs import bucket_encryption, subnets_tagged
from moto_server import REGION, moto_server  # noqa: F401 (the fixture)
from test_lint import cfn_lint

from pysynth.cli import EXIT_RUN_FAILED, EXIT_USAGE
from pysynth.cloudformation import document_resource
from pysynth.ingest.select import Selection, ingest
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
    runbook_to_json,
)
from pysynth.paths import list_selector
from pysynth.render import RenderError, render, render_checked
from pysynth.ssm import DocumentError, load_runbook, parse_document
from pysynth.synth import synthesize

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
    # botocore pages ListBuckets: the listing is the script that reads every page (test_ssm_pages), its
    # condition in the script's path of the list.
    assert listing["action"] == "aws:executeScript"
    assert listing["inputs"]["InputPayload"]["Outputs"] == {
        "Names": ["Buckets", {"Property": ["Name"], "Test": "prefix", "Value": "logs-"}, "Name"],
    }
    assert listing["outputs"] == [{"Name": "Names", "Selector": "$.Payload.Names", "Type": "StringList"}]
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


def test_a_loop_step_says_what_ssm_does_with_long_lists():
    steps = {step["name"]: step for step in mapping(render_checked(everything(), "ssm"))["mainSteps"]}
    over_buckets = steps["EachBucket"]["description"]
    assert over_buckets == (
        "Runs its steps once for each element of ListBuckets.Names; the log shows 2 iterations. SSM Automation runs "
        "a loop at most 100 times: on a longer list this step fails, so render the runbook as bash or python, or "
        "split the list."
    )
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
    # A loop over values the log shows as plain data walks them as written.
    runbook.steps.append(loop_step("EachSuffix", ["blue", "it's \"green\"\n"], [
        Step("CreateQueue2", "sqs", "CreateQueue", {"QueueName": Template(("app-", ItemRef("EachSuffix")))}),
    ], iterations=2))
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


# --------------------------------------------------------------------------- running on the emulator


@pytest.fixture
def endpoint(moto_server) -> str:  # noqa: F811 (the fixture)
    """The moto server's URL, its state reset."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10).close()
    return moto_server


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def rendered(runbook: Runbook, tmp_path: Path, fmt: str = "ssm") -> Path:
    text = render_checked(runbook, fmt)
    if fmt == "ssm":
        assert limit_problems(text) == []
    path = tmp_path / f"runbook.{'yaml' if fmt == 'ssm' else 'json'}"
    path.write_text(text, encoding="utf-8")
    return path


def encrypted(s3, bucket: str) -> bool:
    try:
        s3.get_bucket_encryption(Bucket=bucket)
    except s3.exceptions.ClientError as error:
        assert error.response["Error"]["Code"] == "ServerSideEncryptionConfigurationNotFoundError"
        return False
    return True


def test_the_loop_encrypts_exactly_the_buckets_its_filter_keeps(endpoint, tmp_path):
    s3 = client(endpoint, "s3")
    # Other buckets than the log's two, three of them kept: the runbook names none of them.
    buckets = ["logs-web", "logs-db", "logs-queue", "data-lake", "app-logs-old", "logs"]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    result = run_cli("run", str(rendered(encrypt_logs_buckets(), tmp_path)), "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    assert {bucket for bucket in buckets if encrypted(s3, bucket)} == {"logs-web", "logs-db", "logs-queue"}
    assert sorted(json.loads(result.stdout)["ListBuckets.Names"]) == ["logs-db", "logs-queue", "logs-web"]
    assert "ran EachBucket iteration 3/3: 1/1 PutBucketEncryption: s3 PutBucketEncryption" in result.stderr
    assert "ran 2/2 EachBucket: aws:loop over ListBuckets.Names" in result.stderr


def test_a_loop_over_an_input_list_runs_its_two_steps_per_element(endpoint, tmp_path):
    path = rendered(queues_per_name(["build", "deploy"]), tmp_path)
    result = run_cli("run", str(path), "--endpoint-url", endpoint, "--param", "QueueNames=alpha,beta,gamma")
    assert result.code == 0, result.stderr
    sqs = client(endpoint, "sqs")
    urls = sorted(sqs.list_queues()["QueueUrls"])
    assert [url.rsplit("/", 1)[1] for url in urls] == ["alpha", "beta", "gamma"]
    tags = {url.rsplit("/", 1)[1]: sqs.list_queue_tags(QueueUrl=url)["Tags"] for url in urls}
    assert tags == {
        "alpha": {"position": "1", "dead-letter": "alpha-dlq"},
        "beta": {"position": "2", "dead-letter": "beta-dlq"},
        "gamma": {"position": "3", "dead-letter": "gamma-dlq"},
    }
    # The body's outputs live in their iteration: the runbook's outputs are its own steps'.
    assert json.loads(result.stdout) == {}


def test_a_dry_run_shows_the_loop_and_its_steps_once(endpoint, tmp_path):
    path = rendered(queues_per_name(["build", "deploy"]), tmp_path)
    result = run_cli("run", str(path), "--dry-run", "--param", "QueueNames=alpha,beta")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == [{
        "step": "EachName", "action": "aws:loop", "iterators": ["alpha", "beta"],
        "steps": [
            {"step": "CreateQueue", "action": "aws:executeAwsApi", "service": "sqs", "api": "CreateQueue",
             "request": {"QueueName": "<EachName.CurrentIteratorValue>"}},
            {"step": "TagQueue", "action": "aws:executeAwsApi", "service": "sqs", "api": "TagQueue",
             "request": {"QueueUrl": "<CreateQueue.QueueUrl>",
                         "Tags": {"position": "<EachName.CurrentIteration>",
                                  "dead-letter": "<EachName.CurrentIteratorValue>-dlq"}}},
        ],
    }]
    assert client(endpoint, "sqs").list_queues().get("QueueUrls", []) == []


def test_a_loop_over_more_than_100_elements_fails_as_ssm_does(endpoint, tmp_path):
    path = rendered(queues_per_name(["build"]), tmp_path)
    names = json.dumps([f"queue-{number}" for number in range(101)])
    message = ("step EachName failed: aws:loop over input QueueNames: the list holds 101 elements, and SSM "
               "Automation runs aws:loop at most 100 times (this step fails there too): render the runbook as bash "
               "or python, or split the list")
    for dry_run in ([], ["--dry-run"]):
        result = run_cli("run", str(path), "--endpoint-url", endpoint, "--param", f"QueueNames={names}", *dry_run)
        assert result.code == EXIT_RUN_FAILED
        assert f"error: {message}" in result.stderr
    assert client(endpoint, "sqs").list_queues().get("QueueUrls", []) == []


def test_a_failing_body_step_names_its_iteration(endpoint, tmp_path):
    path = rendered(encrypt_logs_buckets(), tmp_path)
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="logs-a")
    runbook = load_runbook(path)
    runbook.step("PutBucketEncryption").request["Bucket"] = Template((ItemRef("EachBucket"), "-gone"))
    json_path = tmp_path / "changed.json"
    json_path.write_text(json.dumps(runbook_to_json(runbook)), encoding="utf-8")
    result = run_cli("run", str(json_path), "--endpoint-url", endpoint)
    assert result.code == EXIT_RUN_FAILED
    assert "error: step PutBucketEncryption failed in EachBucket iteration 1/1: s3 PutBucketEncryption: NoSuchBucket" in result.stderr


def test_the_runner_runs_nested_loops_of_the_json_model(endpoint, tmp_path):
    runbook = Runbook("Objects under each prefix of each bucket.", [
        Input("Buckets", "StringList", "b", default=["bucket-one"]), Input("Prefixes", "StringList", "p", default=["x"]),
    ], [
        loop_step("EachBucket", InputRef("Buckets"), [
            loop_step("EachPrefix", InputRef("Prefixes"), [
                Step("PutObject", "s3", "PutObject", {
                    "Bucket": ItemRef("EachBucket"),
                    "Key": Template((ItemRef("EachPrefix"), "/", IndexRef("EachBucket"), "-", IndexRef("EachPrefix"))),
                }),
            ], iterations=1),
        ], iterations=1),
    ])
    s3 = client(endpoint, "s3")
    for bucket in ("bucket-one", "bucket-two"):
        s3.create_bucket(Bucket=bucket)
    result = run_cli("run", str(rendered(runbook, tmp_path, "json")), "--endpoint-url", endpoint,
                     "--param", "Buckets=bucket-one,bucket-two", "--param", "Prefixes=in,out")
    assert result.code == 0, result.stderr
    keys = {bucket: sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
            for bucket in ("bucket-one", "bucket-two")}
    assert keys == {"bucket-one": ["in/1-1", "out/1-2"], "bucket-two": ["in/2-1", "out/2-2"]}


def test_a_loop_the_runner_cannot_run_is_refused_before_any_call(endpoint, tmp_path):
    path = tmp_path / "while.yaml"
    path.write_text("""\
schemaVersion: '0.3'
mainSteps:
  - name: UntilReady
    action: aws:loop
    inputs:
      MaxIterations: 3
      LoopCondition: {Variable: "{{ Check.Ready }}", BooleanEquals: true}
      Steps:
        - name: Check
          action: aws:executeAwsApi
          inputs: {Service: sqs, Api: CreateQueue, QueueName: q}
""", encoding="utf-8")
    result = run_cli("run", str(path), "--endpoint-url", endpoint)
    assert result.code == EXIT_USAGE
    assert ("error: step UntilReady: pysynth run runs an aws:loop over one StringList (Iterators: a parameter, a "
            "step output or a list of values, IteratorDataType: String), with its Steps; this one is not") in result.stderr
    assert client(endpoint, "sqs").list_queues().get("QueueUrls", []) == []



# --------------------------------------------------------------------------- synthesized from a log, run


def synthesized(log: Path) -> Runbook:
    ingested = ingest([str(log)], Selection(all_principals=True))
    return synthesize(ingested.kept, reads=ingested.reads, failed=ingested.failed).runbooks[0]


def test_a_synthesized_filtered_loop_runs_on_other_buckets(endpoint, tmp_path):
    runbook = synthesized(bucket_encryption(tmp_path, ["data-x", "logs-a", "logs-b"], ["logs-a", "logs-b"]))
    path = rendered(runbook, tmp_path)
    s3 = client(endpoint, "s3")
    buckets = ["logs-one", "logs-two", "logs-three", "backup-logs", "web-assets"]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    result = run_cli("run", str(path), "--endpoint-url", endpoint)
    assert result.code == 0, result.stderr
    assert {bucket for bucket in buckets if encrypted(s3, bucket)} == {"logs-one", "logs-two", "logs-three"}


def test_a_synthesized_loop_over_logged_values_creates_and_tags_each_subnet(endpoint, tmp_path):
    runbook = synthesized(subnets_tagged(tmp_path, ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]))
    document = mapping(render_checked(runbook, "ssm"))
    assert document["mainSteps"][0]["inputs"]["Iterators"] == ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    ec2 = client(endpoint, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    result = run_cli("run", str(rendered(runbook, tmp_path)), "--endpoint-url", endpoint, "--param", f"VpcId={vpc}")
    assert result.code == 0, result.stderr
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    names = {subnet["CidrBlock"]: {tag["Key"]: tag["Value"] for tag in subnet.get("Tags", [])}.get("Name")
             for subnet in subnets}
    assert names == {"10.0.1.0/24": "app-1", "10.0.2.0/24": "app-2", "10.0.3.0/24": "app-3"}
