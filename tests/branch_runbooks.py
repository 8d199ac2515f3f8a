"""Runbooks with branches, built with the model's dataclasses as the synthesizer would build them
from several demonstrations: a call's expected error, a value read from a response, an optional
input. The render tests and the emulator tests share them."""

from __future__ import annotations

from loop_runbooks import record

from pysynth.model import BRANCH, Branch, Input, InputRef, Output, OutputRef, Runbook, Step, Test


def branch_step(name: str, test: Test, steps: list[Step], otherwise: list[Step] = ()) -> Step:
    return Step(name, "", "", {}, action=BRANCH, branch=Branch(test, steps, list(otherwise)))


# A text from a log that is code in every rendering's language, a pattern, and has spaces at its ends.
HOSTILE_TEXT = " it's \"odd\" $(touch pwned) `x` *?[a] \\ \u00e9\n "


def bucket_for_mode(text: str = HOSTILE_TEXT) -> Runbook:
    """CreateBucket only when the input Mode is ``text``: a branch is the runbook's first step."""
    return Runbook(
        description="Create a bucket in one mode.",
        inputs=[Input("Mode", "String", "The mode."), Input("Bucket", "String", "The bucket.")],
        steps=[branch_step("IfMode", Test("equals", value=InputRef("Mode"), text=text), [
            Step("CreateBucket", "s3", "CreateBucket", {"Bucket": InputRef("Bucket")}, records=[record(1)]),
        ])],
    )


def user_in_group(negate: bool = False) -> Runbook:
    """GetUser, which may fail with NoSuchEntity; CreateUser only then; AddUserToGroup either way.
    ``negate``: the same runbook with the test turned round (CreateUser in its otherwise arm)."""
    user = InputRef("UserName")
    create = [Step("CreateUser", "iam", "CreateUser", {"UserName": user}, records=[record(2)],
                   outputs=[Output("Arn", "$.User.Arn", "String", "User.Arn")])]
    test = Test("failed", step="GetUser", codes=["NoSuchEntity"], negate=negate)
    return Runbook(
        description="Put a user in a group, creating the user when it does not exist.",
        inputs=[Input("UserName", "String", "The user."), Input("GroupName", "String", "The group.")],
        steps=[
            Step("GetUser", "iam", "GetUser", {"UserName": user}, records=[record(1)], expected_errors=["NoSuchEntity"],
                 outputs=[Output("UserId", "$.User.UserId", "String", "User.UserId")]),
            branch_step("IfUserMissing", test, [] if negate else create, create if negate else []),
            Step("AddUserToGroup", "iam", "AddUserToGroup", {"UserName": user, "GroupName": InputRef("GroupName")},
                 records=[record(3)]),
        ],
    )


def stop_if_running() -> Runbook:
    """DescribeInstances; StopInstances when the instance is running, else a tag saying it was not.
    The branch, with both arms, is the runbook's last step."""
    instance = InputRef("InstanceId")
    return Runbook(
        description="Stop an instance if it is running.",
        inputs=[Input("InstanceId", "String", "The instance.")],
        steps=[
            Step("DescribeInstances", "ec2", "DescribeInstances", {"InstanceIds": [instance]}, records=[record(1)],
                 outputs=[Output("State", "$.Reservations[0].Instances[0].State.Name", "String",
                                 "Reservations[0].Instances[0].State.Name")]),
            branch_step(
                "IfRunning", Test("equals", value=OutputRef("DescribeInstances", "State"), text="running"),
                [Step("StopInstances", "ec2", "StopInstances", {"InstanceIds": [instance]}, records=[record(2)])],
                [Step("CreateTags", "ec2", "CreateTags", {"Resources": [instance], "Tags": [
                    {"Key": "checked", "Value": "it's \"not\" running; $(touch pwned)"}]}, records=[record(3)])],
            ),
        ],
    )


def bucket_with_owner() -> Runbook:
    """CreateBucket; PutBucketTagging only when the optional input Owner is set. The branch, with an
    empty otherwise arm, is the runbook's last step."""
    bucket = InputRef("Bucket")
    tagging = {"TagSet": [{"Key": "owner", "Value": InputRef("Owner")}]}
    return Runbook(
        description="Create a bucket, tagged with its owner when one is given.",
        inputs=[Input("Bucket", "String", "The bucket."), Input("Owner", "String", "Who owns it.", default="")],
        steps=[
            Step("CreateBucket", "s3", "CreateBucket", {"Bucket": bucket}, records=[record(1)]),
            branch_step("IfOwnerGiven", Test("set", value=InputRef("Owner")), [
                Step("PutBucketTagging", "s3", "PutBucketTagging", {"Bucket": bucket, "Tagging": tagging},
                     records=[record(2)]),
            ]),
        ],
    )


