"""Pages: one PagerDuty Events v2 ``trigger`` per burst of new findings (rule and principal, each at
most 30 minutes after the one before), POSTed with urllib, never twice.

The body (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/)::

    {"routing_key": "<from $IRKIT_PAGER_KEY>", "event_action": "trigger",
     "dedup_key": "irkit-<agent>-<32 hex>",
     "payload": {"summary": "...", "severity": "critical|error|warning|info", "source": "irkit watch <agent>",
                 "timestamp": "<first event>", "component": "<rule id>", "group": "<agent>", "class": "<tactic>",
                 "custom_details": {...the evidence, escaped and bounded...}}}

Every value that came from CloudTrail is the attacker's text: control characters are shown
(``\\x1b``), strings are cut, lists are capped, secrets are masked, and the whole ``custom_details``
stays under :data:`MAX_DETAILS_BYTES`. A page is kept (without its routing key) in the state's outbox
until the service accepts it (2xx); 5xx, 429 and connection errors are retried with backoff, and
what is still undelivered at the end of a pass is tried again on the next.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from irkit.detect.event import format_time
from irkit.detect.groups import finding_events
from irkit.detect.rule import SEVERITIES, Finding
from irkit.escape import terminal
from irkit.redact import redact, redact_text

PD_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
MAX_SUMMARY = 1024  # PagerDuty's limit for payload.summary
MAX_TEXT = 500
MAX_LIST = 20
MAX_DETAILS_BYTES = 16_000
BURST_SAMPLE = 10
"""Details (and event ids per finding) a burst's page names; the count says the rest."""
ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 10.0


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1


def dedup_key(agent: str, rule_id: str, first: str) -> str:
    """Stable per agent + rule + first event (or telemetry episode): the same finding, the same key."""
    digest = hashlib.sha256(f"{agent}\x1f{rule_id}\x1f{first}".encode()).hexdigest()[:32]
    return f"irkit-{digest}"


def finding_key(agent: str, finding: Finding, episode: str | None = None) -> str:
    first = episode if episode is not None else (finding.event_ids[0] if finding.event_ids else finding.detail)
    return dedup_key(agent, finding.rule_id, first)


def clean(value: Any, *, depth: int = 0) -> Any:
    """A JSON-safe, bounded, escaped copy of hostile data (for custom_details)."""
    if depth > 4:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())
        out = {terminal(str(k), limit=80): clean(v, depth=depth + 1) for k, v in items[:MAX_LIST]}
        if len(items) > MAX_LIST:
            out["…"] = f"{len(items) - MAX_LIST} more"
        return out
    if isinstance(value, list | tuple | set | frozenset):
        seq = list(value)
        cut = [clean(v, depth=depth + 1) for v in seq[:MAX_LIST]]
        if len(seq) > MAX_LIST:
            cut.append(f"… {len(seq) - MAX_LIST} more")
        return cut
    if value is None or isinstance(value, bool | int | float):
        return value
    return terminal(redact_text(str(value)), limit=MAX_TEXT)


def build_page(
    agent: str,
    finding: Finding,
    key: str,
    *,
    detected_at: str,
    latency_seconds: float | None,
    case: Mapping[str, Any] | None = None,
    burst: Sequence[Finding] = (),
    continues: str | None = None,
) -> dict[str, Any]:
    """The Events v2 body, without ``routing_key`` (added when it is sent, never stored).

    ``burst``: the findings this page stands for when there are more than ``finding`` (the first
    of them): the same rule and principal, each at most 30 minutes after the one before. The page
    is the first's, at the burst's worst severity, with the count, the last time, a sample of the
    details and of each finding's event ids. ``continues``: when the burst carries on one paged in
    an earlier pass (under the same dedup key), that page's first time."""
    others = [f for f in burst if f is not finding]
    severity = max((finding.severity, *(f.severity for f in others)), key=_rank)
    principal = terminal(redact_text(finding.principal), limit=200)
    detail = terminal(redact_text(finding.detail), limit=300)
    summary = f"[irkit] {agent}: {finding.title} ({severity}) by {principal}"
    last_seen = format_time(max(f.first_seen for f in (finding, *others)))
    if others:
        summary += f": {len(others) + 1} findings, {format_time(finding.first_seen)} to {last_seen}"
        if continues:
            summary += f" (more of the burst paged from {continues})"
        if detail:
            summary += f"; first: {detail}"
    elif detail:
        summary += f": {detail}"
    if case:
        summary += f" | contained: case {case.get('case_id')} at {case.get('case_dir')}"
    details: dict[str, Any] = {
        "agent": agent,
        "rule_id": finding.rule_id,
        "severity": severity,
        "title": finding.title,
        "principal": finding.principal,
        "detail": finding.detail,
        "attribution": finding.attribution,
        "first_seen": format_time(finding.first_seen),
        "detected_at": detected_at,
        "latency_seconds": latency_seconds,
        "event_ids": list(finding.event_ids),
        "events": finding_events(finding),
        "mitre": list(finding.mitre),
        "evidence": dict(finding.evidence),
    }
    if others:
        every = [finding, *others]
        details["findings"] = len(every)
        details["last_seen"] = last_seen
        details["details"] = list(dict.fromkeys(f.detail for f in every if f.detail))[:BURST_SAMPLE]
        details["event_ids"] = [i for f in every[:BURST_SAMPLE] for i in f.event_ids[:BURST_SAMPLE]]
        details["events"] = sum(finding_events(f) for f in every)
        if continues:
            details["continues"] = continues
    if case:
        details["case"] = dict(case)
    cleaned = clean(redact(details))
    raw = orjson.dumps(cleaned)
    if len(raw) > MAX_DETAILS_BYTES:  # the evidence is what grows: cut it, say so
        cleaned["evidence"] = f"(evidence cut: {len(raw)} bytes; see `irkit analyze` or the case)"
    return {
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": terminal(summary, limit=MAX_SUMMARY - 40)[:MAX_SUMMARY],
            "severity": PD_SEVERITY.get(severity, "error"),
            "source": f"irkit watch {agent}",
            "timestamp": format_time(finding.first_seen),
            "component": finding.rule_id,
            "group": agent,
            "class": "security",
            "custom_details": cleaned,
        },
    }


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    error: str


def post(url: str, body: Mapping[str, Any], *, timeout: float = TIMEOUT_SECONDS) -> Delivery:
    data = orjson.dumps(body)
    request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s) by the caller
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": "irkit-watch"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310
            status = int(resp.status)
            return Delivery(200 <= status < 300, status, "" if 200 <= status < 300 else f"HTTP {status}")
    except urllib.error.HTTPError as exc:
        return Delivery(False, int(exc.code), f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Delivery(False, None, f"cannot reach the paging service: {reason}")


def retryable(result: Delivery) -> bool:
    return result.status is None or result.status >= 500 or result.status == 429


def send(
    url: str,
    routing_key: str,
    page: Mapping[str, Any],
    *,
    attempts: int = ATTEMPTS,
    backoff: float = BACKOFF_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST one page, retrying 5xx/429/connection errors with exponential backoff."""
    body = {"routing_key": routing_key, **page}
    result = Delivery(False, None, "not sent")
    for attempt in range(max(1, attempts)):
        result = post(url, body)
        if result.ok or not retryable(result):
            return result
        if attempt + 1 < attempts:
            sleep(backoff * (2**attempt))
    return result
