"""Render a :class:`Report` as the markdown a responder pastes into the incident channel.

Every value that comes from CloudTrail, an archive key or a step output (which quotes them) goes
through :mod:`irkit.escape` where it is put into the page: prose with :func:`md_inline` (or
:func:`md_cell` in a table), identifiers as code with :func:`md_code`, timeline labels with
:func:`mermaid_label`. Only the page's own structure is markup. What the report could not list (it is
bounded, see :mod:`irkit.report.build`) is counted where the list stops.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate

from irkit.escape import md_cell, md_code, md_inline, mermaid_label
from irkit.redact import redact_text
from irkit.report.build import (
    APPLIED_UNVERIFIED,
    FAILED,
    INTERRUPTED,
    MAX_EVIDENCE_ROWS,
    VERIFIED,
    Report,
    severity_text,
)

__all__ = ["MAX_EVIDENCE_ROWS", "render_markdown"]

MAX_MERMAID = 60
MAX_BULLETS = 100
"""Findings described one by one under the table (the most severe first)."""
_RECOVERED_COLUMNS = ("key", "authentic_version", "authentic_written", "tampered_version", "tampered_written")
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:(\S+)")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T(\d{2}):(\d{2}):(\d{2})")

_VERIFIED_TEXT = {
    VERIFIED: "yes",
    FAILED: "NO: failed",
    APPLIED_UNVERIFIED: "NO: applied before the run stopped, not re-verified",
    INTERRUPTED: "UNKNOWN: interrupted, verify by hand",
}


def _s(value: Any) -> str:
    """A value's text with secrets masked before it is escaped (escaping could split a secret)."""
    return redact_text("" if value is None else str(value))


def text(value: Any, *, limit: int | None = 500) -> str:
    """Prose from a hostile source, for a markdown line."""
    return md_inline(_s(value), limit=limit)


def code(value: Any, *, limit: int | None = 300) -> str:
    """An identifier (ARN, key, id, hash) from a hostile source, as inline code."""
    return md_code(_s(value), limit=limit)


def _table(rows: Sequence[Sequence[Any]], headers: list[str], *, codes: Sequence[int] = ()) -> str:
    """A GitHub table; columns in ``codes`` are identifiers (inline code), the others prose."""
    cleaned = [
        [md_code(_s(c), limit=300, cell=True) if i in codes and c not in (None, "") else md_cell(_s(c)) for i, c in
         enumerate(row)]
        for row in rows
    ]  # fmt: skip
    return tabulate(cleaned, headers=headers, tablefmt="github", disable_numparse=True)


def _more(shown: int, total: int, what: str, where: str) -> list[str]:
    if total <= shown:
        return []
    return ["", f"… and {total - shown} more {what} ({where})."]


def _stamp(ts: str) -> str:
    # Mermaid reads ':' as the separator of a period and its events: the period is "10h05m00s".
    m = _STAMP.match(ts)
    return f"{m.group(1)}h{m.group(2)}m{m.group(3)}s" if m else "time unknown"


def _mermaid(timeline: list[dict[str, str]]) -> list[str]:
    """A mermaid timeline: renders as a picture on GitHub and GitLab, reads as text elsewhere."""
    out = ["```mermaid", "timeline", "    title Incident timeline (UTC)"]
    for row in timeline[:MAX_MERMAID]:
        # ARNs shortened to their resource part; the label keeps only what mermaid reads as text.
        who = _s(row.get("who", "")).rsplit("/", 1)[-1]
        label = mermaid_label(_ARN.sub(r"\1", f"{who} {_s(row.get('what', ''))}")) or "event"
        out.append(f"    {_stamp(str(row.get('time', '')))} : {label}")
    out.append("```")
    return out


def _integrity_summary(integrity: dict[str, Any]) -> list[str]:
    recovered = integrity.get("recovered") or []
    if not recovered:
        return []
    total = int(integrity.get("recovered_total", len(recovered)))
    keys = ", ".join(code(str(r.get("key")).rsplit("/", 1)[-1]) for r in recovered[:10])
    if total > 10:
        keys += f" and {total - 10} more"
    return [f"- **Rewritten logs recovered**: {total} ({keys}): the authentic versions were analysed"]


