"""Benchmark: reading a synthetic org-trail archive vs the decompression floor (``zcat``).

Usage::

    python bench/bench_analyze.py --events 1000000 [--keep DIR] [--per-file 500]

Generates an org-trail archive (gzip CloudTrail files, 5-minute deliveries across accounts and
regions) into a temporary folder, then measures, each in its own child process:

* ``zcat``: ``find … -name '*.json.gz' -print0 | xargs -0 zcat > /dev/null`` — the floor;
* ``iter_events``: every event through :func:`irkit.cloudtrail.reader.iter_events`;
* ``analyze``: ``irkit analyze PATH --json`` (every principal, the whole archive).

Prints wall times, the ratio to zcat and the peak RSS of each. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from irkit.cloudtrail.layout import TrailLayout  # noqa: E402
from irkit.detect.event import format_time  # noqa: E402

ORG = "o-bench12345"
ACCOUNTS = [f"{100000000000 + i * 7919:012d}" for i in range(8)]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("s3.amazonaws.com", "GetObject", True),
    ("s3.amazonaws.com", "PutObject", False),
    ("iam.amazonaws.com", "ListRoles", True),
    ("sts.amazonaws.com", "AssumeRole", False),
    ("kms.amazonaws.com", "Decrypt", True),
    ("lambda.amazonaws.com", "Invoke", False),
    ("dynamodb.amazonaws.com", "Query", True),
    ("iam.amazonaws.com", "CreateAccessKey", False),
    ("ec2.amazonaws.com", "RunInstances", False),
]


def _record(rng: random.Random, when: datetime, account: str, region: str, seq: int) -> dict[str, object]:
    source, name, read_only = CALLS[rng.randrange(len(CALLS))]
    role = f"role-{rng.randrange(40)}"
    session = f"session-{rng.randrange(1000)}"
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.getrandbits(60):015X}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": f"ASIA{rng.getrandbits(64):016X}",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": f"AROA{rng.getrandbits(60):015X}",
                    "arn": f"arn:aws:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": format_time(when - timedelta(minutes=30)),
                    "mfaAuthenticated": "false",
                },
            },
        },
        "eventTime": format_time(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
        "userAgent": rng.choice(
            ["aws-cli/2.15.0 Python/3.11", "Boto3/1.34.0 Python/3.11", "terraform/1.7.0"]
        ),
        "requestParameters": {"resource": f"r-{rng.getrandbits(40):010x}", "maxResults": 50},
        "responseElements": None if read_only else {"id": f"{rng.getrandbits(64):016x}"},
        "requestID": f"{rng.getrandbits(128):032x}",
        "eventID": f"{rng.getrandbits(128):032x}",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }


def _write_file(args: tuple[str, int, int, int]) -> int:
    root, index, per_file, seed = args
    rng = random.Random(seed)
    layout = TrailLayout("bench-archive", "", ORG)
    account = ACCOUNTS[index % len(ACCOUNTS)]
    region = REGIONS[(index // len(ACCOUNTS)) % len(REGIONS)]
    delivered = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(
        minutes=5 * (index // (len(ACCOUNTS) * len(REGIONS)))
    )
    records = [
        _record(rng, delivered - timedelta(seconds=rng.randrange(1, 600)), account, region, i)
        for i in range(per_file)
    ]
    key = layout.log_key(account, region, delivered, f"{seed:016x}")
    path = Path(root) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), compresslevel=6))
    return per_file


def generate(root: Path, events: int, per_file: int, workers: int) -> int:
    files = max(1, events // per_file)
    jobs = [(str(root), i, per_file, 1_000_003 * i + 17) for i in range(files)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(_write_file, jobs, chunksize=16))


_CHILD_READ = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from irkit.cloudtrail.reader import ReadStats, iter_events
t = time.perf_counter()
stats = ReadStats()
n = 0
for _ in iter_events([Path({path!r})], stats):
    n += 1
ru = resource.getrusage
rss = max(ru(resource.RUSAGE_SELF).ru_maxrss, ru(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({{"events": n, "files": stats.files, "gaps": len(stats.gaps), "rss_kib": rss}}))
"""

