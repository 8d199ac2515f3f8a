"""pysynth verify against several demonstrations: runbooks with branches, made by hand, certified
against each demonstration's own calls, failures and responses; each problem names the
demonstration that shows it. Inputs take the values each demonstration shows."""

from __future__ import annotations


from pathlib import Path

import pytest
from rich.console import Console

import demo_logs
from conftest import make_record, write_log
from pysynth.demos import Demonstration
from pysynth.ingest.select import Selection, ingest
from pysynth.model import (
    BRANCH, LOOP, Branch, Input, InputRef, ItemRef, Loop, Output, OutputRef, RecordRef, Runbook, Step, Test,
)
from pysynth.render import render
from pysynth.ssm import parse_document
from pysynth.synth import synthesize_demonstrations
from pysynth.verify import check_synthesized, matches_table, verify

EC2 = "ec2.amazonaws.com"
USER_ARN = "arn:aws:iam::111122223333:user/{}"


def at(second: int) -> str:
    return f"2024-03-05T10:00:{second:02d}Z"


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path, monkeypatch):
    """Logs are read by a relative name, so that messages name ``trail-1.json`` as a user would see it."""
    monkeypatch.chdir(tmp_path)


def demonstration(name: str, records: list[dict]) -> Demonstration:
    """A log's selected events as one demonstration, named by its file."""
    write_log(Path(name), records)
    ingested = ingest([name], Selection(principal="alice"))
    return Demonstration(name, ingested.kept, ingested.reads, ingested.failed)


def messages(verdict) -> list[str]:
    return [f"{problem.kind}: {problem.message}" for problem in verdict.problems]


def branch(name: str, test: Test, steps: list[Step], otherwise: list[Step] = ()) -> Step:
    return Step(name, "", "", {}, action=BRANCH, branch=Branch(test, steps, list(otherwise)))


def user_input(default: str = "dave") -> Input:
    return Input("UserName", "String", "The user.", default=default)


# --------------------------------------------------------------------------- a failed call as the test

def get_user(second: int, user: str, found: bool) -> dict:
    """GetUser as CloudTrail logs it: no response for a read; IAM's error by its shape's name."""
    if found:
        return make_record("GetUser", time=at(second), request={"userName": user})
    return make_record("GetUser", time=at(second), request={"userName": user},
                       errorCode="NoSuchEntityException", errorMessage=f"The user with name {user} cannot be found.")


def create_user(second: int, user: str) -> dict:
    return make_record("CreateUser", time=at(second), request={"userName": user},
                       response={"user": {"userName": user, "arn": USER_ARN.format(user), "userId": "AIDAEXAMPLE1"}})


def add_to_group(second: int, user: str) -> dict:
    return make_record("AddUserToGroup", time=at(second), request={"userName": user, "groupName": "developers"})


@pytest.fixture
def onboarding() -> list[Demonstration]:
    """dave is new (GetUser fails, so he is created); erin exists: both are added to the group."""
    return [
        demonstration("trail-1.json", [get_user(0, "dave", found=False), create_user(1, "dave"), add_to_group(2, "dave")]),
        demonstration("trail-2.json", [get_user(0, "erin", found=True), add_to_group(1, "erin")]),
    ]


def get_user_step(records=()) -> Step:
    return Step("GetUser", "iam", "GetUser", {"UserName": InputRef("UserName")}, expected_errors=["NoSuchEntity"],
                records=list(records))


def create_user_step(records=()) -> Step:
    return Step("CreateUser", "iam", "CreateUser", {"UserName": InputRef("UserName")},
                outputs=[Output("Arn", "$.User.Arn", "String", "User.Arn")], records=list(records))


def add_to_group_step(records=()) -> Step:
    return Step("AddUserToGroup", "iam", "AddUserToGroup",
                {"UserName": InputRef("UserName"), "GroupName": "developers"}, records=list(records))


def onboarding_runbook(test: Test | None = None, records: dict[str, list[RecordRef]] | None = None) -> Runbook:
    """GetUser; if it failed with NoSuchEntity, CreateUser; then AddUserToGroup."""
    records = records or {}
    test = test or Test("failed", step="GetUser", codes=["NoSuchEntity"])
    steps = [
        get_user_step(records.get("GetUser", ())),
        branch("IfGetUserFailed", test, [create_user_step(records.get("CreateUser", ()))]),
        add_to_group_step(records.get("AddUserToGroup", ())),
    ]
    return Runbook("Onboard a user.", [user_input()], steps)


