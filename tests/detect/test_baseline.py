"""The agent's baseline: learning, persistence, and deviations reported once per new value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from irkit.detect.analyzer import Analyzer
from irkit.detect.baseline import Baseline, default_baseline_path, network_of, user_agent_family
from irkit.detect.event import Event, format_time
from irkit.detect.records import AGENT_ROLE, ATTACKER_IP, CLI_UA, record

T0 = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def _history() -> list[Event]:
    events = []
    for hour in range(48):
        for n in range(10 + hour % 5):
            when = format_time(T0 + timedelta(hours=hour, minutes=n))
            name = ("DescribeInstances", "CreateTags", "DescribeVolumes")[n % 3]
            events.append(
                Event.from_record(
                    record(
                        name,
                        "ec2.amazonaws.com",
                        time=when,
                        read_only=name.startswith("Describe"),
                        request={},
                        ip=f"10.20.4.{n}",
                    )
                )
            )
    return events


def test_learns_services_apis_regions_networks_clients_and_volume() -> None:
    base = Baseline.learn(_history(), agent="infra", principals=[AGENT_ROLE])
    assert base.events == sum(10 + h % 5 for h in range(48))
    assert set(base.apis) == {"ec2:DescribeInstances", "ec2:CreateTags", "ec2:DescribeVolumes"}
    assert base.services == {"ec2": base.events}
    assert list(base.regions) == ["us-east-1"]
    assert list(base.networks) == ["10.20.4.0/24"]
    assert list(base.user_agents) == ["boto3/1"]
    assert base.hourly.max == 14 and base.hourly.hours == 48
    assert 10 <= base.hourly.mean <= 14 and base.hourly.p95 == 14


def test_other_principals_do_not_shape_the_baseline() -> None:
    other = record(
        "ListUsers",
        "iam.amazonaws.com",
        identity={"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/x"},
    )
    base = Baseline.learn([Event.from_record(other)], agent="infra", principals=[AGENT_ROLE])
    assert base.events == 0


def test_saves_and_loads_round_trip(tmp_path: Path) -> None:
    base = Baseline.learn(_history(), agent="infra", principals=[AGENT_ROLE])
    path = tmp_path / "nested" / "infra.json"
    base.save(path)
    assert Baseline.load(path) == base
    assert default_baseline_path("infra") == Path("irkit-baselines") / "infra.json"


def test_rejects_a_file_that_is_not_a_baseline(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="not a valid baseline"):
        Baseline.load(path)


@pytest.mark.parametrize(
    ("ua", "family"),
    [
        ("aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0", "aws-cli/2"),
        ("Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#6.1.0", "boto3/1"),
        (
            "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0",
            "terraform",
        ),
        ("aws-sdk-go-v2/1.25.0 os/linux lang/go#1.22.1", "aws-sdk-go-v2/1"),
        ("python-requests/2.31.0", "python-requests/2"),
        ("ec2.amazonaws.com", "ec2.amazonaws.com"),
        ("", "(none)"),
    ],
)
def test_user_agent_family_ignores_patch_versions(ua: str, family: str) -> None:
    assert user_agent_family(ua) == family


def test_networks_are_slash24_and_slash48() -> None:
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert network_of("ec2.amazonaws.com") is None


def _deviations(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    base = Baseline.learn(_history(), agent="infra", principals=[AGENT_ROLE])
    analyzer = Analyzer(baseline=base)  # principals come from the baseline
    for rec in records:
        analyzer.feed(Event.from_record(rec))
    found: dict[str, list[Any]] = {}
    for f in analyzer.finish().findings:
        if f.rule_id.startswith("baseline_"):
            found.setdefault(f.rule_id, []).append(f)
    return found


def test_flags_each_new_value_once_with_baseline_evidence() -> None:
    when = "2026-11-22T10:00:00Z"
    records = [
        record(
            "ListUsers",
            "iam.amazonaws.com",
            time=when,
            ip=ATTACKER_IP,
            user_agent=CLI_UA,
            read_only=True,
            event_id=f"recon-{n}",
        )
        for n in range(5)
    ]
    records.append(
        record("DescribeInstances", "ec2.amazonaws.com", time=when, region="eu-north-1", read_only=True)
    )
    found = _deviations(records)
    [api] = found["baseline_new_api"]
    assert api.event_ids == tuple(f"recon-{n}" for n in range(5))
    assert api.severity == "low"  # a new read; a new write is medium
    assert api.evidence["value"] == "iam:ListUsers"
    assert "ec2:DescribeInstances" in api.evidence["baseline"]["known"]
    [net] = found["baseline_new_network"]
    assert net.evidence["value"] == "198.51.100.0/24"
    [ua] = found["baseline_new_user_agent"]
    assert ua.evidence["value"] == "aws-cli/2"
    [region] = found["baseline_new_region"]
    assert region.evidence["value"] == "eu-north-1"
    assert "baseline_volume_spike" not in found


def test_flags_an_hour_far_above_the_agents_normal_volume() -> None:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    records = [
        record(
            "DescribeInstances",
            "ec2.amazonaws.com",
            read_only=True,
            request={},
            ip="10.20.4.1",
            time=format_time(start + timedelta(seconds=6 * n)),
            event_id=f"e{n}",
        )
        for n in range(400)
    ]
    found = _deviations(records)
    [spike] = found["baseline_volume_spike"]
    assert spike.evidence["events"] == 400
    assert spike.evidence["baseline"]["hourly"]["max"] == 14
    assert len(spike.event_ids) == 100  # a sample; the count is in the evidence
    assert set(found) == {"baseline_volume_spike"}


def test_regions_the_baseline_knows_are_not_unusual() -> None:
    records = [
        record(
            "RunInstances",
            "ec2.amazonaws.com",
            time="2026-11-22T10:00:00Z",
            region="us-east-1",
            request={"instanceType": "t3.small", "instancesSet": {"items": [{"minCount": 1}]}},
        ),
        record(
            "RunInstances",
            "ec2.amazonaws.com",
            time="2026-11-22T10:00:00Z",
            region="sa-east-1",
            request={"instanceType": "t3.small", "instancesSet": {"items": [{"minCount": 1}]}},
        ),
    ]
    base = Baseline.learn(_history(), agent="infra", principals=[AGENT_ROLE])
    analyzer = Analyzer(baseline=base)
    for rec in records:
        analyzer.feed(Event.from_record(rec))
    unusual = [f for f in analyzer.finish().findings if f.rule_id == "ec2_unusual_region"]
    assert [f.evidence["region"] for f in unusual] == ["sa-east-1"]
