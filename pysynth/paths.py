"""Paths into requests and responses: ``Instances[0].InstanceId`` and its SSM selector form
``$.Instances[0].InstanceId``; a list's every element is ``[*]`` (``Buckets[*].Name``), and a
list output may keep only the elements that meet a condition (``model.Condition``): SSM's
JSONPath writes it as a filter (``[?(@.State.Name == 'running')]``), the AWS CLI's JMESPath as
``[?State.Name=='running']``.

The one parser of such paths, shared by the renderers (a script reads an output at its path), the
SSM runner (an output's selector picks it from the response) and ``pysynth verify`` (an output's
value in the logged response); ``path_text`` writes keys back as text.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from pysynth.model import Condition

# The JSONPath subset SSM selectors use: $ then .Member, [index], [*] and filter steps.
# A filter's value comes from a log and may hold any character, a line break too.
SELECTOR_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\[(\*)\]|\[\?\((.*?)\)\](?=\.|\[|$)", re.S)
# The filters a Condition becomes: a property equal to a text, starting with one, a tag key present.
FILTER_EQUALS = re.compile(r"@\.([A-Za-z0-9_.]+) == '((?:[^'\\]|\\.)*)'")
FILTER_PREFIX = re.compile(r"@\.([A-Za-z0-9_.]+) =~ /\^((?:[^/\\]|\\.)*)\.\*/")
FILTER_TAG = re.compile(r"'((?:[^'\\]|\\.)*)' in @\.([A-Za-z0-9_.]+)\[\*\]\.Key")
REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/-])")


@dataclass(frozen=True, slots=True)
class Every:
    """``[*]``: every element of a list."""


@dataclass(frozen=True, slots=True)
class Keep:
    """``[?(...)]``: the elements of a list whose ``property`` meets ``test`` with ``value``."""

    property: str
    test: str
    value: str


EVERY = Every()
Keys = list["str | int | Every | Keep"]
PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


# Requests of one operation share their paths, and every layer writes them out again and again:
# kept once written (bounded, for a session of ever new map keys).
@functools.lru_cache(maxsize=1 << 16)
def path_text(keys: tuple) -> str:
    """``("Tags", 0, "Value")`` as ``Tags[0].Value``; map keys that are not plain names are quoted."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        elif isinstance(key, Every):
            text += "[*]"
        elif PLAIN_KEY.fullmatch(key):
            text += f".{key}" if text else key
        else:
            text += f"[{json.dumps(key, ensure_ascii=False)}]"
    return text


def parse_selector(selector: str) -> Keys | None:
    """``$.Instances[0].InstanceId`` -> ``["Instances", 0, "InstanceId"]``, ``[*]`` as EVERY and
    a filter as Keep; None if it is not in the JSONPath subset SSM selectors use."""
    if not selector.startswith("$"):
        return None
    keys: Keys = []
    position = 1
    while position < len(selector):
        match = SELECTOR_STEP.match(selector, position)
        if match is None:
            return None
        member, index, every, test = match.groups()
        if member is not None:
            keys.append(member)
        elif index is not None:
            keys.append(int(index))
        elif every is not None:
            keys.append(EVERY)
        else:
            keep = _parse_filter(test)
            if keep is None:
                return None
            keys.append(keep)
        position = match.end()
    return keys


def path_steps(keys: Keys) -> list:
    """``keys`` as plain JSON, for a script that walks a response without this module (the SSM
    script that reads every page): a member name, a list index, ``"*"`` for every element, and
    ``{"Property": [...], "Test": ..., "Value": ...}`` for the elements that meet a condition."""
    return [
        "*" if isinstance(key, Every)
        else {"Property": parse_path(key.property), "Test": key.test, "Value": key.value} if isinstance(key, Keep)
        else key
        for key in keys
    ]


def keys_of_steps(steps: object) -> Keys | None:
    """The keys ``path_steps`` wrote; None if ``steps`` are not such a list."""
    if not isinstance(steps, list):
        return None
    keys: Keys = []
    for step in steps:
        if step == "*":
            keys.append(EVERY)
        elif isinstance(step, (str, int)) and not isinstance(step, bool):
            keys.append(step)
        elif (isinstance(step, dict) and set(step) == {"Property", "Test", "Value"}
              and isinstance(step["Value"], str) and step["Test"] in ("equals", "prefix", "tag")
              and (prop := keys_of_steps(step["Property"])) and all(isinstance(key, str) for key in prop)):
            keys.append(Keep(path_text(tuple(prop)), step["Test"], step["Value"]))
        else:
            return None
    return keys


