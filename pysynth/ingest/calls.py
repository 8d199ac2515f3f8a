"""The canonical API call: what a botocore client would send for one CloudTrail record."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class CanonicalCall:
    """One record mapped onto botocore's model.

    ``params`` is the request as ``client.<operation>(**params)`` would take it (member names
    exactly as botocore spells them); ``response`` is the response elements mapped onto the
    operation's output shape, or ``None`` when CloudTrail logged none. ``hidden`` lists the
    request paths (``Password``, ``Tags[0].Value``) whose real value the log does not show;
    ``params`` holds a type-correct placeholder there so the request still validates.
    """

    service: str
    operation: str
    params: dict
    response: dict | None
    hidden: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class NotMappable(Exception):
    """A record that cannot become a canonical call; the message is the user-facing reason."""
