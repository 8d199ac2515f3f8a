"""The SSM actions the runner runs, in a registry keyed by the action name (``ACTIONS``).

A handler checks a step before the run, plans it, and runs it; what it returns may name the step to
go to next. ``aws:loop`` runs its body once per element of its list, and ``aws:branch``
(``branches``) the steps of the way it chooses, through the runner's own way of going through steps
(``Execution.steps_runner``), so their steps show their progress and fail as other steps do. A call
that fails with an error it expects succeeds: its outputs are unset and the branch after it tests
the code.
"""

from __future__ import annotations

import time
from typing import Protocol

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from pysynth.botomodels import starting_tokens
from pysynth.model import BRANCH, EXECUTE_AWS_API, LOOP, SSM_MAX_ITERATIONS, WAIT_FOR_PROPERTY, Step
from pysynth.paths import Every, Keep, parse_selector, value_at
from pysynth.render import SSM_OUTPUT_TYPES, known_operation
from pysynth.render.ssm import loop_list_text
from pysynth.runner.branches import BranchStep
from pysynth.runner.values import (
    CallFailed,
    Execution,
    Missing,
    StepError,
    StepResult,
    Unknown,
    convert_output,
    text,
    validate_request,
)
from pysynth.ssm import CURRENT_ITERATION, CURRENT_ITERATOR_VALUE, request_value


class Action(Protocol):
    """How the runner runs one kind of step (an SSM action)."""

    def problems(self, step: Step) -> list[str]:
        """What keeps ``step`` from running, found before anything runs."""

    def call(self, step: Step) -> str:
        """What the step does, for progress and messages: ``iam CreateUser``."""

    def plan(self, step: Step, execution: Execution) -> dict:
        """The step's resolved call as JSON, without making it. Raises ``StepError``."""

    def run(self, step: Step, execution: Execution) -> StepResult:
        """Run the step. Raises ``StepError`` with the service's error."""


class ExecuteAwsApi:
    """``aws:executeAwsApi``: one AWS API call through boto3; outputs picked by JSONPath selectors.
    A read the SSM rendering writes as pysynth's script that reads every page (``Execution.paged_reads``)
    reads them as that script does: through botocore's paginator, a list output from every page, a
    single value from the first."""

    def problems(self, step: Step) -> list[str]:
        operation = known_operation(step.service, step.api)
        if operation is None:
            return [f"step {step.name}: botocore knows no operation {step.service} {step.api}"]
        problems = []
        for output in step.outputs:
            where = f"step {step.name}: output {output.name}"
            if parse_selector(output.selector) is None:
                problems.append(f"{where}: selector {output.selector!r} is not $ followed by .Member, [index], [*] "
                                "and filter steps")
            if output.type not in SSM_OUTPUT_TYPES:
                problems.append(f"{where}: {output.type!r} is not an SSM output type ({', '.join(SSM_OUTPUT_TYPES)})")
        return problems

    def call(self, step: Step) -> str:
        return f"{step.service} {step.api}"

    def plan(self, step: Step, execution: Execution) -> dict:
        operation = known_operation(step.service, step.api)
        validate_request(operation, execution.resolve(step.request, operation.input_shape))
        shown = execution.resolve(step.request, operation.input_shape, shown=True)
        if step.name in execution.paged_reads:
            return {"service": step.service, "api": step.api, "request": _from_the_first_page(step, shown),
                    "every_page": True}
        return {"service": step.service, "api": step.api, "request": shown}

    def run(self, step: Step, execution: Execution) -> StepResult:
        try:
            if step.name in execution.paged_reads:
                pages = _call_with_attempts(step, execution, every_page=True)
            else:
                pages = [_call_with_attempts(step, execution)]
        except CallFailed as error:
            if error.code not in step.expected_errors:
                raise
            # An outcome, not a failure (a branch after the call may test it); nothing reads its outputs then.
            execution.errors[step.name] = error.code
            return StepResult({output.name: Missing(f"step {step.name} failed with {error.code}, which the "
                                                    "runbook expects") for output in step.outputs})
        execution.errors.pop(step.name, None)
        outputs = {}
        for output in step.outputs:
            keys = parse_selector(output.selector)
            if any(isinstance(key, (Every, Keep)) for key in keys):
                found = [value for page in pages for value in value_at(page, keys)]
            else:
                found = value_at(pages[0], keys)
            if found is None:
                outputs[output.name] = Missing(f"the response of step {step.name} has no {output.selector}")
                continue
            try:
                outputs[output.name] = convert_output(found, output.type)
            except ValueError as error:
                raise StepError(f"output {output.name} ({output.selector}): {error}") from None
        return StepResult(outputs)


class WaitForAwsResourceProperty(ExecuteAwsApi):
    """``aws:waitForAwsResourceProperty``: the call repeated until the property its selector picks
    takes one of the desired values, as long as the wait's attempts allow."""

    def problems(self, step: Step) -> list[str]:
        problems = super().problems(step)
        if step.wait is None or parse_selector(step.wait.property_selector or "") is None:
            problems.append(f"step {step.name}: PropertySelector is not $ followed by .Member and [index] steps")
        return problems

    def run(self, step: Step, execution: Execution) -> StepResult:
        wait = step.wait
        selector = parse_selector(wait.property_selector)
        # Desired values may name inputs and outputs ("{{ UserName }}"), as SSM allows.
        desired = [text(execution.resolve(request_value(value, f"step {step.name} DesiredValues",
                                                        tuple(execution.iterations)), None))
                   for value in wait.desired_values]
        found = None
        for attempt in range(1, wait.max_attempts + 1):
            found = value_at(_call_with_attempts(step, execution), selector)
            if found is not None and text(found) in desired:
                return StepResult()
            if attempt < wait.max_attempts:
                time.sleep(wait.delay_seconds)
        raise StepError(f"{wait.property_selector} is {text(found) if found is not None else 'absent'} after "
                        f"{wait.max_attempts} attempts, not one of {', '.join(desired)}")


