"""Benchmark: time to first revocation and time to contain, under injected IAM throttling.

Usage::

    python bench/bench_containment.py [--rates 0 0.3 0.5] [--workers 1 8] [--repeat 3]
                                      [--users 2] [--roles 1] [--keys 2]
                                      [--retry-mode irkit|standard|adaptive]

Starts a moto server on 127.0.0.1 and the fault proxy of ``tests/faults.py`` in front of it, builds
an agent of ``--users`` users (each with ``--keys`` active access keys, a console password, an
inline policy, tags) and ``--roles`` roles, and runs the ``revoke`` step (``irkit contain``'s first
step) through the runbook engine with the proxy throttling that fraction of IAM and STS requests.

From the case journal (millisecond timestamps) it reports, per rate and worker count:

* **first key**: run start → the first ``deactivate-access-key`` journaled done;
* **all keys**: run start → the last ``deactivate-access-key`` done;
* **contained**: run start → the revoke step done (plan, snapshots, every action and its re-read);
* **verified**: containment actions verified / planned, and the gaps the step left;
* **throttled**: requests the proxy answered with ``Throttling`` / requests it saw.

Medians over ``--repeat`` runs (each on a fresh world, its own RNG seed). A script, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_var, None)
os.environ.update(  # moto's fake credentials, and never a real account's
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)

import boto3  # noqa: E402

from irkit.config import load_config  # noqa: E402
from irkit.drill.server import free_port, reset  # noqa: E402
from irkit.engine.run import start_run  # noqa: E402
from irkit.engine.runbook import parse_runbook  # noqa: E402
from tests.faults import FaultProxy, Rule  # noqa: E402

ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}


def build(iam: Any, users: int, roles: int, keys: int) -> list[str]:
    arns = []
    for i in range(users):
        name = f"agent-bot-{i}"
        arns.append(iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "ml"}])["User"]["Arn"])
        for _ in range(keys):
            iam.create_access_key(UserName=name)
        iam.create_login_profile(UserName=name, Password="Bench-Passw0rd-123!")  # noqa: S106 - simulator
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(POLICY))
    for i in range(roles):
        name = f"agent-role-{i}"
        arns.append(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(POLICY))
    return arns


def config(path: Path, endpoint: str, principals: list[str]) -> Path:
    lines = ["aws:", "  region: us-east-1", f"  endpoint_url: {endpoint}", "agents:", "  bench:",
             f'    account: "{ACCOUNT}"', "    principals:", *[f"      - {p}" for p in principals]]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ts(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(entry["ts"]).replace("Z", "+00:00")).timestamp()


def one_run(moto: str, rate: float, workers: int, seed: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    reset(moto)
    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1")
    principals = build(iam, args.users, args.roles, args.keys)
    with FaultProxy(moto, seed=seed) as proxy:
        if rate:
            proxy.add(Rule("throttle", probability=rate, service="iam"))
            proxy.add(Rule("throttle", probability=rate, service="sts"))
        cfg = config(tmp / f"irkit-{seed}.yaml", proxy.url, principals)
        book = parse_runbook(
            f"name: bench\nsteps:\n  - step: contain\n    id: contain\n    with: {{workers: {workers}}}\n",
            source="bench",
        )
        started = time.monotonic()
        result = start_run(
            load_config(cfg), agent_name="bench", runbook=book, hours=1, out=tmp / "cases",
            config_file=cfg, assume_yes=True, echo=lambda _line: None,
        )  # fmt: skip
        wall = time.monotonic() - started
        seen, throttled = sum(proxy.requests.values()), sum(proxy.injected.values())
    entries = result.case.journal.entries()
    t0 = ts(next(e for e in entries if e["kind"] == "run.start"))
    keys = [ts(e) - t0 for e in entries
            if e["kind"] == "action.done" and e["data"]["action"]["kind"] == "deactivate-access-key"]  # fmt: skip
    done = next(e for e in entries if e["kind"] == "step.done" and e["step"] == "contain")
    rows = done["data"]["output"].get("contained", [])
    still_active = sum(
        1 for p in principals if ":user/" in p
        for k in iam.list_access_keys(UserName=p.rsplit("/", 1)[-1])["AccessKeyMetadata"] if k["Status"] == "Active"
    )  # fmt: skip
    return {
        "first_key": min(keys) if keys else float("nan"),
        "all_keys": max(keys) if keys else float("nan"),
        "contained": ts(done) - t0,
        "wall": wall,
        "verified": sum(1 for r in rows if r.get("verified")),
        "actions": len(rows),
        "gaps": len(done["data"].get("gaps", [])),
        "active_keys_left": still_active,
        "requests": seen,
        "throttled": throttled,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.3, 0.5])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--roles", type=int, default=1)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument(
        "--retry-mode", choices=["irkit", "standard", "adaptive"], default="irkit",
        help="containment's retries: irkit's own (default), or botocore's mode alone (6 retries, no irkit retry)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.retry_mode != "irkit":
        # For comparison: containment's client retries the way every other irkit client does, and
        # irkit.contain.calls.Persistent retries nothing (it only gates calls in flight).
        from botocore.config import Config

        from irkit.aws import session
        from irkit.contain import calls

        session._URGENT = session._URGENT.merge(Config(retries={"mode": args.retry_mode, "max_attempts": 6}))
        calls.transient = lambda _exc: ""  # type: ignore[assignment]
    logging.getLogger("werkzeug").disabled = True
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto = f"http://127.0.0.1:{port}"
    print(f"agent: {args.users} users x {args.keys} active keys, {args.roles} roles; median of {args.repeat} runs; "
          f"retry mode: {args.retry_mode}")  # fmt: skip
    print(f"{'throttle':>8} {'workers':>7} {'first key':>10} {'all keys':>9} {'contained':>10} "
          f"{'verified':>9} {'gaps':>5} {'keys left':>9} {'throttled':>10}")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="irkit-bench-contain-") as tmp:
            for rate in args.rates:
                for workers in args.workers:
                    runs = [one_run(moto, rate, workers, 1000 + i, args, Path(tmp)) for i in range(args.repeat)]

                    def med(key: str, runs: list[dict[str, Any]] = runs) -> float:
                        return float(statistics.median(r[key] for r in runs))

                    print(
                        f"{rate:>8.0%} {workers:>7} {med('first_key'):>9.2f}s {med('all_keys'):>8.2f}s "
                        f"{med('contained'):>9.2f}s {med('verified'):>4.0f}/{med('actions'):<4.0f} "
                        f"{med('gaps'):>5.0f} {med('active_keys_left'):>9.0f} "
                        f"{med('throttled'):>4.0f}/{med('requests'):<5.0f}",
                        flush=True,
                    )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
