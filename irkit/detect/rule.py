"""What a detection rule is, and the findings rules produce.

A rule is a pure function of one :class:`Event` plus metadata (panther-style). It lives in its own
module under ``irkit/detect/rules/`` whose name equals the rule id, and it carries positive and
negative CloudTrail records that one parametrized test runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from irkit.detect.event import Event

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")


def lower(severity: Severity) -> Severity:
    return SEVERITIES[max(0, SEVERITIES.index(severity) - 1)]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    mitre: tuple[str, ...]
    why: str
    remediation: str
    match: Callable[[Event], bool]
    positive: tuple[Mapping[str, Any], ...]
    negative: tuple[Mapping[str, Any], ...]
    describe: Callable[[Event], str] | None = None
    """A one-line, event-specific detail (``role backdoor-admin trusts 999999999999``)."""
    failed_calls: Literal["ignore", "attempt", "match"] = "attempt"
    """Failed calls (``errorCode``): ignore them, report an attempt one severity lower, or match as-is."""
    events: tuple[str, ...] = ()
    """The event names (version suffix stripped: ``AddPermission``) this rule can match. The analyzer
    indexes rules by them so an event only runs the rules that could fire; empty means every event."""
    identities: tuple[str, ...] = ()
    """The identity types (``userIdentity.type``: ``Root``, ``IAMUser``, ``AssumedRole``, …) this rule
    can match; empty means any. The analyzer runs the rule only on events of those types, so its
    ``match`` must return False on any other (``tests/detect/test_rule_identities.py`` holds every
    declaring rule to it)."""
    tactic: str = ""
    """A short grouping for the docs (``persistence``, ``defense-evasion``, ...)."""
    severity_of: Callable[[Event], Severity] | None = None
    """The severity of one matching event when it depends on the event (an admin port open to the
    world is worse than HTTPS); ``severity`` is then the rule's usual (documented) level. A finding
    takes the highest severity of its events."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """Fixed facts every finding of the rule carries in its evidence (a Sigma rule's author,
    references and file: the rules' licence requires attribution)."""


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    title: str
    event_ids: tuple[str, ...]
    principal: str
    mitre: tuple[str, ...]
    first_seen: datetime
    detail: str = ""
    attribution: str = ""
    """How the events were tied to the agent (``userIdentity.arn``, ``session of role …``,
    ``access key … created by …``)."""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_contract(self) -> dict[str, Any]:
        """The ``analyze --json`` finding shape (docs/contracts.md); keep these keys exactly."""
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "title": self.title,
            "event_ids": list(self.event_ids),
            "principal": self.principal,
            "mitre": list(self.mitre),
        }
