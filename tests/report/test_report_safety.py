"""A report built from hostile CloudTrail shows the hostile text and runs none of it.

The records go through the real detect and report steps; report.md is parsed with markdown-it-py
and its tokens are read: the only headings, fences, links and HTML are the report's own.
"""

from __future__ import annotations

import re
from pathlib import Path

from irkit.detect.baseline import Baseline
from irkit.detect.records import AGENT_ROLE, record
from tests.report.casefolder import HOSTILE_ROLE, assert_inert, run_case, tokens


def failed_create_role(name: str) -> dict[str, object]:
    # Denied: its parameters are still logged, and the rule reports the attempt.
    return record("CreateRole", "iam.amazonaws.com", request={"roleName": name}, error="AccessDenied")


def test_a_failed_create_role_with_a_hostile_name_is_shown_not_run(tmp_path: Path) -> None:
    case = run_case(tmp_path, [failed_create_role(HOSTILE_ROLE)])
    report = (case.root / "report.md").read_text(encoding="utf-8")
    assert "iam_role_created" in report  # the attempt is reported ...
    assert_inert(report)  # ... and its name is text
    text = " ".join(t.content for t in tokens(report) if t.type == "text")
    assert "# Owned heading [click here](http://evil.example/x)" in text
    assert "<script>alert(1)</script>" in text
    assert "\\x1b]0;pwned title\\x07" in text  # the escape sequence is shown, as text


def test_a_forged_event_name_cannot_close_the_mermaid_block(tmp_path: Path) -> None:
    # A baseline makes a new API a finding whose title carries the (forged) event name.
    baseline = tmp_path / "baseline.json"
    Baseline(agent="infra-optimizer", principals=(AGENT_ROLE,), events=10, apis={"iam:ListRoles": 10}).save(baseline)
    forged = "ListUsers\n```\n# Owned\n<script>x</script> : 10h : y ; z #58; %% c"
    case = run_case(tmp_path / "case", [record(forged, "iam.amazonaws.com", read_only=True)], baseline=baseline)
    report = (case.root / "report.md").read_text(encoding="utf-8")
    assert "baseline_new_api" in report
    assert_inert(report)
    (fence,) = [t for t in tokens(report) if t.type == "fence"]
    body = fence.content.splitlines()
    assert body[:2] == ["timeline", "    title Incident timeline (UTC)"]
    # mermaid's timeline grammar: a period (no ':' or '#') then ' : ' and an event without ': '
    event = re.compile(r"^    [^#:\n%;]+ : (?:[^:\n#;%`<>]|:(?!\s))+$")
    assert body[2:] and all(event.match(line) for line in body[2:]), body
    assert any("ListUsers" in line and "Owned" in line for line in body[2:])
