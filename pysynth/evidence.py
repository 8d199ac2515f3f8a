"""What the reads and failures around a session's write calls show: polling (someone waited for a
resource to reach a state) and retries (a call failed, then succeeded with the same request).

Shared by the facts (``poll/3``, ``waiter/3``, ``polled_before/2``, ``failed_attempts/2``) and by
``verify``, which checks a runbook's waits and retries against the same evidence.

A *poll series* is the run of reads with one request (``DescribeNatGateways`` of one NAT gateway)
between the write that last named the polled resource and the next write that uses it. Its
candidate waiters are botocore's waiters on the read's operation (``waiters-2.json``), called with
the read's own request; they are ranked by what the evidence shows: a recorded response that a
waiter's success acceptor accepts, then the affinity of the waiter's name with the write that set
the resource going (``StopInstances`` -> ``InstanceStopped``, ``RunInstances`` ->
``InstanceRunning``), then the model's order.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

import jmespath

from pysynth.botomodels import idempotency_tokens, waiter_model, waiters_of_operation
from pysynth.ingest.events import Event
from pysynth.model import Wait
from pysynth.paths import canonical_json, strings_of

# Waiter names that mean the resource is gone or stopped: a poor match for a write that creates.
ENDING_STATES = ("Deleted", "Terminated", "Stopped", "NotExists", "Cancelled", "Disassociated")
# How an SSM property wait with no botocore waiter polls: SSM's own default timeout (one hour).
SSM_WAIT_DELAY = 5
SSM_WAIT_TIMEOUT = 3600
# Reads of one request that show someone polling, not reading once after a write.
POLLING_READS = 3


@dataclass(slots=True)
class PollSeries:
    """Reads of one request that polled ``value``; indexes are into the events given."""

    reads: list[int]
    value: str
    waiters: list[str]  # candidate waiter names, best first
    accepted: list[str] = field(default_factory=list)  # the waiters that accept a recorded response
    consumer: int | None = None  # the first write after the series that uses the value
    setter: int | None = None  # the last write before the series that named the value

    @property
    def last(self) -> int:
        return self.reads[-1]


@dataclass(slots=True)
class Failures:
    """Failed attempts of a write call's request before it succeeded."""

    count: int = 0
    codes: list[str] = field(default_factory=list)


def request_key(event: Event) -> str:
    """The call's service, operation and request without idempotency tokens: what a retry repeats."""
    call = event.call
    tokens = idempotency_tokens(call.service, call.operation)
    params = {key: value for key, value in call.params.items() if key not in tokens}
    return canonical_json([call.service, call.operation, params])


def poll_series(events: list[Event]) -> list[PollSeries]:
    """The poll series among ``events`` (writes and successful reads, in time order; ``read_only``
    tells them apart), in the order of their last read."""
    latest_write: dict[str, int] = {}  # value -> the last write so far that named it
    open_series: dict[str, PollSeries] = {}  # request key -> its series, until a write uses the value
    waiting_on: dict[str, list[str]] = defaultdict(list)  # value -> keys of open series polling it
    found: list[PollSeries] = []
    for index, event in enumerate(events):
        call = event.call
        if event.read_only:
            names = waiters_of_operation(call.service, call.operation)
            # Only a resource a write of the session named can be waited for by the runbook.
            polled = [value for value in strings_of(call.params) if value in latest_write]
            if not names or not polled:
                continue
            key = request_key(event)
            series = open_series.get(key)
            if series is None:
                # The value a write named most recently is the one being waited for.
                value = max(polled, key=lambda item: (latest_write.get(item, -1), item))
                series = open_series[key] = PollSeries([], value, [], setter=latest_write.get(value))
                waiting_on[value].append(key)
                found.append(series)
            series.reads.append(index)
            continue
        values = strings_of(call.params)
        for value in values:
            for key in waiting_on.pop(value, ()):
                series = open_series.pop(key, None)
                if series is not None:
                    series.consumer = index
        for value in values | strings_of(call.response):
            latest_write[value] = index
    for series in found:
        series.waiters = _ranked_waiters(events, series)
        response = events[series.last].call.response
        if response is not None:
            model = waiter_model(events[series.last].call.service)
            series.accepted = [name for name in series.waiters if _accepts(model.get_waiter(name), response)]
    found.sort(key=lambda series: series.last)
    return found


