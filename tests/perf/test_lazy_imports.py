"""`irkit analyze`, `rules list` and `verify` start without the AWS SDK, moto, rich, tenacity or
cryptography: those load only in the commands that use them (issue 14, start-up). Behaviour, not
timing: each command runs in a fresh interpreter and reports the modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "moto", "rich", "tenacity", "cryptography", "s3transfer", "pydantic")

_PROBE = """
import io, json, sys
from contextlib import redirect_stdout
sys.path.insert(0, {root!r})
from irkit.cli import main
with redirect_stdout(io.StringIO()):
    code = main({argv!r})
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""


def _loaded(argv: list[str]) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(root=str(ROOT), argv=argv)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return int(out["code"]), {m.split(".")[0] for m in out["modules"]}


def _log(tmp_path: Path) -> Path:
    record = {
        "eventTime": "2026-11-25T03:12:09Z",
        "eventName": "CreateAccessKey",
        "eventSource": "iam.amazonaws.com",
        "awsRegion": "us-east-1",
        "eventID": "e-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/agent", "accountId": "111111111111"},
        "requestParameters": {"userName": "agent"},
        "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLE0000000001", "userName": "agent"}},
    }
    path = tmp_path / "log.json"
    path.write_bytes(orjson.dumps({"Records": [record]}))
    return path


def test_analyze_loads_no_aws_sdk_nor_rich(tmp_path: Path) -> None:
    code, modules = _loaded(["analyze", str(_log(tmp_path)), "--json"])
    assert code == 0
    assert "irkit" in modules and "orjson" in modules  # the probe saw the run's modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_rules_list_loads_no_aws_sdk_nor_rich() -> None:
    code, modules = _loaded(["rules", "list", "--json"])
    assert code == 0
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_importing_the_cli_loads_no_command_machinery() -> None:
    code, modules = _loaded(["--version"])
    assert code == 0
    assert not modules & {*HEAVY, "tabulate"}, sorted(modules & {*HEAVY, "tabulate"})
