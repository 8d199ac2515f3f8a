"""Loops at scale: a demonstration of N ``PutBucketEncryption`` calls after one ``ListBuckets``
whose recorded response lists the N buckets and a few others, synthesized end to end.

For each size it runs ``pysynth synth`` in a subprocess, as a user does, twice side by side: with
the default objectives (the solver may loop) and with an objectives file that puts ``loops`` first
(no loop pays: the runbook repeats one step per call, as pysynth did before loops). It reports the
end-to-end time, the steps of the runbook (body steps included), the loops, and the grounding
size, from the JSON model's solution and ``synth``'s summary on stderr.

    python benchmarks/loop_scaling.py [--sizes 300,1000] [--workdir benchmarks/out/loops]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
UNROLLED = "priority(loops,4). priority(inputs,3). priority(steps,2). priority(log_order,1).\n"


def record(name: str, second: int, request: dict, response: dict | None) -> dict:
    """One record as ``pysynth record`` writes it (full responses, reads included)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/pysynth-recorder",
                         "accountId": "123456789012", "userName": "pysynth-recorder"},
        "eventTime": f"2024-03-05T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z",
        "eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "userAgent": "pysynth-record", "requestParameters": request, "responseElements": response,
        "eventID": f"{name}-{second}", "readOnly": name == "ListBuckets", "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": "123456789012",
    }


def demonstration(size: int) -> dict:
    acted = [f"logs-{number:05d}" for number in range(size)]
    listed = ["archive", *acted[: size // 2], "data-lake", *acted[size // 2:], "web-assets"]
    records = [record("ListBuckets", 0, {}, {"Buckets": [{"Name": name, "CreationDate": "2024-01-01T00:00:00Z"}
                                                          for name in listed]})]
    records += [record("PutBucketEncryption", second, {"Bucket": name, "ServerSideEncryptionConfiguration": ENCRYPTION},
                       None) for second, name in enumerate(acted, start=1)]
    return {"Records": records}


def synth(log: Path, objectives: Path | None) -> dict:
    command = [sys.executable, "-m", "pysynth", "synth", str(log), "--format", "json"]
    if objectives is not None:
        command += ["--objectives", str(objectives)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"seconds": seconds, "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    model = json.loads(done.stdout)
    atoms = re.search(r"grounding\s+│?\s*(\d+) atoms", done.stderr)
    return {
        "seconds": seconds,
        "steps": len(list(_walk(model["steps"]))),
        "loops": sum(step["action"] == "aws:loop" for step in _walk(model["steps"])),
        "optimal": model["solution"]["optimal"],
        "atoms": int(atoms.group(1)) if atoms else None,
    }


def _walk(steps: list[dict]):
    for step in steps:
        yield step
        if step.get("loop"):
            yield from _walk(step["loop"]["steps"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300,1000")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "loops")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    unrolled = args.workdir / "unrolled.lp"
    unrolled.write_text(UNROLLED)
    rows = ["| calls | runbook | end to end | steps | loops | atoms | optimal |", "|---:|---|---:|---:|---:|---:|---|"]
    for size in (int(text) for text in args.sizes.split(",")):
        log = args.workdir / f"buckets-{size}.json"
        log.write_text(json.dumps(demonstration(size)))
        for label, objectives in (("pysynth (loops)", None), ("pysynth, loops first (unrolled)", unrolled)):
            found = synth(log, objectives)
            if "error" in found:
                rows.append(f"| {size} | {label} | {found['seconds']:.2f} s | {found['error']} | | | |")
            else:
                rows.append(f"| {size} | {label} | {found['seconds']:.2f} s | {found['steps']} | {found['loops']} | "
                            f"{found['atoms'] or '?'} | {'proven' if found['optimal'] else 'not proven'} |")
            print(rows[-1], flush=True)
    (args.workdir / "results.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
