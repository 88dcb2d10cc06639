"""Peak memory and output size on hostile archive files (issue 8): what a tiny input can cost.

Usage::

    python bench/bench_hostile.py [--code DIR] [--only NAME]...

Inputs, each a CloudTrail-named ``.json.gz``:

* ``tiny-2M``: 6 KB of gzip, two million ``{}`` records;
* ``bomb-1MB``: 1 MB of gzip, ~1 GiB of zeros;
* ``dense``: just under the JSON-value bound (1.99M ``{}``), the most objects a parsed file may hold;
* ``spaces``: a valid document padded with spaces to just under the 128 MiB cap.

Each goes, in its own child process, through ``irkit analyze FILE --json`` and through
``irkit collect`` from a moto server (127.0.0.1) holding a small signed archive plus that file as a
log of the window. Reports the child's peak RSS (``wait4``: the child and the workers it reaped),
its stdout size, exit code and wall time. ``--code`` measures another checkout (e.g. the code before
a fix). A script, never a timed test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
ACCOUNT = "111111111111"
BUCKET = "bench-hostile-archive"


def tiny() -> bytes:
    return gzip.compress(b'{"Records":[' + b",".join([b"{}"] * 2_000_000) + b"]}", 9)


def bomb() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    out = []
    while sum(map(len, out)) < MiB - 1100:  # ~1,030:1 for zeros
        out.append(packer.compress(zeros))
    return b"".join(out) + packer.flush()


def dense() -> bytes:
    return gzip.compress(b'{"Records":[' + b",".join([b"{}"] * 1_990_000) + b"]}", 9)


def spaces() -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    pad = b" " * MiB
    parts = [packer.compress(b'{"Records":[')]
    parts += [packer.compress(pad) for _ in range(127)]
    parts.append(packer.compress(b" " * (MiB - 64) + b"]}"))
    return b"".join(parts) + packer.flush()


INPUTS: dict[str, Callable[[], bytes]] = {"tiny-2M": tiny, "bomb-1MB": bomb, "dense": dense, "spaces": spaces}

_ANALYZE = """
import sys
sys.path.insert(0, {code!r})
from irkit.cli import main
sys.exit(main(["analyze", {path!r}, "--json"]))
"""

_COLLECT = """
import sys
sys.path.insert(0, {code!r})
from irkit.cli import main
sys.exit(main(["collect", "bench", "--config", {config!r}, "--hours", "2", "--out", {out!r}, "--json"]))
"""


def run_child(script: str, env: dict[str, str]) -> dict[str, object]:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=out, stderr=err, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out.seek(0, os.SEEK_END)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        return {
            "exit": os.waitstatus_to_exitcode(status),
            "rss_mib": round(usage.ru_maxrss / 1024, 1),
            "stdout_bytes": out.tell(),
            "seconds": round(seconds, 2),
            "stderr_tail": tail[0][:160],
        }


def collect_world(endpoint: str, folder: Path, name: str, path: Path) -> Path:
    """A small signed archive for the last two hours, plus the file at ``path`` as one more log of the window."""
    import boto3

    sys.path.insert(0, str(ROOT))
    from irkit.cloudtrail.layout import TrailLayout
    from irkit.cloudtrail.writer import ArchiveWriter, S3Sink, synthetic_record

    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)
    bucket = f"{BUCKET}-{name}"
    s3.create_bucket(Bucket=bucket)
    layout = TrailLayout(bucket)
    writer = ArchiveWriter(layout, S3Sink(s3, bucket))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=100)
    records = [synthetic_record(start + timedelta(minutes=i), account=ACCOUNT, seq=i) for i in range(90)]
    writer.add_records(ACCOUNT, "us-east-1", records)
    writer.seal_digests(until=now)
    key = layout.log_key(ACCOUNT, "us-east-1", now - timedelta(minutes=30), f"hostile{name.replace('-', '')}")
    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    pem = writer.write_public_key(folder / "trail.pem")
    config = folder / "irkit.yaml"
    config.write_text(
        f"""aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}
log_archive:
  bucket: {bucket}
  accounts: ["{ACCOUNT}"]
  regions: [us-east-1]
  public_keys: ["{pem}"]
agents:
  bench:
    account: "{ACCOUNT}"
    principals: [arn:aws:iam::{ACCOUNT}:user/alice]
"""
    )
    return config


_SERVER = """
import sys
sys.path.insert(0, {root!r})
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port={port}, verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
"""


def _helper(*args: str) -> None:
    """Run a part of this script in a child: the parent stays small, so no child inherits its RSS
    (Linux keeps the high-water mark of the memory a child was forked from, even across exec)."""
    subprocess.run([sys.executable, __file__, *args], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--code", type=Path, default=ROOT, help="the irkit checkout to measure")
    parser.add_argument("--only", action="append", choices=sorted(INPUTS), help="one input (repeatable)")
    parser.add_argument("--skip-collect", action="store_true")
    parser.add_argument("--make", nargs=2, metavar=("NAME", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--world", nargs=4, metavar=("ENDPOINT", "FOLDER", "NAME", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Only the simulator is ever called: dummy credentials, never a profile.
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")  # noqa: S106 - the simulator's dummy
    os.environ.pop("AWS_PROFILE", None)
    if args.make:
        Path(args.make[1]).write_bytes(INPUTS[args.make[0]]())
        return 0
    if args.world:
        endpoint, folder, name, path = args.world
        collect_world(endpoint, Path(folder), name, Path(path))
        return 0
    code = str(args.code.resolve())
    env = dict(os.environ)
    server: subprocess.Popen[str] | None = None
    endpoint = ""
    if not args.skip_collect:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVER.format(root=str(ROOT), port=port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert server.stdout is not None
        server.stdout.readline()
        endpoint = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.only or list(INPUTS):
                folder = Path(tmp) / name
                folder.mkdir()
                path = folder / f"{ACCOUNT}_CloudTrail_us-east-1_20261125T0100Z_{name.replace('-', '')}.json.gz"
                _helper("--make", name, str(path))
                row: dict[str, object] = {"input": name, "gzip_bytes": path.stat().st_size}
                row["analyze"] = run_child(_ANALYZE.format(code=code, path=str(path)), env)
                if server is not None:
                    _helper("--world", endpoint, str(folder), name, str(path))
                    out = folder / "evidence"
                    config = str(folder / "irkit.yaml")
                    row["collect"] = run_child(_COLLECT.format(code=code, config=config, out=str(out)), env)
                    row["collect"]["manifest"] = (out / "manifest.json").is_file()  # type: ignore[index]
                print(json.dumps(row), flush=True)
                path.unlink()
    finally:
        if server is not None:
            server.communicate("", timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
