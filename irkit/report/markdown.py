"""Render report.json (the dict :meth:`Report.to_json` returns) as the markdown a responder pastes
into the incident channel. Only the dict is read: ``irkit report CASE`` renders the same page from the
report.json it just rebuilt.

Every value that comes from CloudTrail, an archive key or a step output (which quotes them) goes
through :mod:`irkit.escape` where it is put into the page: prose with :func:`md_inline` (or
:func:`md_cell` in a table), identifiers as code with :func:`md_code`, mermaid labels with
:func:`mermaid_text`. Only the page's own structure is markup; mermaid periods and sections are the
report's own words and times, never attacker text. Every list is bounded; what is not listed is counted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from tabulate import tabulate

from irkit.escape import md_cell, md_code, md_inline, mermaid_text
from irkit.redact import redact_text
from irkit.report.build import APPLIED_UNVERIFIED, FAILED, INTERRUPTED, SEVERITY_ORDER, VERIFIED, Report
from irkit.report.events import SESSION_IPS_COUNTED
from irkit.report.times import duration, parse, utc

__all__ = ["render_markdown"]

MAX_TIMELINE_ROWS = 40
"""Attacker events listed one by one in the markdown timeline; the rest are counted by API and region."""
MAX_IRKIT_ROWS = 40
MAX_ROW_RESOURCES = 8
"""Resource ids named in a findings row (report.json holds up to 50 a group, and the total)."""
MAX_GROUP_ROWS = 40
MAX_GROUP_DETAILS = 15
MAX_CONTAINMENT_ROWS = 60
MAX_CHAIN_ROWS = 40
MAX_SESSION_ROWS = 20
MAX_TAIL_ROWS = 15
MAX_ATTACK_PERIODS = 6
MAX_PERIOD_EVENTS = 4
_BUCKETS = (1, 5, 10, 15, 30, 60, 120, 240, 720, 1440)
MAX_ALIGNED = 160
"""Tables up to this width keep tabulate's alignment; wider ones are written without padding."""
_PADDING = re.compile(r"(?<=[^ ]) {2,}\|")
_SEPARATOR = re.compile(r"-{4,}")
_RECOVERED_COLUMNS = ("key", "authentic_version", "authentic_written", "tampered_version", "tampered_written")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:(.+)$")

_VERIFIED_TEXT = {
    VERIFIED: "yes",
    FAILED: "NO: failed",
    APPLIED_UNVERIFIED: "NO: applied before the run stopped, not re-verified",
    INTERRUPTED: "UNKNOWN: interrupted, verify by hand",
}


class Doc(dict[str, Any]):
    """report.json with the few lookups the renderer needs (totals of cut lists)."""

    @property
    def counts(self) -> dict[str, Any]:
        value = self.get("counts")
        return value if isinstance(value, dict) else {}

    def total(self, name: str) -> int:
        value = self.counts.get(name)
        return int(value) if isinstance(value, int) else len(self.get(name) or ())

    def rows(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.get(name) or [] if isinstance(r, dict)]


def _s(value: Any) -> str:
    """A value's text with secrets masked before it is escaped (escaping could split a secret)."""
    return redact_text("" if value is None else str(value))


_PROSE_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})(?![\w:])")


def one_time_format(value: str) -> str:
    """Times quoted in prose (a step's note: ``2026-12-01 19:36Z``) in the report's one format."""
    return _PROSE_TIME.sub(lambda m: utc(m.group(0).replace(" ", "T")), value)


def text(value: Any, *, limit: int | None = 500) -> str:
    """Prose from a hostile source, for a markdown line (its times in the report's one format)."""
    return md_inline(one_time_format(_s(value)), limit=limit)


def code(value: Any, *, limit: int | None = 300) -> str:
    """An identifier (ARN, key, id, hash) from a hostile source, as inline code."""
    return md_code(_s(value), limit=limit)


