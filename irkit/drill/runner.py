"""Run scenarios end to end: build a world, attack it, run the runbook, check what is left.

A scenario passes when the run finished (exit 0, or 3 with its gaps named), every expected rule
fired, a report was written, and the world afterwards is what the run claims: the agent's keys
inactive and present, its sessions revoked, its console login gone, and nothing of the attacker's
left (``residual``, computed by reading the world again, not from irkit's output). What no call can
bring back (a deleted flow log, a rewritten log version) is listed as ``losses``. In a dry run it
passes only if the world is exactly as it was — IaC repository and terraform state included — and
detection still found the attack.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.aws.session import StaticCredentials
from irkit.config import load_config
from irkit.drill.iac import GOOD_CIDR, DrillUnavailable
from irkit.drill.scenarios import Scenario, all_scenarios
from irkit.drill.server import simulator
from irkit.drill.world import AGENT, AGENT_ROLE, AGENT_USER, World
from irkit.engine.run import start_run
from irkit.engine.runbook import load_runbook
from irkit.errors import ExitCode, UsageError

DRILL_HOURS = 4.0
RESPONDER = StaticCredentials("AKIADRILLRESPONDER00", "drill-responder-secret-not-real")


@dataclass
class ScenarioResult:
    name: str
    passed: bool
    contained: bool
    detected: list[str]
    expected: list[str]
    residual: list[str]
    report: str
    seconds: float
    exit_code: int = 0
    problems: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``drill --json`` scenario shape (docs/contracts.md); keep these keys."""
        return {
            "losses": self.losses,
            "name": self.name,
            "passed": self.passed,
            "contained": self.contained,
            "detected": self.detected,
            "expected": self.expected,
            "residual": self.residual,
            "report": self.report,
            "seconds": self.seconds,
            "exit_code": self.exit_code,
            "problems": self.problems,
        }


def select(names: Sequence[str], *, run_all: bool) -> list[Scenario]:
    known = all_scenarios()
    if run_all:
        return list(known.values())
    if not names:
        return [s for s in known.values() if s.default]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown scenario {unknown[0]!r} (scenarios: {', '.join(known)})")
    return [known[n] for n in names]


def stage(scenario: Scenario, out: Path, endpoint: str, *, echo: Callable[[str], None] = print) -> tuple[World, Path]:
    """Build the world on ``endpoint``, attack it, deliver its trail; returns it and its irkit.yaml."""
    out.mkdir(parents=True, exist_ok=True)
    workdir = out / f"{scenario.name}.world"
    if workdir.exists():
        shutil.rmtree(workdir)  # the previous drill's own files: a fresh world every time
    world = World(endpoint, now=datetime.now(UTC).replace(microsecond=0), workdir=workdir)
    world.build()
    world.background(hours=DRILL_HOURS - 0.5)
    scenario.attack(world)
    files = world.deliver()
    if scenario.after_delivery is not None:
        scenario.after_delivery(world)
    echo(f"drill {scenario.name}: world ready at {endpoint} ({len(world.all_records())} events in {files} files)")
    key = world.write_public_key(out / f"{scenario.name}.cloudtrail-key.pem")
    baseline = world.write_baseline(out / f"{scenario.name}.baseline.json")
    config = world.write_config(
        out / f"{scenario.name}.irkit.yaml", public_key=key.resolve(), baseline=baseline.resolve()
    )
    return world, config


def run_scenario(
    scenario: Scenario,
    *,
    out: Path,
    dry_run: bool = False,
    runbook: str = "agent-compromise",
    echo: Callable[[str], None] = print,
) -> ScenarioResult:
    started = time.monotonic()
    with simulator() as endpoint:
        try:
            world, config_path = stage(scenario, out, endpoint, echo=echo)
        except DrillUnavailable as exc:
            return ScenarioResult(
                scenario.name,
                False,
                False,
                [],
                list(scenario.expected),
                [],
                "",
                round(time.monotonic() - started, 2),
                1,
                [f"cannot run: {exc}"],
            )
        before = world_state(world)
        result = start_run(
            load_config(config_path),
            agent_name=AGENT,
            runbook=load_runbook(runbook),
            hours=DRILL_HOURS,
            out=out,
            dry_run=dry_run,
            assume_yes=True,
            case_id=f"DRILL-{world.now:%Y%m%d-%H%M%S}-{scenario.name}",
            config_file=config_path,
            credentials=RESPONDER,
            echo=echo,
        )
        after = world_state(world)
        detected = sorted(_detected_rules(result.case.root))
        problems: list[str] = []
        residual = _residual(world)
        if dry_run:
            contained = False
            if before != after:
                changed = sorted(k for k in before if before[k] != after.get(k))
                problems.append(f"dry run changed the world ({', '.join(changed)})")
        else:
            problems.extend(_containment_problems(after["iam"]))
            contained = not problems
            if residual:
                problems.append(f"the attacker's changes are still live: {'; '.join(residual)}")
            problems.extend(_iac_problems(world, result.case.journal.entries()))
        problems.extend(_integrity_problems(result.case.journal.entries(), scenario.integrity))
        missing = [r for r in scenario.expected if r not in detected]
        if missing:
            problems.append(f"not detected: {', '.join(missing)}")
        code = result.outcome.exit_code
        if code not in (ExitCode.OK, ExitCode.GAPS):
            problems.append(f"run exited {int(code)}")
        report = result.case.root / "report.md"
        if not report.exists():
            problems.append("no report written")
        losses = [str(item["name"]) for item in world.created_by_attacker if item.get("loss")]
    return ScenarioResult(
        name=scenario.name,
        passed=not problems,
        contained=contained,
        detected=detected,
        expected=list(scenario.expected),
        residual=residual,
        report=str(report),
        seconds=round(time.monotonic() - started, 2),
        exit_code=int(code),
        problems=problems,
        losses=losses,
    )


