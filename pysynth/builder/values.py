"""Request values of a runbook built from the solver's answer: inputs typed by their shapes,
templates joined from literal text and references, and the request trees they are set into."""

from __future__ import annotations

from datetime import datetime

from pysynth import unlogged
from pysynth.botomodels import idempotency_tokens
from pysynth.facts import RESOURCE_ID, Slot
from pysynth.builder.texts import sentences
from pysynth.model import Input, Template


def joined(parts: list):
    """Parts as one literal string, one reference, or a Template: adjacent texts joined, empty
    ones and nested Templates flattened."""
    flat: list = []
    for part in parts:
        flat.extend(part.parts if isinstance(part, Template) else [part])
    merged: list = []
    for part in flat:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    if not merged:
        return ""
    return merged[0] if len(merged) == 1 and isinstance(merged[0], str) else Template(tuple(merged))


def hidden_input(name: str, slot: Slot, step_path: str, call) -> Input:
    """The input for a value the log does not show, typed by its shape: a secret text or JSON
    value, or the path of a file whose bytes are sent (``pysynth.unlogged.kind``)."""
    kind = unlogged.kind(slot.shape)
    # What a file must hold takes a second sentence ("User data must be base64-encoded.").
    documentation = sentences(unlogged.documentation(call.service, call.operation, slot.keys),
                               2 if kind == unlogged.FILE else 1)
    if kind == unlogged.FILE:
        return Input(
            name=name, type="String", file=True, used_by=[step_path],
            description=f"{documentation} The log never shows this value; the scripts send the bytes of a file.".strip(),
        )
    if kind == unlogged.JSON:
        scalars = slot.shape.type_name == "list" and slot.shape.member.type_name not in ("structure", "map")
        ssm_type = "StringMap" if slot.shape.type_name != "list" else ("StringList" if scalars else "MapList")
        return Input(name=name, type=ssm_type, secret=True, used_by=[step_path],
                     description=f"{documentation} The log hides this value (JSON).".strip())
    return Input(name=name, type="String", secret=True, used_by=[step_path],
                 description=f"{documentation} The log hides this value.".strip())


def input_type(slot: Slot) -> str:
    value = slot.value
    if isinstance(value, tuple):
        return "StringList"
    if isinstance(value, dict):
        return "StringMap"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if slot.member == "InstanceId" and isinstance(value, str) and RESOURCE_ID.match(value) and value.startswith("i-"):
        return "AWS::EC2::Instance::Id"
    return "String"


def json_value(value):
    if isinstance(value, tuple):
        return [json_value(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def plain(value):
    """Request values as plain JSON-able data: timestamps as ISO 8601."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def without_idempotency_tokens(call) -> dict:
    """A copy of the request to set references into: ``plain`` makes its dicts and lists anew and
    its timestamps the text they end as (``copy.deepcopy`` took a sixth of the building)."""
    request = plain(call.params)
    for member in idempotency_tokens(call.service, call.operation):
        request.pop(member, None)
    return request


def get_at(tree, keys: tuple):
    for key in keys:
        tree = tree[key]
    return tree


def set_at(tree, keys: tuple, value) -> None:
    for key in keys[:-1]:
        tree = tree[key]
    tree[keys[-1]] = value
