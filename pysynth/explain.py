"""Why the runbook is what it is, in words: for each step, the log records behind it and what became of
each value of its request; for each input, where it is used and why it is an input; and for every
choice, the alternatives ``compare`` found and the objective on which they lost.

The reasons are the rules of asp/README.md, read off the facts of the session: a value a call
created is always taken from that call's output; a name or id the user chose (or that existed
before) is an input, never a literal; a value CloudTrail hides is a secret input; constants stay
literal; the rest is decided by the objectives, in their order of priority.

A loop is explained where it stands, before its body's steps: what it walks, where that list comes
from, how many iterations the log shows, and what the other runbooks do with those calls instead;
each step of its body reproduces its first iteration's call. A branch is explained where it stands,
before its arms' steps: what it tests and which steps run either way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pysynth.facts import Session, Slot, value_text
from pysynth.model import SSM_MAX_ITERATIONS, InputRef, Runbook, Step, walk
from pysynth.render.prose import condition_text, plural, test_text, walked_text
from pysynth.solve import Answer, Binding
from pysynth.synth import Synthesis

CLIP = 60


class ExplainError(Exception):
    """What was asked about does not exist; the message names what does."""


@dataclass
class _Runbook:
    """One answer and its runbook, with the lookups an explanation needs."""

    number: int
    answer: Answer
    runbook: Runbook
    step_of_call: dict[int, str]
    input_of_path: dict[str, str]
    loop_of_calls: dict[tuple, str]  # the records a loop step names, all its calls -> its name


def explain(synthesis: Synthesis, step: str | None = None, input_name: str | None = None) -> list[str]:
    """Lines of prose on the optimal runbook: every step and input, or only ``step`` or ``input_name``."""
    session = synthesis.session
    found = [_indexed(number, answer, runbook, session) for number, (answer, runbook)
             in enumerate(zip(synthesis.outcome.answers, synthesis.runbooks), start=1)]
    best, others = found[0], found[1:]
    steps = {item.name: item for item in walk(best.runbook.steps)}
    inputs = {item.name: item for item in best.runbook.inputs}
    if step is not None and step not in steps:
        raise ExplainError(f"the runbook has no step {step}; its steps are {', '.join(steps)}")
    if input_name is not None and input_name not in inputs:
        raise ExplainError(f"the runbook has no input {input_name}; its inputs are {', '.join(inputs) or 'none'}")
    objectives = synthesis.outcome.objectives
    lines = [_costs(best, objectives, synthesis.outcome.optimal, len(others))]
    slots_of_call: dict[int, list[Slot]] = {}
    for slot in session.slots:
        slots_of_call.setdefault(slot.call, []).append(slot)
    if input_name is None:
        call_of_step: dict[str, int] = {}  # the first call each step makes (a batch step makes several)
        for call in sorted(best.answer.steps):
            if call in best.step_of_call:
                call_of_step.setdefault(best.step_of_call[call], call)
        for item in walk(best.runbook.steps):
            if step is not None and item.name != step:
                continue
            if item.loop is not None:
                lines += _loop_lines(item, best, others, objectives)
            elif item.branch is not None:
                lines += _branch_lines(item)
            elif item.name in call_of_step:
                call = call_of_step[item.name]
                lines += _step_lines(call, item.name, best, others, session, slots_of_call.get(call, []), objectives)
    if step is None:
        for item in best.runbook.inputs:
            if input_name is None or item.name == input_name:
                lines += _input_lines(item, best, others, session, objectives)
    return lines


def _branch_lines(step: Step) -> list[str]:
    """What a branch tests and what runs either way; the runbook goes on after it in both."""
    branch = step.branch

    def names(steps: list[Step]) -> str:
        return ", ".join(item.name for item in steps) or "nothing"

    lines = ["", f"Branch {step.name}: when {test_text(branch.test)}, it runs {names(branch.steps)}; otherwise "
                 f"{names(branch.otherwise)}. Either way the runbook goes on after it."]
    if branch.test.kind == "failed":
        lines.append(f"  Step {branch.test.step} may fail with {', '.join(branch.test.codes)}: the runbook expects "
                     "that as an outcome, not as a failure, and any other error still stops it.")
    return lines


def _indexed(number: int, answer: Answer, runbook: Runbook, session: Session) -> _Runbook:
    steps = list(walk(runbook.steps))
    by_record = {(record.file, record.index): item.name for item in steps if item.loop is None
                 for record in item.records}
    step_of_call = {}
    for call in range(1, len(session.calls) + 1):
        event = session.call_event(call)
        if (event.file, event.index) in by_record:
            step_of_call[call] = by_record[(event.file, event.index)]
    input_of_path = {path: item.name for item in runbook.inputs for path in item.used_by}
    loop_of_calls = {tuple((record.file, record.index) for record in item.records): item.name
                     for item in steps if item.loop is not None}
    return _Runbook(number, answer, runbook, step_of_call, input_of_path, loop_of_calls)


def _costs(best: _Runbook, objectives: list[str], optimal: bool, alternatives: int) -> str:
    costs = ", ".join(f"{name} {value}" for name, value in zip(objectives, best.answer.cost))
    proof = "proven optimal" if optimal else "the best found within the time limit"
    compared = f"; compared with the {plural(alternatives, 'next best runbook')}" if alternatives else ""
    return (f"The runbook is {proof} under the objectives, highest priority first: {costs}{compared}. "
            "A later objective only decides between runbooks that tie on every earlier one.")


def _record(session: Session, call: int) -> str:
    event = session.call_event(call)
    return f"{event.file} record {event.index} ({event.event_id}, {event.time})"


def _step_lines(call: int, name: str, best: _Runbook, others: list[_Runbook], session: Session,
                slots: list[Slot], objectives: list[str]) -> list[str]:
    event = session.call_event(call)
    lines = ["", f"Step {name}: {event.call.service} {event.call.operation}",
             f"  It reproduces {_record(session, call)}: {_why_step(call, name, best)}"]
    step = best.runbook.step(name)
    loop = next((item for item in walk(best.runbook.steps)
                 if item.loop is not None and name in {inner.name for inner in item.loop.steps}), None)
    if loop is not None:
        lines.append(f"  It runs in loop {loop.name}, once per element: that record is its first iteration's call, "
                     "the other iterations make the same call with their own element.")
    if step.batch is not None:
        lines.append(f"  It sends the whole list in {step.batch} in one call, where the log shows "
                     f"{plural(len(step.records), 'call')}, one per part of the list (objective steps).")
    for retry, into in sorted(best.answer.merged.items()):
        if into == call:
            lines.append(f"  It also stands for {_record(session, retry)}, which repeats its request and response "
                         "with nothing in between using their values: a retry, merged (objective steps).")
    for other in others:
        if call not in other.answer.steps:
            instead = "leaves this read out" if session.is_read(call) else "merges this call into another step"
            lines.append(f"  Runbook #{other.number} {instead} instead{_loses(best, other, objectives)}.")
    for slot in slots:
        binding = best.answer.bindings.get(slot.id)
        if binding is None:
            continue
        choice = _choice(binding, slot, best, session)
        gathered = _gathering_loop(slot, best, session)
        if gathered is not None:
            choice = f"the element of loop {gathered}, whose list holds this first iteration's value as {choice}"
        lines.append(f"  {slot.path}: {choice}")
        lines.append(f"    {_reason(binding, slot, session, best)}")
        lines += [f"    {line}" for line in _alternatives(slot, binding, best, others, session, objectives)]
    return lines


def _why_step(call: int, name: str, best: _Runbook) -> str:
    step = best.runbook.step(name)
    if call in best.answer.waits and step.wait is not None:
        until = (f" until {step.wait.property_selector} is {' or '.join(step.wait.desired_values)}"
                 if step.wait.property_selector else " until it succeeds")
        return (f"the log polled this read, so it becomes a wait on botocore's {step.wait.waiter} waiter{until}, "
                "up to " + plural(step.wait.max_attempts, "attempt") + " (objective unwaited_polls).")
    if call in best.answer.read_steps:
        return "a read whose response a later step takes a value from, so a step makes it."
    text = "a write call the selection kept, so a step makes it."
    if call in best.answer.retries and step.retry is not None:
        errors = ", ".join(step.retry.errors) or "an error"
        text += (f" The log shows it failed ({errors}) before it succeeded, so it is retried, up to "
                 f"{plural(step.retry.max_attempts, 'attempt')} (objective unhandled_failures).")
    return text


def _loop_lines(step: Step, best: _Runbook, others: list[_Runbook], objectives: list[str]) -> list[str]:
    loop = step.loop
    walked = walked_text(best.runbook, step)
    body = ", ".join(inner.name for inner in loop.steps)
    lines = ["", f"Loop {step.name}: {body}, for each element of {walked}",
             f"  The log makes the same calls {plural(loop.iterations, 'time')}, one element after the other: one loop "
             "stands for them all (objective steps)."]
    if loop.gathered:
        lines.append("  Each element is the value one iteration's call had, taken from where the runbook has it (an "
                     "earlier step's output, an input): no list in the log holds them all, so the loop gathers them.")
    elif isinstance(loop.over, list):
        lines.append("  The list is written into the runbook: plain data the log shows, not names a user chooses.")
    elif isinstance(loop.over, InputRef):
        lines.append(f"  The list is input {loop.over.name}, whose default is the elements the log shows.")
    else:
        producer = best.runbook.step(loop.over.step)
        output = next(item for item in producer.outputs if item.name == loop.over.output)
        lines.append(f"  The list is read from the response of step {producer.name} as the runbook runs: run again, "
                     "it walks what is there then.")
        if output.where is not None:
            lines.append(f"  It keeps only the elements whose {condition_text(output.where)}: the log acted on those "
                         "alone, and that is the simplest condition that tells them apart.")
    if loop.iterations > SSM_MAX_ITERATIONS:
        lines.append(f"  SSM's aws:loop runs at most {SSM_MAX_ITERATIONS} iterations and fails on a longer list: use "
                     "the bash or Python rendering, or split the list.")
    for other in others:
        theirs = [walked_text(other.runbook, item) for item in walk(other.runbook.steps) if item.loop is not None]
        if walked not in theirs:
            instead = f"it walks {'; '.join(theirs)} instead" if theirs else "it makes a step of each call instead"
            lines.append(f"  Runbook #{other.number} does not walk this list: {instead}{_loses(best, other, objectives)}.")
    return lines


def _input_lines(item, best: _Runbook, others: list[_Runbook], session: Session, objectives: list[str]) -> list[str]:
    kind = f"{item.type}, secret" if item.secret else item.type
    default = "" if item.default is None else f", default {_clip(value_text(item.default))}"
    lines = ["", f"Input {item.name} ({kind}{default})", f"  Used by {', '.join(item.used_by)}."]
    paths = set(item.used_by)
    for slot in session.slots:
        binding = best.answer.bindings.get(slot.id)
        step = best.step_of_call.get(slot.call)
        if binding is None or f"{step}.{slot.path}" not in paths:
            continue
        lines.append(f"  {step}.{slot.path}: {_reason(binding, slot, session, best)}")
        lines += [f"    {line}" for line in _alternatives(slot, binding, best, others, session, objectives)]
    return lines


def _gathering_loop(slot: Slot, runbook: _Runbook, session: Session) -> str | None:
    """The loop whose gathered list holds ``slot``'s value as its first element, if any: in the
    runbook, the slot takes that loop's element."""
    for number, source in runbook.answer.loops.items():
        candidate = session.loops[number - 1]
        if source == "gathered" and candidate.key_slot == slot.id:
            return runbook.loop_of_calls.get(_records_of(candidate, session), "?")
    return None


