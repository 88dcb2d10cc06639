"""Group before you list: one row per rule x principal x burst, in the terminal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from irkit.commands.analyze import MAX_GROUP_ROWS, render
from irkit.detect.analyzer import Analysis
from irkit.detect.groups import group_findings
from irkit.detect.rule import Finding

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::111111111111:role/agent"


def _f(rule: str, principal: str, minutes: float, severity: str = "medium", detail: str = "d") -> Finding:
    return Finding(rule, severity, rule, (f"e-{rule}-{minutes}",), principal, (), T0 + timedelta(minutes=minutes),
                   detail=detail)  # type: ignore[arg-type]  # fmt: skip


def test_one_burst_of_one_rule_and_principal_is_one_row_with_its_count() -> None:
    burst = [_f("ec2_password_data_read", ROLE, m, detail=f"i-{m}") for m in range(30)]
    (group,) = group_findings(burst)
    assert (group.findings, group.events) == (30, 30)
    assert group.first_seen == T0 and group.last_seen == T0 + timedelta(minutes=29)
    assert group.details == ["i-0", "i-1"]  # a sample, not 30


def test_bursts_principals_and_rules_stay_apart() -> None:
    other = "arn:aws:iam::222222222222:role/agent"  # the same name in another account
    groups = group_findings(
        [_f("r1", ROLE, 0), _f("r1", ROLE, 10), _f("r1", ROLE, 100), _f("r1", other, 5), _f("r2", ROLE, 1, "high")]
    )
    assert [(g.rule_id, g.principal, g.findings) for g in groups] == [
        ("r2", ROLE, 1),  # most severe first
        ("r1", ROLE, 2),
        ("r1", other, 1),
        ("r1", ROLE, 1),  # 90 minutes later: a second burst
    ]


def test_the_text_report_is_bounded_whatever_the_findings() -> None:
    many = [_f("r", f"arn:aws:iam::111111111111:role/r{i}", i * 60.0) for i in range(500)]

    class Stats:
        events, files, gaps = 500, 1, ()

    text = render(Analysis(500, 500, many, []), Stats())  # type: ignore[arg-type]
    rows = [line for line in text.splitlines() if line.startswith("MEDIUM")]
    assert len(rows) == MAX_GROUP_ROWS
    assert f"… and {500 - MAX_GROUP_ROWS} more group(s)" in text
    assert "111111111111:role/r0" in text


def test_bursts_is_the_one_burst_rule_with_unknown_times_apart() -> None:
    from irkit.detect.groups import BURST_GAP, bursts

    late = T0 + 2 * BURST_GAP + timedelta(seconds=1)
    items = [("r", "p", T0 + BURST_GAP), ("r", "p", T0), ("r", "p", None), ("r", "p", late),
             ("r", "q", T0), ("a", "p", None), ("r", "p", None)]  # fmt: skip
    runs = bursts(items, lambda i: (i[0], i[1]), lambda i: i[2])
    assert runs == [
        [("a", "p", None)],
        [("r", "p", T0), ("r", "p", T0 + BURST_GAP)],  # exactly the gap apart: one burst
        [("r", "p", late)],  # a second more than the gap after the burst's latest: its own
        [("r", "p", None)],  # an unknown time sorts last and joins nothing
        [("r", "p", None)],
        [("r", "q", T0)],
    ]
