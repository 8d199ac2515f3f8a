"""The Python rendering: a boto3 script with argparse inputs, and its check (it compiles).

Every value is written by ``repr``. A call that expects errors stands in ``try``: its except clause
keeps the error code when it is one of them (its outputs are then None) and raises any other; the
branch after it is an ``if`` on that code, as a branch on a value is an ``if`` on the value.
"""

from __future__ import annotations

from botocore import xform_name
from botocore.model import Shape

from pysynth.model import (
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
    Test,
    walk,
)
from pysynth.paths import parse_path
from pysynth.render.lists import (
    batch_list,
    branch_arms,
    counted_loops,
    is_list,
    list_element_type,
    list_query,
    loop_comment,
    paging,
    script_steps,
    secret_name,
)
from pysynth.render.names import (
    ENDPOINT_VARIABLE,
    SECRETS_OPTION,
    GLOBAL_VARIABLES,
    METAVARS,
    client_variable,
    environment_name,
    error_variable,
    index_variable,
    input_variable,
    item_variable,
    option_name,
    output_variable,
)
from pysynth.render.prose import printable, records_text, test_text
from pysynth.render.shapes import (
    Context,
    item_shape,
    known_operation,
    member_shape,
    position_kind,
    shape_at,
    value_kind,
)


def _python_reference(reference) -> str:
    if isinstance(reference, InputRef):
        return f"args.{input_variable(reference.name)}"
    if isinstance(reference, OutputRef):
        return output_variable(reference.step, reference.output)
    if isinstance(reference, ItemRef):
        return item_variable(reference.loop)
    if isinstance(reference, IndexRef):
        return index_variable(reference.loop)
    return GLOBAL_VARIABLES[reference.name]


