"""The ``pysynth`` command line. Data goes to stdout, diagnostics to stderr."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from pysynth import collector
from pysynth.beside import Beside
from pysynth.demos import Demonstration, demonstrations_of, parse_split
from pysynth.facts import analyse_demonstrations
from pysynth.ingest.events import Event, json_line
from pysynth.ingest.select import AS_EVENTS, AS_JSON, AmbiguousPrincipal, Ingested, InputError, LeftOut, Selection, ingest
from pysynth.render import RenderError, checked_rendering
from pysynth.render.prose import plural
from pysynth.report import (
    comparison_table, events_table, explain_violations, principals_table, print_problems,
    summary_table, synth_summary, task_json, tasks_table,
)
from pysynth.resources import asp_root
from pysynth.solve import SolveError, format_facts
from pysynth.ssm import DocumentError, load_runbook
from pysynth.noise import drop_noise
from pysynth.synth import Synthesis, synthesize_demonstrations
from pysynth.tasks import DEFAULT_GAP, find_task, find_tasks, parse_gap
from pysynth.verify import check_synthesized, matches_table, verify

app = typer.Typer(
    help="Turn CloudTrail logs of manual AWS work into runbooks you can trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, as most command-line tools print it: options with the kind of value they take
    # (--since TIME), paragraphs rewrapped to the terminal.
    rich_markup_mode=None,
)
# Piped tables are read in pagers and files: give them room rather than the 80-column default.
stdout = Console(width=None if sys.stdout.isatty() else 200)
# Diagnostics are one line each, whatever the terminal width, so they can be grepped.
stderr = Console(stderr=True, soft_wrap=True)

# Exit codes: 1 when nothing usable remains, 2 for a choice the user must make or a bad option
# or file, 3 when no runbook satisfies the rules and policies, 4 when a rendering fails its checks.
EXIT_NOTHING_USABLE = 1
EXIT_CHOOSE = 2
EXIT_USAGE = 2
EXIT_UNSATISFIABLE = 3
EXIT_FAILED_CHECK = 4
EXIT_NOT_CERTIFIED = 5  # verify: the runbook does not reproduce the log
EXIT_RUN_FAILED = 6  # run: a step failed, or the AWS session could not be set up

LogArgument = Annotated[
    list[str], typer.Argument(metavar="LOG", help="Log files, directories (searched recursively) or - for stdin.")
]
PrincipalOption = Annotated[
    Optional[str], typer.Option("--principal", metavar="PRINCIPAL", help="ARN, user name, role session name or access key id.")
]
AllPrincipalsOption = Annotated[
    bool, typer.Option("--all-principals", help="Keep the write calls of every principal.")
]
SinceOption = Annotated[Optional[str], typer.Option("--since", metavar="TIME", help="Only records at or after this time (ISO 8601).")]
UntilOption = Annotated[Optional[str], typer.Option("--until", metavar="TIME", help="Only records at or before this time (ISO 8601).")]
RegionOption = Annotated[Optional[list[str]], typer.Option("--region", metavar="REGION", help="Only records in this region (repeatable).")]
# The commands that generalize over demonstrations take their logs as LOG arguments, --demo, or both.
DemoLogArgument = Annotated[
    Optional[list[str]],
    typer.Argument(metavar="LOG", show_default=False,
                   help="Log files, directories (searched recursively) or - for stdin: the first demonstration."),
]
DemoOption = Annotated[
    Optional[list[str]],
    typer.Option("--demo", metavar="LOG", help="Another demonstration of the task: a log file, directory, tar or "
                                               "pysynth record trace, read with the same selection; repeatable."),
]
SplitOption = Annotated[
    Optional[str],
    typer.Option("--split", metavar="HOW", help="Cut each log into demonstrations: idle=DURATION where no call came "
                                                "for that long (idle=15m), or session (each session of the principal)."),
]
KeepNoiseOption = Annotated[
    bool, typer.Option("--keep-noise", help="Keep the calls dropped as noise: failures a later call fixed, resources "
                                            "created and deleted unused, duplicate attempts.")
]


@app.callback()
def pysynth() -> None:
    """Turn CloudTrail logs of manual AWS work into runbooks you can trust."""


EngineOption = Annotated[
    str, typer.Option("--engine", metavar="ENGINE", help="local (this machine's cores) or dask (a Dask cluster; pip install 'pysynth[dask]').")
]
SchedulerOption = Annotated[
    Optional[str],
    typer.Option("--scheduler", metavar="ADDRESS", help="With --engine dask: the scheduler's address (tcp://host:8786); "
                                     "by default a local cluster on this machine's cores."),
]


@app.command(short_help="Show every record as an API call, kept or dropped with a reason.")
def events(
    logs: LogArgument,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    dropped: Annotated[bool, typer.Option("--dropped", help="Show only the dropped records and why.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout, one object per input record.")] = False,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
    keep_noise: KeepNoiseOption = False,
) -> None:
    """Read CloudTrail logs and show every record as a canonical API call, kept or dropped with a reason."""
    selection = _selection(principal, all_principals, since, until, region)
    if as_json:
        # Records the selection leaves out stream out as they are read; while the choice of
        # principal may still turn out ambiguous, they wait in a temporary file instead.
        may_be_ambiguous = principal is None and not all_principals
        spool = tempfile.TemporaryFile() if may_be_ambiguous else None
        sys.stdout.flush()
        out = spool or sys.stdout.buffer
        ingested = _ingest(logs, selection, left_out=LeftOut(AS_JSON, out.writelines), engine=engine, scheduler=scheduler)
        if not keep_noise:
            drop_noise(ingested.events)
        if spool:
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout.buffer)
            spool.close()
        write = sys.stdout.buffer.write
        for event in ingested.events:
            if not (dropped and event.kept):
                write(json_line(event))
        sys.stdout.buffer.flush()
    else:
        # The table shows the records of the selection; those outside it are only counted.
        shown: list = []
        ingested = _ingest(logs, selection, engine=engine, scheduler=scheduler,
                           left_out=LeftOut(AS_EVENTS, shown.extend, outside=False))
        if not keep_noise:
            drop_noise(ingested.events)
        shown = sorted(shown + ingested.events, key=lambda event: event.epoch)
        if dropped:
            shown = [event for event in shown if not event.kept]
        stdout.print(events_table(shown, title="dropped records" if dropped else "records"))
    stderr.print(summary_table(ingested))
    if not ingested.records:
        raise typer.Exit(EXIT_NOTHING_USABLE)


@app.command(short_help="Cut a trail into candidate tasks, each with the command that synthesizes it.")
def tasks(
    logs: LogArgument,
    principal: PrincipalOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    gap: GapOption = DEFAULT_GAP,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout, one object per task.")] = False,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """Cut a trail into candidate tasks: each principal's sessions, cut where no write call came for
    --gap, grouped when their write calls have the same shape, with the command that synthesizes each."""
    gap_seconds = _gap_seconds(gap)
    selection = _selection(principal, principal is None, since, until, region)
    ingested = _ingest(logs, selection, evidence=False, engine=engine, scheduler=scheduler)
    found = find_tasks(ingested.kept, gap_seconds)
    command = _synth_command(logs, principal, since, until, region, gap)
    if as_json:
        sys.stdout.flush()
        for task in found:
            sys.stdout.buffer.write(orjson.dumps(task_json(task, command), option=orjson.OPT_APPEND_NEWLINE))
        sys.stdout.buffer.flush()
    else:
        stdout.print(tasks_table(found, command))
    sessions = sum(len(task.sessions) for task in found)
    stderr.print(f"{ingested.records} records read, {len(ingested.kept)} write calls kept, "
                 f"{sessions} sessions, {len(found)} distinct tasks")
    if not found:
        raise typer.Exit(EXIT_NOTHING_USABLE)


TaskOption = Annotated[
    Optional[str],
    typer.Option("--task", metavar="ID", help="A task id from pysynth tasks (its first occurrence), or ID.N for its N-th occurrence."),
]
GapOption = Annotated[str, typer.Option("--gap", metavar="DURATION", help="Idle time that ends a session: 15m, 90s, 1h30m.")]


def _gap_seconds(gap: str) -> float:
    try:
        return parse_gap(gap)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--gap") from None


def _synth_command(logs: list[str], principal, since, until, region, gap: str) -> str:
    """The ``pysynth synth`` command line that finds the same tasks in the same logs."""
    words = ["pysynth", "synth"]
    for option, value in (("--principal", principal), ("--since", since), ("--until", until)):
        if value:
            words += [option, value]
    for name in region or []:
        words += ["--region", name]
    if gap != DEFAULT_GAP:
        words += ["--gap", gap]
    return shlex.join(words + list(logs))


def _task_selection(logs: list[str], selection: Selection, task: str, gap: str, engine, scheduler) -> Selection:
    """The selection of exactly one occurrence of a task ``pysynth tasks`` listed."""
    gap_seconds = _gap_seconds(gap)
    scope = Selection(principal=selection.principal, since=selection.since, until=selection.until,
                      regions=selection.regions, all_principals=selection.principal is None)
    ingested = _ingest(logs, scope, evidence=False, engine=engine, scheduler=scheduler)
    session = find_task(find_tasks(ingested.kept, gap_seconds), task)
    if session is None:
        stderr.print(Text(f"error: no task {task} in these logs with this selection and --gap {gap}; "
                          "list them with: pysynth tasks", style="red"))
        raise typer.Exit(EXIT_USAGE)
    return Selection(principal=session.selector, since=session.start.epoch, until=session.end.epoch,
                     regions=selection.regions)


FORMATS = ("ssm", "bash", "python", "json")
PolicyOption = Annotated[
    Optional[list[str]],
    typer.Option("--policy", metavar="POLICY", help="A policy .lp file, or the name of a shipped one (no-admin-policies); repeatable."),
]
ObjectivesOption = Annotated[
    Optional[Path], typer.Option("--objectives", metavar="FILE.lp", help="An .lp file of priority(Objective,Level) facts replacing the defaults."),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Treat clingo's warnings about the policies and objectives (an undefined "
                                        "predicate, a misspelt name) as errors.")
]
TimeLimitOption = Annotated[
    Optional[float], typer.Option("--time-limit", metavar="SECONDS", help="Seconds the solver may search; the best runbook found is used."),
]


@app.command(short_help="Synthesize the optimal runbook of the selected write calls.")
def synth(
    logs: DemoLogArgument = None,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    output_format: Annotated[str, typer.Option("--format", metavar="FORMAT", help="ssm, bash, python or json.")] = "ssm",
    policy: PolicyOption = None,
    objectives: ObjectivesOption = None,
    time_limit: TimeLimitOption = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="FILE", help="Write the runbook here instead of stdout.")] = None,
    task: TaskOption = None,
    gap: GapOption = DEFAULT_GAP,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
    strict: StrictOption = False,
    with_role: Annotated[
        bool, typer.Option("--with-role", help="With --format ssm: a CloudFormation template holding the document "
                                               "and the least-privilege role it runs under.")
    ] = False,
    demo: DemoOption = None,
    split: SplitOption = None,
    keep_noise: KeepNoiseOption = False,
) -> None:
    """Synthesize the optimal runbook that reproduces the selected write calls."""
    if output_format not in FORMATS:
        raise typer.BadParameter(f"{output_format!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    if with_role and output_format != "ssm":
        _usage_error(f"--with-role wraps an SSM document: it goes with --format ssm, not {output_format}")
    selection = _selection(principal, all_principals, since, until, region)
    if task:
        if demo or split or not logs:
            _usage_error("--task picks one session of the LOG arguments: it goes with neither --demo nor --split")
        selection = _task_selection(logs, selection, task, gap, engine, scheduler)
    # What the command builds lives until it ends, and each phase pauses the cyclic collector
    # (pysynth.collector): a collection between two phases would walk millions of live objects
    # and find next to nothing (a second of a 10,000-call synthesis).
    with collector.paused():
        demonstrations, noise = _demonstrations(logs, demo, selection, split, keep_noise, engine=engine,
                                                scheduler=scheduler)
        synthesis = _synthesize(demonstrations, policy, objectives, time_limit, models=1, strict=strict,
                                target=output_format)
        runbook = synthesis.runbooks[0]
        objectives = synthesis.outcome.objectives
        # The same check as `pysynth verify`, made beside the rendering's own checks (neither needs
        # the other). The rendering's check reads the text back to this very model, so certifying
        # the model certifies what is printed.
        with Beside(lambda: check_synthesized(
            runbook, demonstrations,
            require_waits="unwaited_polls" in objectives, require_retries="unhandled_failures" in objectives,
        ).problems) as certifying:
            try:
                rendering = checked_rendering(runbook, output_format)
            except RenderError as error:
                stderr.print(Text(f"error: the {output_format} rendering failed its checks:\n{error}", style="red"))
                raise typer.Exit(EXIT_FAILED_CHECK) from None
            problems = certifying.result()
        if problems:
            stderr.print(Text("error: the synthesized runbook does not reproduce the log; not printing it:", style="red"))
            for problem in problems:
                stderr.print(Text(f"  {problem.kind}: {problem.message}"))
            raise typer.Exit(EXIT_NOT_CERTIFIED)
        text = rendering.text
        if output_format == "ssm":
            from pysynth.lint import limit_problems

            for problem in limit_problems(text, rendering.document):
                stderr.print(Text(f"warning: Systems Manager would refuse this document: {problem}", style="yellow"))
        if with_role:
            from pysynth.cloudformation import template_with_role

            text = template_with_role(runbook, text)
        if output:
            output.write_text(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        stderr.print(synth_summary(synthesis, runbook, noise))
        if _process_ends_with_command:
            # What the command built is left to the end of the process, which frees it at once:
            # frozen, the collector neither walks it when this pause ends nor frees it object by
            # object at exit (clingo's ground program among it: 0.6 s of a 10,000-call synthesis).
            gc.freeze()


@app.command(short_help="Show the best runbooks side by side, and where they differ.")
def compare(
    logs: DemoLogArgument = None,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    count: Annotated[int, typer.Option("-n", "--count", min=1, max=50, metavar="N", help="How many runbooks to show.")] = 3,
    policy: PolicyOption = None,
    objectives: ObjectivesOption = None,
    time_limit: TimeLimitOption = None,
    strict: StrictOption = False,
    demo: DemoOption = None,
    split: SplitOption = None,
    keep_noise: KeepNoiseOption = False,
) -> None:
    """Show up to N distinct runbooks side by side, optimal first, with the choices where they differ."""
    selection = _selection(principal, all_principals, since, until, region)
    demonstrations, _ = _demonstrations(logs, demo, selection, split, keep_noise)
    synthesis = _synthesize(demonstrations, policy, objectives, time_limit, models=count, strict=strict)
    stdout.print(comparison_table(synthesis, synthesis.runbooks))


@app.command(short_help="Print the ASP facts of the selected calls, to write policies against.")
def facts(
    logs: DemoLogArgument = None,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    demo: DemoOption = None,
    split: SplitOption = None,
    keep_noise: KeepNoiseOption = False,
) -> None:
    """Print the ASP facts of the selected calls, to write policies against (schema: asp/README.md)."""
    selection = _selection(principal, all_principals, since, until, region)
    demonstrations, _ = _demonstrations(logs, demo, selection, split, keep_noise)
    session = analyse_demonstrations(demonstrations)
    kept = sum(len(demonstration.kept) for demonstration in demonstrations)
    counts = [plural(kept, "call"), plural(len(session.slots), "slot"), plural(len(session.outputs), "output")]
    if len(demonstrations) > 1:
        counts.insert(0, plural(len(demonstrations), "demonstration"))
    sys.stdout.write(f"% pysynth facts: {', '.join(counts)}\n")
    sys.stdout.write("% schema: asp/README.md in the pysynth package\n")
    sys.stdout.write(format_facts(session.facts()))


@app.command(
    short_help="Record the AWS calls of a boto3 script or AWS CLI command as a trace.",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "allow_interspersed_args": False},
    options_metavar="[-o TRACE] [--account-id ID] -- python SCRIPT.py ARGS... | aws ARGS...",
)
def record(
    ctx: typer.Context,
    output: Annotated[
        str, typer.Option("-o", "--output", metavar="TRACE", help="Write the trace here; - for stdout (the program's own stdout then goes to stderr).")
    ] = "trace.json",
    account_id: Annotated[
        Optional[str], typer.Option("--account-id", metavar="ACCOUNT", help="Account of the recorded caller; by default from sts get-caller-identity.")
    ] = None,
) -> None:
    """Run a boto3 script or an AWS CLI command in-process and record every AWS call it makes, with
    its full request and response, as a trace the other commands read like a CloudTrail log.

    The exit code is the program's; the trace is written even when the program fails.
    """
    from pysynth.record import RecordError
    from pysynth.record import record as record_session

    try:
        recording = record_session(ctx.args, output, account_id=account_id)
    except RecordError as error:
        stderr.print(Text(f"error: {error}", style="red"))
        raise typer.Exit(EXIT_USAGE) from None
    failed = f" ({recording.failed} failed)" if recording.failed else ""
    where = "stdout" if recording.output == "-" else recording.output
    calls = plural(recording.calls, "AWS call")
    stderr.print(f"recorded {calls}{failed} to {where}; the program exited with {recording.exit_code}")
    raise typer.Exit(recording.exit_code)


@app.command("verify", short_help="Certify that a runbook reproduces the selected write calls.")
def verify_runbook(
    runbook: Annotated[
        Path, typer.Argument(metavar="RUNBOOK", help="The runbook: an SSM Automation document (YAML or JSON) or "
                                                     "pysynth's JSON model.")
    ],
    logs: DemoLogArgument = None,
    principal: PrincipalOption = None,
    all_principals: AllPrincipalsOption = False,
    since: SinceOption = None,
    until: UntilOption = None,
    region: RegionOption = None,
    demo: DemoOption = None,
    split: SplitOption = None,
    keep_noise: KeepNoiseOption = False,
) -> None:
    """Certify that a runbook reproduces the selected write calls: each made by a step, with the
    logged values, in an order the data flow allows. Problems go to stderr, one per line."""
    try:
        document = load_runbook(runbook)
    except DocumentError as error:
        stderr.print(Text(f"error: {error}", style="red"))
        raise typer.Exit(EXIT_USAGE) from None
    demonstrations, _ = _demonstrations(logs, demo, _selection(principal, all_principals, since, until, region),
                                        split, keep_noise)
    verdict = verify(document, demonstrations)
    if not verdict.certified:
        for problem in verdict.problems:
            stderr.print(Text(f"{problem.kind}: {problem.message}"))
        stderr.print(Text(f"not certified: {plural(len(verdict.problems), 'problem')}", style="red"))
        raise typer.Exit(EXIT_NOT_CERTIFIED)
    stdout.print(matches_table(document, verdict))
    records = sum(len(records) for _, records in verdict.matches)
    # Every step counts, a loop's body steps too: with their iterations, they make the calls.
    count = len(verdict.matches)
    shown = f" of {plural(len(demonstrations), 'demonstration')}" if len(demonstrations) > 1 else ""
    stderr.print(Text(f"certified: {plural(count, 'step')} {'reproduces' if count == 1 else 'reproduce'} "
                      f"{'the' if records == 1 else 'all'} {plural(records, 'kept call')}{shown}"))


@app.command("run", short_help="Run an SSM Automation runbook here, through boto3.")
def run_runbook(
    runbook: Annotated[
        Path, typer.Argument(metavar="RUNBOOK", help="The runbook: an SSM Automation document (YAML or JSON) or "
                                                     "pysynth's JSON model.")
    ],
    param: Annotated[
        Optional[list[str]],
        typer.Option(
            "--param", metavar="NAME=VALUE",
            help="A runbook parameter, converted to its SSM type (StringList: JSON or a comma list; StringMap and "
                 "MapList: JSON); repeatable. AutomationAssumeRole=ARN runs the steps as that role. A secret input "
                 "may instead come from the environment variable the bash and Python scripts read (Password: "
                 "PYSYNTH_SECRET_PASSWORD, DbPassword: PYSYNTH_SECRET_DB_PASSWORD).",
        ),
    ] = None,
    endpoint_url: Annotated[
        Optional[str],
        typer.Option("--endpoint-url", envvar="PYSYNTH_ENDPOINT_URL", metavar="URL", help="Send every AWS call to this endpoint."),
    ] = None,
    region: Annotated[
        Optional[str], typer.Option("--region", metavar="REGION", help="The AWS region; by default AWS_REGION or the session's.")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Print the resolved calls as JSON without making any AWS call; an output "
                                       "of an earlier step shows as <Step.Output>, a secret as <secret Name>, a "
                                       "loop's element as <Loop.CurrentIteratorValue>."),
    ] = False,
) -> None:
    """Run an SSM Automation runbook here, to try it before uploading it: each step's AWS call
    through boto3, an aws:loop's steps once per element of its list, progress on stderr, the
    outputs as JSON on stdout. Actions other than aws:executeAwsApi, aws:waitForAwsResourceProperty,
    a for-each aws:loop and pysynth's aws:executeScript that reads every page of a read are refused
    before anything runs; the first failing step stops the run."""
    from pysynth.runner import (
        ConsoleReporter,
        RunFailed,
        RunOptions,
        RunRefused,
        execute,
        json_default,
        parse_parameters,
        plan,
        prepare,
    )

    try:
        document = load_runbook(runbook)
        options = RunOptions(parse_parameters(param or []), endpoint_url, region, dry_run)
        execution = prepare(document, options)
        with ConsoleReporter(stderr, planning=dry_run) as reporter:
            result = plan(document, execution, reporter) if dry_run else execute(document, execution, reporter)
    except (DocumentError, RunRefused) as error:
        for line in str(error).splitlines():
            stderr.print(Text(f"error: {line}", style="red"))
        stderr.print(Text("nothing was run"))
        raise typer.Exit(EXIT_USAGE) from None
    except RunFailed as error:
        stderr.print(Text(f"error: {error}", style="red"))
        raise typer.Exit(EXIT_RUN_FAILED) from None
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False, default=json_default) + "\n")
    sys.stdout.flush()


def _usage_error(message: str) -> NoReturn:
    stderr.print(Text(f"error: {message}", style="red"))
    raise typer.Exit(EXIT_USAGE)


def _kept_or_exit(kept: list, name: str, logs: list[str]) -> None:
    if not kept:
        stderr.print(Text(f"error: no write call of {name} was kept, so there is nothing to automate; "
                          f"see why with: pysynth events --dropped {shlex.join(logs)}", style="red"))
        raise typer.Exit(EXIT_NOTHING_USABLE)


def _demonstrations(logs: list[str] | None, demos: list[str] | None, selection: Selection, split: str | None,
                    keep_noise: bool, **reading) -> tuple[list[Demonstration], list[Event]]:
    """The demonstrations of the LOG arguments (the first), then of each --demo, each read with the
    selection, cut as --split says and without its noise unless --keep-noise; and the noise."""
    sources = ([logs] if logs else []) + [[path] for path in demos or []]
    if not sources:
        _usage_error("no log to read: give LOG arguments, or --demo LOG")
    try:
        how = parse_split(split) if split else None
    except ValueError as error:
        _usage_error(f"--split: {error}")
    for paths in sources:  # a missing file is an error before anything is read
        _check_paths(paths)
    demonstrations: list[Demonstration] = []
    noise: list[Event] = []
    for paths in sources:
        ingested = _ingest(paths, selection, **reading)
        _kept_or_exit(ingested.kept, _names(paths), paths)
        made, dropped = demonstrations_of(_names(paths), ingested.events, how, keep_noise)
        for demonstration in made:
            _kept_or_exit(demonstration.kept, demonstration.name, paths)
        demonstrations += made
        noise += dropped
    if how or len(demonstrations) > 1:
        cut = f"--split {how.text} made " if how else ""
        stderr.print(Text(f"{cut}{plural(len(demonstrations), 'demonstration')}:"))
        for demonstration in demonstrations:
            stderr.print(Text(f"  {demonstration.name}: {plural(len(demonstration.kept), 'write call')}"))
    return demonstrations, noise


def _names(logs: list[str]) -> str:
    """The logs a command read, for a message: all of them, or the first three and how many more."""
    shown = ", ".join("stdin" if log == "-" else log for log in logs[:3])
    return shown + (f" and {len(logs) - 3} more" if len(logs) > 3 else "")


def _synthesize(demonstrations: list[Demonstration], policy, objectives, time_limit, models: int,
                strict: bool = False, target: str | None = None) -> Synthesis:
    try:
        synthesis = synthesize_demonstrations(
            demonstrations, policies=[_policy_path(name) for name in policy or []], objectives=objectives,
            models=models, time_limit=time_limit, target=target,
        )
    except SolveError as error:
        stderr.print(Text(f"error: {error}", style="red"))
        raise typer.Exit(EXIT_USAGE) from None
    for warning in synthesis.outcome.warnings:
        stderr.print(Text(f"{'error' if strict else 'warning'}: {warning}", style="red" if strict else "yellow"))
    if strict and synthesis.outcome.warnings:
        _usage_error(f"--strict: {plural(len(synthesis.outcome.warnings), 'warning')} about the policies and "
                     "objectives; fix them, or drop --strict")
    if not synthesis.outcome.satisfiable:
        stderr.print(Text("error: no runbook satisfies every rule and policy; the conflicts, by log record:", style="red"))
        for line in explain_violations(synthesis):
            stderr.print(Text(f"  {line}"))
        advice = "Drop the policy, or leave" if policy else "Leave"
        stderr.print(Text(f"{advice} those records out of the selection (--since, --until, --principal)."))
        raise typer.Exit(EXIT_UNSATISFIABLE)
    return synthesis


def _policy_path(name: str) -> Path:
    path = Path(name)
    if path.exists():
        return path
    shipped = asp_root() / "policies" / f"{name.removesuffix('.lp')}.lp"
    if shipped.is_file():
        return Path(str(shipped))
    raise typer.BadParameter(f"no policy file {name!r}, and no shipped policy of that name", param_hint="--policy")


def _selection(principal, all_principals, since, until, region) -> Selection:
    return Selection(
        principal=principal,
        since=_parse_time_option("--since", since),
        until=_parse_time_option("--until", until),
        regions=frozenset(region) if region else None,
        all_principals=all_principals,
    )


def _ingest(logs: list[str], selection: Selection, *, left_out: LeftOut | None = None, evidence: bool = True,
            engine: str = "local", scheduler: str | None = None) -> Ingested:
    _check_paths(logs)
    progress = _LazyProgress()
    try:
        with _engine(engine, scheduler) as reading_engine:
            ingested = ingest(logs, selection, on_progress=progress.update, left_out=left_out, evidence=evidence,
                              engine=reading_engine)
        # Every event lives until the command ends: spare the collector from walking them again.
        gc.freeze()
    except AmbiguousPrincipal as ambiguous:
        progress.stop()
        stderr.print(principals_table(ambiguous.writes))
        stderr.print(
            Text(
                "error: several principals made write calls. Choose one with --principal "
                "(ARN, user name, role session name or access key id), or keep them all with --all-principals."
            )
        )
        raise typer.Exit(EXIT_CHOOSE) from None
    except InputError as error:
        progress.stop()
        stderr.print(Text(f"error: {error}", style="red"))
        raise typer.Exit(EXIT_USAGE) from None
    progress.stop()
    print_problems(stderr, ingested)
    wanted = selection.principal
    if wanted and ingested.records and not any(event.principal.answers_to(wanted) for event in ingested.events):
        # Only the selection's events are kept: read again, every principal, to say who there is.
        everyone = ingest(logs, dataclasses.replace(selection, principal=None, all_principals=True))
        if everyone.events:  # else the time or region leaves nothing, whoever made it
            stderr.print(principals_table(everyone.principal_writes))
            _usage_error(f"--principal {wanted}: none of the selected records of {_names(logs)} was made by it; "
                         "the principals with write calls are above (an ARN, user name, role session name or "
                         "access key id)")
    if not ingested.records:
        stderr.print(Text("error: no records could be read from the input", style="red"))
    return ingested


def _check_paths(logs: list[str]) -> None:
    for log in logs:
        if log != "-" and "://" not in log and not os.path.exists(log):
            _usage_error(f"{log}: no such file or directory")


def _engine(name: str, scheduler: str | None):
    """The reading engine a command's --engine and --scheduler name, as a context manager."""
    from contextlib import nullcontext

    from pysynth.ingest.engines import LocalEngine

    if name == "local":
        if scheduler:
            raise typer.BadParameter("--scheduler needs --engine dask", param_hint="--scheduler")
        return nullcontext(LocalEngine())
    if name == "dask":
        from pysynth.ingest.dask_engine import DaskEngine

        return DaskEngine(scheduler)
    raise typer.BadParameter(f"{name!r} is not one of local, dask", param_hint="--engine")