def iam_state(world: World) -> dict[str, Any]:
    """The agent's IAM state as the world's administrator sees it (not through irkit)."""
    iam = world.client("iam")
    keys = iam.list_access_keys(UserName=AGENT_USER)["AccessKeyMetadata"]
    try:
        iam.get_login_profile(UserName=AGENT_USER)
        login = True
    except iam.exceptions.NoSuchEntityException:
        login = False
    return {
        "keys": sorted((k["AccessKeyId"], k["Status"]) for k in keys),
        "user_policies": {
            n: iam.get_user_policy(UserName=AGENT_USER, PolicyName=n)["PolicyDocument"]
            for n in iam.list_user_policies(UserName=AGENT_USER)["PolicyNames"]
        },
        "role_policies": {
            n: iam.get_role_policy(RoleName=AGENT_ROLE, PolicyName=n)["PolicyDocument"]
            for n in iam.list_role_policies(RoleName=AGENT_ROLE)["PolicyNames"]
        },
        "login_profile": login,
        "trust": iam.get_role(RoleName=AGENT_ROLE)["Role"]["AssumeRolePolicyDocument"],
    }


def _denies_old_tokens(policies: dict[str, Any]) -> bool:
    for doc in policies.values():
        for stmt in doc.get("Statement", []):
            cond = stmt.get("Condition", {}).get("DateLessThan", {})
            if stmt.get("Effect") == "Deny" and "aws:TokenIssueTime" in cond:
                return True
    return False


def _containment_problems(state: dict[str, Any]) -> list[str]:
    problems = []
    if not state["keys"]:
        problems.append("the agent's access keys are gone (they must be kept, inactive)")
    active = [k for k, status in state["keys"] if status != "Inactive"]
    if active:
        problems.append(f"access keys still active: {', '.join(active)}")
    if not _denies_old_tokens(state["user_policies"]):
        problems.append("no aws:TokenIssueTime deny on the agent user")
    if not _denies_old_tokens(state["role_policies"]):
        problems.append("no aws:TokenIssueTime deny on the agent role")
    if state["login_profile"]:
        problems.append("the agent user still has a console login")
    return problems


def _integrity_problems(entries: list[dict[str, Any]], expected: tuple[str, ...]) -> list[str]:
    """The verify step must find exactly the tampering the scenario did, and nothing on a clean trail."""
    outputs = [
        e["data"].get("output", {}) for e in entries if e["kind"] == "step.done" and e["data"].get("type") == "verify"
    ]
    if not outputs:
        return ["the digest chain was not verified"]
    kinds = {str(p.get("kind")) for p in outputs[-1].get("problems", [])}
    if not expected and kinds:
        return [f"digest chain reported on an untampered trail: {', '.join(sorted(kinds))}"]
    missing = [k for k in expected if k not in kinds]
    return [f"digest chain did not report: {', '.join(missing)}"] if missing else []


def _detected_rules(case_root: Path) -> set[str]:
    import orjson

    path = case_root / "findings.json"
    if not path.exists():
        return set()
    return {str(f["rule_id"]) for f in orjson.loads(path.read_bytes()).get("findings", [])}


def world_state(world: World) -> dict[str, Any]:
    """What a dry run must leave as it was: the agent's IAM, the attacker's changes, the IaC."""
    return {
        "iam": iam_state(world),
        "attacker": _residual(world),
        "iac": world.iac.fingerprint() if world.iac is not None else None,
    }


def _iac_problems(world: World, entries: list[dict[str, Any]]) -> list[str]:
    """With IaC: a revert commit on irkit/revert-<case>, and a clean terraform plan after the apply."""
    if world.iac is None:
        return []
    outputs = [
        e["data"].get("output", {}) for e in entries if e["kind"] == "step.done" and e["data"].get("type") == "revert"
    ]
    if not outputs:
        return ["the revert step did not run"]
    out = outputs[-1]
    problems = []
    git = out.get("git") or {}
    branch = str(git.get("branch") or "")
    if git.get("status") not in ("created", "exists") or not branch:
        problems.append(f"no revert branch created (git: {git.get('status')})")
    else:
        log = world.iac.git("log", "-1", "--format=%B", f"refs/heads/{branch}")
        if "This reverts commit" not in log:
            problems.append(f"{branch} holds no revert commit")
    rows = out.get("terraform") or []
    if not rows or not all(r.get("converged") is True for r in rows):
        problems.append(f"terraform did not converge after the revert: {[r.get('status') for r in rows]}")
    return problems


