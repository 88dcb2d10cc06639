"""Every detection irkit runs, as plain data: for ``rules list`` and the generated docs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from irkit.detect.baseline import BASELINE_INFOS
from irkit.detect.detectors import all_detector_infos
from irkit.detect.rule import Rule
from irkit.detect.rules import all_rules


def _rule_entry(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": "sigma" if rule.id.startswith("sigma:") else "event",
        "title": rule.title,
        "severity": rule.severity,
        "mitre": list(rule.mitre),
        "tactic": rule.tactic,
        "events": list(rule.events),
        "failed_calls": rule.failed_calls,
        "severity_varies": rule.severity_of is not None,
        "why": rule.why,
        "remediation": rule.remediation,
    }


def catalog(extra_rules: Sequence[Rule] = ()) -> list[dict[str, Any]]:
    """Built-in rules, detectors and baseline checks, then ``extra_rules`` (loaded Sigma rules, kind
    ``sigma``)."""
    entries = [_rule_entry(rule) for rule in all_rules()]
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
                "severity_varies": False,
                "why": info.why,
                "remediation": info.remediation,
            }
        )
    entries.extend(_rule_entry(rule) for rule in extra_rules)
    return entries
