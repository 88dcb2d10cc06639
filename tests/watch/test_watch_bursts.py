"""Pages group before they list: one page per rule x principal x burst, across passes too.

A drill world on moto server, records delivered into its archive as CloudTrail would, watch passes
paging a receiver on 127.0.0.1."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from irkit.aws.session import Aws
from irkit.config import Settings, load_config
from irkit.drill.world import AGENT, World
from irkit.watch.page import finding_key
from irkit.watch.run import WINDOW, PassResult, WatchOptions, run_pass
from irkit.watch.state import WatchState
from tests.watch.conftest import ROUTING_KEY, Receiver, Scene, new_world, write_config

RULE = "ec2_password_data_read"


def _password_reads(scene: Scene, start: datetime, instances: range) -> list[dict[str, Any]]:
    """The attacker reading one instance's password data a minute, as CloudTrail records."""
    attacker = scene.world.attacker
    assert attacker is not None
    return [
        attacker.record(
            "ec2", "GetPasswordData", region="us-east-1", when=start + timedelta(minutes=n),
            request={"InstanceId": f"i-{i:017x}"},
        )
        for n, i in enumerate(instances)
    ]


def _pages(receiver: Receiver) -> list[dict[str, Any]]:
    return [p for p in receiver.accepted() if p["payload"]["component"] == RULE]


def _rows(result: PassResult) -> list[dict[str, Any]]:
    return [f for f in result.findings if f["rule_id"] == RULE]


def _watching(
    aws_endpoint: str, tmp_path: Path, receiver: Receiver, **options: Any
) -> tuple[World, Scene, Settings, WatchOptions, Aws]:
    """A drill world with its background delivered, and a watcher paging ``receiver`` at medium."""
    world = new_world(aws_endpoint, tmp_path)
    scene = Scene(world, write_config(world, tmp_path / "irkit.yaml", public_key=tmp_path / "none.pem"), tmp_path)
    settings = load_config(scene.config)
    opts = WatchOptions(
        agent=AGENT, state_dir=tmp_path / "state", hours=3, page_url=receiver.url, routing_key=ROUTING_KEY,
        page_at="medium", backoff=0, **options,
    )  # fmt: skip
    world.deliver()
    return world, scene, settings, opts, Aws(settings.aws, dry_run=True)


def test_a_burst_is_one_page_and_carries_on_under_its_key(
    aws_endpoint: str, tmp_path: Path, receiver: Receiver
) -> None:
    world, scene, settings, opts, aws = _watching(aws_endpoint, tmp_path, receiver)
    start = world.now - timedelta(minutes=40)

    # 12 reads a minute apart: 12 findings (one an instance), one page.
    scene.deliver(_password_reads(scene, start, range(12)))
    first = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    rows = _rows(first)
    assert len(rows) == 12
    (page,) = _pages(receiver)
    earliest = min(rows, key=lambda r: (r["first_seen"], r["dedup_key"]))
    assert page["dedup_key"] == earliest["dedup_key"]  # the burst's first finding names it
    assert {r["page_key"] for r in rows} == {page["dedup_key"]}
    assert all(r["page"] == "sent" for r in rows)
    details = page["payload"]["custom_details"]
    assert details["findings"] == 12 and details["events"] == 12
    assert details["last_seen"] == max(r["first_seen"] for r in rows)
    assert len(details["details"]) == 10  # a sample; the count says the rest
    assert "12 findings" in page["payload"]["summary"]
    assert "continues" not in details
    assert first.pages_sent == len(receiver.accepted())  # a page counts once, not once a finding

    # The burst carries on in the next delivery (5 minutes after its last read): the same key, so
    # PagerDuty adds it to the same alert; the page says it carries on.
    later = _password_reads(scene, start + timedelta(minutes=16), range(100, 103))
    scene.deliver(later, delivered=world.now - timedelta(minutes=10))
    second = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    assert len(_rows(second)) == 3
    more = _pages(receiver)[1:]
    assert [p["dedup_key"] for p in more] == [page["dedup_key"]]
    assert more[0]["payload"]["custom_details"]["continues"] == earliest["first_seen"]
    assert {r["page_key"] for r in _rows(second)} == {page["dedup_key"]}
    assert all(r["dedup_key"] != page["dedup_key"] for r in _rows(second))  # each finding keeps its own

    # Nothing pages twice, and the state remembers the bursts it paged.
    third = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    assert third.findings == [] and len(_pages(receiver)) == 2
    state = WatchState.load(opts.state_dir, opts.agent)
    (burst,) = [b for b in state.bursts.values() if b["key"] == page["dedup_key"]]
    assert (burst["first"], burst["last"]) == (earliest["first_seen"], max(r["first_seen"] for r in _rows(second)))


