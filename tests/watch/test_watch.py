"""`irkit watch` against a drill world on moto server, paging a receiver on 127.0.0.1 (issue 16)."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.aws.session import Aws
from irkit.cli import main
from irkit.config import load_config
from irkit.drill.server import free_port
from irkit.drill.world import ACCOUNT, AGENT, AGENT_ROLE, AGENT_USER, ARCHIVE_BUCKET, ORG_ID, TRAIL
from irkit.errors import Terminated
from irkit.watch.run import MAX_REFUSED_IN_A_ROW, WatchOptions, run_pass
from tests.watch.conftest import (
    BACKDOOR,
    ROUTING_KEY,
    Receiver,
    Scene,
    arm_role,
    create_role,
    new_world,
    write_config,
)


def world_state(scene: Scene) -> dict[str, Any]:
    """What watching must not change: IAM principals, keys, policies; the trail's logging state."""
    iam = scene.world.client("iam")
    roles = sorted(r["RoleName"] for r in iam.list_roles()["Roles"])
    users = sorted(u["UserName"] for u in iam.list_users()["Users"])
    keys = {
        u: sorted((k["AccessKeyId"], k["Status"]) for k in iam.list_access_keys(UserName=u)["AccessKeyMetadata"])
        for u in users
    }
    inline = {r: sorted(iam.list_role_policies(RoleName=r)["PolicyNames"]) for r in roles}
    attached = {
        r: sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=r)["AttachedPolicies"])
        for r in roles
    }
    user_inline = {u: sorted(iam.list_user_policies(UserName=u)["PolicyNames"]) for u in users}
    trail = scene.world.client("cloudtrail").get_trail_status(Name=TRAIL)["IsLogging"]
    return {"roles": roles, "users": users, "keys": keys, "inline": inline, "attached": attached,
            "user_inline": user_inline, "logging": trail}  # fmt: skip


