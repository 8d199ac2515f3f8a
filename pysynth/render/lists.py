"""Lists in the scripts, shared by the bash and Python renderings: the query that reads a list output
from a response (the AWS CLI's JMESPath, which the Python script evaluates too, page by page), how a
read that paginates is asked for every page, and what the scripts say and keep about loops."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from pysynth.botomodels import paginator_config, starting_tokens
from pysynth.model import Branch, IndexRef, InputRef, Output, OutputRef, Step, Test, used_values, walk
from pysynth.paths import cli_query, parse_path, value_at
from pysynth.render.names import index_variable
from pysynth.render.prose import listed_text, plural
from pysynth.render.shapes import known_operation, leaf_references, leaves, shape_at


def is_list(output: Output) -> bool:
    """A list output: every element the path reaches (``Buckets[*].Name``)."""
    return "[*]" in output.path


def list_element_type(step: Step, output: Output) -> str:
    """botocore's type of a list output's elements: ``string``, ``timestamp``, ``integer``…"""
    return shape_at(known_operation(step.service, step.api).output_shape, parse_path(output.path)).type_name


def list_query(step: Step, output: Output) -> str:
    """The JMESPath of a list output, flattened and filtered by its condition. A response without
    the list (an empty bucket has no ``Contents``) gives an empty list, not null (which the CLI's
    text output would print as ``None``); numbers and booleans become their JSON text, the
    elements of a StringList."""
    query = f"{cli_query(output.path, output.where)} || `[]`"
    if list_element_type(step, output) in ("string", "timestamp"):
        return query
    return f"{query} | map(&to_string(@), @)"


def paging(step: Step) -> tuple[dict, object] | None:
    """For a step whose list output comes from a read botocore paginates: the request without the
    members that page, and the page size the log asked for (None when it asked for none). The
    log's starting token would skip the first pages, and the AWS CLI v2 stops paginating when a
    paging member comes in the request JSON: the scripts give the page size as their tools' own
    setting (``--page-size``, ``PaginationConfig``). None for a step read in one call."""
    if not any(is_list(output) for output in step.outputs):
        return None
    config = paginator_config(step.service, step.api)
    if config is None:
        return None
    paging_members = {*starting_tokens(step.service, step.api), config.get("limit_key")}
    request = {member: value for member, value in step.request.items() if member not in paging_members}
    return request, step.request.get(config.get("limit_key"))


def script_steps(steps: list[Step]) -> list[Step]:
    """The steps as the scripts run them: a loop body's or a branch arm's step keeps only the outputs
    a later step reads and the secrets it creates. The scripts print the top-level steps' outputs; a
    body's other outputs would be values nobody uses."""
    read = {
        (reference.step, reference.output)
        for step in walk(steps)
        for _, leaf, _ in leaves(used_values(step), None, "")
        for reference in leaf_references(leaf)
        if isinstance(reference, OutputRef)
    }

    def kept(items: list[Step], in_body: bool) -> list[Step]:
        return [
            replace(step, loop=replace(step.loop, steps=kept(step.loop.steps, True))) if step.loop else
            replace(step, branch=replace(step.branch, steps=kept(step.branch.steps, True),
                                         otherwise=kept(step.branch.otherwise, True))) if step.branch else
            replace(step, outputs=[o for o in step.outputs if not in_body or o.secret or (step.name, o.name) in read])
            for step in items
        ]

    return kept(steps, False)


def branch_arms(branch: Branch) -> list[tuple[Test | None, list[Step]]]:
    """The blocks a script writes for a branch: (the test of its ``if``, the steps under it), then
    (None, the steps under ``else``); with only an otherwise arm, one ``if`` on the test turned round."""
    test = branch.test if branch.steps else replace(branch.test, negate=not branch.test.negate)
    arms: list[tuple[Test | None, list[Step]]] = [(test, branch.steps or branch.otherwise)]
    if branch.steps and branch.otherwise:
        arms.append((None, branch.otherwise))
    return arms


def counted_loops(steps: list[Step], enclosing: tuple[str, ...] = ()) -> set[str]:
    """The loops whose iteration number a script keeps: those an IndexRef reads, and those around a
    step that creates a secret (its name in the secrets file says which iteration made it)."""
    counted: set[str] = set()
    for step in steps:
        # A loop's list may hold the iteration number of a loop around it (a gathered list's template).
        for _, leaf, _ in leaves(used_values(step), None, step.name):
            counted.update(reference.loop for reference in leaf_references(leaf) if isinstance(reference, IndexRef))
        if step.loop is not None:
            counted |= counted_loops(step.loop.steps, (*enclosing, step.name))
        elif step.branch is not None:
            counted |= counted_loops(step.branch.steps + step.branch.otherwise, enclosing)
        elif any(output.secret for output in step.outputs):
            counted.update(enclosing)
    return counted


def secret_name(enclosing: tuple[str, ...], step: Step, output: Output, counter: Callable[[str], str]) -> str:
    """The name a created secret is kept under in the secrets file: ``CreateAccessKey.SecretAccessKey``,
    inside loops with each loop's iteration (``EachUser[2].CreateAccessKey.SecretAccessKey``), where
    ``counter`` writes the script's expression of an iteration-number variable."""
    iterations = "".join(f"{loop}[{counter(index_variable(loop))}]." for loop in enclosing)
    return f"{iterations}{step.name}.{output.name}"


def loop_comment(step: Step) -> str:
    """What a loop step walks, for its comment."""
    over = step.loop.over
    if isinstance(over, InputRef):
        source = f"each element of input {over.name}"
    elif isinstance(over, OutputRef):
        source = f"each element of output {over.step}.{over.output}"
    elif step.loop.gathered:
        source = f"each of {plural(len(over), 'value')}: {listed_text(over)}"
    else:
        source = f"each of {plural(len(over), 'text')} from the log"
    return f"for {source}"


def batch_list(step: Step) -> object:
    """The whole list a batch step's member takes: a list input or output, or the log's texts."""
    return value_at(step.request, parse_path(step.batch) or [])
