"""What a certification finds: the kinds of problems, each problem, and the verdict."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field


from pysynth.model import EXECUTE_AWS_API, WAIT_FOR_PROPERTY, RecordRef

# Problem kinds.
MISSING_CALL = "missing-call"  # a kept call that no step makes
EXTRA_STEP = "extra-step"  # a step that makes a call the log never made
WRONG_OPERATION = "wrong-operation"  # a step that makes another operation than the call it stands for
VALUE_DIFFERS = "value-differs"  # a request value other than the logged one
LITERAL_CREATED_ID = "literal-created-id"  # a value an earlier call created, written as a literal
OUTPUT_BEFORE_PRODUCER = "output-before-producer"  # an output used before (or without) its step
SECRET_LITERAL = "secret-literal"  # a value the log hides, written into the runbook
OMITTED_VALUE = "omitted-value"  # a value the call needed that the log hides or never logs, left out
UNKNOWN_OUTPUT = "unknown-output"  # an output the step does not declare, or its response lacks
UNKNOWN_INPUT = "unknown-input"  # an input the runbook does not declare, or an unknown global
UNSUPPORTED_ACTION = "unsupported-action"  # a step action a log cannot vouch for (another script…)
RECORDS_DIFFER = "records-differ"  # check_synthesized: a step claims other records or iterations than it makes
OUTSIDE_LOOP = "outside-loop"  # a loop's element, iteration or body output used outside that loop
UNREPLAYABLE_LOOP = "unreplayable-loop"  # a loop whose list the log cannot give (no recorded response)
ITERATION_COUNT = "iteration-count"  # a loop's list longer or shorter than the iterations the log shows
ITERATION_ORDER = "iteration-order"  # a loop's list in another order than the log's iterations
BATCH_DIFFERS = "batch-differs"  # a batch step's one call sends another list than its logged calls together
OUTSIDE_ARM = "outside-arm"  # an output of a step in a branch's arm used outside that arm
BAD_TEST = "bad-test"  # a branch test that names no earlier step, codes its step does not expect, or no value
UNDECIDED_BRANCH = "undecided-branch"  # a branch test the demonstration cannot decide (no response recorded)

# Actions that make an API call a log record can vouch for (a wait repeats a read the log shows).
API_ACTIONS = (EXECUTE_AWS_API, WAIT_FOR_PROPERTY)
# Actions that only read and that no log record stands for.
READ_ONLY_ACTIONS = {"aws:assertAwsResourceProperty", "aws:sleep"}
GLOBAL_VALUES = {"ACCOUNT_ID": "account_id", "REGION": "region", "AWS_PARTITION": "partition"}
MESSAGE_VALUE_LENGTH = 120
LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(slots=True)
class Problem:
    """Why a runbook is not certified. ``message`` is one line; the other fields locate it
    (``iterations``: inside loops, the iteration of each enclosing loop, outermost first)."""

    kind: str
    message: str
    step: str | None = None
    record: RecordRef | None = None
    path: str | None = None
    expected: object = None
    found: object = None
    iterations: tuple[int, ...] = ()
    # Which demonstration shows it, where a runbook is certified against several.
    demonstration: str | None = None

    def __post_init__(self) -> None:
        self.message = _one_line(self.message)

    def shown_in(self, demonstration: str) -> None:
        """Name the demonstration that shows the problem, first in its message."""
        self.demonstration = demonstration
        self.message = _one_line(f"demonstration {demonstration}: {self.message}")


def _one_line(text: str) -> str:
    # Step names, map keys and file names come from the user and may hold line breaks: escape them.
    return LINE_BREAKS.sub(lambda match: json.dumps(match.group())[1:-1], text)


@dataclass(slots=True)
class Verdict:
    """Each step with the records it reproduces (every step, loop bodies included, in runbook order;
    a body step's records are those of all its iterations), and the problems found.
    ``first_iterations``: for each step in a loop body, the records of its first iteration, and for
    each loop step, those of all its iterations the first time it ran (what a synthesized step
    claims); ``iterations``: for each loop step, how many iterations each time it ran (once per
    iteration of an enclosing loop); ``arms``: for each branch step, the demonstration and the arm
it took (``steps`` or ``otherwise``) each time it ran."""

    matches: list[tuple[str, list[RecordRef]]]
    problems: list[Problem]
    first_iterations: dict[str, list[RecordRef]] = field(default_factory=dict)
    iterations: dict[str, list[int]] = field(default_factory=dict)
    arms: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def certified(self) -> bool:
        return not self.problems
