"""Throughput and peak memory of ``pysynth events --json`` against gunzip + ``json.loads`` and
trailscraper's ``select``, side by side in one run.

Replicates the 2,900 records of ``invictus_aws_dataset_merged_sorted.json`` to each requested size,
in three layouts: one ``{"Records": [...]}`` file, one JSON Lines file whose seconds hold hundreds of
records each (a busy organization), and many small ``.json.gz`` files laid out as CloudTrail
delivers them to S3. Every measurement runs in its own subprocess so that its wall time and peak
RSS are its own. See ``benchmarks/README.md``.

Standard library only: run it with the interpreter pysynth is installed in (or from a checkout).
trailscraper (``pip install trailscraper``, best in a virtual environment of its own since it pins
an old boto3) is found on PATH or given with ``--trailscraper``; without it, its column says so.
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

THIS_SCRIPT = Path(__file__).resolve()
BENCHMARKS = THIS_SCRIPT.parent
REPO_ROOT = BENCHMARKS.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "cloudtrail" / "invictus_aws_dataset_merged_sorted.json"
DEFAULT_WORKDIR = BENCHMARKS / "out"
DEFAULT_SIZES = "100000,1000000"

SINGLE = "single .json"
LINES = "dense .jsonl"
S3 = "S3 .json.gz"
LAYOUTS = (SINGLE, LINES, S3)
TARGET_NAMES = {SINGLE: "records.json", LINES: "records.jsonl", S3: "s3"}
RECORDS_PER_DELIVERY = 100  # roughly what one real CloudTrail delivery file holds
# In the dense layout each copy of the source starts this many seconds after the previous one, so
# that copies overlap and a second holds a hundred records or more.
DENSE_SHIFT_SECONDS = 10
GOAL_RATIO = 1 / 2  # of the json.loads rate, on the S3 layout, with a selection
GOAL_PEER_RATIO = 2  # times trailscraper select's rate, same tree, same filter
# The selection: one principal, an assumed role, which trailscraper filters by its role's ARN.
ROLE_NAME = "stratus-red-team-ec2-get-password-data-role"
ROLE_ARN = f"arn:aws:iam::123837392027:role/{ROLE_NAME}"

EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MERGED_FILE_FORMAT = {"indent": 1}  # as the source file is written
DELIVERY_FORMAT = {"separators": (",", ":")}  # CloudTrail delivers each log as one compact line
# Stand-ins for the two fields every copy changes, substituted into pre-serialised records:
# serialising each record anew (json.dumps with indent is pure Python) would dominate generation.
EVENT_ID_TOKEN = "@@EVENT_ID@@"
EVENT_TIME_TOKEN = "@@EVENT_TIME@@"
SEED = 20230710  # same inputs on every run, so figures from different runs compare
PROGRESS_EVERY = 100_000


# --------------------------------------------------------------------------- generating inputs


@dataclass(slots=True)
class Template:
    """One source record, serialised once with tokens where its eventID and eventTime go."""

    text: str
    epoch: int
    account: str
    region: str


def load_templates(source: Path, json_format: dict) -> list[Template]:
    records = json.loads(source.read_bytes())["Records"]
    templates = []
    for record in records:
        epoch = calendar.timegm(time.strptime(record["eventTime"], EVENT_TIME_FORMAT))
        text = json.dumps({**record, "eventID": EVENT_ID_TOKEN, "eventTime": EVENT_TIME_TOKEN}, **json_format)
        account = record.get("recipientAccountId") or "123456789012"
        templates.append(Template(text, epoch, account, record.get("awsRegion") or "us-east-1"))
    return templates


def replicate(templates: list[Template], count: int, dense: bool = False) -> Iterator[tuple[Template, int, str]]:
    """``count`` records as (template, epoch, JSON text): whole copies of the source, each shifted
    to start after the previous one ends (``dense``: ``DENSE_SHIFT_SECONDS`` after the previous one
    starts) and with fresh eventIDs, then part of one more copy."""
    period = DENSE_SHIFT_SECONDS if dense else templates[-1].epoch - templates[0].epoch + 1
    rng = random.Random(SEED)
    for position in range(count):
        copy, index = divmod(position, len(templates))
        template = templates[index]
        epoch = template.epoch + copy * period
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event_time = time.strftime(EVENT_TIME_FORMAT, time.gmtime(epoch))
        yield template, epoch, template.text.replace(EVENT_ID_TOKEN, event_id).replace(EVENT_TIME_TOKEN, event_time)
        if (position + 1) % PROGRESS_EVERY == 0:
            progress(f"  {position + 1:,} of {count:,} records")


def write_single_file(source: Path, count: int, target: Path) -> None:
    """One ``{"Records": [...]}`` file, formatted like the source, written record by record."""
    with target.open("w", encoding="utf-8") as out:
        out.write('{"Records": [\n')
        for position, (_, _, text) in enumerate(replicate(load_templates(source, MERGED_FILE_FORMAT), count)):
            if position:
                out.write(",\n")
            out.write(text)
        out.write("\n]}\n")


def write_dense_json_lines(source: Path, count: int, target: Path) -> None:
    """One record per line, copies overlapping in time (not sorted, as an export may be)."""
    with target.open("w", encoding="utf-8") as out:
        for _, _, text in replicate(load_templates(source, DELIVERY_FORMAT), count, dense=True):
            out.write(text)
            out.write("\n")


def write_s3_layout(source: Path, count: int, target: Path) -> None:
    """Compact gzip files of ``RECORDS_PER_DELIVERY`` records, one account and region per file,
    named and placed as CloudTrail's S3 delivery does:
    ``AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<stamp>_<rand>.json.gz``.
    """
    rng = random.Random(SEED)
    # (account, region) -> the (epoch, JSON text) of records not yet delivered
    pending: dict[tuple[str, str], list[tuple[int, str]]] = {}

    def deliver(account: str, region: str, batch: list[tuple[int, str]]) -> None:
        first = time.gmtime(batch[0][0])
        folder = target / "AWSLogs" / account / "CloudTrail" / region / time.strftime("%Y/%m/%d", first)
        folder.mkdir(parents=True, exist_ok=True)
        suffix = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=16))
        name = f"{account}_CloudTrail_{region}_{time.strftime('%Y%m%dT%H%MZ', first)}_{suffix}.json.gz"
        document = '{"Records":[' + ",".join(text for _, text in batch) + "]}"
        (folder / name).write_bytes(gzip.compress(document.encode("utf-8"), compresslevel=6))

    for template, epoch, text in replicate(load_templates(source, DELIVERY_FORMAT), count):
        trail = (template.account, template.region)
        batch = pending.setdefault(trail, [])
        batch.append((epoch, text))
        if len(batch) == RECORDS_PER_DELIVERY:
            deliver(*trail, batch)
            del pending[trail]
    for (account, region), batch in pending.items():
        deliver(account, region, batch)


def prepare_input(source: Path, workdir: Path, count: int, layout: str) -> Path:
    """The input for (count, layout), generated unless a previous run left it complete."""
    folder = workdir / "inputs" / str(count)
    target = folder / TARGET_NAMES[layout]
    if target.exists():
        progress(f"reusing {target}")
        return target
    folder.mkdir(parents=True, exist_ok=True)
    # Generate under a temporary name and rename at the end, so an interrupted run is never reused.
    partial = target.with_name(target.name + ".partial")
    if partial.is_dir():
        shutil.rmtree(partial)
    elif partial.exists():
        partial.unlink()
    progress(f"generating {count:,} records, {layout}, into {target}")
    if layout == SINGLE:
        write_single_file(source, count, partial)
    elif layout == LINES:
        write_dense_json_lines(source, count, partial)
    else:
        write_s3_layout(source, count, partial)
    partial.rename(target)
    return target


def log_files(target: Path) -> list[Path]:
    """The files of an input in name order, as pysynth's directory reader visits them."""
    if target.is_file():
        return [target]
    found = []
    for root, dirs, files in os.walk(target):
        dirs.sort()
        found.extend(Path(root) / name for name in sorted(files) if name.endswith((".json", ".json.gz", ".jsonl")))
    return found


