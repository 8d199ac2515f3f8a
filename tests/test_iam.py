"""``pysynth iam``: the least-privilege policy of a runbook. Policies are parsed with parliament (an
IAM policy linter with its own copy of AWS's action list), compared with trailscraper ``generate`` on
the same log records, and shown sufficient by running a runbook on moto with IAM enforcement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import parliament
import pytest
from conftest import SHARED, run_cli
from moto_server import (
    MOTO_ENVIRONMENT,
    REGION,
    start_moto_server_with_managed_policies,
)

from pysynth.iam import permissions, policy_document, service_actions
from pysynth.ingest.select import Selection, ingest
from pysynth.model import LOOP, Condition, Input, InputRef, ItemRef, Loop, Output, OutputRef, Runbook, Step

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
ACCOUNT = "123456789012"
CONCRETE = ["--param", "Partition=aws", "--param", f"Account={ACCOUNT}", "--param", f"Region={REGION}"]
MERGED = str(SHARED / "invictus_aws_dataset_merged_sorted.json")
# The examples of examples/README.md: their logs and selections.
EXAMPLES = {
    "iam-onboarding": (str(ROOT / "examples" / "iam-onboarding.json"), Selection(principal="alice")),
    "terraform-vpc": (str(SHARED / "invictus_terraform_vpc_iam_ec2_deploy_session.json"), Selection()),
    "iam-users": (MERGED, Selection(principal="bert-jan", since=1688991868.0, until=1688991890.0)),
}
TRAILSCRAPER = "trailscraper==0.10.0"


def policy_of(*arguments: str) -> dict:
    result = run_cli("iam", *arguments)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def actions_of(policy: dict) -> list[str]:
    return [action for statement in policy["Statement"]
            for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])]


def resources_of(statement: dict) -> list[str]:
    return [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]


def actions_on_everything(policy: dict) -> list[str]:
    return [action for statement in policy["Statement"] if "*" in resources_of(statement)
            for action in actions_of({"Statement": [statement]})]


def resource_types(action: str) -> list:
    """The resource types the Service Authorization Reference says ``action`` authorizes."""
    prefix, name = action.split(":")
    return service_actions(prefix)[name.lower()]["resourceTypes"]


def needs_shared(log: str) -> None:
    if log.startswith(str(SHARED)) and not SHARED.is_dir():
        pytest.skip(f"shared corpus not present at {SHARED}")


# --------------------------------------------------------------------------- the policies


@pytest.mark.parametrize("example", ["iam-onboarding", "terraform-vpc", "iam-users", "ec2-security-group-snapshot"])
def test_the_policy_of_every_golden_runbook_is_valid_iam(example):
    policy = policy_of(str(GOLDEN / f"{example}.ssm.yaml"), *CONCRETE)
    findings = parliament.analyze_policy_string(json.dumps(policy)).findings
    assert [(finding.issue, finding.detail) for finding in findings] == []
    for action in actions_of(policy):
        parliament.expand_action(action)  # raises UnknownActionException for an action that does not exist
    # Resources are scoped wherever the service authorizes at resource level; "*" only for actions
    # that authorize no resource type (EC2's Describe* calls a wait polls).
    for statement in policy["Statement"]:
        if "*" in resources_of(statement):
            assert all(not resource_types(action) for action in actions_of({"Statement": [statement]})), statement


def test_the_onboarding_policy_is_scoped_to_the_user_and_group_it_names():
    policy = policy_of(str(GOLDEN / "iam-onboarding.ssm.yaml"))
    assert policy["Statement"] == [
        {
            "Sid": "IamCreateUser", "Effect": "Allow",
            "Action": ["iam:AttachUserPolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser",
                       "iam:TagUser"],
            "Resource": "arn:${Partition}:iam::${Account}:user/${UserName}",
        },
        {
            "Sid": "IamAddUserToGroup", "Effect": "Allow", "Action": "iam:AddUserToGroup",
            "Resource": "arn:${Partition}:iam::${Account}:group/${GroupName}",
        },
    ]


def test_params_fill_the_placeholders():
    policy = policy_of(str(GOLDEN / "iam-onboarding.ssm.yaml"), *CONCRETE, "--param", "UserName=carol")
    assert policy["Statement"][0]["Resource"] == f"arn:aws:iam::{ACCOUNT}:user/carol"
    assert policy["Statement"][1]["Resource"] == f"arn:aws:iam::{ACCOUNT}:group/${{GroupName}}"


def test_a_role_passed_to_ec2_through_an_instance_profile_gets_pass_role_to_ec2_only():
    policy = policy_of(str(GOLDEN / "terraform-vpc.ssm.yaml"))
    pass_role = [statement for statement in policy["Statement"] if statement["Action"] == "iam:PassRole"]
    # The instance profile RunInstances uses holds the role the runbook created as RoleName2.
    assert pass_role == [{
        "Sid": "IamPassRole", "Effect": "Allow", "Action": "iam:PassRole",
        "Resource": "arn:${Partition}:iam::${Account}:role/${RoleName2}",
        "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
    }]
    tagging = next(statement for statement in policy["Statement"] if statement["Action"] == "ec2:CreateTags")
    assert "RunInstances" in tagging["Condition"]["StringEquals"]["ec2:CreateAction"]


def test_the_policy_from_the_log_is_the_policy_of_its_runbook(monkeypatch):
    monkeypatch.chdir(ROOT)
    from_log = policy_of("--principal", "alice", "examples/iam-onboarding.json")
    assert from_log == policy_of(str(GOLDEN / "iam-onboarding.ssm.yaml"))


def test_an_operation_that_is_no_action_takes_the_action_its_documentation_names():
    runbook = Runbook("", [Input("Bucket", "String", "", default="logs")], [
        Step("Encrypt", "s3", "PutBucketEncryption", {
            "Bucket": InputRef("Bucket"),
            "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        }),
        Step("Unblock", "s3", "DeletePublicAccessBlock", {"Bucket": InputRef("Bucket")}),
    ])
    document = policy_document(permissions(runbook, {"Partition": "aws"}))
    assert document["Statement"] == [{
        "Sid": "S3PutEncryptionConfiguration", "Effect": "Allow",
        "Action": ["s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration"],
        "Resource": "arn:aws:s3:::${Bucket}",
    }]


def test_waits_reads_and_unknown_actions():
    runbook = Runbook("", [], [
        Step("Launch", "ec2", "RunInstances", {"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1},
             outputs=[Output("InstanceId", "$.Instances[0].InstanceId", "String", "Instances[0].InstanceId")]),
        Step("WaitRunning", "", "", {"Service": "ec2", "Api": "DescribeInstances",
                                     "InstanceIds": [OutputRef("Launch", "InstanceId")],
                                     "PropertySelector": "$.Reservations[0].Instances[0].State.Name",
                                     "DesiredValues": ["running"]}, action="aws:waitForAwsResourceProperty"),
        Step("Pause", "", "", {"Duration": "PT1M"}, action="aws:sleep"),
        Step("Script", "", "", {"Runtime": "python3.11"}, action="aws:executeScript"),
    ])
    granted = permissions(runbook)
    document = policy_document(granted)
    # DescribeInstances authorizes no resource: it gets "*", as the reference says it must.
    assert {"Sid": "Ec2DescribeInstances", "Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"} \
        in document["Statement"]
    assert granted.warnings == ["step Script: its action aws:executeScript is not one pysynth derives permissions for"]


def buckets_loop(over, names: Output | None = None) -> Runbook:
    """Encrypt each bucket of a list: listed by ListBuckets (``names``), or an input's."""
    encrypt = Step("Encrypt", "s3", "PutBucketEncryption", {
        "Bucket": ItemRef("EachBucket"),
        "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    })
    listing = [Step("ListBuckets", "s3", "ListBuckets", {}, outputs=[names])] if names else []
    return Runbook("", [Input("Buckets", "StringList", "", default=["logs-a"])], [
        *listing, Step("EachBucket", "", "", {}, action=LOOP, loop=Loop(over, [encrypt], 1))])


def listed_names(prefix: str) -> Output:
    return Output("Names", "$.Buckets[*].Name", "StringList", "Buckets[*].Name",
                  where=Condition("Buckets[*]", "Name", "prefix", prefix))


def test_a_loop_needs_its_body_steps_permissions_scoped_by_its_filter():
    granted = permissions(buckets_loop(OutputRef("ListBuckets", "Names"), listed_names("logs-")), {"Partition": "aws"})
    assert granted.warnings == []
    document = policy_document(granted)
    assert document["Statement"] == [
        {"Sid": "S3ListAllMyBuckets", "Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
        {"Sid": "S3PutEncryptionConfiguration", "Effect": "Allow", "Action": "s3:PutEncryptionConfiguration",
         "Resource": "arn:aws:s3:::logs-*"},
    ]
    assert [(finding.issue, finding.detail) for finding in
            parliament.analyze_policy_string(json.dumps(document)).findings] == []
    # A prefix from a log is a literal: IAM's wildcards in it are escaped.
    wild = policy_document(permissions(buckets_loop(OutputRef("ListBuckets", "Names"), listed_names("a*?$")),
                                       {"Partition": "aws"}))
    assert wild["Statement"][1]["Resource"] == "arn:aws:s3:::a${*}${?}${$}*"
    # An input's elements are whatever the runbook is given: any bucket.
    given = policy_document(permissions(buckets_loop(InputRef("Buckets")), {"Partition": "aws"}))
    assert given["Statement"] == [{"Sid": "S3PutEncryptionConfiguration", "Effect": "Allow",
                                   "Action": "s3:PutEncryptionConfiguration", "Resource": "arn:aws:s3:::*"}]


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    missing = run_cli("iam", str(tmp_path / "nothing.yaml"))
    assert missing.code == 2 and len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    not_a_runbook = tmp_path / "notes.yaml"
    not_a_runbook.write_text("- just\n- a list\n")
    refused = run_cli("iam", str(not_a_runbook))
    assert refused.code == 2 and "not an SSM document" in refused.stderr
    unknown = run_cli("iam", str(GOLDEN / "iam-onboarding.ssm.yaml"), "--param", "Nope=1")
    assert unknown.code == 2 and "--param Nope: not a placeholder" in unknown.stderr
    malformed = run_cli("iam", str(GOLDEN / "iam-onboarding.ssm.yaml"), "--param", "no-equals-sign")
    assert malformed.code == 2 and "expected NAME=VALUE" in malformed.stderr


# --------------------------------------------------------------------------- beside trailscraper


@pytest.fixture(scope="module")
def trailscraper():
    """trailscraper ``generate`` as a function of CloudTrail records. It pins an old boto3, so it is
    installed apart (without its pins) into a cache directory, once."""
    target = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pysynth-tests" / TRAILSCRAPER
    if not (target / "trailscraper").is_dir():
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
             TRAILSCRAPER, "dateparser", "toolz", "ruamel.yaml", "tzlocal", "pytz", "regex"],
            capture_output=True, text=True, check=False,
        )
        if done.returncode:
            pytest.skip(f"trailscraper could not be installed: {done.stderr.strip().splitlines()[-1:]}")
    program = (f"import sys; sys.path.insert(0, {str(target)!r}); from trailscraper.cli import root_group; "
               "root_group(['generate'])")

    def generate(records: list[dict]) -> dict:
        done = subprocess.run([sys.executable, "-c", program], input=json.dumps({"Records": records}),
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return generate


def kept_records(log: str, selection: Selection) -> list[dict]:
    """The raw CloudTrail records of the calls pysynth keeps: what trailscraper reads too."""
    ingested = ingest([log], selection)
    records = json.loads(Path(log).read_text())["Records"]
    return [records[event.index] for event in ingested.kept]


@pytest.mark.parametrize("example", EXAMPLES)
def test_against_trailscraper_on_the_same_records(example, trailscraper, monkeypatch):
    log, selection = EXAMPLES[example]
    needs_shared(log)
    monkeypatch.chdir(ROOT)
    theirs = trailscraper(kept_records(log, selection))
    ours = policy_of(str(GOLDEN / f"{example}.ssm.yaml"), *CONCRETE)
    for action in actions_of(ours):
        parliament.expand_action(action)  # every action exists
    # Fewer actions on every resource ("*"): only those that authorize no resource type.
    assert len(actions_on_everything(ours)) < len(actions_on_everything(theirs))
    assert all(not resource_types(action) for action in actions_on_everything(ours))
    # Every call of the log is allowed by an action of ours (trailscraper maps calls to actions by name).
    their_actions = {action for action in actions_of(theirs)}
    assert their_actions <= set(actions_of(ours))
    passes_role = example == "terraform-vpc"
    assert ("iam:PassRole" in actions_of(ours)) == passes_role
    assert "iam:PassRole" not in their_actions


# --------------------------------------------------------------------------- sufficient on moto


@pytest.fixture(scope="module")
def moto():
    yield from start_moto_server_with_managed_policies()


def restricted_user(endpoint: str, policy: dict) -> dict[str, str]:
    """After a reset, four requests: the group the runbook joins, a user with only ``policy``, its
    access key. Then moto enforces IAM (its reset-auth: enforcement after that many requests)."""
    for path, body in (("reset", None), ("reset-auth", b"4")):
        request = urllib.request.Request(f"{endpoint}/moto-api/{path}", data=body, method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=30).close()
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=REGION)
    iam.create_group(GroupName="platform-engineers")
    iam.create_user(UserName="runner")
    iam.put_user_policy(UserName="runner", PolicyName="runbook", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="runner")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def run_as(endpoint: str, credentials: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(MOTO_ENVIRONMENT, **credentials)
    del environment["AWS_SESSION_TOKEN"]
    return subprocess.run(
        [sys.executable, "-m", "pysynth", "run", str(GOLDEN / "iam-onboarding.ssm.yaml"), "--endpoint-url", endpoint,
         "--param", "UserName=carol", "--param", "GroupName=platform-engineers", "--param", "Password=Pa55-word-42!"],
        capture_output=True, text=True, env=environment, timeout=300, check=False, stdin=subprocess.DEVNULL,
    )


def test_the_policy_is_sufficient_to_run_the_runbook_under_iam_enforcement(moto):
    """moto enforces actions but checks every non-S3 request against the resource "*", so here the
    resources are widened to "*": this shows the actions sufficient; the ARNs are checked above."""
    policy = policy_of(str(GOLDEN / "iam-onboarding.ssm.yaml"), *CONCRETE)
    for statement in policy["Statement"]:
        statement["Resource"] = "*"
    done = run_as(moto, restricted_user(moto, policy))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["CreateUser.UserName"] == "carol"


def test_without_one_of_its_actions_the_runbook_is_denied(moto):
    policy = policy_of(str(GOLDEN / "iam-onboarding.ssm.yaml"), *CONCRETE)
    for statement in policy["Statement"]:
        statement["Resource"] = "*"
    policy["Statement"][0]["Action"].remove("iam:CreateLoginProfile")
    done = run_as(moto, restricted_user(moto, policy))
    assert done.returncode != 0
    assert "not authorized to perform: iam:CreateLoginProfile" in done.stderr
