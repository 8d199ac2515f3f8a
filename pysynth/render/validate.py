"""What keeps a runbook from being rendered at all: malformed or clashing names, inputs whose type or
default SSM would refuse, dangling references, values that do not fit their member, requests
botocore rejects, outputs the response does not have, and what a format cannot carry."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from botocore.model import Shape
from botocore.validate import ParamValidator

from pysynth.botomodels import waiter_model
from pysynth.model import (
    BRANCH,
    EXECUTE_AWS_API,
    ITERATORS,
    LOOP,
    WAIT_FOR_PROPERTY,
    IndexRef,
    Input,
    InputRef,
    ItemRef,
    Output,
    OutputRef,
    Reference,
    Runbook,
    Step,
    Template,
    used_values,
    walk,
)
from pysynth.paths import list_selector, parse_path
from pysynth.render.bash import bash_text
from pysynth.render.lists import batch_list
from pysynth.render.names import (
    NAME,
    SCRIPT_OPTIONS,
    environment_name,
    error_variable,
    input_variable,
    item_variable,
    option_name,
    output_variable,
)
from pysynth.render.prose import value_prose
from pysynth.render.shapes import (
    default_fits,
    fits,
    known_operation,
    leaf_references,
    leaves,
    position_kind,
    reference_kind,
    shape_at,
    value_kind,
    with_placeholders,
)
from pysynth.render.validate_branches import branch_problems, end_step_problems, expected_errors_problems
from pysynth.render.ssm import ASSUME_ROLE, SSM_OUTPUT_TYPES, paged_reads, ssm_step_inputs, ssm_text

# A retried step gives up after this many attempts: a call that keeps failing is no longer waiting
# for consistency.
MAX_RETRY_ATTEMPTS = 10
# Output paths are plain: member names, list indexes and, in a list output, [*] ("Instances[0].InstanceId",
# "Buckets[*].Name").
OUTPUT_PATH = re.compile(r"[A-Za-z_]\w*(\[(\d+|\*)\])*(\.[A-Za-z_]\w*(\[(\d+|\*)\])*)*\Z")


def model_problems(runbook: Runbook, fmt: str) -> list[str]:
    """What keeps the runbook from being rendered as ``fmt`` at all."""
    problems = _name_problems(runbook, fmt)
    inputs = {item.name: item for item in runbook.inputs}
    for item in runbook.inputs:
        problems += _input_problems(item, fmt)
    problems += _steps_problems(runbook.steps, inputs, {}, (), fmt)
    if fmt == "ssm":
        problems += _ssm_problems(runbook)
    return problems


def _steps_problems(
    steps: list[Step], inputs: dict[str, Input], outputs: dict[tuple[str, str], Output], loops: tuple[str, ...],
    fmt: str,
) -> list[str]:
    """The problems of a list of steps (the runbook's, or a loop's body inside ``loops``). References
    point backwards: ``outputs`` are those the steps may read, and a body's own outputs stay in it."""
    problems = []
    outputs = dict(outputs)
    for position, step in enumerate(steps):
        if step.action == BRANCH or step.branch is not None:
            problems += _branch_problems(step, steps[position - 1] if position else None, inputs, outputs, loops, fmt)
            continue
        if step.action == LOOP or step.loop is not None:
            problems += _loop_problems(step, inputs, outputs, loops, fmt)
        else:
            problems += _step_problems(step, inputs, outputs, loops, fmt)
        problems += expected_errors_problems(step)
        following = steps[position + 1] if position + 1 < len(steps) else None
        if step.expected_errors and (following is None or following.branch is None
                                     or following.branch.test.step != step.name):
            continue  # outputs unset after an expected error, with no branch to tell when they are set
        outputs.update({(step.name, output.name): output for output in step.outputs})
    return problems


def _branch_problems(
    step: Step, before: Step | None, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output],
    loops: tuple[str, ...], fmt: str,
) -> list[str]:
    """A branch and its arms. A failed call's outputs are unset: only the arm that runs when it
    succeeded reads them, and the steps after the branch never do (they are removed from ``outputs``)."""
    problems = branch_problems(step, before, inputs, outputs, loops, fmt)
    if step.branch is None:
        return problems
    test = step.branch.test
    unset = {key: output for key, output in outputs.items() if test.kind == "failed" and key[0] == test.step}
    for key in unset:
        del outputs[key]
    succeeded = step.branch.otherwise if test.kind == "failed" and not test.negate else step.branch.steps
    for arm in (step.branch.steps, step.branch.otherwise):
        problems += _steps_problems(arm, inputs, {**outputs, **unset} if arm is succeeded else outputs, loops, fmt)
    return problems