def nested_branches() -> Runbook:
    """A branch inside a branch's arm, each with a way that is empty, and a tested call inside an arm:
    GetUser may fail; when it did, CreateUser, then TagUser only when Owner is given; otherwise
    GetLoginProfile, which may fail too, and CreateLoginProfile only then. AddUserToGroup after."""
    user = InputRef("UserName")
    tag = {"UserName": user, "Tags": [{"Key": "owner", "Value": InputRef("Owner")}]}
    return Runbook(
        description="Put a user in a group, creating and tagging it, or giving it a login profile.",
        inputs=[Input("UserName", "String", "The user."), Input("GroupName", "String", "The group."),
                Input("Owner", "String", "Who owns the user.", default=""),
                Input("Password", "String", "The user's first password.", secret=True)],
        steps=[
            Step("GetUser", "iam", "GetUser", {"UserName": user}, records=[record(1)], expected_errors=["NoSuchEntity"]),
            branch_step("IfUserMissing", Test("failed", step="GetUser", codes=["NoSuchEntity"]), [
                Step("CreateUser", "iam", "CreateUser", {"UserName": user}, records=[record(2)]),
                branch_step("IfOwnerGiven", Test("set", value=InputRef("Owner")), [
                    Step("TagUser", "iam", "TagUser", tag, records=[record(3)]),
                ]),
            ], [
                Step("GetLoginProfile", "iam", "GetLoginProfile", {"UserName": user}, records=[record(4)],
                     expected_errors=["NoSuchEntity"]),
                branch_step("IfNoLoginProfile", Test("failed", step="GetLoginProfile", codes=["NoSuchEntity"],
                                                     negate=True), [], [
                    Step("CreateLoginProfile", "iam", "CreateLoginProfile",
                         {"UserName": user, "Password": InputRef("Password"), "PasswordResetRequired": True},
                         records=[record(5)]),
                ]),
            ]),
            Step("AddUserToGroup", "iam", "AddUserToGroup", {"UserName": user, "GroupName": InputRef("GroupName")},
                 records=[record(6)]),
        ],
    )


def user_removed() -> Runbook:
    """DeleteLoginProfile, which may fail with NoSuchEntity (the user had none) with no branch after
    it, then DeleteUser; inside a branch's arm, so SSM jumps after the call whether it failed or not."""
    user = InputRef("UserName")
    return Runbook(
        description="Remove a user, and its login profile if it has one.",
        inputs=[Input("UserName", "String", "The user."), Input("Confirm", "String", "Say yes.", default="")],
        steps=[
            branch_step("IfConfirmed", Test("equals", value=InputRef("Confirm"), text="yes"), [
                Step("DeleteLoginProfile", "iam", "DeleteLoginProfile", {"UserName": user}, records=[record(1)],
                     expected_errors=["NoSuchEntity"]),
            ], [
                Step("TagUser", "iam", "TagUser", {"UserName": user, "Tags": [{"Key": "kept", "Value": "yes"}]},
                     records=[record(2)]),
            ]),
            Step("ListGroupsForUser", "iam", "ListGroupsForUser", {"UserName": user}, records=[record(3)]),
        ],
    )


def bucket_tagged_once() -> Runbook:
    """GetBucketTagging, which fails with NoSuchTagSet on a bucket with no tags (two outputs, one a
    list); PutBucketTagging only then."""
    bucket = InputRef("Bucket")
    tagging = {"TagSet": [{"Key": "team", "Value": "data"}]}
    return Runbook(
        description="Tag a bucket that has no tags.",
        inputs=[Input("Bucket", "String", "The bucket.")],
        steps=[
            Step("GetBucketTagging", "s3", "GetBucketTagging", {"Bucket": bucket}, records=[record(1)],
                 expected_errors=["NoSuchTagSet"],
                 outputs=[Output("Keys", "$.TagSet[*].Key", "StringList", "TagSet[*].Key"),
                          Output("FirstValue", "$.TagSet[0].Value", "String", "TagSet[0].Value")]),
            branch_step("IfUntagged", Test("failed", step="GetBucketTagging", codes=["NoSuchTagSet"]), [
                Step("PutBucketTagging", "s3", "PutBucketTagging", {"Bucket": bucket, "Tagging": tagging},
                     records=[record(2)]),
            ]),
        ],
    )
