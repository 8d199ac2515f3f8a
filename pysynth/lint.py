"""Systems Manager's documented limits on an Automation document, checked before it is uploaded
(``pysynth upload`` refuses a document that breaks one) and after it is synthesized (``pysynth synth``
warns: the runbook is still right, but Systems Manager would not take it).

The content limit is read from botocore's documentation of ``CreateDocument``; the loop limits are
those of the ``aws:loop`` action reference ("The maximum number of iterations is 100", and as many
iterators).
"""

from __future__ import annotations

import functools
import re

import yaml

from pysynth import safe_yaml
from pysynth.botomodels import operation_model
from pysynth.render.ssm import SSM_OUTPUT_TYPES

MAX_LOOP_ITERATIONS = 100
MAX_LOOP_ITERATORS = 100
# A loop's Iterators naming a parameter ("{{ Buckets }}"), whose default is then the list it walks.
PARAMETER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@functools.cache
def max_document_bytes() -> int:
    documentation = operation_model("ssm", "CreateDocument").input_shape.members["Content"].documentation or ""
    match = re.search(r"must not exceed (\d+)\s*KB", documentation)
    return int(match.group(1)) * 1024 if match else 64 * 1024


def limit_problems(text: str, document: object = None) -> list[str]:
    """Each documented limit the SSM document ``text`` breaks, one line each; [] when none.
    ``document``: the text as already read (the SSM rendering's check reads it back), so that a
    large one is not parsed again; None reads it here."""
    problems = []
    size = len(text.encode("utf-8"))
    if size > max_document_bytes():
        problems.append(f"the document is {size:,} bytes; Systems Manager takes at most {max_document_bytes():,} "
                        "(select fewer calls with --since, --until or --principal)")
    if document is None:
        try:
            document = safe_yaml.load(text)
        except yaml.YAMLError as error:
            return problems + [f"the document is not YAML: {str(error).splitlines()[0]}"]
    steps = document.get("mainSteps") if isinstance(document, dict) else None
    parameters = document.get("parameters") if isinstance(document, dict) else None
    defaults = {name: spec.get("default") for name, spec in (parameters or {}).items() if isinstance(spec, dict)} \
        if isinstance(parameters, dict) else {}
    names: dict[str, int] = {}
    for step, outer in _steps(steps if isinstance(steps, list) else [], None):
        name = step.get("name")
        names[name] = names.get(name, 0) + 1
        problems += _step_problems(step, defaults)
        if step.get("action") == "aws:loop" and outer is not None:
            # A step inside a loop has one parent step (ParentStepDetails); Automation nests no loops.
            problems.append(f"step {name}: Systems Manager runs no aws:loop inside another ({outer})")
    problems += [f"step name {name!r} is used {count} times; step names must be unique"
                 for name, count in names.items() if count > 1]
    for step, _ in _steps(steps if isinstance(steps, list) else [], None):
        problems += [f"step {step.get('name')}: it goes on at step {target}, which the document does not have"
                     for target in _jumps(step) if target not in names]
    return problems


def _jumps(step: dict) -> list:
    """The steps a step may go on at: its nextStep, its onFailure's step:..., a branch's NextSteps and Default."""
    jumps = [step.get("nextStep")] if "nextStep" in step else []
    on_failure = step.get("onFailure")
    if isinstance(on_failure, str) and on_failure.startswith("step:"):
        jumps.append(on_failure.removeprefix("step:"))
    inputs = step.get("inputs") if step.get("action") == "aws:branch" else None
    if isinstance(inputs, dict):
        jumps += [choice.get("NextStep") for choice in inputs.get("Choices") or [] if isinstance(choice, dict)]
        jumps += [inputs["Default"]] if "Default" in inputs else []
    return jumps


def _steps(steps: list, outer: str | None):
    """(step, the loop step it is in or None) for every step, those inside loops included."""
    for step in steps:
        if isinstance(step, dict):
            yield step, outer
            inner = step.get("inputs", {}).get("Steps") if isinstance(step.get("inputs"), dict) else None
            if isinstance(inner, list):
                yield from _steps(inner, step.get("name"))


def _step_problems(step: dict, defaults: dict[str, object]) -> list[str]:
    """``defaults``: each parameter's default, which a loop over the parameter walks unless given another."""
    where = f"step {step.get('name')}"
    problems = []
    for output in step.get("outputs") or []:
        if not isinstance(output, dict):
            continue
        selector, kind = output.get("Selector"), output.get("Type")
        if not (isinstance(selector, str) and selector.startswith("$")):
            problems.append(f"{where}: output {output.get('Name')}: the selector {selector!r} is not a JSONPath ($…)")
        if kind not in SSM_OUTPUT_TYPES:
            problems.append(f"{where}: output {output.get('Name')}: {kind!r} is not an output type "
                            f"({', '.join(SSM_OUTPUT_TYPES)})")
    if step.get("action") == "aws:loop" and isinstance(step.get("inputs"), dict):
        inputs = step["inputs"]
        iterations = inputs.get("MaxIterations")
        if isinstance(iterations, int) and not 1 <= iterations <= MAX_LOOP_ITERATIONS:
            problems.append(f"{where}: MaxIterations {iterations}: aws:loop runs 1 to {MAX_LOOP_ITERATIONS} times")
        iterators = inputs.get("Iterators")
        if isinstance(iterators, list) and len(iterators) > MAX_LOOP_ITERATORS:
            problems.append(f"{where}: {len(iterators)} iterators: aws:loop takes at most {MAX_LOOP_ITERATORS}")
        parameter = PARAMETER.fullmatch(iterators) if isinstance(iterators, str) else None
        default = defaults.get(parameter.group(1)) if parameter else None
        if isinstance(default, list) and len(default) > MAX_LOOP_ITERATORS:
            problems.append(f"{where}: it walks parameter {parameter.group(1)}, whose default has {len(default)} "
                            f"elements: aws:loop takes at most {MAX_LOOP_ITERATORS} (give a shorter list, or split it)")
    return problems
