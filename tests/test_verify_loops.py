"""pysynth verify on loops and batch steps: runbook models with loops, made by hand, replayed against
logs made of CloudTrail records and recorded traces (full read responses). A loop's iterations must
reproduce the logged calls one for one and in order; problems name the loop, the iteration, its
element and the call where the replay diverges."""

from __future__ import annotations

import json

import pytest

from conftest import make_record, one_demonstration, run_cli, write_log
from pysynth.ingest.select import Selection, ingest
from pysynth.model import (
    LOOP, Condition, IndexRef, Input, InputRef, ItemRef, Loop, Output, OutputRef, RecordRef, Runbook, Step, Template,
    runbook_to_json,
)
from pysynth.verify import check_synthesized, verify

S3 = "s3.amazonaws.com"
EC2 = "ec2.amazonaws.com"
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
VPC_ID = "vpc-0123456789abcdef0"
SUBNETS = ["subnet-0000000000000001a", "subnet-0000000000000002b"]


def at(second: int) -> str:
    return f"2024-03-05T10:00:{second:02d}Z"


def encryption_record(bucket: str, second: int, **extra) -> dict:
    return make_record("PutBucketEncryption", source=S3, time=at(second),
                       request={"Bucket": bucket, "ServerSideEncryptionConfiguration": ENCRYPTION}, **extra)


def list_buckets_record(names: list[str], second: int = 0, recorded: bool = True) -> dict:
    """ListBuckets as a recorded trace has it (its full response) or as CloudTrail does (none)."""
    response = {"Buckets": [{"Name": name} for name in names], "Owner": {"ID": "owner"}} if recorded else None
    return make_record("ListBuckets", source=S3, time=at(second), request=None, response=response)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Logs are read by a relative name, so that messages name ``log.json`` as a user would see it."""
    monkeypatch.chdir(tmp_path)


def selected(tmp_path, records: list[dict]):
    """The kept calls, reads and failed calls of a log, as verify takes them."""
    write_log(tmp_path / "log.json", records)
    ingested = ingest(["log.json"], Selection(principal="alice"))
    return ingested.kept, ingested.reads, ingested.failed


def record(number: int) -> RecordRef:
    return RecordRef("log.json", number, None, None)


def loop(name: str, over, body: list[Step], iterations: int, records: list[RecordRef] = ()) -> Step:
    return Step(name, "", "", {}, action=LOOP, loop=Loop(over, body, iterations), records=list(records))


def encrypt(bucket=ItemRef("EachBucket"), records: list[RecordRef] = ()) -> Step:
    return Step("EncryptBucket", "s3", "PutBucketEncryption",
                {"Bucket": bucket, "ServerSideEncryptionConfiguration": ENCRYPTION}, records=list(records))


def buckets_runbook(default: list[str], iterations: int | None = None) -> Runbook:
    """A loop over an input list; as synthesized from three_buckets, it claims the log's three calls."""
    return Runbook(
        "Encrypt each bucket.",
        [Input("Buckets", "StringList", "The buckets.", default=default, used_by=["EncryptBucket.Bucket"])],
        [loop("EachBucket", InputRef("Buckets"), [encrypt(records=[record(0)])],
              len(default) if iterations is None else iterations, records=[record(number) for number in range(3)])],
    )


def kinds(verdict) -> list[str]:
    return [problem.kind for problem in verdict.problems]


def messages(verdict) -> list[str]:
    return [problem.message for problem in verdict.problems]


# --------------------------------------------------------------------------- a loop over an input list


@pytest.fixture
def three_buckets(tmp_path):
    return selected(tmp_path, [encryption_record(name, second) for second, name in
                               enumerate(["logs-a", "logs-b", "logs-c"])])


def test_a_loop_over_an_input_list_reproduces_each_call_in_order(three_buckets):
    calls, reads, failed = three_buckets
    verdict = check_synthesized(buckets_runbook(["logs-a", "logs-b", "logs-c"]), one_demonstration(calls, reads, failed))
    assert verdict.certified, messages(verdict)
    assert [(name, [r.index for r in records]) for name, records in verdict.matches] == [
        ("EachBucket", []), ("EncryptBucket", [0, 1, 2])]
    assert verdict.iterations == {"EachBucket": [3]}
    assert [r.index for r in verdict.first_iterations["EncryptBucket"]] == [0]