def _name_problems(runbook: Runbook, fmt: str) -> list[str]:
    problems = []
    steps = list(walk(runbook.steps))  # a loop's body steps are named in the same space as the others
    named = [("input", item.name) for item in runbook.inputs] + [("step", step.name) for step in steps]
    named += [(f"output of {step.name}", output.name) for step in steps for output in step.outputs]
    for what, name in named:
        if not NAME.match(name):
            problems.append(f"{what} {name!r}: a name must be a letter then letters, digits or _")
    problems += _duplicates("input", [item.name for item in runbook.inputs])
    problems += _duplicates("step", [step.name for step in steps])
    for step in steps:
        problems += _duplicates(f"output of {step.name}", [output.name for output in step.outputs])
    if problems:
        return problems  # the names derived below assume well-formed names
    if fmt == "ssm" and ASSUME_ROLE in {item.name for item in runbook.inputs}:
        problems.append(f"input {ASSUME_ROLE}: the SSM document declares this parameter itself")
    if fmt in ("bash", "python"):
        problems += _duplicates("script variable", [input_variable(item.name) for item in runbook.inputs])
        secrets = [environment_name(item.name) for item in runbook.inputs if item.secret]
        problems += _duplicates("environment variable", secrets)
        problems += _duplicates(
            "script variable", [output_variable(step.name, o.name) for step in steps for o in step.outputs]
        )
        problems += _duplicates("script variable", [item_variable(step.name) for step in steps if step.loop])
        problems += _duplicates("script variable", [error_variable(step.name) for step in steps if step.expected_errors])
        for item in runbook.inputs:
            if option_name(item.name) in SCRIPT_OPTIONS:
                problems.append(f"input {item.name}: its option {option_name(item.name)} is the script's own")
    return problems


def _duplicates(what: str, names: list[str]) -> list[str]:
    return [f"{what} {name!r} is defined more than once" for name, count in Counter(names).items() if count > 1]


def _input_problems(item: Input, fmt: str) -> list[str]:
    where = f"input {item.name}"
    problems = []
    if not (item.type in SSM_OUTPUT_TYPES or item.type.startswith("AWS::")):
        problems.append(f"{where}: {item.type!r} is not an SSM parameter type")
    if item.secret and item.default is not None:
        problems.append(f"{where}: a secret input has no default (pysynth never writes a secret)")
    if item.secret and value_kind(item.type) not in ("string", "json"):
        problems.append(f"{where}: a secret input is read as text or JSON, so its type must be a string or JSON type")
    if item.file and (item.secret or item.default is not None or item.type != "String"):
        problems.append(f"{where}: a file input is a String naming a file, with no default, never secret")
    if item.default is not None and not default_fits(item.type, item.default):
        problems.append(f"{where}: default {item.default!r} is not a {item.type}")
    if fmt == "bash" and item.default is not None:
        text = bash_text(item.default, item.type)
        # A list's JSON escapes a NUL, but the script reads its elements into variables.
        if "\0" in text or (item.type == "StringList" and any("\0" in element for element in _strings(item.default))):
            problems.append(f"{where}: the default contains a NUL character, which bash cannot hold")
        if any(unicodedata.category(char) == "Cs" for char in text):
            problems.append(f"{where}: the default contains a lone surrogate, which is no UTF-8 text for bash")
    return problems


