"""Run scenarios end to end: build a world, attack it, run the runbook, check what is left.

A scenario passes when the run finished (exit 0, or 3 with its gaps named), every expected rule
fired, a report was written, and the world afterwards is what the run claims: the agent's keys
inactive and present, its sessions revoked, its console login gone. In a dry run it passes only
if the world is exactly as it was and detection still found the attack.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.aws.session import StaticCredentials
from irkit.config import load_config
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

    def to_json(self) -> dict[str, Any]:
        """The ``drill --json`` scenario shape (docs/contracts.md); keep these keys."""
        return {
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


def run_scenario(
    scenario: Scenario,
    *,
    out: Path,
    dry_run: bool = False,
    runbook: str = "agent-compromise",
    echo: Callable[[str], None] = print,
) -> ScenarioResult:
    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    with simulator() as endpoint:
        world = World(endpoint, now=datetime.now(UTC).replace(microsecond=0))
        world.build()
        world.background(hours=DRILL_HOURS - 0.5)
        scenario.attack(world)
        files = world.deliver()
        if scenario.after_delivery is not None:
            scenario.after_delivery(world)
        echo(f"drill {scenario.name}: world ready at {endpoint} ({len(world.all_records())} events in {files} files)")
        key = world.write_public_key(out / f"{scenario.name}.cloudtrail-key.pem")
        baseline = world.write_baseline(out / f"{scenario.name}.baseline.json")
        config_path = world.write_config(
            out / f"{scenario.name}.irkit.yaml", public_key=key.resolve(), baseline=baseline.resolve()
        )
        before = iam_state(world)
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
        after = iam_state(world)
        detected = sorted(_detected_rules(result.case.root))
        problems: list[str] = []
        if dry_run:
            contained = False
            if before != after:
                problems.append("dry run changed the world")
        else:
            problems.extend(_containment_problems(after))
            contained = not problems
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
        residual = _residual(world)
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


def _residual(world: World) -> list[str]:
    """What the attacker created that still exists (irkit never deletes: a human decides)."""
    iam = world.client("iam")
    left = []
    for item in world.created_by_attacker:
        if item["kind"] == "role":
            try:
                trust = iam.get_role(RoleName=item["name"])["Role"]["AssumeRolePolicyDocument"]
            except iam.exceptions.NoSuchEntityException:
                continue
            allows = any(s.get("Effect") == "Allow" for s in trust.get("Statement", []))
            left.append(f"iam role {item['name']}" + ("" if allows else " (trust locked by irkit)"))
        elif item["kind"] == "access_key":
            keys = iam.list_access_keys(UserName=item["user"])["AccessKeyMetadata"]
            status = next((k["Status"] for k in keys if k["AccessKeyId"] == item["name"]), None)
            if status:
                left.append(f"access key {item['name']} of {item['user']} ({status})")
        elif item["kind"] == "user":
            try:
                iam.get_user(UserName=item["name"])
                left.append(f"iam user {item['name']}")
            except iam.exceptions.NoSuchEntityException:
                continue
        elif item["kind"] == "instances":
            ec2 = world.client("ec2", item["region"])
            ids = [i for i in item["ids"].split(",") if i]
            found = ec2.describe_instances(InstanceIds=ids)["Reservations"] if ids else []
            alive = [
                i for r in found for i in r["Instances"] if i["State"]["Name"] not in ("terminated", "shutting-down")
            ]
            if alive:
                left.append(f"{len(alive)} instances {item['name']} in {item['region']}")
        else:
            left.append(f"{item['kind']} {item['name']}")
    return left