# --------------------------------------------------------------------------- measuring


def baseline_parse(target: Path) -> int:
    """The floor pysynth is compared with: read each file, gunzip it, ``json.loads`` it, nothing more."""
    records = 0
    for path in log_files(target):
        if path.name.endswith(".jsonl"):
            with path.open("rb") as lines:
                records += sum(1 for line in lines if json.loads(line))
            continue
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        records += len(json.loads(data)["Records"])
    return records


@dataclass(slots=True)
class Measurement:
    seconds: float
    cpu_seconds: float
    peak_mb: float
    exit_code: int
    stdout: str
    stderr: str


def measure(command: list[str], env: dict[str, str] | None = None, keep_stdout: bool = False) -> Measurement:
    """Wall time, CPU time and peak RSS of one subprocess. ``os.wait4`` gives that child's own
    usage, which ``RUSAGE_CHILDREN`` (the maximum over all children so far) cannot."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out if keep_stdout else subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measurement(
            seconds=seconds,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
            exit_code=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )


def pysynth_environment() -> dict[str, str]:
    """The environment for ``python -m pysynth``: from a checkout, the checkout's package comes
    first on the path; otherwise the installed one is used."""
    env = dict(os.environ)
    if (REPO_ROOT / "pysynth" / "__init__.py").exists():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


@dataclass(slots=True)
class Result:
    records: int
    layout: str
    files: int
    baseline: Measurement
    selected: Measurement  # events --json --principal ROLE_NAME
    everyone: Measurement  # events --json --all-principals
    peer: Measurement | None  # trailscraper select --filter-assumed-role-arn ROLE_ARN
    peer_note: str = ""

    def row(self) -> list[str]:
        baseline_rate = self.records / self.baseline.seconds
        selected_rate = self.records / self.selected.seconds if self.selected.exit_code == 0 else None
        if self.peer is not None and self.peer.exit_code == 0:
            peer_rate = self.records / self.peer.seconds
            peer, peer_peak = f"{peer_rate:,.0f}", f"{self.peer.peak_mb:,.0f}"
            versus_peer = f"{selected_rate / peer_rate:.2f}" if selected_rate else "-"
        else:
            peer = peer_peak = versus_peer = self.peer_note or f"failed (exit {self.peer.exit_code})"
            peer_peak = versus_peer = "-"
        return [
            f"{self.records:,}", self.layout, f"{self.files:,}",
            f"{baseline_rate:,.0f}", peer, _rate(self.records, self.selected),
            f"{selected_rate / baseline_rate:.2f}" if selected_rate else "-", versus_peer,
            _rate(self.records, self.everyone),
            f"{self.baseline.peak_mb:,.0f}", peer_peak, _peak(self.selected), _peak(self.everyone),
        ]


    def cpu_row(self) -> list[str]:
        measured = [self.baseline, self.peer, self.selected, self.everyone]
        return [f"{self.records:,}", self.layout] + [
            f"{self.records / run.cpu_seconds:,.0f}" if run is not None and run.exit_code == 0 else "-" for run in measured
        ] + [f"{run.seconds:.1f} / {run.cpu_seconds:.1f}" if run is not None and run.exit_code == 0 else "-"
             for run in measured]


def _rate(records: int, measured: Measurement) -> str:
    return f"{records / measured.seconds:,.0f}" if measured.exit_code == 0 else f"failed (exit {measured.exit_code})"


def _peak(measured: Measurement) -> str:
    return f"{measured.peak_mb:,.0f}" if measured.exit_code == 0 else "-"


def fastest(repeat: int, command: list[str], **options) -> Measurement:
    """The fastest of ``repeat`` runs, stopping at the first failure: the least disturbed by the rest
    of the machine. Each run reports its own time and peak."""
    runs = []
    for _ in range(repeat):
        runs.append(measure(command, **options))
        run = runs[-1]
        progress(f"  {run.seconds:.1f} s ({run.cpu_seconds:.1f} s CPU), {run.peak_mb:,.0f} MB, exit {run.exit_code}")
        if run.exit_code != 0:
            return run
    return min(runs, key=lambda run: run.seconds)


def run_one(target: Path, records: int, layout: str, repeat: int, trailscraper: str | None) -> Result:
    files = len(log_files(target))
    progress(f"measuring json.loads on {records:,} records, {layout} ({files:,} files)")
    baseline = fastest(repeat, [sys.executable, str(THIS_SCRIPT), "--baseline-parse", str(target)], keep_stdout=True)
    if baseline.exit_code != 0:
        sys.exit(f"baseline failed (exit {baseline.exit_code}):\n{baseline.stderr[-2000:]}")
    if int(baseline.stdout) != records:
        sys.exit(f"{target} holds {baseline.stdout.strip()} records, expected {records}: remove it and rerun")
    measured = {}
    for name, selection in (("selected", ["--principal", ROLE_NAME]), ("everyone", ["--all-principals"])):
        progress(f"measuring pysynth events --json {' '.join(selection)} on {records:,} records, {layout}")
        command = [sys.executable, "-m", "pysynth", "events", "--json", *selection, str(target)]
        measured[name] = fastest(repeat, command, env=pysynth_environment())
        if measured[name].exit_code != 0:
            progress(f"  pysynth failed:\n{measured[name].stderr[-2000:]}")
    peer, note = None, ""
    if layout != S3:
        note = "n/a (reads only the S3 layout)"
    elif trailscraper is None:
        note = "not installed"
    else:
        progress(f"measuring trailscraper select on {records:,} records, {layout}")
        peer = fastest(repeat, [trailscraper, "select", "--log-dir", str(target), "--filter-assumed-role-arn", ROLE_ARN])
    return Result(records, layout, files, baseline, measured["selected"], measured["everyone"], peer, note)


# --------------------------------------------------------------------------- reporting

COLUMNS = [
    "records", "layout", "files", "json.loads rec/s", "trailscraper select rec/s", "events --json rec/s",
    "vs json.loads", "vs trailscraper", "events --json --all-principals rec/s",
    "peak MB json.loads", "peak MB trailscraper", "peak MB events", "peak MB --all-principals",
]


def markdown_table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(COLUMNS) - 2)) + "|"]
    lines += ["| " + " | ".join(result.row()) + " |" for result in results]
    return "\n".join(lines)


CPU_COLUMNS = [
    "records", "layout", "json.loads rec/CPU-s", "trailscraper rec/CPU-s", "events --json rec/CPU-s",
    "--all-principals rec/CPU-s", "json.loads wall / CPU s", "trailscraper wall / CPU s", "events wall / CPU s",
    "--all-principals wall / CPU s",
]


def cpu_table(results: list[Result]) -> str:
    lines = ["| " + " | ".join(CPU_COLUMNS) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(CPU_COLUMNS) - 2)) + "|"]
    lines += ["| " + " | ".join(result.cpu_row()) + " |" for result in results]
    return "\n".join(lines)


def report(results: list[Result], repeat: int) -> str:
    machine = f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.platform()}"
    return (
        f"{markdown_table(results)}\n\n"
        f"By CPU time (user + system, a process's workers included: the total work, which other load on "
        f"the machine disturbs less than wall time):\n\n{cpu_table(results)}\n\n"
        f"Selection: one principal (`--principal {ROLE_NAME}`; trailscraper: `--filter-assumed-role-arn "
        f"{ROLE_ARN}`). Goals on the S3 layout: at least {GOAL_RATIO:.2f} of the json.loads rate and "
        f"{GOAL_PEER_RATIO}x trailscraper's; peak under 1 GB with the selection in every layout.  \n"
        f"Rates from wall time per subprocess, interpreter start-up and imports included; fastest of {repeat}. "
        f"{machine}.\n"
    )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not positive")
    return number


def parse_sizes(text: str) -> list[int]:
    return [positive_int(size) for size in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help=f"record counts to generate and measure, comma-separated (default {DEFAULT_SIZES})")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                        help="where inputs are generated (and reused) and results.md is written "
                        "(default benchmarks/out)")
    parser.add_argument("--repeat", type=positive_int, default=1,
                        help="runs of each measurement; the fastest is reported (default 1)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the CloudTrail file to replicate")
    parser.add_argument("--trailscraper", default=shutil.which("trailscraper"),
                        help="the trailscraper command to compare with (default: trailscraper on PATH)")
    parser.add_argument("--layouts", default=",".join(LAYOUTS),
                        help=f"layouts to measure, comma-separated (default {','.join(LAYOUTS)})")
    # Internal: the baseline measurement runs this script again in a subprocess with this option.
    parser.add_argument("--baseline-parse", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.baseline_parse:
        print(baseline_parse(arguments.baseline_parse))
        return
    if not arguments.source.is_file():
        parser.error(f"source {arguments.source} not found (give --source)")

    results = []
    for count in arguments.sizes:
        for layout in arguments.layouts.split(","):
            if layout not in LAYOUTS:
                parser.error(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
            target = prepare_input(arguments.source, arguments.workdir, count, layout)
            results.append(run_one(target, count, layout, arguments.repeat, arguments.trailscraper))
    text = report(results, arguments.repeat)
    (arguments.workdir / "results.md").write_text(text, encoding="utf-8")
    print(text)
    progress(f"written to {arguments.workdir / 'results.md'}")


if __name__ == "__main__":
    main()