def test_an_element_in_another_order_names_the_iteration_and_the_call(three_buckets):
    calls, _, _ = three_buckets
    verdict = verify(buckets_runbook(["logs-a", "logs-c", "logs-b"]), one_demonstration(calls))
    assert kinds(verdict) == ["iteration-order"]
    problem = verdict.problems[0]
    assert (problem.step, problem.iterations, problem.record.index) == ("EncryptBucket", (3,), 1)
    assert problem.message.startswith("EachBucket iteration 3 (logs-b): step EncryptBucket: the log made its call, "
                                      "log.json record 1")


def test_a_changed_element_names_loop_iteration_element_and_call(three_buckets):
    calls, _, _ = three_buckets
    verdict = verify(buckets_runbook(["logs-a", "logs-b", "logs-x"]), one_demonstration(calls))
    assert kinds(verdict) == ["value-differs"]
    problem = verdict.problems[0]
    assert (problem.iterations, problem.path, problem.expected, problem.found) == ((3,), "Bucket", "logs-c", "logs-x")
    assert problem.message.startswith('EachBucket iteration 3 (logs-x): step EncryptBucket Bucket: log.json record 2')
    assert '"logs-x" (from {{ EachBucket.CurrentIteratorValue }})' in problem.message


def test_a_list_longer_than_the_log_names_the_iterations_it_adds(three_buckets):
    calls, _, _ = three_buckets
    verdict = verify(buckets_runbook(["logs-a", "logs-b", "logs-c", "logs-d"]), one_demonstration(calls))
    assert kinds(verdict) == ["iteration-count"]
    assert verdict.problems[0].message == (
        "loop EachBucket walks 4 elements, but the log shows 3 iterations: no call stands for iteration 4 (logs-d)")


def test_a_list_shorter_than_the_log_names_the_calls_it_leaves(three_buckets):
    calls, _, _ = three_buckets
    verdict = verify(buckets_runbook(["logs-a", "logs-b"]), one_demonstration(calls))
    # One problem for the loop, not a missing call besides.
    assert kinds(verdict) == ["iteration-count"]
    assert verdict.problems[0].message == (
        "loop EachBucket walks 2 elements, but the log shows more iterations: no iteration makes log.json "
        "record 2 (PutBucketEncryption of logs-c)")


def test_a_list_of_other_elements_names_both_ends(three_buckets):
    calls, _, _ = three_buckets
    verdict = verify(buckets_runbook(["logs-b", "logs-c", "logs-d"]), one_demonstration(calls))
    assert messages(verdict) == [
        "loop EachBucket walks 3 elements, but the log's iterations differ: no call stands for iteration 3 (logs-d)",
        "loop EachBucket walks 3 elements, but the log's iterations differ: no iteration makes log.json record 0 "
        "(PutBucketEncryption of logs-a)",
    ]


def test_a_wrong_literal_in_a_body_is_one_problem_for_every_iteration(three_buckets):
    calls, _, _ = three_buckets
    runbook = buckets_runbook(["logs-a", "logs-b", "logs-c"])
    runbook.step("EncryptBucket").request["ServerSideEncryptionConfiguration"] = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}
    verdict = verify(runbook, one_demonstration(calls))
    assert kinds(verdict) == ["value-differs"]
    assert verdict.problems[0].iterations == (1,)
    assert verdict.problems[0].message.endswith("(and in 2 more iterations)")