def _has_policies(iam: Any, kind: str, name: str) -> list[str]:
    irkit_own = {"AWSRevokeOlderSessions", "irkit-revoke-older-sessions"}
    if kind == "role":
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
    else:
        attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
        inline = iam.list_user_policies(UserName=name)["PolicyNames"]
    return [str(a["PolicyArn"]) for a in attached] + [str(n) for n in inline if n not in irkit_own]


def _rule_live(world: World, item: dict[str, str]) -> bool:
    rules = world.client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [item["group"]]}]
    )["SecurityGroupRules"]
    return any(
        not r.get("IsEgress") and r.get("CidrIpv4") == item["cidr"] and str(r.get("FromPort")) == item["port"]
        for r in rules
    )


def _residual(world: World) -> list[str]:
    """What of the attacker's is still live, read from the world itself (not from irkit's output)."""
    iam = world.client("iam")
    left = []
    for item in world.created_by_attacker:
        kind = item["kind"]
        if item.get("loss"):
            continue
        if kind == "role":
            try:
                trust = iam.get_role(RoleName=item["name"])["Role"]["AssumeRolePolicyDocument"]
            except iam.exceptions.NoSuchEntityException:
                continue
            allows = any(s.get("Effect") == "Allow" for s in trust.get("Statement", []))
            policies = _has_policies(iam, "role", item["name"])
            if allows or policies:
                left.append(f"iam role {item['name']}" + (f" with {', '.join(policies)}" if policies else ""))
        elif kind == "access_key":
            keys = iam.list_access_keys(UserName=item["user"])["AccessKeyMetadata"]
            if any(k["AccessKeyId"] == item["name"] and k["Status"] == "Active" for k in keys):
                left.append(f"access key {item['name']} of {item['user']} (Active)")
        elif kind == "user":
            try:
                keys = iam.list_access_keys(UserName=item["name"])["AccessKeyMetadata"]
            except iam.exceptions.NoSuchEntityException:
                continue
            armed = [k["AccessKeyId"] for k in keys if k["Status"] == "Active"] + _has_policies(
                iam, "user", item["name"]
            )
            try:
                iam.get_login_profile(UserName=item["name"])
                armed.append("console password")
            except iam.exceptions.NoSuchEntityException:
                pass
            if armed:
                left.append(f"iam user {item['name']} ({', '.join(armed)})")
        elif kind == "instances":
            ec2 = world.client("ec2", item["region"])
            ids = [i for i in item["ids"].split(",") if i]
            found = ec2.describe_instances(InstanceIds=ids)["Reservations"] if ids else []
            running = [
                i
                for r in found
                for i in r["Instances"]
                if i["State"]["Name"] not in ("terminated", "shutting-down", "stopped", "stopping")
            ]
            if running:
                left.append(f"{len(running)} instances {item['name']} running in {item['region']}")
        elif kind in ("sg-rule", "iac-ingress"):
            if _rule_live(world, item):
                left.append(f"security group rule {item['name']}")
            if kind == "iac-ingress" and world.iac is not None and world.iac.state_cidr() != GOOD_CIDR:
                left.append(f"terraform state still holds {world.iac.state_cidr()} (before: {GOOD_CIDR})")
        elif kind == "db-replica":
            rds = world.client("rds", item["region"])
            dbs = rds.describe_db_instances()["DBInstances"]
            if any(d["DBInstanceIdentifier"] == item["id"] and d.get("DBInstanceStatus") != "deleting" for d in dbs):
                left.append(f"database replica {item['name']}")
        elif kind == "bucket":
            left.extend(_bucket_left(world, item["bucket"]))
        elif kind == "trail":
            if not world.client("cloudtrail").get_trail_status(Name=item["trail"]).get("IsLogging"):
                left.append(f"trail {item['trail']} not logging")
        elif kind == "event-selectors":
            selectors = (
                world.client("cloudtrail").get_event_selectors(TrailName=item["trail"]).get("EventSelectors") or []
            )
            if not any(s.get("ReadWriteType") == "All" and s.get("IncludeManagementEvents") for s in selectors):
                left.append(f"trail {item['trail']} event selectors still narrowed")
        else:
            left.append(f"{kind} {item['name']}")
    return left


def _bucket_left(world: World, bucket: str) -> list[str]:
    s3 = world.client("s3")
    left = []
    try:
        policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        if '"*"' in policy:
            left.append(f"bucket {bucket} policy open to everyone")
    except s3.exceptions.ClientError:
        pass
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        block = {}
    if not (block.get("BlockPublicPolicy") and block.get("RestrictPublicBuckets")):
        left.append(f"bucket {bucket} public access not blocked")
    return left
