"""The Python rendering: a boto3 script with argparse inputs, and its check (it compiles).

Every value is written by ``repr``.
"""

from __future__ import annotations

from botocore import xform_name
from botocore.model import Shape

from pysynth.model import (
    GlobalRef,
    InputRef,
    Output,
    OutputRef,
    Runbook,
    Step,
    Template,
)
from pysynth.paths import parse_path
from pysynth.render.names import (
    ENDPOINT_VARIABLE,
    SECRETS_OPTION,
    GLOBAL_VARIABLES,
    METAVARS,
    client_variable,
    environment_name,
    input_variable,
    option_name,
    output_variable,
)
from pysynth.render.prose import printable, records_text
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
        return " + ".join(repr(part) if isinstance(part, str) else _python_text(context, part) for part in value.parts)
    if isinstance(value, InputRef) and context.inputs[value.name].file:
        return f"read_file(args.{input_variable(value.name)})"
    if isinstance(value, (InputRef, OutputRef, GlobalRef)):
        at_text = shape is not None and position_kind(shape) == "string"
        return _python_text(context, value) if at_text else _python_reference(value)
    return repr(value)


def _python_text(context: Context, reference) -> str:
    # Integers and booleans in text read as their JSON ("5", "true"), as SSM writes them.
    expression = _python_reference(reference)
    return expression if context.kind(reference) == "string" else f"json.dumps({expression})"


def _argparse_help(text: str) -> str:
    return text.replace("%", "%%")  # argparse %-formats every help string


def _argparse_description(text: str) -> str:
    # argparse %-formats a description only when it contains "%(prog)".
    return text.replace("%", "%%") if "%(prog)" in text else text


def view(context: Context) -> dict:
    runbook = context.runbook
    converters = {"integer": "int", "boolean": "parse_boolean", "json": "json.loads"}
    inputs = [
        {
            "name": item.name, "variable": input_variable(item.name), "environment": environment_name(item.name),
            "option": option_name(item.name), "secret": item.secret, "converter": converters.get(value_kind(item.type)),
            "default": item.default, "file": item.file, "metavar": "FILE" if item.file else METAVARS[value_kind(item.type)],
            "help": _argparse_help(printable(
                f"{item.name}: {item.description}" + (" (JSON)" if value_kind(item.type) == "json" else "")
                + (" (a file path)" if item.file else "")
            )),
        }
        for item in runbook.inputs
    ]
    steps = [
        {
            "name": step.name, "records": records_text(step), "description": step.description.splitlines(),
            "client": client_variable(step.service), "method": xform_name(step.api),
            # A wait's or a retry's request stands one level deeper, inside the call that repeats it.
            "request": _python_value(context, step.request, context.input_shape(step), 8 if step.wait or step.retry else 4),
            "outputs": [_python_output(step, output) for output in step.outputs],
            "waiter": xform_name(step.wait.waiter) if step.wait else None,
            "waiter_config": {"Delay": step.wait.delay_seconds, "MaxAttempts": step.wait.max_attempts} if step.wait else None,
            "retry": (step.retry.max_attempts, tuple(step.retry.errors)) if step.retry else None,
            "secrets": {f"{step.name}.{o.name}": output_variable(step.name, o.name) for o in step.outputs if o.secret},
        }
        for step in runbook.steps
    ]
    summary = {f"{s.name}.{o.name}": OutputRef(s.name, o.name) for s in runbook.steps for o in s.outputs if not o.secret}
    return {
        "comment": printable(runbook.description),
        "description": _argparse_description(printable(runbook.description)), "inputs": inputs, "steps": steps,
        "services": {client_variable(step.service): step.service for step in runbook.steps},
        "globals": context.globals, "outputs": _python_value(context, summary, None, 4),
        "endpoint_variable": ENDPOINT_VARIABLE, "secrets_option": SECRETS_OPTION,
        "creates_secrets": any(step["secrets"] for step in steps), "epilog": _argparse_help(_epilog(runbook)),
    }


def _epilog(runbook: Runbook) -> str:
    secrets = [f"{item.name} from {environment_name(item.name)}" for item in runbook.inputs if item.secret]
    text = "The account id and partition come from sts get-caller-identity, the region from the session."
    if secrets:
        text = (f"Secret inputs come from the environment, never the command line, and are asked for when unset: "
                f"{', '.join(secrets)}. " + text)
    return text


def _python_output(step: Step, output: Output) -> dict:
    """The variable an output goes to and the expression that reads it from ``response``."""
    keys = parse_path(output.path)
    expression = "response" + "".join(f"[{key!r}]" for key in keys)
    # boto3 parses timestamps; SSM and the CLI give them as ISO 8601 text.
    if shape_at(known_operation(step.service, step.api).output_shape, keys).type_name == "timestamp":
        expression += ".isoformat()"
    return {"variable": output_variable(step.name, output.name), "expression": expression}


def check_text(runbook: Runbook, text: str) -> list[str]:
    try:
        compile(text, "<runbook.py>", "exec")
    except (SyntaxError, ValueError) as error:
        return [f"the Python script does not compile: {error}"]
    return []
