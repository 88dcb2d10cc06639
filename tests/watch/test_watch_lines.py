"""Group before you list, in ``irkit watch``'s lines: one line per rule x principal x burst, with its
count, its pages and a sample; a bounded number of lines, whatever a pass finds. ``--json`` keeps a
row per finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from irkit.commands import watch as watch_command
from irkit.detect.event import format_time
from irkit.watch.run import PassResult

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
ROLE = "arn:aws:iam::111111111111:role/agent"


def _row(
    rule: str, minutes: float, *, severity: str = "high", page: str = "queued", detail: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "finding", "rule_id": rule, "severity": severity, "title": rule.replace("_", " "),
        "principal": ROLE, "first_seen": format_time(T0 + timedelta(minutes=minutes)), "detail": detail,
        "dedup_key": f"irkit-{rule}-{minutes}", "detected_at": format_time(T0 + timedelta(hours=2)),
        "latency_seconds": 7200.0 - minutes * 60, "page": page, "event_ids": [f"e-{minutes}"], **extra,
    }  # fmt: skip


def _lines(capsys: pytest.CaptureFixture[str], result: PassResult, *, as_json: bool = False) -> list[str]:
    watch_command._show(result, as_json=as_json)
    return capsys.readouterr().out.splitlines()


def test_a_burst_is_one_line_with_its_count_pages_and_a_sample(capsys: pytest.CaptureFixture[str]) -> None:
    burst = [_row("ec2_password_data_read", m, detail=f"password data of i-{m:04d}",
                  page="below page_at" if m % 3 else "queued") for m in range(30)]  # fmt: skip
    later = _row("ec2_password_data_read", 29 + 31, detail="password data of i-later")  # 31 min on: a burst
    lone = _row("iam_access_key_created", 5, severity="medium", detail="created access key AKIA\x1b[31m")
    lines = _lines(capsys, PassResult(1, "now", findings=[*burst, later, lone]))
    heads = [line for line in lines if line.startswith("!")]
    assert len(heads) == 3 and len(lines) == 3 + 2 + 1 + 1 + 1 + 1  # heads, sample, "more", later, lone, pass
    assert heads[0].startswith("! high ec2_password_data_read: ec2 password data read by " + ROLE + ": 30 findings")
    assert "first event 2026-11-25T03:00:00Z, last 2026-11-25T03:29:00Z, detected after 7200 s" in heads[0]
    assert heads[0].endswith("→ pages: 20 below page_at, 10 queued")
    assert lines[1:4] == ["    password data of i-0000", "    password data of i-0001",
                          "    … and 28 more (irkit watch --json lists each finding)"]  # fmt: skip
    assert heads[1].startswith("! high ec2_password_data_read") and heads[1].endswith("→ page: queued")
    assert "first event 2026-11-25T04:00:00Z, detected after" in heads[1]
    assert heads[2].startswith("! medium iam_access_key_created") and "\x1b" not in "".join(lines)
    assert lines[-1].startswith("pass 1: 0 files, 0 new events, 32 new findings")


def test_a_page_that_carries_a_burst_counts_once(capsys: pytest.CaptureFixture[str]) -> None:
    # 10 findings in one page (their page_key), 2 below page_at, then a burst of 3 in a page not delivered
    paged = [_row("ec2_password_data_read", m, page="sent", page_key="irkit-p1") for m in range(10)]
    below = [_row("ec2_password_data_read", m + 0.5, page="below page_at") for m in range(2)]
    pending = [_row("iam_role_created", m, page="pending: HTTP 503", page_key="irkit-p2") for m in range(3)]
    heads = [line for line in _lines(capsys, PassResult(1, "now", findings=[*paged, *below, *pending]))
             if line.startswith("!")]  # fmt: skip
    assert heads[0].endswith("→ 2 below page_at, 1 page sent for 10 findings")
    assert heads[1].endswith("→ 1 page pending: HTTP 503 for 3 findings")


def test_the_lines_are_bounded_and_json_keeps_every_finding(capsys: pytest.CaptureFixture[str]) -> None:
    rows = [_row(f"rule_{i:03d}", i) for i in range(60)]
    delivered = [{"type": "page", "dedup_key": f"irkit-{i}", "queued_at": f"2026-11-25T0{i % 10}:00:00Z"}
                 for i in range(9)]  # fmt: skip
    lines = _lines(capsys, PassResult(2, "now", findings=rows, delivered=delivered))
    assert len(lines) == watch_command.MAX_GROUP_LINES + 3
    assert lines[watch_command.MAX_GROUP_LINES] == (
        "! … and 40 more groups (40 findings): irkit watch --json lists each"
    )
    assert lines[-2] == "✓ 9 pages delivered (queued 2026-11-25T00:00:00Z to 2026-11-25T08:00:00Z)"
    few = _lines(capsys, PassResult(3, "now", delivered=delivered[:2]))
    assert few[:2] == ["✓ page irkit-0 delivered (queued 2026-11-25T00:00:00Z)",
                       "✓ page irkit-1 delivered (queued 2026-11-25T01:00:00Z)"]  # fmt: skip
    as_json = [orjson.loads(line) for line in _lines(capsys, PassResult(2, "now", findings=rows), as_json=True)]
    assert [r["type"] for r in as_json] == ["finding"] * 60 + ["pass"]
