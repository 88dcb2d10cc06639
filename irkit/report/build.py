"""Assemble the incident report from the case folder alone (so a resumed run reports the same).

Everything comes from files the run wrote: ``case.json``, the journal, ``findings.json`` and the
evidence manifest. Nothing here calls AWS.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from irkit.detect.event import parse_time
from irkit.engine.case import Case
from irkit.engine.journal import verify_chain
from irkit.redact import redact

SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass
class Report:
    case_id: str
    agent: str
    principals: list[str]
    window: tuple[str, str]
    runbook: str
    dry_run: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    containment: list[dict[str, Any]] = field(default_factory=list)
    time_to_contain: float | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    chain: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, str]] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    integrity: dict[str, Any] = field(default_factory=dict)
    gaps: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    journal_ok: bool = True
    containment_gaps: list[dict[str, str]] = field(default_factory=list)
    """Gaps of the containment steps: credentials that may still work."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = redact(self.__dict__.copy())
        out["window"] = list(self.window)
        return out


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
    seen_gaps: set[tuple[str, str]] = set()
    chain_from_containment: list[dict[str, Any]] = []
    for entry in entries:
        data = entry["data"]
        if entry["kind"] == "step.done":
            report.steps.append(
                {
                    "id": entry["step"],
                    "type": data.get("type", ""),
                    "status": data.get("status", ""),
                    "summary": data.get("summary", ""),
                    "seconds": data.get("seconds", 0),
                }
            )
            output = data.get("output", {})
            if data.get("type") in {"revoke", "revoke_chain", "lock_trust"}:
                report.containment.extend(output.get("contained", []))
                report.containment_gaps.extend({"path": str(g["path"]), "reason": str(g["reason"])}
                                               for g in data.get("gaps", []))  # fmt: skip
                if data.get("type") == "revoke" and start_ts and report.time_to_contain is None:
                    report.time_to_contain = _seconds_between(start_ts, entry["ts"])
            if data.get("type") == "revoke_chain" and output.get("chain"):
                chain_from_containment = list(output["chain"])
            if data.get("type") == "verify":
                report.integrity = output
            for gap in data.get("gaps", []):
                key = (str(gap["path"]), str(gap["reason"]))
                if key not in seen_gaps:
                    seen_gaps.add(key)
                    report.gaps.append({"path": key[0], "reason": key[1]})
            for note in output.get("notes", []):
                if note not in report.notes:
                    report.notes.append(str(note))
        elif entry["kind"] == "step.failed":
            report.steps.append(
                {
                    "id": entry["step"],
                    "type": data.get("type", ""),
                    "status": "failed",
                    "summary": data.get("error", ""),
                    "seconds": 0,
                }
            )
            key = (f"step {entry['step']}", f"failed: {data.get('error', '')}")
            if key not in seen_gaps:
                seen_gaps.add(key)
                report.gaps.append({"path": key[0], "reason": key[1]})
        elif entry["kind"] == "step.planned":
            for note in data.get("notes", []):
                if note not in report.notes:
                    report.notes.append(str(note))
        elif entry["kind"] == "action.done":
            action = data.get("action", {})
            report.timeline.append(
                {
                    "time": entry["ts"],
                    "who": "irkit",
                    "what": f"{action.get('kind')} {action.get('target')}",
                    "detail": action.get("detail", ""),
                }
            )
    findings_doc = case.read_json("findings.json") or {}
    report.findings = sorted(
        findings_doc.get("findings", []),
        key=lambda f: (SEVERITY_ORDER.get(f.get("severity", "low"), 9), f.get("first_seen", "")),
    )
    # The containment step's view of the chain is the fuller one: every round, and what was done.
    report.chain = chain_from_containment or findings_doc.get("chain", [])
    for f in report.findings:
        report.timeline.append(
            {
                "time": f.get("first_seen", ""),
                "who": f.get("principal", ""),
                "what": f"[{f.get('severity')}] {f.get('title')}",
                "detail": f.get("detail", ""),
            }
        )
    report.timeline.sort(key=lambda row: _sortable(row["time"]))
    report.evidence = _evidence(case)
    return report


def _evidence(case: Case) -> dict[str, Any]:
    manifest_path = case.evidence_dir / "manifest.json"
    doc = case.read_json("evidence/manifest.json")
    if not doc:
        return {"files": 0, "bytes": 0, "objects": [], "manifest_sha256": None}
    objects = doc.get("objects", [])
    return {
        "files": len(objects),
        "bytes": sum(int(o.get("size", 0)) for o in objects),
        "objects": [
            {"key": o["key"], "sha256": o.get("sha256", ""), "version_id": o.get("version_id")} for o in objects
        ],
        "manifest": str(manifest_path.relative_to(case.root)),
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        "engine": doc.get("engine", "s3"),
    }


def severity_summary(findings: list[dict[str, Any]]) -> str:
    """``3 critical, 1 high`` (most severe first); empty when there is no finding."""
    counts = Counter(str(f.get("severity")) for f in findings)
    return ", ".join(f"{counts[s]} {s}" for s in SEVERITY_ORDER if counts[s])


def _seconds_between(a: str, b: str) -> float:
    return round((parse_time(b) - parse_time(a)).total_seconds(), 3)


def _sortable(ts: str) -> str:
    try:
        return parse_time(ts).isoformat()
    except ValueError:
        return ts
