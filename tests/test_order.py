"""Ordering the events of a selection: time first, then data flow within a second, duplicates once."""

from __future__ import annotations

from pysynth.ingest.calls import CanonicalCall
from pysynth.ingest.events import NO_PRINCIPAL, Event
from pysynth.ingest.order import drop_duplicates, order_events


def event(name: str, epoch: float, params: dict | None = None, response: dict | None = None, event_id: str | None = None) -> Event:
    return Event(file="log.json", index=0, event_id=event_id, time=f"t{epoch}", epoch=epoch, principal=NO_PRINCIPAL,
                 region="eu-west-1", event_source="iam.amazonaws.com", event_name=name, event_type="AwsApiCall",
                 read_only=False, error_code=None, invoked_by=None,
                 call=CanonicalCall("iam", name, params or {}, response))


def names(events: list[Event]) -> list[str]:
    return [event.event_name for event in events]


def test_a_user_of_a_value_follows_every_record_that_produced_it_in_its_second():
    attach = event("AttachUserPolicy", 5, {"UserName": "bob"})
    create = event("CreateUser", 5, {"UserName": "bob"}, {"User": {"UserName": "bob", "UserId": "AIDABOB"}})
    tag = event("TagUser", 5, {"UserName": "bob"}, {"User": {"UserName": "bob"}})  # produces bob itself: no wait
    later = event("CreateGroup", 9, {"GroupName": "ops"})
    earlier = event("CreateRole", 1, {"RoleName": "r"})
    assert names(order_events([later, attach, tag, create, earlier])) == [
        "CreateRole", "TagUser", "CreateUser", "AttachUserPolicy", "CreateGroup"]


def test_a_cycle_falls_back_to_the_log_order():
    first = event("A", 5, {"Id": "bbb"}, {"Out": "aaa"})
    second = event("B", 5, {"Id": "aaa"}, {"Out": "bbb"})
    assert names(order_events([first, second])) == ["A", "B"]


def test_many_records_sharing_values_in_one_second_keep_every_constraint():
    # A busy second: a hundred creations each echoed by a read, and their users logged first.
    users = [event(f"Use{n}", 7, {"Id": f"res-{n}", "Flag": "true"}) for n in range(100)]
    creations = [event(f"Create{n}", 7, {}, {"Id": f"res-{n}", "Flag": "true"}) for n in range(100)]
    ordered = names(order_events(users + creations))
    for n in range(100):
        assert ordered.index(f"Use{n}") > ordered.index(f"Create{n}")
    assert ordered[:100] == [f"Create{n}" for n in range(100)]  # log order wherever evidence allows


def test_a_record_delivered_twice_is_marked_as_a_duplicate_of_the_first():
    one, two = event("CreateUser", 5, event_id="e1"), event("CreateUser", 5, event_id="e1")
    drop_duplicates([one, two])
    assert (one.status, two.status) == ("kept", "dropped")
    assert two.reason == "duplicate of log.json record 0 (same eventID)"