def _recovered(integrity: dict[str, Any]) -> list[str]:
    """Rewritten logs: which version was analysed, which is the attacker's, where each is kept."""
    recovered = integrity.get("recovered") or []
    unrecovered = integrity.get("unrecovered") or []
    if not recovered and not unrecovered:
        return []
    lines = ["#### Rewritten logs", ""]
    for r in recovered:
        lines.append(
            f"- The attacker rewrote {code(r.get('key'))} at {text(r.get('tampered_written'))} (version "
            f"{code(r.get('tampered_version'))}); **irkit analysed the original**, version "
            f"{code(r.get('authentic_version'))} written {text(r.get('authentic_written'))}, which matches the "
            f"digest {code(r.get('digest'))}. The rewrite is kept as evidence {code(r.get('tampered_evidence'))}."
        )
    lines += _more(len(recovered), int(integrity.get("recovered_total", len(recovered))), "rewritten logs",
                   "see the verify step's output in the journal")  # fmt: skip
    if recovered:
        lines += [
            "",
            _table(
                [[r.get(k) for k in _RECOVERED_COLUMNS] for r in recovered],
                ["log", "authentic version (analysed)", "written", "tampered version (kept)", "written"],
                codes=(0, 1, 3),
            ),
        ]
    for path in unrecovered:
        lines.append(
            f"- {code(path)} was rewritten and **the evidence holds the rewrite**, not the version the digest "
            "vouches for: the events removed from it are not in the analysis (see the detail above and the gaps)."
        )
    lines += _more(len(unrecovered), int(integrity.get("unrecovered_total", len(unrecovered))),
                   "rewritten logs not recovered", "see the coverage gaps")  # fmt: skip
    lines.append("")
    return lines


def _containment_summary(report: Report) -> str:
    verified = sum(1 for c in report.containment if c.get("status", VERIFIED if c.get("verified") else "") == VERIFIED)
    by_status = report.counts.get("actions_by_status")
    if isinstance(by_status, dict):
        verified = int(by_status.get(VERIFIED, verified))
    line = f"- **Containment**: {verified}/{report.total('containment')} actions verified"
    if report.time_to_contain is not None:
        line += f", time to contain {report.time_to_contain:.1f} s"
    if isinstance(by_status, dict):
        extra = [
            f"{by_status[s]} {label}"
            for s, label in (
                (INTERRUPTED, "interrupted (outcome unknown: verify by hand)"),
                (APPLIED_UNVERIFIED, "applied before the run stopped (not re-verified)"),
                (FAILED, "failed"),
            )
            if by_status.get(s)
        ]
        if extra:
            line += f"; {', '.join(extra)}"
    return line


def _counts(value: Any) -> str:
    """``{"replace": 1, "delete": 0}`` → ``replace 1``: the non-zero counts, or ``none``."""
    if not isinstance(value, dict):
        return _s(value)
    return ", ".join(f"{k} {v}" for k, v in value.items() if v) or "none"


def _revert(report: Report) -> list[str]:
    """Every change the attacker made, its undo and what a re-read found; the commits and the plans."""
    rv = report.revert
    if not rv:
        return []
    totals = report.counts.get("revert") if isinstance(report.counts.get("revert"), dict) else {}
    lines = ["## Revert", ""]
    summary = rv.get("summary")
    if isinstance(summary, dict) and summary:
        counted = ", ".join(f"{text(k)} {text(v)}" for k, v in summary.items())
        lines += [f"Changes by status (as re-read): {counted}", ""]
    changes = [c for c in rv.get("changes") or [] if isinstance(c, dict)]
    if changes:
        rows = [
            [
                c.get("event_name"),
                c.get("resource"),
                c.get("event_time"),
                c.get("path"),
                "; ".join(str(u) for u in c.get("undo") or []) or c.get("planned", ""),
                c.get("reversibility"),
                ("verified: " if c.get("verified") else "NOT verified: ") + str(c.get("status", "unknown")),
                c.get("verification", ""),
            ]
            for c in changes
        ]
        lines.append(
            _table(rows, ["change", "resource", "time", "path", "undo", "reversibility", "status", "re-read"],
                   codes=(1,))
        )
        lines += _more(len(changes), int((totals or {}).get("changes", len(changes))), "changes",
                       "see the revert step's output in the journal")  # fmt: skip
        lines.append("")
    commits = [c for c in rv.get("commits") or [] if isinstance(c, dict)]
    if commits:
        git = rv.get("git") if isinstance(rv.get("git"), dict) else {}
        lines += [f"The agent's commits, reverted on {code((git or {}).get('branch', ''))}:", ""]
        lines.append(
            _table(
                [
                    [c.get("sha", "")[:12] if isinstance(c.get("sha"), str) else c.get("sha"), c.get("summary"),
                     c.get("author"), c.get("committer"), "yes" if c.get("pipeline") else "", c.get("status"),
                     ", ".join(str(p) for p in c.get("conflicts") or [])]
                    for c in commits
                ],
                ["commit", "summary", "author", "committer", "touches the pipeline", "status", "conflicts"],
                codes=(0,),
            )
        )
        lines.append("")
    plans = [t for t in rv.get("terraform") or [] if isinstance(t, dict)]
    if plans:
        lines.append(
            _table(
                [[t.get("dir"), t.get("sha256"), _counts(t.get("counts")), t.get("status"),
                  "yes" if t.get("converged") else "NO", t.get("message", "")] for t in plans],
                ["terraform root", "plan SHA-256", "changes", "status", "converged", "message"],
                codes=(0, 1),
            )
        )
        lines.append("")
    unknown = [u for u in rv.get("unknown") or [] if isinstance(u, dict)]
    if unknown:
        lines += ["Changes irkit has no undo for (review by hand):", ""]
        lines += [
            f"- {text(u.get('event_name'))} on {code(u.get('resource') or u.get('key') or '?')} (event "
            f"{code(u.get('event_id', '?'))})"
            + (f"; terraform restores it ({code(u['managed_by'])})" if u.get("managed_by") else "")
            for u in unknown
        ]
        lines.append("")
    return lines