def _step_problems(
    step: Step, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output], loops: tuple[str, ...], fmt: str,
) -> list[str]:
    if step.action not in (EXECUTE_AWS_API, WAIT_FOR_PROPERTY):
        return [f"step {step.name}: action {step.action} is not supported yet"]
    operation = known_operation(step.service, step.api)
    if operation is None:
        return [f"step {step.name}: botocore knows no operation {step.service} {step.api}"]
    problems = _wait_problems(step) + _retry_problems(step) + _batch_problems(step, fmt)
    for path, leaf, shape in leaves(step.request, operation.input_shape, step.name):
        file_input = isinstance(leaf, InputRef) and leaf.name in inputs and inputs[leaf.name].file
        if shape is not None and shape.type_name == "blob":
            problems += _blob_problems(step, path, leaf if file_input else None, operation.input_shape, fmt)
        elif file_input:
            problems.append(f"{path}: input {leaf.name} names a file, but this member takes {shape.type_name}")
        position = None if shape is None else (position_kind(shape), f"this member takes {shape.type_name}")
        problems += _reference_problems(step, path, leaf, position, inputs, outputs, loops)
    request = with_placeholders(step.request, operation.input_shape)
    report = ParamValidator().validate(request, operation.input_shape)
    if report.has_errors():
        problems += [f"step {step.name}: {line}" for line in report.generate_report().splitlines()]
    for output in step.outputs:
        problems += _output_problems(step, output, operation.output_shape)
    return problems


def _reference_problems(
    step: Step, path: str, leaf: object, position: tuple[str, str] | None, inputs: dict[str, Input],
    outputs: dict[tuple[str, str], Output], loops: tuple[str, ...],
) -> list[str]:
    """What is wrong with the references of a value ``step`` uses at ``path``: each names an input,
    an output of an earlier step it may read or a loop around it, of a kind that fits ``position``
    (the kind of value the place takes, and how a message says so; None: any)."""
    problems = []
    for reference in leaf_references(leaf):
        if isinstance(reference, OutputRef) and reference_secret(reference, outputs):
            problems.append(f"{path}: {value_prose(reference)} is a secret the step created; no step may use it")
        kind = reference_kind(reference, inputs, outputs)
        if isinstance(reference, (ItemRef, IndexRef)) and reference.loop not in loops:
            problems.append(f"{path}: {value_prose(reference)} is used outside that loop's steps")
        elif kind is None:
            problems.append(f"{path}: {value_prose(reference)} is not defined before step {step.name}")
        elif position is not None and isinstance(leaf, Template) and position[0] != "string":
            problems.append(f"{path}: a template makes text, but {position[1]}")
        elif position is not None and not fits(kind, position[0]):
            problems.append(f"{path}: {value_prose(reference)} is {kind}, but {position[1]}")
    return problems


def _loop_problems(
    step: Step, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output], loops: tuple[str, ...], fmt: str,
) -> list[str]:
    """A loop step: over a list the steps before it give, with a body of well-formed steps."""
    where = f"step {step.name}"
    if step.loop is None or step.action != LOOP:
        return [f"{where}: a loop step is {LOOP} with a loop, and only a loop step has one"]
    problems = []
    if step.service or step.api or step.request or step.outputs or step.batch or step.wait or step.retry:
        problems.append(f"{where}: a loop step makes no call of its own: no service, API, request, outputs, "
                        "wait, retry or batch")
    over = step.loop.over
    if isinstance(over, list):
        problems += _listed_problems(step, inputs, outputs, loops)
    else:
        list_type = None
        if isinstance(over, InputRef) and over.name in inputs:
            list_type = inputs[over.name].type
        elif isinstance(over, OutputRef) and (over.step, over.output) in outputs:
            list_type = outputs[(over.step, over.output)].type
        if list_type != "StringList":
            problems.append(f"{where}: it loops over {value_prose(over)}, which is not a StringList input or a list "
                            "output of an earlier step")
    if not step.loop.steps:
        problems.append(f"{where}: a loop needs at least one step to repeat")
    return problems + _steps_problems(step.loop.steps, inputs, outputs, (*loops, step.name), fmt)


def _listed_problems(
    step: Step, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output], loops: tuple[str, ...],
) -> list[str]:
    """A loop over a list of values: one or more, each a text, or references to what the loop's step
    may read (inputs, earlier steps' outputs, the loops around it; not its own element) making one."""
    if not step.loop.over:
        return [f"step {step.name}: the list it loops over must hold one value or more"]
    problems = []
    text = ("string", "an element of the list is one text")
    for index, element in enumerate(step.loop.over):
        path = f"{step.name}.{ITERATORS}[{index}]"
        if isinstance(element, InputRef) and element.name in inputs and inputs[element.name].file:
            problems.append(f"{path}: input {element.name} names a file, but {text[1]}")
        elif isinstance(element, (str, Template, Reference)):
            problems += _reference_problems(step, path, element, text, inputs, outputs, loops)
        else:
            problems.append(f"{path}: {text[1]} or a reference, not {type(element).__name__}")
    return problems


