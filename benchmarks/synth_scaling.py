"""Synthesis at scale: sessions of 100, 1,000 and 10,000 write calls, in one run.

The sessions replicate the shared Terraform deployment slice (23 write calls with long data-flow
chains, plus its reads) with fresh values: every resource id and every name the session chose gets
a new spelling per copy, so no copy can take a value from another and the data flow stays as deep
as in the log. For each size the script reports grounding size (atoms, rules), grounding and solve
time, and the end-to-end time of ``pysynth synth`` (reading, analysis, solving, rendering and
checks), the latter in a subprocess as a user runs it: its wall time, and its CPU time (user and
system, the certifying child's included), which other work on the machine disturbs far less.

    python benchmarks/synth_scaling.py [--sizes 100,1000,10000] [--workdir benchmarks/out/synth]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SLICE = ROOT.parent / "shared" / "cloudtrail" / "invictus_terraform_vpc_iam_ec2_deploy_session.json"
RESOURCE_ID = re.compile(r"\b([a-z]{1,10})-([0-9a-f]{8,17})\b")
CHOSEN_NAME = re.compile(r"stratus-red-team-[a-z0-9-]+")


def replicate(records: list[dict], copies: int, write_calls: int) -> list[dict]:
    """``copies`` renamed copies of the session, one after the other in time, cut to the first
    ``write_calls`` successful write calls (reads and failures in between are kept)."""
    text = json.dumps(records)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    first = min(_time(record["eventTime"]) for record in records)
    out: list[dict] = []
    writes = 0
    for copy in range(copies):
        fresh = RESOURCE_ID.sub(lambda m: f"{m.group(1)}-{_fresh_hex(m.group(2), copy)}", text)
        fresh = CHOSEN_NAME.sub(lambda m: f"{m.group(0)}-c{copy}", fresh)
        for record in json.loads(fresh):
            record["eventID"] = str(uuid.uuid4())
            # The slice's own seconds, so that calls CloudTrail logged in one second still share it.
            offset = (_time(record["eventTime"]) - first).total_seconds()
            record["eventTime"] = (start + timedelta(seconds=copy * 300 + offset)).strftime("%Y-%m-%dT%H:%M:%SZ")
            if not record.get("readOnly") and not record.get("errorCode") and record["eventSource"] != "sts.amazonaws.com":
                writes += 1
                if writes > write_calls:
                    return out
            out.append(record)
    return out


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _fresh_hex(old: str, copy: int) -> str:
    """A new id of the same length, different for every copy and every original id."""
    seed = uuid.uuid5(uuid.NAMESPACE_OID, f"{old}/{copy}").hex
    return (seed * 2)[: len(old)]


def measure_in_process(path: Path) -> dict:
    from pysynth.ingest.select import Selection, ingest
    from pysynth.render import render_checked
    from pysynth.synth import synthesize

    started = time.perf_counter()
    ingested = ingest([str(path)], Selection(all_principals=True))
    kept = ingested.kept
    read = time.perf_counter()
    synthesis = synthesize(kept, reads=ingested.reads, failed=ingested.failed)
    solved = time.perf_counter()
    render_checked(synthesis.runbooks[0], "ssm")
    rendered = time.perf_counter()
    stats = synthesis.outcome.stats
    return {
        "calls": len(kept),
        "slots": len(synthesis.session.slots),
        "atoms": stats.get("atoms"),
        "rules": stats.get("rules"),
        "ground_s": stats.get("ground_seconds"),
        "solve_s": stats.get("solve_seconds"),
        "read_s": read - started,
        "analyse_solve_build_s": solved - read,
        "render_check_s": rendered - solved,
        "optimal": synthesis.outcome.optimal,
    }


def measure_end_to_end(path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of ``pysynth synth`` in a subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pysynth", "synth", "--all-principals", str(path)],
        capture_output=True, cwd=ROOT,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"pysynth synth failed on {path}: {done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "synth")
    args = parser.parse_args()
    if not SHARED_SLICE.is_file():
        raise SystemExit(f"the shared Terraform slice is not at {SHARED_SLICE}")
    records = json.loads(SHARED_SLICE.read_text())["Records"]
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in (int(part) for part in args.sizes.split(",")):
        path = args.workdir / f"session-{size}.json"
        path.write_text(json.dumps({"Records": replicate(records, size // 20 + 1, size)}))
        print(f"measuring {size} write calls ...", file=sys.stderr)
        figures = measure_in_process(path)
        figures["end_to_end_s"], figures["end_to_end_cpu_s"] = measure_end_to_end(path)
        rows.append(figures)
    header = ("| write calls | slots | atoms | rules | ground s | solve s | analyse+solve+build s | "
              "render+check s | `pysynth synth` end to end s | end to end CPU s | optimal |")
    lines = [header, "|" + "---:|" * 10 + "---|"]
    for row in rows:
        lines.append(
            f"| {row['calls']:,} | {row['slots']:,} | {row['atoms']:,} | {row['rules']:,} | {row['ground_s']:.2f} | "
            f"{row['solve_s']:.2f} | {row['analyse_solve_build_s']:.2f} | {row['render_check_s']:.2f} | "
            f"{row['end_to_end_s']:.2f} | {row['end_to_end_cpu_s']:.2f} | {'proven' if row['optimal'] else 'no'} |"
        )
    table = "\n".join(lines)
    print(table)
    (args.workdir / "results.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