def watch(scene: Scene, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    code = main(["watch", AGENT, "--config", str(scene.config), "--json", *args])
    out = capsys.readouterr().out
    return code, [orjson.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def pager_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IRKIT_PAGER_KEY", ROUTING_KEY)
    return ROUTING_KEY


def test_pages_backdoor_and_stopped_trail_once_and_changes_nothing(
    compromised: Scene, receiver: Receiver, pager_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = compromised.tmp / "state"
    before = world_state(compromised)
    code, lines = watch(
        compromised, "--once", "--hours", "3", "--state", str(state), "--page", receiver.url, capsys=capsys
    )
    assert code == 0, lines
    pages = receiver.accepted()
    rules = {p["payload"]["custom_details"]["rule_id"] for p in pages}
    assert "iam_role_backdoor_sequence" in rules
    assert "watch_trail_stopped" in rules
    for body in pages:  # Events v2 shape
        assert body["routing_key"] == pager_key
        assert body["event_action"] == "trigger"
        assert body["dedup_key"].startswith("irkit-")
        assert body["payload"]["severity"] in {"critical", "error", "warning", "info"}
        assert body["payload"]["source"] == f"irkit watch {AGENT}"
        assert body["payload"]["summary"]
    backdoor = next(p for p in pages if p["payload"]["custom_details"]["rule_id"] == "iam_role_backdoor_sequence")
    mapping = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
    assert backdoor["payload"]["severity"] == mapping[backdoor["payload"]["custom_details"]["severity"]]
    stopped = next(p for p in pages if p["payload"]["custom_details"]["rule_id"] == "watch_trail_stopped")
    assert stopped["payload"]["severity"] == "critical"
    assert BACKDOOR in orjson.dumps(backdoor["payload"]["custom_details"]).decode()
    assert len({p["dedup_key"] for p in pages}) == len(pages)  # one page a burst, each once

    findings = [line for line in lines if line.get("type") == "finding"]
    paged = [f for f in findings if f["page"] == "sent"]
    assert {f["page_key"] for f in paged} == {p["dedup_key"] for p in pages}
    assert all(f["latency_seconds"] > 0 and f["page_latency_seconds"] >= f["latency_seconds"] for f in paged)
    (summary,) = [line for line in lines if line.get("type") == "pass"]
    assert summary["pages_sent"] == len(pages) and summary["pages_pending"] == 0
    # The routing key is a secret: never printed, never on disk.
    assert pager_key not in capsys.readouterr().err
    assert all(pager_key.encode() not in p.read_bytes() for p in state.rglob("*") if p.is_file())

    assert world_state(compromised) == before  # watching changed nothing in AWS

    # Second pass, same state: nothing is paged again.
    sent = len(receiver.bodies)
    code, lines = watch(compromised, "--once", "--state", str(state), "--page", receiver.url, capsys=capsys)
    assert code == 0, lines
    assert len(receiver.bodies) == sent
    assert [line for line in lines if line.get("type") == "finding"] == []
    assert world_state(compromised) == before


def test_state_is_private(compromised: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    state = compromised.tmp / "state"
    code, lines = watch(compromised, "--once", "--hours", "3", "--state", str(state), capsys=capsys)
    assert code == 0
    # Without a page URL the findings are printed (JSON lines), each once.
    assert any(f.get("rule_id") == "iam_role_backdoor_sequence" for f in lines)
    assert all(f["page"] == "no page URL" for f in lines if f.get("type") == "finding")
    assert state.stat().st_mode & 0o777 == 0o700
    files = [p for p in state.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"state.json", "window.jsonl"}
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)


def test_a_sequence_split_over_two_deliveries_is_one_finding(
    aws_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = new_world(aws_endpoint, tmp_path)
    assert world.attacker is not None
    create_role(world, world.now - timedelta(minutes=18))
    (record,) = [r for r in world.attacker.records if r["eventName"] == "CreateRole"]
    create = record["eventID"]
    world.deliver()
    scene = Scene(world, write_config(world, tmp_path / "irkit.yaml", public_key=tmp_path / "none.pem"), tmp_path)
    state = tmp_path / "state"

    code, first = watch(scene, "--once", "--hours", "3", "--state", str(state), capsys=capsys)
    assert code == 0, first
    assert "iam_role_backdoor_sequence" not in {f.get("rule_id") for f in first}
    assert "iam_role_created" in {f.get("rule_id") for f in first}

    # The rest of the sequence arrives in a later delivery, in its own file.
    before = len(world.attacker.records)
    arm_role(world, world.now - timedelta(minutes=6))
    later = world.attacker.records[before:]
    scene.deliver(later)
    code, second = watch(scene, "--once", "--state", str(state), capsys=capsys)
    assert code == 0, second
    sequences = [f for f in second if f.get("rule_id") == "iam_role_backdoor_sequence"]
    assert len(sequences) == 1, second
    assert create in sequences[0]["event_ids"]  # the CreateRole came from the window kept on disk
    assert "iam_role_created" not in {f.get("rule_id") for f in second}  # reported in the first pass

    # The same events delivered again in another file, out of order: one event each, no new finding.
    scene.deliver([*reversed(later), record], delivered=world.now - timedelta(minutes=3))
    code, third = watch(scene, "--once", "--state", str(state), capsys=capsys)
    assert code == 0
    assert [f for f in third if f.get("type") == "finding"] == []
    (summary,) = [line for line in third if line.get("type") == "pass"]
    assert summary["files"] == 1 and summary["events"] == len(later) + 1
    (before_summary,) = [line for line in second if line.get("type") == "pass"]
    assert summary["window_events"] == before_summary["window_events"]  # deduplicated by eventID


def test_undelivered_pages_are_kept_and_delivered_once(compromised: Scene, receiver: Receiver) -> None:
    settings = load_config(compromised.config)
    opts = WatchOptions(
        agent=AGENT,
        state_dir=compromised.tmp / "state",
        hours=3,
        page_url=receiver.url,
        routing_key=ROUTING_KEY,
        attempts=3,
        backoff=0,
    )
    aws = Aws(settings.aws, dry_run=True)
    receiver.statuses = [503] * 1000  # the paging service is down
    first = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    assert first.pages_sent == 0 and first.pages_pending > 0
    assert receiver.accepted() == []
    pending = {f["page_key"] for f in first.findings if str(f["page"]).startswith("pending")}
    assert len(pending) == first.pages_pending > 1
    # the first page retried, then kept; the service is down: the rest kept untried, not retried each
    assert len(receiver.bodies) == 3
    untried = [f for f in first.findings if str(f["page"]).startswith("pending: not tried this pass")]
    assert len({f["page_key"] for f in untried}) == first.pages_pending - 1
    assert all("HTTP 503" in f["page"] for f in untried)
    on_disk = (opts.state_dir / "state.json").read_bytes()
    assert ROUTING_KEY.encode() not in on_disk  # kept without its routing key

    receiver.statuses = []  # back up
    second = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    assert second.findings == []
    assert {d["dedup_key"] for d in second.delivered} == pending
    accepted = [b["dedup_key"] for b in receiver.accepted()]
    assert sorted(accepted) == sorted(pending)  # each exactly once
    assert all(b["routing_key"] == ROUTING_KEY for b in receiver.accepted())
    assert second.pages_pending == 0

    third = run_pass(settings, opts, aws=aws, echo=lambda _line: None)
    assert third.pages_sent == 0 and len(receiver.accepted()) == len(pending)


def test_a_page_refused_for_good_does_not_hold_back_the_others(compromised: Scene, receiver: Receiver) -> None:
    settings = load_config(compromised.config)
    opts = WatchOptions(
        agent=AGENT, state_dir=compromised.tmp / "state", hours=3, page_url=receiver.url, routing_key=ROUTING_KEY,
        attempts=3, backoff=0,
    )  # fmt: skip
    receiver.statuses = [400]  # the first page refused (not a reason that may pass: not retried), then up
    said: list[str] = []
    result = run_pass(settings, opts, aws=Aws(settings.aws, dry_run=True), echo=said.append)
    assert result.pages_pending == 1 and result.pages_sent >= 1
    assert len(receiver.bodies) == result.pages_sent + 1  # every page tried once
    assert not any("untried" in line for line in said)


def test_a_routing_key_refused_for_every_page_stops_the_pass_sending(
    compromised: Scene, receiver: Receiver
) -> None:
    settings = load_config(compromised.config)
    opts = WatchOptions(
        agent=AGENT, state_dir=compromised.tmp / "state", hours=3, page_url=receiver.url, routing_key=ROUTING_KEY,
        attempts=3, backoff=0,
    )  # fmt: skip
    receiver.statuses = [400] * 1000  # the key revoked: every page refused
    said: list[str] = []
    first = run_pass(settings, opts, aws=Aws(settings.aws, dry_run=True), echo=said.append)
    assert first.pages_pending > MAX_REFUSED_IN_A_ROW and first.pages_sent == 0
    assert len(receiver.bodies) == MAX_REFUSED_IN_A_ROW  # three refused, the rest kept untried
    assert any("untried (3 pages in a row refused: HTTP 400)" in line for line in said)

    receiver.statuses = []  # a new key
    second = run_pass(settings, opts, aws=Aws(settings.aws, dry_run=True), echo=said.append)
    assert second.pages_sent == first.pages_pending and second.pages_pending == 0


def test_an_unreachable_paging_service_keeps_the_pages(compromised: Scene) -> None:
    settings = load_config(compromised.config)
    url = f"http://127.0.0.1:{free_port()}/v2/enqueue"  # nothing listens there
    opts = WatchOptions(
        agent=AGENT, state_dir=compromised.tmp / "state", hours=3, page_url=url, routing_key=ROUTING_KEY,
        attempts=2, backoff=0,
    )  # fmt: skip
    said: list[str] = []
    result = run_pass(settings, opts, aws=Aws(settings.aws, dry_run=True), echo=said.append)
    assert result.pages_pending > 0 and result.pages_sent == 0
    assert any("cannot reach the paging service" in line for line in said)


def test_contain_at_critical_contains_once_with_a_case(
    compromised: Scene, receiver: Receiver, pager_key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state, out = compromised.tmp / "state", compromised.tmp / "cases"
    args = ("--once", "--hours", "3", "--state", str(state), "--page", receiver.url, "--out", str(out))
    code, lines = watch(compromised, *args, "--contain-at", "critical", capsys=capsys)
    assert code in (0, 3), lines
    (summary,) = [line for line in lines if line.get("type") == "pass"]
    case = summary["contained"]
    assert case is not None and case["contained"] is True, case
    case_dir = Path(case["case_dir"])
    assert case_dir.parent == out and (case_dir / "report.md").is_file() and (case_dir / "journal.jsonl").is_file()
    report = (case_dir / "report.md").read_text()
    assert "opened by irkit watch" in report and "detection latency" in report
    assert case["detection_latency_seconds"] > 0

    # Re-read IAM: the agent's keys are Inactive, its sessions denied.
    iam = compromised.world.client("iam")
    keys = iam.list_access_keys(UserName=AGENT_USER)["AccessKeyMetadata"]
    assert keys and all(k["Status"] == "Inactive" for k in keys)
    assert "AWSRevokeOlderSessions" in iam.list_role_policies(RoleName=AGENT_ROLE)["PolicyNames"]
    deny = iam.get_role_policy(RoleName=AGENT_ROLE, PolicyName="AWSRevokeOlderSessions")["PolicyDocument"]
    assert deny["Statement"][0]["Effect"] == "Deny"

    # The pages say a case was opened, and where.
    opened = [p for p in receiver.accepted() if "case" in p["payload"]["custom_details"]]
    assert opened and all(p["payload"]["custom_details"]["case"]["case_dir"] == str(case_dir) for p in opened)
    assert all(str(case_dir) in p["payload"]["summary"] for p in opened)

    # A second pass never contains twice.
    code, lines = watch(compromised, *args, "--contain-at", "critical", capsys=capsys)
    cases = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert cases == [case_dir]


def _config(tmp: Path, watch_section: str, *, archive: bool = True) -> Path:
    text = 'agents:\n  a1:\n    account: "123456789012"\n    principals: [arn:aws:iam::123456789012:role/a1]\n'
    if archive:
        text += "log_archive:\n  bucket: b\n"
    path = tmp / "irkit.yaml"
    path.write_text(text + watch_section, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("section", "said"),
    [
        ("watch:\n  routing_key: abc123\n", "routing_key_env"),
        ("watch:\n  page_at: severe\n", "watch.page_at"),
        ("watch:\n  contain_at: 3\n", "watch.contain_at"),
        ("watch:\n  max_silence_minutes: -5\n", "watch.max_silence_minutes"),
        ("watch:\n  page_url: ftp://x\n", "watch.page_url"),
        ("watch:\n  routing_key_env: 'not a name'\n", "watch.routing_key_env"),
        ("watch:\n  paging: yes\n", "watch.paging"),
    ],
)
def test_bad_watch_config_is_a_clear_error(
    tmp_path: Path, section: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["watch", "a1", "--config", str(_config(tmp_path, section)), "--once", "--state", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert said in err and "Traceback" not in err


def test_a_page_url_without_the_routing_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("IRKIT_PAGER_KEY", raising=False)
    config = _config(tmp_path, "watch:\n  page_url: http://127.0.0.1:9/v2/enqueue\n")
    code = main(["watch", "a1", "--config", str(config), "--once", "--json"])
    out = capsys.readouterr().out
    assert code == 2
    assert "IRKIT_PAGER_KEY" in orjson.loads(out)["error"]["message"]
    no_archive = _config(tmp_path, "", archive=False)
    assert main(["watch", "a1", "--config", str(no_archive), "--once"]) == 2
    assert "log_archive" in capsys.readouterr().err
    assert main(["watch", "a1", "--config", str(config), "--once", "--contain-at", "urgent"]) == 2


def test_the_loop_stops_cleanly_on_sigterm_with_state_saved(
    compromised: Scene, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import irkit.commands.watch as command

    def terminated(_seconds: float) -> None:
        raise Terminated()

    monkeypatch.setattr(command, "_sleep", terminated)
    state = compromised.tmp / "state"
    code, lines = watch(compromised, "--hours", "3", "--state", str(state), "--interval", "5", capsys=capsys)
    assert code == 0
    assert [line["pass"] for line in lines if line.get("type") == "pass"] == [1]
    saved = orjson.loads((state / "state.json").read_bytes())
    assert saved["passes"] == 1 and saved["reported"]


def test_a_planted_key_is_named_once_and_never_fetched(compromised: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    root = f"AWSLogs/{ORG_ID}/{ACCOUNT}/CloudTrail/us-east-1"
    planted = (
        f"{root}/2099/01/01/../../../../../../../../escape/{ACCOUNT}_CloudTrail_us-east-1_20990101T0000Z_x.json.gz"
    )
    s3 = compromised.world.client("s3")
    s3.put_object(Bucket=ARCHIVE_BUCKET, Key=planted, Body=gzip.compress(b'{"Records": []}'))
    state = compromised.tmp / "state"
    code, lines = watch(compromised, "--once", "--hours", "3", "--state", str(state), capsys=capsys)
    (summary,) = [line for line in lines if line.get("type") == "pass"]
    assert code == 3
    refused = [g for g in summary["gaps"] if g["reason"].startswith("key-refused")]
    assert [g["path"] for g in refused] == [f"s3://{ARCHIVE_BUCKET}/{planted}"]
    assert "iam_role_backdoor_sequence" in {f.get("rule_id") for f in lines}  # the pass went on
    assert not (compromised.tmp / "escape").exists()
    assert not any(p.name.startswith(".incoming-") for p in state.iterdir())  # scratch copies dropped
    code, lines = watch(compromised, "--once", "--state", str(state), capsys=capsys)
    (summary,) = [line for line in lines if line.get("type") == "pass"]
    assert code == 0 and summary["gaps"] == []  # named once


def test_a_damaged_or_foreign_state_is_a_clear_error(compromised: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    state = compromised.tmp / "state"
    state.mkdir()
    (state / "state.json").write_text("{not json", encoding="utf-8")
    assert main(["watch", AGENT, "--config", str(compromised.config), "--once", "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert "not a watch state file" in err and "Traceback" not in err
    (state / "state.json").write_bytes(orjson.dumps({"format": "irkit.watch-state/1", "agent": "someone-else"}))
    assert main(["watch", AGENT, "--config", str(compromised.config), "--once", "--state", str(state)]) == 2
    assert "watches agent 'someone-else'" in capsys.readouterr().err
