"""Benchmark: ``irkit collect`` against ``aws s3 sync`` of the same objects, from a moto server on loopback.

Usage::

    python bench/bench_collect.py [--objects 3000] [--repeat 3] [--keep DIR] [--write-docs]

Needs the AWS CLI (``aws`` on PATH, e.g. ``pip install awscli``; not an irkit dependency) and
moto's server (a dev dependency). Nothing leaves 127.0.0.1; the credentials are moto's dummies.

It generates an org-trail archive with the log generator of ``bench/bench_analyze.py`` (8 accounts x
4 regions, 5-minute deliveries, ``--objects`` log files whose event counts follow a log-normal
spread around ``--median-events``, so sizes run from a few hundred bytes to about a megabyte as in
real trails) plus the hourly signed digest chain of each account and region
(:class:`irkit.cloudtrail.writer.ArchiveWriter`); the last delivery is an hour before now, so one
``--hours`` window covers every object. ``--keep DIR`` writes the archive there (or reuses it).

It starts a moto server on 127.0.0.1 in a child process, uploads the archive to one bucket, and
then runs, in alternating rounds (one run of each tool a round, each a cold child process, each
into a fresh empty folder):

* ``aws``: ``aws s3 sync s3://BUCKET/AWSLogs/ DIR --endpoint-url http://127.0.0.1:PORT`` — the
  reference, with the CLI's default concurrency (10 requests);
* ``irkit``: ``irkit collect AGENT --hours H --out DIR --json`` with an irkit.yaml whose
  ``aws.endpoint_url`` is the server and whose ``log_archive`` names the bucket, the organization,
  the accounts, the regions and the digest public key: listing, download, hashes, manifest *and*
  the digest-chain verification that ``collect`` does.

After every run it checks that both fetched the same objects (the keys and their count; irkit's
from its manifest) and that irkit's verdict is "verified". It reports the median wall time, the
ratio to ``aws s3 sync``'s median, the median CPU time of the tool's process tree and of the moto
server during the run (the server is the limit on loopback: its CPU bounds how fast anyone can
fetch). ``--write-docs`` replaces the table between the ``bench-collect:begin`` /
``bench-collect:end`` markers of docs/performance.md. A script, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_analyze import ACCOUNTS, ORG, REGIONS, _record, write_docs  # noqa: E402

from irkit.cloudtrail.layout import TrailLayout, parse_key  # noqa: E402
from irkit.cloudtrail.writer import META_SUFFIX, ArchiveWriter, LocalSink  # noqa: E402

BUCKET = "bench-collect-archive"
AGENT = "bench-agent"
TOOLS = ("aws", "irkit")
COMPARE: dict[str, Path] = {}
"""``irkit@LABEL`` → another irkit source tree (``--compare``), run the same way."""
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


# -- the archive --------------------------------------------------------------------------------------


def generate(root: Path, objects: int, median_events: int, seed: int = 7) -> None:
    """``objects`` log files and their digests under ``root`` (keys as paths, metadata beside)."""
    rng = random.Random(seed)
    streams = len(ACCOUNTS) * len(REGIONS)
    slots = math.ceil(objects / streams)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    last = now.replace(minute=0) - timedelta(hours=1)  # every digest covering a log is already sealed
    first = last - timedelta(minutes=5 * (slots - 1))
    writer = ArchiveWriter(TrailLayout(BUCKET, "", ORG), LocalSink(root, BUCKET))
    for i in range(objects):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        region = REGIONS[(i // len(ACCOUNTS)) % len(REGIONS)]
        delivered = first + timedelta(minutes=5 * (i // streams))
        events = max(1, min(6000, round(rng.lognormvariate(math.log(median_events), 1.1))))
        records = [
            _record(rng, delivered - timedelta(seconds=rng.randrange(1, 600)), account, region, j)
            for j in range(events)
        ]
        writer.add_log_file(account, region, records, delivered=delivered, file_id=f"{rng.getrandbits(64):016x}")
    writer.seal_digests(until=last + timedelta(hours=1))
    writer.write_public_key(root.parent / f"{root.name}.pem")


def archive_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json.gz") if p.is_file())


def _key(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


# -- the server ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_SERVER = """
import logging, sys
logging.getLogger("werkzeug").disabled = True
from moto.server import main
main(["-H", "127.0.0.1", "-p", sys.argv[1]])
"""


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):  # noqa: S310 - loopback only
                return proc, endpoint
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("moto server did not start (is moto[server] installed?)") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto server did not answer within 30 s")


def upload(root: Path, endpoint: str) -> None:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=Config(max_pool_connections=16),
        aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 - moto's dummies
    )  # fmt: skip
    s3.create_bucket(Bucket=BUCKET)

    def put(path: Path) -> None:
        meta_path = path.with_name(path.name + META_SUFFIX)
        meta = orjson.loads(meta_path.read_bytes()) if meta_path.is_file() else {}
        s3.put_object(
            Bucket=BUCKET, Key=_key(root, path), Body=path.read_bytes(), Metadata=meta,
            ContentType="application/json", ContentEncoding="gzip",
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, archive_files(root)))


def server_cpu(pid: int) -> float:
    """User + system seconds of the server process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the tools ----------------------------------------------------------------------------------------