def _parse_filter(text: str) -> Keep | None:
    if match := FILTER_EQUALS.fullmatch(text):
        return Keep(match.group(1), "equals", _unescape(match.group(2)))
    if match := FILTER_PREFIX.fullmatch(text):
        return Keep(match.group(1), "prefix", re.sub(r"\\(.)", r"\1", match.group(2)))
    if match := FILTER_TAG.fullmatch(text):
        return Keep(match.group(2), "tag", _unescape(match.group(1)))
    return None


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def list_selector(path: str, where: Condition | None = None) -> str:
    """The SSM selector of a list output: ``$.Buckets[*].Name``, with the condition as a JSONPath
    filter in place of the element's ``[*]``."""
    if where is None:
        return "$." + path
    if not path.startswith(where.element) or not where.element.endswith("[*]"):
        raise ValueError(f"{where.element} is not a list of elements within {path}")
    head, rest = where.element[:-3], path[len(where.element):]
    if where.test == "equals":
        test = f"@.{where.property} == {_quoted(where.value)}"
    elif where.test == "prefix":
        pattern = REGEX_SPECIAL.sub(r"\\\1", where.value)
        test = f"@.{where.property} =~ /^{pattern}.*/"
    elif where.test == "tag":
        test = f"{_quoted(where.value)} in @.{where.property}[*].Key"
    else:
        raise ValueError(f"unknown condition test {where.test!r}")
    return f"$.{head}[?({test})]{rest}"


def cli_query(path: str, where: Condition | None = None) -> str:
    """The AWS CLI's ``--query`` (JMESPath) for a list output: ``Buckets[].Name``, flattened, with
    the condition as a filter on the elements."""
    if where is None:
        return path.replace("[*]", "[]")
    head, rest = where.element[:-3].replace("[*]", "[]"), path[len(where.element):].replace("[*]", "[]")
    literal = "'" + where.value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if where.test == "equals":
        test = f"{where.property}=={literal}"
    elif where.test == "prefix":
        test = f"starts_with({where.property} || '', {literal})"  # an element without it is no match, not an error
    else:
        test = f"contains({where.property}[].Key || `[]`, {literal})"
    return f"{head}[] | [?{test}]{rest}"


def meets(element: object, keep: Keep | Condition) -> bool:
    """Whether a listed element meets a filter (or the Condition it renders)."""
    found = value_at(element, parse_path(keep.property) or [])
    if keep.test == "equals":
        return found is not None and _text(found) == keep.value
    if keep.test == "prefix":
        return isinstance(found, str) and found.startswith(keep.value)
    if keep.test == "tag":
        return isinstance(found, list) and any(isinstance(tag, dict) and tag.get("Key") == keep.value for tag in found)
    return False


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def parse_path(path: str) -> Keys | None:
    """``Instances[0].InstanceId`` -> ``["Instances", 0, "InstanceId"]``; ``""`` is the whole
    response; None if it is not member names and [index]es."""
    return parse_selector("$" + ("." if path and not path.startswith("[") else "") + path)


def value_at(value: object, keys: Keys, absent: object = None) -> object:
    """The value at ``keys``, or ``absent`` where there is none (botocore leaves absent members
    out, never None). Keys with ``[*]`` or a filter give the list of every value they reach."""
    if any(isinstance(key, (Every, Keep)) for key in keys):
        return values_at(value, keys)
    for key in keys:
        found = (isinstance(key, int) and isinstance(value, list) and key < len(value)) or (
            isinstance(key, str) and isinstance(value, dict) and key in value
        )
        if not found:
            return absent
        value = value[key]
    return value


def values_at(value: object, keys: Keys) -> list:
    """Every value ``keys`` reach, flattened as JSONPath does: ``Reservations[*].Instances[*].InstanceId``
    is one list of ids."""
    found = [value]
    for key in keys:
        reached = []
        for item in found:
            if isinstance(key, Every):
                reached.extend(item if isinstance(item, list) else ())
            elif isinstance(key, Keep):
                reached.extend(element for element in (item if isinstance(item, list) else ()) if meets(element, key))
            elif isinstance(key, int):
                if isinstance(item, list) and key < len(item):
                    reached.append(item[key])
            elif isinstance(item, dict) and key in item:
                reached.append(item[key])
        found = reached
    return found


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


# One encoder for every canonical text: ``json.dumps`` with arguments builds an encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, default=str)


def canonical_json(value: object) -> str:
    """A request or response tree as JSON with sorted keys (anything JSON lacks as its text):
    equal trees give equal texts, the key that finds a repeated request."""
    return _CANONICAL.encode(value)
