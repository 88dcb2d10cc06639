"""Every detection irkit runs, as plain data: for ``rules list`` and the generated docs."""

from __future__ import annotations

from typing import Any

from irkit.detect.baseline import BASELINE_INFOS
from irkit.detect.rules import all_rules
from irkit.detect.sequences import all_detector_infos


def catalog() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for rule in all_rules():
        entries.append(
            {
                "id": rule.id,
                "kind": "event",
                "title": rule.title,
                "severity": rule.severity,
                "mitre": list(rule.mitre),
                "tactic": rule.tactic,
                "events": list(rule.events),
                "failed_calls": rule.failed_calls,
                "why": rule.why,
                "remediation": rule.remediation,
            }
        )
    for info in (*all_detector_infos(), *BASELINE_INFOS):
        entries.append(
            {
                "id": info.id,
                "kind": info.kind,
                "title": info.title,
                "severity": info.severity,
                "mitre": list(info.mitre),
                "tactic": info.tactic,
                "events": [],
                "failed_calls": "n/a",
                "why": info.why,
                "remediation": info.remediation,
            }
        )
    return entries
