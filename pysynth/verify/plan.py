"""The plan of a runbook checked against the log's evidence, independently of the solver: steps in
an order the resources' lifecycles allow, waits where the log shows polling before a step used the
polled resource, and retries where the log shows a call failing before the same request succeeded.
The vocabulary is the facts' own (``pysynth.lifecycle``, ``pysynth.evidence``); the decisions are
the runbook's.
"""

from __future__ import annotations

from collections import defaultdict

from pysynth.evidence import POLLING_READS, failures_before, poll_series, request_key
from pysynth.paths import strings_of
from pysynth.ingest.events import Event
from pysynth.lifecycle import CREATES, effects
from pysynth.verify.instances import Instance, iterations_text
from pysynth.verify.problems import Problem
from pysynth.verify.values import record_ref, record_text

LIFECYCLE_ORDER = "lifecycle-order"  # a step names a resource before the step that creates it (or after its deletion)
MISSING_WAIT = "missing-wait"  # the log polled a resource before a step used it; the runbook does not wait
MISSING_RETRY = "missing-retry"  # the log shows a call failing before it succeeded; its step is not retried


def moment_of(event: Event) -> float:
    """When an event was logged: CloudTrail's times are whole seconds, and its order within one
    second is arbitrary; a recorded trace's finer times keep the order the calls were made."""
    return event.epoch


def plan_problems(placed: list[tuple[Instance, list[int]]], calls: list[Event], failed: list[Event],
                  *, require_waits: bool, require_retries: bool) -> list:
    """Problems of the runbook's plan. ``placed`` are the matched steps' instances in the order the
    runbook runs them (a loop's body once per iteration), each with the calls it makes; ``calls``
    are the log's kept writes and reads in time order."""

    at: dict[int, tuple[int, Instance]] = {}  # call -> (the instance's place in the run, the instance)
    for place, (instance, numbers) in enumerate(placed):
        for number in numbers:
            at[number] = (place, instance)
    problems = []

    # Lifecycle: a resource is named only after the step that creates it, and before its deletion.
    # Each call's effects and the calls naming each affected resource are found once, so the check
    # is linear in the runbook rather than a scan of every step per effect.
    effects_of = {number: effects(calls[number].call.service, calls[number].call.operation, calls[number].call.params)
                  for number in at}
    affected = {name for found in effects_of.values() for _, name in found}
    naming: dict[str, list[int]] = defaultdict(list)  # resource -> the calls naming it
    for number in at:
        for text in strings_of(calls[number].call.params) & affected:
            naming[text].append(number)
    for number, (place, creator) in at.items():
        event = calls[number]
        for kind, name in effects_of[number]:
            for other_number in naming.get(name, ()):
                other_place, other = at[other_number]
                if other_place == place or (kind, name) in effects_of[other_number]:
                    continue
                wrong = other_place < place if kind == CREATES else other_place > place
                # Where the log itself shows that order across seconds, the resource outlived what the
                # lifecycle says (it existed before, or came back): the log is the evidence.
                logged = moment_of(calls[other_number]) - moment_of(event)
                if wrong and not (logged < 0 if kind == CREATES else logged > 0):
                    when = "before" if kind == CREATES else "after"
                    problems.append(Problem(
                        LIFECYCLE_ORDER,
                        f"{other.text} names {name!r} {when} {_named(creator)} {kind.removesuffix('s')}s it "
                        f"({record_text(event)})",
                        step=other.step.name, record=record_ref(event), iterations=other.iterations,
                    ))

    if require_waits:
        waited = {}  # request key of a read -> the places of the wait steps' instances making it
        for number, (place, instance) in at.items():
            if instance.step.wait is not None:
                waited.setdefault(request_key(calls[number]), []).append(place)
        for series in poll_series(calls):
            found = at.get(series.consumer) if series.consumer is not None else None
            last = calls[series.last]
            if found is None or not (len(series.reads) >= POLLING_READS or series.accepted):
                continue
            place, consumer = found
            if not any(wait < place for wait in waited.get(request_key(last), ())):
                problems.append(Problem(
                    MISSING_WAIT,
                    f"{consumer.text} uses {series.value!r}, which the log polled {len(series.reads)} times with "
                    f"{last.call.service} {last.call.operation} before it ({record_text(last)}), but no wait "
                    f"step before it makes that call",
                    step=consumer.step.name, record=record_ref(last), iterations=consumer.iterations,
                ))

    if require_retries:
        writes = [event for event in calls if not event.read_only]
        index_of = {id(event): number for number, event in enumerate(calls)}
        for index, found in failures_before(writes, failed).items():
            placed_at = at.get(index_of[id(writes[index])])
            instance = placed_at[1] if placed_at else None
            if instance is not None and instance.step.retry is None:
                problems.append(Problem(
                    MISSING_RETRY,
                    f"{instance.text}: the log shows its call failing {found.count} time(s) ({', '.join(found.codes)}) "
                    f"before {record_text(writes[index])} succeeded, but the step is not retried",
                    step=instance.step.name, record=record_ref(writes[index]), iterations=instance.iterations,
                ))
    return problems


def _named(instance: Instance) -> str:
    """``step CreateUser``, or ``step CreateSubnet in EachVpc iteration 2 (vpc-1)``."""
    return instance.text if not instance.frames else f"step {instance.step.name} in {iterations_text(instance.frames)}"
