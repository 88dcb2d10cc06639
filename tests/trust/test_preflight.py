"""Preflight: no credentials stop the run before any step (exit 2); an unreadable archive is said
before containment starts, and containment still runs; raw HTML/XML error bodies are never shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.aws.session import summarise_body
from irkit.cli import main
from tests.contain.conftest import ACCOUNT, ROLE_ARN, USER, USER_ARN, World, key_status, world

__all__ = ["world"]


def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata: no network beyond loopback
    for var in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(var, raising=False)


def test_contain_without_credentials_exits_2_before_any_step(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_credentials(monkeypatch)
    out = tmp_path / "cases"
    code = main(["contain", "infra-optimizer", "-c", str(world.config), "--yes", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert "no AWS credentials" in captured.err and "environment variables" in captured.err
    assert "▶" not in captured.out and "✓" not in captured.out
    assert not out.exists()  # no case folder, no "Findings: none" report
    monkeypatch.undo()
    assert set(key_status(world.iam, USER).values()) == {"Active", "Inactive"}  # nothing was touched


def test_contain_without_credentials_json_is_an_error_object(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_credentials(monkeypatch)
    code = main(["contain", "infra-optimizer", "-c", str(world.config), "--json", "--out", str(tmp_path / "c")])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2
    assert doc["error"]["code"] == "CredentialsError" and "no AWS credentials" in doc["error"]["message"]


def test_resume_without_credentials_exits_2_and_leaves_the_journal_alone(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cases"
    assert main(["contain", "infra-optimizer", "-c", str(world.config), "--dry-run", "--out", str(out)]) in (0, 3)
    (case,) = out.iterdir()
    before = (case / "journal.jsonl").read_bytes()
    _no_credentials(monkeypatch)
    assert main(["resume", str(case)]) == 2
    assert "no AWS credentials" in capsys.readouterr().err
    assert (case / "journal.jsonl").read_bytes() == before


def _with_archive(world: World, tmp_path: Path, bucket: str) -> Path:
    text = world.config.read_text() + f'log_archive:\n  bucket: {bucket}\n  accounts: ["{ACCOUNT}"]\n'
    path = tmp_path / "with-archive.yaml"
    path.write_text(text)
    return path


def test_a_missing_bucket_is_said_before_containment_and_containment_still_runs(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _with_archive(world, tmp_path, "no-such-archive-bucket")
    code = main(["contain", "infra-optimizer", "-c", str(config), "--yes", "--out", str(tmp_path / "cases")])
    out = capsys.readouterr().out
    assert code == 3, out
    lines = out.splitlines()
    warned = next(i for i, line in enumerate(lines) if "NOT readable" in line)
    assert "NoSuchBucket" in lines[warned] and "no-such-archive-bucket" in lines[warned]
    assert warned < next(i for i, line in enumerate(lines) if line.startswith("▶ contain"))
    assert set(key_status(world.iam, USER).values()) == {"Inactive"}  # contain first, still
    # moto answers LookupEvents (the fallback) with an HTML 500 page: summarised, never printed.
    assert "<!doctype" not in out.lower() and "<html" not in out.lower()
    assert "HTML body" in out


def test_error_bodies_are_summarised_not_printed() -> None:
    page = "<!doctype html>\n<html><title>502 Bad Gateway</title><body>" + "x" * 5000 + "</body></html>"
    said = summarise_body(page, 502)
    assert "502" in said and "Bad Gateway" in said and "<" not in said and len(said) < 200
    xml = "<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>no</Message></Error>"
    assert "AccessDenied" in summarise_body(xml, 403) and "<" not in summarise_body(xml, 403)
    assert summarise_body("User is not authorized", 403) == "User is not authorized"


def test_arns_are_untouched_by_the_summary() -> None:
    assert summarise_body(f"{ROLE_ARN} and {USER_ARN}") == f"{ROLE_ARN} and {USER_ARN}"
