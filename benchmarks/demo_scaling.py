"""Several demonstrations of a task with three control-flow statements, synthesized end to end:
encrypt every ``logs-`` bucket ``ListBuckets`` shows (a loop), make sure a user exists (a branch on
``GetUser``'s ``NoSuchEntity``), add it to each group given (a second loop). Each demonstration has
about ``--calls`` calls, the loops' counts differ between demonstrations, and the user exists in
every other one.

For each number of demonstrations it runs ``pysynth synth --demo ... --format json`` in a
subprocess, as a user does, and reports the end-to-end time, whether optimality was proven, and the
runbook's top-level steps. Syren (PLDI 2025) reports failing every task with three or more
control-flow statements within its 10-minute limit.

    python benchmarks/demo_scaling.py [--demos 2,3] [--calls 30] [--workdir benchmarks/out/demos]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
ACCOUNT = "123456789012"


def record(source: str, name: str, second: int, request: dict, response: dict | None = None,
           error: str | None = None) -> dict:
    """One record as ``pysynth record`` writes it (full responses, reads included)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/pysynth-recorder",
                         "accountId": ACCOUNT, "userName": "pysynth-recorder"},
        "eventTime": f"2024-03-05T{10 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z",
        "eventSource": f"{source}.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
        "userAgent": "pysynth-record", "requestParameters": request, "responseElements": response,
        "eventID": f"{name}-{second}", "readOnly": name.startswith(("List", "Get")), "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": ACCOUNT,
        **({"errorCode": error, "errorMessage": "not found"} if error else {}),
    }


def demonstration(number: int, calls: int) -> list[dict]:
    """About ``calls`` calls: half of them encrypt log buckets, the rest add the user to groups."""
    start = number * 1000
    buckets = [f"logs-{number}{index:02d}" for index in range(calls // 2 - 2 + number)]
    listed = buckets + [f"web-{number}-{index}" for index in range(3)]
    records = [record("s3", "ListBuckets", start, {}, {
        "Buckets": [{"Name": name, "CreationDate": "2024-01-01T00:00:00Z"} for name in listed], "Owner": {"ID": "abc"}})]
    records += [record("s3", "PutBucketEncryption", start + 1 + index,
                       {"Bucket": name, "ServerSideEncryptionConfiguration": ENCRYPTION})
                for index, name in enumerate(buckets)]
    user = f"user-{number}"
    second = start + 1 + len(buckets)
    exists = number % 2 == 0
    records.append(record("iam", "GetUser", second, {"UserName": user},
                          {"User": {"UserName": user, "UserId": f"AIDA{number:04d}", "Path": "/",
                                    "Arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "CreateDate": "2024-01-01T00:00:00Z"}}
                          if exists else None, None if exists else "NoSuchEntity"))
    if not exists:
        records.append(record("iam", "CreateUser", second + 1, {"UserName": user}, {
            "User": {"UserName": user, "UserId": f"AIDA{number:04d}", "Path": "/",
                     "Arn": f"arn:aws:iam::{ACCOUNT}:user/{user}", "CreateDate": "2024-01-01T00:00:00Z"}}))
    groups = [f"group-{number}-{index}" for index in range(calls - len(records) - 1 + number)]
    records += [record("iam", "AddUserToGroup", second + 2 + index, {"UserName": user, "GroupName": group}, {})
                for index, group in enumerate(groups)]
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demos", default="2,3")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / "out" / "demos")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print("| demonstrations | calls each | end to end | optimal | top-level steps |")
    print("| ---: | ---: | ---: | --- | --- |")
    for count in (int(item) for item in args.demos.split(",")):
        paths = []
        for number in range(1, count + 1):
            path = args.workdir / f"demo-{count}-{number}.json"
            records = demonstration(number, args.calls)
            path.write_text(json.dumps({"Records": records}))
            paths.append(path)
        command = [sys.executable, "-m", "pysynth", "synth", "--format", "json"]
        for path in paths:
            command += ["--demo", str(path)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"pysynth synth failed ({done.returncode}): {done.stderr.strip()}")
        model = json.loads(done.stdout)
        shape = ", ".join(step["api"] or step["action"] for step in model["steps"])
        sizes = "/".join(str(len(demonstration(number, args.calls))) for number in range(1, count + 1))
        print(f"| {count} | {sizes} | {seconds:.2f} s | {model['solution']['optimal']} | {shape} |")


if __name__ == "__main__":
    main()