def write_config(path: Path, endpoint: str, public_key: Path) -> Path:
    accounts = ", ".join(f'"{a}"' for a in ACCOUNTS)
    path.write_text(
        f"""\
# Written by bench/bench_collect.py: the moto server at {endpoint}
aws:
  region: us-east-1
  endpoint_url: {endpoint}
log_archive:
  bucket: {BUCKET}
  organization_id: {ORG}
  public_keys: ["{public_key}"]
  accounts: [{accounts}]
  regions: [{", ".join(REGIONS)}]
agents:
  {AGENT}:
    account: "{ACCOUNTS[0]}"
    principals:
      - arn:aws:iam::{ACCOUNTS[0]}:role/role-0
""",
        encoding="utf-8",
    )
    return path


_IRKIT = """
import sys
sys.path.insert(0, {root!r})
from irkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _argv(tool: str, endpoint: str, config: Path, hours: float, out: Path) -> list[str]:
    root = COMPARE.get(tool, ROOT)
    if tool == "aws":
        aws = shutil.which("aws") or "aws"
        return [aws, "s3", "sync", f"s3://{BUCKET}/AWSLogs/", str(out / "AWSLogs"), "--endpoint-url", endpoint,
                "--only-show-errors"]  # fmt: skip
    return [sys.executable, "-c", _IRKIT.format(root=str(root)), "collect", AGENT, "--config", str(config),
            "--hours", f"{hours:.3f}", "--out", str(out), "--json"]  # fmt: skip


def fetched_keys(tool: str, out: Path, stdout: bytes) -> tuple[list[str], str]:
    """The keys a run fetched and, for irkit, the digest verdict."""
    if not tool.startswith("irkit"):
        return sorted(_key(out, p) for p in archive_files(out)), ""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    doc = orjson.loads(stdout)
    v = doc.get("verify") or {}
    verdict = f"{v.get('logs_checked', 0)} logs, {v.get('digests_checked', 0)} digests checked"
    if not doc.get("verified") or v.get("problems") or v.get("pending") or doc.get("gaps"):
        gaps = "; ".join(f"{g['path']}: {g['reason']}" for g in doc.get("gaps", [])[:3])
        verdict = f"NOT verified: {verdict}, {len(v.get('pending', []))} pending, gaps: {gaps or 'none'}"
    return sorted(o["key"] for o in manifest["objects"]), verdict


def run_once(tool: str, endpoint: str, config: Path, hours: float, out: Path, server: int) -> dict[str, Any]:
    env = os.environ | _ENV | {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env.pop("AWS_PROFILE", None)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    server_before = server_cpu(server)
    started = time.perf_counter()
    proc = subprocess.Popen(
        _argv(tool, endpoint, config, hours, out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    stdout, err = proc.communicate()
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 3):  # collect: 3 is "done with gaps"
        raise SystemExit(f"{tool} failed (exit {proc.returncode}): {err.decode(errors='replace')[-800:]}")
    keys, verdict = fetched_keys(tool, out, stdout)
    return {"wall": wall, "server_cpu": server_cpu(server) - server_before, "keys": keys, "verdict": verdict,
            "exit": proc.returncode}  # fmt: skip


def _cpu_of_children() -> float:
    """User + system seconds of every reaped child (and its children) so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(usage.ru_utime + usage.ru_stime)


def measure(
    endpoint: str, config: Path, hours: float, work: Path, server: int, repeat: int, expected: list[str]
) -> dict[str, dict[str, float]]:
    tools = [*TOOLS, *COMPARE]
    runs: dict[str, list[dict[str, Any]]] = {t: [] for t in tools}
    for round_ in range(repeat):
        for tool in tools if round_ % 2 == 0 else tools[::-1]:  # alternating, and alternating who goes first
            before = _cpu_of_children()
            r = run_once(tool, endpoint, config, hours, work / tool, server)
            r["cpu"] = _cpu_of_children() - before
            if r["keys"] != expected:
                missing, extra = set(expected) - set(r["keys"]), set(r["keys"]) - set(expected)
                raise SystemExit(f"{tool} fetched {len(r['keys'])} objects, not {len(expected)}: "
                                 f"{len(missing)} missing, {len(extra)} extra")  # fmt: skip
            if r["verdict"].startswith("NOT"):
                raise SystemExit(f"irkit collect: {r['verdict']}")
            print(f"  round {round_ + 1} {tool:5} {r['wall']:6.2f} s  cpu {r['cpu']:5.2f} s  "
                  f"server cpu {r['server_cpu']:5.2f} s  {len(r['keys'])} objects  {r['verdict']}",
                  flush=True)  # fmt: skip
            runs[tool].append(r)
    floor = statistics.median(r["wall"] for r in runs["aws"])
    out: dict[str, dict[str, float]] = {}
    for tool, rs in runs.items():
        wall = statistics.median(r["wall"] for r in rs)
        out[tool] = {
            "wall": wall, "ratio": wall / floor, "cpu": statistics.median(r["cpu"] for r in rs),
            "server_cpu": statistics.median(r["server_cpu"] for r in rs), "runs": len(rs),
        }  # fmt: skip
    return out


