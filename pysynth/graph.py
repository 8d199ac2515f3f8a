"""A runbook as a picture of its data flow: a Mermaid flowchart or a Graphviz DOT graph.

Nodes are the runbook's inputs and steps, each step labelled with its API call (or its action) and
the log records it reproduces; solid edges carry a value (an input or a step output) into the
request members that take it, dotted edges show the order steps run in. The graph walks the steps
generically: a wait is drawn as a hexagon, a branch as a rhombus with an edge to the first step
of each of its ways (its arms' steps follow, and the steps after it follow each arm's last step; a
tested call's outcome flows into the branch that tests it), a loop as a subroutine heading a cluster (a Mermaid subgraph, a DOT cluster) that holds its
body, and any other action as a rounded node named by its action. The loop's list flows into the
loop node; its element and iteration number flow from the loop node into the body steps that take
them, and a dashed edge leads from the body's last step back to the loop node for the next element.

Every label comes from the runbook and so from a log: it is escaped for the format, never written
raw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath

from pysynth.model import EXECUTE_AWS_API, IndexRef, InputRef, ItemRef, OutputRef, Runbook, Step, used_values, walk
from pysynth.render.prose import plural, test_text, walked_text
from pysynth.render.shapes import leaf_references, leaves

FORMATS = ("mermaid", "dot")
# How each kind of step is drawn: (Mermaid brackets, DOT shape). Anything else: rounded, by name.
SHAPES = {
    EXECUTE_AWS_API: (("[", "]"), "box"),
    "aws:waitForAwsResourceProperty": (("{{", "}}"), "hexagon"),
    "aws:assertAwsResourceProperty": (("{{", "}}"), "hexagon"),
    "aws:branch": (("{", "}"), "diamond"),
    "aws:loop": (("[[", "]]"), "box3d"),
}
OTHER_SHAPE = (("([", "])"), "box")
# The records a node names before it says how many more there are.
NODE_RECORDS = 3
# Members of a branch's inputs that name the step it goes to next.
NEXT_STEP_MEMBERS = ("NextStep", "Default")


@dataclass
class _Node:
    id: str
    lines: list[str]
    brackets: tuple[str, str]
    shape: str
    style: str = ""
    cluster: str | None = None  # the cluster of the innermost loop it belongs to


@dataclass
class _Edge:
    source: str
    target: str
    label: str
    kind: str = "data"  # data, order, branch or repeat (a loop's body back to the loop)


@dataclass
class _Cluster:
    """A loop: its node (``head``) and its body's steps."""

    id: str
    label: str
    parent: str | None
    head: str


@dataclass
class _Graph:
    nodes: list[_Node] = field(default_factory=list)
    edges: list[_Edge] = field(default_factory=list)
    clusters: list[_Cluster] = field(default_factory=list)


def graph(runbook: Runbook, fmt: str = "mermaid") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}: choose one of {', '.join(FORMATS)}")
    built = _build(runbook)
    return _mermaid(built) if fmt == "mermaid" else _dot(built)


def _build(runbook: Runbook) -> _Graph:
    built = _Graph()
    inputs = {item.name: f"i{number}" for number, item in enumerate(runbook.inputs, 1)}
    steps = {step.name: f"s{number}" for number, step in enumerate(walk(runbook.steps), 1)}
    for item in runbook.inputs:
        kind = f"{item.type}, secret" if item.secret else item.type
        built.nodes.append(_Node(inputs[item.name], [item.name, f"input ({kind})"], ("[/", "/]"), "parallelogram",
                                 "input"))
    _add_steps(built, runbook, runbook.steps, inputs, steps, None)
    return built


