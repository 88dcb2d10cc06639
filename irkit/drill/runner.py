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

import shlex
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.aws.session import StaticCredentials
from irkit.config import load_config
from irkit.detect.rule import SEVERITIES
from irkit.drill.iac import DrillUnavailable
from irkit.drill.residual import losses as world_losses
from irkit.drill.residual import residual
from irkit.drill.scenarios import Scenario, all_scenarios, load_scenario
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
    false_positives: list[str] = field(default_factory=list)
    """Findings citing only the agent's normal activity (``rule (severity)``)."""
    time_to_contain: float | None = None
    """Seconds from the run's start to the agent's credentials verified contained."""
    reverted: dict[str, int] = field(default_factory=dict)
    """The revert stage's changes, verified undone, not reversible."""
    ran: bool = True
    """False: the scenario could not be staged here (the IaC drills without terraform): nothing
    was tried, so it neither passed nor showed a failure of the response (``problems`` says why)."""

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
            "false_positives": self.false_positives,
            "time_to_contain": self.time_to_contain,
            "reverted": self.reverted,
            "ran": self.ran,
        }


def select(names: Sequence[str], *, run_all: bool) -> list[Scenario]:
    """Shipped scenarios by name; a name ending in ``.yaml`` is a scenario file of the user's (validated)."""
    known = all_scenarios()
    if run_all:
        return list(known.values())
    if not names:
        return [s for s in known.values() if s.default]
    chosen = []
    for name in names:
        if name.endswith((".yaml", ".yml")):
            chosen.append(load_scenario(Path(name)))
        elif name in known:
            chosen.append(known[name])
        else:
            raise UsageError(f"unknown scenario {name!r} (scenarios: {', '.join(known)}; or a scenario file.yaml)")
    return chosen


def stage(scenario: Scenario, out: Path, endpoint: str, *, echo: Callable[[str], None] = print) -> tuple[World, Path]:
    """Build the world on ``endpoint``, attack it, deliver its trail; returns it and its irkit.yaml."""
    out.mkdir(parents=True, exist_ok=True)
    workdir = out / f"{scenario.name}.world"
    if workdir.exists():
        shutil.rmtree(workdir)  # the previous drill's own files: a fresh world every time
    world = World(endpoint, now=datetime.now(UTC).replace(microsecond=0), workdir=workdir)
    world.build()
    if scenario.setup is not None:
        scenario.setup(world)
    world.background(hours=scenario.background.hours, calls=scenario.background.reads)
    if scenario.benign is not None:
        scenario.benign(world)
    # Everything recorded so far is the agent's normal activity: a finding citing only these is a false positive.
    world.background_ids = frozenset(str(r["eventID"]) for r in world.all_records())
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
    keep_world_minutes: float | None = None,
) -> ScenarioResult:
    """Stage ``scenario`` on a fresh simulator, run the runbook against it (approvals given: the revert
    stage runs), score it by reading the world again. With ``keep_world_minutes`` the simulator stays up
    afterwards (until Ctrl-C or the minutes pass) for by-hand ``resume``/``restore``/``revert``."""
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
                ran=False,
            )
        before = world_state(world)
        case_id = f"DRILL-{world.now:%Y%m%d-%H%M%S}-{scenario.name}"
        try:
            result = start_run(
                load_config(config_path),
                agent_name=AGENT,
                runbook=load_runbook(runbook),
                hours=max(DRILL_HOURS, scenario.background.hours + 0.5),
                out=out,
                dry_run=dry_run,
                assume_yes=True,
                case_id=case_id,
                config_file=config_path,
                credentials=RESPONDER,
                echo=echo,
            )
        except KeyboardInterrupt:
            case_root = out / case_id
            if keep_world_minutes is None:
                echo(
                    f"drill {scenario.name}: interrupted. The simulator stops with the drill, so this case cannot"
                    f" be resumed; run `irkit drill {scenario.name} --keep-world` to rehearse `irkit resume` on a"
                    " world that stays up, or run the drill again."
                )
                raise
            echo(f"drill {scenario.name}: interrupted; the world stays up so the run can be continued by hand.")
            keep_serving(endpoint, config_path, case_root, keep_world_minutes, echo=echo)
            raise
        after = world_state(world)
        findings = _findings(result.case.root)
        detected = sorted({str(f["rule_id"]) for f in findings})
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
        entries = result.case.journal.entries()
        problems.extend(_integrity_problems(entries, scenario.integrity))
        missing = [r for r in scenario.expected if r not in detected]
        if missing:
            problems.append(f"not detected: {', '.join(missing)}")
        false_positives = _false_positives(findings, world.background_ids)
        limit = SEVERITIES.index(scenario.max_severity)
        above = sorted({f"{f['rule_id']} ({f['severity']})" for f in findings if _rank(f) > limit})
        if above:
            problems.append(f"flagged above {scenario.max_severity}: {', '.join(above)}")
        code = result.outcome.exit_code
        if code not in (ExitCode.OK, ExitCode.GAPS):
            problems.append(f"run exited {int(code)}")
        report = result.case.root / "report.md"
        if not report.exists():
            problems.append("no report written")
        losses = world_losses(world)
        outcome = ScenarioResult(
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
            false_positives=false_positives,
            time_to_contain=_time_to_contain(entries),
            reverted=_reverted(entries),
        )
        if keep_world_minutes is not None:
            keep_serving(endpoint, config_path, result.case.root, keep_world_minutes, echo=echo)
    return outcome


