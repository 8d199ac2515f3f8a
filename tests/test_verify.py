"""pysynth verify: runbooks read back from SSM (or the JSON model) and certified against their logs,
and hand-made wrong runbooks rejected with the right reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import make_record, one_demonstration, run_cli, write_log
from pysynth.ingest.select import Selection, ingest
from pysynth.model import GlobalRef, Input, InputRef, Output, OutputRef, Runbook, Step, Template
from pysynth.render import render
from pysynth.ssm import DocumentError, load_runbook, parse_document
from pysynth.synth import synthesize
from pysynth.verify import check_synthesized, verify

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "iam-onboarding.json"
TERRAFORM = "invictus_terraform_vpc_iam_ec2_deploy_session.json"
VPC_ID = "vpc-0123456789abcdef0"


def kept(path, principal=None):
    return ingest([str(path)], Selection(principal=principal, all_principals=principal is None)).kept


def kinds(verdict) -> list[str]:
    return [problem.kind for problem in verdict.problems]


@pytest.fixture(scope="module")
def iam():
    calls = kept(EXAMPLE, "alice")
    runbook = synthesize(calls).runbooks[0]
    return calls, runbook, render(runbook, "ssm")


@pytest.fixture(scope="module")
def vpc_log(tmp_path_factory) -> Path:
    """A VPC and a subnet in it: the subnet's request carries the id the first call created."""
    tags = {"tagSpecificationSet": {"items": [{"resourceType": "vpc", "tags": [{"key": "Name", "value": "main"}]}]}}
    records = [
        make_record("CreateVpc", source="ec2.amazonaws.com", time="2024-03-05T10:00:00Z",
                    request={"cidrBlock": "10.0.0.0/16", **tags},
                    response={"vpc": {"vpcId": VPC_ID, "cidrBlock": "10.0.0.0/16", "state": "pending"}}),
        make_record("CreateSubnet", source="ec2.amazonaws.com", time="2024-03-05T10:00:05Z",
                    request={"vpcId": VPC_ID, "cidrBlock": "10.0.1.0/24"},
                    response={"subnet": {"subnetId": "subnet-0123456789abcdef0", "vpcId": VPC_ID}}),
    ]
    return write_log(tmp_path_factory.mktemp("vpc") / "vpc.json", records)


