"""Planning decisions on a hand-made case folder: which events become changes, chains, covers, caps, links."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from irkit.aws.session import Aws
from irkit.config import load_config
from irkit.core.case import Case, CaseMeta
from irkit.core.context import RunContext
from irkit.steps.revert import Revert
from tests.iac.conftest import Offline, offline  # noqa: F401 - the fixture, shared
from tests.iac.gitrepo import AGENT, init_repo
from tests.iac.tfproject import ingress_tf, write
from tests.revert.conftest import ACCOUNT, TRUST_EC2, Sim

NOW = datetime.now(UTC).replace(microsecond=0)


def make_case(
    tmp_path: Path, sim: Sim, records: list[dict[str, Any]], flagged: list[str], extra: str = ""
) -> RunContext:
    config = tmp_path / "irkit.yaml"
    config.write_text(
        f"aws:\n  region: us-east-1\n  endpoint_url: {sim.endpoint}\nagents:\n  infra-optimizer:\n"
        f'    account: "{ACCOUNT}"\n    principals:\n      - arn:aws:iam::{ACCOUNT}:user/agent-infra-bot\n' + extra,
        encoding="utf-8",
    )
    start = NOW - timedelta(hours=4)
    meta = CaseMeta(
        "IR-PLAN",
        "infra-optimizer",
        "agent-compromise",
        4.0,
        False,
        NOW.isoformat(),
        start.isoformat(),
        NOW.isoformat(),
    )
    case = Case.create(tmp_path / "cases", meta, config_text=config.read_text(), runbook_text="")
    logs = case.evidence_dir / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1"
    logs.mkdir(parents=True)
    for i, rec in enumerate(records):
        rec["eventTime"] = (NOW - timedelta(minutes=60 - i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (logs / "log.json").write_text(json.dumps({"Records": records}), encoding="utf-8")
    case.write_json(
        "findings.json",
        {"findings": [{"rule_id": "test_rule", "event_ids": flagged, "attribution": "userIdentity.arn"}]},
    )
    settings = load_config(config)
    return RunContext(
        settings=settings,
        agent=settings.agent("infra-optimizer"),
        case=case,
        aws=Aws(settings.aws),
        journal=case.journal,
        window_start=start,
        window_end=NOW,
    )


def plan(ctx: RunContext, **options: Any) -> Any:
    return Revert("revert", options).plan(ctx)


def changes(p: Any) -> dict[str, dict[str, Any]]:
    return {c["event_name"]: c for c in p.data["revert"]["changes"]}


def test_only_flagged_successful_writes_become_changes(tmp_path: Path, sim: Sim) -> None:
    sim.boto("iam").create_user(UserName="app-user")
    flagged = sim.attack("iam", "CreateAccessKey", UserName="app-user")
    benign = sim.attack("iam", "CreateAccessKey", UserName="app-user")  # attributed, not flagged: untouched
    failed = sim.attack("iam", "DeleteUser", UserName="no-such-user")  # flagged but it failed
    read = sim.attack("iam", "ListUsers")
    ctx = make_case(
        tmp_path, sim, [flagged, benign, failed, read], [flagged["eventID"], failed["eventID"], read["eventID"]]
    )

    p = plan(ctx)

    assert list(changes(p)) == ["CreateAccessKey"]
    (action,) = p.actions
    assert action.kind == "iam:UpdateAccessKey"
    assert flagged["responseElements"]["accessKey"]["accessKeyId"] in action.target
    assert benign["responseElements"]["accessKey"]["accessKeyId"] not in action.target


def test_a_create_then_delete_chain_needs_no_undo(tmp_path: Path, sim: Sim) -> None:
    sim.boto("iam").create_user(UserName="app-user")
    created = sim.attack("iam", "CreateAccessKey", UserName="app-user")
    key = created["responseElements"]["accessKey"]["accessKeyId"]
    deleted = sim.attack("iam", "DeleteAccessKey", UserName="app-user", AccessKeyId=key)
    ctx = make_case(tmp_path, sim, [created, deleted], [created["eventID"], deleted["eventID"]])

    p = plan(ctx)

    assert p.actions == ()
    (row,) = p.data["revert"]["collapsed"]
    assert row["event_id"] == created["eventID"] and row["deleted_by"] == deleted["eventID"]


def test_changes_on_a_principal_the_attacker_created_are_covered_by_its_undo(tmp_path: Path, sim: Sim) -> None:
    user = sim.attack("iam", "CreateUser", UserName="svc-backup-sync")
    attach = sim.attack("iam", "AttachUserPolicy", UserName="svc-backup-sync", PolicyArn=sim.managed_policy())
    ctx = make_case(tmp_path, sim, [user, attach], [user["eventID"], attach["eventID"]])

    p = plan(ctx)

    rows = changes(p)
    assert rows["AttachUserPolicy"]["covered_by"] == user["eventID"]
    assert [a.kind for a in p.actions].count("iam:DetachUserPolicy") == 1  # once, by the user's teardown


def test_an_event_without_inverse_is_a_gap_for_a_human(tmp_path: Path, sim: Sim) -> None:
    rec = sim.attack("iam", "CreateGroup", GroupName="shadow-admins")
    ctx = make_case(tmp_path, sim, [rec], [rec["eventID"]])
    p = plan(ctx)
    assert any("no registered inverse" in g.reason for g in p.gaps)
    assert p.data["revert"]["unknown"][0]["event_name"] == "CreateGroup"


def test_over_max_actions_nothing_is_applied(tmp_path: Path, sim: Sim) -> None:
    sim.boto("iam").create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    rec = sim.attack("iam", "AttachRolePolicy", RoleName="app-role", PolicyArn=sim.managed_policy())
    key = sim.attack("iam", "CreateAccessKey", UserName="agent-infra-bot")
    ctx = make_case(tmp_path, sim, [rec, key], [rec["eventID"], key["eventID"]])
    step = Revert("revert", {"max_actions": 1})
    p = step.plan(ctx)
    assert len(p.actions) == 2 and any("over max_actions=1" in n for n in p.notes)

    result = step.apply(ctx, p)

    assert result.summary == "refused: too many actions"
    assert sim.boto("iam").list_attached_role_policies(RoleName="app-role")["AttachedPolicies"]  # untouched


def test_terraform_is_not_applied_when_its_plan_touches_what_the_attack_does_not_explain(
    tmp_path: Path,
    sim: Sim,
    offline: Offline,  # noqa: F811 - the shared fixture
) -> None:
    ec2 = sim.boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="app-web", Description="app", VpcId=vpc)["GroupId"]
    repo = init_repo(tmp_path / "infra")
    live = write(repo.path / "prod", ingress_tf("0.0.0.0/0", group=group))
    offline.run(live, "init")
    offline.run(live, "apply", "-auto-approve")
    (repo.path / ".gitignore").write_text(".terraform/\n*.tfstate*\n")
    repo.commit("infra", when=NOW - timedelta(days=9))
    # Someone else's change, merged and not applied: the base plan creates a resource no event explains.
    write(live, ingress_tf("0.0.0.0/0", group=group) + 'resource "null_resource" "pending" {}\n')
    repo.commit("pending work", when=NOW - timedelta(days=1))
    rec = sim.attack(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    extra = (
        f'    git:\n      repo: {repo.path}\n      authors: ["{AGENT[1]}"]\n'
        f"    terraform:\n      dir: {live}\n      binary: {offline.binary}\n"
        f"      cli_config: {offline.env['TF_CLI_CONFIG_FILE']}\n"
    )
    ctx = make_case(tmp_path, sim, [rec], [rec["eventID"]], extra)
    state_before = (live / "terraform.tfstate").read_bytes()

    p = plan(ctx)

    (root,) = p.data["revert"]["iac"]["roots"]
    assert "null_resource.pending" in root["refused"]
    assert "terraform-apply" not in [a.kind for a in p.actions]
    row = changes(p)["AuthorizeSecurityGroupIngress"]
    assert row["managed_by"].endswith(":null_resource.ingress")
    assert row["path"] == "api"  # terraform will not apply: the API undoes it
    assert any("not applied" in g.reason for g in p.gaps)
    assert (live / "terraform.tfstate").read_bytes() == state_before
    assert repo.git("branch", "--list", "irkit/*") == ""


def test_an_agent_principal_created_in_the_window_is_never_deleted(tmp_path: Path, sim: Sim) -> None:
    rec = sim.attack("iam", "CreateRole", RoleName="agent-helper", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    ctx = make_case(tmp_path, sim, [rec], [rec["eventID"]], f"      - arn:aws:iam::{ACCOUNT}:role/agent-helper\n")
    p = plan(ctx)
    assert p.actions == ()
    assert changes(p)["CreateRole"]["status"] == "manual"
    assert any("agent principal" in g.reason for g in p.gaps)
