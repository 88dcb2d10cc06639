"""`irkit analyze`, `irkit rules list`, `irkit baseline` through Typer's runner."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from irkit.cloudtrail.analyze import analyze_paths
from irkit.commands import analyze, baseline, rules
from irkit.commands.analyze import Chunks, document
from irkit.detect.detectors.iam_role_backdoor_sequence import RoleBackdoor
from irkit.detect.records import AGENT_ROLE, record
from irkit.detect.rules import all_rules, get_rule


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    for module in (analyze, rules, baseline):
        module.register(app)
    return app


def _invoke(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _backdoor() -> list[dict[str, Any]]:
    return [dict(r) for r in RoleBackdoor.info.positive[0]]


def test_analyze_json_keeps_the_design_contract(app: typer.Typer, tmp_path: Path) -> None:
    recs = _backdoor()
    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": recs[:2]}))
    (tmp_path / "sub").mkdir()
    with gzip.open(tmp_path / "sub" / "b.json.gz", "wb") as fh:
        fh.write(orjson.dumps({"Records": recs[2:]}))
    (tmp_path / "c.jsonl").write_text(
        orjson.dumps(dict(get_rule("cloudtrail_tampering").positive[0])).decode() + "\n"
    )
    result = _invoke(app, "analyze", str(tmp_path), "--json", "--principal", AGENT_ROLE)
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    assert {"events", "files", "findings", "gaps"} <= set(doc)
    assert doc["events"] == 4 and doc["files"] == 3 and doc["gaps"] == []
    for finding in doc["findings"]:
        assert {"rule_id", "severity", "title", "event_ids", "principal", "mitre"} <= set(finding)
        assert finding["severity"] in ("low", "medium", "high", "critical")
        assert isinstance(finding["event_ids"], list) and isinstance(finding["mitre"], list)
    ids = {f["rule_id"] for f in doc["findings"]}
    assert {"iam_role_backdoor_sequence", "iam_admin_policy_attached", "cloudtrail_tampering"} <= ids
    seq = next(f for f in doc["findings"] if f["rule_id"] == "iam_role_backdoor_sequence")
    assert seq["event_ids"] == [r["eventID"] for r in recs]


def test_analyze_json_findings_are_the_analysis_findings(app: typer.Typer, tmp_path: Path) -> None:
    """`analyze --json` and findings.json serialize a finding one way (Analysis.findings_json)."""
    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": _backdoor()}))
    result = _invoke(app, "analyze", str(tmp_path), "--json", "--principal", AGENT_ROLE)
    assert result.exit_code == 0, result.output
    printed = orjson.loads(result.stdout)["findings"]
    analysis, _ = analyze_paths([tmp_path], principals=[AGENT_ROLE])
    assert len(printed) >= 2
    assert printed == orjson.loads(orjson.dumps(analysis.to_json()["findings"]))
    keys = {"rule_id", "severity", "title", "event_ids", "principal", "mitre"}  # DESIGN.md
    keys |= {"first_seen", "detail", "attribution", "evidence"}  # the extensions
    assert {frozenset(f) for f in printed} == {frozenset(keys)}


def test_analyze_reports_a_malformed_file_as_a_gap_and_exits_3(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "good.jsonl").write_text(orjson.dumps(_backdoor()[0]).decode() + "\n")
    (tmp_path / "broken.json").write_text('{"Records": [')
    result = _invoke(app, "analyze", str(tmp_path), "--json")
    assert result.exit_code == 3
    doc = orjson.loads(result.stdout)
    assert doc["events"] == 1
    assert [Path(g["path"]).name for g in doc["gaps"]] == ["broken.json"]
    assert doc["gaps"][0]["reason"]


def test_analyze_human_output_is_a_table(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": _backdoor()}))
    result = _invoke(app, "analyze", str(tmp_path / "a.json"))
    assert result.exit_code == 0
    assert "iam_role_backdoor_sequence" in result.output and "severity" in result.output
    assert "credential chain" in result.output


def test_analyze_rejects_bad_input(app: typer.Typer, tmp_path: Path) -> None:
    from irkit.errors import UsageError

    result = _invoke(app, "analyze", str(tmp_path / "missing"))
    assert isinstance(result.exception, UsageError)
    result = _invoke(app, "analyze", str(tmp_path), "--principal", "agent")
    assert isinstance(result.exception, UsageError)
    result = _invoke(app, "analyze", str(tmp_path), "--baseline", str(tmp_path / "nope.json"))
    assert isinstance(result.exception, UsageError)


def test_rules_list_json_lists_every_rule(app: typer.Typer) -> None:
    result = _invoke(app, "rules", "list", "--json")
    assert result.exit_code == 0
    entries = orjson.loads(result.stdout)["rules"]
    ids = [e["id"] for e in entries]
    assert set(r.id for r in all_rules()) <= set(ids)
    assert {"ec2_instance_burst", "baseline_new_region"} <= set(ids)
    assert all(e["mitre"] and e["severity"] for e in entries)
    text = _invoke(app, "rules", "list")
    assert "cloudtrail_tampering" in text.output


CONFIG = """
agents:
  infra-optimizer:
    account: "111111111111"
    principals:
      - arn:aws:iam::111111111111:role/agent-infra-optimizer
