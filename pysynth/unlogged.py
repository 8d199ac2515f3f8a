"""Values a call needed that its log record does not show: the one heuristic that facts, verify
and synthesis share.

Normalisation marks the values CloudTrail hides (``HIDDEN_DUE_TO_SECURITY_REASONS``) and fills in
required members the log leaves out. CloudTrail also never logs some optional members at all:
binary data and many sensitive members. ``complete`` adds the ones the call must have sent,
decided from botocore's shapes (payload, streaming, blob, sensitive, required, enum), never from
a list of operations:

- a binary payload (s3 ``PutObject``'s streaming ``Body``): a request always has its body;
- in a structure the log shows with nothing but its required members and settings (flags,
  numbers, enum choices), the member its content went into: a binary member, since CloudTrail
  never logs binary data (lambda ``UpdateFunctionCode``'s ``ZipFile``; a sensitive text member
  beside it is preferred: secretsmanager ``PutSecretValue``'s ``SecretString`` rather than
  ``SecretBinary``), or a sensitive text member that is the only content the request itself
  can carry (iam ``UpdateLoginProfile``'s ``Password``; deeper, a required choice is content:
  an encryption rule's algorithm needs no ``KMSMasterKeyID``). A structure that shows other
  content did not send one (``UpdateFunctionCode`` with ``S3Bucket``; rds ``ModifyDBInstance``,
  whose ``MasterUserPassword`` CloudTrail logs masked when it is sent).
- a value hidden as a whole structure of one member (ec2 ``ModifyInstanceAttribute``'s
  ``UserData``, a structure of one blob ``Value``) is that member hidden, so it gets its own type.

``kind`` says how a hidden value reaches a runbook: ``text`` (a secret text input), ``json`` (a
secret ``StringMap``, ``StringList`` or ``MapList`` input: ssm ``SendCommand``'s ``Parameters``)
or ``file`` (binary data read from a file the user names).
"""

from __future__ import annotations

import copy
import functools

import botocore.model

from pysynth.botomodels import operation_model
from pysynth.paths import path_text

TEXT, JSON, FILE = "text", "json", "file"
# Members whose values say how, not what: a structure that shows only these carried its content
# in a member the log does not show.
# How deep in a response a secret the call creates may lie: AccessKey.SecretAccessKey.
SECRET_DEPTH = 2
SETTING_TYPES = {"boolean", "integer", "long", "float", "double", "short", "byte", "timestamp"}


def kind(shape: botocore.model.Shape) -> str:
    """How a hidden value of ``shape`` is given to a runbook."""
    if shape.type_name == "blob":
        return FILE
    if shape.type_name in ("structure", "map", "list"):
        return JSON
    return TEXT


def complete(service: str, operation: str, params: dict, hidden: list[str]) -> tuple[dict, list[str]]:
    """``params`` and ``hidden`` with every value the call needed but the log does not show added
    (a placeholder in ``params``, its path in ``hidden``). The arguments are not changed; when
    nothing is added, ``params`` itself is returned."""
    shape = operation_model(service, operation).input_shape
    if shape is None:
        return params, list(hidden)
    additions: list[tuple[tuple, str, botocore.model.Shape]] = []  # (keys of the structure, member, shape)
    expansions: list[tuple[str, tuple, str, botocore.model.Shape]] = []  # (hidden path, keys, member, shape)
    payload = shape.serialization.get("payload")
    binary_payload = bool(payload) and shape.members[payload].type_name == "blob"
    if binary_payload and payload not in params:
        additions.append(((), payload, shape.members[payload]))
    if hidden or _may_lack_content(shape):
        _find(params, shape, (), set(hidden), additions, expansions, content_found=binary_payload)
    if not additions and not expansions:
        return params, list(hidden)
    completed, paths = copy.deepcopy(params), list(hidden)
    for path, keys, member, member_shape in expansions:
        _at(completed, keys).setdefault(member, placeholder(member_shape))
        paths.remove(path)
        if path_text(keys + (member,)) not in paths:
            paths.append(path_text(keys + (member,)))
    for keys, member, member_shape in additions:
        _at(completed, keys)[member] = placeholder(member_shape)
        paths.append(path_text(keys + (member,)))
    return completed, paths


def placeholder(shape: botocore.model.Shape) -> object:
    """What stands in the request for a value the log does not show; only its type matters."""
    return {"blob": b"", "structure": {}, "map": {}, "list": []}.get(shape.type_name, "")


def _find(value, shape, keys: tuple, hidden: set[str], additions: list, expansions: list,
          content_found: bool = False) -> None:
    """What ``complete`` adds, found without changing anything."""
    if shape is None:
        return
    if hidden:
        path = path_text(keys)
        if path in hidden:
            # A hidden structure of one member is that member hidden: its own type, not a whole map.
            if shape.type_name == "structure" and len(shape.members) == 1 and isinstance(value, dict):
                (member, member_shape), = shape.members.items()
                expansions.append((path, keys, member, member_shape))
            return
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for member, item in value.items():
            _find(item, shape.members.get(member), keys + (member,), hidden, additions, expansions)
        member = None if content_found else _unlogged_member(value, shape, top=not keys)
        if member is not None:
            additions.append((keys, member, shape.members[member]))
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _find(item, shape.member, keys + (index,), hidden, additions, expansions)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _find(item, shape.value, keys + (key,), hidden, additions, expansions)