def test_a_retry_the_log_shows_inside_an_iteration_is_required(tmp_path):
    calls, reads, failed = selected(tmp_path, [
        encryption_record("logs-a", 0),
        encryption_record("logs-b", 1, errorCode="OperationAborted", errorMessage="A conflicting operation"),
        encryption_record("logs-b", 2),
    ])
    verdict = verify(buckets_runbook(["logs-a", "logs-b"]), one_demonstration(calls, reads, failed))
    assert kinds(verdict) == ["missing-retry"]
    problem = verdict.problems[0]
    assert (problem.step, problem.iterations) == ("EncryptBucket", (2,))
    assert problem.message.startswith("EachBucket iteration 2 (logs-b): step EncryptBucket: the log shows its call "
                                      "failing 1 time(s) (OperationAborted)")


# --------------------------------------------------------------------------- a filtered list from a response


def listed_runbook(prefix: str) -> Runbook:
    names = Output("Names", f"$.Buckets[?(@.Name =~ /^{prefix}.*/)].Name", "StringList", "Buckets[*].Name",
                   where=Condition("Buckets[*]", "Name", "prefix", prefix))
    return Runbook("Encrypt the log buckets.", [], [
        Step("ListBuckets", "s3", "ListBuckets", {}, outputs=[names]),
        loop("EachBucket", OutputRef("ListBuckets", "Names"), [encrypt()], 2),
    ])


def test_a_filtered_list_from_a_recorded_response_is_replayed(tmp_path):
    calls, reads, _ = selected(tmp_path, [
        list_buckets_record(["logs-a", "data-b", "logs-c"]),
        encryption_record("logs-a", 1), encryption_record("logs-c", 2),
    ])
    verdict = verify(listed_runbook("logs-"), one_demonstration(calls, reads))
    assert verdict.certified, messages(verdict)
    assert [(name, [r.index for r in records]) for name, records in verdict.matches] == [
        ("ListBuckets", [0]), ("EachBucket", []), ("EncryptBucket", [1, 2])]
    assert verdict.iterations == {"EachBucket": [2]}


def test_a_filter_that_keeps_a_bucket_the_log_never_touched(tmp_path):
    calls, reads, _ = selected(tmp_path, [
        list_buckets_record(["logs-a", "logs-b", "logs-c", "data-d"]),
        encryption_record("logs-a", 1), encryption_record("logs-c", 2),
    ])
    verdict = verify(listed_runbook("logs-"), one_demonstration(calls, reads))
    assert kinds(verdict) == ["extra-step"]
    assert verdict.problems[0].message == ("EachBucket iteration 2 (logs-b): step EncryptBucket: the log has no s3 "
                                           "PutBucketEncryption call it reproduces")


def test_a_cloudtrail_list_without_a_response_cannot_be_replayed(tmp_path):
    calls, reads, _ = selected(tmp_path, [
        list_buckets_record(["logs-a", "logs-c"], recorded=False),
        encryption_record("logs-a", 1), encryption_record("logs-c", 2),
    ])
    verdict = verify(listed_runbook("logs-"), one_demonstration(calls, reads))
    assert kinds(verdict) == ["unreplayable-loop"]
    message = verdict.problems[0].message
    assert message.startswith("loop EachBucket cannot be replayed: it walks {{ ListBuckets.Names }}, but log.json "
                              "record 0")
    assert "pysynth record" in message and message.endswith("2 calls of its body left unchecked")


# --------------------------------------------------------------------------- a body of two calls


def subnet_records(tags: list[str]) -> list[dict]:
    records = []
    for number, (cidr, subnet, tag) in enumerate(zip(["10.0.1.0/24", "10.0.2.0/24"], SUBNETS, tags)):
        records.append(make_record(
            "CreateSubnet", source=EC2, time=at(2 * number), request={"vpcId": VPC_ID, "cidrBlock": cidr},
            response={"subnet": {"subnetId": subnet, "vpcId": VPC_ID, "cidrBlock": cidr}}))
        records.append(make_record(
            "CreateTags", source=EC2, time=at(2 * number + 1), response={"_return": True},
            request={"resourcesSet": {"items": [{"resourceId": subnet}]},
                     "tagSet": {"items": [{"key": "Name", "value": tag}]}}))
    return records