def _call_with_attempts(step: Step, execution: Execution, every_page: bool = False):
    """The step's call (its response, or with ``every_page`` the list of every page's), made again
    after a failure as often as its retry (or, for a wait for success, its wait) allows: SSM's
    maxAttempts."""
    operation = known_operation(step.service, step.api)
    request = execution.resolve(step.request, operation.input_shape)
    validate_request(operation, request)
    attempts, delay = 1, 0
    if step.retry is not None:
        attempts = step.retry.max_attempts
    elif step.wait is not None and step.wait.property_selector is None:
        attempts, delay = step.wait.max_attempts, step.wait.delay_seconds
    for attempt in range(1, attempts + 1):
        try:
            client = execution.aws.client(step.service)
            if every_page:
                paginator = client.get_paginator(xform_name(step.api))
                return list(paginator.paginate(**_from_the_first_page(step, request)))
            return getattr(client, xform_name(step.api))(**request)
        except ClientError as error:
            details = error.response.get("Error", {})
            if attempt == attempts:
                raise CallFailed(details.get("Code", "error"), details.get("Message", str(error))) from None
        except BotoCoreError as error:
            raise StepError(str(error)) from None
        time.sleep(delay or min(2 * attempt, 20))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _from_the_first_page(step: Step, request: dict) -> dict:
    """A paginated read's request without the logged starting token, as pysynth's script sends it:
    every page is read from the first."""
    tokens = starting_tokens(step.service, step.api)
    return {member: value for member, value in request.items() if member not in tokens}


class ForEachLoop:
    """``aws:loop`` over a list (``Iterators``: a reference, or values, each literal text or resolved
    as a request's are): its steps once per element, in order, each iteration seeing its element and
    number; like SSM, it fails on a list of more than 100."""

    def problems(self, step: Step) -> list[str]:
        if step.loop is None:
            return [f"step {step.name}: pysynth run runs an aws:loop over one StringList (Iterators: a parameter, "
                    "a step output or a list of values, IteratorDataType: String), with its Steps; this one is not"]
        problems = [f"step {step.name}: an aws:loop step has no outputs of its own"] if step.outputs else []
        for inner in step.loop.steps:
            problems += step_problems(inner)
        return problems

    def call(self, step: Step) -> str:
        return f"aws:loop over {loop_list_text(step.loop.over)}"

    def plan(self, step: Step, execution: Execution) -> dict:
        elements = self._elements(step, execution, shown=True)
        iteration = execution.iteration(step.name, Unknown(f"<{step.name}.{CURRENT_ITERATOR_VALUE}>"),
                                        Unknown(f"<{step.name}.{CURRENT_ITERATION}>"))
        shown = elements.label if isinstance(elements, Unknown) else elements
        # One iteration planned stands for all: the body's calls, with the element still unknown.
        return {"iterators": shown, "steps": execution.steps_runner(step.loop.steps, iteration, f"{step.name}, each iteration")}

    def run(self, step: Step, execution: Execution) -> StepResult:
        elements = self._elements(step, execution, shown=False)
        for number, element in enumerate(elements, start=1):
            iteration = execution.iteration(step.name, element, number)
            execution.steps_runner(step.loop.steps, iteration, f"{step.name} iteration {number}/{len(elements)}")
        return StepResult()

    def _elements(self, step: Step, execution: Execution, shown: bool) -> list | Unknown:
        over = step.loop.over
        if isinstance(over, list):
            # Each value as text, as SSM puts a value into a StringList's element.
            elements = [text(execution.resolve(element, None, shown)) for element in over]
        else:
            elements = execution.value(over, shown)
        if isinstance(elements, Unknown):
            return elements
        if not isinstance(elements, list):
            raise StepError(f"Iterators is {text(elements)[:200]}, not a list")
        if len(elements) > SSM_MAX_ITERATIONS:
            raise StepError(
                f"the list holds {len(elements):,} elements, and SSM Automation runs aws:loop at most "
                f"{SSM_MAX_ITERATIONS} times (this step fails there too): render the runbook as bash or python, "
                "or split the list"
            )
        return elements


# The actions the runner runs. Others are named before anything runs.
ACTIONS: dict[str, Action] = {
    EXECUTE_AWS_API: ExecuteAwsApi(), WAIT_FOR_PROPERTY: WaitForAwsResourceProperty(), LOOP: ForEachLoop(),
    BRANCH: BranchStep(),
}


def step_problems(step: Step) -> list[str]:
    """What keeps ``step`` from running: an action the runner has no handler for, or what its handler finds."""
    action = ACTIONS.get(step.action)
    if action is None:
        return [f"step {step.name}: action {step.action} is not supported by pysynth run yet "
                f"(it runs {', '.join(ACTIONS)})"]
    return action.problems(step)
