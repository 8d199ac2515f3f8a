"""A command line that does not surprise: bad paths and principals are one-line errors that say what
exists, policies with mistakes are warned about (or refused with --strict), a policy's own
#minimize keeps the cost labels right, no-open-ingress catches every /0, and help texts read well."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import make_record, run_cli, write_log

from pysynth.facts import cidr_prefix

ROOT = Path(__file__).resolve().parents[1]
ONBOARDING = str(ROOT / "examples" / "iam-onboarding.json")


@pytest.mark.parametrize("command", [["events"], ["synth"], ["compare"], ["facts"], ["iam"], ["graph"]])
def test_a_nonexistent_log_is_one_line_and_exit_2(command, tmp_path):
    missing = str(tmp_path / "no-such-trail.json")
    result = run_cli(*command, ONBOARDING, missing)
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [f"error: {missing}: no such file or directory"]


def test_a_principal_that_matches_nothing_lists_those_that_exist():
    result = run_cli("synth", "--principal", "alcie", ONBOARDING)
    assert result.code == 2
    assert "arn:aws:iam::111122223333:user/alice" in result.stderr  # the table of principals
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: --principal alcie: none of the selected records of {ONBOARDING} was made by it; the principals "
        "with write calls are above (an ARN, user name, role session name or access key id)"
    )


def test_nothing_to_automate_names_the_files():
    result = run_cli("synth", "--principal", "alice", "--since", "2030-01-01T00:00:00Z", ONBOARDING)
    assert result.code == 1
    assert result.stderr.strip() == (
        f"error: no write call of {ONBOARDING} was kept, so there is nothing to automate; "
        f"see why with: pysynth events --dropped {ONBOARDING}"
    )


def test_policy_warnings_are_printed_and_strict_refuses_them(tmp_path):
    typo = tmp_path / "typo.lp"
    typo.write_text('violation(typo,call(C)) :- step(C), call_operaton(C,"iam","CreateUser").\n')
    warned = run_cli("synth", "--principal", "alice", "--policy", str(typo), ONBOARDING)
    assert warned.code == 0
    assert f"warning: {typo}:1:37-72: info: atom does not occur in any rule head: call_operaton(" in warned.stderr
    strict = run_cli("synth", "--strict", "--principal", "alice", "--policy", str(typo), ONBOARDING)
    assert strict.code == 2 and strict.stdout == ""
    assert "error: --strict: 1 warning about the policies and objectives" in strict.stderr
    # The shipped policies are clean, so --strict accepts them.
    clean = run_cli("synth", "--strict", "--principal", "alice", "--policy", "no-admin-policies", ONBOARDING)
    assert clean.code == 0, clean.stderr


def test_a_policy_with_its_own_minimize_keeps_the_cost_labels_right(tmp_path):
    default = (ROOT / "asp" / "objectives" / "default.lp").read_text()
    steps_level = int(re.search(r"priority\(steps,(\d+)\)", default).group(1))
    own = tmp_path / "own.lp"
    own.write_text("#minimize { 1@100,C : step(C) }.\n")
    shared = tmp_path / "shared.lp"
    shared.write_text(f"#minimize {{ 1@{steps_level},C : step(C) }}.\n")
    first = run_cli("synth", "--format", "json", "--principal", "alice", "--policy", str(own), ONBOARDING)
    assert first.code == 0, first.stderr
    costs = json.loads(first.stdout)["solution"]["objectives"]
    assert next(iter(costs)) == "policy level 100" and costs["policy level 100"] == 5
    assert costs["inputs"] == 3 and costs["steps"] == 5
    second = run_cli("synth", "--format", "json", "--principal", "alice", "--policy", str(shared), ONBOARDING)
    costs = json.loads(second.stdout)["solution"]["objectives"]
    assert "steps" not in costs and costs["steps and a policy's #minimize"] == 10
    assert costs["inputs"] == 3


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "10.1.2.3/0", "0::0/0", "0000:0000::/0"])
def test_no_open_ingress_catches_every_slash_zero(cidr, tmp_path):
    member = "CidrIpv6" if ":" in cidr else "CidrIp"
    ranges = "ipv6Ranges" if ":" in cidr else "ipRanges"
    record = make_record(
        "AuthorizeSecurityGroupIngress", source="ec2.amazonaws.com",
        request={"groupId": "sg-0123456789abcdef0", "ipPermissions": {"items": [{
            "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, ranges: {"items": [{member.lower()[0] + member[1:]: cidr}]},
        }]}},
        response={"_return": True},
    )
    log = write_log(tmp_path / "trail.json", [record])
    allowed = run_cli("synth", str(log))
    assert allowed.code == 0, allowed.stderr
    refused = run_cli("synth", "--policy", "no-open-ingress", str(log))
    assert refused.code == 3, refused.stderr
    assert "no-open-ingress: AuthorizeSecurityGroupIngress" in refused.stderr


def test_cidr_prefixes():
    assert [cidr_prefix(text) for text in ("10.0.0.0/16", "0.0.0.0/0", "::/0", "2001:db8::/32", "10.0.0.1")] == [
        16, 0, 0, 32, None,
    ]
    assert cidr_prefix("not/a-cidr") is None and cidr_prefix(7) is None


def test_help_reads_as_sentences_with_kinds_of_values():
    top = run_cli("--help")
    listing = top.stdout.split("Commands:")[1]
    names = [line.split()[0] for line in listing.strip().splitlines() if not line.startswith("     ")]
    assert {"events", "synth", "compare", "iam", "graph", "explain", "upload"} <= set(names)
    assert "..." not in listing  # whole sentences, not cut short
    synth = run_cli("synth", "--help").stdout
    for option in ("--principal PRINCIPAL", "--since TIME", "--policy POLICY", "--time-limit SECONDS", "-o, --output FILE"):
        assert option in synth
    assert "<str>" not in synth and "<bool>" not in synth and "<float>" not in synth
    # Arguments by the name a user reads, never typer's Python type (LOG <list[str]>).
    for command in names:
        text = run_cli(command, "--help").stdout
        assert not re.search(r"<(list\[|str|path|int|float|bool)", text), command


def test_counts_have_the_right_plural(tmp_path):
    log = write_log(tmp_path / "one.json", [make_record("CreateUser", request={"userName": "solo"},
                                                        response={"user": {"userName": "solo", "userId": "AIDA1",
                                                                           "arn": "arn:aws:iam::111122223333:user/solo",
                                                                           "path": "/", "createDate": "Mar 5, 2024 10:00:00 AM"}})])
    runbook = tmp_path / "one.yaml"
    synthesized = run_cli("synth", str(log), "-o", str(runbook))
    assert synthesized.code == 0, synthesized.stderr
    assert "Reproduces 1 write call made by alice" in runbook.read_text()
    verified = run_cli("verify", str(runbook), str(log))
    assert "certified: 1 step reproduces the 1 kept call" in verified.stderr
    facts = run_cli("facts", str(log))
    assert facts.stdout.startswith("% pysynth facts: 1 call, ")
