"""What a loop may walk in a listing: the positions of the acted-on elements among the listed ones,
and the conditions, learnt from the listed elements' properties, that keep exactly those."""

from __future__ import annotations

import re

from pysynth.model import Condition
from pysynth.paths import meets, parse_path, value_at

# Where a name prefix is cut: after a separator, so that "logs-app", "logs-api" give "logs-".
SEPARATOR = re.compile(r"[-_./:]")


def subsequence(listed: list, wanted: list) -> list[int] | None:
    """The positions of ``wanted`` in ``listed`` (greedy, in order), or None."""
    positions, index = [], 0
    for position, item in enumerate(listed):
        if index < len(wanted) and item == wanted[index]:
            positions.append(position)
            index += 1
    return positions if index == len(wanted) and None not in wanted else None


def conditions(element_path: str, elements: list, acted: list[int]) -> list[Condition]:
    """Conditions that keep exactly the elements the log acted on, simplest first: a property
    equal to one value, a tag present, a name prefix (cut after a separator)."""
    kept = set(acted)
    inside = [element for position, element in enumerate(elements) if position in kept]
    outside = [element for position, element in enumerate(elements) if position not in kept]
    found: list[Condition] = []
    properties = sorted({path for element in inside for path in _scalar_paths(element)})
    equal = []
    for prop in properties:
        keys = parse_path(prop)
        values = [value_at(element, keys) for element in inside]
        # Text values only: JSONPath, JMESPath and Python compare a number or a flag each their own way.
        if isinstance(values[0], str) and all(value == values[0] for value in values):
            candidate = Condition(element_path, prop, "equals", _text(values[0]))
            if not any(meets(element, candidate) for element in outside):
                equal.append(candidate)
    # A state's name before its numeric code: what a reader recognises.
    found += sorted(equal, key=lambda condition: (not condition.value[:1].isalpha(), condition.property))
    for prop, key in sorted({(prop, key) for element in inside for prop, key in _tag_keys(element)}):
        candidate = Condition(element_path, prop, "tag", key)
        if all(meets(element, candidate) for element in inside) and not any(meets(element, candidate) for element in outside):
            found.append(candidate)
    for prop in properties:
        keys = parse_path(prop)
        values = [value_at(element, keys) for element in inside]
        if not all(isinstance(value, str) for value in values):
            continue
        common = _common_prefix(values)
        cut = max((match.end() for match in SEPARATOR.finditer(common)), default=len(common))
        for prefix in dict.fromkeys((common[:cut], common)):
            candidate = Condition(element_path, prop, "prefix", prefix)
            if prefix and not any(meets(element, candidate) for element in outside):
                found.append(candidate)
                break
    return found


def _scalar_paths(element: object, prefix: str = "", depth: int = 0):
    if not isinstance(element, dict) or depth > 2:
        return
    for name, value in element.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            continue
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            yield from _scalar_paths(value, path, depth + 1)
        elif isinstance(value, (str, bool, int)):
            yield path


def _tag_keys(element: object):
    """(tag list member, key) for each tag of an element: a list of structures with a ``Key``."""
    if not isinstance(element, dict):
        return
    for name, value in element.items():
        if isinstance(value, list) and re.fullmatch(r"[A-Za-z0-9_]+", name):
            for tag in value:
                if isinstance(tag, dict) and isinstance(tag.get("Key"), str):
                    yield name, tag["Key"]


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)
    length = 0
    while length < min(len(first), len(last)) and first[length] == last[length]:
        length += 1
    return first[:length]


def _text(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
