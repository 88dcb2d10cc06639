"""The revert stage end to end on the drill's world: real git, real terraform (offline), moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from irkit.cli import app
from irkit.config import load_config
from irkit.drill.iac import GOOD_CIDR, HUMAN
from irkit.drill.runner import DRILL_HOURS, RESPONDER, stage, world_state
from irkit.drill.scenarios import all_scenarios
from irkit.drill.server import simulator
from irkit.drill.world import AGENT, AGENT_USER, World
from irkit.engine.run import RunResult, resume_run, start_run
from irkit.engine.runbook import load_runbook
from irkit.errors import ExitCode
from irkit.iac.terraform import Terraform, installed_providers, local_state

pytestmark = pytest.mark.slow


def quiet(_line: str) -> None:
    return None


@contextmanager
def staged(name: str, out: Path) -> Iterator[tuple[World, Path]]:
    with simulator() as endpoint:
        yield stage(all_scenarios()[name], out, endpoint, echo=quiet)


def contain(world: World, config: Path, out: Path, **kwargs: Any) -> RunResult:
    return start_run(
        load_config(config),
        agent_name=AGENT,
        runbook=load_runbook("agent-compromise"),
        hours=DRILL_HOURS,
        out=out,
        case_id=f"IR-{world.now:%H%M%S}",
        config_file=config,
        credentials=RESPONDER,
        echo=quiet,
        **kwargs,
    )


def revert_output(result: RunResult) -> dict[str, Any]:
    done = [e for e in result.case.journal.entries() if e["kind"] == "step.done" and e["step"] == "revert"]
    assert done, "the revert step did not finish"
    out: dict[str, Any] = done[-1]["data"]["output"]
    return out


def rules(world: World) -> list[tuple[int, str]]:
    got = world.client("ec2").describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [world.app_sg]}])
    return sorted((int(r["FromPort"]), str(r["CidrIpv4"])) for r in got["SecurityGroupRules"] if not r["IsEgress"])


def key_status(world: World, user: str, key: str) -> str:
    keys = world.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return next(str(k["Status"]) for k in keys if k["AccessKeyId"] == key)


def made(world: World, kind: str) -> list[dict[str, str]]:
    return [i for i in world.created_by_attacker if i["kind"] == kind]


def test_contain_yes_undoes_the_whole_compromise_and_verifies_it(tmp_path: Path) -> None:
    with staged("full-compromise", tmp_path) as (world, config):
        assert world.iac is not None
        main_before = world.iac.git("rev-parse", "main")

        result = contain(world, config, tmp_path, assume_yes=True)

        assert result.outcome.exit_code in (ExitCode.OK, ExitCode.GAPS), result.outcome.steps
        iam = world.client("iam")
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="ops-maintenance-automation")
        for key in made(world, "access_key"):
            assert key_status(world, key["user"], key["name"]) == "Inactive"  # kept, never deleted
        assert rules(world) == [(443, GOOD_CIDR)]  # 4444 and 0.0.0.0/0 gone, the app's rule back
        (instances,) = made(world, "instances")
        found = world.client("ec2", instances["region"]).describe_instances(InstanceIds=instances["ids"].split(","))
        assert {i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]} == {"stopped"}
        assert world.client("cloudtrail").get_trail_status(Name="org-trail")["IsLogging"] is True
        # IaC: a revert commit on irkit/revert-<case>, the base untouched, the state as before, a clean plan.
        branch = f"irkit/revert-{result.case.case_id}"
        assert "This reverts commit" in world.iac.git("log", "-1", "--format=%B", branch)
        assert world.iac.git("rev-parse", "main") == main_before
        assert world.iac.state_cidr() == GOOD_CIDR
        checkout = tmp_path / "branch-checkout"
        world.iac.git("worktree", "add", "--quiet", str(checkout), branch)
        tf = Terraform(
            checkout / "prod",
            binary=world.iac.binary,
            state=local_state(world.iac.tf_dir),
            env={"TF_CLI_CONFIG_FILE": str(world.iac.cli_config)},
        )
        providers = installed_providers(world.iac.tf_dir)
        tf.init(plugin_dirs=[providers] if providers else ())
        assert tf.converged()[0] is True
        # Every change, its undo, its path and its verification, as the report reads them.
        out = revert_output(result)
        names = {c["event_name"] for c in out["changes"]}
        assert {
            "CreateRole",
            "AttachRolePolicy",
            "CreateAccessKey",
            "CreateUser",
            "RunInstances",
            "StopLogging",
            "AuthorizeSecurityGroupIngress",
        } <= names
        assert all(c["status"] == "undone" and c["verified"] for c in out["changes"]), out["changes"]
        by_path = {(c["event_name"], c["path"]) for c in out["changes"]}
        assert ("AuthorizeSecurityGroupIngress", "iac") in by_path and (
            "AuthorizeSecurityGroupIngress",
            "api",
        ) in by_path
        assert all(c["verification"] for c in out["changes"])
        assert [r["status"] for r in out["terraform"]] == ["applied"] and out["terraform"][0]["converged"] is True
        assert out["git"]["status"] == "created"
        assert world_state(world)["attacker"] == []
        # The report lists every change, its undo and what the re-read found, and the revert commit.
        report = (result.case.root / "report.md").read_text(encoding="utf-8")
        section = report.split("## Revert", 1)[1].split("\n## ", 1)[0]
        for name in names:
            assert f"| {name} " in section
        assert section.count("verified: undone") == len(out["changes"])
        assert "This reverts" not in section and "irkit/revert-" in section
        assert out["terraform"][0]["sha256"] in section


def test_a_dry_run_prints_the_whole_plan_and_changes_nothing_iac_included(tmp_path: Path) -> None:
    with staged("full-compromise", tmp_path) as (world, config):
        assert world.iac is not None
        before = world_state(world)

        result = contain(world, config, tmp_path, dry_run=True)

        assert world_state(world) == before  # IAM, every attacker change, refs, work tree, state
        plan = json.loads((result.case.root / "plans" / "revert.json").read_text())
        kinds = [a["kind"] for a in plan["actions"]]
        assert kinds[:3] == ["git-revert", "git-branch", "terraform-apply"]
        assert {
            "iam:DeleteRole",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:StopInstances",
            "cloudtrail:StartLogging",
            "iam:UpdateAccessKey",
        } <= set(kinds)
        (root,) = plan["data"]["revert"]["iac"]["roots"]
        assert [c["address"] for c in root["plan"]["changes"]] == ["null_resource.app_ingress"]
        assert not [e for e in result.case.journal.entries() if e["kind"] == "action.start" and e["step"] == "revert"]


def test_without_yes_the_run_stops_at_the_gate_and_resume_applies_exactly_that_plan(tmp_path: Path) -> None:
    with staged("iac-drift", tmp_path) as (world, config):
        assert world.iac is not None
        result = contain(world, config, tmp_path)  # no --yes, no terminal

        assert result.outcome.exit_code == ExitCode.AWAITING_APPROVAL
        assert result.outcome.awaiting == "revert"
        assert (443, "0.0.0.0/0") in rules(world)  # nothing reverted yet
        shown = (result.case.root / "plans" / "revert.json").read_bytes()
        plan = json.loads(shown)

        resumed = resume_run(result.case.root, approvals=["revert"], credentials=RESPONDER, echo=quiet)

        assert resumed.outcome.exit_code in (ExitCode.OK, ExitCode.GAPS)
        assert (result.case.root / "plans" / "revert.json").read_bytes() == shown  # not re-planned
        started = [
            e["data"]["action"]
            for e in resumed.case.journal.entries()
            if e["kind"] == "action.start" and e["step"] == "revert"
        ]
        applied = [a for a in started if a["kind"] == "terraform-apply"]
        planned = [a for a in plan["actions"] if a["kind"] == "terraform-apply"]
        assert [a["params"]["sha256"] for a in applied] == [a["params"]["sha256"] for a in planned]
        assert rules(world) == [(443, GOOD_CIDR)]
        assert world.iac.state_cidr() == GOOD_CIDR


def test_a_stale_plan_is_reported_and_never_retried(tmp_path: Path) -> None:
    with staged("iac-drift", tmp_path) as (world, config):
        assert world.iac is not None
        result = contain(world, config, tmp_path)
        assert result.outcome.awaiting == "revert"
        # After the approval was asked, someone else applies a change: the saved plan is stale.
        world.iac.commit("ops: temporary rule", cidr="10.30.0.0/16", who=HUMAN, when=world.now)
        world.iac.apply(world._admin_env())

        resumed = resume_run(result.case.root, approvals=["revert"], credentials=RESPONDER, echo=quiet)

        out = revert_output(resumed)
        (row,) = out["terraform"]
        assert row["status"] == "stale" and row["converged"] is False
        assert world.iac.state_cidr() == "10.30.0.0/16"  # irkit applied nothing over it
        assert resumed.outcome.exit_code == ExitCode.GAPS
        assert any("stale" in g.reason and "plan and approve again" in g.reason for g in resumed.outcome.gaps)


def test_an_agent_commit_touching_ci_is_reverted_and_a_conflict_stops_the_iac_revert(tmp_path: Path) -> None:
    from datetime import timedelta

    from irkit.drill.iac import AGENT_IDENTITY

    with staged("iac-drift", tmp_path) as (world, config):
        iac = world.iac
        assert iac is not None
        workflow = iac.repo / ".github" / "workflows" / "deploy.yml"
        workflow.parent.mkdir(parents=True)
        workflow.write_text(
            "on: push\njobs: {deploy: {runs-on: ubuntu-latest, steps: [{run: terraform apply -auto-approve}]}}\n"
        )
        ci = iac.commit(
            "ci: deploy on every push", cidr="0.0.0.0/0", who=AGENT_IDENTITY, when=world.now - timedelta(minutes=60)
        )
        # A human edits the very line the agent changed: reverting the widening conflicts.
        iac.commit(
            "ops: narrow to the load balancer", cidr="0.0.0.0/1", who=HUMAN, when=world.now - timedelta(minutes=30)
        )

        result = contain(world, config, tmp_path, assume_yes=True)

        plan = json.loads((result.case.root / "plans" / "revert.json").read_text())
        commits = {c["sha"]: c for c in plan["data"]["revert"]["iac"]["commits"]}
        assert commits[ci]["pipeline"] == ["CI workflow: .github/workflows/deploy.yml"]
        assert commits[ci]["outcome"]["status"] == "reverted"
        (widen,) = [c for c in commits.values() if c["sha"] != ci]
        assert widen["outcome"]["status"] == "conflict" and widen["outcome"]["conflicts"] == ["prod/main.tf"]
        assert any("[PIPELINE: CI workflow" in a["detail"] for a in plan["actions"] if a["kind"] == "git-revert")
        out = revert_output(result)
        assert out["git"]["status"] == "conflict" and out["git"]["conflicts"] == ["prod/main.tf"]
        branch = f"irkit/revert-{result.case.case_id}"
        assert 'Revert "ci: deploy on every push"' in iac.git("log", "-1", "--format=%s", branch)
        assert ".github/workflows/deploy.yml" not in iac.git("ls-tree", "-r", "--name-only", branch).split()
        assert [r["status"] for r in out["terraform"]] == ["refused"]
        # Terraform was not applied, so the rule terraform would have restored is undone through the API.
        assert (443, "0.0.0.0/0") not in rules(world)
        assert any("conflict" in g.reason for g in result.outcome.gaps)


def test_irkit_revert_shows_waits_then_applies_the_pending_plan(tmp_path: Path) -> None:
    runner = CliRunner()
    with staged("hidden-admin-role", tmp_path) as (world, config):
        result = contain(world, config, tmp_path)
        assert result.outcome.awaiting == "revert"
        case = str(result.case.root)
        iam = world.client("iam")

        dry = runner.invoke(app, ["revert", case, "--dry-run", "--json"])
        assert dry.exit_code in (0, 3), dry.output
        doc = json.loads(dry.stdout)
        assert doc["dry_run"] is True and doc["applied"] is False
        assert "iam:DeleteRole" in [a["kind"] for a in doc["plan"]["actions"]]
        iam.get_role(RoleName="ops-maintenance-automation")  # still there

        applied = runner.invoke(app, ["revert", case, "--yes", "--json"])

        assert applied.exit_code in (0, 3), applied.output
        doc = json.loads(applied.stdout)
        assert doc["plan"]["file"] == "plans/revert.json"  # the plan of the gate, exactly
        assert all(c["verified"] for c in doc["revert"]["changes"])
        with pytest.raises(iam.exceptions.NoSuchEntityException):
            iam.get_role(RoleName="ops-maintenance-automation")
        again = runner.invoke(app, ["revert", case])  # a new plan: nothing left to do
        assert again.exit_code in (0, 3), again.output
        assert "(nothing to change)" in again.output
        assert key_status(world, AGENT_USER, made(world, "access_key")[0]["name"]) == "Inactive"
