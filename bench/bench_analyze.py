"""Benchmark: ``irkit analyze`` and its peers over a synthetic org-trail archive, against ``zcat``.

Usage::

    python bench/bench_analyze.py --events 200000 1000000 [--repeat 3] [--keep DIR] [--write-docs]

For each size it generates an org-trail archive (gzip CloudTrail files, 5-minute deliveries across
accounts and regions; reused when ``--keep DIR/<events>`` already holds one), then runs, in
alternating rounds (one run of each tool a round, so a burst of load on the shared machine hits
every tool alike), each in its own cold child process:

* ``zcat``: ``find … -name '*.json.gz' -print0 | xargs -0 zcat > /dev/null`` — the floor;
* ``duckdb``: DuckDB ``read_json`` over the same files, two threads, every record unnested and
  counted with its distinct principals (reads what irkit reads, analyses nothing);
* ``jq``: ``zcat … | jq -c '.Records[] | [.eventName, .userIdentity.arn]'``;
* ``irkit``: ``irkit analyze PATH --json`` (every principal, every rule, the whole archive).

It reports the median wall time of each, its ratio to zcat's median, the median CPU time (user +
sys of the process tree: less sensitive to other load than wall time) and the peak RSS (the
largest process of the tree). ``--write-docs`` replaces the table between the ``bench:begin`` /
``bench:end`` markers of docs/performance.md. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
# The "typical" mix: what one hour of a busy organisation's trail looks like rather than the worst
# case. Mostly reads, a few writes, credential and launch calls rare; each role calls from a few
# hosts of its own, and each session keeps its one key. Weights per 10,000 calls.
TYPICAL = [
    (("ec2.amazonaws.com", "DescribeInstances", True), 2400),
    (("s3.amazonaws.com", "GetObject", True), 2600),
    (("s3.amazonaws.com", "PutObject", False), 900),
    (("iam.amazonaws.com", "ListRoles", True), 300),
    (("sts.amazonaws.com", "AssumeRole", False), 400),
    (("kms.amazonaws.com", "Decrypt", True), 1500),
    (("lambda.amazonaws.com", "Invoke", False), 600),
    (("dynamodb.amazonaws.com", "Query", True), 1280),
    (("iam.amazonaws.com", "CreateAccessKey", False), 5),
    (("ec2.amazonaws.com", "RunInstances", False), 15),
]
_TYPICAL_CALLS = [call for call, _ in TYPICAL]
_TYPICAL_WEIGHTS = [weight for _, weight in TYPICAL]
MIXES = ("stress", "typical")


def _record(
    rng: random.Random, when: datetime, account: str, region: str, seq: int, mix: str = "stress"
) -> dict[str, object]:
    """One record. ``stress``: every call kind alike (10 % key creations, 10 % launches), a random
    source address and session key per event, 40 roles x 1,000 sessions: the tables fill and the
    findings pile up. ``typical``: :data:`TYPICAL`'s weights, 40 roles x 25 sessions, each role
    calling from three hosts of its own and each session with one key, 2 % of reads denied."""
    if mix == "typical":
        source, name, read_only = rng.choices(_TYPICAL_CALLS, _TYPICAL_WEIGHTS)[0]
        number, sess = rng.randrange(40), rng.randrange(25)
        role, session = f"role-{number}", f"session-{sess}"
        address = f"10.{20 + number // 8}.{number % 8 * 16 + rng.randrange(3)}.{10 + number}"
        key = f"ASIA{(int(account) * 1_000 + number * 25 + sess) % (1 << 64):016X}"
        error = "AccessDenied" if read_only and rng.random() < 0.02 else None
    else:
        source, name, read_only = CALLS[rng.randrange(len(CALLS))]
        role = f"role-{rng.randrange(40)}"
        session = f"session-{rng.randrange(1000)}"
        address = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        key = f"ASIA{rng.getrandbits(64):016X}"
        error = None
    record: dict[str, object] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROA{rng.getrandbits(60):015X}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
            "accountId": account,
            "accessKeyId": key,
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
        "sourceIPAddress": address,
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
    if error:
        record["errorCode"] = error
        record["errorMessage"] = f"User is not authorized to perform: {source.split('.')[0]}:{name}"
    return record


def _write_file(args: tuple[str, int, int, int, str]) -> int:
    root, index, per_file, seed, mix = args
    rng = random.Random(seed)
    layout = TrailLayout("bench-archive", "", ORG)
    account = ACCOUNTS[index % len(ACCOUNTS)]
    region = REGIONS[(index // len(ACCOUNTS)) % len(REGIONS)]
    delivered = datetime(2026, 11, 20, tzinfo=UTC) + timedelta(
        minutes=5 * (index // (len(ACCOUNTS) * len(REGIONS)))
    )
    records = [
        _record(rng, delivered - timedelta(seconds=rng.randrange(1, 600)), account, region, i, mix)
        for i in range(per_file)
    ]
    key = layout.log_key(account, region, delivered, f"{seed:016x}")
    path = Path(root) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records}), compresslevel=6))
    return per_file


def generate(root: Path, events: int, per_file: int, workers: int, mix: str = "stress") -> int:
    files = max(1, events // per_file)
    jobs = [(str(root), i, per_file, 1_000_003 * i + 17, mix) for i in range(files)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(_write_file, jobs, chunksize=16))



_DUCKDB = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = 2")
glob = sys.argv[1].replace("'", "''") + "/**/*.json.gz"
q = (
    "SELECT count(*), count(DISTINCT r.userIdentity.arn) FROM "
    f"(SELECT unnest(Records) AS r FROM read_json('{glob}', maximum_object_size=268435456))"
)
print(con.execute(q).fetchall())
"""

