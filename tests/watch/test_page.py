"""Events v2 bodies: hostile CloudTrail text is escaped and bounded, severities mapped, keys stable."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from irkit.detect.rule import Finding
from irkit.redact import register_secret
from irkit.watch.page import MAX_DETAILS_BYTES, MAX_SUMMARY, build_page, dedup_key, finding_key


def _finding(**kw: object) -> Finding:
    base: dict[str, object] = {
        "rule_id": "iam_role_created",
        "severity": "high",
        "title": "IAM role created",
        "event_ids": ("e-1", "e-2"),
        "principal": "arn:aws:iam::123456789012:user/bot",
        "mitre": ("T1098",),
        "first_seen": datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        "detail": "created role x",
        "attribution": "userIdentity.arn",
        "evidence": {"events": 2},
    }
    base.update(kw)
    return Finding(**base)  # type: ignore[arg-type]


def test_dedup_key_is_stable_per_agent_rule_and_first_event() -> None:
    f = _finding()
    assert finding_key("a1", f) == finding_key("a1", _finding(detail="other text"))
    assert finding_key("a1", f) != finding_key("a2", f)
    assert finding_key("a1", f) != finding_key("a1", _finding(event_ids=("e-0", "e-1")))
    assert finding_key("a1", f) != finding_key("a1", _finding(rule_id="iam_admin_policy_attached"))
    assert dedup_key("a1", "r", "x").startswith("irkit-")


def test_hostile_text_is_escaped_bounded_and_secrets_masked() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzzzSECRET"
    register_secret(secret)
    hostile = "role \x1b]8;;http://evil\x07click\x1b[2J" + "A" * 50_000
    f = _finding(
        detail=hostile,
        principal="arn:aws:iam::123456789012:user/\u202eevil",
        evidence={"blob": "B" * 100_000, "SecretAccessKey": secret, "nested": {"k": [secret] * 100}},
        event_ids=tuple(f"e-{i}" for i in range(1000)),
    )
    body = build_page("a1", f, finding_key("a1", f), detected_at="2026-12-01T12:05:00Z", latency_seconds=300.0)
    raw = orjson.dumps(body).decode()
    assert "\x1b" not in raw and "\x07" not in raw and "\u202e" not in raw
    assert secret not in raw
    assert "routing_key" not in body  # added only when sent
    assert len(body["payload"]["summary"]) <= MAX_SUMMARY
    assert len(orjson.dumps(body["payload"]["custom_details"])) <= MAX_DETAILS_BYTES + 2_000
    assert len(body["payload"]["custom_details"]["event_ids"]) <= 21
    assert body["payload"]["severity"] == "error"
    assert body["event_action"] == "trigger"
    assert body["payload"]["custom_details"]["latency_seconds"] == 300.0


def test_severities_map_to_pagerduty() -> None:
    wanted = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
    got = {
        ours: build_page("a1", _finding(severity=ours), "k", detected_at="t", latency_seconds=None)["payload"][
            "severity"
        ]
        for ours in wanted
    }
    assert got == wanted


def test_a_burst_page_counts_samples_and_stays_escaped_and_bounded() -> None:
    hostile = "i-\x1b[2J\u202e" + "A" * 5_000
    burst = [
        _finding(
            detail=f"password data of {hostile}{n}", event_ids=tuple(f"e-{n}-{i}" for i in range(50)),
            first_seen=datetime(2026, 12, 1, 12, n % 60, tzinfo=UTC),
            evidence={"events": 1_200},  # more events than the 50 ids listed (ids are bounded)
        )
        for n in range(40)
    ]
    body = build_page("a1", burst[0], "k", detected_at="t", latency_seconds=1.0, burst=burst)
    raw = orjson.dumps(body).decode()
    assert "\x1b" not in raw and "\u202e" not in raw
    assert len(body["payload"]["summary"]) <= MAX_SUMMARY
    assert "40 findings, 2026-12-01T12:00:00Z to 2026-12-01T12:39:00Z" in body["payload"]["summary"]
    details = body["payload"]["custom_details"]
    assert details["findings"] == 40 and details["events"] == 40 * 1_200  # counted, not listed
    assert details["last_seen"] == "2026-12-01T12:39:00Z"
    assert len(details["details"]) == 10 and len(details["event_ids"]) == 21  # 20 and "… 80 more"
    assert len(orjson.dumps(details)) <= MAX_DETAILS_BYTES + 2_000

    # one finding: the page it always was (no burst keys)
    alone = build_page("a1", burst[0], "k", detected_at="t", latency_seconds=1.0, burst=burst[:1])
    assert alone == build_page("a1", burst[0], "k", detected_at="t", latency_seconds=1.0)
    assert "findings" not in alone["payload"]["custom_details"]
    assert alone["payload"]["custom_details"]["events"] == 1_200
