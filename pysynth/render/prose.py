"""Prose in the renderings and messages: comments and help texts that no log value can break, which
log records a step reproduces, and counts with the right plural."""

from __future__ import annotations

import unicodedata

from pysynth.model import RecordRef, Step


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
