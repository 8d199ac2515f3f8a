"""Names and prose of a runbook built from the solver's answer: unique step, input and output
names SSM accepts, descriptions of steps and waits, records and the caller by name."""

from __future__ import annotations

import re

from pysynth.facts import Session
from pysynth.ingest.events import Event
from pysynth.model import RecordRef
from pysynth.render.prose import plural


def step_names(session: Session, calls: list[int], waits: dict[int, str]) -> dict[int, str]:
    taken = Names()
    return {
        call: taken.unique(f"WaitFor{waits[call]}" if call in waits else session.call_event(call).call.operation)
        for call in calls
    }


def plural_word(word: str) -> str:
    """A member's name in the plural: ``Buckets``, ``GroupNames`` (a name already plural stays)."""
    return word if word.endswith("s") else word + "s"


def times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")


def wait_description(session: Session, poll, waiter: str) -> str:
    event = session.call_event(poll.call)
    consumer = (f" before {session.call_event(poll.consumer).call.operation}"
                if poll.consumer is not None else "")
    return (f"Waits until {event.call.service} waiter {waiter} accepts {event.call.operation}: the log shows "
            f"{who(event)} polling it {times(poll.reads)}{consumer}, last at {event.time}.")


class Names:
    """Unique names: the second CreateSubnet is CreateSubnet2, the third CreateSubnet3."""

    def __init__(self, reserved: tuple[str, ...] = ()):
        self.taken: set[str] = set(reserved)
        self.next_number: dict[str, int] = {}

    def unique(self, name: str) -> str:
        candidate = name
        number = self.next_number.get(name, 2)
        while candidate in self.taken:
            candidate, number = f"{name}{number}", number + 1
        self.next_number[name] = number
        self.taken.add(candidate)
        return candidate


def identifier(text: str) -> str:
    """A name SSM accepts for a parameter, step or output: letters, digits and underscores."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    return "".join(word[:1].upper() + word[1:] for word in words)


def first_sentence(documentation: str | None) -> str:
    """botocore's member documentation, as plain text, up to its first full stop."""
    return sentences(documentation, 1)


def sentences(documentation: str | None, count: int) -> str:
    """botocore's member documentation, as plain text, its first ``count`` sentences."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", documentation or "")).strip()
    sentences = re.match(r"((?:.+?\.(?:\s|$)){1,%d})" % count, text)
    text = sentences.group(1).strip() if sentences else text
    return text if len(text) <= 200 * count else text[:200 * count - 1] + "…"


def record(event: Event) -> RecordRef:
    return RecordRef(file=event.file, index=event.index, event_id=event.event_id, time=event.time)


def step_description(event: Event, records: int) -> str:
    retries = f" (and {records - 1} identical retr{'y' if records == 2 else 'ies'})" if records > 1 else ""
    return f"{event.call.service} {event.call.operation} as {who(event)} did at {event.time}{retries}."


def who(event: Event) -> str:
    """The caller by name: its ARN would put the account id into the runbook."""
    principal = event.principal
    return principal.user_name or principal.session_name or principal.role_name or principal.kind or "someone"


def description(session: Session) -> str:
    writes = [event for event in session.calls if not event.read_only]
    first, last = writes[0], writes[-1]
    principals = sorted({who(event) for event in writes})
    return (
        f"Reproduces {plural(len(writes), 'write call')} made by {', '.join(principals)} "
        f"between {first.time} and {last.time}, synthesized by pysynth from CloudTrail."
    )