def table(objects: int, logs: int, size: int, result: dict[str, dict[str, float]]) -> str:
    lines = [
        "| objects | logs + digests | stored | tool | wall (median) | × aws s3 sync | CPU (median) "  # noqa: RUF001
        "| server CPU (median) |",
        "|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for tool, r in result.items():
        lines.append(
            f"| {objects:,} | {logs:,} + {objects - logs:,} | {size / 1e6:.0f} MB | {tool} | {r['wall']:.2f} s "
            f"| {r['ratio']:.2f}× | {r['cpu']:.2f} s | {r['server_cpu']:.2f} s |"  # noqa: RUF001
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=3000, help="log files (digests come on top)")
    parser.add_argument("--median-events", type=int, default=120, help="median events a log file")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) DIR/<objects> instead of a temp dir")
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--write-docs", action="store_true", help="regenerate the table in docs/performance.md")
    parser.add_argument(
        "--compare", nargs="*", default=[], metavar="LABEL=DIR",
        help="also run the irkit of another source tree (e.g. an export of main) as irkit@LABEL",
    )  # fmt: skip
    args = parser.parse_args()
    for item in args.compare:
        label, _, where = item.partition("=")
        if not where or not (Path(where) / "irkit" / "cli.py").is_file():
            raise SystemExit(f"--compare {item}: expected LABEL=DIR with DIR/irkit/cli.py")
        COMPARE[f"irkit@{label}"] = Path(where).resolve()
    if shutil.which("aws") is None:
        raise SystemExit("no `aws` on PATH: pip install awscli (the bench compares against it)")
    tmp = Path(tempfile.mkdtemp(prefix="irkit-bench-collect-"))
    root = (args.keep or tmp) / str(args.objects)
    server = None
    try:
        digests = [i.delivered for p in archive_files(root) if (i := parse_key(p.name)) is not None and i.digest]
        if digests and datetime.now(UTC) > max(digests) + timedelta(hours=1):
            # An hour past its newest digest, a kept archive reads as a hole in the chain: made anew.
            shutil.rmtree(root)
        if not archive_files(root):
            t = time.perf_counter()
            generate(root, args.objects, args.median_events)
            print(f"generated {args.objects} log files in {time.perf_counter() - t:.1f}s under {root}", flush=True)
        files = archive_files(root)
        keys = sorted(_key(root, p) for p in files)
        logs = sum(1 for k in keys if (info := parse_key(k)) is not None and not info.digest)
        size = sum(p.stat().st_size for p in files)
        sizes = sorted(p.stat().st_size for p in files if "CloudTrail-Digest" not in p.name)
        oldest = min(info.delivered for k in keys if (info := parse_key(k)) is not None)
        # The window reaches an hour before the oldest delivery (the digest chain starts on that hour).
        hours = (datetime.now(UTC) - oldest).total_seconds() / 3600 + 1.5
        server, endpoint = start_server()
        t = time.perf_counter()
        upload(root, endpoint)
        print(f"uploaded {len(files)} objects ({size / 1e6:.0f} MB; log sizes median {sizes[len(sizes) // 2]:,} B, "
              f"max {sizes[-1]:,} B) in {time.perf_counter() - t:.1f}s to {endpoint}", flush=True)  # fmt: skip
        config = write_config(tmp / "irkit.yaml", endpoint, root.parent / f"{root.name}.pem")
        load = os.getloadavg()
        result = measure(endpoint, config, hours, tmp / "runs", server.pid, args.repeat, keys)
        text = table(len(keys), logs, size, result)
        end_load = os.getloadavg()
        note = (
            f"\n\n{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, "
            f"moto server on 127.0.0.1; log files {sizes[0]:,} B to {sizes[-1]:,} B (median "
            f"{sizes[len(sizes) // 2]:,} B); medians of {args.repeat} alternating cold runs, each into an empty "
            f"folder; load average {load[0]:.1f} before, {end_load[0]:.1f} after (1 min)."
        )
        print(text + note)
        if args.write_docs:
            write_docs(text + note, "bench-collect")
        print(json.dumps(result))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
