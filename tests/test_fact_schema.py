"""The fact schema is a public contract: every predicate ``facts.py`` emits is declared in
``asp/input.lp`` and documented in ``asp/README.md``; and the planning encodings, run on instances
that ``facts.py`` produces from small logs, decide order, waits, retries and read steps, in ways an
objectives file can change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SHARED, write_log
from demo_logs import buckets_encrypted, demonstrations, user_ensured
from pysynth.facts import analyse, analyse_demonstrations
from pysynth.ingest.select import Selection, ingest
from pysynth.resources import asp_root
from pysynth.solve import solve
from test_planning import failing_then_succeeding, same_second_onboarding, stop_poll_modify
from test_whole_structures import ITEM, item_move

ROOT = Path(__file__).resolve().parents[1]
LOGS = [ROOT / "examples" / "iam-onboarding.json", SHARED / "invictus_terraform_vpc_iam_ec2_deploy_session.json"]


def session_of(path: Path):
    ingested = ingest([str(path)], Selection(all_principals=True))
    return analyse(ingested.kept, ingested.reads, ingested.failed)


@pytest.fixture(scope="module")
def small_logs(tmp_path_factory) -> list[Path]:
    directory = tmp_path_factory.mktemp("logs")
    return [same_second_onboarding(directory), stop_poll_modify(directory), failing_then_succeeding(directory),
            write_log(directory / "item-moved.json", item_move(ITEM))]


def test_every_emitted_predicate_is_declared_and_documented(small_logs):
    root = Path(str(asp_root()))
    declared = set(re.findall(r"^#defined (\w+)/(\d+)\.", (root / "input.lp").read_text(), re.M))
    documented = {
        (name, str(len([arg for arg in args.split(",") if arg.strip()])))
        for name, args in re.findall(r"^\| `(\w+)\(([^)]*)\)` \|", (root / "README.md").read_text(), re.M)
    }
    logs = small_logs + [path for path in LOGS if path.exists()]
    emitted = {(fact.predicate, str(len(fact.args))) for path in logs for fact in session_of(path).facts()}
    # Several demonstrations: two that went differently, with a loop whose count differs.
    demos = demonstrations(small_logs[0].parent / "demos", buckets_encrypted(["logs-a", "logs-b", "web"], ["logs-a", "logs-b"])
                           + user_ensured("carol", "devs", exists=False, start=10),
                           buckets_encrypted(["logs-x", "logs-y"], ["logs-x", "logs-y"], start=30)
                           + user_ensured("dave", "ops", exists=True, start=40))
    emitted |= {(fact.predicate, str(len(fact.args))) for fact in analyse_demonstrations(demos).facts()}
    # The small logs make every kind of planning fact, and whole structures.
    assert {("read", "1"), ("moment_size", "2"), ("creates", "2"), ("poll", "2"), ("waiter", "3"),
            ("polled_before", "2"), ("failed_attempts", "2"), ("whole", "1"), ("slot_within", "2"),
            ("demo", "2"), ("alignable", "2"), ("loop_pair", "2"), ("output_pair", "2"), ("test_at", "2")} <= emitted
    assert emitted - declared == set(), "emitted but not declared in asp/input.lp"
    assert declared <= documented, "declared but not documented in asp/README.md"
    assert emitted <= documented, "emitted but not documented in asp/README.md"


def shown_answer(path: Path, objectives: Path | None = None):
    session = session_of(path)
    outcome = solve(session.facts(), objectives=objectives)
    assert outcome.satisfiable and outcome.optimal
    return session, outcome.answers[0]


def operation(session, call: int) -> str:
    return session.call_event(call).call.operation


def test_the_encoding_orders_a_moment_by_what_its_calls_need(small_logs):
    session, answer = shown_answer(small_logs[0])
    order = sorted(answer.steps, key=lambda call: answer.ranks[call])
    assert operation(session, order[0]) == "CreateUser"


def test_the_encoding_waits_for_a_polled_state_and_an_objectives_file_can_drop_the_wait(small_logs, tmp_path):
    session, answer = shown_answer(small_logs[1])
    [(read, waiter)] = answer.waits.items()
    assert (operation(session, read), waiter) == ("DescribeInstances", "InstanceStopped")
    objectives = tmp_path / "objectives.lp"
    objectives.write_text("priority(inputs,3). priority(steps,2). priority(log_order,1).\n")
    _, answer = shown_answer(small_logs[1], objectives)
    assert answer.waits == {} and len(answer.steps) == 2


def test_the_encoding_retries_a_call_that_failed_before_it_succeeded(small_logs, tmp_path):
    session, answer = shown_answer(small_logs[2])
    assert [operation(session, call) for call in answer.retries] == ["AddUserToGroup"]
    objectives = tmp_path / "objectives.lp"
    objectives.write_text("priority(inputs,2). priority(steps,1).\n")
    _, answer = shown_answer(small_logs[2], objectives)
    assert answer.retries == []


@pytest.mark.parametrize("which", ["same-second", "stop-poll-modify", "retried", "iam-onboarding", "terraform"])
def test_the_optimum_is_unique_so_golden_files_pin_rules_not_search_order(which, small_logs):
    paths = {"same-second": small_logs[0], "stop-poll-modify": small_logs[1], "retried": small_logs[2],
             "iam-onboarding": LOGS[0], "terraform": LOGS[1]}
    if not paths[which].exists():
        pytest.skip(f"{paths[which]} is not present")
    outcome = solve(session_of(paths[which]).facts(), models=2)
    best, *rest = outcome.answers
    assert all(other.cost > best.cost for other in rest), "two optimal runbooks: add a tie-break objective"
