"""Which seconds the solver orders: only those where some candidate precedence goes against the
order CloudTrail logged the calls in; every other second keeps the log's order without a choice."""

from __future__ import annotations

from pathlib import Path

from pysynth.facts import analyse
from pysynth.ingest.select import Selection, ingest
from pysynth.moments import reorderable
from test_planning import record, same_second_onboarding, write_log

ROOT = Path(__file__).resolve().parents[1]


def test_a_second_is_reorderable_when_a_call_may_take_a_value_from_one_logged_after_it():
    # Calls 1 and 2 share second 1, call 3 is alone in second 2; call 1 may take call 2's output.
    assert reorderable([1, 1, 2], slots=[], takes=[(1, 2)], effects=[], waits=[]) == {1}
    # The other way round is the log's order already, and so is a value from an earlier second.
    assert reorderable([1, 1, 2], slots=[], takes=[(2, 1), (3, 1)], effects=[], waits=[]) == set()


def test_lifecycle_and_waits_against_the_log_make_a_second_reorderable():
    moments = [1, 1, 1]
    # Call 1 names value 7, which call 2 (logged later) creates.
    assert reorderable(moments, slots=[(1, 7)], takes=[], effects=[("creates", 2, 7)], waits=[]) == {1}
    # Call 3 names value 7 after call 1 deleted it: it must move before the deletion.
    assert reorderable(moments, slots=[(3, 7)], takes=[], effects=[("deletes", 1, 7)], waits=[]) == {1}
    # A call that creates what it names itself, or a use after the creation, changes nothing.
    assert reorderable(moments, slots=[(2, 7), (3, 7)], takes=[], effects=[("creates", 2, 7)], waits=[]) == set()
    # A poll logged after the call it waits for.
    assert reorderable(moments, slots=[], takes=[], effects=[], waits=[(3, 2)]) == {1}


def operations_by_moment(session) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for number, event in enumerate(session.calls, start=1):
        found.setdefault(session.moments[number - 1], []).append(event.call.operation)
    return found


def session_of(log: Path, **selection):
    ingested = ingest([str(log)], Selection(**selection))
    return analyse(ingested.kept, ingested.reads, ingested.failed)


def test_a_second_logged_against_what_its_calls_need_is_the_solvers_to_order(tmp_path):
    session = session_of(same_second_onboarding(tmp_path), all_principals=True)
    calls = operations_by_moment(session)
    assert [sorted(calls[moment]) for moment in sorted(session.reorderable)] == [
        ["AttachUserPolicy", "CreateAccessKey", "CreateUser"]]
    facts = {(fact.predicate, fact.args) for fact in session.facts()}
    assert {fact for fact in facts if fact[0] == "reorderable"} == {
        ("reorderable", (moment,)) for moment in session.reorderable}


def test_a_second_whose_log_order_already_serves_every_call_keeps_it_without_a_choice():
    # The example's log has AttachUserPolicy first; reading puts CreateUser, whose response
    # carries the name, before it, and then nothing in that second could need another order.
    session = session_of(ROOT / "examples" / "iam-onboarding.json", principal="alice")
    assert ["CreateUser", "AttachUserPolicy"] in operations_by_moment(session).values()
    assert session.reorderable == set()
    assert not any(fact.predicate == "reorderable" for fact in session.facts())


def test_a_created_id_echoed_later_in_its_second_keeps_the_log_order(tmp_path):
    # Both route tables take the VPC id from CreateVpc, the only source test.lp allows for a created
    # value; the second table's response echoes it, and that echo is no reason to reorder.
    vpc = {"vpc": {"vpcId": "vpc-0a1b2c3d4e5f60718", "cidrBlock": "10.0.0.0/16"}}
    log = write_log(tmp_path, "route-tables.json", [
        record(1, "2024-03-05T10:02:10Z", "ec2", "CreateVpc", {"cidrBlock": "10.0.0.0/16"}, vpc),
        *(record(number, "2024-03-05T10:02:11Z", "ec2", "CreateRouteTable", {"vpcId": "vpc-0a1b2c3d4e5f60718"},
                 {"routeTable": {"routeTableId": table, "vpcId": "vpc-0a1b2c3d4e5f60718"}})
          for number, table in ((2, "rtb-0a1b2c3d4e5f60718"), (3, "rtb-0f1e2d3c4b5a69788"))),
    ])
    session = session_of(log, all_principals=True)
    first_table = next(slot for slot in session.slots if slot.call == 2 and slot.path == "VpcId")
    echo = next(output for output in session.outputs if output.call == 3 and output.path == "RouteTable.VpcId")
    assert (first_table.id, echo.id) in session.can_take  # still offered when a conflict is explained
    assert session.reorderable == set()