def keep_serving(
    endpoint: str,
    config: Path,
    case_root: Path,
    minutes: float,
    *,
    echo: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Keep the simulator up (the caller's ``with simulator()``) until Ctrl-C or ``minutes`` have passed,
    after saying how to use it. Ctrl-C here ends the wait quietly: the world was the point, not a run."""
    case = shlex.quote(str(case_root))
    cfg = shlex.quote(str(config.resolve()))
    echo("")
    echo(f"The drill's world stays up at {endpoint} for {minutes:g} minutes (Ctrl-C stops it).")
    echo(f"Its irkit.yaml: {config.resolve()}")
    # The simulator takes any credentials; they go in a file to source, because any secret-shaped
    # "name=value" irkit prints is masked (a masked export would be a command that does not work).
    env = config.resolve().with_suffix(".env")
    env.write_text(
        f"export IRKIT_CONFIG={cfg}\nexport AWS_ACCESS_KEY_ID=testing\nexport AWS_SECRET_ACCESS_KEY=testing\n",
        encoding="utf-8",
    )
    env.chmod(0o600)
    echo("In another terminal (the simulator's settings and its dummy credentials):")
    echo(f"  source {shlex.quote(str(env))}")
    echo(f"  irkit resume {case}            # continue an interrupted or approval-waiting run")
    echo(f"  irkit restore {case} --dry-run # what undoing the containment would do (then --yes)")
    echo(f"  irkit revert {case} --dry-run  # the revert plan against the live world")
    echo(f"  irkit analyze {shlex.quote(str(case_root / 'evidence'))}")
    echo(f"  irkit contain {AGENT} --dry-run --out {shlex.quote(str(case_root.parent))}")
    deadline = clock() + minutes * 60
    try:
        while (left := deadline - clock()) > 0:
            sleep(min(left, 0.5))
    except KeyboardInterrupt:
        echo("drill: Ctrl-C: stopping the simulator")
        return
    echo(f"drill: {minutes:g} minutes passed: stopping the simulator")


def _findings(case_root: Path) -> list[dict[str, Any]]:
    import orjson

    path = case_root / "findings.json"
    if not path.exists():
        return []
    return [f for f in orjson.loads(path.read_bytes()).get("findings", []) if isinstance(f, dict)]


def _rank(finding: dict[str, Any]) -> int:
    sev = str(finding.get("severity", "low"))
    return SEVERITIES.index(sev) if sev in SEVERITIES else len(SEVERITIES)


def _false_positives(findings: list[dict[str, Any]], background: frozenset[str]) -> list[str]:
    """Findings that cite only the agent's normal activity (rule id and severity, once each)."""
    hits = {
        f"{f['rule_id']} ({f.get('severity', '?')})"
        for f in findings
        if f.get("event_ids") and all(str(e) in background for e in f["event_ids"])
    }
    return sorted(hits)


def _time_to_contain(entries: list[dict[str, Any]]) -> float | None:
    for e in entries:
        if e["kind"] == "step.done" and e["data"].get("type") == "contain":
            value = (e["data"].get("output") or {}).get("time_to_contain_seconds")
            return round(float(value), 2) if isinstance(value, int | float) else None
    return None


def _reverted(entries: list[dict[str, Any]]) -> dict[str, int]:
    """The revert stage's changes: how many, how many verified undone (re-read), how many lost."""
    outputs = [
        e["data"].get("output") or {} for e in entries if e["kind"] == "step.done" and e["data"].get("type") == "revert"
    ]
    changes = [c for c in (outputs[-1].get("changes") or []) if isinstance(c, dict)] if outputs else []
    return {
        "changes": len(changes),
        "undone": sum(1 for c in changes if c.get("status") == "undone" and c.get("verified") is True),
        "lost": sum(1 for c in changes if c.get("reversibility") == "not reversible"),
    }


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


def _residual(world: World) -> list[str]:
    """What of the attacker's is still live, read from the world itself (not from irkit's output)."""
    return residual(world)