def _no_findings(report: Report) -> str:
    return "none" if report.analysed else "**not analysed** (no CloudTrail event was read)"


def render_markdown(report: Report) -> str:
    lines: list[str] = [f"# Incident report {text(report.case_id)}", ""]
    if report.dry_run:
        lines += ["> **DRY RUN**: nothing was changed in AWS; the actions below were planned, not applied.", ""]
    if report.containment_gaps:
        lines += [
            f"> **CONTAINMENT INCOMPLETE**: {report.total('containment_gaps')} containment gap(s); those "
            "credentials may still work. Fix them by hand now (see Coverage gaps).",
            "",
        ]
    findings_total = report.total("findings")
    lines += ["## Summary", ""]
    lines += [
        f"- **Agent**: {code(report.agent)} ({', '.join(code(p) for p in report.principals)})",
        f"- **Window**: {text(report.window[0])} → {text(report.window[1])}",
        f"- **Runbook**: {code(report.runbook)}",
        f"- **Findings**: {severity_text(report.findings_by_severity) or _no_findings(report)}",
        _containment_summary(report),
        f"- **Evidence**: {report.evidence.get('files', 0)} files, {report.evidence.get('bytes', 0)} bytes",
        f"- **Coverage gaps**: {report.total('gaps')}",
        *_integrity_summary(report.integrity),
        f"- **Journal chain**: {'intact' if report.journal_ok else 'BROKEN: the journal was altered'}",
    ]
    failed = report.failed_steps
    if failed:
        named = "; ".join(f"{code(s['id'])} {s['status']}: {text(s['summary'], limit=200)}" for s in failed)
        lines.append(f"- **Failed steps**: {named}")
    lines.append("")
    if report.steps:
        lines += [
            "### Steps",
            "",
            _table([[s["id"], s["status"], s["summary"]] for s in report.steps], ["step", "status", "summary"]),
            "",
        ]

    lines += ["## Containment actions", ""]
    if report.containment:
        lines.append(
            _table(
                [
                    [
                        c.get("principal"),
                        c.get("credential"),
                        c.get("action"),
                        _VERIFIED_TEXT.get(str(c.get("status")), "yes" if c.get("verified") else "NO")
                        + (f" ({c['error']})" if c.get("error") else ""),
                        c.get("time"),
                    ]
                    for c in report.containment
                ],
                ["principal", "credential", "action", "verified", "time"],
                codes=(0, 1),
            )
        )
        lines += _more(len(report.containment), report.total("containment"), "actions", "see the journal")
    else:
        lines.append("No containment action was applied." + (" (dry run)" if report.dry_run else ""))
    lines.append("")

    lines += ["## Findings", ""]
    if report.findings:
        lines.append(
            _table(
                [
                    [
                        f.get("severity"),
                        f.get("rule_id"),
                        f.get("title"),
                        f.get("principal"),
                        f.get("first_seen"),
                        f.get("events", len(f.get("event_ids", []))),
                    ]
                    for f in report.findings
                ],
                ["severity", "rule", "title", "principal", "first seen", "events"],
                codes=(3,),
            )
        )
        lines += _more(len(report.findings), findings_total, "findings", "all of them are in findings.json")
        lines.append("")
        for f in report.findings[:MAX_BULLETS]:
            lines.append(f"- **{text(f.get('rule_id'))}** — {text(f.get('detail') or f.get('title'))}")
            if f.get("attribution"):
                lines.append(f"  - attributed by: {text(f['attribution'])}")
            if f.get("mitre"):
                lines.append(f"  - MITRE ATT&CK: {', '.join(text(m, limit=40) for m in f['mitre'][:10])}")
            ids = [str(i) for i in f.get("event_ids", [])][:10]
            more = int(f.get("events", len(ids))) - len(ids)
            lines.append(f"  - events: {', '.join(code(i, limit=100) for i in ids)}" + (f" and {more} more" if more > 0
                                                                                         else ""))  # fmt: skip
        lines += _more(min(len(report.findings), MAX_BULLETS), findings_total, "findings not described here",
                       "see the table above and findings.json")  # fmt: skip
    elif report.analysed:
        lines.append("No finding.")
    else:
        lines.append(
            "**Not analysed**: detection read no CloudTrail event, so the absence of findings says nothing "
            "(see Coverage gaps)."
        )
    lines.append("")

    if report.chain:
        lines += [
            "## Credential chain",
            "",
            "What the agent's credentials created or handed out, each with the event that proves it.",
            "",
        ]
        lines.append(
            _table(
                [
                    [
                        c.get("kind"),
                        c.get("identifier"),
                        c.get("parent"),
                        c.get("event_name"),
                        c.get("event_id"),
                        c.get("event_time"),
                        (str(c.get("status", "")) + (f": {c['reason']}" if c.get("reason") else "")) or "found",
                    ]
                    for c in report.chain
                ],
                ["kind", "credential", "created by", "event", "event id", "time", "containment"],
                codes=(1, 2, 4),
            )
        )
        lines += _more(len(report.chain), report.total("chain"), "chain links", "see the contain_chain step's output")
        lines.append("")

    lines += _revert(report)

    lines += ["## Timeline", "", "Flagged events and irkit's own actions, in UTC.", ""]
    if report.timeline:
        lines += [*_mermaid(report.timeline), ""]
        lines.append(
            _table(
                [[t.get("time"), t.get("who"), t.get("what"), t.get("detail", "")] for t in report.timeline],
                ["time", "who", "what", "detail"],
                codes=(1,),
            )
        )
        lines += _more(len(report.timeline), report.total("timeline"), "timeline entries",
                       "the journal and findings.json hold them all")  # fmt: skip
    else:
        lines.append("Nothing to show.")
    lines.append("")

    lines += ["## Evidence", ""]
    ev = report.evidence
    if ev.get("files"):
        lines.append(
            f"Manifest {code(ev.get('manifest'))} (SHA-256 {code(ev.get('manifest_sha256'))}), {ev['files']} objects."
        )
        lines.append("")
        rows = [[o.get("key"), o.get("version_id") or "", o.get("sha256")] for o in ev["objects"][:MAX_EVIDENCE_ROWS]]
        lines.append(_table(rows, ["key", "version", "sha256"], codes=(0, 1, 2)))
        lines += _more(min(len(ev["objects"]), MAX_EVIDENCE_ROWS), int(ev["files"]), "objects", "in the manifest")
    else:
        lines.append("No CloudTrail file was collected.")
    lines.append("")
    if report.integrity:
        lines += ["### Integrity (CloudTrail digest chain)", ""]
        lines.append(text(report.integrity.get("summary", ""), limit=1000))
        problems = report.integrity.get("problems") or []
        for problem in problems:
            lines.append(
                f"- **{text(problem.get('kind'))}** {code(problem.get('path'))}: {text(problem.get('detail'))}"
            )
        lines += _more(len(problems), int(report.integrity.get("problems_total", len(problems))), "problems",
                       "see the coverage gaps")  # fmt: skip
        lines.append("")
        lines += _recovered(report.integrity)

    lines += ["## Coverage gaps", ""]
    if report.gaps:
        # Folded: beyond a few of each kind, one "… and N more like …" row counts the rest.
        lines.append(_table([[g["path"], g["reason"]] for g in report.gaps], ["what", "why"], codes=(0,)))
    else:
        lines.append("None: every configured source was read and every action was attempted.")
    lines.append("")
    if report.notes:
        lines += ["## Notes", ""] + [f"- {text(n)}" for n in report.notes]
        lines += _more(len(report.notes), report.total("notes"), "notes", "see the journal")
        lines.append("")
    return redact_text("\n".join(lines))
