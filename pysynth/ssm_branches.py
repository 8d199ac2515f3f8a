"""Branch steps in an SSM Automation document: what pysynth writes (``pysynth.render.ssm_branches``)
and how ``pysynth.ssm`` reads it back into the model's nested branches.

An SSM document's steps are one flat list. A branch's arms are laid out after it, its ``steps``
first, then its ``otherwise``; the last step of an arm jumps to the step after the branch
(``nextStep``), or ends the runbook (``isEnd: true``) when nothing follows. A test of a value is an
``aws:branch`` step with one choice (``NextStep``: the first step of ``steps``) and a ``Default``
(the first of ``otherwise``); an empty arm's jump goes to the step after the branch. A ``failed``
test is no step of its own: SSM cannot test an error code, so the tested step goes on with
``onFailure: step:...`` (``isCritical: false``) to the failure arm and ``nextStep`` to the success
arm, and its description says which branch tests it, on which codes (``FAILED_NOTE``); a call that
expects errors no branch tests goes on with ``onFailure: Continue`` (``EXPECTED_NOTE``). A jump with
nowhere to go (an empty arm of a branch nothing follows) goes to ``END_STEP``, a last step that does
nothing: SSM has no jump to the end of a runbook.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable

from pysynth.model import BRANCH, Branch, InputRef, OutputRef, Step, Test

END_STEP = "RunbookEnd"
END_ACTION = "aws:sleep"
END_INPUTS = {"Duration": "PT0S"}
END_DESCRIPTION = (
    "Ends the runbook: a branch whose way has nothing left to do jumps here, since SSM Automation has no "
    "jump to the end of a runbook. It does nothing."
)
FAILURE_JUMP = "step:"
# A code botocore reports (NoSuchEntity, 404, InvalidInstanceID.NotFound): nothing else is written.
ERROR_CODE = re.compile(r"[\w.-]+\Z")
# What the SSM rendering appends to a tested step's description (render.ssm_branches.failed_note),
# the branch step's own description (its records, its text) after it.
FAILED_NOTE = re.compile(
    r"(?:\A|\n\n)Branch (?P<branch>\w+) tests whether this call (?:(?P<fails>fails with)|succeeds \(it may fail "
    r"with) (?P<codes>[\w.-]+(?:, [\w.-]+)*)\)?: [^\n]*(?:\n\n(?P<description>.*))?\Z",
    re.S,
)
# What it appends to the description of a call that expects errors no branch tests (render.ssm_branches.expected_note).
EXPECTED_NOTE = re.compile(r"(?:\A|\n\n)Expects the errors? (?P<codes>[\w.-]+(?:, [\w.-]+)*) as an outcome: [^\n]*\Z")
CONTINUE = "Continue"
# Where a step goes on (the document's step properties, as read).
FLOW_KEYS = ("nextStep", "isEnd", "onFailure", "isCritical")


class LayoutError(Exception):
    """The jumps around a branch are not the layout pysynth writes; the message names the step."""


def choice_form(inputs: dict) -> tuple[str, str, bool, str, str] | None:
    """(Variable, text, negated, NextStep, Default) of an ``aws:branch`` in the form pysynth writes:
    one choice testing StringEquals on a variable, perhaps under Not; None for any other."""
    if set(inputs) != {"Choices", "Default"} or not isinstance(inputs["Choices"], list) or len(inputs["Choices"]) != 1:
        return None
    choice = inputs["Choices"][0]
    if not isinstance(choice, dict) or set(choice) not in ({"NextStep", "Variable", "StringEquals"}, {"NextStep", "Not"}):
        return None
    negated = "Not" in choice
    condition = choice["Not"][0] if negated and isinstance(choice["Not"], list) and len(choice["Not"]) == 1 else choice
    if not (isinstance(condition, dict) and set(condition) >= {"Variable", "StringEquals"}
            and len(condition) == (2 if negated else 3)):
        return None
    values = (condition["Variable"], condition["StringEquals"], choice["NextStep"], inputs["Default"])
    if not all(isinstance(value, str) for value in values):
        return None
    variable, text, next_step, default = values
    return variable, text, negated, next_step, default


def branch_step(name: str, inputs: dict, reference: Callable[[str], object], flows: dict[str, dict]) -> Step | None:
    """An aws:branch in pysynth's form (``choice_form``): a test of an input being set (not empty) or
    of a value being a text, its Variable read by ``reference``; its jumps go into ``flows``, its arms
    are laid out after it (``nest`` puts them inside). None when the Variable is not one input or output."""
    variable, text, negated, holds, otherwise = choice_form(inputs)
    value = reference(variable.strip())
    if not isinstance(value, (InputRef, OutputRef)):
        return None
    if isinstance(value, InputRef) and text == "":
        test = Test(kind="set", value=value, negate=not negated)
    else:
        test = Test(kind="equals", value=value, text=text, negate=negated)
    flows[name]["targets"] = (holds, otherwise)
    return Step(name=name, service="", api="", request={}, action=BRANCH, branch=Branch(test=test, steps=[]))


def nest(steps: list[Step], flows: dict[str, dict]) -> list[Step]:
    """The flat ``steps`` of a document (a loop's, or mainSteps) with each branch's arms inside it.
    ``flows`` holds each step's ``FLOW_KEYS`` as written, an ``aws:branch``'s (choice, Default) jumps
    under ``targets``, and what a tested step's FAILED_NOTE says under ``failed``. Raises ``LayoutError``."""
    if steps and steps[-1].name == END_STEP and steps[-1].action == END_ACTION and steps[-1].request == END_INPUTS:
        steps = steps[:-1]
    positions = {step.name: position for position, step in enumerate(steps)}
    return _segment(steps, flows, positions, 0, len(steps), None)


def _segment(
    steps: list[Step], flows: dict[str, dict], positions: dict[str, int], low: int, high: int, after: str | None,
) -> list[Step]:
    """``steps[low:high]``, a list that goes on at ``after`` (None: the runbook ends), nested."""
    nested: list[Step] = []
    position = low
    while position < high:
        step = steps[position]
        failed = flows.get(step.name, {}).get("failed")
        if step.action == BRANCH and step.branch is not None:
            branch_step, (holds, otherwise) = step, flows[step.name]["targets"]
        elif failed is not None:
            step = replace(step, expected_errors=failed["codes"])
            failure, success = _failure_targets(step.name, flows[step.name])
            fails = failed["fails"]
            holds, otherwise = (failure, success) if fails else (success, failure)
            test = Test(kind="failed", step=step.name, codes=failed["codes"], negate=not fails)
            branch_step = Step(name=failed["branch"], service="", api="", request={}, action=BRANCH,
                               description=failed["description"], records=failed["records"],
                               branch=Branch(test=test, steps=[]))
            nested.append(step)
        else:
            nested.append(_expecting(step, flows))
            position += 1
            continue
        start = position + 1

        def at(target: str | None) -> int:
            target = None if target == END_STEP else target
            found = high if target == after else positions.get(target, -1)
            if not start <= found <= high:
                raise LayoutError(f"step {branch_step.name}: it goes on at {target or 'the end'}, outside the steps "
                                  "laid out for its branch")
            return found

        holds_at, otherwise_at = at(holds), at(otherwise)
        if holds_at == start and otherwise_at == start:
            raise LayoutError(f"step {branch_step.name}: both ways go on at the same step")
        if holds_at == start:
            # Its steps first; the otherwise arm is empty when their last step goes on where it starts.
            last = _jump(steps[otherwise_at - 1], flows)
            join = otherwise_at if last == _name_at(steps, otherwise_at, high, after) else at(last)
            arms = ((start, otherwise_at), (otherwise_at, join))
        else:
            join = holds_at
            arms = ((start, start), (start, holds_at))
        join_name = _name_at(steps, join, high, after)
        branch_step = replace(branch_step, branch=replace(
            branch_step.branch,
            steps=_segment(steps, flows, positions, *arms[0], join_name),
            otherwise=_segment(steps, flows, positions, *arms[1], join_name),
        ))
        nested.append(branch_step)
        position = join
    return nested


def _expecting(step: Step, flows: dict[str, dict]) -> Step:
    """A step with the errors its EXPECTED_NOTE says it expects, going on after one as after success."""
    flow = flows.get(step.name, {})
    if "expected" not in flow:
        return step
    if flow.get("onFailure") not in (CONTINUE, FAILURE_JUMP + str(flow.get("nextStep"))) or flow.get("isCritical") is not False:
        raise LayoutError(f"step {step.name}: a call that expects errors goes on where it would on success "
                          "(onFailure: Continue, or step: its nextStep) with isCritical: false")
    return replace(step, expected_errors=flow["expected"])


def _name_at(steps: list[Step], position: int, high: int, after: str | None) -> str | None:
    """The name of the step at ``position`` of a list that ends at ``high`` and goes on at ``after``."""
    return after if position == high else steps[position].name


def _failure_targets(name: str, flow: dict) -> tuple[str | None, str | None]:
    on_failure, next_step = flow.get("onFailure"), flow.get("nextStep")
    if not (isinstance(on_failure, str) and on_failure.startswith(FAILURE_JUMP) and isinstance(next_step, str)
            and flow.get("isCritical") is False):
        raise LayoutError(f"step {name}: a tested call goes on with onFailure: step:..., isCritical: false and nextStep")
    return on_failure.removeprefix(FAILURE_JUMP), next_step


def _jump(step: Step, flows: dict[str, dict]) -> str | None:
    """Where the last step of an arm goes on: its nextStep, or None when it ends the runbook."""
    flow = flows.get(step.name, {})
    if flow.get("isEnd") is True:
        return None
    next_step = flow.get("nextStep")
    if not isinstance(next_step, str):
        raise LayoutError(f"step {step.name}: the last step of a branch's way goes on with nextStep or isEnd")
    return None if next_step == END_STEP else next_step