def _records_of(candidate, session: Session) -> tuple:
    """The records a loop candidate's calls are: what its loop step names."""
    return tuple((session.call_event(call).file, session.call_event(call).index) for call in candidate.calls)


def _choice(binding: Binding, slot: Slot, runbook: _Runbook, session: Session) -> str:
    step = runbook.step_of_call.get(slot.call)
    if binding.kind in ("input", "secret"):
        name = runbook.input_of_path.get(f"{step}.{slot.path}", "?")
        return f"{'secret input' if binding.kind == 'secret' else 'input'} {name}"
    if binding.kind == "output":
        output = session.outputs[binding.output - 1]
        return f"output {output.path} of step {runbook.step_of_call.get(output.call, output.call)}"
    if binding.kind == "runtime":
        return f"the session's {binding.runtime.replace('_', ' ')}"
    if binding.kind == "item":
        if binding.loop in runbook.answer.batched:
            return "the whole list, in one call"
        way = session.derivations[binding.derivation - 1]
        loop = runbook.loop_of_calls.get(_records_of(session.loops[binding.loop - 1], session), "?")
        walked = f"the element of loop {loop}" if way.kind == "element" else f"the iteration number of loop {loop}"
        around = [json.dumps(way.prefix)] * bool(way.prefix) + [walked] + [json.dumps(way.suffix)] * bool(way.suffix)
        return " + ".join(around)
    return f"the literal {_clip(value_text(slot.value))}"


