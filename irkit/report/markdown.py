"""Render a :class:`Report` as the markdown a responder pastes into the incident channel."""

from __future__ import annotations

import re
from typing import Any

from tabulate import tabulate

from irkit.redact import redact_text
from irkit.report.build import Report, severity_summary

MAX_EVIDENCE_ROWS = 200
_RECOVERED_COLUMNS = ("key", "authentic_version", "authentic_written", "tampered_version", "tampered_written")
_ARN = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:(\S+)")


def _table(rows: list[list[Any]], headers: list[str]) -> str:
    cleaned = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    return tabulate(cleaned, headers=headers, tablefmt="github")


def _mermaid(timeline: list[dict[str, str]]) -> list[str]:
    """A mermaid timeline: renders as a picture on GitHub and GitLab, reads as text elsewhere."""
    out = ["```mermaid", "timeline", "    title Incident timeline (UTC)"]
    for row in timeline[:60]:
        stamp = row["time"][11:19] or row["time"]
        # ARNs shortened to their resource part; mermaid reads ':' and '#' as syntax.
        text = _ARN.sub(r"\1", f"{row['who'].rsplit('/', 1)[-1]} {row['what']}")
        what = re.sub(r"[:#;]", " ", text)
        out.append(f"    {stamp} : {what[:100]}")
    out.append("```")
    return out


def _integrity_summary(integrity: dict[str, Any]) -> list[str]:
    recovered = integrity.get("recovered") or []
    if not recovered:
        return []
    keys = ", ".join(f"`{str(r.get('key')).rsplit('/', 1)[-1]}`" for r in recovered)
    return [f"- **Rewritten logs recovered**: {len(recovered)} ({keys}): the authentic versions were analysed"]


def _recovered(integrity: dict[str, Any]) -> list[str]:
    """Rewritten logs: which version was analysed, which is the attacker's, where each is kept."""
    recovered = integrity.get("recovered") or []
    unrecovered = integrity.get("unrecovered") or []
    if not recovered and not unrecovered:
        return []
    lines = ["#### Rewritten logs", ""]
    for r in recovered:
        lines.append(
            f"- The attacker rewrote `{r.get('key')}` at {r.get('tampered_written')} (version "
            f"`{r.get('tampered_version')}`); **irkit analysed the original**, version `{r.get('authentic_version')}` "
            f"written {r.get('authentic_written')}, which matches the digest `{r.get('digest')}`. The rewrite is kept "
            f"as evidence `{r.get('tampered_evidence')}`."
        )
    if recovered:
        lines += [
            "",
            _table(
                [[r.get(k) for k in _RECOVERED_COLUMNS] for r in recovered],
                ["log", "authentic version (analysed)", "written", "tampered version (kept)", "written"],
            ),
        ]
    for path in unrecovered:
        lines.append(
            f"- `{path}` was rewritten and **the evidence holds the rewrite**, not the version the digest vouches "
            "for: the events removed from it are not in the analysis (see the detail above and the gaps)."
        )
    lines.append("")
    return lines


def render_markdown(report: Report) -> str:
    lines: list[str] = [f"# Incident report {report.case_id}", ""]
    if report.dry_run:
        lines += ["> **DRY RUN**: nothing was changed in AWS; the actions below were planned, not applied.", ""]
    if report.containment_gaps:
        lines += [
            f"> **CONTAINMENT INCOMPLETE**: {len(report.containment_gaps)} containment gap(s); those credentials "
            "may still work. Fix them by hand now (see Coverage gaps).",
            "",
        ]
    lines += ["## Summary", ""]
    lines += [
        f"- **Agent**: `{report.agent}` ({', '.join(f'`{p}`' for p in report.principals)})",
        f"- **Window**: {report.window[0]} → {report.window[1]}",
        f"- **Runbook**: `{report.runbook}`",
        f"- **Findings**: {severity_summary(report.findings) or 'none'}",
        f"- **Containment**: {sum(1 for c in report.containment if c.get('verified'))}/{len(report.containment)}"
        " actions verified"
        + (f", time to contain {report.time_to_contain:.1f} s" if report.time_to_contain is not None else ""),
        f"- **Evidence**: {report.evidence.get('files', 0)} files, {report.evidence.get('bytes', 0)} bytes",
        f"- **Coverage gaps**: {len(report.gaps)}",
        *_integrity_summary(report.integrity),
        f"- **Journal chain**: {'intact' if report.journal_ok else 'BROKEN: the journal was altered'}",
        "",
    ]
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
                        "yes" if c.get("verified") else "NO",
                        c.get("time"),
                    ]
                    for c in report.containment
                ],
                ["principal", "credential", "action", "verified", "time"],
            )
        )
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
                        len(f.get("event_ids", [])),
                    ]
                    for f in report.findings
                ],
                ["severity", "rule", "title", "principal", "first seen", "events"],
            )
        )
        lines.append("")
        for f in report.findings:
            lines.append(f"- **{f.get('rule_id')}** — {f.get('detail') or f.get('title')}")
            if f.get("attribution"):
                lines.append(f"  - attributed by: {f['attribution']}")
            if f.get("mitre"):
                lines.append(f"  - MITRE ATT&CK: {', '.join(f['mitre'])}")
            lines.append(f"  - events: {', '.join(f.get('event_ids', [])[:10])}")
    else:
        lines.append("No finding.")
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
                        (c.get("status", "") + (f": {c['reason']}" if c.get("reason") else "")) or "found",
                    ]
                    for c in report.chain
                ],
                ["kind", "credential", "created by", "event", "event id", "time", "containment"],
            )
        )
        lines.append("")

    lines += ["## Timeline", "", "Flagged events and irkit's own actions, in UTC.", ""]
    if report.timeline:
        lines += [*_mermaid(report.timeline), ""]
        lines.append(
            _table(
                [[t["time"], t["who"], t["what"], t.get("detail", "")] for t in report.timeline],
                ["time", "who", "what", "detail"],
            )
        )
    else:
        lines.append("Nothing to show.")
    lines.append("")

    lines += ["## Evidence", ""]
    ev = report.evidence
    if ev.get("files"):
        lines.append(f"Manifest `{ev.get('manifest')}` (SHA-256 `{ev.get('manifest_sha256')}`), {ev['files']} objects.")
        lines.append("")
        rows = [[o["key"], o.get("version_id") or "", o["sha256"]] for o in ev["objects"][:MAX_EVIDENCE_ROWS]]
        lines.append(_table(rows, ["key", "version", "sha256"]))
        if len(ev["objects"]) > MAX_EVIDENCE_ROWS:
            lines.append(f"\n… {len(ev['objects']) - MAX_EVIDENCE_ROWS} more in the manifest.")
    else:
        lines.append("No CloudTrail file was collected.")
    lines.append("")
    if report.integrity:
        lines += ["### Integrity (CloudTrail digest chain)", ""]
        lines.append(str(report.integrity.get("summary", "")))
        for problem in report.integrity.get("problems", []):
            lines.append(f"- **{problem.get('kind')}** `{problem.get('path')}`: {problem.get('detail')}")
        lines.append("")
        lines += _recovered(report.integrity)

    lines += ["## Coverage gaps", ""]
    if report.gaps:
        lines.append(_table([[g["path"], g["reason"]] for g in report.gaps], ["what", "why"]))
    else:
        lines.append("None: every configured source was read and every action was attempted.")
    lines.append("")
    if report.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    return redact_text("\n".join(lines))