def short(arn: Any) -> str:
    """``user/agent-infra-bot`` for ``arn:aws:iam::123456789012:user/agent-infra-bot``."""
    s = _s(arn)
    m = _ARN.match(s)
    return m.group(1) if m else s


def _table(
    rows: Sequence[Sequence[Any]],
    headers: list[str],
    *,
    codes: Sequence[int] = (),
    limit: int = 300,
    limits: Mapping[int, int] | None = None,
) -> str:
    """A GitHub table; columns in ``codes`` are identifiers (inline code), the others prose; each
    cell cut at ``limit`` characters (``limits``: per column)."""

    def cell(i: int, c: Any) -> str:
        cut = (limits or {}).get(i, limit)
        if i in codes and c not in (None, ""):
            return md_code(_s(c), limit=cut, cell=True)
        return md_cell(one_time_format(_s(c)), limit=cut)

    cleaned = [[cell(i, c) for i, c in enumerate(row)] for row in rows]
    table = tabulate(cleaned, headers=headers, tablefmt="github", disable_numparse=True)
    if max(len(line) for line in table.splitlines()) <= MAX_ALIGNED:
        return table
    # A wide table is not read aligned in a terminal anyway: drop the padding (a cell never holds two
    # spaces in a row, md_inline folds them), so one long value does not pad every other row.
    return "\n".join(_SEPARATOR.sub("---", _PADDING.sub(" |", line)) for line in table.splitlines())


def _more(shown: int, total: int, what: str, where: str) -> list[str]:
    if total <= shown:
        return []
    return ["", f"… and {total - shown} more {what} ({where})."]


def _seconds(value: Any) -> str:
    return duration(value) if value is not None else "unknown"


def _integrity_summary(integrity: Mapping[str, Any]) -> list[str]:
    recovered = integrity.get("recovered") or []
    if not recovered:
        return []
    total = int(integrity.get("recovered_total", len(recovered)))
    keys = ", ".join(code(str(r.get("key")).rsplit("/", 1)[-1]) for r in recovered[:10])
    if total > 10:
        keys += f" and {total - 10} more"
    return [f"- **Rewritten logs recovered**: {total} ({keys}): the authentic versions were analysed"]


def _recovered(integrity: Mapping[str, Any]) -> list[str]:
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


def _counts(value: Any) -> str:
    """``{"replace": 1, "delete": 0}`` → ``replace 1``: the non-zero counts, or ``none``."""
    if not isinstance(value, dict):
        return _s(value)
    return ", ".join(f"{k} {v}" for k, v in value.items() if v) or "none"


def _revert(doc: Doc) -> list[str]:
    """Every change the attacker made, its undo and what a re-read found; the commits and the plans."""
    rv = doc.get("revert") or {}
    lines = ["## Revert", ""]
    if not rv:
        return [*lines, "The revert stage did not run in this case (or has not finished): nothing was undone.", ""]
    totals = doc.counts.get("revert") if isinstance(doc.counts.get("revert"), dict) else {}
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
            _table(
                rows, ["change", "resource", "time", "path", "undo", "reversibility", "status", "re-read"], codes=(1,)
            )
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
                    [
                        c.get("sha", "")[:12] if isinstance(c.get("sha"), str) else c.get("sha"),
                        c.get("summary"),
                        c.get("author"),
                        c.get("committer"),
                        "yes" if c.get("pipeline") else "",
                        c.get("status"),
                        ", ".join(str(p) for p in c.get("conflicts") or []),
                    ]
                    for c in commits
                ],
                ["commit", "summary", "author", "committer", "touches the pipeline", "status", "conflicts"],
                codes=(0,),
            )
        )
        lines += _more(len(commits), _int((totals or {}).get("commits"), len(commits)), "commits", "the journal")
        lines.append("")
    plans = [t for t in rv.get("terraform") or [] if isinstance(t, dict)]
    if plans:
        lines.append(
            _table(
                [
                    [
                        t.get("dir"),
                        t.get("sha256"),
                        _counts(t.get("counts")),
                        t.get("status"),
                        "yes" if t.get("converged") else "NO",
                        t.get("message", ""),
                    ]
                    for t in plans
                ],
                ["terraform root", "plan SHA-256", "changes", "status", "converged", "message"],
                codes=(0, 1),
            )
        )
        lines += _more(len(plans), _int((totals or {}).get("terraform"), len(plans)), "terraform roots", "the journal")
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
        # cut in the plan (50) and in report.json (200): the plan says how many there were
        total = max(len(unknown), _int((totals or {}).get("unknown"), 0), _int(rv.get("unknown_total"), 0))
        lines += _more(len(unknown), total, "changes without an undo", "findings.json's inventory lists every change")
        lines.append("")
    return lines


