"""Paths into requests and responses: ``Instances[0].InstanceId`` and its SSM selector form
``$.Instances[0].InstanceId``.

The one parser of such paths, shared by the renderers (a script reads an output at its path), the
SSM runner (an output's selector picks it from the response) and ``pysynth verify`` (an output's
value in the logged response); ``path_text`` writes keys back as text.
"""

from __future__ import annotations

import json
import re

# The JSONPath subset SSM selectors use: $ then .Member and [index] steps.
SELECTOR_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")

Keys = list[str | int]
PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def path_text(keys: tuple) -> str:
    """``("Tags", 0, "Value")`` as ``Tags[0].Value``; map keys that are not plain names are quoted."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        elif PLAIN_KEY.fullmatch(key):
            text += f".{key}" if text else key
        else:
            text += f"[{json.dumps(key, ensure_ascii=False)}]"
    return text


def parse_selector(selector: str) -> Keys | None:
    """``$.Instances[0].InstanceId`` -> ``["Instances", 0, "InstanceId"]``; None if it is not in
    the JSONPath subset SSM selectors use."""
    if not selector.startswith("$"):
        return None
    keys: Keys = []
    position = 1
    while position < len(selector):
        match = SELECTOR_STEP.match(selector, position)
        if match is None:
            return None
        member, index = match.groups()
        keys.append(member if member is not None else int(index))
        position = match.end()
    return keys


def parse_path(path: str) -> Keys | None:
    """``Instances[0].InstanceId`` -> ``["Instances", 0, "InstanceId"]``; ``""`` is the whole
    response; None if it is not member names and [index]es."""
    return parse_selector("$" + ("." if path and not path.startswith("[") else "") + path)


def value_at(value: object, keys: Keys, absent: object = None) -> object:
    """The value at ``keys``, or ``absent`` where there is none (botocore leaves absent members
    out, never None)."""
    for key in keys:
        found = (isinstance(key, int) and isinstance(value, list) and key < len(value)) or (
            isinstance(key, str) and isinstance(value, dict) and key in value
        )
        if not found:
            return absent
        value = value[key]
    return value


def strings_of(value: object, min_length: int = 0) -> set[str]:
    """Every text leaf of a request or response tree at least ``min_length`` long: the values the
    reading layer orders records by, and the facts and verify find polling and retries by."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) >= min_length:
                found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