def write(tmp_path: Path, text: str, name: str = "runbook.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def step_block(text: str, name: str) -> str:
    """The YAML of one step of a rendered document, from its dash to the next step's."""
    return re.search(rf"  - name: {name}\n.*?(?=\n  - name: |\noutputs:|\Z)", text, re.S).group() + "\n"


# --------------------------------------------------------------------------- certified


def test_synthesized_iam_runbook_is_certified_from_ssm_and_json(iam, tmp_path):
    calls, runbook, text = iam
    assert check_synthesized(runbook, one_demonstration(calls)).certified
    for document in (parse_document(text, "iam.yaml"), load_runbook(write(tmp_path, render(runbook, "json"), "iam.json"))):
        verdict = verify(document, one_demonstration(calls))
        assert verdict.certified, verdict.problems
        assert [(name, [r.index for r in records]) for name, records in verdict.matches] == [
            ("CreateUser", [2]), ("AttachUserPolicy", [1]), ("CreateLoginProfile", [4]),
            ("AddUserToGroup", [5]), ("CreateAccessKey", [7])]


def test_synthesized_terraform_runbook_is_certified(shared, tmp_path):
    calls = kept(shared / TERRAFORM)
    runbook = synthesize(calls).runbooks[0]
    assert check_synthesized(runbook, one_demonstration(calls)).certified
    for text, name in ((render(runbook, "ssm"), "tf.yaml"), (render(runbook, "json"), "tf.json")):
        verdict = verify(load_runbook(write(tmp_path, text, name)), one_demonstration(calls))
        assert verdict.certified, [problem.message for problem in verdict.problems]
        assert sum(len(records) for _, records in verdict.matches) == len(calls) == 23


def test_cli_certifies_with_a_table_of_steps_and_records(iam, tmp_path):
    path = write(tmp_path, iam[2])
    result = run_cli("verify", str(path), str(EXAMPLE), "--principal", "alice")
    assert result.code == 0, result.stderr
    assert "CreateLoginProfile" in result.stdout and "iam-onboarding.json record 4" in result.stdout
    assert "certified" in result.stderr


def test_a_retried_call_is_covered_by_one_step(tmp_path):
    attach = dict(request={"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    log = write_log(tmp_path / "retry.json", [
        make_record("CreateUser", time="2024-03-05T10:00:00Z", request={"userName": "bob"},
                    response={"user": {"userName": "bob", "userId": "AIDAEXAMPLEBOB000001",
                                       "arn": "arn:aws:iam::111122223333:user/bob", "path": "/"}}),
        make_record("AttachUserPolicy", time="2024-03-05T10:00:01Z", event_id="first", **attach),
        make_record("AttachUserPolicy", time="2024-03-05T10:00:02Z", event_id="again", **attach),
    ])
    calls = kept(log, "alice")
    runbook = synthesize(calls).runbooks[0]
    assert len(runbook.steps) == 2
    verdict = check_synthesized(runbook, one_demonstration(calls))
    assert verdict.certified, verdict.problems
    assert [record.event_id for record in dict(verdict.matches)["AttachUserPolicy"]] == ["first", "again"]


# --------------------------------------------------------------------------- rejected


def test_a_changed_value_differs(iam, tmp_path):
    calls, _, text = iam
    changed = text.replace('Value: "platform"', 'Value: "finance"')
    verdict = verify(parse_document(changed, "x"), one_demonstration(calls))
    assert kinds(verdict) == ["value-differs"]
    problem = verdict.problems[0]
    assert (problem.step, problem.path, problem.expected, problem.found) == (
        "CreateUser", "Tags[0].Value", "platform", "finance")
    result = run_cli("verify", str(write(tmp_path, changed)), str(EXAMPLE), "--principal", "alice")
    assert result.code == 5
    assert "value-differs: step CreateUser Tags[0].Value" in result.stderr
    assert '"platform"' in result.stderr and '"finance"' in result.stderr


def test_a_changed_input_default_differs(iam):
    calls, _, text = iam
    verdict = verify(parse_document(text.replace('default: "bob"', 'default: "carol"'), "x"), one_demonstration(calls))
    # Later steps read the name from CreateUser's logged response: only CreateUser differs.
    assert kinds(verdict) == ["value-differs"]
    assert (verdict.problems[0].step, verdict.problems[0].found) == ("CreateUser", "carol")
    assert "{{ UserName }}" in verdict.problems[0].message


def test_a_missing_step_leaves_its_record_unmade(iam):
    calls, _, text = iam
    verdict = verify(parse_document(text.replace(step_block(text, "CreateAccessKey"), ""), "x"), one_demonstration(calls))
    assert kinds(verdict) == ["missing-call"]
    assert verdict.problems[0].record.index == 7
    assert "record 7" in verdict.problems[0].message and "CreateAccessKey" in verdict.problems[0].message


def test_an_extra_step_reproduces_nothing(iam):
    calls, _, text = iam
    extra = (
        '  - name: CreateGroup\n    action: "aws:executeAwsApi"\n    inputs:\n'
        '      Service: "iam"\n      Api: "CreateGroup"\n      GroupName: "admins"\n'
    )
    document = text.replace("outputs:\n  - CreateUser.UserName", extra + "outputs:\n  - CreateUser.UserName")
    verdict = verify(parse_document(document, "x"), one_demonstration(calls))
    assert kinds(verdict) == ["extra-step"]
    assert verdict.problems[0].step == "CreateGroup"


def test_a_wrong_operation(iam):
    calls, _, text = iam
    verdict = verify(parse_document(text.replace('Api: "AddUserToGroup"', 'Api: "RemoveUserFromGroup"'), "x"), one_demonstration(calls))
    assert kinds(verdict) == ["wrong-operation"]
    assert "RemoveUserFromGroup" in verdict.problems[0].message and "record 5" in verdict.problems[0].message


def test_an_output_used_before_its_step(iam):
    calls, _, text = iam
    # In a document, a reference to a later step is malformed: the runner could not run it.
    attach = step_block(text, "AttachUserPolicy")
    reordered = text.replace(attach, "").replace("  - name: CreateUser\n", attach + "  - name: CreateUser\n")
    with pytest.raises(DocumentError, match=r"CreateUser\.UserName \}\}, but step CreateUser runs later"):
        parse_document(reordered, "x")
    # The same order in a runbook model is a verification problem.
    runbook = parse_document(text, "x")
    runbook.steps.insert(0, runbook.steps.pop(1))
    verdict = verify(runbook, one_demonstration(calls))
    assert kinds(verdict) == ["output-before-producer", "lifecycle-order"]
    assert [problem.step for problem in verdict.problems] == ["AttachUserPolicy", "AttachUserPolicy"]
    assert "names 'bob' before step CreateUser creates it" in verdict.problems[1].message


def test_a_created_id_written_as_a_literal(vpc_log):
    calls = kept(vpc_log, "alice")
    text = render(synthesize(calls).runbooks[0], "ssm")
    assert "{{ CreateVpc.VpcId }}" in text
    verdict = verify(parse_document(text.replace("{{ CreateVpc.VpcId }}", VPC_ID), "x"), one_demonstration(calls))
    assert kinds(verdict) == ["literal-created-id"]
    problem = verdict.problems[0]
    assert (problem.step, problem.path, problem.record.index) == ("CreateSubnet", "VpcId", 0)
    assert "use {{ CreateVpc.VpcId }}" in problem.message


def test_a_created_id_inside_a_literal_text(vpc_log):
    calls = kept(vpc_log, "alice")
    runbook = synthesize(calls).runbooks[0]
    runbook.step("CreateSubnet").request["TagSpecifications"] = [
        {"ResourceType": "subnet", "Tags": [{"Key": "Vpc", "Value": f"in {VPC_ID}"}]}]
    verdict = verify(runbook, one_demonstration(calls))
    assert "literal-created-id" in kinds(verdict)


def test_terraform_literal_vpc_id(shared):
    calls = kept(shared / TERRAFORM)
    vpc_id = next(event.call.response["Vpc"]["VpcId"] for event in calls if event.call.operation == "CreateVpc")
    text = render(synthesize(calls).runbooks[0], "ssm")
    verdict = verify(parse_document(text.replace("{{ CreateVpc.VpcId }}", vpc_id), "x"), one_demonstration(calls))
    assert set(kinds(verdict)) == {"literal-created-id"}
    assert all(problem.path == "VpcId" for problem in verdict.problems)


def test_a_secret_with_a_default(iam):
    calls, _, text = iam
    secret = re.search(r"  Password:\n    type: \"String\"\n    description: .*\n", text).group()
    verdict = verify(parse_document(text.replace(secret, secret + '    default: "hunter2"\n'), "x"), one_demonstration(calls))
    assert kinds(verdict) == ["secret-literal"]
    assert "Password" in verdict.problems[0].message


def test_a_hidden_value_written_as_a_literal(iam):
    calls, _, text = iam
    verdict = verify(parse_document(text.replace('Password: "{{ Password }}"', 'Password: "hunter2"'), "x"), one_demonstration(calls))
    assert kinds(verdict) == ["secret-literal"]
    assert (verdict.problems[0].step, verdict.problems[0].path) == ("CreateLoginProfile", "Password")
    assert "hunter2" not in verdict.problems[0].message


def test_a_reference_to_an_undeclared_output(iam):
    calls, _, text = iam
    changed = text.replace("{{ CreateUser.UserName }}", "{{ CreateUser.Name }}", 1)
    verdict = verify(parse_document(changed, "x"), one_demonstration(calls))
    assert kinds(verdict) == ["unknown-output"]
    assert verdict.problems[0].step == "AttachUserPolicy"


@pytest.mark.parametrize("edit, message", [
    (lambda text: "mainSteps: [unclosed", "not YAML or JSON"),
    (lambda text: "schemaVersion: '0.3'\nparameters: {}\n", "no mainSteps"),
    (lambda text: text.replace("  - name: CreateUser\n", "  - nom: CreateUser\n"), "step 1 has no name"),
    (lambda text: text.replace('    action: "aws:executeAwsApi"\n', "", 1), "step CreateUser has no action"),
    (lambda text: text.replace("{{ GroupName }}", "{{ Group }}"), "refers to input Group"),
    (lambda text: text.replace("{{ CreateUser.UserName }}", "{{ MakeUser.UserName }}", 1), "MakeUser does not exist"),
    (lambda text: text.replace("{{ GroupName }}", "{{ automation:EXECUTION_ID }}"), "not a reference"),
    (lambda text: text.replace("{{ GroupName }}", "{{ GroupName"), "never closed"),
])
def test_malformed_documents_give_one_line_errors(iam, tmp_path, edit, message):
    text = edit(iam[2])
    with pytest.raises(DocumentError, match=message) as raised:
        parse_document(text, "runbook.yaml")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("runbook.yaml: ")
    result = run_cli("verify", str(write(tmp_path, text)), str(EXAMPLE), "--principal", "alice")
    assert result.code == 2
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0
    assert message.split()[0] in result.stderr


def test_the_json_model_is_checked_like_a_document(iam, tmp_path):
    calls, runbook, _ = iam
    path = write(tmp_path, render(runbook, "json"), "runbook.json")
    assert run_cli("verify", str(path), str(EXAMPLE), "--principal", "alice").code == 0
    renamed = render(runbook, "json").replace('"name": "CreateUser"', '"name": "NewUser"', 1)
    with pytest.raises(DocumentError, match="step CreateUser does not exist"):
        load_runbook(write(tmp_path, renamed, "renamed.json"))
    with pytest.raises(DocumentError, match="not a pysynth runbook model"):
        load_runbook(write(tmp_path, '{"schema": 1, "inputs": []}', "partial.json"))
    with pytest.raises(DocumentError, match="cannot read it"):
        load_runbook(tmp_path / "absent.yaml")


def test_other_actions_are_kept_by_name(iam):
    calls, _, text = iam
    wait = (
        "  - name: WaitForUser\n    action: aws:waitForAwsResourceProperty\n    inputs:\n"
        "      Service: iam\n      Api: GetUser\n      UserName: '{{ CreateUser.UserName }}'\n"
        "      PropertySelector: $.User.UserName\n      DesiredValues: [bob]\n"
        "  - name: Decide\n    action: aws:branch\n    inputs:\n      Choices: []\n"
    )
    runbook = parse_document(text.replace("  - name: AttachUserPolicy\n", wait + "  - name: AttachUserPolicy\n"), "x")
    assert [(step.name, step.action) for step in runbook.steps[1:3]] == [
        ("WaitForUser", "aws:waitForAwsResourceProperty"), ("Decide", "aws:branch")]
    wait = runbook.step("WaitForUser").wait
    assert (wait.property_selector, wait.desired_values) == ("$.User.UserName", ["bob"])
    assert runbook.step("WaitForUser").request == {"UserName": OutputRef("CreateUser", "UserName")}
    # A wait changes nothing, so it needs no record; a branch cannot be checked against a log.
    assert kinds(verify(runbook, one_demonstration(calls))) == ["unsupported-action"]


# --------------------------------------------------------------------------- round trip

HOSTILE = [
    "it's \"quoted\"", "$(rm -rf /) `id` ${HOME}", "line one\nline two\r\n\ttabbed", "ünïcødé ✓ 日本語 🎉",
    "# not a comment", "key: value", "- not a list", "null", "yes", "", " padded ", "back\\slash",
    "line\u2028separator", "bell\x07", "}} closing braces",
]


def hostile_runbook() -> Runbook:
    tags = [{"Key": f"k{index}", "Value": value} for index, value in enumerate(HOSTILE)]
    tags.append({"Key": "arn", "Value": Template((
        "arn:", GlobalRef("AWS_PARTITION"), ":iam::", GlobalRef("ACCOUNT_ID"), ":user/$(x)\n\"",
        InputRef("UserName"), " ✓"))})
    return Runbook(
        description="hostile values: $(x) \"q\"\nnew line",
        inputs=[
            Input("UserName", "String", "The name.", default=HOSTILE[1], used_by=["CreateUser.UserName"]),
            Input("Password", "String", "The password.", secret=True, used_by=["CreateLoginProfile.Password"]),
            Input("Reset", "Boolean", "Reset it.", default=True, used_by=["CreateLoginProfile.PasswordResetRequired"]),
        ],
        steps=[
            Step("CreateUser", "iam", "CreateUser", {"UserName": InputRef("UserName"), "Path": "/", "Tags": tags},
                 outputs=[Output("UserName", "$.User.UserName", "String", "User.UserName"),
                          Output("Arn", "$.User.Arn", "String", "User.Arn")]),
            Step("CreateLoginProfile", "iam", "CreateLoginProfile", {
                "UserName": OutputRef("CreateUser", "UserName"), "Password": InputRef("Password"),
                "PasswordResetRequired": InputRef("Reset")}),
        ],
    )


def test_ssm_round_trip_keeps_requests_inputs_and_outputs():
    runbook = hostile_runbook()
    parsed = parse_document(render(runbook, "ssm"), "hostile.yaml")

    def essence(book: Runbook):
        return (
            [(i.name, i.type, i.default, i.secret, i.used_by) for i in book.inputs],
            [(s.name, s.action, s.service, s.api, s.request, s.outputs) for s in book.steps],
        )

    assert essence(parsed) == essence(runbook)


def test_round_trip_of_the_synthesized_runbooks(iam, shared):
    runbooks = [iam[1], synthesize(kept(shared / TERRAFORM)).runbooks[0]]
    for runbook in runbooks:
        parsed = parse_document(render(runbook, "ssm"), "x")
        # SSM shows step outputs in the execution history: a secret the step creates is not declared.
        assert [(s.name, s.service, s.api, s.request, s.outputs) for s in parsed.steps] == [
            (s.name, s.service, s.api, s.request, [o for o in s.outputs if not o.secret]) for s in runbook.steps]
        assert [(i.name, i.type, i.default, i.secret, i.used_by) for i in parsed.inputs] == [
            (i.name, i.type, i.default, i.secret, i.used_by) for i in runbook.inputs]