def _batch_problems(step: Step, fmt: str) -> list[str]:
    """A batch step gives its whole list to one request member: a list input or output, or a list
    of values (texts, or references the request's checks resolve like any member's)."""
    if step.batch is None:
        return []
    listed = batch_list(step)
    if isinstance(listed, (InputRef, OutputRef)):
        if fmt in ("bash", "python") and step.outputs:
            # The scripts skip the call when the list is empty (the APIs refuse an empty one).
            return [f"step {step.name}: a batch step has no outputs: the scripts skip its call when the list is empty"]
        return []
    if not (isinstance(listed, list) and all(isinstance(value, (str, Template, Reference)) for value in listed)):
        return [f"step {step.name}: its batch member {step.batch} takes no list input, output or list of values"]
    return []


def _wait_problems(step: Step) -> list[str]:
    wait = step.wait
    if wait is None:
        return [f"step {step.name}: a {WAIT_FOR_PROPERTY} step needs a wait"] if step.action == WAIT_FOR_PROPERTY else []
    where = f"step {step.name}"
    model = waiter_model(step.service)
    if model is None or wait.waiter not in model.waiter_names:
        return [f"{where}: botocore knows no {step.service} waiter {wait.waiter}"]
    problems = []
    if model.get_waiter(wait.waiter).operation != step.api:
        problems.append(f"{where}: waiter {wait.waiter} polls {model.get_waiter(wait.waiter).operation}, not {step.api}")
    if step.outputs:
        problems.append(f"{where}: a wait has no outputs")
    if (wait.property_selector is None) != (step.action == EXECUTE_AWS_API):
        problems.append(f"{where}: a property wait is {WAIT_FOR_PROPERTY}, a wait for success is {EXECUTE_AWS_API}")
    if wait.property_selector is not None and not wait.desired_values:
        problems.append(f"{where}: a property wait needs desired values")
    if wait.delay_seconds < 1 or wait.max_attempts < 1:
        problems.append(f"{where}: a wait needs a delay and attempts of at least 1")
    return problems


def _retry_problems(step: Step) -> list[str]:
    if step.retry is None:
        return []
    if step.wait is not None:
        return [f"step {step.name}: a wait already repeats its call; it takes no retry"]
    if not 2 <= step.retry.max_attempts <= MAX_RETRY_ATTEMPTS:
        return [f"step {step.name}: a retry makes 2 to {MAX_RETRY_ATTEMPTS} attempts"]
    return []


def _blob_problems(step: Step, path: str, file_input: InputRef | None, request: Shape, fmt: str) -> list[str]:
    """Binary members: only a file input gives one, and only the scripts can read a file."""
    if file_input is None:
        return [f"{path}: binary (blob) members take a file input; a literal or another value is not supported"]
    if fmt != "ssm":
        return []
    # SSM takes the content as text (a user-data script, an object's body) where the API has no
    # way to take it from S3; where it has, the content is binary (a deployment package).
    keys = parse_path(path.split(".", 1)[1]) or []
    parent = shape_at(request, keys[:-1])
    from_s3 = [
        member for member, member_shape in getattr(parent, "members", {}).items()
        if member.startswith("S3") and not member_shape.metadata.get("enum")
    ]
    if not from_s3:
        return []
    return [
        f"{path}: {step.service} {step.api} sends the bytes of a local file here (input {file_input.name}), "
        f"and SSM Automation cannot read local files; render this runbook as bash or python, or change the "
        f"step to take the content from Amazon S3 ({', '.join(from_s3)}), which this API allows"
    ]


def reference_secret(reference: OutputRef, outputs: dict[tuple[str, str], Output]) -> bool:
    output = outputs.get((reference.step, reference.output))
    return output is not None and output.secret