def test_a_failed_test_certifies_both_demonstrations(onboarding):
    verdict = verify(onboarding_runbook(), onboarding)
    assert messages(verdict) == []
    made = {name: [(record.file, record.index) for record in records] for name, records in verdict.matches}
    assert made == {
        "GetUser": [("trail-1.json", 0), ("trail-2.json", 0)],
        "IfGetUserFailed": [],
        "CreateUser": [("trail-1.json", 1)],
        "AddUserToGroup": [("trail-1.json", 2), ("trail-2.json", 1)],
    }


def test_the_table_says_where_each_branch_held(onboarding):
    runbook = onboarding_runbook()
    console = Console(width=200, record=True)
    console.print(matches_table(runbook, verify(runbook, onboarding)))
    rows = [" ".join(line.strip("│ ").split()) for line in console.export_text().splitlines()]
    assert "IfGetUserFailed │ aws:branch if step GetUser failed with NoSuchEntity │ held in trail-1.json" in rows
    assert "did not hold in trail-2.json" in rows
    assert "CreateUser │ iam CreateUser │ trail-1.json record 1 (2024-03-05T10:00:01Z)" in rows


def test_a_runbook_that_always_creates_the_user_is_rejected_for_the_second_demonstration(onboarding):
    runbook = Runbook("Onboard a user.", [user_input()], [get_user_step(), create_user_step(), add_to_group_step()])
    verdict = verify(runbook, onboarding)
    assert messages(verdict) == [
        "extra-step: demonstration trail-2.json: step CreateUser: the log has no iam CreateUser call it reproduces",
    ]
    assert verdict.problems[0].demonstration == "trail-2.json"


def test_the_tested_read_is_the_one_before_the_branch_not_a_later_check(onboarding):
    # GetUser again after CreateUser (checking the work) succeeds: the branch tests the first one.
    rechecked = demonstration("trail-3.json", [get_user(0, "dave", found=False), create_user(1, "dave"),
                                               get_user(2, "dave", found=True), add_to_group(3, "dave")])
    assert messages(verify(onboarding_runbook(), [rechecked])) == []
    assert messages(verify(onboarding_runbook(), [rechecked, onboarding[1]])) == []


def test_a_step_that_does_not_expect_the_error_cannot_make_the_failed_call(onboarding):
    runbook = onboarding_runbook()
    runbook.steps[0].expected_errors = []
    assert [problem.kind for problem in verify(runbook, onboarding).problems] == ["bad-test"]


def test_the_wrong_arm_is_rejected_in_both_demonstrations(onboarding):
    # Turned round, dave (GetUser failed) is not created, and erin (who exists) is.
    negated = Test("failed", step="GetUser", codes=["NoSuchEntity"], negate=True)
    assert messages(verify(onboarding_runbook(negated), onboarding)) == [
        "missing-call: demonstration trail-1.json: trail-1.json record 1 (2024-03-05T10:00:01Z): iam CreateUser "
        "(event CreateUser-2024-03-05T10:00:01Z-alice) is made by no step",
        "extra-step: demonstration trail-2.json: step CreateUser: the log has no iam CreateUser call it reproduces",
    ]


def test_each_demonstration_has_its_own_input_values_but_one_per_demonstration(onboarding, tmp_path):
    # erin is looked up, but someone else is added to the group: one input cannot be both.
    onboarding[1] = demonstration("trail-2.json", [get_user(0, "erin", found=True), add_to_group(1, "frank")])
    assert messages(verify(onboarding_runbook(), onboarding)) == [
        'value-differs: demonstration trail-2.json: step AddUserToGroup UserName: trail-2.json record 1 '
        '(2024-03-05T10:00:01Z) has "frank", the runbook gives "erin" (from {{ UserName }})',
    ]


