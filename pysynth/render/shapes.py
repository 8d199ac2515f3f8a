"""What the renderers and the runner share: botocore's shapes of a request or response, type-correct
stand-ins for values known only at run time, and the kind of value each position and reference
holds (text, integer, boolean or JSON)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from botocore.exceptions import UnknownServiceError
from botocore.model import OperationNotFoundError, Shape

from pysynth.botomodels import operation_model
from pysynth.model import (
    GLOBALS,
    GlobalRef,
    IndexRef,
    Input,
    InputRef,
    ItemRef,
    Output,
    OutputRef,
    Runbook,
    Step,
    Template,
    used_values,
    walk,
)
from pysynth.paths import Every


@functools.cache
def known_operation(service: str, api: str):
    """botocore's operation model, or None when botocore knows no such service or operation."""
    try:
        return operation_model(service, api)
    except (UnknownServiceError, OperationNotFoundError):
        return None


def member_shape(shape: Shape | None, key: str) -> Shape | None:
    if shape is None:
        return None
    if shape.type_name == "structure":
        return shape.members.get(key)
    if shape.type_name == "map":
        return shape.value
    return None


def item_shape(shape: Shape | None) -> Shape | None:
    return shape.member if shape is not None and shape.type_name == "list" else None


def leaves(value: object, shape: Shape | None, path: str):
    """(path, leaf, shape at the leaf) for every leaf of a request tree; shape None where unknown."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, member_shape(shape, key), f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, item_shape(shape), f"{path}[{index}]")
    else:
        yield path, value, shape


def shape_at(shape: Shape | None, keys: list) -> Shape | None:
    """The shape at ``keys``; ``[*]`` (Every) goes into a list's elements as an index does."""
    for key in keys:
        shape = item_shape(shape) if isinstance(key, (int, Every)) else member_shape(shape, key)
    return shape


def placeholder_value(shape: Shape) -> object:
    """A type-correct stand-in for a value only known at run time, for botocore's validator."""
    minimum = shape.metadata.get("min", 0)
    kind = shape.type_name
    if kind == "structure":
        return {name: placeholder_value(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [placeholder_value(shape.member) for _ in range(minimum)]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return int(minimum)
    if kind in ("float", "double"):
        return float(minimum)
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return datetime(2000, 1, 1, tzinfo=UTC)
    if kind == "blob":
        return b""
    return "x" * max(int(minimum), 1)


def with_placeholders(value: object, shape: Shape | None) -> object:
    if isinstance(value, dict):
        return {key: with_placeholders(item, member_shape(shape, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [with_placeholders(item, item_shape(shape)) for item in value]
    if isinstance(value, Template):
        return "".join(part if isinstance(part, str) else "x" for part in value.parts)
    if isinstance(value, (InputRef, OutputRef, GlobalRef, ItemRef, IndexRef)):
        return placeholder_value(shape) if shape is not None else "x"
    return value


# How a value travels through the scripts: "string" as text; "integer" and "boolean" as JSON
# scalars; "json" (lists and maps) as JSON text in bash and as parsed JSON in Python.
KINDS = {"Integer": "integer", "Boolean": "boolean", "StringList": "json", "StringMap": "json", "MapList": "json"}


def value_kind(ssm_type: str) -> str:
    return KINDS.get(ssm_type, "string")


def position_kind(shape: Shape) -> str:
    """The kind of value a request or response position holds."""
    kind = shape.type_name
    if kind in ("integer", "long", "float", "double"):
        return "integer"  # SSM has no decimal type: a number position takes an Integer
    if kind == "boolean":
        return "boolean"
    if kind in ("list", "map", "structure"):
        return "json"
    return "string"  # string, timestamp, blob


def fits(kind: str, position: str) -> bool:
    """Integers and booleans also fit text positions (as their JSON text); nothing else converts."""
    return kind == position or (position == "string" and kind in ("integer", "boolean"))


def default_fits(ssm_type: str, value: object) -> bool:
    if ssm_type == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ssm_type == "Boolean":
        return isinstance(value, bool)
    if ssm_type == "StringList":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if ssm_type == "StringMap":
        return isinstance(value, dict)
    if ssm_type == "MapList":
        return isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return isinstance(value, str)


def leaf_references(leaf: object) -> list:
    if isinstance(leaf, (InputRef, OutputRef, GlobalRef, ItemRef, IndexRef)):
        return [leaf]
    if isinstance(leaf, Template):
        return [part for part in leaf.parts if not isinstance(part, str)]
    return []


def reference_kind(reference, inputs: dict[str, Input], outputs: dict[tuple[str, str], Output]) -> str | None:
    if isinstance(reference, InputRef):
        return value_kind(inputs[reference.name].type) if reference.name in inputs else None
    if isinstance(reference, OutputRef):
        output = outputs.get((reference.step, reference.output))
        return value_kind(output.type) if output else None
    if isinstance(reference, ItemRef):
        return "string"  # an element of a StringList
    if isinstance(reference, IndexRef):
        return "integer"
    return "string" if reference.name in GLOBALS else None


class Context:
    """A runbook with the lookups every view needs."""

    def __init__(self, runbook: Runbook):
        self.runbook = runbook
        self.inputs = {item.name: item for item in runbook.inputs}
        self.outputs = {(step.name, output.name): output for step in walk(runbook.steps) for output in step.outputs}
        references = [
            reference
            for step in walk(runbook.steps)
            for _, leaf, _ in leaves(used_values(step), None, step.name)
            for reference in leaf_references(leaf)
        ]
        self.globals = {reference.name for reference in references if isinstance(reference, GlobalRef)}
        # The calls whose expected error a branch tests: the scripts keep the code for it.
        self.tested_calls = {step.branch.test.step for step in walk(runbook.steps)
                             if step.branch is not None and step.branch.test.kind == "failed"}

    def kind(self, reference) -> str:
        kind = reference_kind(reference, self.inputs, self.outputs)
        assert kind is not None, "render() checks references before building views"
        return kind

    def input_shape(self, step: Step) -> Shape:
        return known_operation(step.service, step.api).input_shape

