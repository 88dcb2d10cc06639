"""Assemble the incident report from the case folder alone (so a resumed run reports the same).

Everything comes from files the run wrote: ``case.json``, the journal, ``findings.json`` and the
evidence manifest. Nothing here calls AWS.

The report is bounded whatever the archive held: findings, gaps, timeline entries, chain links,
evidence rows, notes and integrity problems are listed up to a limit and counted beyond it, and any
one string is cut to a length (a forged CloudTrail value can be megabytes). The counts are exact.

Containment actions are read from the whole journal (``action.start`` / ``action.done`` /
``action.failed``), not only from the last result of each step: a run killed halfway and resumed
re-plans from what IAM shows, so the actions applied before the crash are in no later step result.
An action started and never finished is reported as interrupted, its outcome unknown.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from irkit.contain.actions import credential_of
from irkit.core.case import Case
from irkit.core.journal import verify_chain
from irkit.core.names import CONTAIN_STEPS, canonical_step
from irkit.core.plan import Action
from irkit.detect.event import parse_time
from irkit.gaps import Gap, fold, folded_count
from irkit.redact import redact
from irkit.report import sections
from irkit.report.events import DISTINCT_VALUES, read_facts
from irkit.report.times import seconds_between, utc

SCHEMA = "irkit.report/2"

SEVERITY_ORDER = sections.SEVERITY_ORDER
CONTAINMENT_STEPS = CONTAIN_STEPS | {"lock_trust"}

MAX_FINDINGS = 200
"""Findings listed (most severe first); the rest are counted by severity (findings.json has them all)."""
MAX_FINDING_EVENT_IDS = 10
MAX_TIMELINE = 200
MAX_CHAIN = 200
MAX_REVERT = 200
MAX_CONTAINMENT = 1000
MAX_EVIDENCE_ROWS = 200
MAX_NOTES = 50
MAX_PROBLEMS = 50
MAX_TEXT = 1000
"""Characters kept of any one string in report.json (the markdown cuts cells shorter)."""

# What the containment table says of each action.
VERIFIED = "verified"
NOT_VERIFIED = "not verified"
FAILED = "failed"
APPLIED_UNVERIFIED = "applied, not re-verified"
INTERRUPTED = "interrupted"


@dataclass
class Report:
    """Everything the report says; :meth:`to_json` is report.json, the one source report.md is
    rendered from (docs/report.schema.json describes it)."""

    case_id: str
    agent: str
    principals: list[str]
    window: tuple[str, str]
    runbook: str
    dry_run: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    containment: list[dict[str, Any]] = field(default_factory=list)
    """One row per action: ``principal, credential, action, verified, time`` and ``status`` (one of
    ``verified``, ``not verified``, ``failed``, ``applied, not re-verified``, ``interrupted``),
    ``step``, ``error``."""
    time_to_contain: float | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    """The most severe :data:`MAX_FINDINGS` findings, each with at most MAX_FINDING_EVENT_IDS ids."""
    chain: list[dict[str, Any]] = field(default_factory=list)
    revert: dict[str, Any] = field(default_factory=dict)
    """The revert step's output, lists cut at MAX_REVERT (its journal entry holds them all)."""
    timeline: list[dict[str, str]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    integrity: dict[str, Any] = field(default_factory=dict)
    gaps: list[dict[str, str]] = field(default_factory=list)
    """Folded (:func:`irkit.gaps.fold`): a few of each kind named, the rest in summary gaps."""
    notes: list[str] = field(default_factory=list)
    journal_ok: bool = True
    containment_gaps: list[dict[str, str]] = field(default_factory=list)
    """Gaps of the containment steps: credentials that may still work."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The verdict, who, when, from where, what changed / is contained / was reverted / remains."""
    metrics: dict[str, Any] = field(default_factory=dict)
    """Seconds (None: not measurable): ``time_to_detect``, ``time_to_contain``, ``time_to_revert``,
    ``dwell_time``, and the instants they are measured between."""
    next_steps: list[dict[str, Any]] = field(default_factory=list)
    next_steps_omitted: dict[str, int] = field(default_factory=dict)
    """Next steps past the list's bound, by kind (the list names the first ones of each)."""
    finding_groups: list[dict[str, Any]] = field(default_factory=list)
    """One row per rule x principal x burst, with the resources its events touched."""
    sessions: list[dict[str, Any]] = field(default_factory=list)
    activity: dict[str, Any] = field(default_factory=dict)
    """The attributed principals' calls per API and region (the long tail, counted)."""
    counts: dict[str, Any] = field(default_factory=dict)
    """Exact totals of what the lists above hold only part of: ``findings``, ``findings_by_severity``,
    ``gaps``, ``containment_gaps``, ``timeline``, ``chain``, ``containment``, ``notes``,
    ``actions_by_status``."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA, **redact(_bounded(self.__dict__.copy()))}
        out["window"] = [utc(w) for w in self.window]
        return out

    # -- totals (the lists may be cut) -----------------------------------------------------------
    @property
    def findings_by_severity(self) -> dict[str, int]:
        counts = self.counts.get("findings_by_severity")
        if isinstance(counts, dict):
            return {str(k): int(v) for k, v in counts.items()}
        return dict(Counter(str(f.get("severity")) for f in self.findings))

    def total(self, name: str) -> int:
        value = self.counts.get(name)
        return int(value) if isinstance(value, int) else len(getattr(self, name, ()))

    @property
    def analysed(self) -> bool:
        """Did detection read any event? Without, "no finding" would be an all-clear nobody checked."""
        return bool(self.counts.get("events_analysed")) or bool(self.findings)

    @property
    def failed_steps(self) -> list[dict[str, Any]]:
        """Steps whose last attempt failed or was interrupted (a step re-run to done is not listed)."""
        last: dict[str, dict[str, Any]] = {}
        for step in self.steps:
            last[str(step["id"])] = step
        return [s for s in last.values() if s["status"] in {"failed", "interrupted"}]


def build_report(case: Case, *, agent_principals: list[str]) -> Report:
    meta = case.meta
    entries = case.journal.entries()
    report = Report(
        case_id=meta.case_id,
        agent=meta.agent,
        principals=agent_principals,
        window=(meta.window_start, meta.window_end),
        runbook=meta.runbook,
        dry_run=meta.dry_run,
        journal_ok=not verify_chain(case.journal.path),
    )
    start_ts = next((e["ts"] for e in entries if e["kind"] == "run.start"), None)
    gaps = _Unique()
    containment_gaps = _Unique()
    # A step run again in a resume replaces what its earlier attempt said: the report describes the
    # world as the last attempt of each step left it (a retried containment is not still "incomplete").
    step_gaps_of: dict[str, list[Gap]] = {}
    step_containment_gaps: dict[str, list[Gap]] = {}
    notes: dict[str, None] = {}
    chain_from_containment: list[dict[str, Any]] = []
    actions = _Actions()
    irkit_timeline: list[dict[str, str]] = []
    # Which step type each step id is (from any entry that says): only containment steps' actions are
    # containment actions; the revert step's are reported in its own section.
    step_types = {
        str(e.get("step")): canonical_step(str((e.get("data") or {}).get("type")))
        for e in entries
        if e.get("step") and (e.get("data") or {}).get("type")
    }
    for entry in entries:
        data = entry.get("data") or {}
        kind, step_id = entry.get("kind"), str(entry.get("step") or "")
        if kind == "step.done":
            step_type = canonical_step(str(data.get("type", "")))
            report.steps.append(
                {
                    "id": step_id,
                    "type": step_type,
                    "status": data.get("status", ""),
                    "summary": data.get("summary", ""),
                    "seconds": data.get("seconds", 0),
                }
            )
            output = data.get("output") or {}
            step_gaps = [_gap(g) for g in data.get("gaps") or []]
            rows = output.get("contained") if step_type in CONTAINMENT_STEPS else None
            actions.step_done(step_id, rows if isinstance(rows, list) else [])
            step_containment_gaps[step_id] = step_gaps if step_type in CONTAINMENT_STEPS else []
            if step_type == "contain" and start_ts:
                # Time to contain: until the contain attempt that contained everything (never before).
                complete = output.get("complete") is not False and data.get("status") != "incomplete"
                report.time_to_contain = _seconds_between(start_ts, entry["ts"]) if complete else None
            if step_type == "contain_chain" and output.get("chain"):
                chain_from_containment = list(output["chain"])
            if step_type == "verify":
                report.integrity = dict(output)
            if step_type == "revert":
                report.revert = dict(output)
            step_gaps_of[step_id] = step_gaps
            notes.update((str(n), None) for n in output.get("notes") or [])
        elif kind == "step.failed":
            error = str(data.get("error", ""))
            report.steps.append(
                {"id": step_id, "type": data.get("type", ""), "status": "failed", "summary": error, "seconds": 0}
            )
            failed_gap = Gap(f"step {step_id}", f"failed: {error}")
            step_gaps_of[step_id] = [failed_gap]
            failed_type = canonical_step(str(data.get("type", "")))
            step_containment_gaps[step_id] = [failed_gap] if failed_type in CONTAINMENT_STEPS else []
            actions.step_closed(step_id)
        elif kind == "step.interrupted":
            note = str(data.get("note", "started but never finished"))
            report.steps.append({"id": step_id, "type": "", "status": "interrupted", "summary": note, "seconds": 0})
            actions.step_closed(step_id)
        elif kind in {"step.planned", "watch.detected"}:  # watch.detected: irkit watch opened the case
            notes.update((str(n), None) for n in data.get("notes") or [])
        elif kind in {"action.start", "action.done", "action.failed"}:
            action = data.get("action")
            if isinstance(action, Mapping):
                if step_types.get(step_id, "") in CONTAINMENT_STEPS:
                    actions.journaled(step_id, kind.removeprefix("action."), action, entry, str(data.get("error", "")))
                if kind != "action.start":
                    failed = " (failed)" if kind == "action.failed" else ""
                    irkit_timeline.append(
                        {
                            "time": str(entry["ts"]),
                            "who": "irkit",
                            "what": f"{action.get('kind')} {action.get('target')}{failed}",
                            "detail": str(action.get("detail", "")),
                        }
                    )
    actions.finish()
    for per_step in step_gaps_of.values():
        gaps.extend(per_step)
    for per_step in step_containment_gaps.values():
        containment_gaps.extend(per_step)
    report.containment = actions.rows()[:MAX_CONTAINMENT]
    for row in actions.rows():
        if row["status"] != INTERRUPTED:
            continue
        gap = Gap(
            f"{row['action']} on {row['principal']}",
            "interrupted: the run stopped before its outcome was journaled; verify by hand",
        )
        gaps.add(gap)
        if row.get("step_unfinished"):
            containment_gaps.add(gap)

    report.gaps = [g.to_json() for g in fold(gaps.items)]
    report.containment_gaps = [g.to_json() for g in fold(containment_gaps.items)]
    report.notes = list(notes)[:MAX_NOTES]

    findings_doc = case.read_json("findings.json") or {}
    all_findings = [f for f in findings_doc.get("findings", []) if isinstance(f, Mapping)]
    all_findings.sort(
        key=lambda f: (SEVERITY_ORDER.get(str(f.get("severity", "low")), 9), str(f.get("first_seen", "")))
    )
    report.findings = [_finding(f) for f in all_findings[:MAX_FINDINGS]]
    # The containment step's view of the chain is the fuller one: every round, and what was done.
    chain = chain_from_containment or list(findings_doc.get("chain", []))
    report.chain = chain[:MAX_CHAIN]
    revert_totals = {k: len(v) for k, v in report.revert.items() if isinstance(v, list)}
    report.revert = {k: (v[:MAX_REVERT] if isinstance(v, list) else v) for k, v in report.revert.items()}

    # The facts behind the findings, read again from the evidence: each flagged event's API,
    # target, source and client; the attributed sessions; the long tail counted per API and region.
    flagged_ids = [str(i) for f in all_findings for i in f.get("event_ids") or []]
    attributed = {str(f.get("principal")) for f in all_findings if f.get("principal")}
    facts = read_facts(case.evidence_dir, flagged_ids, attributed)
    groups, groups_total = sections.group_findings(all_findings, facts)
    report.finding_groups = groups
    irkit_rows = sections.irkit_timeline(entries, step_types)
    attack_rows = sections.attack_timeline(facts, all_findings)
    report.timeline = sections.bounded_timeline(attack_rows, irkit_rows, MAX_TIMELINE)
    report.sessions = [s.to_json() for s in sorted(facts.sessions.values(), key=lambda s: s.first_at)][:MAX_CHAIN]
    report.activity = sections.activity(facts)
    report.evidence = _evidence(case)
    report.integrity = _integrity(report.integrity)
    _normalise_times(report)
    inventory = findings_doc.get("inventory") if isinstance(findings_doc.get("inventory"), Mapping) else {}
    changes = [c for c in (inventory or {}).get("changes") or [] if isinstance(c, Mapping)]
    secrets = [c for c in (inventory or {}).get("secrets_read") or [] if isinstance(c, Mapping)]
    awaiting = _awaiting(entries)
    report.next_steps, report.next_steps_omitted = sections.next_steps(
        groups=groups,
        revert=report.revert,
        secrets=secrets,
        containment_gaps=report.containment_gaps,
        awaiting=awaiting,
        case_id=report.case_id,
        dry_run=report.dry_run,
        revert_ran=bool(report.revert),
        changes=changes,
        # the agent's own principals (the chain's are the attacker's: reverted, not given back)
        contained=[
            str(c["principal"]) for c in report.containment if c.get("principal") and c.get("step") == "contain"
        ],
    )
    report.counts = {
        "findings": len(all_findings),
        # How many events detection read: "Findings: none" is said only when it read some.
        "events_analysed": int(findings_doc.get("events") or 0) if isinstance(findings_doc, Mapping) else 0,
        "findings_by_severity": dict(Counter(str(f.get("severity")) for f in all_findings)),
        "finding_groups": groups_total,
        "flagged_events": facts.flagged_seen,
        "sessions": facts.sessions_total,
        "gaps": folded_count(gaps.items),
        "containment_gaps": folded_count(containment_gaps.items),
        "timeline": len(attack_rows) + len(irkit_rows),
        "timeline_irkit": len(irkit_rows),
        "next_steps": len(report.next_steps) + sum(report.next_steps_omitted.values()),
        "chain": len(chain),
        "revert": revert_totals,
        "containment": len(actions.rows()),
        "notes": len(notes),
        "actions_by_status": dict(Counter(r["status"] for r in actions.rows())),
    }
    report.metrics = _metrics(report, entries, step_types, facts.first, all_findings)
    report.summary = _summary(report, facts, changes, attributed)
    return report


def _awaiting(entries: list[dict[str, Any]]) -> list[str]:
    """Steps whose last word in the journal is "awaiting approval"."""
    state: dict[str, str] = {}
    for entry in entries:
        if entry.get("step") and str(entry.get("kind", "")).startswith("step."):
            state[str(entry["step"])] = str(entry["kind"])
    return [step for step, kind in state.items() if kind == "step.awaiting_approval"]


def _normalise_times(report: Report) -> None:
    """One time format in every row (``2026-11-25T03:12:09Z``): the journal writes ``+00:00``."""
    for row in report.containment:
        row["time"] = utc(row.get("time"))
    for f in report.findings:
        f["first_seen"] = utc(f.get("first_seen"))
    for link in report.chain:
        if isinstance(link, dict) and "event_time" in link:
            link["event_time"] = utc(link.get("event_time"))
    changes = report.revert.get("changes")
    if isinstance(changes, list):
        report.revert["changes"] = [
            {**c, "event_time": utc(c.get("event_time"))} if isinstance(c, Mapping) else c for c in changes
        ]


def _step_done_times(entries: list[dict[str, Any]], step_types: Mapping[str, str], kinds: Set[str]) -> list[str]:
    return [
        str(e["ts"])
        for e in entries
        if e.get("kind") == "step.done" and step_types.get(str(e.get("step")), "") in kinds
    ]


def _metrics(
    report: Report,
    entries: list[dict[str, Any]],
    step_types: Mapping[str, str],
    first_event: str | None,
    findings: list[Mapping[str, Any]],
) -> dict[str, Any]:
    """Each metric between two instants the case records; None when one of them is not recorded."""
    start = next((str(e["ts"]) for e in entries if e.get("kind") == "run.start"), None)
    first = first_event or min((utc(f.get("first_seen")) for f in findings), default=None)
    if first == "unknown":
        first = None
    detected = next(iter(_step_done_times(entries, step_types, {"detect"})), None) if findings else None
    contained_times = _step_done_times(entries, step_types, CONTAINMENT_STEPS)
    contained = (
        max(contained_times, key=lambda t: utc(t))
        if contained_times and not report.containment_gaps and not report.dry_run and report.time_to_contain is not None
        else None
    )
    summary = report.revert.get("summary") if isinstance(report.revert.get("summary"), Mapping) else {}
    revert_done = _step_done_times(entries, step_types, {"revert"})
    reverted = None
    if revert_done and summary and not report.dry_run:
        remaining = sum(int((summary or {}).get(k) or 0) for k in ("present", "lost", "unknown"))
        reverted = revert_done[-1] if remaining == 0 else None
    return {
        "first_malicious_event": first,
        "run_started": utc(start) if start else None,
        "detected": utc(detected) if detected else None,
        "contained": utc(contained) if contained else None,
        "reverted": utc(reverted) if reverted else None,
        "time_to_detect": seconds_between(first, detected) if first and detected else None,
        "time_to_contain": seconds_between(start, contained) if start and contained else None,
        "time_to_revert": seconds_between(start, reverted) if start and reverted else None,
        "dwell_time": seconds_between(first, contained) if first and contained else None,
    }


def _summary(report: Report, facts: Any, changes: list[Mapping[str, Any]], attributed: set[str]) -> dict[str, Any]:
    by_status = report.counts.get("actions_by_status") or {}
    verified = int(by_status.get(VERIFIED, 0))
    total = report.total("containment")
    complete = not report.containment_gaps and not report.dry_run and total > 0 and verified == total
    revert_summary = report.revert.get("summary") if isinstance(report.revert.get("summary"), Mapping) else None
    by_service = Counter(str(c.get("service", "")) for c in changes)
    urgent = {"contain", "revert", "review", "rotate", "approve", "rerun"}
    remains = [s for s in report.next_steps if s["kind"] in urgent]
    remains_total = len(remains) + sum(n for kind, n in report.next_steps_omitted.items() if kind in urgent)
    findings_total = report.total("findings")
    sev = severity_text(report.findings_by_severity)
    if not report.analysed:
        verdict = "Not analysed: detection read no CloudTrail event, so the absence of findings says nothing."
    elif not findings_total:
        verdict = f"No malicious activity found in {report.counts.get('events_analysed', 0)} events of the window."
    else:
        who = ", ".join(sorted(attributed)[:3]) + (f" and {len(attributed) - 3} more" if len(attributed) > 3 else "")
        verdict = f"Compromise: {sev} findings, attributed to {who}"
        if facts.first:
            verdict += f", active {facts.first} to {facts.last}"
        verdict += "."
    if report.dry_run:
        verdict += " Dry run: nothing was contained or reverted."
    elif report.containment_gaps:
        verdict += " CONTAINMENT INCOMPLETE: some credentials may still work."
    elif complete:
        verdict += f" Contained: all {total} containment actions verified."
    if revert_summary and not report.dry_run:
        verdict += (
            f" Reverted: {int(revert_summary.get('undone') or 0)}/{int(revert_summary.get('changes') or 0)} "
            "changes undone and verified."
        )
    if remains_total:
        verdict += f" {remains_total} item(s) remain for a human (Next steps)."
    return {
        "verdict": verdict,
        "principals": sorted(attributed)[:20],
        "principals_total": len(attributed),
        "source_ips": sections.source_rows(facts.source_ips),
        "source_ips_total": len(facts.source_ips),
        "source_ips_capped": len(facts.source_ips) >= DISTINCT_VALUES,
        "user_agents": sections.source_rows(facts.user_agents),
        "user_agents_total": len(facts.user_agents),
        "user_agents_capped": len(facts.user_agents) >= DISTINCT_VALUES,
        "first_event": facts.first,
        "last_event": facts.last,
        "changed": {
            "resources": len(changes),
            "by_service": dict(by_service.most_common(20)),
            "services": len(by_service),
            "sample": [f"{c.get('service')} {c.get('resource')}" for c in changes[:10]],
        },
        "contained": {"verified": verified, "actions": total, "complete": complete},
        "reverted": dict(revert_summary) if revert_summary else None,
        "remains": remains_total,
    }


class _Unique:
    """Gaps in first-seen order, each (path, reason) once."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Gap] = {}

    def add(self, gap: Gap) -> None:
        self._seen.setdefault((gap.path, gap.reason), gap)

    def extend(self, gaps: Iterable[Gap]) -> None:
        for gap in gaps:
            self.add(gap)

    @property
    def items(self) -> list[Gap]:
        return list(self._seen.values())


def _gap(raw: Any) -> Gap:
    if isinstance(raw, Mapping):
        return Gap(str(raw.get("path", "")), str(raw.get("reason", "")))
    return Gap(str(raw), "")


class _Actions:
    """Every journaled action, matched with the verified rows its step reported.

    Actions are grouped by the attempt of their step: from the step's start to its ``step.done``,
    ``step.failed`` or ``step.interrupted``. At ``step.done`` the step's rows (re-read from IAM) say
    what was verified; a journaled action no row covers was still applied (``action.done``). An
    attempt that never finished leaves its actions as the journal says: done but not re-verified,
    failed, or started with no outcome (interrupted). A later attempt that applies the same action
    again replaces the earlier row.
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[str, ...], dict[str, Any]] = {}
        self._open: dict[str, dict[tuple[str, ...], dict[str, Any]]] = {}

    @staticmethod
    def _key(step: str, principal: Any, action: Any, credential: Any) -> tuple[str, ...]:
        return (step, str(principal), str(action), str(credential))

    def journaled(self, step: str, state: str, action: Mapping[str, Any], entry: Mapping[str, Any], error: str) -> None:
        try:
            credential = credential_of(Action.from_json(action))
        except (KeyError, TypeError, ValueError, AttributeError):
            credential = str(action.get("detail", ""))
        key = self._key(step, action.get("target"), action.get("kind"), credential)
        slot = self._open.setdefault(step, {}).setdefault(key, {})
        slot.update(
            {
                "step": step,
                "principal": str(action.get("target", "")),
                "credential": credential,
                "action": str(action.get("kind", "")),
                "state": state,
                "time": str(entry.get("ts", "")),
            }
        )
        if error:
            slot["error"] = error

    def step_done(self, step: str, rows: list[Any]) -> None:
        journaled = self._open.pop(step, {})
        for row in rows:
            if not isinstance(row, Mapping):
                continue
            key = self._key(step, row.get("principal"), row.get("action"), row.get("credential"))
            slot = journaled.pop(key, {})
            verified = _is_verified(row.get("verified"))
            applied = row.get("applied", True) is not False
            status = VERIFIED if verified else (NOT_VERIFIED if applied else FAILED)
            out = {**row, "step": step, "verified": verified, "status": status}
            if slot.get("error") and "error" not in out:
                out["error"] = slot["error"]
            self._set(key, out)
        self._close(journaled, step_finished=True)

    def step_closed(self, step: str) -> None:
        self._close(self._open.pop(step, {}), step_finished=False)

    def finish(self) -> None:
        """The end of the journal: attempts still open were cut short (a kill, a crash)."""
        for step in list(self._open):
            self.step_closed(step)

    def _close(self, journaled: dict[tuple[str, ...], dict[str, Any]], *, step_finished: bool) -> None:
        for key, slot in journaled.items():
            state = slot.pop("state")
            status = {"done": APPLIED_UNVERIFIED, "failed": FAILED}.get(state, INTERRUPTED)
            row = {**slot, "verified": False, "applied": state == "done", "status": status}
            if status == INTERRUPTED and not step_finished:
                row["step_unfinished"] = True  # nothing re-read IAM after it
            self._set(key, row)

    def _set(self, key: tuple[str, ...], row: dict[str, Any]) -> None:
        self._rows.pop(key, None)  # the later attempt's row, in its order
        self._rows[key] = row

    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows.values())


def _is_verified(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in {"yes", "true", "verified"}
    if isinstance(value, Mapping):  # a richer status: {"verified": true, ...}
        return _is_verified(value.get("verified", value.get("status")))
    return False


def _finding(f: Mapping[str, Any]) -> dict[str, Any]:
    ids = [str(i) for i in f.get("event_ids") or []]
    evidence = f.get("evidence")
    events = evidence.get("events") if isinstance(evidence, Mapping) else None
    out = dict(f)
    out["event_ids"] = ids[:MAX_FINDING_EVENT_IDS]
    out["events"] = int(events) if isinstance(events, int) and not isinstance(events, bool) else len(ids)
    return out


def _integrity(integrity: dict[str, Any]) -> dict[str, Any]:
    if not integrity:
        return {}
    out = dict(integrity)
    for key, limit in (
        ("problems", MAX_PROBLEMS),
        ("recovered", MAX_PROBLEMS),
        ("unrecovered", MAX_PROBLEMS),
        ("notes", MAX_NOTES),
        ("pending", MAX_CONTAINMENT),  # logs no digest vouches for yet: every one named in the journal
    ):
        items = out.get(key)
        if isinstance(items, list) and len(items) > limit:
            out[key] = items[:limit]
            out[f"{key}_total"] = len(items)
    return out


def _evidence(case: Case) -> dict[str, Any]:
    manifest_path = case.evidence_dir / "manifest.json"
    doc = case.read_json("evidence/manifest.json")
    if not doc:
        return {"files": 0, "bytes": 0, "manifest": None, "manifest_sha256": None}
    objects = [o for o in doc.get("objects", []) if isinstance(o, Mapping)]
    # The manifest itself is linked, not inlined: it is half the bytes of a report and nobody reads
    # 75 hashes at 3 a.m. The count, total size and the manifest's own hash are what the report says.
    return {
        "files": len(objects),
        "bytes": sum(int(o.get("size", 0) or 0) for o in objects),
        "manifest": str(manifest_path.relative_to(case.root)),
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        "engine": str(doc.get("engine", "s3")),
    }


def _bounded(value: Any, depth: int = 0) -> Any:
    """A copy with every string cut to :data:`MAX_TEXT` characters and every list to
    :data:`MAX_CONTAINMENT` items (the lists were bounded above; this catches what a step output
    or a finding's evidence carries)."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else f"{value[:MAX_TEXT]}… ({len(value)} chars)"
    if depth > 20:
        return "…"
    if isinstance(value, Mapping):
        return {str(k)[:MAX_TEXT]: _bounded(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_bounded(v, depth + 1) for v in value[:MAX_CONTAINMENT]]
    return value


def severity_summary(findings: list[dict[str, Any]]) -> str:
    """``3 critical, 1 high`` (most severe first); empty when there is no finding."""
    return severity_text(Counter(str(f.get("severity")) for f in findings))


def severity_text(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{counts[s]} {s}" for s in SEVERITY_ORDER if counts.get(s))


def _seconds_between(a: str, b: str) -> float:
    return round((parse_time(b) - parse_time(a)).total_seconds(), 3)


def _sortable(ts: str) -> str:
    try:
        return parse_time(ts).isoformat()
    except ValueError:
        return ts