def test_an_input_its_first_call_does_not_show_takes_its_default():
    moved = [demonstration(f"trail-{number}.json", [
        create_user(0, user), make_record("UpdateUser", time=at(1), request={"userName": user, "newPath": "/ops/"})])
        for number, user in ((1, "dave"), (2, "erin"))]
    path = InputRef("Path")
    runbook = Runbook("Create a user, then move it.", [user_input(), Input("Path", "String", "The path.", default="/admins/")], [
        Step("CreateUser", "iam", "CreateUser", {"UserName": InputRef("UserName"), "Path": path}),
        Step("UpdateUser", "iam", "UpdateUser", {"UserName": InputRef("UserName"), "NewPath": path}),
    ])
    # CreateUser sent no path, so Path is its default there; UpdateUser is then held to it.
    assert [message for message in messages(verify(runbook, moved)) if "trail-1.json" in message] == [
        "value-differs: demonstration trail-1.json: step CreateUser Path: trail-1.json record 0 "
        "(2024-03-05T10:00:00Z) has nothing, the runbook gives {{ Path }}",
        'value-differs: demonstration trail-1.json: step UpdateUser NewPath: trail-1.json record 1 '
        '(2024-03-05T10:00:01Z) has "/ops/", the runbook gives "/admins/" (from {{ Path }})',
    ]


def test_one_demonstration_takes_the_inputs_defaults(onboarding):
    # Alone, erin's demonstration is held to the runbook's default (dave), as verify always did.
    verdict = verify(onboarding_runbook(), onboarding[1:])
    assert {problem.kind for problem in verdict.problems} == {"value-differs"}
    assert all(problem.demonstration is None and "demonstration" not in problem.message for problem in verdict.problems)
    assert verify(onboarding_runbook(), onboarding[:1]).certified


def test_a_test_of_an_unknown_kind_is_reported_once(onboarding):
    unknown = Test("empty", value=InputRef("UserName"))
    assert messages(verify(onboarding_runbook(unknown), onboarding))[0] == \
        "bad-test: branch IfGetUserFailed tests 'empty', which is none of failed, equals, set"
    assert [problem.kind for problem in verify(onboarding_runbook(unknown), onboarding).problems].count("bad-test") == 1


def test_an_arm_output_is_read_only_inside_its_arm(onboarding):
    runbook = onboarding_runbook()
    runbook.steps[2].request["UserName"] = OutputRef("CreateUser", "Arn")
    assert [problem.kind for problem in verify(runbook, onboarding).problems] == ["outside-arm"]
    assert "step CreateUser runs only in branch IfGetUserFailed when its test holds" in \
        verify(runbook, onboarding).problems[0].message


def test_check_synthesized_holds_each_step_to_the_demonstration_its_records_name(onboarding):
    first, second = "trail-1.json", "trail-2.json"
    claims = {"GetUser": [RecordRef(first, 0, None, None)], "CreateUser": [RecordRef(first, 1, None, None)],
              "AddUserToGroup": [RecordRef(second, 1, None, None)]}
    assert messages(check_synthesized(onboarding_runbook(records=claims), onboarding)) == []
    claims["AddUserToGroup"] = [RecordRef(first, 1, None, None)]
    assert messages(check_synthesized(onboarding_runbook(records=claims), onboarding)) == [
        "records-differ: step AddUserToGroup claims to reproduce trail-1.json record 1, "
        "but reproduces trail-1.json record 2",
    ]
    # The branch claims nothing, and makes no call in either demonstration; CreateUser makes one in the first.
    claims["AddUserToGroup"] = [RecordRef(second, 1, None, None)]
    claims["CreateUser"] = []
    assert messages(check_synthesized(onboarding_runbook(records=claims), onboarding)) == [
        "records-differ: step CreateUser claims to reproduce no record, but reproduces trail-1.json record 1",
    ]


# --------------------------------------------------------------------------- an optional input as the test

@pytest.fixture
def optional_group() -> list[Demonstration]:
    """dave is created and added to a group; erin is only created."""
    return [
        demonstration("trail-1.json", [create_user(0, "dave"), add_to_group(1, "dave")]),
        demonstration("trail-2.json", [create_user(0, "erin")]),
    ]


def group_runbook(negate: bool = False, branched: bool = True) -> Runbook:
    add = Step("AddUserToGroup", "iam", "AddUserToGroup",
               {"UserName": InputRef("UserName"), "GroupName": InputRef("GroupName")})
    steps = [create_user_step()]
    steps += [branch("IfGroupNameGiven", Test("set", value=InputRef("GroupName"), negate=negate), [add])] \
        if branched else [add]
    inputs = [user_input(), Input("GroupName", "String", "The group, if any.", default="")]
    return Runbook("Create a user, in a group if one is given.", inputs, steps)


def test_a_set_test_on_an_optional_input(optional_group):
    verdict = verify(group_runbook(), optional_group)
    assert messages(verdict) == []
    assert dict(verdict.matches)["AddUserToGroup"] == [RecordRef("trail-1.json", 1, "AddUserToGroup-2024-03-05T10:00:01Z-alice",
                                                                 "2024-03-05T10:00:01Z")]


