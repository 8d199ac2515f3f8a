"""Loops in the bash and Python scripts, run against the fake AWS CLI and boto3 of test_render: list
elements from a log or the command line reach every call intact, nested loops keep their own
elements, list inputs are checked; and the render checks that keep a loop from being rendered wrong."""

from __future__ import annotations

import json

import pytest

from loop_runbooks import (
    encrypt_buckets,
    loop_step,
    record,
    stop_running_instances,
    subnets_per_zone,
    users_to_groups,
)
from pysynth.model import Condition, IndexRef, Input, InputRef, ItemRef, Output, OutputRef, Runbook, Step, Template
from pysynth.render import RenderError, render, render_checked
from test_render import FAKE_RESPONSES, HOSTILE, PYTHON_RESPONSES, run_bash, run_python

SCRIPTS = ("bash", "python")


def run_script(rendering: str, runbook: Runbook, tmp_path, arguments=()):
    """The script's process and the calls it made, against the fake AWS CLI or boto3."""
    if rendering == "bash":
        return run_bash(render_checked(runbook, "bash"), tmp_path, FAKE_RESPONSES, arguments)
    return run_python(render_checked(runbook, "python"), tmp_path, PYTHON_RESPONSES, arguments)


def tag_each(values: list[str]) -> Runbook:
    """TagUser once per element of a list input, the element in one tag and in a template."""
    return Runbook(
        description="Tag a user once per value.",
        inputs=[Input("Values", "StringList", "Hostile values.", default=values)],
        steps=[loop_step("EachValue", InputRef("Values"), [
            Step("TagUser", "iam", "TagUser", {"UserName": "someone", "Tags": [
                {"Key": "value", "Value": ItemRef("EachValue")},
                {"Key": "numbered", "Value": Template(("'", IndexRef("EachValue"), "' {", ItemRef("EachValue"), "}"))},
            ]}, records=[record(1)]),
        ], iterations=len(values))],
    )


def tagged(calls: list[dict]) -> list[tuple[str, str]]:
    return [tuple(tag["Value"] for tag in call["request"]["Tags"]) for call in calls if call["command"][1] in
            ("tag-user", "tag_user")]


@pytest.mark.parametrize("rendering", SCRIPTS)
def test_hostile_elements_of_a_list_reach_each_iteration_intact(rendering, tmp_path):
    done, calls = run_script(rendering, tag_each(HOSTILE), tmp_path / "default")
    assert done.returncode == 0, done.stderr.decode()
    assert tagged(calls) == [(value, f"'{number}' {{{value}}}") for number, value in enumerate(HOSTILE, 1)]

    given = ["*", "$(touch pwned)", '"quoted" \\ \t\n', ""]
    done, calls = run_script(rendering, tag_each(HOSTILE), tmp_path / "given", ["--values", json.dumps(given)])
    assert done.returncode == 0, done.stderr.decode()
    assert [value for value, _ in tagged(calls)] == given


@pytest.mark.parametrize("rendering", SCRIPTS)
def test_nested_loops_keep_each_level_s_element(rendering, tmp_path):
    done, calls = run_script(rendering, users_to_groups(), tmp_path,
                             ["--user-names", '["u 1", "u*2"]', "--group-names", '["g\\"1", "g2", "g3"]'])
    assert done.returncode == 0, done.stderr.decode()
    pairs = [(call["request"]["UserName"], call["request"]["GroupName"]) for call in calls
             if call["command"][1] in ("add-user-to-group", "add_user_to_group")]
    assert pairs == [(user, group) for user in ("u 1", "u*2") for group in ('g"1', "g2", "g3")]


@pytest.mark.parametrize("rendering", SCRIPTS)
@pytest.mark.parametrize("given", ["alice", '{"alice": 1}', '["alice", 2]', '["alice"', ""])
def test_a_list_input_must_be_a_json_list_of_strings(rendering, given, tmp_path):
    done, calls = run_script(rendering, users_to_groups(), tmp_path, ["--user-names", given])
    assert done.returncode != 0 and calls == []
    message = "input UserNames must be a JSON list of strings" if rendering == "bash" else "not a JSON list of strings"
    assert message.encode() in done.stderr


