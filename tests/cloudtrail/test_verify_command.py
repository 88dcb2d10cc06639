"""`irkit verify` exit codes and output, through a tiny Typer app that registers the command."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from irkit.cloudtrail.writer import LocalSink
from irkit.commands import verify
from irkit.errors import ExitCode, UsageError
from tests.cloudtrail.archive import build_archive


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Subcommand mode, like the real CLI."""

    verify.register(app)
    return app


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    writer = build_archive(
        LocalSink(tmp_path / "evidence", bucket="org-trail"), regions=("us-east-1",), hours=2
    )
    return tmp_path / "evidence", writer.write_public_key(tmp_path / "key.pem"), writer.log_keys


def test_verify_exits_0_on_a_clean_archive(app: typer.Typer, archive: tuple[Path, Path, list[str]]) -> None:
    root, key, _ = archive
    result = CliRunner().invoke(app, ["verify", str(root), "--public-key", str(key)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_verify_exits_1_and_names_the_tampered_log(
    app: typer.Typer, archive: tuple[Path, Path, list[str]]
) -> None:
    root, key, logs = archive
    (root / logs[2]).write_bytes((root / logs[3]).read_bytes())
    result = CliRunner().invoke(app, ["verify", str(root), "--public-key", str(key), "--json"])
    assert result.exit_code == 1
    doc = orjson.loads(result.stdout)
    assert doc["ok"] is False
    assert [(p["kind"], p["path"]) for p in doc["problems"]] == [("log-tampered", str(root / logs[2]))]


def test_verify_without_keys_is_a_usage_error(
    app: typer.Typer, archive: tuple[Path, Path, list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IRKIT_CONFIG", raising=False)
    result = CliRunner().invoke(app, ["verify", str(archive[0])])
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == ExitCode.USAGE


def test_verify_of_a_missing_path_is_a_usage_error(
    app: typer.Typer, archive: tuple[Path, Path, list[str]]
) -> None:
    result = CliRunner().invoke(app, ["verify", "/nonexistent/evidence", "--public-key", str(archive[1])])
    assert isinstance(result.exception, UsageError)


def test_verify_of_a_folder_without_cloudtrail_is_a_usage_error(
    app: typer.Typer, archive: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "empty"), "--public-key", str(archive[1])])
    assert isinstance(result.exception, UsageError)