# -- mermaid -------------------------------------------------------------------------------------


def _period(ts: str, *, with_date: bool) -> str:
    """A period label: the report's own clock text, never ``:`` or ``#`` (mermaid's separators)."""
    t = parse(ts)
    if t is None:
        return "time unknown"
    return t.strftime("%m-%d %Hh%M") if with_date else t.strftime("%Hh%M")


def _bucket_minutes(times: list[Any]) -> int:
    for minutes in _BUCKETS:
        if len({int(t.timestamp()) // (minutes * 60) for t in times}) <= MAX_ATTACK_PERIODS:
            return minutes
    return _BUCKETS[-1]


def _attack_periods(rows: list[dict[str, Any]], *, with_date: bool) -> list[tuple[str, list[str]]]:
    timed = [(parse(r.get("time")), r) for r in rows]
    events = [(t, r) for t, r in timed if t is not None]
    if not events:
        return []
    minutes = _bucket_minutes([t for t, _ in events])
    buckets: dict[int, list[dict[str, Any]]] = {}
    starts: dict[int, Any] = {}
    for t, r in events:
        key = int(t.timestamp()) // (minutes * 60)
        buckets.setdefault(key, []).append(r)
        starts.setdefault(key, t)
    keys = sorted(buckets)
    if len(keys) > MAX_ATTACK_PERIODS:  # a span of weeks: the last period holds the rest
        for k in keys[MAX_ATTACK_PERIODS - 1 :]:
            if k != keys[MAX_ATTACK_PERIODS - 1]:
                buckets[keys[MAX_ATTACK_PERIODS - 1]].extend(buckets.pop(k))
        keys = keys[:MAX_ATTACK_PERIODS]
    out: list[tuple[str, list[str]]] = []
    for k in keys:
        calls = Counter(str(r.get("what")) for r in buckets[k])
        target = {str(r.get("what")): str(r.get("target") or "") for r in buckets[k]}
        labels = []
        for api, n in calls.most_common(MAX_PERIOD_EVENTS):
            first_target = short(target[api]).split(",")[0].rsplit("/", 1)[-1]
            also = " and more" if "," in target[api] else ""
            one = f" {first_target}{also}" if n == 1 and target[api] else f" x{n}" if n > 1 else ""
            labels.append(mermaid_text(_wrap(f"{api}{one}"), limit=56))
        rest = sum(calls.values()) - sum(n for _, n in calls.most_common(MAX_PERIOD_EVENTS))
        if rest:
            labels.append(mermaid_text(f"+{rest} more calls"))
        out.append((_period(starts[k].isoformat(), with_date=with_date) + " UTC", labels))
    return out


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[-_/])(?=[a-z]{4})")
MAX_WORD = 18
"""Mermaid wraps a label at spaces only and a timeline box is ~18 characters wide: longer words are
split where a reader expects it (``AuthorizeSecurity GroupIngress``); the table below has them whole."""


def _wrap(label: str) -> str:
    words = []
    for word in label.split(" "):
        line = ""
        for part in _CAMEL.split(word) if len(word) > MAX_WORD else [word]:
            if line and len(line) + len(part) > MAX_WORD:
                words.append(line)
                line = ""
            line += part
        words.append(line)
    return " ".join(w for w in words if w)


def _mermaid(doc: Doc) -> list[str]:
    """A mermaid timeline by phase, at most ~12 periods, several events a period."""
    rows = doc.rows("timeline")
    attack = [r for r in rows if r.get("phase") == "attack" and not str(r.get("what", "")).startswith("session ")]
    lines = ["```mermaid", "timeline", "    title Incident timeline (UTC)"]
    shown = [r for r in rows if r.get("phase") != "attack"] + attack
    with_date = len({utc(r.get("time"))[:10] for r in shown}) > 1
    attack_periods = _attack_periods(attack, with_date=with_date)
    if attack_periods:
        lines.append("    section Attack")
        for period, labels in attack_periods:
            lines.append(f"        {period} : {' : '.join(labels)}")
    for phase, title in (("detection", "Detection"), ("containment", "Containment"), ("revert", "Revert")):
        mine = [r for r in rows if r.get("phase") == phase]
        if not mine:
            continue
        acted = [r for r in mine if r.get("action")]
        said = [r for r in mine if not r.get("action")]
        labels = [mermaid_text(f"{r.get('what')}", limit=48) for r in said[-(MAX_PERIOD_EVENTS - 1) :]]
        if acted:
            kinds = Counter(str(r.get("what")) for r in acted)
            labels.insert(0, mermaid_text(f"{len(acted)} irkit actions ({kinds.most_common(1)[0][0]} ...)", limit=48))
        lines.append(f"    section {title}")
        lines.append(f"        {_period(str(mine[0].get('time')), with_date=with_date)} UTC : {' : '.join(labels)}")
    lines.append("```")
    return lines if len(lines) > 4 else []


# -- sections ------------------------------------------------------------------------------------


def _summary(doc: Doc) -> list[str]:
    sm = doc.get("summary") or {}
    metrics = doc.get("metrics") or {}
    lines = ["## Summary", "", f"**{text(sm.get('verdict', ''), limit=1000)}**", ""]
    principals = [str(p) for p in sm.get("principals") or []]
    more = int(sm.get("principals_total") or 0) - len(principals)
    lines.append(
        "- **Who**: "
        + (", ".join(code(p) for p in principals) + (f" and {more} more" if more > 0 else "") or "nobody")
        + f" (agent {code(doc.get('agent'))})"
    )
    first, last = sm.get("first_event"), sm.get("last_event")
    lines.append(
        f"- **When**: first malicious event {utc(first) if first else 'unknown'}, "
        f"last {utc(last) if last else 'unknown'}"
        f" (window {utc((doc.get('window') or ['', ''])[0])} to {utc((doc.get('window') or ['', ''])[1])})"
    )

    def ranked(key: str) -> str:
        rows = [r for r in sm.get(key) or [] if isinstance(r, dict)]
        shown = ", ".join(f"{code(r.get('value'), limit=80)} ({r.get('count')})" for r in rows)
        hidden = _int(sm.get(f"{key}_total"), 0) - len(rows)
        capped = "+" if sm.get(f"{key}_capped") is True else ""  # the count stopped at its bound
        return (shown + (f" and {hidden}{capped} more" if hidden > 0 else "")) or "unknown"

    lines.append(f"- **From where**: {ranked('source_ips')}")
    lines.append(f"- **User agents**: {ranked('user_agents')}")
    changed = sm.get("changed") or {}
    listed = changed.get("by_service") or {}
    services = ", ".join(f"{text(k)} {v}" for k, v in listed.items())
    more_services = _int(changed.get("services"), 0) - len(listed)  # the 20 busiest listed
    if more_services > 0:
        services += f" and {more_services} more services"
    lines.append(
        f"- **Changed**: {_int(changed.get('resources'), 0)} resource(s)" + (f" ({services})" if services else "")
    )
    contained = sm.get("contained") or {}
    state = "complete, verified" if contained.get("complete") else "NOT complete"
    if not contained.get("actions"):
        lines.append("- **Contained**: nothing: no containment action was applied in this case")
    else:
        lines.append(
            f"- **Contained**: {contained.get('verified', 0)}/{contained.get('actions', 0)} actions verified ({state})"
        )
    reverted = sm.get("reverted")
    if isinstance(reverted, dict):
        lines.append(
            f"- **Reverted**: {reverted.get('undone', 0)}/{reverted.get('changes', 0)} changes undone and verified"
            f" ({reverted.get('present', 0)} still present, {reverted.get('lost', 0)} lost, "
            f"{reverted.get('unknown', 0)} unknown)"
        )
    else:
        lines.append("- **Reverted**: nothing (the revert stage did not run or has not finished)")
    lines.append(f"- **Remains**: {sm.get('remains', 0)} item(s) for a human, see Next steps")
    lines.append(f"- **Coverage gaps**: {doc.total('gaps')}")
    lines += _integrity_summary(doc.get("integrity") or {})
    lines.append(
        f"- **Journal chain**: {'intact' if doc.get('journal_ok', True) else 'BROKEN: the journal was altered'}"
    )
    failed = _failed_steps(doc)
    if failed:
        named = "; ".join(f"{code(s.get('id'))} {s.get('status')}: {text(s.get('summary'), limit=200)}" for s in failed)
        lines.append(f"- **Failed steps**: {named}")
    lines += [
        "",
        _table(
            [
                ["time to detect", _seconds(metrics.get("time_to_detect")), "first malicious event → detection"],
                ["time to contain", _seconds(metrics.get("time_to_contain")), "irkit run start → containment verified"],
                ["time to revert", _seconds(metrics.get("time_to_revert")), "irkit run start → every change undone"],
                ["dwell time", _seconds(metrics.get("dwell_time")), "first malicious event → containment verified"],
            ],
            ["metric", "value", "measured"],
        ),
        "",
    ]
    return lines


def _failed_steps(doc: Doc) -> list[dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for step in doc.rows("steps"):
        last[str(step.get("id"))] = step
    return [s for s in last.values() if s.get("status") in {"failed", "interrupted"}]


def _next_steps(doc: Doc) -> list[str]:
    lines = ["## Next steps", ""]
    items = doc.rows("next_steps")
    if not items:
        return [*lines, "Nothing left for a human that irkit knows of: review the findings below.", ""]
    rows = [[i + 1, it.get("kind"), it.get("text"), it.get("resource"), it.get("reversibility")] for i, it in
            enumerate(items)]  # fmt: skip
    lines.append(_table(rows, ["#", "do", "what", "resource", "reversibility"], codes=(3,), limit=400))
    omitted = doc.get("next_steps_omitted")
    if isinstance(omitted, Mapping) and omitted:
        counted = [(str(kind), n) for kind, n in omitted.items() if _int(n, 0) > 0]
        kinds = ", ".join(f"{md_inline(_s(kind))} {n}" for kind, n in sorted(counted))
        total = sum(n for _, n in counted)
        if total:
            lines += ["", f"… and {total} more item(s) not listed ({kinds}): each kind's first ones are above; "
                      "findings.json (inventory) and plans/ hold the rest."]  # fmt: skip
    return [*lines, ""]


def _session_ips(session: Mapping[str, Any]) -> str:
    """A session's busiest source addresses, and how many more it used ("15+ more" at the bound)."""
    ips = [str(i) for i in session.get("source_ips") or []]
    total = _int(session.get("source_ips_total"), len(ips))
    if total <= len(ips):
        return ", ".join(ips)
    capped = "+" if total >= SESSION_IPS_COUNTED else ""
    return ", ".join(ips) + f" and {total - len(ips)}{capped} more"


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _containment(doc: Doc) -> list[str]:
    lines = ["## Containment", ""]
    rows = doc.rows("containment")
    by_status = doc.counts.get("actions_by_status") or {}
    if rows:
        lines += [
            f"{int(by_status.get(VERIFIED, 0))}/{doc.total('containment')} actions verified by re-reading IAM.",
            "",
            _table(
                [
                    [
                        short(c.get("principal")),
                        c.get("credential"),
                        c.get("action"),
                        _VERIFIED_TEXT.get(str(c.get("status")), "yes" if c.get("verified") else "NO")
                        + (f" ({c['error']})" if c.get("error") else ""),
                        utc(c.get("time")),
                    ]
                    for c in rows[:MAX_CONTAINMENT_ROWS]
                ],
                ["principal", "credential", "action", "verified", "time"],
                codes=(0, 1),
            ),
        ]
        lines += _more(min(len(rows), MAX_CONTAINMENT_ROWS), doc.total("containment"), "actions", "see report.json")
    else:
        lines.append("No containment action was applied." + (" (dry run)" if doc.get("dry_run") else ""))
    lines.append("")
    chain = doc.rows("chain")
    if chain:
        lines += ["### Credential chain", "", "What the agent's credentials created or handed out.", ""]
        lines.append(
            _table(
                [
                    [c.get("kind"), c.get("identifier"), short(c.get("parent")), c.get("event_name"),
                     utc(c.get("event_time")),
                     (str(c.get("status", "")) + (f": {c['reason']}" if c.get("reason") else "")) or "found"]
                    for c in chain[:MAX_CHAIN_ROWS]
                ],
                ["kind", "credential", "created by", "event", "time", "containment"],
                codes=(1, 2),
            )
        )  # fmt: skip
        lines += _more(min(len(chain), MAX_CHAIN_ROWS), doc.total("chain"), "chain links", "see report.json")
        lines.append("")
    return lines


def _findings(doc: Doc) -> list[str]:
    lines = ["## Findings", ""]
    groups = doc.rows("finding_groups")
    total = doc.total("findings")
    if not groups:
        analysed = bool(doc.counts.get("events_analysed"))
        return [*lines, "No finding." if analysed else "**Not analysed**: detection read no CloudTrail event, so "
                "the absence of findings says nothing (see Coverage gaps).", ""]  # fmt: skip
    by_sev = doc.counts.get("findings_by_severity") or {}
    sev = ", ".join(f"{by_sev[s]} {s}" for s in SEVERITY_ORDER if by_sev.get(s))
    lines += [
        f"{total} findings ({sev}) in {doc.total('finding_groups')} groups: one row per rule, principal and burst.",
        "",
    ]
    rows = []
    for g in groups[:MAX_GROUP_ROWS]:
        named = [str(r) for r in g.get("resources") or []][:MAX_ROW_RESOURCES]
        resources = ", ".join(short(r) for r in named)
        hidden = int(g.get("resources_total") or 0) - len(named)
        rows.append(
            [
                g.get("severity"),
                g.get("rule_id"),
                ", ".join(str(m) for m in g.get("mitre") or []),
                short(g.get("principal")),
                g.get("findings"),
                g.get("events"),
                (resources + (f" and {hidden} more" if hidden > 0 else "")) or "-",
                utc(g.get("first_seen"))
                + ("" if g.get("last_seen") == g.get("first_seen") else f" to {utc(g.get('last_seen'))}"),
            ]
        )
    lines.append(
        _table(rows, ["severity", "rule", "ATT&CK", "principal", "findings", "events", "resources", "seen"], codes=(3,))
    )
    lines += _more(min(len(groups), MAX_GROUP_ROWS), doc.total("finding_groups"), "groups", "see report.json")
    lines.append("")
    for g in groups[:MAX_GROUP_DETAILS]:
        details = "; ".join(str(d) for d in g.get("details") or [])
        lines.append(
            f"- **{text(g.get('rule_id'))}** ({text(g.get('title'), limit=120)}): {text(details or '-', limit=300)}; "
            f"attributed by {text(g.get('attribution') or 'unknown', limit=120)}"
        )
    lines += _more(min(len(groups), MAX_GROUP_DETAILS), len(groups), "groups not described here", "see the table")
    lines.append("")
    return lines


def _timeline(doc: Doc) -> list[str]:
    lines = ["## Timeline", "", "The attacker's flagged calls, their sessions and irkit's own work, in UTC.", ""]
    rows = doc.rows("timeline")
    if not rows:
        return [*lines, "Nothing to show.", ""]
    lines += [*_mermaid(doc), ""]
    # Sessions are listed in their own table below (first, last call, counts), not in this one.
    attack = [r for r in rows if r.get("phase") == "attack" and r.get("event_id")]
    shown = attack[:MAX_TIMELINE_ROWS]
    irkit_rows = [r for r in rows if r.get("phase") != "attack"]
    listed = shown + irkit_rows[:MAX_IRKIT_ROWS]
    listed.sort(key=lambda r: (utc(r.get("time")), r.get("phase") != "attack"))
    lines.append(
        _table(
            [
                [utc(r.get("time")), r.get("phase"), short(r.get("who")), r.get("what"), short(r.get("target")),
                 r.get("source_ip"), r.get("user_agent"), r.get("detail")]
                for r in listed
            ],
            ["time", "phase", "who", "call", "target", "source IP", "user agent", "detail"],
            codes=(2, 3, 4, 5),
            limit=120,
            limits={6: 40, 7: 80},  # the client and the rules: whole in report.json
        )
    )  # fmt: skip
    irkit_total = max(len(irkit_rows), doc.total("timeline_irkit"))
    lines += _more(min(len(irkit_rows), MAX_IRKIT_ROWS), irkit_total, "irkit rows", "the journal")
    hidden = attack[MAX_TIMELINE_ROWS:]
    flagged_total = int(doc.counts.get("flagged_events") or 0)
    not_listed = max(0, flagged_total - sum(1 for r in shown if r.get("event_id")))
    if not_listed:
        per = Counter((str(r.get("what")), str(r.get("region"))) for r in hidden if r.get("event_id"))
        lines += ["", f"… and {not_listed} more flagged events; those in report.json by API and region:", ""]
        lines.append(_table([[a, rg, n] for (a, rg), n in per.most_common(MAX_TAIL_ROWS)], ["call", "region", "events"],
                            codes=(0,)))  # fmt: skip
    lines.append("")
    sessions = doc.rows("sessions")
    if sessions:
        lines += ["### Sessions", "", "Every session of an attributed principal: first and last call.", ""]
        lines.append(
            _table(
                [[short(s.get("principal")), short(s.get("session")), utc(s.get("first")), utc(s.get("last")),
                  s.get("calls"), s.get("flagged"), _session_ips(s)]
                 for s in sessions[:MAX_SESSION_ROWS]],
                ["principal", "session", "first", "last", "calls", "flagged", "source IPs"],
                codes=(0, 1, 6),
                limit=120,
            )
        )  # fmt: skip
        lines += _more(min(len(sessions), MAX_SESSION_ROWS), doc.total("sessions"), "sessions", "see report.json")
        lines.append("")
    act = doc.get("activity") or {}
    pairs = [r for r in act.get("by_api_region") or [] if isinstance(r, dict)]
    if pairs:
        lines += [
            "### Activity by API and region",
            "",
            f"All {act.get('calls', 0)} calls of the attributed principals, flagged or not (the long tail, counted).",
            "",
            _table([[r.get("api"), r.get("region"), r.get("count")] for r in pairs[:MAX_TAIL_ROWS]],
                   ["call", "region", "calls"], codes=(0,)),
        ]  # fmt: skip
        rest = sum(int(r.get("count") or 0) for r in pairs[MAX_TAIL_ROWS:]) + int(act.get("other_calls") or 0)
        if rest:
            lines += ["", f"… and {rest} more calls of other APIs and regions (report.json)."]
        lines.append("")
    return lines


def _evidence(doc: Doc) -> list[str]:
    lines = ["## Evidence", ""]
    ev = doc.get("evidence") or {}
    integrity = doc.get("integrity") or {}
    if ev.get("files"):
        lines.append(
            f"- **Collected**: {ev['files']} CloudTrail objects, {ev.get('bytes', 0)} bytes "
            f"({text(ev.get('engine', 's3'))}); {doc.counts.get('events_analysed', 0)} events analysed"
        )
        manifest = _s(ev.get("manifest"))
        lines.append(
            f"- **Manifest**: [{md_inline(manifest)}]({manifest}) (every object's key, version and SHA-256), "
            f"SHA-256 {code(ev.get('manifest_sha256'))}"
        )
    else:
        lines.append("- **Collected**: no CloudTrail file")
    if integrity:
        # "intact" only when a digest vouched for something; no key or no digest is "not verified".
        broken = bool(integrity.get("problems")) or int(integrity.get("problems_total") or 0) > 0
        vouched = integrity.get("ok") is True and int(integrity.get("digests_checked") or 0) > 0
        verdict = "NOT intact" if broken else "intact" if vouched else "not verified"
        lines.append(
            f"- **Integrity (CloudTrail digest chain)**: {verdict}: {text(integrity.get('summary', ''), limit=400)}"
        )
        problems = [p for p in integrity.get("problems") or [] if isinstance(p, dict)]
        for problem in problems:
            lines.append(
                f"  - **{text(problem.get('kind'))}** {code(problem.get('path'))}: {text(problem.get('detail'))}"
            )
        lines += _more(len(problems), int(integrity.get("problems_total", len(problems))), "digest problems",
                       "see the coverage gaps")  # fmt: skip
    else:
        lines.append("- **Integrity (CloudTrail digest chain)**: not verified in this run")
    lines.append("")
    lines += _recovered(integrity)
    steps = doc.rows("steps")
    if steps:
        lines += ["### Steps", "", _table([[s.get("id"), s.get("status"), s.get("summary")] for s in steps],
                                          ["step", "status", "summary"]), ""]  # fmt: skip
    notes = [str(n) for n in doc.get("notes") or []]
    if notes:
        lines += ["### Notes", "", *[f"- {text(n)}" for n in notes]]
        lines += _more(len(notes), doc.total("notes"), "notes", "see the journal")
        lines.append("")
    return lines


def _gaps(doc: Doc) -> list[str]:
    lines = ["## Coverage gaps", ""]
    gaps = doc.rows("gaps")
    if gaps:
        # Folded: beyond a few of each kind, one "… and N more like …" row counts the rest.
        lines.append(_table([[g.get("path"), g.get("reason")] for g in gaps], ["what", "why"], codes=(0,)))
    else:
        lines.append("None: every configured source was read and every action was attempted.")
    return [*lines, ""]


def render_markdown(report: Mapping[str, Any] | Report) -> str:
    """report.md from the report.json dict (a :class:`Report` is turned into that dict first)."""
    doc = Doc(report.to_json() if isinstance(report, Report) else report)
    lines: list[str] = [f"# Incident report {text(doc.get('case_id'))}", ""]
    if doc.get("dry_run"):
        lines += ["> **DRY RUN**: nothing was changed in AWS; the actions below were planned, not applied.", ""]
    if doc.get("containment_gaps"):
        lines += [
            f"> **CONTAINMENT INCOMPLETE**: {doc.total('containment_gaps')} containment gap(s); those "
            "credentials may still work. Fix them by hand now (see Next steps and Coverage gaps).",
            "",
        ]
    lines += _summary(doc)
    lines += _next_steps(doc)
    lines += _containment(doc)
    lines += _findings(doc)
    lines += _timeline(doc)
    lines += _revert(doc)
    lines += _evidence(doc)
    lines += _gaps(doc)
    return redact_text("\n".join(lines))
