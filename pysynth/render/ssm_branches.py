"""How the SSM rendering lays out branch steps in a document's flat list of steps (the layout is
described in ``pysynth.ssm_branches``, which reads it back): each step with the step properties
that say where the automation goes on after it."""

from __future__ import annotations

from dataclasses import dataclass, field

from pysynth.model import Step, Test
from pysynth.render.prose import records_text
from pysynth.ssm_branches import CONTINUE, END_STEP, FAILURE_JUMP


@dataclass(slots=True)
class Placed:
    """A step where the document writes it: ``step`` None is ``END_STEP``; ``flow`` its properties
    (``nextStep``, ``isEnd``, ``onFailure``, ``isCritical``); ``tested_by`` the branch step whose
    ``failed`` test this call's outcome decides; ``targets`` an aws:branch's (choice, Default) jumps."""

    step: Step | None
    flow: dict = field(default_factory=dict)
    tested_by: Step | None = None
    targets: tuple[str, str] | None = None


def laid_out(steps: list[Step]) -> list[Placed]:
    """The steps as the document lists them: each branch's arms after it, and ``END_STEP`` last when
    a jump has nowhere else to go."""
    placed: list[Placed] = []
    _lay_out(steps, None, False, placed)
    ends = any(END_STEP in (item.targets or ()) or END_STEP in (item.flow.get("nextStep"), _failure_target(item))
               for item in placed)
    return placed + [Placed(None)] if ends else placed


def _failure_target(item: Placed) -> str | None:
    on_failure = item.flow.get("onFailure")
    return on_failure.removeprefix(FAILURE_JUMP) if on_failure else None


def _lay_out(steps: list[Step], after: str | None, jumps: bool, placed: list[Placed]) -> None:
    """Lay out ``steps``, a list that goes on at ``after`` (None: the end of the runbook); with
    ``jumps``, its last step says so (an arm: what follows it in the document is another arm)."""
    for position, step in enumerate(steps):
        following = steps[position + 1].name if position + 1 < len(steps) else after
        if step.branch is None:
            # A call that expects errors goes on after one; the branch after it, if any, says where.
            placed.append(Placed(step, {"onFailure": CONTINUE, "isCritical": False} if step.expected_errors else {}))
            continue
        branch = step.branch
        holds = branch.steps[0].name if branch.steps else following
        otherwise = branch.otherwise[0].name if branch.otherwise else following
        if branch.test.kind == "failed":
            failure, success = (otherwise, holds) if branch.test.negate else (holds, otherwise)
            tested = placed[-1]  # the step just before the branch (validate refuses any other)
            tested.flow = {"onFailure": FAILURE_JUMP + (failure or END_STEP), "isCritical": False,
                           "nextStep": success or END_STEP}
            tested.tested_by = step
        else:
            placed.append(Placed(step, targets=(holds or END_STEP, otherwise or END_STEP)))
        for arm in (branch.steps, branch.otherwise):
            _lay_out(arm, following, True, placed)
    if jumps and steps and steps[-1].branch is None:
        last = placed[-1]
        last.flow.update({"nextStep": after} if after is not None else {"isEnd": True})
        if after is not None and last.flow.get("onFailure") == CONTINUE:
            # Where Continue would go is the next step in the list, the other arm's: the jump says it.
            last.flow["onFailure"] = FAILURE_JUMP + after


def failed_note(branch_step: Step, failure: str, success: str) -> str:
    """What a tested call's description says of the branch that tests it (``pysynth.ssm_branches.FAILED_NOTE``
    reads it back), then the branch step's own description: it has no step of its own in SSM."""
    test = branch_step.branch.test
    codes = ", ".join(test.codes)
    tested = f"succeeds (it may fail with {codes})" if test.negate else f"fails with {codes}"
    note = (
        f"Branch {branch_step.name} tests whether this call {tested}: SSM Automation cannot test an error code, so on "
        f"any failure the runbook goes on at {_target_text(failure)}, and on success at {_target_text(success)}."
    )
    own = [records_text(branch_step) if branch_step.records else "", branch_step.description]
    return "\n\n".join([note, *(text for text in own if text)])


def expected_note(codes: list[str]) -> str:
    """What the description of a call that expects errors no branch tests says (``pysynth.ssm_branches.EXPECTED_NOTE``)."""
    return (f"Expects the error{'s' if len(codes) > 1 else ''} {', '.join(codes)} as an outcome: SSM Automation cannot "
            "test an error code, so the runbook goes on after any failure of this call.")


def _target_text(target: str) -> str:
    return "its end" if target == END_STEP else target


def ssm_condition(test: Test, variable: str) -> dict:
    """The condition of an equals or set test on ``variable`` (``{{ Name }}``): StringEquals, under Not
    when the test holds on the value not being the text (a set input is not empty)."""
    condition = {"Variable": variable, "StringEquals": "" if test.kind == "set" else test.text}
    negated = test.negate if test.kind == "equals" else not test.negate
    return {"Not": [condition]} if negated else condition


def branch_structure(steps: list[Step]) -> list:
    """The shape the SSM read-back must give again: names, expected errors, tests and arms."""
    return [
        (step.name, step.expected_errors, step.loop and branch_structure(step.loop.steps),
         step.branch and (step.branch.test, branch_structure(step.branch.steps),
                          branch_structure(step.branch.otherwise)))
        for step in steps
    ]