def _at(tree, keys: tuple):
    for key in keys:
        tree = tree[key]
    return tree


@functools.lru_cache(maxsize=None)
def _structure(shape: botocore.model.StructureShape) -> tuple[frozenset, frozenset, tuple, tuple, int]:
    """(required members, settings, binary members, sensitive text members, how many optional
    members are not settings) of a structure shape."""
    required = frozenset(shape.required_members)
    settings = frozenset(member for member, member_shape in shape.members.items() if _is_setting(member_shape))
    optional = [(member, member_shape) for member, member_shape in shape.members.items()
                if member not in required and member not in settings]
    binary = tuple(member for member, member_shape in optional if member_shape.type_name == "blob")
    text = tuple(member for member, member_shape in optional
                 if member_shape.type_name == "string" and member_shape.metadata.get("sensitive"))
    return required, settings, binary, text, len(optional)


@functools.cache
def _may_lack_content(shape: botocore.model.StructureShape) -> bool:
    """Whether a request of this shape can leave out a member its content goes into (a structure
    within it has a binary or sensitive text member): only then must a request with nothing hidden
    be searched for one."""
    seen: set[str] = set()
    pending = [shape]
    while pending:
        found = pending.pop()
        if found.name in seen:
            continue
        seen.add(found.name)
        if found.type_name == "structure":
            _, _, binary, text, _ = _structure(found)
            if binary or text:
                return True
            pending.extend(found.members.values())
        elif found.type_name == "list":
            pending.append(found.member)
        elif found.type_name == "map":
            pending.append(found.value)
    return False


def _unlogged_member(value: dict, shape: botocore.model.StructureShape, top: bool) -> str | None:
    """The member this structure's content went into, when the log shows none of it: a binary
    member (CloudTrail never logs binary data; a text secret of the same structure is preferred
    to it), or, in the request itself, a sensitive text member that is the only thing besides
    settings it can carry (deeper, a required choice is content: an encryption rule's algorithm
    needs no key)."""
    required, settings, binary, text, optional = _structure(shape)
    if not binary and not text:
        return None
    members = shape.members
    if any(member in members and member not in required and member not in settings for member in value):
        return None  # the structure shows content of its own
    if binary:
        return (text or binary)[0]
    return text[0] if top and len(text) == optional == 1 else None


def _is_setting(shape: botocore.model.Shape) -> bool:
    return (
        shape.type_name in SETTING_TYPES
        or bool(shape.metadata.get("enum"))
        or bool(shape.metadata.get("idempotencyToken"))
    )


@functools.cache
def created_secrets(service: str, operation: str) -> tuple[str, ...]:
    """Response paths of the secrets a call creates (iam ``CreateAccessKey``'s
    ``AccessKey.SecretAccessKey``, ec2 ``CreateKeyPair``'s ``KeyMaterial``): sensitive text
    members of the response, at most two structures deep, named like nothing the request takes
    (a sensitive echo of a request value, such as a name or a password the caller gave, is no
    secret the call made). CloudTrail never logs them."""
    model = operation_model(service, operation)
    if model.output_shape is None:
        return ()
    request_members = _member_names(model.input_shape, set()) if model.input_shape is not None else set()
    found = []
    for path, shape in _response_members(model.output_shape, (), SECRET_DEPTH):
        if shape.type_name == "string" and shape.metadata.get("sensitive") and path[-1] not in request_members:
            found.append(path_text(path))
    return tuple(found)


def _response_members(shape, keys: tuple, depth: int):
    """(keys, shape) of every member reachable through structures, ``depth`` members deep at most."""
    if depth == 0 or shape.type_name != "structure":
        return
    for member, member_shape in shape.members.items():
        yield keys + (member,), member_shape
        yield from _response_members(member_shape, keys + (member,), depth - 1)


def _member_names(shape, seen: set[str]) -> set[str]:
    """Every member name of a request shape, at any depth."""
    if shape.name in seen:
        return set()
    seen.add(shape.name)
    if shape.type_name == "structure":
        names = set(shape.members)
        for member_shape in shape.members.values():
            names |= _member_names(member_shape, seen)
        return names
    if shape.type_name == "list":
        return _member_names(shape.member, seen)
    if shape.type_name == "map":
        return _member_names(shape.value, seen)
    return set()


def documentation(service: str, operation: str, keys: tuple) -> str:
    """botocore's documentation of the request member at ``keys``; for the only member of a
    structure (``UserData``'s ``Value``: "The attribute value"), the structure's, which says what
    the value is ("... User data must be base64-encoded ...")."""
    shape = operation_model(service, operation).input_shape
    found = ""
    for key in keys:
        if shape is None:
            break
        if shape.type_name == "structure":
            documented = len(shape.members) > 1 or not found
            shape = shape.members.get(key)
            if shape is not None and documented:
                found = shape.documentation or ""
        else:
            shape = shape.member if shape.type_name == "list" else getattr(shape, "value", None)
    return found
