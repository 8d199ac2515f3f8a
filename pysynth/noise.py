"""Noise: calls in a demonstration that the task itself does not need, dropped with a reason (shown
by ``events --dropped`` and the synth summary; ``--keep-noise`` keeps them). Calls are compared
only with calls of the same principal in the same region.

- A fixed failure: a write failed, and the next successful call of its operation, before any other
  write succeeded, sent a different request (a typo fixed). A failure whose request succeeds later
  is retry evidence, a throttled one was not wrong, and a ``DryRunOperation`` is a permission
  check: none is noise. A failed
  read is left alone: reads are never steps, and what a read fails with (``GetUser``'s
  ``NoSuchEntity`` before ``CreateUser``, the console's sweep over buckets without a setting) is
  evidence the runbook may branch on.
- A resource created and deleted again as the very next change, with no failed write between
  naming what the creation made (the name ``pysynth.lifecycle`` says it creates, or an id its
  response showed first): both calls.
- A duplicate attempt: a write repeating an earlier successful write's request, with no write
  between naming a value of the first; it failed (``EntityAlreadyExists``, and no later success of
  the request makes it retry evidence) or succeeded again.

Reads only look: a read naming a resource is not a use of it. Every pass is linear in the values of
the calls.
"""

from __future__ import annotations

from collections import Counter

from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from pysynth.botomodels import idempotency_tokens
from pysynth.evidence import request_key
from pysynth.ingest.classify import CREATED_AND_DELETED, DUPLICATE_ATTEMPT, FIXED_FAILURE
from pysynth.ingest.events import DROPPED, Event
from pysynth.ingest.select import is_failure, is_read
from pysynth.lifecycle import CREATES, DELETES, effects
from pysynth.paths import strings_of

# The error code of a dry run: a permission check the runbook may branch on, never noise.
DRY_RUN = "DryRunOperation"
# What botocore's standard retry mode retries: the service refused for now, the request was not
# wrong, so another request after it fixed nothing.
TRANSIENT_CODES = frozenset(ThrottledRetryableChecker._THROTTLED_ERROR_CODES) | frozenset(
    TransientRetryableChecker._TRANSIENT_ERROR_CODES)
# Response texts shorter than this ("/", "ok") are too common to be ids a call created.
MIN_CREATED_LENGTH = 3


def drop_noise(events: list[Event]) -> list[Event]:
    """Drop the noise among one demonstration's events (in log order); return what was dropped."""
    calls = _Calls([event for event in events if event.kept or is_read(event) or is_failure(event)])
    _drop_duplicate_attempts(calls)
    _drop_fixed_failures(calls)
    _drop_created_and_deleted(calls)
    return [event for event in calls.events if is_noise(event)]


def is_noise(event: Event) -> bool:
    return (event.reason or "").startswith((FIXED_FAILURE, CREATED_AND_DELETED, DUPLICATE_ATTEMPT))


class _Calls:
    """A demonstration's calls with what each pass reads of them, found once: the texts each request
    names and each response shows, and each write's request as a key (``requests``)."""

    def __init__(self, events: list[Event]):
        self.events = events
        self.named = [strings_of(event.call.params) for event in events]
        self.shown = [strings_of(event.call.response, MIN_CREATED_LENGTH) for event in events]
        self.requests = self._requests()

    def _requests(self) -> list[tuple | None]:
        """What a repeat of a write repeats: who, where, and its request without idempotency
        tokens (``evidence.request_key``). Canonical request texts cost: a write whose operation
        and request texts no other write shares can repeat no request, and keeps those as its key."""
        rough: list[tuple | None] = []
        for event, named in zip(self.events, self.named):
            if event.read_only:
                rough.append(None)
                continue
            call = event.call
            tokens = {call.params.get(member) for member in idempotency_tokens(call.service, call.operation)}
            rough.append((*_where(event), call.service, call.operation, frozenset(named - tokens)))
        shared = Counter(rough)
        return [key if key is None or shared[key] == 1 else (_where(event), request_key(event))
                for key, event in zip(rough, self.events)]


def _drop(event: Event, reason: str) -> None:
    # A failed call already carries its reason ("failed call (...)"), which makes it evidence:
    # the noise reason replaces it, so later layers no longer see it.
    event.status, event.reason = DROPPED, reason


