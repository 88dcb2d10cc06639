"""Contain on policy: the containment runbook for the agent, once, on the first finding at or above.

The run is ``irkit contain AGENT --yes`` in its own case under ``--out``. Once is enforced by a marker
written under a lock in ``<out>/.irkit-watch/<agent>/`` (not in the state folder: two watchers with
different state folders but one case folder still contain once). The marker is written when the
case exists, whatever the run's outcome (a failed step is resumed with ``irkit resume``, never by a
second containment); a run refused before any case was made (no credentials) is tried again next pass.

After the run, the case's journal gets a ``watch.detected`` entry (what triggered it, the first event's
time, when watch detected and contained: the detection latency) and the report is rendered again so
it says so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from irkit.config import Settings
from irkit.core.case import Case
from irkit.core.lock import CaseLock, CaseLocked
from irkit.core.names import CONTAIN_STEPS, canonical_step
from irkit.detect.event import format_time
from irkit.detect.rule import Finding
from irkit.engine.run import start_run
from irkit.engine.runbook import load_runbook
from irkit.errors import IrkitError
from irkit.report.build import build_report
from irkit.report.markdown import render_markdown
from irkit.watch.state import prepare_dir, write_atomic

RUNBOOK = "agent-compromise"
CONTAIN_HOURS = 24.0
MARKER = "contained.json"


def lock_dir(out: Path, agent: str) -> Path:
    return out / ".irkit-watch" / agent


def contain_once(
    settings: Settings,
    *,
    agent: str,
    finding: Finding,
    out: Path,
    config_file: Path | None,
    now: Callable[[], datetime],
    echo: Callable[[str], None],
) -> dict[str, Any] | None:
    """Contain ``agent`` unless a watcher already did; returns the case record (None: not now)."""
    root = lock_dir(out, agent)
    prepare_dir(root)
    try:
        lock = CaseLock.acquire(root, f"irkit watch {agent} (containment)")
    except CaseLocked as exc:
        echo(f"! containment of {agent} is running in another watcher ({exc.holder.describe() if exc.holder else '?'})")
        return None
    try:
        marker = root / MARKER
        if marker.exists():
            doc = orjson.loads(marker.read_bytes())
            return dict(doc) if isinstance(doc, dict) else None
        triggered = now()
        echo(f"containing {agent}: {finding.rule_id} ({finding.severity}) at or above the containment policy")
        try:
            result = start_run(
                settings,
                agent_name=agent,
                runbook=load_runbook(RUNBOOK),
                hours=CONTAIN_HOURS,
                out=out,
                assume_yes=True,
                config_file=config_file,
                echo=echo,
                command=f"irkit watch {agent} --contain-at {settings.watch.contain_at or finding.severity}",
            )
        except IrkitError as exc:
            echo(f"✗ containment of {agent} could not start: {exc}; tried again next pass")
            return None
        case = result.case
        done = now()
        contained = _contained(case)
        record: dict[str, Any] = {
            "case_id": case.case_id,
            "case_dir": str(case.root),
            "exit_code": int(result.outcome.exit_code),
            "contained": contained,
            "report": str(case.root / "report.md"),
            "trigger": {
                "rule_id": finding.rule_id,
                "severity": finding.severity,
                "event_ids": list(finding.event_ids[:20]),
            },
            "first_event": format_time(finding.first_seen),
            "detected_at": format_time(triggered),
            "contained_at": format_time(done),
            "detection_latency_seconds": round((triggered - finding.first_seen).total_seconds(), 1),
            "containment_seconds": round((done - triggered).total_seconds(), 1),
        }
        write_atomic(marker, orjson.dumps(record, option=orjson.OPT_INDENT_2))
        _note(case.root, record, [p.arn for p in settings.agent(agent).principals], echo)
        return record
    finally:
        lock.release()


def _contained(case: Case) -> bool:
    """Contained only when the containment steps finished with no gap (re-read by the steps)."""
    last: dict[str, dict[str, Any]] = {}
    for entry in case.journal.entries():
        data = entry.get("data") or {}
        if entry["kind"] in {"step.done", "step.failed"} and canonical_step(str(data.get("type"))) in CONTAIN_STEPS:
            last[str(entry.get("step"))] = entry
    if not last or case.meta.dry_run:
        return False
    for entry in last.values():
        data = entry["data"]
        if entry["kind"] != "step.done" or data.get("gaps") or (data.get("output") or {}).get("complete") is False:
            return False
    return True


def _note(root: Path, record: dict[str, Any], principals: list[str], echo: Callable[[str], None]) -> None:
    """Journal what watch saw and render the report again with it (the report lists it in Notes)."""
    note = (
        f"opened by irkit watch: {record['trigger']['rule_id']} ({record['trigger']['severity']}), first event "
        f"{record['first_event']}, detected {record['detected_at']} (detection latency "
        f"{record['detection_latency_seconds']:.0f} s), containment finished {record['contained_at']}"
    )
    try:
        with Case.open(root, command="irkit watch (detection note)") as case:
            case.journal.append("watch.detected", notes=[note], **{k: v for k, v in record.items() if k != "report"})
            report = build_report(case, agent_principals=principals)
            (root / "report.md").write_text(render_markdown(report), encoding="utf-8")
            (root / "report.json").write_bytes(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2))
    except (IrkitError, OSError) as exc:
        echo(f"! the case report could not be given watch's detection note: {exc}")
