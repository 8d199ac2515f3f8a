"""What keeps a branch step, or a call whose errors a branch tests, from being rendered: a branch
makes no call of its own, has at least one arm, and tests what the renderings can test."""

from __future__ import annotations

from pysynth.model import BRANCH, EXECUTE_AWS_API, Input, InputRef, Output, OutputRef, Step
from pysynth.render.prose import value_prose
from pysynth.render.shapes import reference_kind
from pysynth.ssm_branches import END_STEP, ERROR_CODE

TEST_KINDS = ("failed", "equals", "set")


def branch_problems(
    step: Step, before: Step | None, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output],
    loops: tuple[str, ...], fmt: str,
) -> list[str]:
    """A branch step ``step``, after the step ``before`` in the same list (None: it is the first)."""
    where = f"step {step.name}"
    if step.branch is None or step.action != BRANCH:
        return [f"{where}: a branch step is {BRANCH} with a branch, and only a branch step has one"]
    problems = []
    if (step.service or step.api or step.request or step.outputs or step.wait or step.retry or step.batch
            or step.loop or step.expected_errors):
        problems.append(f"{where}: a branch step makes no call of its own: no service, API, request, outputs, "
                        "wait, retry, batch, loop or expected errors")
    if not step.branch.steps and not step.branch.otherwise:
        problems.append(f"{where}: a branch needs steps in at least one of its ways")
    if fmt == "ssm" and loops:
        problems.append(f"{where}: the SSM rendering lays out no branch inside a loop ({loops[-1]}); render this "
                        "runbook as bash or python")
    test = step.branch.test
    if test.kind not in TEST_KINDS:
        return problems + [f"{where}: a branch tests {', '.join(TEST_KINDS)}, not {test.kind!r}"]
    if test.kind == "failed":
        return problems + _failed_problems(where, step, before)
    if test.step is not None or test.codes:
        problems.append(f"{where}: only a failed test names a step and error codes")
    kind = reference_kind(test.value, inputs, outputs) if isinstance(test.value, (InputRef, OutputRef)) else None
    if kind is None:
        return problems + [f"{where}: it tests {value_prose(test.value)}, which is no input or output of an earlier "
                           "step it may read"]
    if test.kind == "set":
        item = inputs.get(test.value.name) if isinstance(test.value, InputRef) else None
        if item is None or item.type != "String" or item.default != "" or item.secret or item.file:
            problems.append(f"{where}: a set test is of an optional String input whose default is \"\"")
        if test.text is not None:
            problems.append(f"{where}: a set test compares with no text")
        return problems
    if kind != "string" or not isinstance(test.text, str):
        problems.append(f"{where}: an equals test compares {value_prose(test.value)} (text) with a text")
    elif isinstance(test.value, InputRef) and test.text == "":
        problems.append(f"{where}: input {test.value.name} equals \"\" when it is not set: that is a set test, negated")
    elif fmt == "ssm" and "{{" in test.text:
        problems.append(f"{where}: the text it compares with contains '{{{{', which SSM Automation reads as a variable "
                        "reference; render this runbook as bash or python instead")
    elif fmt == "bash" and "\0" in test.text:
        problems.append(f"{where}: the text it compares with contains a NUL character, which bash cannot hold")
    return problems


def _failed_problems(where: str, step: Step, before: Step | None) -> list[str]:
    test = step.branch.test
    problems = []
    if test.value is not None or test.text is not None:
        problems.append(f"{where}: a failed test names a step and error codes, no value or text")
    if not test.codes or not all(isinstance(code, str) and ERROR_CODE.match(code) for code in test.codes):
        problems.append(f"{where}: a failed test names one or more error codes (letters, digits, '.', '-', '_')")
    if before is None or before.name != test.step:
        problems.append(f"{where}: a failed test tests the step just before the branch, not {test.step}")
    elif before.expected_errors != test.codes:
        problems.append(f"{where}: step {before.name} expects the errors {before.expected_errors}, and its branch "
                        f"tests {test.codes}")
    return problems


def expected_errors_problems(step: Step) -> list[str]:
    """A call that expects errors (whether or not a branch after it tests them) is a call, and each
    error is a code."""
    if not step.expected_errors:
        return []
    where = f"step {step.name}"
    problems = []
    if step.action != EXECUTE_AWS_API or step.wait or step.loop or step.branch or step.batch:
        problems.append(f"{where}: only a call ({EXECUTE_AWS_API}, no wait or batch) expects errors")
    if not all(isinstance(code, str) and ERROR_CODE.match(code) for code in step.expected_errors):
        problems.append(f"{where}: an expected error is a code (letters, digits, '.', '-', '_')")
    return problems


def end_step_problems(steps: list[Step]) -> list[str]:
    """The SSM rendering's own last step has a name no step of the runbook may take."""
    return [f"step {END_STEP}: the SSM rendering names its own last step so" for step in steps if step.name == END_STEP]