def _record(event: Event, beside: Event) -> str:
    """The call ``event`` as the reason of ``beside`` names it: by its event id, the same however the
    trail was delivered (one file, an archive of many, S3), else by its record."""
    if event.event_id:
        return f"event {event.event_id}"
    return f"record {event.index}" if event.file == beside.file else f"{event.file} record {event.index}"


def _is_write(event: Event) -> bool:
    return not event.read_only and not is_noise(event)


def _where(event: Event) -> tuple:
    return event.principal.label, event.region


def _drop_duplicate_attempts(calls: _Calls) -> None:
    final_success: dict[tuple, int] = {}  # request -> position of its last successful call
    for position, (event, key) in enumerate(zip(calls.events, calls.requests)):
        if key is not None and event.kept:
            final_success[key] = position
    first: dict[tuple, tuple[int, Event, set[str]]] = {}  # request -> its earlier success and its values
    last_use: dict[str, int] = {}  # value -> position of the last write naming it
    for position, (event, key) in enumerate(zip(calls.events, calls.requests)):
        if key is None:
            continue
        earlier = first.get(key)
        if earlier is not None and event.error_code != DRY_RUN:
            at, original, values = earlier
            unused = all(last_use.get(value, -1) <= at for value in values)
            retried_later = not event.kept and final_success[key] > position
            if unused and not retried_later:
                outcome = "succeeded again" if event.kept else f"failed: {event.error_code}"
                _drop(event, f"{DUPLICATE_ATTEMPT} of {_record(original, event)} ({outcome})")
                continue
        named = calls.named[position]
        for value in named:
            last_use[value] = position
        if event.kept:
            first[key] = (position, event, named | calls.shown[position])


def _drop_fixed_failures(calls: _Calls) -> None:
    events, requests = calls.events, calls.requests
    succeeds_later: set[tuple] = set()  # requests with a successful call after the point reached
    later: list[bool] = [False] * len(events)  # whether a failure's request succeeds later
    for position in range(len(events) - 1, -1, -1):
        event = events[position]
        if event.read_only or is_noise(event):
            continue
        if event.kept:
            succeeds_later.add(requests[position])
        else:
            later[position] = requests[position] in succeeds_later
    pending: dict[tuple, list[int]] = {}  # (who, where, operation) -> its failed writes since the last write
    for position, event in enumerate(events):
        if is_noise(event):
            continue
        operation = (*_where(event), event.call.service, event.call.operation)
        if is_failure(event):
            if not (event.read_only or later[position] or event.error_code in TRANSIENT_CODES or event.error_code == DRY_RUN):
                pending.setdefault(operation, []).append(position)
            continue
        for failed in pending.pop(operation, ()):
            if requests[failed] != requests[position]:
                failure = events[failed]
                _drop(failure, f"{FIXED_FAILURE} ({failure.error_code}): {_record(event, failure)} made the call "
                               "with another request")
        if event.kept:
            # A successful write moves the work on: a failure before it is no longer a typo
            # being fixed.
            pending.clear()


def _drop_created_and_deleted(calls: _Calls) -> None:
    # Only a deletion that is the very next change after the creation is noise: a demonstration
    # that sets resources up and then tears them down (queues created, then deleted) changes other
    # things between. What existed before a call (a successful call sent or showed it) is not what
    # the call made: CreateLoginProfile names the user, it does not make it.
    seen: set[str] = set()
    creation: tuple[Event, set[str]] | None = None  # the last successful write and what it made, unused so far
    for event, named, shown in zip(calls.events, calls.named, calls.shown):
        call = event.call
        if _is_write(event):
            found = effects(call.service, call.operation, call.params) if event.kept else ()
            if creation is not None:
                creator, made = creation
                if _where(event) == _where(creator) and any(kind == DELETES and name in made for kind, name in found):
                    _drop(creator, f"{CREATED_AND_DELETED}: {_record(event, creator)} deleted it")
                    _drop(event, f"{CREATED_AND_DELETED}: deletes what {_record(creator, event)} created")
                    creation = None
                elif named & made:  # a failed attempt to use it
                    creation = None
            if event.kept:
                made = ({name for kind, name in found if kind == CREATES} | (shown - named)) - seen
                creation = (event, made) if made else None
        if event.kept or is_read(event):
            seen |= named
            seen |= shown
