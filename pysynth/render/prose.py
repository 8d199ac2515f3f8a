"""Prose in the renderings and messages: comments and help texts that no log value can break, which
log records a step reproduces, what a loop walks, and counts with the right plural."""

from __future__ import annotations

import json
import unicodedata

from pysynth.model import (
    Condition,
    GlobalRef,
    IndexRef,
    InputRef,
    ItemRef,
    OutputRef,
    RecordRef,
    Runbook,
    Step,
    Template,
    Test,
    walk,
)

# A list of values a loop walks is named by its first elements.
LISTED_ELEMENTS = 3
# How each test of a list output's condition reads.
CONDITION_TESTS = {"equals": "is", "prefix": "starts with", "tag": "has a tag"}


def comment(text: str) -> str:
    """Text for a one-line comment: control, separator and surrogate characters escaped."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") else char for char in text
    )


def printable(text: str) -> str:
    """Prose for a terminal (help texts): lines kept, every other control character escaped."""
    return "\n".join(comment(line) for line in text.split("\n"))


def record_text(record: RecordRef) -> str:
    details = ([f"event {record.event_id}"] if record.event_id else []) + ([record.time] if record.time else [])
    return f"{record.file} record {record.index}" + (f" ({', '.join(details)})" if details else "")


def records_text(step: Step) -> str:
    """Which log records a step reproduces, for its description or comment."""
    return f"Reproduces {'; '.join(map(record_text, step.records))}." if step.records else "Reproduces no logged record."


def plural(number: int, noun: str, many: str | None = None) -> str:
    """``1 step``, ``2 steps``; ``many`` where the plural is not the noun and an s."""
    return f"{number:,} {noun if number == 1 else many or noun + 's'}"


def condition_text(condition: Condition) -> str:
    """``Name starts with "logs-"``, ``State.Name is "running"``, ``Tags has a tag "backup"``: the
    value quoted as JSON, so that no log value breaks the line it is in."""
    return f"{condition.property} {CONDITION_TESTS.get(condition.test, condition.test)} {json.dumps(condition.value)}"


def listed_text(values: list) -> str:
    """A list of values by its first elements: ``"10.0.1.0/24", "10.0.2.0/24"``, or where it holds
    references, where each comes from: ``output CreateQueue.QueueUrl, input Name2 and 5 more``."""
    shown = ", ".join(value_prose(value) for value in values[:LISTED_ELEMENTS])
    more = f" and {len(values) - LISTED_ELEMENTS} more" if len(values) > LISTED_ELEMENTS else ""
    return shown + more


def value_prose(value: object) -> str:
    """A value in prose: literal text quoted as JSON, a reference by what it names (``input Name``,
    ``output CreateQueue.QueueUrl``, ``the element of loop EachBucket``), a template its parts
    joined by +."""
    if isinstance(value, InputRef):
        return f"input {value.name}"
    if isinstance(value, OutputRef):
        return f"output {value.step}.{value.output}"
    if isinstance(value, GlobalRef):
        return f"runtime value {value.name}"
    if isinstance(value, ItemRef):
        return f"the element of loop {value.loop}"
    if isinstance(value, IndexRef):
        return f"the iteration number of loop {value.loop}"
    if isinstance(value, Template):
        return " + ".join(value_prose(part) for part in value.parts)
    return json.dumps(value)


def test_text(test: Test) -> str:
    """What a branch tests, in prose: ``step GetUser failed with NoSuchEntity``, ``input Owner is set``,
    ``output DescribeInstances.State is "running"``."""
    negated = "not " if test.negate else ""
    if test.kind == "failed":
        codes = " or ".join(test.codes)
        return f"step {test.step} succeeded (not {codes})" if test.negate else f"step {test.step} failed with {codes}"
    if test.kind == "set":
        return f"input {test.value.name} is {negated}set"
    return f"{value_prose(test.value)} is {negated}{json.dumps(test.text, ensure_ascii=False)}"


def walked_text(runbook: Runbook, step: Step) -> str:
    """What a loop step walks: ``input Buckets``, ``ListBuckets.Names (Buckets[*].Name where Name
    starts with "logs-")``, or a literal list (``the list "10.0.1.0/24", "10.0.2.0/24"``, its first
    elements only, quoted)."""
    return list_text(runbook, step.loop.over)


def list_text(runbook: Runbook, over) -> str:
    """A list a loop walks or a batch step takes, as ``walked_text`` says it."""
    if isinstance(over, list):
        return f"the list {listed_text(over)}"
    if isinstance(over, InputRef):
        return f"input {over.name}"
    producer = next((item for item in walk(runbook.steps) if item.name == over.step), None)
    output = next((item for item in producer.outputs if item.name == over.output), None) if producer else None
    if output is None:
        return f"{over.step}.{over.output}"
    where = f" where {condition_text(output.where)}" if output.where else ""
    return f"{over.step}.{over.output} ({output.path}{where})"
