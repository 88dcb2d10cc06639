"""`irkit collect AGENT` end to end against moto server: collect, verify, exit codes."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink, synthetic_record
from irkit.commands import collect

ACCOUNT = "111111111111"
BUCKET = "org-trail"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Subcommand mode, like the real CLI."""

    collect.register(app)
    return app


@pytest.fixture
def world(boto: Any, aws_endpoint: str, tmp_path: Path) -> tuple[Path, ArchiveWriter, Any]:
    s3 = boto("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    writer = ArchiveWriter(TrailLayout(BUCKET, "", "o-abc123def4"), S3Sink(s3, BUCKET))
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    records = [
        synthetic_record(hour - timedelta(hours=3) + timedelta(minutes=m), seq=m,
                         principal="arn:aws:iam::111111111111:user/agent-infra-bot")
        for m in range(0, 180, 7)
    ]  # fmt: skip
    writer.add_records(ACCOUNT, "us-east-1", records)
    writer.seal_digests(until=hour)
    key = writer.write_public_key(tmp_path / "keys" / "ct.pem")
    config = tmp_path / "irkit.yaml"
    config.write_text(
        f"""
aws:
  region: us-east-1
  endpoint_url: {aws_endpoint}
log_archive:
  bucket: {BUCKET}
  organization_id: o-abc123def4
  role_arn: arn:aws:iam::222222222222:role/irkit-log-reader
  accounts: ["{ACCOUNT}"]
  regions: ["us-east-1"]
  public_keys: ["{key}"]
agents:
  infra-optimizer:
    account: "{ACCOUNT}"
    principals:
      - arn:aws:iam::111111111111:user/agent-infra-bot
"""
    )
    return config, writer, s3


def test_collect_of_a_clean_archive_verifies_and_exits_0(
    app: typer.Typer, world: tuple[Path, ArchiveWriter, Any], tmp_path: Path
) -> None:
    config, writer, _ = world
    out = tmp_path / "case" / "evidence"
    args = [
        "collect",
        "infra-optimizer",
        "--config",
        str(config),
        "--hours",
        "6",
        "--out",
        str(out),
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert doc["verified"] is True
    assert doc["files"] == len(writer.log_keys) + len(writer.digest_keys)
    assert (out / "manifest.json").is_file()


def test_collect_names_a_log_rewritten_as_a_new_version_and_exits_1(
    app: typer.Typer, world: tuple[Path, ArchiveWriter, Any], tmp_path: Path
) -> None:
    config, writer, s3 = world
    victim = writer.log_keys[5]
    s3.put_object(
        Bucket=BUCKET, Key=victim, Body=s3.get_object(Bucket=BUCKET, Key=writer.log_keys[6])["Body"].read()
    )
    args = ["collect", "infra-optimizer", "--config", str(config), "--out", str(tmp_path / "ev"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    problems = orjson.loads(result.stdout)["verify"]["problems"]
    assert [(p["kind"], p["path"]) for p in problems] == [("log-tampered", str(tmp_path / "ev" / victim))]


def test_unknown_engine_is_a_usage_error(app: typer.Typer, world: tuple[Path, ArchiveWriter, Any]) -> None:
    result = CliRunner().invoke(
        app, ["collect", "infra-optimizer", "--config", str(world[0]), "--engine", "bq"]
    )
    assert result.exception is not None and getattr(result.exception, "exit_code", None) == 2


def test_collect_with_athena_engine_writes_the_query_to_the_manifest(
    app: typer.Typer, world: tuple[Path, ArchiveWriter, Any], aws_endpoint: str, tmp_path: Path
) -> None:
    # the Athena calls run as the log-archive role, so moto answers from account 222222222222
    body = json.dumps(
        {
            "account_id": "222222222222",
            "results": [
                {"rows": []},
                {"rows": []},
                {
                    "rows": [
                        {"Data": [{"VarCharValue": "eventname"}, {"VarCharValue": "eventtime"}]},
                        {"Data": [{"VarCharValue": "CreateUser"}, {"VarCharValue": "2026-11-25T01:00:00Z"}]},
                    ],
                    "column_info": [
                        {"Name": "eventname", "Type": "varchar"},
                        {"Name": "eventtime", "Type": "varchar"},
                    ],
                },
            ],
        }
    )
    url = f"{aws_endpoint}/moto-api/static/athena/query-results"
    req = urllib.request.Request(url, data=body.encode(), method="POST")  # noqa: S310 - loopback moto
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback moto server only
        pass
    out = tmp_path / "athena-evidence"
    args = [
        "collect",
        "infra-optimizer",
        "--config",
        str(world[0]),
        "--engine",
        "athena",
        "--out",
        str(out),
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output  # done, with the "not digest-verified" gap
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    events_query = manifest["athena"]["queries"][-1]
    assert "agent-infra-bot" in events_query["sql"]
    assert manifest["objects"][0]["rows"] == 1
