"""`irkit analyze`, `rules list` and `verify` start without the AWS SDK, moto, rich, tenacity or
cryptography: those load only in the commands that use them (issue 14, start-up), and a run imports
only the command module it runs. Behaviour, not timing: each command runs in a fresh interpreter and
reports the modules it loaded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

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

COMMANDS = (
    "contain", "collect", "resume", "restore", "revert", "report", "cases", "verify", "analyze",
    "baseline", "drill", "watch", "permissions", "init", "runbook", "rules", "journal",
)  # fmt: skip
"""Every command, in the order `irkit --help` lists them (irkit/commands/__init__.py's order; typer
lists the groups, runbook, rules and journal, after the plain commands)."""


def _run(argv: list[str]) -> tuple[int, list[str]]:
    """(exit code, every module loaded) of ``main(argv)`` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(root=str(ROOT), argv=argv)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    return int(out["code"]), list(out["modules"])


def _loaded(argv: list[str]) -> tuple[int, set[str]]:
    code, modules = _run(argv)
    return code, {m.split(".")[0] for m in modules}


def _command_modules(argv: list[str]) -> tuple[int, set[str]]:
    """(exit code, the irkit.commands.<name> modules of commands loaded) of a fresh run."""
    code, modules = _run(argv)
    return code, {m.rsplit(".", 1)[1] for m in modules if m.startswith("irkit.commands.")} & set(COMMANDS)


def _archive(tmp_path: Path) -> tuple[Path, Path]:
    from irkit.cloudtrail.writer import LocalSink
    from tests.cloudtrail.archive import build_archive

    writer = build_archive(LocalSink(tmp_path / "evidence", bucket="org-trail"), regions=("us-east-1",), hours=1)
    return tmp_path / "evidence", writer.write_public_key(tmp_path / "key.pem")


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


def test_analyze_imports_no_other_command(tmp_path: Path) -> None:
    code, commands = _command_modules(["analyze", str(_log(tmp_path)), "--json"])
    assert code == 0
    assert commands == {"analyze"}


@pytest.mark.parametrize("argv", [["rules", "list"], ["rules", "list", "--attack"]])
def test_rules_list_as_text_needs_no_tabulate(argv: list[str]) -> None:
    """tabulate's import reads every installed package's metadata: the plain tables are laid out
    without it (tests/perf/test_plain_table.py: the same text)."""
    code, modules = _loaded(argv)
    assert code == 0
    assert not modules & {"tabulate", "rich"}, sorted(modules & {"tabulate", "rich"})


def test_analyze_as_text_without_findings_needs_no_tabulate(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b'{"Records": []}')
    code, modules = _loaded(["analyze", str(empty)])
    assert code == 0
    assert "tabulate" not in modules


def test_rules_list_imports_no_other_command() -> None:
    code, commands = _command_modules(["rules", "list", "--json"])
    assert code == 0
    assert commands == {"rules"}


def test_verify_imports_no_other_command_nor_rich(tmp_path: Path) -> None:
    evidence, key = _archive(tmp_path)
    code, modules = _run(["verify", str(evidence), "--public-key", str(key)])
    assert code == 0  # the chain verified: the run went through the verifier, not a usage error
    assert {m.rsplit(".", 1)[1] for m in modules if m.startswith("irkit.commands.")} & set(COMMANDS) == {"verify"}
    assert not {m.split(".")[0] for m in modules} & {"boto3", "moto", "rich", "tenacity"}


def test_root_options_before_the_word_still_run_one_command(tmp_path: Path) -> None:
    code, commands = _command_modules(["--version", "analyze", str(_log(tmp_path))])
    assert code == 0
    assert commands == {"analyze"}


def test_version_alone_imports_no_command() -> None:
    code, commands = _command_modules(["--version"])
    assert code == 0
    assert commands == set()


def test_help_lists_every_command_in_order() -> None:
    probe = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from irkit.cli import main; sys.exit(main(['--help']))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, timeout=120, env={**os.environ, "COLUMNS": "200"}
    )
    assert proc.returncode == 0, proc.stderr
    commands = proc.stdout.decode().split("Commands", 1)[1]  # rich's box or click's plain list
    assert tuple(re.findall(r"^(?:│ |  )(\w+)\s", commands, re.M)) == COMMANDS


def test_a_typo_is_typers_usage_error_with_a_suggestion() -> None:
    probe = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from irkit.cli import main; sys.exit(main(['analyz']))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=120)
    assert proc.returncode == 2
    assert "No such command 'analyz'" in proc.stderr.decode()
    assert "Did you mean 'analyze'?" in proc.stderr.decode()


_HELP_PROBE = """
import io, sys
from contextlib import redirect_stdout
sys.path.insert(0, {root!r})
from irkit import cli
if {full!r}:
    cli.app  # the full app, built now: main runs it
out = io.StringIO()
with redirect_stdout(out):
    code = cli.main({argv!r})
sys.stdout.write(f"{{code}}\\n{{out.getvalue()}}")
"""


@pytest.mark.parametrize("argv", [["analyze", "--help"], ["rules", "list", "--help"], ["verify"]])
def test_one_command_app_answers_as_the_full_app(argv: list[str]) -> None:
    """Help, and a usage error (verify without its PATH), read the same from the one-command app."""

    def answer(full: bool) -> tuple[bytes, bytes]:
        probe = _HELP_PROBE.format(root=str(ROOT), full=full, argv=argv)
        proc = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, timeout=120, env={**os.environ, "COLUMNS": "120"}
        )
        return proc.stdout, proc.stderr

    one, full = answer(False), answer(True)
    assert one[0].strip() and one == full


_SCENARIO_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from irkit.detect import records
built = []
original = records.record
records.record = lambda *a, **k: built.append(1) or original(*a, **k)
from irkit.detect.detectors import all_detector_infos
at_import = len(built)
scenarios = sum(len(s) for info in all_detector_infos() for s in (*info.positive, *info.negative))
print(json.dumps({{"at_import": at_import, "read": len(built) - at_import, "events": scenarios}}))
"""


def test_detector_scenarios_are_built_when_read_not_at_import() -> None:
    """The detectors' test scenarios (751 records, ~10 ms) are not built by an analysis's import."""
    proc = subprocess.run(
        [sys.executable, "-c", _SCENARIO_PROBE.format(root=str(ROOT))], capture_output=True, check=True, timeout=120
    )
    out = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert out["at_import"] < 100  # the few short scenarios still built eagerly
    assert out["read"] > 600 and out["events"] > 600  # reading them builds them: nothing was lost


def test_scenarios_build_once_and_read_as_a_tuple() -> None:
    from irkit.detect.detector import Scenarios

    calls: list[int] = []

    def build() -> tuple[tuple[dict[str, str], ...], ...]:
        calls.append(1)
        return (({"eventName": "A"},), ({"eventName": "B"}, {"eventName": "C"}))

    lazy = Scenarios(build)
    assert calls == []
    assert len(lazy) == 2 and lazy[1][0] == {"eventName": "B"} and next(iter(lazy)) == ({"eventName": "A"},)
    assert lazy == build() and lazy[:1] == (({"eventName": "A"},),)
    assert len(calls) == 2  # once by the Scenarios, once by the comparison above