_CHILD_ANALYZE = """
import json, resource, sys
sys.path.insert(0, {root!r})
from irkit.cli import main
code = main(["analyze", {path!r}, "--json"])
ru = resource.getrusage
rss = max(ru(resource.RUSAGE_SELF).ru_maxrss, ru(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({{"rss_kib": rss}}), file=sys.stderr)
sys.exit(code)
"""


def _run(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)
    return time.perf_counter() - t, proc


def measure_zcat(root: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB; RUSAGE_CHILDREN, so measured before any Python child)."""
    find = shutil.which("find") or "find"
    script = f"{find} {root} -name '*.json.gz' -print0 | xargs -0 zcat > /dev/null"
    seconds, proc = _run(["/bin/sh", "-c", script])
    if proc.returncode != 0:
        raise SystemExit(f"zcat failed: {proc.stderr.decode()[:500]}")
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def measure_python(code: str) -> tuple[float, int, dict[str, Any], int, str]:
    """Wall seconds, peak RSS (KiB, as the child reports it for itself and its workers), its JSON."""
    seconds, proc = _run([sys.executable, "-c", code])
    info: dict[str, Any] = {}
    for stream in (proc.stdout, proc.stderr):
        for line in reversed(stream.decode(errors="replace").splitlines()):
            if line.startswith('{"') and "rss_kib" in line:
                info = json.loads(line)
                break
        if info:
            break
    tail = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
    return seconds, int(info.get("rss_kib", 0)), info, proc.returncode, tail[-1] if tail else ""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--per-file", type=int, default=500, help="events a log file (CloudTrail: tens to thousands)"
    )
    parser.add_argument(
        "--keep", type=Path, help="generate into (or reuse) this folder instead of a temp dir"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs of each measurement; the best is reported"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    tmp = None
    if args.keep:
        root = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="irkit-bench-")
        root = Path(tmp)
    try:
        if not any(root.rglob("*.json.gz")):
            t = time.perf_counter()
            n = generate(root, args.events, args.per_file, args.workers)
            size = sum(p.stat().st_size for p in root.rglob("*.json.gz"))
            took = time.perf_counter() - t
            print(f"generated {n} events in {took:.1f}s: {size / 1e6:.0f} MB gzip under {root}")
        files = sum(1 for _ in root.rglob("*.json.gz"))
        print(f"archive: {files} files, cpu cores: {os.cpu_count()}")

        zcat = min(measure_zcat(root) for _ in range(args.repeat))
        print(f"zcat (floor)        {zcat[0]:7.2f} s   peak RSS {zcat[1] / 1024:7.1f} MiB")

        results: dict[str, object] = {"events": args.events, "files": files, "zcat_seconds": zcat[0]}
        reads = [
            measure_python(_CHILD_READ.format(root=str(ROOT), path=str(root))) for _ in range(args.repeat)
        ]
        best = min(reads, key=lambda r: r[0])
        if best[3] != 0:
            raise SystemExit(f"iter_events run failed: {best[4]}")
        info = best[2]
        ratio = best[0] / zcat[0]
        print(f"iter_events         {best[0]:7.2f} s   peak RSS {best[1] / 1024:7.1f} MiB   "
              f"ratio {ratio:4.2f}x   ({info['events']} events, {info['gaps']} gaps)")  # fmt: skip
        results.update(iter_events_seconds=best[0], iter_events_ratio=ratio, iter_events_rss_kib=best[1])

        runs = [
            measure_python(_CHILD_ANALYZE.format(root=str(ROOT), path=str(root))) for _ in range(args.repeat)
        ]
        seconds, rss, _, code, tail = min(runs, key=lambda r: r[0])
        if code in (0, 3):
            ratio = seconds / zcat[0]
            print(
                f"irkit analyze       {seconds:7.2f} s   peak RSS {rss / 1024:7.1f} MiB   ratio {ratio:4.2f}x"
            )
            results.update(analyze_seconds=seconds, analyze_ratio=ratio, analyze_rss_kib=rss)
        else:
            print(f"irkit analyze       n/a (exit {code}: {tail or 'no output'})")
        print(json.dumps(results))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
