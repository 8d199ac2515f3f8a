"""Calls the matching leaves over: a call that repeats a matched call exactly is that call
retried (the same step covers it), and a step of an operation the log never made stands for a
left-over call of its service that shares the most values with it (or is extra)."""

from __future__ import annotations

from pysynth.ingest.normalize import Normalizer
from pysynth.model import Step, walk
from pysynth.paths import path_text
from pysynth.verify.instances import Instance
from pysynth.verify.problems import API_ACTIONS, EXTRA_STEP, VALUE_DIFFERS, WRONG_OPERATION, Problem
from pysynth.verify.values import leaves, record_ref, record_text, value_key


def take_unchecked(replay, steps: list[Step]) -> list[int]:
    """The calls of ``steps``' write operations that no step made, taken unchecked: a loop whose
    list or a branch whose test the log cannot give has made them, as far as anyone can tell."""
    operations = {(step.service, step.api) for step in walk(steps)
                  if step.action in API_ACTIONS and not Normalizer.is_read_only(step.service, step.api)}
    numbers = [number for operation in operations for number in replay.by_operation.get(operation, ())
               if number not in replay.taken and number not in replay.failures]
    replay.taken.update(numbers)
    return numbers


def cover_retries(replay) -> None:
    """A call that repeats a matched call exactly, with no call in between using one of its
    values, is that call retried: the same step covers it."""
    step_of = dict(replay.key_of_call)
    last_of_request: dict[str, int] = {}
    for number, event in enumerate(replay.calls):
        if event.read_only or number in replay.failures:
            continue
        call = event.call
        key = value_key([call.service, call.operation, call.params])
        earlier = last_of_request.get(key)
        last_of_request[key] = number
        if number in replay.taken or earlier not in step_of:
            continue
        same_response = not call.response or call.response == replay.calls[earlier].call.response
        values = _request_values(replay, number)
        untouched = not any(values & _request_values(replay, between) for between in range(earlier + 1, number))
        if same_response and untouched:
            step_of[number] = step_of[earlier]
            replay.retries[step_of[earlier]].append(number)
            replay.taken.add(number)


def _request_values(replay, number: int) -> set[str]:
    """The values a call's request shows (a hidden placeholder shows nothing)."""
    hidden = replay.hidden[number]
    return {value_key(leaf) for keys, leaf in leaves(replay.expected[number]) if path_text(keys) not in hidden}


def match_other_operation(replay, instance: Instance) -> None:
    """A step of an operation the log never made: the same service's left-over call that
    shares the most top-level values stands for it (wrong-operation); else it is extra."""
    step = instance.step
    best = None
    for number, event in enumerate(replay.calls):
        if number in replay.taken or number in replay.failures or event.call.service != step.service:
            continue
        expected, hidden = replay.expected[number], replay.hidden[number]
        shared = sum(
            key in expected and not any(
                finding.kind == VALUE_DIFFERS
                for finding in replay.compare(instance, value, expected[key], (key,), hidden)
            )
            for key, value in step.request.items()
        )
        if shared and (best is None or shared > best[0]):
            best = (shared, number)
    if best is None:
        replay.problems.append(Problem(
            EXTRA_STEP, f"{instance.text}: the log has no {step.service} {step.api} call it reproduces",
            step=step.name, iterations=instance.iterations,
        ))
        return
    event = replay.calls[best[1]]
    replay.taken.add(best[1])
    replay.problems.append(Problem(
        WRONG_OPERATION,
        f"{instance.text} calls {step.service} {step.api}, but {record_text(event)} made "
        f"{event.call.service} {event.call.operation}",
        step=step.name, record=record_ref(event), iterations=instance.iterations,
    ))
