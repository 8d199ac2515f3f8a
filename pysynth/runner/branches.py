"""``aws:branch`` in the runner: the choice of a branch step, evaluated as SSM Automation evaluates
one, and the arm it chooses run through the runner's own way of going through steps.

``pysynth.ssm`` reads a document's branches into the model (a branch step with its arms inside it:
the choice's ``NextStep`` and the ``Default`` become its two ways, each arm's last ``nextStep`` or
``isEnd`` the way back, a tested call's ``onFailure: step:...`` with ``isCritical: false`` its
expected errors). The runner runs that model: a branch on a value evaluates the condition the
document holds (``choice_holds``: StringEquals, EqualsIgnoreCase, StartsWith, EndsWith, Contains,
the Numeric comparisons and BooleanEquals, under Not, And and Or); a branch on a call's failure
looks at the error code the call answered with. Like SSM, the run then goes on after the branch.
Unlike SSM, which goes the failure way on any error of the call, a code the runbook does not expect
fails the run, as it fails the bash and Python scripts.
"""

from __future__ import annotations

from typing import Callable

from pysynth.model import Step, Test
from pysynth.render.prose import test_text
from pysynth.render.ssm import ssm_reference
from pysynth.render.ssm_branches import ssm_condition
from pysynth.runner.values import Execution, StepError, StepResult, Unknown, text
from pysynth.ssm import request_value

# SSM's comparison operators: how each compares the variable's value with the choice's.
NUMERIC = {
    "NumericEquals": lambda value, other: value == other,
    "NumericGreater": lambda value, other: value > other,
    "NumericLesser": lambda value, other: value < other,
    "NumericGreaterOrEquals": lambda value, other: value >= other,
    "NumericLesserOrEquals": lambda value, other: value <= other,
}
TEXTUAL = {
    "StringEquals": lambda value, other: value == other,
    "EqualsIgnoreCase": lambda value, other: value.lower() == other.lower(),
    "StartsWith": lambda value, other: value.startswith(other),
    "EndsWith": lambda value, other: value.endswith(other),
    "Contains": lambda value, other: other in value,
}


def choice_holds(condition: dict, value_of: Callable[[str], object]) -> bool:
    """Whether an aws:branch condition holds: ``Not``, ``And`` and ``Or`` of conditions, or a
    ``Variable`` (its value from ``value_of``) compared by one operator."""
    if "Not" in condition:
        return not choice_holds(_one(condition["Not"]), value_of)
    if "And" in condition:
        return all(choice_holds(inner, value_of) for inner in condition["And"])
    if "Or" in condition:
        return any(choice_holds(inner, value_of) for inner in condition["Or"])
    operators = [key for key in condition if key not in ("Variable", "NextStep")]
    if len(operators) != 1:
        raise StepError(f"a choice compares its Variable by one operator, not {', '.join(operators) or 'none'}")
    operator = operators[0]
    value, other = value_of(condition["Variable"]), condition[operator]
    if operator in TEXTUAL:
        return TEXTUAL[operator](text(value), text(other))
    if operator in NUMERIC:
        try:
            return NUMERIC[operator](float(text(value)), float(text(other)))
        except ValueError:
            raise StepError(f"{operator}: {text(value)!r} or {text(other)!r} is not a number") from None
    if operator == "BooleanEquals":
        return text(value).lower() == text(other).lower()
    raise StepError(f"pysynth run does not know the choice operator {operator}")


def _one(conditions: object) -> dict:
    if isinstance(conditions, list) and len(conditions) == 1 and isinstance(conditions[0], dict):
        return conditions[0]
    if isinstance(conditions, dict):
        return conditions
    raise StepError("Not takes one condition")


class BranchStep:
    """``aws:branch`` (and a call's ``onFailure``): the steps of the way its test chooses, then on."""

    def problems(self, step: Step) -> list[str]:
        # The registry of actions holds this one: imported when it is complete.
        from pysynth.runner.actions import step_problems

        if step.branch is None:
            return [f"step {step.name}: pysynth run runs an aws:branch in the form pysynth writes (one choice of "
                    "StringEquals on a Variable, perhaps under Not, and a Default); this one is not"]
        problems = []
        for inner in step.branch.steps + step.branch.otherwise:
            problems += step_problems(inner)
        return problems

    def call(self, step: Step) -> str:
        return f"aws:branch on whether {test_text(step.branch.test)}"

    def plan(self, step: Step, execution: Execution) -> dict:
        # The test is known only at run time: both ways are planned.
        label = f"{step.name}, when it holds"
        return {"test": test_text(step.branch.test),
                "steps": execution.steps_runner(step.branch.steps, execution, label),
                "otherwise": execution.steps_runner(step.branch.otherwise, execution, f"{step.name}, otherwise")}

    def run(self, step: Step, execution: Execution) -> StepResult:
        branch = step.branch
        holds = test_holds(branch.test, execution)
        chosen = branch.steps if holds else branch.otherwise
        execution.steps_runner(chosen, execution, f"{step.name}, {'when it holds' if holds else 'otherwise'}")
        return StepResult()


def test_holds(test: Test, execution: Execution) -> bool:
    """Whether a branch's test holds: a call failed with an error it expects, or the condition the
    SSM document writes for a value holds."""
    if test.kind == "failed":
        failed = execution.errors.get(test.step) in test.codes
        return not failed if test.negate else failed

    def value_of(variable: str) -> object:
        value = execution.resolve(request_value(variable, "the branch's Variable", tuple(execution.iterations)), None)
        if isinstance(value, Unknown):
            raise StepError(f"{variable} has no value yet")
        return value

    return choice_holds(ssm_condition(test, ssm_reference(test.value)), value_of)