def _add_steps(built: _Graph, runbook: Runbook, steps: list[Step], inputs: dict[str, str], ids: dict[str, str],
               cluster: str | None, previous: list[tuple[str, str, str]] = ()) -> list[tuple[str, str, str]]:
    """The nodes of ``steps`` (one level: the runbook's, a loop's body or a branch's arm) and the edges
    into them; ``previous`` are the (node, label, kind) edges into the first step. Returns those out
    of the last: a branch's way out of each arm, or of the branch itself where an arm is empty."""
    previous = list(previous)
    for step in steps:
        target = ids[step.name]
        brackets, shape = SHAPES.get(step.action, OTHER_SHAPE)
        lines = [step.name, _what(runbook, step), *_notes(step), *_records(step)]
        inner = f"c{target[1:]}" if step.loop is not None and step.loop.steps else None
        built.nodes.append(_Node(target, lines, brackets, shape, cluster=inner or cluster))
        for source, label, kind in previous:
            built.edges.append(_Edge(source, target, label, kind))
        previous = [(target, "", "order")]
        for source, label in _flows(step, inputs, ids):
            built.edges.append(_Edge(source, target, label))
        if step.branch is not None:
            previous = []
            if step.branch.test.kind == "failed" and step.branch.test.step in ids:
                built.edges.append(_Edge(ids[step.branch.test.step], target, "outcome"))
            for arm, label in ((step.branch.steps, "when it holds"), (step.branch.otherwise, "otherwise")):
                start = [(target, label, "branch")]
                previous += _add_steps(built, runbook, arm, inputs, ids, cluster, start) if arm else start
        if step.action == "aws:branch":
            for label, name in _next_steps(step.request):
                if name in ids:
                    built.edges.append(_Edge(target, ids[name], label, "branch"))
        if inner is not None:
            built.clusters.append(_Cluster(inner, f"loop {step.name}", cluster, target))
            _add_steps(built, runbook, step.loop.steps, inputs, ids, inner)
            built.edges.append(_Edge(target, ids[step.loop.steps[0].name], "", "order"))
            built.edges.append(_Edge(ids[step.loop.steps[-1].name], target, "next element", "repeat"))
    return previous


def _what(runbook: Runbook, step: Step) -> str:
    if step.branch is not None:
        return f"{step.action} on whether {test_text(step.branch.test)}"
    if step.loop is not None:
        return f"{step.action} over {walked_text(runbook, step)}"
    if step.service and step.api:
        call = f"{step.service} {step.api}"
        return call if step.action == EXECUTE_AWS_API else f"{step.action}: {call}"
    request = step.request if isinstance(step.request, dict) else {}
    service, api = request.get("Service"), request.get("Api")
    if isinstance(service, str) and isinstance(api, str):
        return f"{step.action}: {service} {api}"
    return step.action


def _notes(step: Step) -> list[str]:
    """What the step does beyond one call: its iterations, wait, retries, or the list it sends at once."""
    lines = []
    if step.loop is not None:
        lines.append(f"{plural(step.loop.iterations, 'iteration')} in the log")
    if step.batch is not None:
        lines.append(f"one call for the whole list in {step.batch}")
    if step.wait is not None:
        until = (f"{step.wait.property_selector} in {', '.join(step.wait.desired_values)}"
                 if step.wait.property_selector else "it succeeds")
        lines.append(f"waits ({step.wait.waiter}) until {until}")
    if step.retry is not None:
        errors = f" on {', '.join(step.retry.errors)}" if step.retry.errors else ""
        lines.append(f"retried up to {step.retry.max_attempts} times{errors}")
    if step.expected_errors:
        lines.append(f"may fail with {', '.join(step.expected_errors)}: the branch after it tests that")
    return lines


def _records(step: Step) -> list[str]:
    """``trail.json record 4``: the file's name, not its whole path, to keep nodes small; a batch
    step's many records, the first few. A loop step's records are its body steps' calls in every
    iteration: its iterations line says how many, and its body's nodes name their first."""
    if step.loop is not None:
        return []
    shown = [f"{PurePath(record.file).name} record {record.index}" for record in step.records[:NODE_RECORDS]]
    more = len(step.records) - NODE_RECORDS
    return shown + ([f"and {plural(more, 'more record')}"] if more > 0 else [])