def _ranked_waiters(events: list[Event], series: PollSeries) -> list[str]:
    last = events[series.last].call
    names = list(waiters_of_operation(last.service, last.operation))
    setter = events[series.setter].call.operation if series.setter is not None else ""
    verb = re.match(r"[A-Z][a-z]*", setter)
    stem = verb.group().rstrip("e") if verb else None
    model = waiter_model(last.service)

    def rank(name: str) -> tuple:
        accepted = last.response is not None and _accepts(model.get_waiter(name), last.response)
        affinity = 0 if stem and stem in name else (2 if any(word in name for word in ENDING_STATES) else 1)
        return (not accepted, affinity)

    return sorted(names, key=lambda name: (rank(name), names.index(name)))


def success_acceptors(waiter) -> list:
    return [acceptor for acceptor in waiter.acceptors if acceptor.state == "success"]


def _accepts(waiter, response: dict) -> bool:
    """Whether a success acceptor of the waiter accepts a recorded (successful) response."""
    for acceptor in success_acceptors(waiter):
        if acceptor.matcher == "status":
            if acceptor.expected == 200:
                return True
            continue
        if acceptor.matcher == "error":
            continue
        try:
            found = jmespath.search(acceptor.argument, response)
        except jmespath.exceptions.JMESPathError:
            continue
        expected = acceptor.expected
        if acceptor.matcher == "path" and found == expected:
            return True
        if acceptor.matcher == "pathAll" and isinstance(found, list) and found and all(item == expected for item in found):
            return True
        if acceptor.matcher == "pathAny" and isinstance(found, list) and expected in found:
            return True
    return False


def failures_before(writes: list[Event], failed: list[Event]) -> dict[int, Failures]:
    """Index of a write in ``writes`` -> the failed attempts of its request since the previous write
    of the same request (both lists in time order). A failure that a write in between on the same
    resources fixed (the objects deleted before the bucket) is not one a retry outlasts: it is left
    out."""
    pending: dict[str, tuple[Failures, set[str]]] = {}
    found: dict[int, Failures] = {}
    timeline = sorted([(event.epoch, 0, index) for index, event in enumerate(failed)]
                      + [(event.epoch, 1, index) for index, event in enumerate(writes)])
    for _, is_write, index in timeline:
        if not is_write:
            event = failed[index]
            attempts, _ = pending.setdefault(request_key(event), (Failures(), strings_of(event.call.params)))
            attempts.count += 1
            if event.error_code and event.error_code not in attempts.codes:
                attempts.codes.append(event.error_code)
            continue
        key = request_key(writes[index])
        attempts = pending.pop(key, None)
        if attempts is not None:
            found[index] = attempts[0]
        names = strings_of(writes[index].call.params)
        for other in [other for other, (_, values) in pending.items() if values & names]:
            del pending[other]
    return found


# A JMESPath a waiter's acceptor reads that is plain member names and flattening: SSM can read it.
_PLAIN_PATH = re.compile(r"[A-Za-z_]\w*(\[\])?(\.[A-Za-z_]\w*(\[\])?)*\Z")


def wait_of(service: str, name: str) -> Wait:
    """The wait botocore's waiter ``name`` performs, as the runbook model holds it."""
    waiter = waiter_model(service).get_waiter(name)
    selector, desired = None, []
    for acceptor in success_acceptors(waiter):
        if acceptor.matcher in ("path", "pathAll", "pathAny") and _PLAIN_PATH.match(acceptor.argument or ""):
            # pathAll over one resource's list, as a wait step polls one: its first element.
            selector = "$." + acceptor.argument.replace("[]", "[0]")
            expected = acceptor.expected
            desired = [json.dumps(expected) if isinstance(expected, bool) else str(expected)]
            break
    return Wait(waiter=name, property_selector=selector, desired_values=desired,
                delay_seconds=int(waiter.delay), max_attempts=int(waiter.max_attempts))


def property_wait(service: str, api: str, selector: str, desired: list[str], timeout: object) -> Wait:
    """The wait an SSM ``aws:waitForAwsResourceProperty`` step describes, named after the botocore
    waiter of ``api`` that checks the same property (no name when none does)."""
    for name in waiters_of_operation(service, api):
        wait = wait_of(service, name)
        if wait.property_selector == selector and wait.desired_values == desired:
            return wait
    seconds = timeout if isinstance(timeout, int) and timeout > 0 else SSM_WAIT_TIMEOUT
    return Wait(waiter="", property_selector=selector, desired_values=desired, delay_seconds=SSM_WAIT_DELAY,
                max_attempts=max(1, seconds // SSM_WAIT_DELAY))


def success_wait(service: str, api: str, attempts: int) -> Wait | None:
    """The wait a retried read with no outputs stands for: botocore's waiter of ``api`` that
    accepts on success, or None."""
    for name in waiters_of_operation(service, api):
        wait = wait_of(service, name)
        if wait.property_selector is None and wait.max_attempts == attempts:
            return wait
    return None
