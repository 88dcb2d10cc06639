"""report.md and report.json stay small whatever the archive held, and still say the counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from irkit.cloudtrail.reader import event_from_record
from irkit.detect.analyzer import Analyzer
from irkit.detect.baseline import MAX_NEW_VALUES, Baseline
from irkit.detect.event import format_time
from irkit.detect.records import AGENT_ROLE, record, role_identity
from irkit.gaps import Gap, fold, folded_count
from irkit.report.build import MAX_FINDINGS
from tests.report.casefolder import new_case, run_steps, tokens, write_log

MB = 1_000_000


def sizes(case_root: Path) -> tuple[str, dict[str, object], int, int]:
    md = (case_root / "report.md").read_bytes()
    js = (case_root / "report.json").read_bytes()
    return md.decode(), orjson.loads(js), len(md), len(js)


def test_200k_malformed_records_make_a_small_report_that_counts_them(tmp_path: Path) -> None:
    case = new_case(tmp_path)
    log = write_log(case, [{}] * 200_000)
    assert log.stat().st_size < 2_000  # a tiny object ...
    run_steps(case, "step: detect", "step: report")
    report, doc, md_size, json_size = sizes(case.root)
    assert md_size < MB and json_size < MB  # ... and a report that did not grow with it
    # The reader names ten bad records, counts the next 990 and stops reading the file: the report
    # still says how many records were not analysed.
    assert "- **Coverage gaps**: 12" in report
    assert doc["counts"]["gaps"] == 12  # type: ignore[index]
    assert "not read: 199000 records after 1000 malformed ones" in report
    assert "990 more in this file" in report


def test_a_step_with_200k_gaps_makes_a_small_report_that_counts_them(tmp_path: Path) -> None:
    case = new_case(tmp_path)
    case.journal.append(
        "step.done",
        step="collect",
        type="collect",
        status="done",
        summary="collected",
        output={},
        gaps=[{"path": f"s3://b/k{i}", "reason": "not collected: AccessDenied"} for i in range(200_000)],
        seconds=1.0,
    )
    run_steps(case, "step: report")
    report, doc, md_size, json_size = sizes(case.root)
    assert md_size < MB and json_size < MB
    assert "- **Coverage gaps**: 200000" in report
    assert doc["counts"]["gaps"] == 200_000  # type: ignore[index]
    assert len(doc["gaps"]) <= 60  # type: ignore[arg-type]
    assert any(g["path"].startswith("… and 199995 more like") for g in doc["gaps"])  # type: ignore[union-attr]


def _ua_events(n: int) -> Analyzer:
    baseline = Baseline(
        agent="infra-optimizer",
        principals=(AGENT_ROLE,),
        events=100,
        apis={"iam:ListRoles": 100},
        regions={"us-east-1": 100},
        networks={"10.20.4.0/24": 100},
        user_agents={"boto3/1": 100},
    )
    analyzer = Analyzer(baseline=baseline)
    template = record("ListRoles", "iam.amazonaws.com", identity=role_identity(), read_only=True)
    start = datetime(2026, 11, 25, 10, tzinfo=UTC)
    for i in range(n):
        rec = dict(template)
        rec["userAgent"] = f"tool{i}/1.0"  # a new client family in every record
        rec["eventID"] = f"ua-{i}"
        rec["eventTime"] = format_time(start + timedelta(seconds=i % 3000))
        analyzer.feed(event_from_record(rec))
    return analyzer


def test_200k_distinct_user_agents_fold_into_a_bounded_set_of_findings(tmp_path: Path) -> None:
    analyzer = _ua_events(200_000)
    size = analyzer.state_size()
    analysis = analyzer.finish()
    clients = [f for f in analysis.findings if f.rule_id == "baseline_new_user_agent"]
    assert len(clients) == MAX_NEW_VALUES + 1  # one finding each for the first values, one folded
    (folded,) = [f for f in clients if "more values" in f.title]
    assert folded.evidence["events"] == 200_000 - MAX_NEW_VALUES
    assert folded.evidence["values"] == 10_000 and folded.evidence["values_exact"] is False
    assert f"more than 10000 more new values in {200_000 - MAX_NEW_VALUES} call(s)" in folded.detail
    assert len(folded.event_ids) <= 100
    assert size < 25_000  # bounded by the folded distinct cap, not by the 200k values

    case = new_case(tmp_path)
    case.write_json("findings.json", {"findings": analysis.to_json()["findings"], "chain": []})
    run_steps(case, "step: report")
    report, _, md_size, json_size = sizes(case.root)
    assert md_size < MB and json_size < MB
    assert f"more than 10000 more new values in {200_000 - MAX_NEW_VALUES} call" in report


def test_thousands_of_findings_are_listed_up_to_a_limit_and_counted(tmp_path: Path) -> None:
    # The agent creates 150 users, 150 roles and a key for each user: a rule reports 100 distinct
    # details for one principal, then folds; three rules make more findings than the report lists.
    records = [
        record(name, "iam.amazonaws.com", request=request, event_id=f"{name}-{i}")
        for i in range(150)
        for name, request in (
            ("CreateUser", {"userName": f"u{i}"}),
            ("CreateRole", {"roleName": f"r{i}"}),
            ("CreateAccessKey", {"userName": f"u{i}"}),
        )
    ]
    case = new_case(tmp_path)
    write_log(case, records)
    run_steps(case, "step: detect", "step: report")
    report, doc, md_size, json_size = sizes(case.root)
    assert len(doc["findings"]) == MAX_FINDINGS  # type: ignore[arg-type]
    total = doc["counts"]["findings"]  # type: ignore[index]
    assert total > MAX_FINDINGS
    # report.md groups them (one row per rule x principal x burst) and says the exact total: a
    # responder reads a handful of rows, each with its count, not 303.
    assert f"{total} findings (" in report
    groups = doc["finding_groups"]  # type: ignore[index]
    assert len(groups) <= 10 and sum(g["findings"] for g in groups) == total  # type: ignore[union-attr,index]
    assert md_size < MB and json_size < MB
    rows = [t for t in tokens(report) if t.type == "tr_open"]
    assert len(rows) < 1_500


def test_folding_a_folded_list_keeps_its_counts() -> None:
    gaps = [Gap(f"f.json#{i}", f"malformed record: missing eventTime at {i}") for i in range(10_000)]
    gaps += [Gap(f"k{i}", f"kind{i}: x") for i in range(100)]
    once = fold(gaps)
    twice = fold(once)
    assert folded_count(once) == folded_count(twice) == len(gaps)
    assert any(g.path.startswith("… and 9995 more like f.json#5") for g in twice)


def _row(time: str, phase: str, what: str) -> dict[str, object]:
    return {"time": time, "phase": phase, "who": "x", "what": what, "target": "", "source_ip": "",
            "user_agent": "", "region": "", "detail": "", "event_id": "e" if phase == "attack" else ""}  # fmt: skip


def test_the_timeline_keeps_irkits_own_rows_past_many_attack_rows() -> None:
    """Cut together by time, 300 attack rows (all before irkit's run) pushed every containment and
    revert row out of the report's timeline: irkit's rows keep room of their own."""
    from irkit.report.sections import bounded_timeline

    attack = [_row(f"2026-11-25T01:{n // 60:02d}:{n % 60:02d}Z", "attack", f"call-{n}") for n in range(300)]
    irkit = [_row("2026-11-25T03:00:00Z", "containment", f"contain-{n}") for n in range(12)]
    rows = bounded_timeline(attack, irkit, 200)
    assert len(rows) == 200
    assert [r["what"] for r in rows if r["phase"] == "containment"] == [f"contain-{n}" for n in range(12)]
    assert [r["what"] for r in rows[:3]] == ["call-0", "call-1", "call-2"]  # the earliest attack rows
    assert bounded_timeline(attack[:5], irkit, 200) == [*attack[:5], *irkit]  # under the bound: all


def test_next_steps_past_the_bound_are_counted_by_kind_and_said() -> None:
    """Over 40 items the rest are counted by kind and the markdown says so; past 10 changed resources
    one item counts the rest; a secret to rotate comes before the reviews of changed resources."""
    from irkit.report.markdown import Doc, _next_steps
    from irkit.report.sections import MAX_STEPS_ITEMS, next_steps

    changes = [{"service": "ec2", "resource": f"instance/i-{n}", "calls": {"RunInstances": 1}} for n in range(30)]
    unknown = [{"event_name": "PutRolePolicy", "resource": f"role/r-{n}"} for n in range(45)]
    secrets = [{"service": "secretsmanager", "secret": f"prod/db-{n}"} for n in range(3)]
    items, omitted = next_steps(
        groups=[], revert={"unknown": unknown}, secrets=secrets, containment_gaps=[], awaiting=[],
        case_id="C", dry_run=False, revert_ran=False, changes=changes,
    )  # fmt: skip
    assert len(items) == MAX_STEPS_ITEMS
    assert [i["resource"] for i in items[:3]] == ["prod/db-0", "prod/db-1", "prod/db-2"]  # rotate first
    assert omitted == {"review": 45 + 10 + 1 - (MAX_STEPS_ITEMS - 3)}
    text = "\n".join(_next_steps(Doc({"next_steps": items, "next_steps_omitted": omitted})))
    assert f"… and {omitted['review']} more item(s) not listed (review {omitted['review']})" in text
    few, none = next_steps(
        groups=[], revert={}, secrets=[], containment_gaps=[], awaiting=[], case_id="C", dry_run=False,
        revert_ran=False, changes=changes,
    )  # fmt: skip
    assert none == {} and len(few) == 11 and "20 more resource(s) changed by the attacker" in few[-1]["text"]


def test_a_session_says_how_many_more_addresses_it_used() -> None:
    from irkit.report.markdown import _session_ips

    five = [f"203.0.113.{n}" for n in range(5)]
    assert _session_ips({"source_ips": five[:2], "source_ips_total": 2}) == "203.0.113.0, 203.0.113.1"
    assert _session_ips({"source_ips": five, "source_ips_total": 9}).endswith("203.0.113.4 and 4 more")
    assert _session_ips({"source_ips": five, "source_ips_total": 20}).endswith("and 15+ more")  # the bound
    assert _session_ips({"source_ips": five, "source_ips_total": "x"}) == ", ".join(five)  # a damaged total
    assert _session_ips({"source_ips": five}) == ", ".join(five)  # a report from before the total


def test_a_group_counts_the_resources_its_events_named_past_the_ones_they_list() -> None:
    """An event keeps 10 resource ids: a launch of 50 instances made a group read "10 resources"."""
    from irkit.report.events import EventFacts
    from irkit.report.sections import group_findings

    facts = EventFacts()
    facts.detailed["run-1"] = {"resources": [f"instance/i-{n}" for n in range(10)], "resources_total": 50}
    facts.detailed["run-2"] = {"resources": ["instance/i-0"], "resources_total": 1}
    finding = {"rule_id": "ec2_large_or_gpu_instance", "severity": "high", "principal": "p",
               "first_seen": "2026-11-25T01:00:00Z", "event_ids": ["run-1", "run-2", "run-1"]}  # fmt: skip
    (group,), _ = group_findings([finding, dict(finding, first_seen="2026-11-25T01:05:00Z")], facts)
    assert group["resources_total"] == 50  # 10 listed + 40 more of run-1, counted once


def test_the_summary_says_when_its_address_count_stopped_at_its_bound() -> None:
    from irkit.report.markdown import Doc, _summary

    rows = [{"value": f"203.0.113.{n}", "count": 1} for n in range(5)]
    summary = {"verdict": "v", "source_ips": rows, "source_ips_total": 1000, "source_ips_capped": True,
               "user_agents": rows[:1], "user_agents_total": 3, "user_agents_capped": False}  # fmt: skip
    text = "\n".join(_summary(Doc({"summary": summary})))
    assert "and 995+ more" in text and "and 2 more" in text


def test_the_integrity_lists_cut_in_report_json_carry_their_totals() -> None:
    from irkit.report.build import MAX_CONTAINMENT, MAX_NOTES, _integrity

    out = _integrity({"notes": [f"n{i}" for i in range(80)], "pending": [f"p{i}" for i in range(1_500)]})
    assert len(out["notes"]) == MAX_NOTES and out["notes_total"] == 80
    assert len(out["pending"]) == MAX_CONTAINMENT and out["pending_total"] == 1_500
    assert "notes_total" not in _integrity({"notes": ["one"]})


def test_the_summary_counts_the_services_past_the_twenty_it_lists() -> None:
    from irkit.report.markdown import Doc, _summary

    by_service = {f"svc{n}": 1 for n in range(20)}
    summary = {"verdict": "v", "changed": {"resources": 25, "by_service": by_service, "services": 25, "sample": []}}
    text = "\n".join(_summary(Doc({"summary": summary})))
    assert "25 resource(s) (svc0 1" in text and "svc19 1 and 5 more services)" in text
