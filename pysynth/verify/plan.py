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
from pysynth.model import Runbook
from pysynth.verify.problems import Problem
from pysynth.verify.values import record_ref, record_text

LIFECYCLE_ORDER = "lifecycle-order"  # a step names a resource before the step that creates it (or after its deletion)
MISSING_WAIT = "missing-wait"  # the log polled a resource before a step used it; the runbook does not wait
MISSING_RETRY = "missing-retry"  # the log shows a call failing before it succeeded; its step is not retried


def moment_of(event: Event) -> float:
    """When an event was logged: CloudTrail's times are whole seconds, and its order within one
    second is arbitrary; a recorded trace's finer times keep the order the calls were made."""
    return event.epoch


def plan_problems(runbook: Runbook, calls: list[Event], matched: dict[str, int], failed: list[Event],
                  *, require_waits: bool, require_retries: bool) -> list:
    """Problems of the runbook's plan. ``calls`` are the log's kept writes and reads in time order,
    ``matched`` the step -> call the replay found."""

    position = {step.name: number for number, step in enumerate(runbook.steps)}
    step_of_call = {number: name for name, number in matched.items()}
    problems = []

    # Lifecycle: a resource is named only after the step that creates it, and before its deletion.
    # Each step's effects and the steps naming each affected resource are found once, so the check
    # is linear in the runbook rather than a scan of every step per effect.
    effects_of = {number: effects(calls[number].call.service, calls[number].call.operation, calls[number].call.params)
                  for number in matched.values()}
    affected = {name for found in effects_of.values() for _, name in found}
    naming: dict[str, list[tuple[str, int]]] = defaultdict(list)  # resource -> the steps naming it
    for other, other_number in matched.items():
        for text in strings_of(calls[other_number].call.params) & affected:
            naming[text].append((other, other_number))
    for creator, number in matched.items():
        event = calls[number]
        for kind, name in effects_of[number]:
            for other, other_number in naming.get(name, ()):
                if other == creator or (kind, name) in effects_of[other_number]:
                    continue
                wrong = position[other] < position[creator] if kind == CREATES else position[other] > position[creator]
                # Where the log itself shows that order across seconds, the resource outlived what the
                # lifecycle says (it existed before, or came back): the log is the evidence.
                logged = moment_of(calls[other_number]) - moment_of(event)
                if wrong and not (logged < 0 if kind == CREATES else logged > 0):
                    when = "before" if kind == CREATES else "after"
                    problems.append(Problem(
                        LIFECYCLE_ORDER,
                        f"step {other} names {name!r} {when} step {creator} {kind.removesuffix('s')}s it "
                        f"({record_text(event)})",
                        step=other, record=record_ref(event),
                    ))

    if require_waits:
        waited = {}  # request key of a read -> the runbook positions of the wait steps making it
        for name, number in matched.items():
            step = runbook.steps[position[name]]
            if step.wait is not None:
                waited.setdefault(request_key(calls[number]), []).append(position[name])
        for series in poll_series(calls):
            consumer = step_of_call.get(series.consumer) if series.consumer is not None else None
            last = calls[series.last]
            if consumer is None or not (len(series.reads) >= POLLING_READS or series.accepted):
                continue
            if not any(at < position[consumer] for at in waited.get(request_key(last), ())):
                problems.append(Problem(
                    MISSING_WAIT,
                    f"step {consumer} uses {series.value!r}, which the log polled {len(series.reads)} times with "
                    f"{last.call.service} {last.call.operation} before it ({record_text(last)}), but no wait "
                    f"step before it makes that call",
                    step=consumer, record=record_ref(last),
                ))

    if require_retries:
        writes = [event for event in calls if not event.read_only]
        index_of = {id(event): number for number, event in enumerate(calls)}
        for index, found in failures_before(writes, failed).items():
            name = step_of_call.get(index_of[id(writes[index])])
            if name is not None and runbook.steps[position[name]].retry is None:
                problems.append(Problem(
                    MISSING_RETRY,
                    f"step {name}: the log shows its call failing {found.count} time(s) ({', '.join(found.codes)}) "
                    f"before {record_text(writes[index])} succeeded, but the step is not retried",
                    step=name, record=record_ref(writes[index]),
                ))
    return problems