def test_a_set_test_turned_round_or_left_out_is_rejected(optional_group):
    extra = "extra-step: demonstration trail-2.json: step AddUserToGroup: the log has no iam AddUserToGroup call it reproduces"
    assert messages(verify(group_runbook(branched=False), optional_group)) == [extra]
    # Turned round, dave's group (given) is never joined, and erin (none given) would join one.
    assert messages(verify(group_runbook(negate=True), optional_group)) == [
        "missing-call: demonstration trail-1.json: trail-1.json record 1 (2024-03-05T10:00:01Z): iam AddUserToGroup "
        "(event AddUserToGroup-2024-03-05T10:00:01Z-alice) is made by no step",
        extra,
    ]


# --------------------------------------------------------------------------- a recorded response as the test

INSTANCE = "i-0123456789abcdef0"


def describe(second: int, state: str, recorded: bool = True) -> dict:
    response = {"Reservations": [{"Instances": [{"InstanceId": INSTANCE, "State": {"Code": 16, "Name": state}}]}]}
    return make_record("DescribeInstances", source=EC2, time=at(second), request={"InstanceIds": [INSTANCE]},
                       response=response if recorded else None)


def stop(second: int) -> dict:
    return make_record("StopInstances", source=EC2, time=at(second), request={"InstanceIds": [INSTANCE]},
                       response={"StoppingInstances": [{"InstanceId": INSTANCE, "CurrentState": {"Code": 64, "Name": "stopping"}}]})


def tag(second: int) -> dict:
    return make_record("CreateTags", source=EC2, time=at(second),
                       request={"Resources": [INSTANCE], "Tags": [{"Key": "checked", "Value": "yes"}]})


def states(recorded: bool = True) -> list[Demonstration]:
    """A running instance is stopped, a stopped one is not; both are tagged."""
    return [
        demonstration("trail-1.json", [describe(0, "running", recorded), stop(1), tag(2)]),
        demonstration("trail-2.json", [describe(0, "stopped", recorded), tag(1)]),
    ]