def subnets_runbook(resources: object = None) -> Runbook:
    """For each CIDR block: create a subnet, then tag it (its id from this iteration's CreateSubnet)
    with a name made of the iteration's number."""
    body = [
        Step("CreateSubnet", "ec2", "CreateSubnet", {"VpcId": InputRef("VpcId"), "CidrBlock": ItemRef("EachCidr")},
             outputs=[Output("SubnetId", "$.Subnet.SubnetId", "String", "Subnet.SubnetId")], records=[record(0)]),
        Step("TagSubnet", "ec2", "CreateTags", {
            "Resources": resources or [OutputRef("CreateSubnet", "SubnetId")],
            "Tags": [{"Key": "Name", "Value": Template(("net-", IndexRef("EachCidr")))}]}, records=[record(1)]),
    ]
    return Runbook("Subnets.", [
        Input("VpcId", "String", "The VPC.", default=VPC_ID),
        Input("CidrBlocks", "StringList", "The blocks.", default=["10.0.1.0/24", "10.0.2.0/24"]),
    ], [loop("EachCidr", InputRef("CidrBlocks"), body, 2, records=[record(number) for number in range(4)])])


def test_a_body_step_reads_the_output_of_its_own_iteration(tmp_path):
    calls, _, _ = selected(tmp_path, subnet_records(["net-1", "net-2"]))
    verdict = check_synthesized(subnets_runbook(), one_demonstration(calls))
    assert verdict.certified, messages(verdict)
    assert [(name, [r.index for r in records]) for name, records in verdict.matches] == [
        ("EachCidr", []), ("CreateSubnet", [0, 2]), ("TagSubnet", [1, 3])]
    assert [r.index for r in verdict.first_iterations["EachCidr"]] == [0, 1, 2, 3]


def test_a_derived_value_that_differs_names_the_iteration(tmp_path):
    calls, _, _ = selected(tmp_path, subnet_records(["net-1", "net-9"]))
    verdict = verify(subnets_runbook(), one_demonstration(calls))
    assert kinds(verdict) == ["value-differs"]
    problem = verdict.problems[0]
    assert (problem.iterations, problem.path, problem.expected, problem.found) == ((2,), "Tags[0].Value", "net-9", "net-2")
    assert problem.message.startswith("EachCidr iteration 2 (10.0.2.0/24): step TagSubnet Tags[0].Value")
    assert '(from "net-{{ EachCidr.CurrentIteration }}")' in problem.message


def test_a_created_id_written_as_a_literal_inside_a_body(tmp_path):
    calls, _, _ = selected(tmp_path, subnet_records(["net-1", "net-2"]))
    verdict = verify(subnets_runbook(resources=[SUBNETS[0]]), one_demonstration(calls))
    assert sorted(kinds(verdict)) == ["literal-created-id", "value-differs"]
    literal = next(problem for problem in verdict.problems if problem.kind == "literal-created-id")
    assert literal.message.startswith("EachCidr iteration 1 (10.0.1.0/24): step TagSubnet Resources[0]:")
    assert literal.message.endswith("use {{ CreateSubnet.SubnetId }}")
    differs = next(problem for problem in verdict.problems if problem.kind == "value-differs")
    assert (differs.iterations, differs.expected, differs.found) == ((2,), SUBNETS[1], SUBNETS[0])


def test_outputs_and_elements_of_a_loop_are_not_used_outside_it(tmp_path):
    calls, _, _ = selected(tmp_path, subnet_records(["net-1", "net-2"]))
    runbook = subnets_runbook()
    runbook.steps.append(Step("TagLast", "ec2", "CreateTags", {
        "Resources": [OutputRef("CreateSubnet", "SubnetId")],
        "Tags": [{"Key": "Cidr", "Value": ItemRef("EachCidr")}]}))
    verdict = verify(runbook, one_demonstration(calls))
    outside = [problem.message for problem in verdict.problems if problem.kind == "outside-loop"]
    assert outside == [
        "step TagLast Resources[0] uses {{ CreateSubnet.SubnetId }}, but step CreateSubnet runs in loop EachCidr: "
        "its outputs exist only within an iteration",
        "step TagLast Tags[0].Value uses {{ EachCidr.CurrentIteratorValue }}, but the step is not in loop EachCidr",
    ]