def _output_problems(step: Step, output: Output, response: Shape | None) -> list[str]:
    where = f"output {step.name}.{output.name}"
    if output.secret and output.type != "String":
        return [f"{where}: a secret output is text: its type must be String"]
    if output.type not in SSM_OUTPUT_TYPES:
        return [f"{where}: {output.type!r} is not an SSM output type"]
    if not OUTPUT_PATH.match(output.path):
        return [f"{where}: path {output.path!r} is not member names, [index]es and [*]"]
    try:
        selector = list_selector(output.path, output.where)
    except ValueError as error:
        return [f"{where}: {error}"]
    if output.selector != selector:
        return [f"{where}: selector {output.selector!r} does not select path {output.path!r}"]
    shape = shape_at(response, parse_path(output.path))
    if shape is None:
        return [f"{where}: {step.service} {step.api} responds with no {output.path}"]
    if shape.type_name == "blob":
        return [f"{where}: binary (blob) outputs are not supported yet"]
    if "[*]" in output.path:
        return _list_output_problems(where, output, response, shape)
    if value_kind(output.type) != position_kind(shape):
        return [f"{where}: {output.path} is {shape.type_name}, not {output.type}"]
    return []


def _list_output_problems(where: str, output: Output, response: Shape, element: Shape) -> list[str]:
    """A list output is a StringList of scalars; its condition reads a property its elements have."""
    if output.type != "StringList" or position_kind(element) == "json":
        return [f"{where}: {output.path} is a list of {element.type_name}, and a list output is a StringList of "
                "strings, numbers or booleans"]
    if output.where is None:
        return []
    listed = shape_at(response, parse_path(output.where.element))
    keys = parse_path(output.where.property)
    tested = shape_at(listed, keys) if keys else None
    if tested is None:
        return [f"{where}: the elements of {output.where.element} have no {output.where.property}"]
    if (output.where.test == "tag") != (tested.type_name == "list"):
        return [f"{where}: the {output.where.test} test does not apply to {output.where.property} "
                f"({tested.type_name})"]
    return []


def _ssm_problems(runbook: Runbook) -> list[str]:
    problems = [] if runbook.steps else ["an SSM document needs at least one step"]
    for step in walk(runbook.steps):
        for member in ssm_step_inputs(step).intersection(step.request):
            problems.append(f"{step.name}.{member}: the SSM step's own {member} input has this name")
    problems += end_step_problems(list(walk(runbook.steps)))
    return problems + _ssm_nested_loop_problems(runbook.steps, None) + _ssm_brace_problems(runbook)


def _ssm_nested_loop_problems(steps: list[Step], outer: str | None) -> list[str]:
    """SSM Automation runs no aws:loop inside another: a step inside a loop has one parent step (the
    API's ParentStepDetails), and the runbook editor refuses to nest loops."""
    problems = []
    for step in steps:
        if step.loop is None:
            continue
        if outer is not None:
            problems.append(f"step {step.name}: SSM Automation cannot run a loop inside a loop ({outer}); "
                            "render this runbook as bash or python")
        problems += _ssm_nested_loop_problems(step.loop.steps, step.name)
    return problems


def _ssm_brace_problems(runbook: Runbook) -> list[str]:
    explain = (
        "contains '{{', which SSM Automation reads as the start of a variable reference and has no "
        "escape for; render this runbook as bash or python instead"
    )
    problems = []
    paged = paged_reads(runbook.steps)
    for item in runbook.inputs:
        if any("{{" in text for text in _strings(item.default)):
            problems.append(f"input {item.name}: the default {explain}")
    for step in walk(runbook.steps):
        for path, leaf, _ in leaves(used_values(step), None, step.name):
            if isinstance(leaf, Template):
                text = ssm_text(leaf)
                # Each reference pysynth writes opens one '{{'; any other comes from the literal text.
                if sum(text.startswith("{{", at) for at in range(len(text))) > len(leaf_references(leaf)):
                    problems.append(f"{path}: the text {explain}")
            elif isinstance(leaf, str) and "{{" in leaf:
                problems.append(f"{path}: the value {explain}")
        for path, key in _keys(step.request, step.name):
            if "{{" in key:
                problems.append(f"{path}: the key {key!r} {explain}")
        for output in step.outputs:
            if "{{" in output.selector:  # a filter's value from the log
                problems.append(f"output {step.name}.{output.name}: the selector {explain}")
            elif step.name in paged and output.where is not None and "{{" in output.where.value:
                # The script's InputPayload carries the value as it is, not escaped as in a selector.
                problems.append(f"output {step.name}.{output.name}: the condition's value {explain}")
    return problems


def _strings(value: object):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _keys(value: object, path: str):
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _keys(item, f"{path}[{index}]")
