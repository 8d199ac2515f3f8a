"""``pysynth explain``: why each step, input and reference is what it is, with the alternatives it beat."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import make_record, retried_attachment, run_cli, write_log
from loop_logs import bucket_encryption, instances_stopped
from pysynth.explain import explain as explain_synthesis
from pysynth.facts import analyse
from pysynth.ingest.select import Selection, ingest
from pysynth.model import LOOP, Condition, ItemRef, Loop, Output, OutputRef, RecordRef, Runbook, Step
from pysynth.solve import Answer, Outcome
from pysynth.synth import Synthesis

ROOT = Path(__file__).resolve().parents[1]
ONBOARDING = str(ROOT / "examples" / "iam-onboarding.json")


def explain(*arguments: str) -> list[str]:
    result = run_cli("explain", *arguments)
    assert result.code == 0, result.stderr
    return result.stdout.splitlines()


def section(lines: list[str], title: str) -> list[str]:
    start = lines.index(title)
    end = next((number for number in range(start + 1, len(lines)) if lines[number] == ""), len(lines))
    return lines[start:end]


def test_every_step_names_its_record_and_every_value_its_reason():
    lines = explain("--principal", "alice", ONBOARDING)
    assert lines[0].startswith("The runbook is proven optimal under the objectives, highest priority first: ")
    assert "inputs 3, branches 0, steps 5, loops 0, input_references 0, later_sources 0" in lines[0]
    create_user = section(lines, "Step CreateUser: iam CreateUser")
    assert create_user[1].startswith(f"  It reproduces {ONBOARDING} record 2 (00000000-0000-0000-0000-000000002003")
    assert create_user[2:4] == [
        "  UserName: input UserName",
        ("    It names or identifies something the user chose or that existed before the session, so it is an "
        "input with the logged value as default, never a literal (a rule)."),
    ]
    login = section(lines, "Step CreateLoginProfile: iam CreateLoginProfile")
    assert "  Password: secret input Password" in login
    assert "  PasswordResetRequired: the literal true" in login
    attach = section(lines, "Step AttachUserPolicy: iam AttachUserPolicy")
    assert "  PolicyArn: the literal arn:aws:iam::aws:policy/ReadOnlyAccess" in attach
    assert any("constant" in line for line in attach)
    # compare's alternatives, and the objective each loses on.
    group = section(lines, "Step AddUserToGroup: iam AddUserToGroup")
    alternative = re.compile(r"    Runbook #\d takes the output LoginProfile.UserName of step CreateLoginProfile "
                             r"instead, and loses on later_sources \(1 against 0\)\.")
    assert any(alternative.fullmatch(line) for line in group), group


def test_one_input_or_one_step():
    lines = explain("--principal", "alice", "--input", "Password", ONBOARDING)
    assert lines[2:] == [
        "Input Password (String, secret)",
        "  Used by CreateLoginProfile.Password.",
        ("  CreateLoginProfile.Password: CloudTrail hides this value, so it is a secret input: required, without a "
        "default, never written."),
    ]
    lines = explain("--principal", "alice", "--step", "CreateAccessKey", ONBOARDING)
    assert [line for line in lines if line.startswith(("Step", "Input"))] == ["Step CreateAccessKey: iam CreateAccessKey"]


def test_a_merged_retry_and_a_created_value(tmp_path):
    records = retried_attachment() + [
        make_record("CreateAccessKey", request={"userName": "bob"}, time="2024-03-05T10:00:03Z",
                    response={"accessKey": {"userName": "bob", "accessKeyId": "AKIAEXAMPLEKEY0001", "status": "Active",
                                            "createDate": "Mar 5, 2024 10:00:03 AM"}}),
        make_record("UpdateAccessKey", request={"userName": "bob", "accessKeyId": "AKIAEXAMPLEKEY0001", "status": "Inactive"},
                    time="2024-03-05T10:00:04Z"),
    ]
    log = write_log(tmp_path / "retry.json", records)
    attach = section(explain(str(log)), "Step AttachUserPolicy: iam AttachUserPolicy")
    assert any(line.startswith(f"  It also stands for {log} record 2") and "a retry, merged (objective steps)" in line
               for line in attach)
    update = section(explain(str(log)), "Step UpdateAccessKey: iam UpdateAccessKey")
    assert "  AccessKeyId: output AccessKey.AccessKeyId of step CreateAccessKey" in update
    assert any("the call created it, so it is always taken from that output" in line for line in update)


def test_bad_input():
    unknown = run_cli("explain", "--principal", "alice", "--step", "DeleteUser", ONBOARDING)
    assert unknown.code == 2
    assert unknown.stderr.strip() == ("error: the runbook has no step DeleteUser; its steps are CreateUser, "
                                      "AttachUserPolicy, CreateLoginProfile, AddUserToGroup, CreateAccessKey")
    both = run_cli("explain", "--principal", "alice", "--step", "CreateUser", "--input", "UserName", ONBOARDING)
    assert both.code == 2 and "give --step or --input, not both" in both.stderr
    no_input = run_cli("explain", "--principal", "alice", "--input", "Nope", ONBOARDING)
    assert no_input.code == 2 and "its inputs are UserName, Password, GroupName" in no_input.stderr


def test_a_wait_and_a_retry_say_why(shared):
    log = str(shared / "invictus_terraform_vpc_iam_ec2_deploy_session.json")
    wait = explain("--step", "WaitForNatGatewayAvailable", log)[3]
    assert wait.endswith("the log polled this read, so it becomes a wait on botocore's NatGatewayAvailable waiter "
                         "until $.NatGateways[0].State is available, up to 40 attempts (objective unwaited_polls).")
    retry = explain("--step", "RunInstances", log)[3]
    assert retry.endswith("The log shows it failed (InvalidParameterValue) before it succeeded, so it is retried, "
                          "up to 4 attempts (objective unhandled_failures).")


# --------------------------------------------------------------------------- loops


def loop_synthesis(tmp_path):
    """ListBuckets, then the two log buckets encrypted: the best runbook loops over the listed
    buckets kept by their prefix; the next best makes a step of each call."""
    encryption = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    log = write_log(tmp_path / "log.json", [
        make_record("ListBuckets", source="s3.amazonaws.com", time="2024-03-05T10:00:00Z",
                    response={"Buckets": [{"Name": "logs-a"}, {"Name": "data-b"}, {"Name": "logs-c"}]}),
        *(make_record("PutBucketEncryption", source="s3.amazonaws.com", time=f"2024-03-05T10:00:0{second}Z",
                      request={"Bucket": bucket, "ServerSideEncryptionConfiguration": encryption})
          for second, bucket in ((1, "logs-a"), (2, "logs-c"))),
    ])
    ingested = ingest([str(log)], Selection(principal="alice"))
    session = analyse(ingested.kept, ingested.reads, ingested.failed)
    records = [RecordRef(event.file, event.index, event.event_id, event.time) for event in session.calls]
    names = Output("Names", "$.Buckets[?(@.Name =~ /^logs\\-.*/)].Name", "StringList", "Buckets[*].Name",
                   where=Condition("Buckets[*]", "Name", "prefix", "logs-"))
    listing = Step("ListBuckets", "s3", "ListBuckets", {}, outputs=[names], records=records[:1])

    def encrypt(name, bucket, record):
        return Step(name, "s3", "PutBucketEncryption",
                    {"Bucket": bucket, "ServerSideEncryptionConfiguration": encryption}, records=[record])

    looped = Runbook("Encrypt.", [], [listing, Step("EachBucket", "", "", {}, action=LOOP, loop=Loop(
        OutputRef("ListBuckets", "Names"), [encrypt("EncryptBucket", ItemRef("EachBucket"), records[1])], 2))])
    each = Runbook("Encrypt.", [], [encrypt("EncryptBucket", "logs-a", records[1]),
                                    encrypt("EncryptBucket2", "logs-c", records[2])])
    answers = [Answer(steps=[1, 2], merged={}, bindings={}, inputs=[], cost=[2, 0], violations=[], read_steps=[1]),
               Answer(steps=[2, 3], merged={}, bindings={}, inputs=[], cost=[3, 0], violations=[])]
    outcome = Outcome(True, True, answers, ["steps", "inputs"], [], {})
    return Synthesis(session, outcome, [looped, each])


def test_a_loop_says_what_it_walks_and_what_the_next_runbook_does_instead(tmp_path):
    lines = explain_synthesis(loop_synthesis(tmp_path))
    titles = [line for line in lines if line and not line.startswith(" ")][1:]
    assert titles == ["Step ListBuckets: s3 ListBuckets",
                      'Loop EachBucket: EncryptBucket, for each element of ListBuckets.Names (Buckets[*].Name where '
                      'Name starts with "logs-")',
                      "Step EncryptBucket: s3 PutBucketEncryption"]
    loop = section(lines, titles[1])
    assert loop[1:] == [
        "  The log makes the same calls 2 times, one element after the other: one loop stands for them all "
        "(objective steps).",
        "  The list is read from the response of step ListBuckets as the runbook runs: run again, it walks what is "
        "there then.",
        '  It keeps only the elements whose Name starts with "logs-": the log acted on those alone, and that is the '
        "simplest condition that tells them apart.",
        "  Runbook #2 does not walk this list: it makes a step of each call instead, and loses on steps (3 against 2).",
    ]
    body = section(lines, titles[2])
    assert body[2] == ("  It runs in loop EachBucket, once per element: that record is its first iteration's call, "
                       "the other iterations make the same call with their own element.")
    assert section(explain_synthesis(loop_synthesis(tmp_path), step="EachBucket"), titles[1]) == loop


def test_a_synthesized_loop_and_batch_explain_their_values(tmp_path):
    log = bucket_encryption(tmp_path, ["data-x", "logs-a", "web-1", "logs-b"], ["logs-a", "logs-b"])
    lines = explain("--all-principals", str(log))
    loop = section(lines, 'Loop EachBucket: PutBucketEncryption, for each element of ListBuckets.MatchingBucketNames '
                          '(Buckets[*].Name where Name starts with "logs-")')
    assert "  The log makes the same calls 2 times, one element after the other: one loop stands for them all " \
           "(objective steps)." in loop
    body = section(lines, "Step PutBucketEncryption: s3 PutBucketEncryption")
    assert body[body.index("  Bucket: the element of loop EachBucket") + 1].startswith(
        "    It changes from one iteration to the next as the list does")
    stopped = explain("--all-principals", str(instances_stopped(tmp_path, {
        "i-0123456789abcdef0": "running", "i-0123456789abcdef1": "stopped", "i-0123456789abcdef2": "running"})))
    stop = section(stopped, "Step StopInstances: ec2 StopInstances")
    assert "  InstanceIds[0]: the whole list, in one call" in stop
    assert not any("the the " in line for line in lines + stopped)