"""


def test_baseline_learns_from_local_files_and_analyze_uses_it(app: typer.Typer, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from irkit.detect.event import format_time

    now = datetime.now(UTC)
    history = [
        record(
            "DescribeInstances",
            "ec2.amazonaws.com",
            time=format_time(now - timedelta(hours=h)),
            read_only=True,
        )
        for h in range(1, 30)
    ]
    old = record("ListUsers", "iam.amazonaws.com", time=format_time(now - timedelta(days=30)), read_only=True)
    (tmp_path / "trail.json").write_bytes(orjson.dumps({"Records": [*history, old]}))
    (tmp_path / "irkit.yaml").write_text(CONFIG)
    out = tmp_path / "base.json"
    result = _invoke(
        app,
        "baseline",
        "infra-optimizer",
        "--config",
        str(tmp_path / "irkit.yaml"),
        "--from",
        str(tmp_path / "trail.json"),
        "--out",
        str(out),
        "--days",
        "14",
    )
    assert result.exit_code == 0, result.output
    learned = orjson.loads(out.read_bytes())
    assert learned["events"] == 29 and list(learned["apis"]) == ["ec2:DescribeInstances"]

    new = tmp_path / "new"
    new.mkdir()
    (new / "today.json").write_bytes(orjson.dumps({"Records": [old]}))
    result = _invoke(app, "analyze", str(new), "--baseline", str(out), "--json")
    assert result.exit_code == 0, result.output
    ids = {f["rule_id"] for f in orjson.loads(result.stdout)["findings"]}
    assert "baseline_new_api" in ids


def test_baseline_without_from_needs_the_archive(app: typer.Typer, tmp_path: Path) -> None:
    from irkit.errors import ConfigError, UsageError

    (tmp_path / "irkit.yaml").write_text(CONFIG)
    result = _invoke(app, "baseline", "infra-optimizer", "--config", str(tmp_path / "irkit.yaml"))
    assert isinstance(result.exception, (UsageError, ConfigError))
    assert "--from" in str(result.exception)


def test_analyze_json_findings_are_the_one_serializers(tmp_path: Path) -> None:
    # analyze --json writes the findings straight from the dataclasses (orjson); they must be what
    # findings_json() (findings.json, the report) gives, key for key, a fractional time included
    from irkit.cloudtrail.analyze import analyze_paths

    recs = _backdoor()
    recs[0] = {**recs[0], "eventTime": recs[0]["eventTime"].replace("Z", ".734512Z")}
    (tmp_path / "a.json").write_bytes(orjson.dumps({"Records": recs}))
    analysis, _ = analyze_paths([tmp_path])
    assert analysis.findings
    written = orjson.loads(document({"findings": Chunks(analysis.findings_chunks())}))["findings"]
    assert written == analysis.findings_json()
    assert [list(f) for f in written] == [
        list(f) for f in analysis.findings_json()
    ]