def _reason(binding: Binding, slot: Slot, session: Session, runbook: _Runbook) -> str:
    """Why the slot's value comes from where it does: the rule that forces it, or the objective."""
    if binding.kind == "secret":
        return "CloudTrail hides this value, so it is a secret input: required, without a default, never written."
    if binding.kind == "runtime":
        return ("It is the account, region or partition the session ran in: written as the runtime value, so the "
                "runbook runs in any account and region.")
    if binding.kind == "item" and binding.loop in runbook.answer.batched:
        return ("The operation takes a whole list here: one call stands for the calls the log shows, one per "
                "element (objective steps).")
    if binding.kind == "item":
        return ("It changes from one iteration to the next as the list does: each iteration's call takes its own "
                "element (or number), so one step stands for the repeated calls (objective steps).")
    if binding.kind == "output" and slot.whole:
        return ("An earlier response holds this whole structure: copied from there, a rerun writes what that call "
                "answers then, not what the log shows (objective uncopied_structures).")
    if binding.kind == "output":
        output = session.outputs[binding.output - 1]
        if session.produced.get(slot.value_id) == output.call:
            return (f"The value first appeared in the response of {_record(session, output.call)}: the call created "
                    "it, so it is always taken from that output, never written as a literal (a rule).")
        return ("An earlier response carries the same value; taking it from there needs no input (objective inputs) "
                "and keeps the data flow visible (objective input_references).")
    if binding.kind == "input":
        if slot.identifier and slot.value_id not in session.produced:
            return ("It names or identifies something the user chose or that existed before the session, so it is "
                    "an input with the logged value as default, never a literal (a rule).")
        return "A policy or the objectives make it an input rather than a literal."
    if slot.whole:
        return ("An earlier response holds this whole structure, but no step copies it from there: it is written "
                "out as logged, each value within it chosen on its own (objective uncopied_structures counts it).")
    if slot.constant:
        return "It is a constant (an enum, a flag, a number or an AWS-managed policy ARN): it stays literal (a rule)."
    return ("It is plain data: it stays literal, as each input costs one (objective inputs), unless a policy "
            "asks for an input.")


def _alternatives(slot: Slot, binding: Binding, best: _Runbook, others: list[_Runbook], session: Session,
                  objectives: list[str]) -> list[str]:
    lines = []
    mine = _choice(binding, slot, best, session)
    for other in others:
        theirs = other.answer.bindings.get(slot.id)
        if theirs is None:
            continue
        text = _choice(theirs, slot, other, session)
        if text != mine:
            # A choice's text may start with its article ("the literal x") or not ("input X").
            text = text if text.startswith("the ") else f"the {text}"
            lines.append(f"Runbook #{other.number} takes {text} instead{_loses(best, other, objectives)}.")
    return lines


def _loses(best: _Runbook, other: _Runbook, objectives: list[str]) -> str:
    """On which objective (the highest in priority) the other runbook is worse, or that it ties."""
    for name, mine, theirs in zip(objectives, best.answer.cost, other.answer.cost):
        if theirs != mine:
            return f", and loses on {name} ({theirs} against {mine})"
    return ", and ties on every objective: an equally good runbook"


def _clip(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= CLIP else text[: CLIP - 1] + "…"