def _python_value(context: Context, value: object, shape: Shape | None, indent: int) -> str:
    """``value`` as a Python expression, nested containers indented from ``indent`` spaces."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        items = "".join(
            f"{pad}    {key!r}: {_python_value(context, item, member_shape(shape, key), indent + 4)},\n"
            for key, item in value.items()
        )
        return "{\n" + items + pad + "}"
    if isinstance(value, list) and value:
        items = "".join(
            f"{pad}    {_python_value(context, item, item_shape(shape), indent + 4)},\n" for item in value
        )
        return "[\n" + items + pad + "]"
    if isinstance(value, Template):
        return _python_fstring(context, value)
    if isinstance(value, InputRef) and context.inputs[value.name].file:
        return f"read_file(args.{input_variable(value.name)})"
    if isinstance(value, Reference):
        at_text = shape is not None and position_kind(shape) == "string"
        return _python_text(context, value) if at_text else _python_reference(value)
    return repr(value)


def _python_text(context: Context, reference) -> str:
    # Integers and booleans in text read as their JSON ("5", "true"), as SSM writes them.
    expression = _python_reference(reference)
    return expression if context.kind(reference) == "string" else f"json.dumps({expression})"


def _python_element(context: Context, value: object) -> str:
    """An element of a loop's list of values, as text: a literal, a reference's value or a template."""
    if isinstance(value, Template):
        return _python_fstring(context, value)
    if isinstance(value, Reference):
        return _python_text(context, value)
    return repr(value)


def _python_fstring(context: Context, template: Template) -> str:
    """A template as an f-string: literal text escaped as ``repr`` escapes it (in one quoting style,
    braces doubled), each reference as a replacement field."""
    text = ""
    for part in template.parts:
        if isinstance(part, str):
            quoted = repr(part)
            # repr quotes with " when the text holds a ' and no ": the same text inside '...'.
            body = quoted[1:-1] if quoted[0] == "'" else quoted[1:-1].replace("'", "\\'")
            text += body.replace("{", "{{").replace("}", "}}")
        elif context.kind(part) == "integer":
            text += "{" + _python_reference(part) + "}"  # an integer formats as its JSON
        else:
            text += "{" + _python_text(context, part) + "}"
    return f"f'{text}'"


def _argparse_help(text: str) -> str:
    return text.replace("%", "%%")  # argparse %-formats every help string


def _argparse_description(text: str) -> str:
    # argparse %-formats a description only when it contains "%(prog)".
    return text.replace("%", "%%") if "%(prog)" in text else text


def view(context: Context) -> dict:
    runbook = context.runbook
    inputs = [
        {
            "name": item.name, "variable": input_variable(item.name), "environment": environment_name(item.name),
            "option": option_name(item.name), "secret": item.secret, "converter": _converter(item),
            "default": item.default, "file": item.file, "metavar": "FILE" if item.file else METAVARS[value_kind(item.type)],
            "help": _argparse_help(printable(
                f"{item.name}: {item.description}" + (" (JSON)" if value_kind(item.type) == "json" else "")
                + (" (a file path)" if item.file else "")
            )),
        }
        for item in runbook.inputs
    ]
    run = script_steps(runbook.steps)
    steps = _python_steps(context, run, (), counted_loops(run), 0)
    summary = {f"{s.name}.{o.name}": OutputRef(s.name, o.name) for s in runbook.steps for o in s.outputs if not o.secret}
    calls = [step for step in walk(run) if step.loop is None and step.branch is None]
    return {
        "comment": printable(runbook.description),
        "description": _argparse_description(printable(runbook.description)), "inputs": inputs, "steps": steps,
        "services": {client_variable(step.service): step.service for step in calls},
        "globals": context.globals, "outputs": _python_value(context, summary, None, 4),
        "endpoint_variable": ENDPOINT_VARIABLE, "secrets_option": SECRETS_OPTION,
        "creates_secrets": any(output.secret for step in calls for output in step.outputs),
        "retries": any(step.retry for step in calls),
        "lists": any(is_list(output) for step in calls for output in step.outputs),
        # Structures from responses (an item) may hold bytes and times, which JSON has no form for.
        "structures": any(output.type == "StringMap" for step in calls for output in step.outputs),
        "epilog": _argparse_help(_epilog(runbook)),
    }


def _python_steps(
    context: Context, steps: list[Step], enclosing: tuple[str, ...], counted: set[str], depth: int,
) -> list[dict]:
    """The steps' views, a loop's body and a branch's arms inside it; ``enclosing`` names the loops
    around them, ``depth`` counts the blocks (loops and arms) they stand in."""
    return [_python_loop(context, step, enclosing, counted, depth) if step.loop
            else _python_branch(context, step, enclosing, counted, depth) if step.branch
            else _python_call(context, step, enclosing, depth) for step in steps]


def _pad(depth: int) -> str:
    return "    " * (1 + depth)  # main()'s body, then one level per block


def _python_branch(context: Context, step: Step, enclosing: tuple[str, ...], counted: set[str], depth: int) -> dict:
    """A branch as ``if``/``else``; with only an otherwise arm, an ``if`` on the test turned round."""
    arms = [{"head": f"if {_python_condition(context, test)}:" if test else "else:",
             "body": _python_steps(context, steps, enclosing, counted, depth + 1)}
            for test, steps in branch_arms(step.branch)]
    return {"name": step.name, "pad": _pad(depth), "comment": f"when {test_text(branch_arms(step.branch)[0][0])}",
            "description": step.description.splitlines(), "loop": None, "arms": arms}


def _python_condition(context: Context, test: Test) -> str:
    if test.kind == "failed":
        variable = error_variable(test.step)
        return f"{variable} is None" if test.negate else f"{variable} in {tuple(test.codes)!r}"
    if test.kind == "set":
        return f"{_python_reference(test.value)} {'==' if test.negate else '!='} ''"
    return f"{_python_reference(test.value)} {'!=' if test.negate else '=='} {test.text!r}"


def _python_loop(context: Context, step: Step, enclosing: tuple[str, ...], counted: set[str], depth: int) -> dict:
    over, item = step.loop.over, item_variable(step.name)
    if isinstance(over, Reference):
        over = _python_reference(over)
    else:
        # Each value as text, as SSM puts it into a StringList's element.
        pad = _pad(depth)
        over = "[\n" + "".join(f"{pad}    {_python_element(context, value)},\n" for value in over) + pad + "]"
    if step.name in counted:
        head = f"for {index_variable(step.name)}, {item} in enumerate({over}, start=1):"
    else:
        head = f"for {item} in {over}:"
    return {
        "name": step.name, "pad": _pad(depth), "comment": loop_comment(step),
        "description": step.description.splitlines(), "loop": head,
        "body": _python_steps(context, step.loop.steps, (*enclosing, step.name), counted, depth + 1),
    }


def _python_call(context: Context, step: Step, enclosing: tuple[str, ...], depth: int) -> dict:
    pad = _pad(depth)
    # A batch call over a list known only at run time stands inside the test that it is not empty;
    # a call that expects errors, inside try.
    batch = batch_list(step) if step.batch else None
    batch = _python_reference(batch) if isinstance(batch, Reference) else None
    call_pad = pad + "    " if batch or step.expected_errors else pad
    paged = paging(step)
    request, page_size = paged or (step.request, None)
    # A wait's or a retry's request stands one level deeper, inside the call that repeats it.
    indent = len(call_pad) + (4 if step.wait or step.retry else 0)
    request_text = _python_value(context, request, context.input_shape(step), indent)
    client = client_variable(step.service)
    if paged:
        config = "" if page_size is None else f", PaginationConfig={{'PageSize': {_python_value(context, page_size, None, 0)}}}"
        call = f"list({client}.get_paginator({xform_name(step.api)!r}).paginate(**{request_text}{config}))"
    else:
        call = f"{client}.{xform_name(step.api)}(**{request_text})"
    result = ("pages" if paged else "response") if step.outputs else None
    return {
        "name": step.name, "pad": pad, "comment": records_text(step), "description": step.description.splitlines(),
        "loop": None, "call_pad": call_pad, "client": client, "request": request_text, "call": call,
        "assign": f"{result} = " if result else "", "paged": bool(paged),
        "outputs": [_python_output(step, output, result) for output in step.outputs],
        "waiter": xform_name(step.wait.waiter) if step.wait else None,
        "waiter_config": {"Delay": step.wait.delay_seconds, "MaxAttempts": step.wait.max_attempts} if step.wait else None,
        "retry": (step.retry.max_attempts, tuple(step.retry.errors)) if step.retry else None,
        "batch": batch, "batch_member": step.batch,
        "expected": {"codes": repr(tuple(step.expected_errors)),
                     "variable": error_variable(step.name) if step.name in context.tested_calls else None}
        if step.expected_errors else None,
        "secrets": {
            _secret_key(enclosing, step, output): output_variable(step.name, output.name)
            for output in step.outputs if output.secret
        },
    }


def _secret_key(enclosing: tuple[str, ...], step: Step, output: Output) -> str:
    """The key expression of a created secret in the secrets file: an f-string inside loops."""
    name = secret_name(enclosing, step, output, lambda variable: "{" + variable + "}")
    return ("f" if enclosing else "") + repr(name)


def _converter(item: Input) -> str | None:
    """The function argparse reads an option's text with; a loop walks a StringList, which must be
    a list of strings, not just any JSON."""
    if item.type == "StringList" and not item.secret:
        return "parse_string_list"
    return {"integer": "int", "boolean": "parse_boolean", "json": "json.loads"}.get(value_kind(item.type))


def _epilog(runbook: Runbook) -> str:
    secrets = [f"{item.name} from {environment_name(item.name)}" for item in runbook.inputs if item.secret]
    text = "The account id and partition come from sts get-caller-identity, the region from the session."
    if secrets:
        text = (f"Secret inputs come from the environment, never the command line, and are asked for when unset: "
                f"{', '.join(secrets)}. " + text)
    return text


def _python_output(step: Step, output: Output, result: str) -> dict:
    """The variable an output goes to and the expression that reads it from the call's ``response``
    (or ``pages``: every page of a paginated read)."""
    variable = output_variable(step.name, output.name)
    if is_list(output):
        query = repr(list_query(step, output))
        # boto3 parses timestamps; SSM and the CLI give them as ISO 8601 text.
        value = "value.isoformat()" if list_element_type(step, output) == "timestamp" else "value"
        if result == "pages":
            expression = f"[{value} for page in pages for value in jmespath.search({query}, page)]"
        elif value == "value":
            expression = f"jmespath.search({query}, response)"
        else:
            expression = f"[{value} for value in jmespath.search({query}, response)]"
        return {"variable": variable, "expression": expression}
    keys = parse_path(output.path)
    # A paginated read's single values are its first page's, as one call would give them.
    expression = ("pages[0]" if result == "pages" else "response") + "".join(f"[{key!r}]" for key in keys)
    # boto3 parses timestamps; SSM and the CLI give them as ISO 8601 text.
    if shape_at(known_operation(step.service, step.api).output_shape, keys).type_name == "timestamp":
        expression += ".isoformat()"
    return {"variable": variable, "expression": expression}


def check_text(runbook: Runbook, text: str) -> list[str]:
    try:
        compile(text, "<runbook.py>", "exec")
    except (SyntaxError, ValueError) as error:
        return [f"the Python script does not compile: {error}"]
    return []
