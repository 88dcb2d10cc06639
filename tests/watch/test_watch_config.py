"""The `watch:` section of irkit.yaml and the watcher's IAM policy."""

from __future__ import annotations

import json

import pytest
import yaml

from irkit.cli import main
from irkit.config import WatchSettings, dump_config, parse_config
from irkit.engine.permissions import watcher_policy
from irkit.errors import ConfigError

BASE = {
    "agents": {"a1": {"account": "123456789012", "principals": ["arn:aws:iam::123456789012:role/a1"]}},
    "log_archive": {"bucket": "b", "role_arn": "arn:aws:iam::222222222222:role/irkit-log-reader"},
}


def test_watch_defaults_and_round_trip() -> None:
    assert parse_config(BASE).watch == WatchSettings()
    doc = {
        **BASE,
        "watch": {
            "page_url": "https://events.pagerduty.com/v2/enqueue",
            "routing_key_env": "PD_KEY",
            "page_at": "medium",
            "contain_at": "critical",
            "max_silence_minutes": 30,
        },
    }
    settings = parse_config(doc)
    assert settings.watch == WatchSettings(
        page_url="https://events.pagerduty.com/v2/enqueue",
        routing_key_env="PD_KEY",
        page_at="medium",
        contain_at="critical",
        max_silence_minutes=30.0,
    )

    assert parse_config(yaml.safe_load(dump_config(settings))).watch == settings.watch


def test_the_routing_key_is_never_read_from_the_file() -> None:
    with pytest.raises(ConfigError, match=r"watch\.routing_key: the paging key is never read from the file"):
        parse_config({**BASE, "watch": {"routing_key": "abcdef123456"}})


def test_watcher_policy_only_reads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["permissions", "--role", "watcher"]) == 0
    policy = json.loads(capsys.readouterr().out)
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "s3:ListBucket", "s3:GetObject"} <= actions
    verbs = ("Describe", "Get", "List")
    assert all(a.split(":")[1].startswith(verbs) for a in actions)
    scoped = watcher_policy(parse_config(BASE).log_archive)
    statements = {s["Sid"]: s for s in scoped["Statement"]}
    assert statements["IrkitAssumeLogReader"]["Resource"] == "arn:aws:iam::222222222222:role/irkit-log-reader"
    assert not any(a.startswith("s3:") for s in scoped["Statement"] for a in s["Action"])