# --------------------------------------------------------------------------- nested loops


def membership_records() -> list[dict]:
    pairs = [("admins", "bob"), ("admins", "carol"), ("ops", "bob"), ("ops", "carol")]
    return [make_record("AddUserToGroup", time=at(second), request={"groupName": group, "userName": user})
            for second, (group, user) in enumerate(pairs)]


def memberships_runbook(users: list[str]) -> Runbook:
    add = Step("AddUser", "iam", "AddUserToGroup",
               {"GroupName": ItemRef("EachGroup"), "UserName": ItemRef("EachUser")}, records=[record(0)])
    # As synthesized: the inner loop claims its calls in the outer loop's first iteration.
    inner = loop("EachUser", InputRef("Users"), [add], len(users), records=[record(0), record(1)])
    return Runbook("Add each user to each group.", [
        Input("Groups", "StringList", "The groups.", default=["admins", "ops"]),
        Input("Users", "StringList", "The users.", default=users),
    ], [loop("EachGroup", InputRef("Groups"), [inner], 2, records=[record(number) for number in range(4)])])


def test_nested_loops_reproduce_each_pair_in_order(tmp_path):
    calls, _, _ = selected(tmp_path, membership_records())
    verdict = check_synthesized(memberships_runbook(["bob", "carol"]), one_demonstration(calls))
    assert verdict.certified, messages(verdict)
    assert [r.index for r in dict(verdict.matches)["AddUser"]] == [0, 1, 2, 3]
    assert verdict.iterations == {"EachGroup": [2], "EachUser": [2, 2]}


def test_a_short_inner_list_is_named_in_its_outer_iteration(tmp_path):
    calls, _, _ = selected(tmp_path, membership_records())
    verdict = verify(memberships_runbook(["bob"]), one_demonstration(calls))
    assert kinds(verdict) == ["iteration-count"]
    problem = verdict.problems[0]
    assert problem.iterations == (1,)
    assert problem.message == (
        "loop EachUser in EachGroup iteration 1 (admins) walks 1 element, but the log shows more iterations: "
        "no iteration makes log.json record 1 (AddUserToGroup of carol) (and in 1 more iteration)")


def test_an_inner_list_read_in_each_outer_iteration(tmp_path):
    """For each user, list the user's groups (a recorded response), then remove the user from each:
    the inner loop walks the list its own outer iteration read."""
    groups = {"bob": ["admins", "ops"], "carol": ["ops"]}
    records = []
    for user, names in groups.items():
        records.append(make_record("ListGroupsForUser", time=at(len(records)), request={"userName": user}, response={
            "groups": [{"groupName": name, "groupId": f"AGPA{name.upper()}00000000", "path": "/",
                        "arn": f"arn:aws:iam::111122223333:group/{name}", "createDate": "2024-01-01T00:00:00Z"}
                       for name in names], "isTruncated": False}))
        records += [make_record("RemoveUserFromGroup", time=at(len(records) + number),
                                request={"userName": user, "groupName": name}) for number, name in enumerate(names)]
    calls, reads, _ = selected(tmp_path, records)
    remove = Step("Remove", "iam", "RemoveUserFromGroup", {"UserName": ItemRef("EachUser"), "GroupName": ItemRef("EachGroup")})
    body = [Step("ListGroups", "iam", "ListGroupsForUser", {"UserName": ItemRef("EachUser")},
                 outputs=[Output("Names", "$.Groups[*].GroupName", "StringList", "Groups[*].GroupName")]),
            loop("EachGroup", OutputRef("ListGroups", "Names"), [remove], 2)]
    runbook = Runbook("Remove each user from their groups.", [Input("Users", "StringList", "", default=["bob", "carol"])],
                      [loop("EachUser", InputRef("Users"), body, 2)])
    verdict = verify(runbook, one_demonstration(calls, reads))
    assert verdict.certified, messages(verdict)
    assert verdict.iterations == {"EachUser": [2], "EachGroup": [2, 1]}
    assert [r.index for r in dict(verdict.matches)["Remove"]] == [1, 2, 4]


