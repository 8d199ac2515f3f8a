"""Several demonstrations make one runbook: steps both made are one step, steps one made stand in a
branch whose test tells the demonstrations apart, and the objectives and policies decide among the
generalizations. The instances are made by facts.py from small logs (tests/demo_logs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from demo_logs import (
    buckets_encrypted, demonstrations, instance_stopped_and_tagged, user_ensured, user_onboarded,
)
from pysynth.facts import analyse_demonstrations
from pysynth.model import BRANCH, LOOP, InputRef, OutputRef, walk
from pysynth.resources import asp_root
from pysynth.synth import synthesize_demonstrations


def top_level(runbook) -> list[tuple[str, str]]:
    return [(step.action, step.api or step.name) for step in runbook.steps]


def test_an_error_code_is_a_branch_and_the_shared_steps_are_one(tmp_path):
    synthesis = synthesize_demonstrations(demonstrations(
        tmp_path, user_ensured("carol", "devs", exists=False), user_ensured("dave", "ops", exists=True, start=10)))
    runbook = synthesis.runbooks[0]
    assert synthesis.outcome.optimal
    assert top_level(runbook) == [("aws:executeAwsApi", "GetUser"), (BRANCH, "IfGetUserFailed"),
                                  ("aws:executeAwsApi", "AddUserToGroup")]
    get_user, branch, add = runbook.steps
    assert get_user.expected_errors == ["NoSuchEntity"]  # botocore's code, not CloudTrail's NoSuchEntityException
    test = branch.branch.test
    assert (test.kind, test.step, test.codes, test.negate) == ("failed", "GetUser", ["NoSuchEntity"], False)
    assert [step.api for step in branch.branch.steps] == ["CreateUser"] and branch.branch.otherwise == []
    # One input per role, whatever each demonstration called its user and group.
    assert {item.name: item.default for item in runbook.inputs} == {"UserName": "carol", "GroupName": "devs"}
    assert add.request == {"UserName": InputRef("UserName"), "GroupName": InputRef("GroupName")}
    assert runbook.solution.objectives["branches"] == 1 and runbook.solution.objectives["steps"] == 3


def test_an_error_that_changes_nothing_after_it_is_expected_not_branched_on(tmp_path):
    from demo_logs import user_created_or_existing

    runbook = synthesize_demonstrations(demonstrations(
        tmp_path, user_created_or_existing("carol", exists=False), user_created_or_existing("dave", exists=True, start=10))).runbooks[0]
    create, add = runbook.steps
    assert (create.api, create.expected_errors) == ("CreateUser", ["EntityAlreadyExists"])
    # Where CreateUser failed it answered nothing: the name comes from the input, not its response.
    assert add.request["UserName"] == InputRef("UserName")


def test_a_response_value_is_a_branch_test(tmp_path):
    runbook = synthesize_demonstrations(demonstrations(
        tmp_path, instance_stopped_and_tagged("i-0123456789abcdef0", "running"),
        instance_stopped_and_tagged("i-0fedcba9876543210", "stopped", start=10))).runbooks[0]
    describe, branch, tag = runbook.steps
    test = branch.branch.test
    assert (test.kind, test.text) == ("equals", "running")
    assert test.value == OutputRef("DescribeInstances", "StateName")
    assert [(output.name, output.path) for output in describe.outputs if output.name == "StateName"] == [
        ("StateName", "Reservations[0].Instances[0].State.Name")]
    assert [step.api for step in branch.branch.steps] == ["StopInstances"]
    assert tag.api == "CreateTags"


def test_an_input_only_one_demonstration_gave_is_optional_and_tested(tmp_path):
    runbook = synthesize_demonstrations(demonstrations(
        tmp_path, user_onboarded("carol", "devs"), user_onboarded("dave", None, start=10))).runbooks[0]
    branch = next(step for step in runbook.steps if step.action == BRANCH)
    assert (branch.branch.test.kind, branch.branch.test.value) == ("set", InputRef("GroupName"))
    assert [step.api for step in branch.branch.steps] == ["AddUserToGroup"]
    assert runbook.input("GroupName").default == ""  # not given: the branch is skipped
    assert [step.api for step in runbook.steps if step.action != BRANCH] == ["CreateUser", "CreateLoginProfile"]


def test_a_loop_whose_count_differs_is_one_loop(tmp_path):
    runbook = synthesize_demonstrations(demonstrations(
        tmp_path, buckets_encrypted(["logs-a", "logs-b", "logs-c", "web-1"], ["logs-a", "logs-b", "logs-c"]),
        buckets_encrypted(["logs-x", "logs-y", "app-1"], ["logs-x", "logs-y"], start=20))).runbooks[0]
    assert top_level(runbook) == [("aws:executeAwsApi", "ListBuckets"), (LOOP, "EachBucket")]
    loop = runbook.steps[1].loop
    where = runbook.steps[0].outputs[0].where
    assert loop.over == OutputRef("ListBuckets", runbook.steps[0].outputs[0].name)
    assert (where.test, where.value) == ("prefix", "logs-")  # true of both demonstrations' lists
    assert [step.api for step in loop.steps] == ["PutBucketEncryption"]


def test_three_control_flow_statements(tmp_path):
    """A loop, a branch on an error code, and a second loop; both loops' counts differ."""
    from demo_logs import iam

    def groups(user, names, start):
        return [iam("AddUserToGroup", start + number, {"userName": user, "groupName": name})
                for number, name in enumerate(names)]

    first = (buckets_encrypted(["logs-a", "logs-b", "web"], ["logs-a", "logs-b"])
             + user_ensured("carol", "devs", exists=False, start=10)[:2] + groups("carol", ["devs", "ops"], 12))
    second = (buckets_encrypted(["logs-x", "logs-y", "logs-z"], ["logs-x", "logs-y", "logs-z"], start=30)
              + user_ensured("dave", "ops", exists=True, start=40)[:1] + groups("dave", ["ops", "qa", "web"], 42))
    synthesis = synthesize_demonstrations(demonstrations(tmp_path, first, second))
    runbook = synthesis.runbooks[0]
    assert synthesis.outcome.optimal
    assert [(step.action, step.api or step.name) for step in runbook.steps] == [
        ("aws:executeAwsApi", "ListBuckets"), (LOOP, "EachBucket"), ("aws:executeAwsApi", "GetUser"),
        (BRANCH, "IfGetUserFailed"), (LOOP, "EachGroupName")]
    assert runbook.steps[4].loop.over == InputRef("GroupNames")
    assert runbook.solution.objectives["branches"] == 1 and runbook.solution.objectives["loops"] == 2