def stop_runbook(text: str = "running") -> Runbook:
    instance = [InputRef("InstanceId")]
    steps = [
        Step("DescribeInstances", "ec2", "DescribeInstances", {"InstanceIds": instance},
             outputs=[Output("StateName", "$.Reservations[0].Instances[0].State.Name", "String",
                             "Reservations[0].Instances[0].State.Name")]),
        branch("IfRunning", Test("equals", value=OutputRef("DescribeInstances", "StateName"), text=text),
               [Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": instance})]),
        Step("CreateTags", "ec2", "CreateTags", {"Resources": instance, "Tags": [{"Key": "checked", "Value": "yes"}]}),
    ]
    return Runbook("Stop the instance if it runs.", [Input("InstanceId", "String", "The instance.", default=INSTANCE)],
                   steps)


def test_an_equals_test_on_a_recorded_response():
    assert messages(verify(stop_runbook(), states())) == []


def test_an_equals_test_on_another_value_is_rejected():
    assert [(problem.kind, problem.demonstration) for problem in verify(stop_runbook("pending"), states()).problems] \
        == [("missing-call", "trail-1.json")]


def test_an_equals_test_cannot_be_checked_against_a_cloudtrail_read():
    problems = verify(stop_runbook(), states(recorded=False)).problems
    assert [(problem.kind, problem.demonstration) for problem in problems] == [
        ("undecided-branch", "trail-1.json"), ("undecided-branch", "trail-2.json")]
    assert problems[0].message == (
        "demonstration trail-1.json: step IfRunning: the test ({{ DescribeInstances.StateName }} is \"running\") "
        "cannot be checked: trail-1.json record 0 (2024-03-05T10:00:00Z) (DescribeInstances) has no response in the "
        "log: CloudTrail logs none for reads; record the session with `pysynth record` to test what it answered; "
        "1 call of its arms left unchecked")


# --------------------------------------------------------------------------- a loop over a list input

def members_runbook() -> Runbook:
    body = Step("AddUserToGroup", "iam", "AddUserToGroup", {"UserName": ItemRef("EachUser"), "GroupName": "devs"})
    loop = Step("EachUser", "", "", {}, action=LOOP, loop=Loop(InputRef("UserNames"), [body], 3))
    return Runbook("Add users to devs.", [Input("UserNames", "StringList", "The users.", default=["bob", "carol", "erin"])],
                   [loop])


def members(name: str, users: list[str], group: str = "devs") -> Demonstration:
    return demonstration(name, [make_record("AddUserToGroup", time=at(second), request={"userName": user, "groupName": group})
                                for second, user in enumerate(users)])


def test_a_loop_walks_the_list_each_demonstration_gave():
    demonstrations = [members("trail-1.json", ["bob", "carol", "erin"]), members("trail-2.json", ["dave", "frank"])]
    verdict = verify(members_runbook(), demonstrations)
    assert messages(verdict) == []
    assert verdict.iterations == {"EachUser": [3, 2]}
    # Alone, the second demonstration is held to the list's default, as verify always did.
    assert [problem.kind for problem in verify(members_runbook(), demonstrations[1:]).problems] == [
        "iteration-count", "value-differs"]


def test_a_loop_whose_calls_do_not_fit_its_body_is_rejected():
    demonstrations = [members("trail-1.json", ["bob", "carol", "erin"]), members("trail-2.json", ["dave"], "ops")]
    problems = verify(members_runbook(), demonstrations).problems
    assert problems and {problem.demonstration for problem in problems} == {"trail-2.json"}
    assert any('has "ops", the runbook gives "devs"' in problem.message for problem in problems)


# --------------------------------------------------------------------------- synthesized from several

def lead_scenarios(directory) -> dict:
    """The pairs of demonstrations synthesis is tested on (tests/demo_logs.py)."""
    return {
        "ensured": demo_logs.demonstrations(directory, demo_logs.user_ensured("carol", "devs", exists=False),
                                            demo_logs.user_ensured("dave", "ops", exists=True, start=10)),
        "existing": demo_logs.demonstrations(directory, demo_logs.user_created_or_existing("carol", exists=False),
                                             demo_logs.user_created_or_existing("dave", exists=True, start=10)),
        "state": demo_logs.demonstrations(
            directory, demo_logs.instance_stopped_and_tagged("i-0123456789abcdef0", "running"),
            demo_logs.instance_stopped_and_tagged("i-0fedcba9876543210", "stopped", start=10)),
        "onboarded": demo_logs.demonstrations(directory, demo_logs.user_onboarded("carol", "devs"),
                                              demo_logs.user_onboarded("dave", None, start=10)),
        "buckets": demo_logs.demonstrations(
            directory, demo_logs.buckets_encrypted(["logs-a", "logs-b", "logs-c", "web-1"], ["logs-a", "logs-b", "logs-c"]),
            demo_logs.buckets_encrypted(["logs-x", "logs-y", "app-1"], ["logs-x", "logs-y"], start=20)),
    }


@pytest.mark.parametrize("scenario", ["ensured", "existing", "state", "onboarded", "buckets"])
def test_synthesis_from_several_demonstrations_is_certified_against_each(tmp_path, scenario):
    demonstrations = lead_scenarios(tmp_path)[scenario]
    runbook = synthesize_demonstrations(demonstrations).runbooks[0]
    assert messages(check_synthesized(runbook, demonstrations)) == []
    # What verify reads from a file: the SSM document, its branches read back.
    assert messages(verify(parse_document(render(runbook, "ssm"), "x"), demonstrations)) == []


def test_a_hand_edited_branch_choice_is_caught(tmp_path):
    demonstrations = lead_scenarios(tmp_path)["state"]
    text = render(synthesize_demonstrations(demonstrations).runbooks[0], "ssm")
    edited = parse_document(text.replace('StringEquals: "running"', 'StringEquals: "pending"'), "x")
    problems = verify(edited, demonstrations).problems
    assert [(problem.kind, problem.demonstration) for problem in problems] == [("missing-call", "demo-1.json")]
    assert "demo-1.json record 1" in problems[0].message and "ec2 StopInstances" in problems[0].message


def test_a_create_that_may_find_its_user_existing_must_expect_that(tmp_path):
    demonstrations = lead_scenarios(tmp_path)["existing"]
    runbook = synthesize_demonstrations(demonstrations).runbooks[0]
    runbook.step("CreateUser").expected_errors = []
    assert messages(verify(runbook, demonstrations)) == [
        "extra-step: demonstration demo-2.json: step CreateUser: the log has no iam CreateUser call it reproduces",
    ]
