"""Branch steps in the replay: the test is decided from the demonstration's own evidence, and only
the arm it chooses is replayed (the runbook goes on after the branch either way).

- ``failed``: whether the tested step's call is a failed record of the demonstration with one of
  the test's codes (a step that expects errors may match such a record, or a successful call);
- ``equals``: the output's value in the recorded response of the call its step made (a
  CloudTrail read has none: the test cannot be checked against it), or the input's value;
- ``set``: whether the input has a value. Against several demonstrations an input first used
  inside the branch's arms is unified from the call that use would make, before the test.

A branch the demonstration cannot decide is one problem, and the calls of its arms' operations
left over are its own, unchecked (each would otherwise be a call no step makes).
"""

from __future__ import annotations

from pysynth.model import InputRef, OutputRef, Step, walk
from pysynth.render.prose import plural
from pysynth.verify import leftovers
from pysynth.verify.instances import Instance
from pysynth.verify.problems import API_ACTIONS, UNDECIDED_BRANCH, Problem
from pysynth.verify.values import ABSENT, Unknown, output_value, record_text, reference_text, show, text_of

TEST_KINDS = ("failed", "equals", "set")


def test_text(step: Step) -> str:
    """What a branch tests, for a message: ``step GetUser failed with NoSuchEntity``."""
    test = step.branch.test
    if test.kind == "failed":
        text = f"step {test.step} failed with {' or '.join(test.codes)}"
    elif test.kind == "set":
        text = f"{reference_text(test.value)} is set"
    else:
        text = f"{reference_text(test.value)} is {show(test.text)}"
    return f"not ({text})" if test.negate else text


def test_problem(replay, step: Step) -> str | None:
    """What is wrong with a branch step's test on its own (its value's reference is checked as any
    reference is), or None."""
    branch, test = step.branch, step.branch.test
    where = f"branch {step.name}"
    if not branch.steps and not branch.otherwise:
        return f"{where} has no step in either arm"
    if test.kind not in TEST_KINDS:
        return f"{where} tests {test.kind!r}, which is none of {', '.join(TEST_KINDS)}"
    if test.kind == "set" and not isinstance(test.value, InputRef):
        return f"{where} tests whether a value is set, but only an input can be: not {show(test.value)}"
    if test.kind == "equals" and not isinstance(test.value, (InputRef, OutputRef)):
        return f"{where} tests {show(test.value)}, which is no input or step output"
    if test.kind == "equals" and test.text is None:
        return f"{where} tests whether {reference_text(test.value)} equals a text, but names none"
    if test.kind != "failed":
        return None
    scopes = replay.scopes
    tested = scopes.steps.get(test.step)
    if tested is None or scopes.position[test.step] >= scopes.position[step.name] \
            or not scopes.visible(test.step, step.name):
        return f"{where} tests whether step {test.step} failed, but no such step runs before it"
    unexpected = [code for code in test.codes if code not in tested.expected_errors]
    if not test.codes or unexpected:
        return (f"{where} tests whether step {test.step} failed with {' or '.join(test.codes) or 'no code'}, but the "
                f"step expects {', '.join(tested.expected_errors) or 'no error'}: any other error fails the runbook")
    return None


def chosen_arm(replay, instance: Instance, final: bool) -> list[Step] | None:
    """The steps the branch runs in this demonstration, or None when it cannot tell (yet: before the
    final pass, an input may be shown later, so only what is known decides)."""
    branch = instance.step.branch
    held = _holds(replay, instance, final)
    if isinstance(held, Unknown):
        if final:
            replay.undecided.append((instance, held))
        return None
    arm = "steps" if held != branch.test.negate else "otherwise"
    if final:
        replay.arms[instance.step.name].append((replay.name, arm))
    return getattr(branch, arm)


def _holds(replay, instance: Instance, final: bool) -> bool | Unknown:
    test = instance.step.branch.test
    if instance.step.name in replay.bad_tests:
        return Unknown("reported", reported=True)
    if test.kind == "failed":
        number = replay.matched.get(replay.scopes.producer_key(instance, test.step))
        if number is None:
            return Unknown(f"step {test.step} reproduces no record")
        return replay.failures.get(number) in test.codes
    value = _tested_value(replay, instance, test.value, final)
    if isinstance(value, Unknown):
        return value
    if test.kind == "set":
        return text_of(value) != ""
    return text_of(value) == test.text


def _tested_value(replay, instance: Instance, reference, final: bool) -> object:
    """The value a test reads: an input's in this demonstration, or the output in the recorded
    response of its step's call."""
    if (instance.step.name, reference) in replay.bad_references:
        return Unknown("reported", reported=True)
    if isinstance(reference, InputRef):
        values = replay.input_values
        if not final:
            return values.value(reference.name)
        if isinstance(values.value(reference.name), Unknown):
            _unify_ahead(replay, instance, reference)
        return values.tested(reference.name)
    number = replay.matched.get(replay.scopes.producer_key(instance, reference.step))
    if number is None:
        return Unknown(f"step {reference.step} reproduces no record")
    event = replay.calls[number]
    if number in replay.failures:
        return Unknown(f"step {reference.step} failed with {replay.failures[number]} ({record_text(event)}): "
                       f"its outputs are unset")
    if event.call.response is None:
        return Unknown(f"{record_text(event)} ({event.call.operation}) has no response in the log: CloudTrail logs "
                       f"none for reads; record the session with `pysynth record` to test what it answered")
    output = next(item for item in replay.scopes.steps[reference.step].outputs if item.name == reference.output)
    value = output_value(event.call.response, output)
    if value is ABSENT:
        return Unknown(f"the response of {record_text(event)} has nothing at {output.path}")
    return value


def _unify_ahead(replay, instance: Instance, reference: InputRef) -> None:
    """Bind an input the demonstration has not used yet from the first call a step of the branch's
    arms that uses it could make (its other values as the replay gives them): the call that shows
    what the person gave. Steps inside a loop of an arm have no element yet, and are passed over."""
    branch = instance.step.branch
    around = replay.scopes.loops[instance.step.name]
    for step in walk([*branch.steps, *branch.otherwise]):
        if step.action not in API_ACTIONS or replay.scopes.loops[step.name] != around:
            continue
        if not any(found == reference for _, found in replay.references(step)):
            continue
        probe = Instance(step, instance.frames)
        for number in replay.by_operation.get((step.service, step.api), ()):
            if replay.free(probe, number) and not any(finding.concrete for finding in replay.findings(probe, number)):
                replay.unify(probe, number)
                return


def account(replay) -> None:
    """One problem per branch the demonstration cannot decide; the calls of its arms' operations
    that no step made are taken, unchecked."""
    for instance, unknown in replay.undecided:
        branch = instance.step.branch
        numbers = leftovers.take_unchecked(replay, [*branch.steps, *branch.otherwise])
        if unknown.reported:
            continue
        unchecked = f"; {plural(len(numbers), 'call')} of its arms left unchecked" if numbers else ""
        replay.problems.append(Problem(
            UNDECIDED_BRANCH,
            f"{instance.text}: the test ({test_text(instance.step)}) cannot be checked: {unknown.why}{unchecked}",
            step=instance.step.name, iterations=instance.iterations,
        ))
