"""The analyzer's state is bounded by principals, values and time, never by the number of events.

Not a timing test: it counts what the analyzer holds (``Analyzer.state_size``) while a large volume
of benign traffic, inside a fixed time window, goes through it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.cloudtrail.reader import event_from_record
from irkit.detect.analyzer import Analyzer
from irkit.detect.event import format_time
from irkit.detect.records import AGENT_ROLE, AGENT_USER, record, role_identity, user_identity

_START = datetime(2026, 11, 25, tzinfo=UTC)
_WINDOW_SECONDS = 12 * 3600


def _benign_templates() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Reads and routine writes of a few principals (the bulk of an agent's trail), and the rare
    calls that stateful detectors keep a trace of (a launch, a denied call)."""
    other = "arn:aws:iam::111111111111:role/ci-deployer"
    identities = [
        role_identity(),
        role_identity(other, session="ci", key="ASIAQCIDEPLOYER00001"),
        user_identity(),
    ]
    calls: list[tuple[str, str, dict[str, Any], bool]] = [
        ("DescribeInstances", "ec2.amazonaws.com", {}, True),
        ("ListBuckets", "s3.amazonaws.com", {}, True),
        ("GetObject", "s3.amazonaws.com", {"bucketName": "b", "key": "k"}, True),
        ("ListRoles", "iam.amazonaws.com", {}, True),
        ("Decrypt", "kms.amazonaws.com", {}, True),
        ("CreateTags", "ec2.amazonaws.com", {"resourcesSet": {"items": [{"resourceId": "i-1"}]}}, False),
        ("PutObject", "s3.amazonaws.com", {"bucketName": "b", "key": "k"}, False),
        (
            "ModifyInstanceAttribute",
            "ec2.amazonaws.com",
            {"instanceId": "i-1", "instanceType": {"value": "t3.large"}},
            False,
        ),
    ]
    bulk = [
        record(name, source, request=request, identity=ident, region=region, ip=ip, read_only=read_only)
        for ident, (name, source, request, read_only), region, ip in itertools.product(
            identities, calls, ("us-east-1", "us-west-2"), ("10.20.4.17", "10.20.4.23")
        )
    ]
    run = {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}, "instanceType": "t3.micro"}
    rare = [
        record("RunInstances", "ec2.amazonaws.com", request=run),
        record("ListSecrets", "secretsmanager.amazonaws.com", error="AccessDenied", read_only=True),
    ]
    return bulk, rare


def _feed(
    analyzer: Analyzer, templates: tuple[list[dict[str, Any]], list[dict[str, Any]]], start: int, count: int
) -> None:
    bulk, rare = templates
    for n in range(start, start + count):
        pool = rare if n % 1_000 < len(rare) else bulk  # 0.2 % launches and denied calls
        rec = dict(pool[n % len(pool)])
        # a fixed window, revisited: volume grows, the window (hours, instants) does not
        rec["eventTime"] = format_time(_START + timedelta(seconds=(n * 7919) % _WINDOW_SECONDS))
        rec["eventID"] = f"benign-{n:08d}"
        analyzer.feed(event_from_record(rec))


def test_analyzer_state_stays_bounded_over_200k_benign_events() -> None:
    templates = _benign_templates()
    analyzer = Analyzer()
    _feed(analyzer, templates, 0, 50_000)
    early = analyzer.state_size()
    _feed(analyzer, templates, 50_000, 150_000)
    late = analyzer.state_size()
    assert analyzer.events == 200_000
    # the bulk adds nothing; each of the 400 rare calls at most a cell and a sampled id in each
    # detector that traces it (a launch: the burst and the region detectors)
    rare = 200_000 * 2 // 1_000
    assert late <= 4 * rare + 500, (early, late)
    assert late - early <= 4 * (rare - rare // 4), (early, late)
    analysis = analyzer.finish()
    for finding in analysis.findings:
        assert len(finding.event_ids) <= 1_000


def test_filtered_analysis_state_stays_bounded() -> None:
    """With --principal, others' events are parked for late attribution: a bounded number."""
    templates = _benign_templates()
    analyzer = Analyzer(principals=[AGENT_ROLE, AGENT_USER])
    _feed(analyzer, templates, 0, 50_000)
    early = analyzer.state_size()
    _feed(analyzer, templates, 50_000, 150_000)
    assert analyzer.state_size() - early <= 4 * 300  # 300 more rare calls; parking stays full


def test_repeated_launches_and_denied_calls_fold_per_instant() -> None:
    """A detector's trace of launches and denied calls is one cell an instant, not one an event."""
    analyzer = Analyzer()
    _, rare = _benign_templates()
    for n in range(20_000):
        rec = dict(rare[n % 2])
        rec["eventTime"] = format_time(_START + timedelta(seconds=n % 50))
        rec["eventID"] = f"rare-{n:08d}"
        analyzer.feed(event_from_record(rec))
    # 50 instants x 2 detectors (+ the region detector's launch trace) and 100 sampled ids per
    # detector and 10 minutes; the 10,000 launches are one burst finding with counts in evidence
    assert analyzer.state_size() < 1_000
    [burst] = [f for f in analyzer.finish().findings if f.rule_id == "ec2_instance_burst"]
    assert burst.evidence["launches"] == 10_000 and len(burst.event_ids) == 100


def test_a_rule_reports_at_most_a_hundred_details_per_principal_then_folds() -> None:
    analyzer = Analyzer()
    for n in range(150):
        analyzer.feed(
            event_from_record(
                record("CreateUser", "iam.amazonaws.com", request={"userName": f"u{n}"}, event_id=f"cu-{n}")
            )
        )
    findings = [f for f in analyzer.finish().findings if f.rule_id == "iam_user_created"]
    assert len(findings) == 101
    [folded] = [f for f in findings if f.evidence["events"] == 50]
    assert folded.detail.startswith("50 more call(s)") and len(folded.event_ids) == 50
