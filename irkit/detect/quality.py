"""Measure the detection library on the labelled set: precision and recall per rule, benign noise.

```
python -m irkit.detect.quality                      # 50k benign events, seed 7, a markdown table
python -m irkit.detect.quality --benign 1000000 --perf   # throughput over a million events
```

Definitions. An *incident* is one attack (its events and the rule ids that should fire). A rule
*detects* an incident when one of its findings contains one of the incident's events. Recall of a
rule = incidents expecting it that it detects / incidents expecting it. An incident is *raised* when
a finding at medium or above (of any rule) contains one of its events: what a responder is paged for.
A finding is a true positive when it touches an incident that expects its rule, else a false
positive; precision = TP / (TP + FP). The benign rate = benign events contained in any finding /
benign events; the benign rate at medium+ counts only findings at medium or above (the calibration
target: at most 1 %).

Two measurements: the *agent* set (only the agent's principals analysed, as ``contain`` does) and the
*account* background (every principal analysed, as ``irkit analyze`` without ``--principal`` does):
the agent's traffic plus the account's workloads reading their secrets and parameters all day.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from irkit.detect.analyzer import Analysis, Analyzer
from irkit.detect.catalog import catalog
from irkit.detect.detectors import DETECTORS
from irkit.detect.event import Event
from irkit.detect.labelled import LabelledSet, generate
from irkit.detect.rule import SEVERITIES
from irkit.detect.rules import all_rules


@dataclass(frozen=True, slots=True)
class RuleQuality:
    rule_id: str
    incidents: int
    detected: int
    findings: int
    false_positives: int
    raised: int = 0
    """Incidents expecting this rule that some finding at medium or above touches."""

    @property
    def recall(self) -> float:
        return self.detected / self.incidents if self.incidents else 1.0

    @property
    def precision(self) -> float:
        return (self.findings - self.false_positives) / self.findings if self.findings else 1.0


@dataclass(frozen=True, slots=True)
class Quality:
    rules: tuple[RuleQuality, ...]
    benign_events: int
    benign_flagged: int
    attack_events: int
    incidents: int
    seconds: float
    benign_flagged_medium: int = 0
    """Benign events inside a finding at medium or above."""
    incidents_raised: int = 0
    unraised: tuple[str, ...] = ()
    """Techniques of the successful (not attempted) incidents no finding at medium or above touches."""

    @property
    def benign_rate(self) -> float:
        return self.benign_flagged / self.benign_events if self.benign_events else 0.0

    @property
    def benign_rate_medium(self) -> float:
        return self.benign_flagged_medium / self.benign_events if self.benign_events else 0.0

    @property
    def recall(self) -> float:
        total = sum(r.incidents for r in self.rules)
        return sum(r.detected for r in self.rules) / total if total else 1.0

    @property
    def precision(self) -> float:
        total = sum(r.findings for r in self.rules)
        return sum(r.findings - r.false_positives for r in self.rules) / total if total else 1.0


def analyse(data: LabelledSet, *, account: bool = False) -> tuple[Analysis, float]:
    """Analyse the set as ``contain`` does (the agent's principals), or every principal (``account``)."""
    events = [Event.from_record(r) for r in data.records]
    analyzer = Analyzer() if account else Analyzer(principals=data.principals)
    started = time.perf_counter()
    for event in events:
        analyzer.feed(event)
    analysis = analyzer.finish()
    return analysis, time.perf_counter() - started


MEDIUM = SEVERITIES.index("medium")


def measure(data: LabelledSet, *, account: bool = False) -> Quality:
    """Quality on the agent's analysis (account-scope incidents are not the agent's: left out), or on
    the account-wide analysis with every incident."""
    analysis, seconds = analyse(data, account=account)
    incidents = [i for i in data.incidents if account or i.scope == "agent"]
    by_event: dict[str, list[int]] = defaultdict(list)
    for n, incident in enumerate(incidents):
        for eid in incident.event_ids:
            by_event[eid].append(n)
    expected: dict[str, set[int]] = defaultdict(set)
    for n, incident in enumerate(incidents):
        for rule_id in incident.expected:
            expected[rule_id].add(n)
    detected: dict[str, set[int]] = defaultdict(set)
    raised: set[int] = set()
    findings: dict[str, int] = defaultdict(int)
    false_pos: dict[str, int] = defaultdict(int)
    flagged_medium: set[str] = set()
    for finding in analysis.findings:
        findings[finding.rule_id] += 1
        touched = {n for eid in finding.event_ids for n in by_event.get(eid, ())}
        hits = {n for n in touched if finding.rule_id in incidents[n].expected}
        detected[finding.rule_id] |= hits
        if SEVERITIES.index(finding.severity) >= MEDIUM:
            raised |= touched
            flagged_medium.update(finding.event_ids)
        if not hits:
            false_pos[finding.rule_id] += 1
    rule_ids = [e["id"] for e in catalog() if e["kind"] != "baseline"]
    rules = tuple(
        RuleQuality(
            rule_id=rid,
            incidents=len(expected.get(rid, ())),
            detected=len(detected.get(rid, set()) & expected.get(rid, set())),
            findings=findings.get(rid, 0),
            false_positives=false_pos.get(rid, 0),
            raised=len(raised & expected.get(rid, set())),
        )
        for rid in rule_ids
    )
    flagged = analysis.flagged_event_ids()
    attack_events = sum(len(i.event_ids) for i in incidents)
    return Quality(
        rules=rules,
        benign_events=len(data.benign_ids),
        benign_flagged=len(flagged & data.benign_ids),
        attack_events=attack_events,
        incidents=len(incidents),
        seconds=seconds,
        benign_flagged_medium=len(flagged_medium & data.benign_ids),
        incidents_raised=len(raised),
        unraised=tuple(sorted(i.technique for n, i in enumerate(incidents) if not i.attempt and n not in raised)),
    )


@dataclass(frozen=True, slots=True)
class BaselineQuality:
    history_events: int
    benign_events: int
    benign_flagged: int
    """Benign events inside a baseline finding's sample of event ids."""
    incidents: int
    incidents_touched: int
    """Attack incidents with at least one event in a baseline finding."""
    per_rule: tuple[tuple[str, int, int], ...]
    """(rule id, findings, findings touching no attack event)."""

    @property
    def benign_rate(self) -> float:
        return self.benign_flagged / self.benign_events if self.benign_events else 0.0


def measure_baseline(data: LabelledSet, *, history_days: int = 14) -> BaselineQuality:
    """Learn a baseline from ``history_days`` of benign traffic before the set, then analyse with it."""
    from datetime import timedelta

    from irkit.detect.baseline import BASELINE_INFOS, Baseline
    from irkit.detect.labelled import DAYS, START

    per_day = max(1, len(data.benign_ids) // DAYS)
    history = generate(
        benign=per_day * history_days,
        seed=data.seed + 1000,
        variants=0,
        start=START - timedelta(days=history_days),
        days=history_days,
    )
    base = Baseline.learn((Event.from_record(r) for r in history.records), agent="labelled", principals=data.principals)
    analyzer = Analyzer(principals=data.principals, baseline=base)
    for record in data.records:
        analyzer.feed(Event.from_record(record))
    findings = [f for f in analyzer.finish().findings if f.rule_id.startswith("baseline_")]
    attack_ids = {eid for i in data.incidents for eid in i.event_ids}
    touched = {n for n, i in enumerate(data.incidents) for f in findings if set(f.event_ids) & set(i.event_ids)}
    flagged = {eid for f in findings for eid in f.event_ids}
    per_rule = tuple(
        (
            info.id,
            sum(1 for f in findings if f.rule_id == info.id),
            sum(1 for f in findings if f.rule_id == info.id and not set(f.event_ids) & attack_ids),
        )
        for info in BASELINE_INFOS
    )
    return BaselineQuality(
        history_events=base.events,
        benign_events=len(data.benign_ids),
        benign_flagged=len(flagged & data.benign_ids),
        incidents=len(data.incidents),
        incidents_touched=len(touched),
        per_rule=per_rule,
    )


def baseline_markdown(q: BaselineQuality) -> str:
    lines = [
        f"With a baseline learned from {q.history_events:,} events of the 14 preceding days of the same "
        f"benign traffic: {q.incidents_touched} of {q.incidents} incidents have events in a baseline "
        f"finding; benign events in baseline findings: {q.benign_flagged:,} of {q.benign_events:,} "
        f"({100 * q.benign_rate:.3f} %).",
        "",
        "| baseline rule | findings | findings on benign events only |",
        "|---|---:|---:|",
    ]
    lines += [f"| `{rule_id}` | {n} | {fp} |" for rule_id, n, fp in q.per_rule]
    return "\n".join(lines)


def markdown(quality: Quality, *, benign: int, seed: int) -> str:
    lines = [
        f"Labelled set: {quality.benign_events:,} benign agent events and "
        f"{quality.incidents} attack incidents "
        f"({quality.attack_events:,} events, one variant in six a failed attempt), seed {seed} "
        f"(`python -m irkit.detect.quality --benign {benign} --seed {seed}`).",
        "",
        f"**Overall: recall {quality.recall:.3f}, precision {quality.precision:.3f}; "
        f"{quality.incidents_raised} of {quality.incidents} incidents raised at medium or above; "
        f"benign events in a finding at medium or above {quality.benign_flagged_medium:,} of "
        f"{quality.benign_events:,} ({100 * quality.benign_rate_medium:.3f} %), in any finding (low "
        f"accesses included) {quality.benign_flagged:,} ({100 * quality.benign_rate:.3f} %).**",
        "",
        "| rule | incidents | detected | recall | raised (medium+) | findings | false positives | precision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in quality.rules:
        if not r.incidents and not r.findings:
            continue
        lines.append(
            f"| `{r.rule_id}` | {r.incidents} | {r.detected} | {r.recall:.2f} | {r.raised} | {r.findings} | "
            f"{r.false_positives} | {r.precision:.2f} |"
        )
    return "\n".join(lines)


ACCOUNT_WORKLOADS = 1.0
"""Workload events per benign agent event in the account-background measurement."""


def account_data(benign: int, seed: int) -> LabelledSet:
    return generate(benign=benign, seed=seed, workloads=int(benign * ACCOUNT_WORKLOADS))


def account_markdown(quality: Quality, data: LabelledSet) -> str:
    """The account-wide measurement: every principal analysed, workloads reading secrets all day."""
    workloads = len(data.workload_ids)
    account_rules = sorted({i.technique for i in data.incidents if i.scope == "account"})
    lines = [
        f"Account background: the same agent traffic plus {workloads:,} events of four workloads (a Lambda "
        "function outside a VPC, an ECS task, two EC2 instances, a CI role deploying code) that read their "
        "secrets and decrypt their parameters at every start, analysed with every principal (no "
        f"`--principal`), with {quality.incidents} incidents including the account-scope ones "
        f"({', '.join(f'`{r}`' for r in account_rules)}).",
        "",
        f"**Benign events in a finding at medium or above: {quality.benign_flagged_medium:,} of "
        f"{quality.benign_events:,} ({100 * quality.benign_rate_medium:.3f} %); in any finding: "
        f"{quality.benign_flagged:,} ({100 * quality.benign_rate:.3f} %). Incidents raised at medium or "
        f"above: {quality.incidents_raised} of {quality.incidents}.**",
        "",
        "| account-scope rule | incidents | detected | raised (medium+) |",
        "|---|---:|---:|---:|",
    ]
    for r in quality.rules:
        if r.rule_id in account_rules:
            lines.append(f"| `{r.rule_id}` | {r.incidents} | {r.detected} | {r.raised} |")
    return "\n".join(lines)


def _perf(total: int, seed: int, chunk: int = 100_000) -> int:
    """Stream ``total`` events through one Analyzer in generated chunks (memory stays flat)."""
    analyzer = Analyzer(principals=generate(benign=0, seed=seed, variants=0).principals)
    parse = analyse_time = 0.0
    fed = 0
    part = 0
    while fed < total:
        data = generate(benign=min(chunk, total - fed), seed=seed + part, variants=6 if part == 0 else 0)
        part += 1
        started = time.perf_counter()
        events = [Event.from_record(r) for r in data.records]
        parse += time.perf_counter() - started
        started = time.perf_counter()
        for event in events:
            analyzer.feed(event)
        analyse_time += time.perf_counter() - started
        fed += len(events)
    started = time.perf_counter()
    analysis = analyzer.finish()
    analyse_time += time.perf_counter() - started
    print(
        f"{fed:,} events: analysis {analyse_time:.2f} s ({fed / analyse_time:,.0f} events/s), "
        f"Event.from_record {parse:.2f} s; {len(analysis.findings)} findings, "
        f"{len(all_rules())} rules + {len(DETECTORS)} stateful detectors in one pass"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m irkit.detect.quality", description=__doc__.split("\n")[0])
    parser.add_argument("--benign", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--perf", action="store_true", help="report throughput instead of the table")
    args = parser.parse_args(argv)
    if args.perf:
        return _perf(args.benign, args.seed)
    data = generate(benign=args.benign, seed=args.seed)
    quality = measure(data)
    print(markdown(quality, benign=args.benign, seed=args.seed))
    print()
    print(baseline_markdown(measure_baseline(data)))
    print()
    wide = account_data(args.benign, args.seed)
    print(account_markdown(measure(wide, account=True), wide))
    return 0


if __name__ == "__main__":
    sys.exit(main())