# --------------------------------------------------------------------------- batch steps


def stop_records(ids: list[str]) -> list[dict]:
    return [make_record("StopInstances", source=EC2, time=at(second),
                        request={"instancesSet": {"items": [{"instanceId": instance}]}},
                        response={"instancesSet": {"items": [{"instanceId": instance}]}})
            for second, instance in enumerate(ids)]


def stop_runbook(ids: list[str]) -> Runbook:
    return Runbook("Stop the instances.", [Input("InstanceIds", "StringList", "The instances.", default=ids)], [
        Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": InputRef("InstanceIds")}, batch="InstanceIds",
             records=[record(0), record(1)])])


INSTANCES = ["i-0123456789abcdef0", "i-0123456789abcdef1"]


def test_a_batch_step_stands_for_its_logged_calls_together(tmp_path):
    calls, _, _ = selected(tmp_path, stop_records(INSTANCES))
    verdict = check_synthesized(stop_runbook(INSTANCES), one_demonstration(calls))
    assert verdict.certified, messages(verdict)
    assert [r.index for r in dict(verdict.matches)["StopInstances"]] == [0, 1]


def test_a_batch_step_whose_list_differs(tmp_path):
    calls, _, _ = selected(tmp_path, stop_records(INSTANCES))
    verdict = verify(stop_runbook([INSTANCES[0], "i-0123456789abcdef9"]), one_demonstration(calls))
    assert kinds(verdict) == ["batch-differs", "missing-call"]
    assert verdict.problems[0].message == (
        'step StopInstances InstanceIds: sends ["i-0123456789abcdef0", "i-0123456789abcdef9"] in one call, but '
        'log.json record 0 sent ["i-0123456789abcdef0"]')
    assert verdict.problems[1].record.index == 1


# --------------------------------------------------------------------------- claims and the command line


def test_a_loop_step_without_its_body_cannot_be_checked(three_buckets):
    calls, _, _ = three_buckets
    runbook = Runbook("Raw.", [], [Step("EachBucket", "", "", {"Iterators": ["logs-a"]}, action=LOOP)])
    verdict = verify(runbook, one_demonstration(calls))
    assert kinds(verdict) == ["unsupported-action", "missing-call", "missing-call", "missing-call"]


def test_check_synthesized_holds_a_loop_to_its_claims(three_buckets):
    calls, _, _ = three_buckets
    runbook = buckets_runbook(["logs-a", "logs-b", "logs-c"], iterations=2)
    runbook.step("EncryptBucket").records = [record(1)]
    assert verify(runbook, one_demonstration(calls)).certified
    assert messages(check_synthesized(runbook, one_demonstration(calls))) == [
        "loop EachBucket claims the log shows 2 iterations, but it walks 3 elements",
        "step EncryptBucket claims to reproduce log.json record 1, but reproduces log.json record 0",
    ]


def test_cli_certifies_a_loop_and_shows_its_iterations(tmp_path):
    log = write_log(tmp_path / "log.json", [encryption_record(name, second)
                                           for second, name in enumerate(["logs-a", "logs-b", "logs-c"])])
    path = tmp_path / "runbook.json"
    path.write_text(json.dumps(runbook_to_json(buckets_runbook(["logs-a", "logs-b", "logs-c"]))))
    result = run_cli("verify", str(path), str(log), "--principal", "alice")
    assert result.code == 0, result.stderr
    assert "aws:loop over input Buckets" in result.stdout and "3 iterations" in result.stdout
    assert "log.json record 2" in result.stdout
    assert "certified: 2 steps reproduce all 3 kept calls" in result.stderr
    path.write_text(json.dumps(runbook_to_json(buckets_runbook(["logs-a", "logs-c", "logs-b"]))))
    result = run_cli("verify", str(path), str(log), "--principal", "alice")
    assert result.code == 5
    assert "iteration-order: EachBucket iteration 3 (logs-b)" in result.stderr
