"""Bad input at the command line: a clear error and an exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from irkit.cli import main
from irkit.drill.server import free_port  # a port nobody listens on


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_config_that_is_not_utf8_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_bytes(b"\xff\xfeagents: {}\n")
    code, _, err = _run(["contain", "a", "--config", str(config), "--dry-run"], capsys)
    assert code == 2
    assert "not UTF-8" in err and "internal error" not in err


def test_runbook_that_is_not_utf8_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runbook = tmp_path / "rb.yaml"
    runbook.write_bytes(b"name: x\xff\n")
    code, _, err = _run(["runbook", "validate", str(runbook)], capsys)
    assert code == 2
    assert "not UTF-8" in err and "internal error" not in err


@pytest.fixture
def dead_endpoint_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An irkit.yaml whose endpoint has nothing listening, with credentials that look real."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEDEADEND01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dead-endpoint-secret-not-real-0123456789")
    config = tmp_path / "irkit.yaml"
    config.write_text(
        f"aws:\n  region: us-east-1\n  endpoint_url: http://127.0.0.1:{free_port()}\n"
        "log_archive:\n  bucket: b\n  accounts: ['111111111111']\n  regions: [us-east-1]\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    return config


def test_contain_json_against_a_dead_endpoint_says_containment_incomplete(
    dead_endpoint_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    runbook = tmp_path / "contain-only.yaml"  # the containment verdict needs no evidence steps
    runbook.write_text("name: contain-only\nsteps:\n  - step: contain\n")
    argv = ["contain", "a", "--config", str(dead_endpoint_config), "--runbook", str(runbook), "--yes",
            "--out", str(tmp_path / "c"), "--json"]  # fmt: skip
    code, out, err = _run(argv, capsys)
    doc = json.loads(out)
    assert code == doc["exit_code"] != 0
    assert doc["containment_complete"] is False and doc["containment_gaps"] >= 1
    assert "CONTAINMENT INCOMPLETE" in err
    assert "dead-endpoint-secret" not in out + err


def test_contain_against_a_dead_endpoint_ends_in_seconds(
    dead_endpoint_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import time

    started = time.monotonic()
    code, out, _ = _run(
        ["contain", "a", "--config", str(dead_endpoint_config), "--yes", "--out", str(tmp_path / "c")], capsys
    )
    assert time.monotonic() - started < 30
    assert code != 0 and "CONTAINMENT INCOMPLETE" in out


def test_analyze_of_a_folder_without_logs_is_a_named_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    (tmp_path / "logs" / "x.json").mkdir(parents=True)  # a folder named like a log is no log
    code, out, _ = _run(["analyze", str(tmp_path / "logs"), "--json"], capsys)
    doc = json.loads(out)
    assert code == 3
    assert doc["files"] == 0 and doc["gaps"][0]["path"] == str(tmp_path / "logs")
    assert "no CloudTrail log files" in doc["gaps"][0]["reason"]


def _case_with_meta(tmp_path: Path, meta: object) -> Path:
    import json

    case = tmp_path / "case"
    case.mkdir()
    (case / "case.json").write_text(json.dumps(meta))
    return case


_GOOD_META = {
    "case_id": "IR-1-a",
    "agent": "a",
    "runbook": "agent-compromise",
    "hours": 24.0,
    "dry_run": True,
    "created": "2026-01-01T00:00:00+00:00",
    "window_start": "2025-12-31T00:00:00+00:00",
    "window_end": "2026-01-01T00:00:00+00:00",
}


@pytest.mark.parametrize(
    ("meta", "named"),
    [
        ([1], "expected a JSON object"),
        ({"case_id": "x"}, "agent: required key is missing"),
        ({**_GOOD_META, "dry_run": "no"}, "dry_run: expected bool"),
        ({**_GOOD_META, "hours": "x"}, "hours: expected int or float"),
        ({**_GOOD_META, "colour": 1}, "colour: unknown key"),
    ],
)
def test_resume_of_a_damaged_case_json_names_the_bad_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], meta: object, named: str
) -> None:
    code, _, err = _run(["resume", str(_case_with_meta(tmp_path, meta))], capsys)
    assert code == 2
    assert named in err and "CaseMeta" not in err


@pytest.mark.parametrize("case_id", ["../escaped", "a/b", ".."])
def test_a_case_id_that_would_leave_out_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case_id: str
) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    out = tmp_path / "cases" / "inner"
    code, _, err = _run(
        ["contain", "a", "--config", str(config), "--dry-run", "--out", str(out), "--case", case_id], capsys
    )
    assert code == 2 and "case id" in err
    assert not (tmp_path / "cases" / "escaped").exists() and not (out / "a").exists()


def test_out_that_is_a_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, _, err = _run(["contain", "a", "--config", str(config), "--dry-run", "--out", str(blocker)], capsys)
    assert code == 2
    assert "cannot create case folder" in err and "internal error" not in err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["contain"], "Missing argument"),
        (["contain", "a", "--hours", "abc"], "Invalid value for '--hours'"),
        (["contain", "a", "--bogus"], "No such option: --bogus"),
        (["collect", "a", "--hours", "0"], "Invalid value for '--hours'"),
        (["nope"], "No such command 'nope'"),
    ],
)
def test_command_line_mistakes_are_usage_errors(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert said in err and "internal error" not in err


def test_baseline_out_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    import json
    from datetime import UTC, datetime

    logs = tmp_path / "logs"
    logs.mkdir()
    record = {
        "eventVersion": "1.08",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "eventID": "e-1",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "10.0.0.1",
        "userAgent": "agent",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111111111111:role/agent"},
    }
    (logs / "a.jsonl").write_text(json.dumps(record) + "\n")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["baseline", "a", "--config", str(config), "--from", str(logs), "--out", str(blocker / "b.json")]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert "cannot write the baseline" in err and "internal error" not in err


def test_an_unexpected_error_never_prints_a_registered_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from irkit.detect import catalog
    from irkit.redact import register_secret

    secret = "unexpected-error-secret-0123456789abcdef"
    register_secret(secret)

    def explode() -> None:
        raise RuntimeError(f"botocore said: credentials {secret} rejected")

    monkeypatch.setattr(catalog, "catalog", explode)  # rules list loads it when run
    code, out, err = _run(["rules", "list"], capsys)
    assert code == 1 and "internal error" in err
    assert secret not in out + err


@pytest.mark.parametrize("damage", ["missing", "not-utf8"])
def test_resume_of_a_case_whose_runbook_copy_is_damaged_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    case = _case_with_meta(tmp_path, _GOOD_META)
    (case / "irkit.yaml").write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    if damage == "not-utf8":
        (case / "runbook.yaml").write_bytes(b"name: x\xff\n")
    code, _, err = _run(["resume", str(case)], capsys)
    assert code == 2
    assert "runbook.yaml" in err and "internal error" not in err


def test_runbook_path_without_yaml_suffix_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "runbook.txt"
    text.write_text("name: x\n")
    code, _, err = _run(["runbook", "validate", str(text)], capsys)
    assert code == 2 and "without a .yaml/.yml suffix" in err


@pytest.mark.parametrize(
    ("option", "said"),
    [
        ("{workers: 0}", "workers: must be at least 1"),
        ("{max_actions: -1}", "max_actions: must be at least 0"),
        ("{workers: true}", "workers: expected int, got bool"),
    ],
)
def test_runbook_step_option_out_of_range_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, said: str
) -> None:
    runbook = tmp_path / "rb.yaml"
    runbook.write_text(f"name: x\nsteps:\n  - step: contain\n    with: {option}\n")
    code, _, err = _run(["runbook", "validate", str(runbook)], capsys)
    assert code == 2 and said in err


@pytest.mark.parametrize(
    "argv",
    [
        ["contain", "a", "--hours", "nan"],
        ["contain", "a", "--hours", "inf"],
        ["contain", "a", "--hours", "1e12"],
        ["collect", "a", "--hours", "100000000000"],
        ["baseline", "a", "--days", "100000000"],
    ],
)
def test_absurd_time_windows_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    extra = ["--from", str(tmp_path)] if argv[0] == "baseline" else ["--dry-run"] if argv[0] == "contain" else []
    code, _, err = _run([*argv, "--config", str(config), "--out", str(tmp_path / "o"), *extra], capsys)
    assert code == 2 and "internal error" not in err


@pytest.mark.parametrize("command", [["init", "--path"], ["drill", "backdoor-user", "--out"]])
def test_a_path_that_cannot_be_created_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = str(blocker / "inside")
    code, _, err = _run([*command, target], capsys)
    assert code == 2
    assert target in err and "Not a directory" in err and "internal error" not in err


def test_restore_names_a_damaged_snapshot_as_a_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = _case_with_meta(tmp_path, {**_GOOD_META, "dry_run": False})
    (case / "irkit.yaml").write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    (case / "snapshots").mkdir()
    (case / "snapshots" / "role-agent.json").write_text("{bad")
    # the revert stage's before-image of an attacker's change lives there too: not a principal's snapshot
    (case / "snapshots" / "revert-0f1e2d3c-aaaa-bbbb-cccc-000000000001.json").write_text('{"tags": []}')
    code, out, err = _run(["restore", str(case), "--yes"], capsys)
    assert "internal error" not in err
    assert "role-agent.json: damaged snapshot" in out + err
    assert "revert-0f1e2d3c" not in out + err
    assert code == 3


def test_the_responders_own_credentials_are_masked_in_output(monkeypatch: pytest.MonkeyPatch) -> None:
    from irkit.aws.session import Aws
    from irkit.config import AwsSettings
    from irkit.redact import redact_text

    secret = "responder-own-secret-from-env-0123456789"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIARESPONDEROWNKEY1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "responder-own-session-token-0123456789")
    Aws(AwsSettings(region="us-east-1")).client("sts")
    said = redact_text(f"botocore quoted {secret} and responder-own-session-token-0123456789")
    assert secret not in said and "responder-own-session-token" not in said


def test_baseline_that_read_nothing_keeps_the_existing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    learned = tmp_path / "a.json"
    learned.write_text('{"learned": "before"}')
    (tmp_path / "wrong-folder").mkdir()
    argv = ["baseline", "a", "--config", str(config), "--from", str(tmp_path / "wrong-folder"), "--out", str(learned)]
    code, _, err = _run(argv, capsys)
    assert code == 3
    assert "baseline NOT written" in err
    assert learned.read_text() == '{"learned": "before"}'


def test_restore_without_snapshots_after_real_containment_is_a_gap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from irkit.core.journal import Journal

    case = _case_with_meta(tmp_path, {**_GOOD_META, "dry_run": False})
    (case / "irkit.yaml").write_text(
        "log_archive:\n  bucket: b\n"
        "agents:\n  a:\n    account: '111111111111'\n    principals: ['arn:aws:iam::111111111111:role/agent']\n"
    )
    (case / "snapshots").mkdir()
    Journal(case / "journal.jsonl").append("action.done", step="contain", action={"kind": "lock-role-trust"})
    code, out, err = _run(["restore", str(case), "--yes"], capsys)
    assert code == 3
    assert "no snapshots, yet journal.jsonl records 1 completed containment action" in out + err


def test_resume_of_an_edited_journal_names_the_line_and_the_way_forward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from irkit.core.journal import Journal

    case = _case_with_meta(tmp_path, _GOOD_META)
    journal = Journal(case / "journal.jsonl")
    journal.append("run.start")
    journal.append("step.start", step="contain")
    text = (case / "journal.jsonl").read_text().replace('"step.start"', '"step.stArt"')
    (case / "journal.jsonl").write_text(text)
    code, _, err = _run(["resume", str(case)], capsys)
    assert code == 2
    assert "line 2: entry altered" in err and "start a new case" in err


def test_control_plane_calls_give_up_on_a_hung_endpoint_within_a_minute() -> None:
    from irkit.aws.session import Aws
    from irkit.config import AwsSettings

    aws = Aws(AwsSettings(region="us-east-1", endpoint_url="http://127.0.0.1:1"))
    for service in ("iam", "sts"):
        config = aws.client(service).meta.config
        # An endpoint that accepts and never answers costs read_timeout on every attempt.
        assert config.read_timeout * config.retries["total_max_attempts"] <= 60
    assert aws.client("s3").meta.config.read_timeout >= 60  # large downloads keep their patience
