"""Run an SSM Automation runbook on this machine, to try it before uploading it (``pysynth run``).

The runner works on the runbook model (``pysynth.ssm.load_runbook``). Running is in three stages:

1. ``prepare`` (``setup``) checks everything that can be checked without AWS — every step's action
   has a handler and its step is well-formed, every ``--param`` names an input and converts to its
   SSM type, every required input has a value — and refuses the run with all the problems
   (``RunRefused``) before anything happens. For a real run it then sets up the AWS session:
   assumes ``AutomationAssumeRole`` when given, and reads the ``global:`` values the runbook uses.
2. ``execute`` runs the steps in order; the first failure stops the run (``RunFailed``: which step,
   in which loop iteration, which call, the service's error). It returns the outputs of the
   runbook's own steps by ``"Step.Output"`` (a loop's steps' outputs live in their iteration).
3. ``plan`` (``--dry-run``) resolves every step's call without making it; an output of an earlier
   step reads as ``<Step.Output>``, a secret as ``<secret Name>``, a loop's element as
   ``<Loop.CurrentIteratorValue>``; a loop shows its list and its steps' calls once.

pysynth's ``aws:executeScript`` that reads every page of a read reads back (``pysynth.ssm``) as that
read, an ``aws:executeAwsApi`` step, which runs through botocore's paginator: the reads the SSM
rendering writes as that script (``Execution.paged_reads``) read every page, never by executing the
document's code.

A branch (``branches``) runs the steps of the way its test chooses, then the run goes on after it:
``pysynth.ssm`` reads the jumps of the document (an ``aws:branch``'s Choices and Default, each arm's
``nextStep`` or ``isEnd``, a tested call's ``onFailure: step:...`` and ``isCritical: false``) into
the branch steps of the model, so those jumps are what the runner follows.

Actions plug in through ``actions.ACTIONS``, a registry of handlers keyed by the SSM action name;
``values`` holds what steps see (``Execution``) and the conversions, ``progress`` the reporting.
"""

from __future__ import annotations

import time
from typing import Callable

from pysynth.model import Runbook, Step
from pysynth.runner.actions import ACTIONS, Action
from pysynth.runner.progress import ConsoleReporter, Reporter
from pysynth.runner.setup import RunOptions, convert_input, input_values, parse_parameters, prepare
from pysynth.runner.values import (
    Execution,
    Missing,
    RunFailed,
    RunRefused,
    StepError,
    StepResult,
    Unknown,
    convert_output,
    json_default,
)

# What the runner does with each step it goes through: run it, or plan it.
Visit = Callable[[Step, Action, Execution], StepResult]


def execute(runbook: Runbook, execution: Execution, reporter: Reporter) -> dict[str, object]:
    """Run the steps; the outputs by ``"Step.Output"`` (those whose selector found nothing left out)."""

    def run_step(step: Step, action: Action, scope: Execution) -> StepResult:
        started = time.monotonic()
        result = action.run(step, scope)
        scope.outputs.update({(step.name, name): value for name, value in result.outputs.items()})
        # A call that failed as the runbook expects has no outputs: its outcome is said, not warned of.
        expected = scope.errors.get(step.name) if step.expected_errors else None
        missing = [] if expected else [value.reason for value in result.outputs.values() if isinstance(value, Missing)]
        outcome = f"failed with {expected}, which the runbook expects" if expected else ""
        reporter.finished(step, time.monotonic() - started, missing, outcome)
        return result

    def run_steps(steps: list[Step], scope: Execution, iteration: str) -> list[dict]:
        _walk(steps, scope, reporter, run_step, iteration)
        return []

    execution.steps_runner = run_steps
    run_steps(runbook.steps, execution, "")
    return {
        f"{step}.{output}": value for (step, output), value in execution.outputs.items()
        if not isinstance(value, Missing)
    }


def plan(runbook: Runbook, execution: Execution, reporter: Reporter) -> list[dict]:
    """Every step's resolved call, without making any."""

    def plan_steps(steps: list[Step], scope: Execution, iteration: str) -> list[dict]:
        calls = []

        def plan_step(step: Step, action: Action, scope: Execution) -> StepResult:
            calls.append({"step": step.name, "action": step.action, **action.plan(step, scope)})
            scope.outputs.update({(step.name, o.name): Unknown(f"<{step.name}.{o.name}>") for o in step.outputs})
            reporter.finished(step, 0.0, [])
            return StepResult()

        _walk(steps, scope, reporter, plan_step, iteration)
        return calls

    execution.steps_runner = plan_steps
    return plan_steps(runbook.steps, execution, "")


def _walk(steps: list[Step], execution: Execution, reporter: Reporter, visit: Visit, iteration: str) -> None:
    """Visit the steps in order, or where a step's result says to go next; stop at the first failure.
    ``iteration`` names the loop iteration the steps run in, if any."""
    positions = {step.name: position for position, step in enumerate(steps)}
    position = 0
    while position < len(steps):
        step = steps[position]
        action = ACTIONS[step.action]
        call = action.call(step)
        reporter.started(position + 1, len(steps), step, call, iteration)
        try:
            result = visit(step, action, execution)
        except StepError as error:
            within = f" in {iteration}" if iteration else ""
            raise RunFailed(f"step {step.name} failed{within}: {call}: {error}") from None
        if result.next_step is None:
            position += 1
        elif result.next_step in positions:
            position = positions[result.next_step]
        else:
            raise RunFailed(f"step {step.name} goes on to step {result.next_step}, which the runbook does not have")


__all__ = [
    "ACTIONS", "ConsoleReporter", "Execution", "Reporter", "RunFailed", "RunOptions", "RunRefused", "StepError",
    "StepResult", "convert_input", "convert_output", "execute", "input_values", "json_default", "parse_parameters", "plan",
    "prepare",
]