class _LazyProgress:
    """A progress bar on stderr (files, records, rate) that appears only when reading takes more
    than a moment."""

    DELAY_SECONDS = 0.5

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task = None

    def update(self, done: int, total: int, records: int) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < self.DELAY_SECONDS or not stderr.is_terminal:
                return
            self.bar = Progress(
                TextColumn("reading"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
                TextColumn("{task.fields[records]:,} records"), TextColumn("{task.fields[rate]:,.0f} records/s"),
                TimeElapsedColumn(), console=stderr, transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task("files", total=total, records=0, rate=0.0)
        rate = records / max(time.monotonic() - self.started, 1e-9)
        self.bar.update(self.task, completed=done, records=records, rate=rate)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _parse_time_option(option: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time such as 2023-07-10T11:55:00Z", param_hint=option)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# Set by the console entry point, which runs one command and exits; a command run in-process
# (CliRunner, the tests) leaves the process as it found it.
_process_ends_with_command = False


def main() -> None:
    """Console entry point: a one-line error instead of a traceback for anything unexpected."""
    global _process_ends_with_command
    _process_ends_with_command = True
    try:
        app()
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the last line of defence for the user
        if os.environ.get("PYSYNTH_DEBUG"):
            raise
        stderr.print(Text(f"internal error: {type(error).__name__}: {error} (set PYSYNTH_DEBUG=1 for details)"))
        sys.exit(70)


# The commands about a runbook rather than a log (explain, iam, graph, upload) live in a module of
# their own; importing it registers them on the app, after the commands above.
from pysynth import runbook_commands  # noqa: E402, F401


class _PlainHelpCommand(typer.core.TyperCommand):
    """Help that names each argument as users read it (LOG), without the Python type typer adds
    beside it (LOG <list[str]>); options already show the kind of value they take."""

    def format_options(self, ctx, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((record[0].split(" <", 1)[0], record[1]))
            elif param.param_type_name == "option":
                options.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


for _command in app.registered_commands:
    if _command.cls in (None, typer.core.TyperCommand):
        _command.cls = _PlainHelpCommand