def test_a_literal_that_differs_between_demonstrations_is_an_input(tmp_path):
    from demo_logs import s3

    def versioned(bucket, status, start):
        return [s3("PutBucketVersioning", start, {"bucketName": bucket, "VersioningConfiguration": {"Status": status}})]

    runbook = synthesize_demonstrations(demonstrations(
        tmp_path, versioned("acme-logs", "Enabled", 0), versioned("acme-data", "Suspended", 10))).runbooks[0]
    (step,) = runbook.steps
    assert step.request["VersioningConfiguration"]["Status"] == InputRef("Status")
    assert runbook.input("Status").default == "Enabled"


def test_two_demonstrations_that_took_the_path_the_first_did_not_share_one_arm(tmp_path):
    synthesis = synthesize_demonstrations(demonstrations(
        tmp_path, user_ensured("carol", "devs", exists=True), user_ensured("dave", "ops", exists=False, start=10),
        user_ensured("erin", "qa", exists=False, start=20)))
    assert synthesis.outcome.optimal
    runbook = synthesis.runbooks[0]
    (branch,) = [step for step in runbook.steps if step.action == BRANCH]
    assert [step.api for step in branch.branch.steps] == ["CreateUser"]
    assert runbook.solution.objectives["steps"] == 3 and runbook.solution.objectives["inputs"] == 2
    assert synthesis.outcome.answers[0].matches  # both later CreateUser calls are one step