def test_bash_refuses_a_list_element_it_cannot_hold(tmp_path):
    assert problems_of(tag_each(["a", "b\0c"])) == [
        "input Values: the default contains a NUL character, which bash cannot hold"
    ]
    done, calls = run_script("bash", users_to_groups(), tmp_path, ["--user-names", '["a\\u0000b"]'])
    assert done.returncode == 1 and calls == []
    assert b"input UserNames must be a JSON list of strings (none holding \\u0000)" in done.stderr
    done, calls = run_script("python", tag_each(["a", "b\0c"]), tmp_path / "python")
    assert done.returncode == 0 and [value for value, _ in tagged(calls)] == ["a", "b\0c"]


def test_a_loop_with_an_empty_list_makes_no_call(tmp_path):
    for rendering in SCRIPTS:
        done, calls = run_script(rendering, users_to_groups(), tmp_path / rendering, ["--user-names", "[]"])
        assert done.returncode == 0, done.stderr.decode()
        assert calls == []


def blocks_and_instances(blocks: list[str]) -> Runbook:
    """A subnet per address block the log shows (literal texts, no input), then one StopInstances
    over the instance ids the log shows."""
    return Runbook(
        description="Subnets for the logged blocks.",
        inputs=[Input("VpcId", "String", "The VPC.", default="vpc-1")],
        steps=[
            loop_step("EachBlock", blocks, [
                Step("CreateSubnet", "ec2", "CreateSubnet", {"VpcId": InputRef("VpcId"), "CidrBlock": ItemRef("EachBlock")},
                     records=[record(1)]),
            ], iterations=len(blocks)),
            Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": ["i-1", "i-'2'"]}, batch="InstanceIds",
                 records=[record(2), record(3)]),
        ],
    )