def test_a_burst_page_not_delivered_marks_each_of_its_findings(
    aws_endpoint: str, tmp_path: Path, receiver: Receiver
) -> None:
    world, scene, settings, opts, aws = _watching(aws_endpoint, tmp_path, receiver, attempts=2)
    scene.deliver(_password_reads(scene, world.now - timedelta(minutes=60), range(5)))
    receiver.statuses = [503] * 1000
    first = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    rows = _rows(first)
    assert len(rows) == 5 and all(r["page"] == "pending: HTTP 503" for r in rows)
    assert len({r["page_key"] for r in rows}) == 1
    assert len([b for b in receiver.bodies if b["payload"]["component"] == RULE]) == 2  # one page, tried twice

    receiver.statuses = []
    second = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    delivered = [d for d in second.delivered if d["dedup_key"] == rows[0]["page_key"]]
    assert len(delivered) == 1 and len(_pages(receiver)) == 1
    assert rows[0]["page_key"] == min(rows, key=lambda r: (r["first_seen"], r["dedup_key"]))["dedup_key"]


def _finding(minute: float, *, rule: str = RULE, principal: str = "arn:aws:iam::123456789012:user/bot") -> Any:
    from datetime import UTC

    from irkit.detect.rule import Finding

    return Finding(
        rule_id=rule, severity="medium", title="EC2 Windows password data retrieved", event_ids=(f"e-{minute}",),
        principal=principal, mitre=(), first_seen=datetime(2026, 12, 1, 12, tzinfo=UTC) + timedelta(minutes=minute),
        detail=f"password data of i-{minute}",
    )  # fmt: skip


def _queued(state: WatchState, findings: list[Any], *, minute: float) -> dict[str, dict[str, Any]]:
    """Queue ``findings`` as a pass at ``minute`` would (every one new and at or above page_at)."""
    from datetime import UTC

    from irkit.watch.run import _queue_pages

    new = [(f, finding_key(AGENT, f)) for f in findings]
    rows: dict[str, dict[str, Any]] = {key: {"page": "below page_at"} for _, key in new}
    now = datetime(2026, 12, 1, 12, tzinfo=UTC) + timedelta(minutes=minute)
    _queue_pages(state, AGENT, new, rows, now=now, case=None)
    return rows


def test_a_burst_carries_on_across_passes_within_the_gap_only(tmp_path: Path) -> None:
    state = WatchState(tmp_path, AGENT)
    first = [_finding(m) for m in (0, 10, 20)]
    rows = _queued(state, first, minute=25)
    (page,) = state.outbox
    assert page["dedup_key"] == finding_key(AGENT, first[0])
    assert page["findings"] == [finding_key(AGENT, f) for f in first]
    assert {r["page_key"] for r in rows.values()} == {page["dedup_key"]}

    # exactly 30 minutes after the burst's last: it carries on (the gap is "at most")
    _queued(state, [_finding(50)], minute=55)
    assert state.outbox[1]["dedup_key"] == page["dedup_key"]
    assert state.outbox[1]["page"]["payload"]["custom_details"]["rule_id"] == RULE
    # a second more than 30 minutes after that one: a burst of its own
    late = _finding(80 + 1 / 60)
    _queued(state, [late], minute=85)
    assert state.outbox[2]["dedup_key"] == finding_key(AGENT, late)
    # another principal, or another rule, at the same time: their own pages
    _queued(state, [_finding(81, principal="arn:aws:iam::123456789012:user/other"), _finding(81, rule="x")], minute=85)
    assert len({p["dedup_key"] for p in state.outbox}) == 4

    # the bursts survive the state's save and load; a damaged entry is dropped, not a traceback
    state.save()
    again = WatchState.load(tmp_path, AGENT)
    assert again.bursts == state.bursts
    doc = orjson.loads((tmp_path / "state.json").read_bytes())
    doc["bursts"]["junk"] = {"key": "k", "first": "not a time", "last": 3}
    doc["bursts"]["more"] = "junk"
    (tmp_path / "state.json").write_bytes(orjson.dumps(doc))
    assert WatchState.load(tmp_path, AGENT).bursts == state.bursts
    for junk in ([1, 2], "text", 7):
        (tmp_path / "state.json").write_bytes(orjson.dumps({**doc, "bursts": junk}))
        assert WatchState.load(tmp_path, AGENT).bursts == {}
    state.save()

    # once its last finding is older than the window, a burst is forgotten: nothing carries it on
    _queued(state, [], minute=81 + WINDOW.total_seconds() / 60 + 1)
    assert state.bursts == {}


def test_a_burst_page_is_the_first_findings_at_the_worst_severity(tmp_path: Path) -> None:
    state = WatchState(tmp_path, AGENT)
    _queued(state, [_finding(0), replace(_finding(5), severity="high")], minute=10)
    (page,) = state.outbox
    assert page["page"]["payload"]["severity"] == "error"  # high
    assert page["page"]["payload"]["custom_details"]["severity"] == "high"
    assert page["page"]["payload"]["timestamp"] == "2026-12-01T12:00:00Z"  # the first finding's