def test_compare_and_objectives_choose_between_generalizations(tmp_path):
    demos = demonstrations(tmp_path, user_ensured("carol", "devs", exists=False),
                           user_ensured("dave", "ops", exists=True, start=10))
    synthesis = synthesize_demonstrations(demos, models=2)
    best, other = synthesis.runbooks
    # The alternative keeps AddUserToGroup apart in each arm: four steps, three inputs.
    assert (best.solution.objectives["steps"], other.solution.objectives["steps"]) == (3, 4)
    arms = next(step for step in other.steps if step.action == BRANCH).branch
    assert [step.api for step in arms.steps] == ["CreateUser", "AddUserToGroup"]
    assert [step.api for step in arms.otherwise] == ["AddUserToGroup"]
    # Every alternative is a whole runbook: each output reference names an output its step declares.
    for runbook in synthesize_demonstrations(demos, models=5).runbooks:
        declared = {(step.name, output.name) for step in walk(runbook.steps) for output in step.outputs}
        for step in walk(runbook.steps):
            for value in step.request.values():
                if isinstance(value, OutputRef):
                    assert (value.step, value.output) in declared
    # An objectives file that puts output references before inputs picks that alternative.
    objectives = tmp_path / "references-first.lp"
    objectives.write_text("priority(input_references,20).\npriority(inputs,14).\npriority(branches,13).\n"
                          "priority(steps,12).\n")
    chosen = synthesize_demonstrations(demos, objectives=objectives).runbooks[0]
    arms = next(step for step in chosen.steps if step.action == BRANCH).branch
    assert arms.steps[-1].request["UserName"] == OutputRef("CreateUser", "UserName")


def test_guarded_deletes_policy(tmp_path):
    policy = Path(str(asp_root() / "policies" / "guarded-deletes.lp"))

    def cleaned(user, keep, start):
        records = user_ensured(user, "devs", exists=False, start=start)
        if not keep:
            from demo_logs import iam
            records.append(iam("RemoveUserFromGroup", start + 3, {"userName": user, "groupName": "devs"}))
            records.append(iam("DeleteUser", start + 4, {"userName": user}))
        return records

    # Both demonstrations delete: nothing tells a delete apart, so the policy refuses.
    both = demonstrations(tmp_path / "both", cleaned("carol", False, 0), cleaned("dave", False, 10))
    refused = synthesize_demonstrations(both, policies=[policy])
    assert not refused.outcome.satisfiable
    assert {violation.rule for violation in refused.outcome.violations} == {"guarded_deletes"}
    assert synthesize_demonstrations(both).outcome.satisfiable


def test_alignment_facts_come_from_facts_py(tmp_path):
    session = analyse_demonstrations(demonstrations(
        tmp_path, user_ensured("carol", "devs", exists=False), user_ensured("dave", "ops", exists=True, start=10)))
    facts = {(fact.predicate, len(fact.args)) for fact in session.facts()}
    assert {("demonstration", 1), ("demo", 2), ("alignable", 2), ("slot_pair", 2), ("test_at", 2),
            ("test_holds", 2), ("test_rank", 2)} <= facts
    # Each demonstration keeps its own values: no output of one is offered to the other.
    demo_of = session.alignment.demo_of_call
    for slot, output in session.can_take:
        assert demo_of[session.slots[slot - 1].call - 1] == demo_of[session.outputs[output - 1].call - 1]


@pytest.mark.parametrize("steps", [1])
def test_one_demonstration_makes_no_branch(tmp_path, steps):
    runbook = synthesize_demonstrations(demonstrations(tmp_path, user_ensured("carol", "devs", exists=False))).runbooks[0]
    assert not any(step.action == BRANCH or step.expected_errors for step in walk(runbook.steps))
