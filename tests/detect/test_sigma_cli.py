"""`irkit analyze --sigma`, `irkit rules list --attack|--sigma`, and detection.sigma_dirs in irkit.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from irkit.commands import analyze, rules
from irkit.config import dump_config, parse_config
from irkit.detect.records import record
from irkit.errors import ConfigError, UsageError

RULE = """title: IAM user created by the agent
id: 8c1d2e3f-0000-4000-8000-00000000000a
author: irkit tests
references: [https://example.org/create-user]
tags: [attack.persistence, attack.t1136.003]
level: medium
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: iam.amazonaws.com
    eventName: CreateUser
  condition: sel
"""
REFUSED = """title: many reads
id: 8c1d2e3f-0000-4000-8000-00000000000b
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: GetObject
  condition: sel | count() by sourceIPAddress > 100
"""


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    for module in (analyze, rules):
        module.register(app)
    return app


def _invoke(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def trail(tmp_path: Path) -> Path:
    recs = [
        record("CreateUser", "iam.amazonaws.com", request={"userName": "svc-x"}, event_id="e1", request_id="r"),
        record("ListBuckets", "s3.amazonaws.com", read_only=True, event_id="e2", request_id="r"),
    ]
    path = tmp_path / "trail.json"
    path.write_bytes(orjson.dumps({"Records": recs}))
    return path


def _sigma(tmp_path: Path, *texts: str) -> Path:
    folder = tmp_path / "sigma"
    folder.mkdir(exist_ok=True)
    for n, text in enumerate(texts):
        (folder / f"r{n}.yml").write_text(text)
    return folder


def test_analyze_runs_sigma_rules_and_their_findings_carry_the_sigma_id(
    app: typer.Typer, trail: Path, tmp_path: Path
) -> None:
    folder = _sigma(tmp_path, RULE)
    result = _invoke(app, "analyze", str(trail), "--sigma", str(folder), "--json")
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    [sigma] = [f for f in doc["findings"] if f["rule_id"].startswith("sigma:")]
    assert sigma["rule_id"] == "sigma:8c1d2e3f-0000-4000-8000-00000000000a"
    assert sigma["title"] == "IAM user created by the agent" and sigma["severity"] == "medium"
    assert sigma["mitre"] == ["T1136.003"] and sigma["event_ids"] == ["e1"]
    assert sigma["evidence"]["sigma"]["author"] == "irkit tests"
    assert doc["sigma"]["loaded"] == [sigma["rule_id"]] and doc["sigma"]["refused"] == []
    # the inventory rides along: the user creation is a change
    assert [c["resource"] for c in doc["inventory"]["changes"]] == ["user/svc-x"]


def test_a_refused_sigma_rule_is_a_named_gap_and_exit_3(app: typer.Typer, trail: Path, tmp_path: Path) -> None:
    folder = _sigma(tmp_path, RULE, REFUSED)
    result = _invoke(app, "analyze", str(trail), "--sigma", str(folder), "--json")
    assert result.exit_code == 3, result.output
    doc = orjson.loads(result.stdout)
    [gap] = doc["gaps"]
    assert gap["path"].endswith("r1.yml") and "aggregations" in gap["reason"]
    assert len(doc["sigma"]["loaded"]) == 1 and doc["sigma"]["refused_count"] == 1
    text = _invoke(app, "analyze", str(trail), "--sigma", str(folder))
    assert "1 rules loaded" in text.stdout and "r1.yml" in text.stdout and text.exit_code == 3


def test_analyze_with_a_missing_sigma_folder_is_a_usage_error(app: typer.Typer, trail: Path, tmp_path: Path) -> None:
    result = _invoke(app, "analyze", str(trail), "--sigma", str(tmp_path / "nope"))
    assert isinstance(result.exception, UsageError) and "no such folder" in str(result.exception)
    assert result.exception.exit_code == 2


def test_rules_list_attack_shows_covered_and_uncovered_techniques(app: typer.Typer, tmp_path: Path) -> None:
    result = _invoke(app, "rules", "list", "--attack", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["technique"]: r for r in orjson.loads(result.stdout)["attack"]}
    assert "bedrock_invocation_unusual" in rows["T1496.004"]["rules"]
    assert "iam_identity_provider_added" in rows["T1484.002"]["rules"]
    assert rows["T1648"]["rules"] == []  # serverless execution: not covered, and shown as such
    with_sigma = _invoke(app, "rules", "list", "--attack", "--json", "--sigma", str(_sigma(tmp_path, RULE)))
    rows = {r["technique"]: r for r in orjson.loads(with_sigma.stdout)["attack"]}
    assert "sigma:8c1d2e3f-0000-4000-8000-00000000000a" in rows["T1136.003"]["rules"]
    text = _invoke(app, "rules", "list", "--attack")
    assert "NOT COVERED" in text.stdout and "techniques covered" in text.stdout


def test_config_detection_sigma_dirs_is_validated_and_resolved(tmp_path: Path) -> None:
    base = {"agents": {"a": {"account": "111111111111", "principals": ["arn:aws:iam::111111111111:role/a"]}}}
    settings = parse_config({**base, "detection": {"sigma_dirs": ["rules/sigma"]}}, base_dir=tmp_path)
    assert settings.detection.sigma_dirs == (tmp_path / "rules" / "sigma",)
    assert "sigma_dirs" in dump_config(settings)
    assert parse_config(base).detection.sigma_dirs == ()
    for bad, where in (
        ({"sigma_dirs": "rules"}, "detection.sigma_dirs"),
        ({"sigma_dirs": [3]}, "detection.sigma_dirs[0]"),
        ({"sigma_dirs": [""]}, "detection.sigma_dirs[0]"),
        ({"sigma": ["x"]}, "detection.sigma"),
        (["rules"], "detection"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config({**base, "detection": bad})
        assert info.value.key_path == where, (bad, info.value)