def _flows(step: Step, inputs: dict[str, str], steps: dict[str, str]) -> list[tuple[str, str]]:
    """(source node, label) for each value flowing into the step, members that take it joined."""
    members: dict[tuple[str, str], list[str]] = {}
    # A branch's tested value flows in as its Variable.
    taken = [(path.lstrip("."), reference) for path, leaf, _ in leaves(used_values(step) if step.branch else step.request,
                                                                       None, "")
             for reference in leaf_references(leaf)]
    over = step.loop.over if step.loop is not None else None
    if isinstance(over, list):
        # A gathered list: each value flows in from where the runbook has it.
        taken += [(f"element {number}", reference) for number, value in enumerate(over, start=1)
                  for reference in leaf_references(value)]
    elif over is not None:
        taken.append(("each element", over))
    for path, reference in taken:
        if isinstance(reference, InputRef) and reference.name in inputs:
            key = (inputs[reference.name], "")
        elif isinstance(reference, OutputRef) and reference.step in steps:
            key = (steps[reference.step], reference.output)
        elif isinstance(reference, (ItemRef, IndexRef)) and reference.loop in steps:
            key = (steps[reference.loop], "element" if isinstance(reference, ItemRef) else "iteration number")
        else:
            continue  # runtime values (account, region, partition) come from no node
        members.setdefault(key, []).append(path)
    return [
        (source, (f"{output} → " if output else "") + ", ".join(paths))
        for (source, output), paths in members.items()
    ]


def _next_steps(value: object, label: str = ""):
    """(label, step name) for every NextStep and Default of a branch's inputs."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in NEXT_STEP_MEMBERS and isinstance(item, str):
                yield (label or "default") if key == "Default" else (label or "choice"), item
            else:
                yield from _next_steps(item, label)
    elif isinstance(value, list):
        for number, item in enumerate(value, 1):
            yield from _next_steps(item, f"choice {number}")


def _in_order(built: _Graph, cluster: str | None, add_node, add_cluster) -> None:
    """The nodes of one cluster (None: outside every loop) in runbook order, each inner loop's
    cluster where its loop node stands."""
    heads = {inner.head: inner for inner in built.clusters if inner.parent == cluster}
    for node in built.nodes:
        if node.id in heads:
            add_cluster(heads[node.id])
        elif node.cluster == cluster:
            add_node(node)


# --------------------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: its entity codes for what Mermaid would read."""
    special = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;", "`": "#96;", "|": "#124;"}
    return "".join(special.get(char, char if char.isprintable() else " ") for char in text)


def _mermaid(built: _Graph) -> str:
    lines = ["flowchart TD"]

    def add_node(node: _Node) -> None:
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        opening, closing = node.brackets
        lines.append(f'  {node.id}{opening}"{label}"{closing}')

    def add_cluster(inner: _Cluster) -> None:
        lines.append(f'  subgraph {inner.id} ["{_mermaid_text(inner.label)}"]')
        _in_order(built, inner.id, add_node, add_cluster)
        lines.append("  end")

    _in_order(built, None, add_node, add_cluster)
    arrows = {"data": "-->", "order": "-.->", "branch": "==>", "repeat": "-.->"}
    for edge in built.edges:
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrows[edge.kind]}{label} {edge.target}")
    inputs = [node.id for node in built.nodes if node.style == "input"]
    if inputs:
        lines.append("  classDef input fill:#eef,stroke:#66a")
        lines.append(f"  class {','.join(inputs)} input")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- DOT


def _dot_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a DOT string takes JSON's escapes for \ and "


def _dot(built: _Graph) -> str:
    lines = ["digraph runbook {", "  rankdir=TB;", '  node [fontname="Helvetica"];', '  edge [fontname="Helvetica"];']

    def add_node(node: _Node) -> None:
        style = ' style=filled fillcolor="#eeeeff"' if node.style == "input" else ""
        label = _dot_text("\n".join(node.lines))
        lines.append(f"  {node.id} [shape={node.shape} label={label}{style}];")

    def add_cluster(inner: _Cluster) -> None:
        # Graphviz draws a subgraph as a box only when its name starts with "cluster".
        lines.append(f"  subgraph cluster_{inner.id} {{")
        lines.append(f"  label={_dot_text(inner.label)}; style=dashed;")
        _in_order(built, inner.id, add_node, add_cluster)
        lines.append("  }")

    _in_order(built, None, add_node, add_cluster)
    styles = {"data": "", "order": " style=dotted", "branch": " style=bold", "repeat": " style=dashed"}
    for edge in built.edges:
        label = f" label={_dot_text(edge.label)}" if edge.label else ""
        lines.append(f"  {edge.source} -> {edge.target} [{(label + styles[edge.kind]).strip()}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
