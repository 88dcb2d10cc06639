"""A finding says how many events it stands for, not how many ids it could list.

A detector lists a bounded number of event ids (a sample per 10 minutes, at most 1,000 a finding);
the responder's tables (``analyze``'s groups, the report, a watch page) show the count in
``evidence["events"]``. Before, a detector finding had none, and the tables showed the ids listed:
a burst of 1,500 denied calls read "100 events".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.cloudtrail.reader import event_from_record
from irkit.detect.analyzer import Analyzer
from irkit.detect.detector import SAMPLE_PER_BUCKET, Hit, finding
from irkit.detect.detectors.ec2_instance_burst import InstanceBurst
from irkit.detect.event import format_time
from irkit.detect.groups import finding_events, group_findings
from irkit.detect.labelled import generate
from irkit.detect.records import record
from irkit.detect.rule import Finding

_START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_APIS = [
    ("ListSecrets", "secretsmanager.amazonaws.com"),
    ("ListUsers", "iam.amazonaws.com"),
    ("DescribeInstances", "ec2.amazonaws.com"),
    ("ListBuckets", "s3.amazonaws.com"),
    ("ListKeys", "kms.amazonaws.com"),
]


def _analysis(records: Sequence[Mapping[str, Any]]) -> list[Finding]:
    analyzer = Analyzer()
    for rec in records:
        analyzer.feed(event_from_record(rec))
    return list(analyzer.finish().findings)


def test_a_denied_burst_counts_every_call_not_its_sampled_ids() -> None:
    # 1,500 denied calls in 5 minutes, five a second: far more than a finding lists
    calls = [
        record(
            *_APIS[n % len(_APIS)], error="AccessDenied", read_only=True, event_id=f"deny-{n:05d}",
            time=format_time(_START + timedelta(seconds=n // 5)),
        )
        for n in range(1_500)
    ]  # fmt: skip
    found = [f for f in _analysis(calls) if f.rule_id == "recon_access_denied_burst"]
    assert len(found) == 1
    burst = found[0]
    assert len(burst.event_ids) <= SAMPLE_PER_BUCKET < 1_500
    assert burst.evidence["events"] == burst.evidence["denied_calls"] == 1_500
    assert finding_events(burst) == 1_500
    (group,) = [g for g in group_findings(found) if g.rule_id == "recon_access_denied_burst"]
    assert group.events == 1_500  # the text table's "events" column


def test_an_instance_burst_counts_launches_folded_into_one_instant() -> None:
    # 30 launches in the same second fold into one cell: one hit, thirty events
    launches = [
        record(
            "RunInstances", "ec2.amazonaws.com", event_id=f"run-{n:03d}",
            request={"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}, "instanceType": "t3.micro"},
            time=format_time(_START + timedelta(seconds=n // 30)),
        )
        for n in range(60)
    ]  # fmt: skip
    found = [f for f in _analysis(launches) if f.rule_id == InstanceBurst.info.id]
    assert len(found) == 1
    assert found[0].evidence["events"] == found[0].evidence["launches"] == 60


def test_finding_counts_cells_hits_and_a_given_count() -> None:
    info = InstanceBurst.info
    hits = [Hit(_START + timedelta(seconds=n), f"e-{n}", "userIdentity.arn", "arn:p") for n in range(3)]
    assert finding(info, hits, detail="d").evidence["events"] == 3
    assert finding(info, hits, detail="d", events=5_000).evidence["events"] == 5_000
    # the detector's own evidence is kept, the count added after it
    made = finding(info, hits[:1], detail="d", evidence={"region": "x"}, samples=[], events=7)
    assert dict(made.evidence) == {"region": "x", "events": 7}


# each detector's own count of what it saw, where its evidence names one
_OWN_COUNT = {
    "recon_access_denied_burst": "denied_calls",
    "ec2_instance_burst": "launches",
    "ec2_instance_credentials_outside": "calls",
}


def test_every_finding_of_the_labelled_set_says_its_events() -> None:
    records = generate(benign=2_500, seed=4, variants=2, workloads=2_500).records
    findings = _analysis(records)
    assert {f.rule_id for f in findings} >= set(_OWN_COUNT)
    for f in findings:
        counted = f.evidence.get("events")
        assert isinstance(counted, int) and counted >= 1, f
        own = _OWN_COUNT.get(f.rule_id)
        if own is not None:
            assert counted == f.evidence[own], f
        if "reads" in f.evidence or "invocations" in f.evidence:
            assert counted == f.evidence.get("reads", f.evidence.get("invocations")), f


def test_a_call_two_steps_of_a_sequence_name_is_one_event() -> None:
    """A CreateRole is both the role created and the outside trust it set: one event, not two."""
    info = InstanceBurst.info
    create = Hit(_START, "create-1", "userIdentity.arn", "arn:p")
    admin = Hit(_START + timedelta(seconds=40), "attach-1", "userIdentity.arn", "arn:p")
    assert finding(info, [create, admin, create], detail="d").evidence["events"] == 2


def test_a_detail_that_names_some_says_how_many_more() -> None:
    from irkit.detect.detectors.secret_read_unusual import _names
    from irkit.detect.rules.rolesanywhere_trust_anchor_created import RULE

    assert _names(["a", "b"]) == "a, b"
    assert _names([f"s{n}" for n in range(14)]) == "s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 and 4 more"
    assert _names([f"s{n}" for n in range(100)]).endswith("s9 and 90+ more")  # the bound: at least
    roles = [f"arn:aws:iam::111111111111:role/r{n}" for n in range(8)]
    event = event_from_record(
        record("CreateProfile", "rolesanywhere.amazonaws.com", request={"name": "p", "roleArns": roles})
    )
    assert RULE.describe is not None and RULE.describe(event).endswith("for roles r0, r1, r2, r3, r4 and 3 more")


def test_named_lists_some_and_counts_the_rest() -> None:
    from irkit.detect.detector import named

    ips = [f"198.51.100.{n}" for n in range(7)]
    assert named(ips[:5], 5) == ", ".join(ips[:5])
    assert named(ips, 5) == ", ".join(ips[:5]) + " and 2 more"
    assert named(ips, 5, bound=7).endswith("and 2+ more") and named(ips, 5, bound=8).endswith("and 2 more")