@pytest.mark.parametrize("rendering", SCRIPTS)
def test_a_loop_over_the_log_s_own_texts_and_a_batch_of_them(rendering, tmp_path):
    blocks = ["10.0.1.0/24", "10.0.2.0/24", "it's * $(x)"]
    done, calls = run_script(rendering, blocks_and_instances(blocks), tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert [call["request"] for call in calls] == [
        *({"VpcId": "vpc-1", "CidrBlock": block} for block in blocks), {"InstanceIds": ["i-1", "i-'2'"]}
    ]


def test_a_body_s_outputs_no_step_reads_are_not_kept():
    # Only the top-level steps' outputs are printed: an unread one inside a body would be a value
    # nobody uses (shellcheck: SC2034), while the outputs later steps read are kept.
    runbook = subnets_per_zone()
    create = runbook.steps[0].loop.steps[0]
    create.outputs.append(Output("SubnetArn", "$.Subnet.SubnetArn", "String", "Subnet.SubnetArn"))
    for fmt in SCRIPTS:
        script = render_checked(runbook, fmt)
        assert "output_create_subnet_subnet_id" in script and "output_create_subnet_subnet_arn" not in script


# --------------------------------------------------------------------------- render checks


def problems_of(runbook: Runbook, fmt: str = "bash") -> list[str]:
    with pytest.raises(RenderError) as raised:
        render(runbook, fmt)
    return raised.value.problems


def test_loop_references_are_valid_only_inside_their_loop():
    runbook = users_to_groups()
    runbook.steps.append(Step("TagUser", "iam", "TagUser", {"UserName": ItemRef("EachUser"), "Tags": [
        {"Key": "group", "Value": Template(("n", IndexRef("EachGroup")))}]}))
    assert problems_of(runbook) == [
        "TagUser.UserName: the element of loop EachUser is used outside that loop's steps",
        "TagUser.Tags[0].Value: the iteration number of loop EachGroup is used outside that loop's steps",
    ]


def test_an_inner_loop_reads_the_outer_loop_s_element_and_number():
    runbook = users_to_groups()
    inner = runbook.steps[0].loop.steps[0].loop.steps[0]
    inner.request["GroupName"] = Template((ItemRef("EachGroup"), "-", IndexRef("EachUser"), "-", ItemRef("EachUser")))
    for fmt in SCRIPTS:
        render_checked(runbook, fmt)


def test_a_loop_walks_a_string_list_defined_before_it():
    runbook = users_to_groups()
    runbook.input("UserNames").type, runbook.input("UserNames").default = "String", "alice"
    runbook.steps[0].loop.steps[0].loop.over = OutputRef("Later", "Names")
    assert problems_of(runbook) == [
        "step EachUser: it loops over input UserNames, which is not a StringList input or a list output of an "
        "earlier step",
        "step EachGroup: it loops over output Later.Names, which is not a StringList input or a list output of an "
        "earlier step",
    ]


def test_a_body_s_outputs_stay_inside_its_iteration():
    runbook = encrypt_buckets()
    body = runbook.steps[1].loop.steps
    body[0].api, body[0].request = "GetBucketLocation", {"Bucket": ItemRef("EachBucket")}
    body[0].outputs = [Output("Location", "$.LocationConstraint", "String", "LocationConstraint")]
    runbook.steps.append(Step("GetBucketTagging", "s3", "GetBucketTagging",
                              {"Bucket": OutputRef("PutBucketEncryption", "Location")}))
    assert problems_of(runbook) == [
        "GetBucketTagging.Bucket: output PutBucketEncryption.Location is not defined before step GetBucketTagging"
    ]


def test_body_requests_are_validated_with_stand_ins_for_loop_references():
    runbook = users_to_groups()
    body = runbook.steps[0].loop.steps[0].loop.steps
    del body[0].request["GroupName"]
    # An iteration number fits text (as its digits); an element does not fit a number.
    body.append(Step("ListUsers", "iam", "ListUsers", {"PathPrefix": IndexRef("EachUser"), "MaxItems": ItemRef("EachGroup")}))
    assert problems_of(runbook) == [
        'step AddUserToGroup: Missing required parameter in input: "GroupName"',
        "ListUsers.MaxItems: the element of loop EachGroup is string, but this member takes integer",
    ]


def test_a_list_output_s_condition_reads_a_property_of_its_elements():
    runbook = encrypt_buckets()
    names = runbook.steps[0].outputs[0]
    names.where = Condition("Buckets[*]", "Size", "prefix", "logs-")
    assert problems_of(runbook) == [
        f"output ListBuckets.Names: selector {names.selector!r} does not select path 'Buckets[*].Name'"
    ]
    names.selector = "$.Buckets[?(@.Size =~ /^logs\\-.*/)].Name"
    assert problems_of(runbook) == ["output ListBuckets.Names: the elements of Buckets[*] have no Size"]


def test_a_batch_member_takes_a_whole_list_and_the_scripts_give_its_step_no_outputs():
    runbook = stop_running_instances()
    runbook.steps[1].outputs = [Output("State", "$.StoppingInstances[0].CurrentState.Name", "String",
                                       "StoppingInstances[0].CurrentState.Name")]
    assert problems_of(runbook, "python") == [
        "step StopInstances: a batch step has no outputs: the scripts skip its call when the list is empty"
    ]
    runbook.steps[1].outputs = []
    runbook.inputs.append(Input("Ids", "String", "Instances.", default="i-1"))
    runbook.steps[1].request["InstanceIds"] = InputRef("Ids")
    assert problems_of(runbook, "bash") == ["StopInstances.InstanceIds: input Ids is string, but this member takes list"]


def test_a_loop_step_makes_no_call_and_has_a_body():
    runbook = users_to_groups()
    runbook.steps[0].request = {"UserName": "x"}
    runbook.steps[0].loop.steps[0].loop.steps = []
    assert problems_of(runbook, "python") == [
        "step EachUser: a loop step makes no call of its own: no service, API, request, outputs, wait, retry or batch",
        "step EachGroup: a loop needs at least one step to repeat",
    ]


def test_step_names_are_unique_across_loop_bodies():
    runbook = users_to_groups()
    runbook.steps.append(Step("AddUserToGroup", "iam", "AddUserToGroup", {"UserName": "a", "GroupName": "b"}))
    assert "step 'AddUserToGroup' is defined more than once" in problems_of(runbook)