_IRKIT = """
import sys
sys.path.insert(0, {root!r})
from irkit.cli import main
sys.exit(main(["analyze", {path!r}, "--json"]))
"""

TOOLS = ("zcat", "duckdb", "jq", "irkit")


def _argv(tool: str, root: Path) -> list[str]:
    find = f"{shutil.which('find') or 'find'} {root} -name '*.json.gz' -print0"
    if tool == "zcat":
        return ["/bin/sh", "-c", f"{find} | xargs -0 zcat > /dev/null"]
    if tool == "jq":
        jq = "jq -c '.Records[] | [.eventName, .userIdentity.arn]'"
        return ["/bin/sh", "-c", f"{find} | xargs -0 zcat | {jq} > /dev/null"]
    if tool == "duckdb":
        return [sys.executable, "-c", _DUCKDB, str(root)]
    return [sys.executable, "-c", _IRKIT.format(root=str(ROOT), path=str(root))]


def available(tool: str) -> bool:
    if tool == "jq":
        return shutil.which("jq") is not None
    if tool == "duckdb":
        probe = subprocess.run([sys.executable, "-c", "import duckdb"], capture_output=True, check=False)
        return probe.returncode == 0
    return True


def _tree_rss(root: int) -> int:
    """Resident KiB of ``root`` and all its descendants now (Linux /proc; 0 elsewhere).

    The tree is walked through each thread's ``children`` file: a few reads a sample. Scanning
    every process in /proc (the first version) cost ~1 ms of CPU a sample, 5 % of a core at one
    sample every 20 ms, taken from the tool measured when it keeps both cores busy (irkit), not
    from one that keeps one (zcat)."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm", "rb") as fh:  # noqa: PTH123
                total += int(fh.read().split()[1]) * page_kib
            tasks = os.listdir(f"/proc/{pid}/task")  # noqa: PTH208 - names, not paths
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:  # noqa: PTH123
                    todo.extend(int(child) for child in fh.read().split())
            except (OSError, ValueError):
                continue
    return total


def run_once(tool: str, root: Path) -> dict[str, float]:
    """One cold run: wall seconds, CPU seconds of the tree, peak RSS (MiB) of its largest process,
    and the peak of the whole tree's RSS (sampled every 20 ms: irkit runs two processes)."""
    import threading

    started = time.perf_counter()
    proc = subprocess.Popen(_argv(tool, root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):  # analyze: 3 is "done with gaps"
        raise SystemExit(f"{tool} failed (exit {proc.returncode}): {err.decode(errors='replace')[-500:]}")
    return {
        "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "tree": peak[0] / 1024,
    }  # fmt: skip


def measure(root: Path, repeat: int, tools: list[str]) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    for _ in range(repeat):
        for tool in tools:  # alternating: each round runs every tool once
            runs[tool].append(run_once(tool, root))
    floor = statistics.median(r["wall"] for r in runs["zcat"])
    floor_cpu = statistics.median(r["cpu"] for r in runs["zcat"])
    out: dict[str, dict[str, float]] = {}
    for tool, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        cpu = statistics.median(r["cpu"] for r in rs)
        out[tool] = {
            "wall": wall, "ratio": wall / floor, "cpu": cpu, "cpu_ratio": cpu / floor_cpu,
            "rss": max(r["rss"] for r in rs), "tree": max(r["tree"] for r in rs), "runs": len(rs),
        }  # fmt: skip
    return out


def table(rows: list[tuple[int, int, float, dict[str, dict[str, float]]]]) -> str:
    lines = [
        "| events | files | gzip | tool | wall (median) | × zcat | CPU (median) | CPU × zcat | peak RSS | tree RSS |",  # noqa: RUF001
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for events, files, size, result in rows:
        for tool, r in result.items():
            lines.append(
                f"| {events:,} | {files:,} | {size / 1e6:.0f} MB | {tool} | {r['wall']:.2f} s | {r['ratio']:.2f}× "  # noqa: RUF001
                f"| {r['cpu']:.2f} s | {r['cpu_ratio']:.2f}× | {r['rss']:.0f} MiB | {r['tree']:.0f} MiB |"  # noqa: RUF001
            )
    return "\n".join(lines)


def write_docs(text: str, marker: str = "bench") -> None:
    """Replace the text between docs/performance.md's ``<!-- MARKER:begin -->`` / ``:end`` markers."""
    doc = ROOT / "docs" / "performance.md"
    body = doc.read_text(encoding="utf-8")
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if begin not in body or end not in body:
        raise SystemExit(f"{doc}: no {begin} … {end} markers")
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{begin}\n{text}\n{end}{tail}", encoding="utf-8")


_SPIN = (
    "import time\nt = time.perf_counter()\nx = 0\nfor i in range(10_000_000): x += i\n"
    "print(time.perf_counter() - t)"
)


def _spin(copies: int) -> list[float]:
    """Seconds each of ``copies`` processes running the same pure-Python loop at once took."""
    procs = [subprocess.Popen([sys.executable, "-c", _SPIN], stdout=subprocess.PIPE) for _ in range(copies)]
    return [float(proc.communicate()[0]) for proc in procs]


def two_process_factor(rounds: int = 3) -> float:
    """How much slower each of two CPU-bound processes runs when both run at once than one alone
    (medians of ``rounds``): 1.0 where the two cores are independent. This machine's vCPUs are
    not always: zcat uses one core and irkit two, so the factor moves irkit's ratio to zcat's."""
    alone = statistics.median(_spin(1)[0] for _ in range(rounds))
    together = statistics.median(t for _ in range(rounds) for t in _spin(2))
    return together / alone


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument(
        "--per-file", type=int, default=500, help="events a log file (CloudTrail: tens to thousands)"
    )
    parser.add_argument(
        "--keep", type=Path, help="generate into (or reuse) DIR/<events> instead of a temp dir"
    )
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes generating")
    parser.add_argument(
        "--mix", choices=MIXES, default="stress",
        help="stress (the default: the tables fill, findings pile up) or typical (see TYPICAL)",
    )  # fmt: skip
    parser.add_argument("--write-docs", action="store_true", help="regenerate the table in docs/performance.md")
    args = parser.parse_args()
    tools = ["zcat", *(t for t in args.tools if t != "zcat" and available(t))]
    skipped = sorted(set(args.tools) - set(tools))
    tmp = None if args.keep else tempfile.mkdtemp(prefix="irkit-bench-")
    rows = []
    factors = [two_process_factor()]
    try:
        for events in args.events:
            folder = str(events) if args.mix == "stress" else f"{events}-{args.mix}"
            root = (args.keep or Path(str(tmp))) / folder
            if not any(root.rglob("*.json.gz")):
                t = time.perf_counter()
                generate(root, events, args.per_file, args.workers, args.mix)
                print(f"generated {events} events in {time.perf_counter() - t:.1f}s under {root}", flush=True)
            files = list(root.rglob("*.json.gz"))
            size = sum(p.stat().st_size for p in files)
            load = os.getloadavg()
            result = measure(root, args.repeat, tools)
            rows.append((events, len(files), size, result))
            print(f"{events:,} events, {len(files)} files, load {load[0]:.1f} {load[1]:.1f} before", flush=True)
            for tool, r in result.items():
                print(
                    f"  {tool:7} {r['wall']:7.2f} s  {r['ratio']:5.2f}x zcat   cpu {r['cpu']:7.2f} s "
                    f"{r['cpu_ratio']:5.2f}x   peak RSS {r['rss']:7.1f} MiB  tree {r['tree']:7.1f} MiB",
                    flush=True,
                )
        text = table(rows)
        load = os.getloadavg()
        factors.append(two_process_factor())
        note = (
            f"\n\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
            f"medians of {args.repeat} alternating cold runs; load average {load[0]:.1f} / {load[1]:.1f} "
            f"(1 / 5 min) when the run ended; two CPU-bound processes run at once each took "
            f"{factors[0]:.2f}× / {factors[1]:.2f}× as long as one alone (before / after)."  # noqa: RUF001
            + (f" Not available: {', '.join(skipped)}." if skipped else "")
        )
        print(text + note)
        if args.write_docs:
            write_docs(text + note, "bench" if args.mix == "stress" else f"bench-{args.mix}")
        print(json.dumps({str(e): r for e, _, _, r in rows}))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
