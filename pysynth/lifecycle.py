"""What a call does to the resources it names: which it creates and which it deletes, by the name
or id in its request. Shared by the facts (``creates/2``, ``deletes/2``) and by ``verify``, so a
runbook is certified by the same vocabulary it was synthesized with.

The source is boto3's resource models (``resources-1.json``): a service action that returns a
resource identified by a request parameter creates it (iam ``CreateUser`` creates the ``User`` named
by ``UserName``), and a resource's ``Delete`` or ``Terminate`` action deletes the resource named by
the parameters its identifiers fill (``DeleteUser``'s ``UserName``). Services without a resource
model follow botocore's own naming: ``Create<Thing>`` creates and ``Delete<Thing>`` deletes the
resource named by its ``<Thing>Name``, ``<Thing>Id``, ``<Thing>Arn`` or ``<Thing>`` member (in
any service: resource models name many resources only by the ids in responses).
Ids first seen in a response are the facts' ``produced/2``, not this module's.
"""

from __future__ import annotations

import functools
import re

from pysynth.botomodels import operation_model, resource_model, service_model

CREATES = "creates"
DELETES = "deletes"
# The resource actions that end a resource's life.
ENDING_ACTIONS = ("Delete", "Terminate")
_REQUEST_PATH = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def effects(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """(``creates`` or ``deletes``, name or id) for each resource the request names that the call
    creates or deletes."""
    found = []
    for kind, keys in _rules(service).get(operation, ()):
        value = _at(params, keys)
        if isinstance(value, str) and value:
            found.append((kind, value))
    return found


@functools.cache
def _rules(service: str) -> dict[str, tuple[tuple[str, tuple], ...]]:
    """Operation -> ((kind, request keys), ...): where the name of what it creates or deletes is."""
    model = resource_model(service)
    rules: dict[str, list[tuple[str, tuple]]] = {}
    if model is not None:
        _from_resource_model(model, rules)
    _from_operation_names(service, rules)
    return {operation: tuple(dict.fromkeys(found)) for operation, found in rules.items()}


def _from_resource_model(model: dict, rules: dict) -> None:
    for action in model.get("service", {}).get("actions", {}).values():
        resource = action.get("resource") or {}
        for identifier in resource.get("identifiers", ()):
            if identifier.get("source") == "requestParameter":
                operation = action["request"]["operation"]
                rules.setdefault(operation, []).append((CREATES, _keys(identifier["path"])))
    for resource in model.get("resources", {}).values():
        for name, action in resource.get("actions", {}).items():
            if name not in ENDING_ACTIONS:
                continue
            request = action["request"]
            for param in request.get("params", ()):
                if param.get("source") == "identifier":
                    rules.setdefault(request["operation"], []).append((DELETES, _keys(param["target"])))


def _from_operation_names(service: str, rules: dict) -> None:
    for operation in service_model(service).operation_names:
        verb = re.match(r"(Create|Delete)([A-Z]\w*)", operation)
        if not verb:
            continue
        thing = verb.group(2)
        shape = operation_model(service, operation).input_shape
        # Members by their name as botocore spells it, first letter either case (logs' logGroupName).
        members = {name[:1].upper() + name[1:]: name for name in (shape.members if shape is not None else ())}
        for wanted in (f"{thing}Name", f"{thing}Id", f"{thing}Arn", thing):
            member = members.get(wanted)
            if member is not None and shape.members[member].type_name == "string":
                kind = CREATES if verb.group(1) == "Create" else DELETES
                rules.setdefault(operation, []).append((kind, (member,)))
                break


def _keys(path: str) -> tuple:
    """``InstanceIds[0]`` -> ``("InstanceIds", 0)``; ``InstanceIds[]`` -> ``("InstanceIds", 0)``."""
    return tuple(int(index) if index else name for index, name in _REQUEST_PATH.findall(path.replace("[]", "[0]")))


def _at(tree: object, keys: tuple) -> object:
    for key in keys:
        if isinstance(key, int):
            if not (isinstance(tree, list) and key < len(tree)):
                return None
        elif not (isinstance(tree, dict) and key in tree):
            return None
        tree = tree[key]
    return tree
