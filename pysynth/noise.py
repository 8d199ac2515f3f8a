"""Noise: calls in a demonstration that the task itself does not need, dropped with a reason (shown
by ``events --dropped`` and the synth summary; ``--keep-noise`` keeps them).

- A fixed failure: a call failed, and the next successful call of its operation, before any other
  write succeeded, sent a different request (a typo fixed). A failure of the same request is
  retry evidence, and a ``DryRunOperation`` is a permission check: neither is noise. A failure no
  later call of its operation replaces (``GetUser``'s ``NoSuchEntity`` before ``CreateUser``) stays
  evidence: it is what the runbook may branch on.
- A resource created and deleted again, with no write between naming what the creation made
  (the name ``pysynth.lifecycle`` says it creates, or an id its response showed first): both calls.
- A duplicate attempt: a write repeating an earlier successful write's request, with no write
  between naming a value of the first; it failed (``EntityAlreadyExists``, and no later success of
  the request makes it retry evidence) or succeeded again.

Reads only look: a read naming a resource is not a use of it. Every pass is linear in the values of
the calls.
"""

from __future__ import annotations

from pysynth.evidence import request_key
from pysynth.ingest.classify import CREATED_AND_DELETED, DUPLICATE_ATTEMPT, FIXED_FAILURE
from pysynth.ingest.events import DROPPED, Event
from pysynth.ingest.select import is_failure, is_read
from pysynth.lifecycle import CREATES, DELETES, effects
from pysynth.paths import strings_of

# The error code of a dry run: a permission check the runbook may branch on, never noise.
DRY_RUN = "DryRunOperation"
# Response texts shorter than this ("/", "ok") are too common to be ids a call created.
MIN_CREATED_LENGTH = 3


def drop_noise(events: list[Event]) -> list[Event]:
    """Drop the noise among one demonstration's events (in log order); return what was dropped."""
    calls = [event for event in events if event.kept or is_read(event) or is_failure(event)]
    _drop_duplicate_attempts(calls)
    _drop_fixed_failures(calls)
    _drop_created_and_deleted(calls)
    return [event for event in calls if is_noise(event)]


def is_noise(event: Event) -> bool:
    return (event.reason or "").startswith((FIXED_FAILURE, CREATED_AND_DELETED, DUPLICATE_ATTEMPT))


def _drop(event: Event, reason: str) -> None:
    # A failed call already carries its reason ("failed call (...)"), which makes it evidence:
    # the noise reason replaces it, so later layers no longer see it.
    event.status, event.reason = DROPPED, reason


def _record(event: Event) -> str:
    return f"{event.file} record {event.index}"


def _is_write(event: Event) -> bool:
    return not event.read_only and not is_noise(event)


def _drop_duplicate_attempts(calls: list[Event]) -> None:
    final_success: dict[str, int] = {}  # request key -> position of its last successful call
    keys: list[str | None] = []
    for position, event in enumerate(calls):
        key = request_key(event) if not event.read_only else None
        keys.append(key)
        if key is not None and event.kept:
            final_success[key] = position
    first: dict[str, tuple[int, Event, set[str]]] = {}  # request key -> its earlier success and its values
    last_use: dict[str, int] = {}  # value -> position of the last write naming it
    for position, event in enumerate(calls):
        key = keys[position]
        if key is None:
            continue
        earlier = first.get(key)
        if earlier is not None and event.error_code != DRY_RUN:
            at, original, values = earlier
            unused = all(last_use.get(value, -1) <= at for value in values)
            retried_later = not event.kept and final_success[key] > position
            if unused and not retried_later:
                outcome = "succeeded again" if event.kept else f"failed: {event.error_code}"
                _drop(event, f"{DUPLICATE_ATTEMPT} of {_record(original)} ({outcome})")
                continue
        named = strings_of(event.call.params)
        for value in named:
            last_use[value] = position
        if event.kept:
            first[key] = (position, event, named | strings_of(event.call.response, MIN_CREATED_LENGTH))


def _drop_fixed_failures(calls: list[Event]) -> None:
    pending: dict[tuple[str, str], list[Event]] = {}  # operation -> its failures since the last write
    for event in calls:
        if is_noise(event):
            continue
        operation = (event.call.service, event.call.operation)
        if is_failure(event):
            if event.error_code != DRY_RUN:
                pending.setdefault(operation, []).append(event)
            continue
        failures = pending.pop(operation, ())
        if failures:
            key = request_key(event)
            for failure in failures:
                if request_key(failure) != key:
                    _drop(failure, f"{FIXED_FAILURE} ({failure.error_code}): {_record(event)} made the call "
                                   "with another request")
        if event.kept:
            # A successful write moves the work on: a failure before it is no longer a typo
            # being fixed.
            pending.clear()


def _drop_created_and_deleted(calls: list[Event]) -> None:
    # What existed before a call (a successful call sent or showed it) is not what the call made:
    # CreateLoginProfile names the user, it does not make it.
    seen: set[str] = set()
    made_by: dict[int, set[str]] = {}  # position of a creating call -> what it made
    creator_of: dict[str, int] = {}  # a made value -> its creating call, while nothing has used it
    for position, event in enumerate(calls):
        call = event.call
        named = strings_of(call.params)
        shown = strings_of(call.response, MIN_CREATED_LENGTH)
        if _is_write(event):
            found = effects(call.service, call.operation, call.params) if event.kept else ()
            for creator in {creator_of[name] for kind, name in found if kind == DELETES and name in creator_of}:
                _drop(calls[creator], f"{CREATED_AND_DELETED}: {_record(event)} deleted it")
                _drop(event, f"{CREATED_AND_DELETED}: deletes what {_record(calls[creator])} created")
            for value in named:
                # Used or deleted: whatever the call made is no longer unused.
                creator = creator_of.get(value)
                if creator is not None:
                    for other in made_by.pop(creator):
                        del creator_of[other]
            if event.kept:
                made = ({name for kind, name in found if kind == CREATES} | (shown - named)) - seen
                if made:
                    made_by[position] = made
                    creator_of.update(dict.fromkeys(made, position))
        if event.kept or is_read(event):
            seen |= named
            seen |= shown
