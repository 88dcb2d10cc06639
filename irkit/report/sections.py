"""The report's reading sections, computed from the case: Summary (verdict, who, when, from where,
metrics), Next steps, grouped findings, the merged timeline and the long-tail activity counts.

Everything is derived from files the run wrote (journal, findings.json, the evidence) and every
list is bounded; a metric that cannot be measured from them is ``None`` (shown as "unknown"), never
guessed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from irkit.detect.groups import bursts
from irkit.detect.rule import SEVERITIES
from irkit.detect.rules import get_rule
from irkit.report.events import EventFacts, counter_rows
from irkit.report.times import parse, utc

MAX_GROUPS = 100
MAX_GROUP_RESOURCES = 50
MAX_ATTACK_EVENTS = 300
MAX_STEPS_ITEMS = 40
MAX_REVIEWED_CHANGES = 10
"""Changed resources named one by one in the next steps when the revert did not run (then one item
counts the rest)."""
MAX_SOURCES = 10
MAX_TAIL_ROWS = 30

SEVERITY_ORDER: dict[str, int] = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
"""Severity → its place in the report, the most severe first (``critical`` 0, ``low`` 3)."""
PHASES = ("attack", "detection", "containment", "revert")
_DETECTION_STEPS = {"collect", "verify", "detect"}
_CONTAINMENT_STEPS = {"contain", "contain_chain", "lock_trust"}


def _remediation(rule_id: str) -> str:
    try:
        return get_rule(rule_id).remediation
    except (KeyError, ValueError, LookupError):
        return ""  # a Sigma rule or one this version does not ship


def finding_resources(finding: Mapping[str, Any], facts: EventFacts) -> tuple[list[str], dict[str, int]]:
    """The resource ids the finding's events touched (instance ids, role names, group ids), and,
    per event, how many more it named than it lists (an event keeps 10: a launch of 50 instances)."""
    out: dict[str, None] = {}
    unlisted: dict[str, int] = {}
    for event_id in finding.get("all_event_ids") or finding.get("event_ids") or []:
        detail = facts.detailed.get(str(event_id))
        if detail:
            out.update((r, None) for r in detail["resources"])
            more = int(detail.get("resources_total") or 0) - len(detail["resources"])
            if more > 0:
                unlisted[str(event_id)] = more
    return list(out), unlisted


def _events_of(f: Mapping[str, Any]) -> int:
    evidence = f.get("evidence")
    counted = evidence.get("events") if isinstance(evidence, Mapping) else f.get("events")
    if isinstance(counted, int) and not isinstance(counted, bool):
        return counted
    return len(f.get("event_ids") or [])


def group_findings(findings: Sequence[Mapping[str, Any]], facts: EventFacts) -> tuple[list[dict[str, Any]], int]:
    """One row per rule x principal x burst (:func:`irkit.detect.groups.bursts`, the rule of
    ``analyze``'s text): a responder reads ten rows, not 140."""
    groups: list[dict[str, Any]] = []
    runs = bursts(
        findings,
        lambda f: (str(f.get("rule_id")), str(f.get("principal"))),
        lambda f: parse(utc(f.get("first_seen"))),  # to the second, as the rows show it
    )
    for run in runs:
        head = run[0]
        group: dict[str, Any] = {
            "rule_id": str(head.get("rule_id", "")),
            "severity": str(head.get("severity", "low")),
            "title": str(head.get("title", "")),
            "principal": str(head.get("principal", "")),
            "attribution": str(head.get("attribution", "")),
            "mitre": [],
            "first_seen": utc(head.get("first_seen")),
            "last_seen": utc(run[-1].get("first_seen")),
            "findings": len(run),
            "events": 0,
            "details": [],
        }
        resources: dict[str, None] = {}
        unlisted: dict[str, int] = {}  # event id -> resources it named past the ones it lists
        for f in run:
            group["events"] += _events_of(f)
            if SEVERITY_ORDER.get(str(f.get("severity")), 9) < SEVERITY_ORDER.get(group["severity"], 9):
                group["severity"] = str(f.get("severity"))
            named, more = finding_resources(f, facts)
            resources.update((r, None) for r in named)
            unlisted.update(more)
            if len(group["details"]) < 3 and f.get("detail"):
                group["details"].append(str(f.get("detail")))
            for m in f.get("mitre") or []:
                if str(m) not in group["mitre"] and len(group["mitre"]) < 10:
                    group["mitre"].append(str(m))
        names = list(resources)
        group["resources"] = names[:MAX_GROUP_RESOURCES]
        group["resources_total"] = len(names) + sum(unlisted.values())
        groups.append(group)
    groups.sort(key=lambda g: (SEVERITY_ORDER.get(g["severity"], 9), g["first_seen"], g["rule_id"]))
    return groups[:MAX_GROUPS], len(groups)


def attack_timeline(facts: EventFacts, findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The attacker's flagged events (each with its API, target, source, client) and the first and
    last activity of each attributed session, in time order."""
    rules_of: dict[str, list[str]] = {}
    for f in findings:
        for event_id in f.get("all_event_ids") or f.get("event_ids") or []:
            names = rules_of.setdefault(str(event_id), [])
            if str(f.get("rule_id")) not in names and len(names) < 5:
                names.append(str(f.get("rule_id")))
    rows: list[dict[str, Any]] = []
    for event_id, d in facts.detailed.items():
        rows.append(
            {
                "time": d["time"],
                "phase": "attack",
                "who": d["principal"],
                "what": d["api"] + (f" (failed: {d['error']})" if d["error"] else ""),
                "target": ", ".join(d["resources"][:3])
                + (f" and {d['resources_total'] - 3} more" if d["resources_total"] > 3 else ""),
                "source_ip": d["source_ip"],
                "user_agent": d["user_agent"],
                "region": d["region"],
                "detail": ", ".join(rules_of.get(event_id, [])),
                "event_id": event_id,
            }
        )
    for session in facts.sessions.values():
        for edge, stamp in (("first", session.first), ("last", session.last)):
            if edge == "last" and session.last == session.first:
                continue
            rows.append(
                {
                    "time": stamp,
                    "phase": "attack",
                    "who": session.actor,
                    "what": f"session {edge} activity",
                    "target": session.session,
                    "source_ip": ", ".join(ip for ip, _ in session.source_ips.most_common(3)),
                    "user_agent": "",
                    "region": "",
                    "detail": f"{session.calls} calls, {session.flagged} flagged",
                    "event_id": "",
                }
            )
    rows.sort(key=lambda r: (r["time"], r["what"]))
    return rows[:MAX_ATTACK_EVENTS]


def irkit_timeline(entries: Sequence[Mapping[str, Any]], step_types: Mapping[str, str]) -> list[dict[str, Any]]:
    """irkit's own work: each step's end (detection, containment, revert) with its summary."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        kind = entry.get("kind")
        data = entry.get("data") or {}
        step = str(entry.get("step") or "")
        step_type = step_types.get(step, "")
        action = data.get("action")
        if kind in {"action.done", "action.failed"} and isinstance(action, Mapping):
            phase = "revert" if step_type == "revert" else "containment" if step_type in _CONTAINMENT_STEPS else ""
            if phase:
                failed = " (failed)" if kind == "action.failed" else ""
                rows.append(
                    {
                        "time": utc(entry.get("ts")),
                        "phase": phase,
                        "who": "irkit",
                        "what": f"{action.get('kind')}{failed}",
                        "target": str(action.get("target", "")),
                        "source_ip": "",
                        "user_agent": "",
                        "region": "",
                        "detail": str(action.get("detail", "")),
                        "event_id": "",
                        "action": True,
                    }
                )
            continue
        if kind not in {"step.done", "step.failed", "run.start", "step.awaiting_approval"}:
            continue
        if kind == "run.start":
            phase, what = "detection", "irkit run started"
        elif step_type in _CONTAINMENT_STEPS:
            phase, what = "containment", f"{step} {'failed' if kind == 'step.failed' else data.get('status', '')}"
        elif step_type == "revert":
            phase, what = "revert", f"revert {'failed' if kind == 'step.failed' else data.get('status', 'awaiting')}"
        elif step_type in _DETECTION_STEPS:
            phase, what = "detection", f"{step} {'failed' if kind == 'step.failed' else data.get('status', '')}"
        else:
            continue
        if kind == "step.awaiting_approval":
            what = f"{step} awaiting approval"
        rows.append(
            {
                "time": utc(entry.get("ts")),
                "phase": phase,
                "who": "irkit",
                "what": what.strip(),
                "target": "",
                "source_ip": "",
                "user_agent": "",
                "region": "",
                "detail": str(data.get("summary") or data.get("error") or ""),
                "event_id": "",
            }
        )
    return rows


def bounded_timeline(
    attack: Sequence[dict[str, Any]], irkit: Sequence[dict[str, Any]], bound: int
) -> list[dict[str, Any]]:
    """At most ``bound`` rows in time order, irkit's own (what the response did) with room of their
    own: cut together by time, ``bound`` attack rows would push every containment and revert row
    out. What is not kept is counted (``flagged_events``, ``timeline_irkit``)."""
    kept_irkit = list(irkit[: bound // 2])
    rows = [*attack[: bound - len(kept_irkit)], *kept_irkit]
    rows.sort(key=lambda row: (row["time"], PHASES.index(row["phase"])))
    return rows


def activity(facts: EventFacts) -> dict[str, Any]:
    """The long tail: the attributed principals' calls counted per API and region."""
    rows: list[dict[str, Any]] = [
        {"api": api, "region": region, "count": n}
        for (api, region), n in sorted(facts.tail.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    shown = rows[:MAX_TAIL_ROWS]
    return {
        "calls": facts.attributed_calls,
        "by_api_region": shown,
        "other_calls": sum(int(r["count"]) for r in rows[MAX_TAIL_ROWS:]) + facts.tail_other,
        "pairs": len(rows) + (1 if facts.tail_other else 0),
    }


def next_steps(
    *,
    groups: Sequence[Mapping[str, Any]],
    revert: Mapping[str, Any],
    secrets: Sequence[Mapping[str, Any]],
    containment_gaps: Sequence[Mapping[str, Any]],
    awaiting: Sequence[str],
    case_id: str,
    dry_run: bool,
    revert_ran: bool,
    changes: Sequence[Mapping[str, Any]],
    contained: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """What a human must still do, each item concrete (a resource, a command, a secret), most
    urgent first, at most :data:`MAX_STEPS_ITEMS`; and the items past that bound, counted by kind
    (never dropped unsaid).

    ``contained``: the principals containment cut off (verified or not). Something is always left
    after a containment: the agent no longer works, and how its credentials leaked is not known.
    """
    items: list[dict[str, Any]] = []
    omitted: Counter[str] = Counter()

    def add(kind: str, text: str, resource: str = "", reversibility: str = "") -> None:
        if len(items) < MAX_STEPS_ITEMS:
            items.append({"kind": kind, "text": text, "resource": resource, "reversibility": reversibility})
        else:
            omitted[kind] += 1

    if dry_run:
        add("rerun", "Nothing was changed (dry run): run `irkit contain` again without --dry-run to contain.")
    for gap in containment_gaps:
        add(
            "contain",
            f"Containment gap, the credential may still work: {gap.get('reason', '')}",
            str(gap.get("path", "")),
        )
    for step in awaiting:
        add("approve", f"Review plans/{step}.json, then approve: irkit resume {case_id} --approve {step}", step)
    for change in revert.get("changes") or []:
        if not isinstance(change, Mapping) or change.get("verified"):
            continue
        add(
            "revert",
            f"{change.get('event_name', '')} is not undone ({change.get('status', 'unknown')}): "
            f"{'; '.join(str(u) for u in change.get('undo') or []) or 'undo by hand'}",
            str(change.get("resource", "")),
            str(change.get("reversibility", "")),
        )
    # a secret the attacker read works for them now: before the reviews of what they changed
    for secret in secrets:
        add(
            "rotate",
            f"The attacker read this {secret.get('service', '')} secret: rotate it and review who used it since",
            str(secret.get("secret") or secret.get("name") or ""),
        )
    for unknown in revert.get("unknown") or []:
        if isinstance(unknown, Mapping):
            add(
                "review",
                f"{unknown.get('event_name', '')}: irkit has no undo for it; review and undo by hand",
                str(unknown.get("resource") or unknown.get("key") or ""),
                "unknown",
            )
    if not revert_ran:
        for change in changes[:MAX_REVIEWED_CHANGES]:
            add(
                "review",
                f"changed by the attacker ({', '.join(change.get('calls') or {})}); not reverted by irkit: review it",
                f"{change.get('service', '')} {change.get('resource', '')}",
            )
        if len(changes) > MAX_REVIEWED_CHANGES:
            add(
                "review",
                f"{len(changes) - MAX_REVIEWED_CHANGES} more resource(s) changed by the attacker, not reverted "
                "by irkit: findings.json's inventory (changes) lists each; review them",
            )
    # A rule whose every change the revert undid and verified needs no remediation by hand.
    undone: set[str] = set()
    pending: set[str] = set()
    for change in revert.get("changes") or []:
        if isinstance(change, Mapping):
            (undone if change.get("verified") else pending).update(str(r) for r in change.get("rules") or [])
    seen: set[str] = set()
    for group in groups:
        rule = str(group.get("rule_id"))
        if rule in undone and rule not in pending:
            continue
        if rule in seen:
            continue
        seen.add(rule)
        text = _remediation(rule)
        if text:
            add("remediate", f"{rule}: {text}", ", ".join(str(r) for r in group.get("resources") or []))
    if contained and not dry_run:
        names = ", ".join(sorted(set(contained))[:10]) + (
            f" and {len(set(contained)) - 10} more" if len(set(contained)) > 10 else ""
        )
        add(
            "recover",
            "Find how the credentials leaked before the agent works again; then issue it new credentials "
            "(never re-activate the contained keys: they are evidence). False alarm: "
            f"irkit restore {case_id}",
            names,
        )
    return items, dict(omitted)


def source_rows(counter: Counter[str]) -> list[dict[str, Any]]:
    return counter_rows(counter, MAX_SOURCES)
