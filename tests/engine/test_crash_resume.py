"""Crash + resume: SIGKILL `irkit contain` at every journal boundary, resume, compare with a clean run.

The world (an agent with a role and a user, on a moto server that outlives the killed process) is
built afresh for every kill point. ``irkit contain`` runs in a child process with the journal's
test-only crash hook set (``IRKIT_TEST_CRASH_JOURNAL``): the process SIGKILLs itself

* ``after:N``  right after entry N is fsynced (every boundary of the run but those right after an
  ``action.done``, which equal the next boundary; ``IRKIT_CRASH_EVERY=1`` adds them),
* ``before:N`` right before entry N is written, for every ``action.done`` (the IAM call has been
  made, its outcome is not on disk: the crash that matters most) and the step's ``step.done``,
* ``torn:N``   halfway through writing entry N (a torn final line, mid-step).

Then ``irkit resume CASE --yes`` runs (no hook) and the result must match an uninterrupted run:
the same IAM state of the agent's keys, policies, login profile, trust and tags; the same
snapshots (taken before containment touched anything, never re-taken from a contained principal);
the same set of applied actions, none journaled as applied twice; one ``step.done`` per step; the
chain intact; exit 0. The runbook is ``revoke`` (workers: 1, so the entry order is the same every
run) + ``report``: every mutation of the shipped runbook's first step, on a world small enough that
all kill points fit in well under a minute (see docs/reliability.md for the figures).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from irkit.core.journal import CRASH_ENV, check_chain, read_entries, verify_chain
from irkit.core.lock import LOCK_FILE
from irkit.drill.server import reset
from tests.contain.conftest import ROLE, ROLE_ARN, USER, USER_ARN, build_agent, write_config
from tests.engine import crash_child

WORKTREE = Path(__file__).resolve().parents[2]
RUNBOOK = "name: crash-harness\nsteps:\n  - step: contain\n    id: contain\n    with: {workers: 1}\n  - step: report\n"
CASE = "IR-crash"
CHILD_TIMEOUT = 120

# Re-planned on every run of the step and harmless to repeat (the same policy put again with a later
# cutoff, the same tag): a resumed step may apply these again. Every other kind is planned from what
# IAM says now (an Inactive key is not deactivated again) and must be applied once.
IDEMPOTENT = {"revoke-role-sessions", "deny-user-sessions", "tag-principal"}

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


@dataclass
class Run:
    """What one case ended with, normalised (key ids, case ids and times replaced by placeholders)."""

    state: Any
    snapshots: Any
    applied: Counter[str]
    done: Counter[str]
    steps_done: Counter[str]
    entries: list[dict[str, Any]]
    code: int


class Harness:
    def __init__(self, endpoint: str, root: Path) -> None:
        self.endpoint = endpoint
        self.root = root
        self.iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint)
        self.config = write_config(root / "irkit.yaml", endpoint, [ROLE_ARN, USER_ARN])
        self.runbook = root / "crash-harness.yaml"
        self.runbook.write_text(RUNBOOK, encoding="utf-8")
        self.keys: list[str] = []
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["tests.engine.crash_child"])
        self.mp = ctx

    def fresh_world(self) -> None:
        reset(self.endpoint, timeout=10)
        self.keys = build_agent(self.iam)

    def contain_argv(self, out: Path) -> list[str]:
        return [
            "contain", "infra-optimizer", "--config", str(self.config), "--runbook", str(self.runbook),
            "--case", CASE, "--out", str(out), "--yes", "--hours", "1",
        ]  # fmt: skip

    def child(self, argv: list[str], log: Path, crash: str | None = None) -> int:
        env = {CRASH_ENV: crash} if crash else {}
        proc = self.mp.Process(target=crash_child.run_irkit, args=(argv, env, str(log)))
        proc.start()
        proc.join(CHILD_TIMEOUT)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            raise AssertionError(f"irkit {argv[0]} hung; log: {log.read_text(errors='replace')[-2000:]}")
        return int(proc.exitcode)

    def subprocess(self, argv: list[str], crash: str | None = None) -> subprocess.CompletedProcess[str]:
        """The same run through a fresh interpreter (the console-script path), for a few points."""
        env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
        env["PYTHONPATH"] = str(WORKTREE)
        if crash:
            env[CRASH_ENV] = crash
        code = "import sys; from irkit.cli import main; sys.exit(main(sys.argv[1:]))"
        return subprocess.run(
            [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT
        )

    def observe(self, case: Path, code: int) -> Run:
        entries = list(read_entries(case / "journal.jsonl"))

        def actions(*kinds: str) -> Counter[str]:
            return Counter(
                self.normal(orjson.dumps(e["data"]["action"], option=orjson.OPT_SORT_KEYS).decode())
                for e in entries
                if e["kind"] in kinds
            )

        # Applied: journaled done, or journaled interrupted (attempted when the process died, its outcome
        # never written: the IAM state compared beside it shows that it took effect).
        applied = actions("action.done", "action.interrupted")
        done = actions("action.done")
        steps: Counter[str] = Counter(str(e["step"]) for e in entries if e["kind"] == "step.done")
        snaps = {p.name: self.normal_json(p.read_bytes()) for p in sorted((case / "snapshots").glob("*.json"))}
        for snap in snaps.values():  # listed in key-id order, and ids are random in every world
            snap["access_keys"] = sorted(snap.get("access_keys", []), key=lambda k: str(k["id"]))
        return Run(self.world_state(), snaps, applied, done, steps, entries, code)

    def normal(self, text: str) -> str:
        for i, key in enumerate(self.keys):
            text = text.replace(key, f"<key{i}>")
        return _TIME.sub("<time>", text.replace(CASE, "<case>"))

    def normal_json(self, raw: bytes) -> Any:
        return orjson.loads(self.normal(orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS).decode()))

    def world_state(self) -> Any:
        iam = self.iam
        try:
            iam.get_login_profile(UserName=USER)
            login = True
        except iam.exceptions.NoSuchEntityException:
            login = False
        state = {
            "keys": {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName=USER)["AccessKeyMetadata"]},
            "user_policies": {
                n: iam.get_user_policy(UserName=USER, PolicyName=n)["PolicyDocument"]
                for n in iam.list_user_policies(UserName=USER)["PolicyNames"]
            },
            "role_policies": {
                n: iam.get_role_policy(RoleName=ROLE, PolicyName=n)["PolicyDocument"]
                for n in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]
            },
            "user_tags": iam.list_user_tags(UserName=USER)["Tags"],
            "role_tags": iam.list_role_tags(RoleName=ROLE)["Tags"],
            "login_profile": login,
            "trust": iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"],
        }
        return self.normal_json(orjson.dumps(state, default=str))


@pytest.fixture(scope="module")
def harness(moto_server: str, tmp_path_factory: pytest.TempPathFactory) -> Harness:
    logging.getLogger("werkzeug").disabled = True  # the simulator's request log, thousands of lines
    return Harness(moto_server, tmp_path_factory.mktemp("crash"))


@pytest.fixture(scope="module")
def baseline(harness: Harness) -> Run:
    """The uninterrupted run, through a fresh interpreter like the console script."""
    harness.fresh_world()
    out = harness.root / "baseline"
    done = harness.subprocess(harness.contain_argv(out))
    assert done.returncode == 0, done.stderr[-3000:]
    return harness.observe(out / CASE, done.returncode)


def _complete_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of a journal a crash may have left with a torn final line."""
    entries: list[dict[str, Any]] = []
    for line in (path.read_bytes() if path.exists() else b"").split(b"\n"):
        try:
            entries.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    return entries


def crash_points(base: Run, *, every: bool = False) -> list[str]:
    """Where to kill, from the clean run's journal (the same order every run: workers: 1).

    By default: after every entry except an ``action.done`` (killing there is killing just before
    the next ``action.start`` or step boundary, which is covered), before every ``action.done`` and
    ``step.done`` (the work is done, its record is not), before the first entry (the case folder
    exists, its journal does not), and one torn line mid-step. ``every``
    (``IRKIT_CRASH_EVERY=1``) adds the after-``action.done`` points too."""
    kinds = [str(e["kind"]) for e in base.entries]
    points = [f"after:{n}" for n, k in enumerate(kinds, 1) if every or k != "action.done"]
    points.append("before:1")  # the case folder made, not one entry written yet
    points += [f"before:{n}" for n, k in enumerate(kinds, 1) if k in {"action.done", "step.done"}]
    first_done = kinds.index("action.done") + 1
    points.append(f"torn:{first_done}")
    return points


def check_point(harness: Harness, base: Run, point: str) -> list[str]:
    """Crash at ``point``, resume, and say every way the result differs from the uninterrupted run."""
    harness.fresh_world()
    out = harness.root / point.replace(":", "-")
    case = out / CASE
    killed = harness.child(harness.contain_argv(out), out.with_suffix(".contain.log"), crash=point)
    problems: list[str] = []
    if killed != -9:
        return [f"{point}: contain was not killed (exit {killed})"]
    mode, n = point.split(":")
    seq = int(n)
    before = _complete_entries(case / "journal.jsonl")
    last_seq = before[-1]["seq"] if before else 0
    expect_last = {"after": seq, "before": seq - 1, "torn": seq - 1}[mode]
    if last_seq != expect_last:
        problems.append(f"{point}: the killed run's journal ends at seq {last_seq}, not {expect_last}")
    elif before and before[-1]["kind"] != base.entries[last_seq - 1]["kind"]:
        problems.append(f"{point}: entry {last_seq} is {before[-1]['kind']}, the clean run's is not (order changed)")
    if not (case / LOCK_FILE).read_bytes().strip():
        problems.append(f"{point}: the killed run left no holder note in {LOCK_FILE}")
    code = harness.child(["resume", str(case), "--yes"], out.with_suffix(".resume.log"))
    after = harness.observe(case, code)
    if code != base.code:
        log = out.with_suffix(".resume.log").read_text(errors="replace")[-1500:]
        problems.append(f"{point}: resume exited {code}, the clean run {base.code}: {log}")
    if after.state != base.state:
        problems.append(f"{point}: IAM state differs: {after.state} != {base.state}")
    if after.snapshots != base.snapshots:
        problems.append(f"{point}: snapshots differ (re-taken after containment?): {after.snapshots}")
    if set(after.applied) != set(base.applied):
        problems.append(f"{point}: applied actions differ: {sorted(set(after.applied) ^ set(base.applied))}")
    twice = [a for a, count in after.done.items() if count > 1 and orjson.loads(a)["kind"] not in IDEMPOTENT]
    if twice:
        problems.append(f"{point}: journaled as applied twice: {twice}")
    if after.steps_done != base.steps_done:
        problems.append(f"{point}: step.done entries {dict(after.steps_done)} != {dict(base.steps_done)}")
    broken = verify_chain(case / "journal.jsonl")
    check = check_chain(case / "journal.jsonl")
    if broken or not check.intact:
        problems.append(f"{point}: journal chain broken: {broken} {[str(p) for p in check.problems]}")
    noted = [e for e in after.entries if e["kind"] == "run.interrupted"]
    if not (noted and str(noted[0]["data"]["command"]).startswith("irkit contain")):
        problems.append(f"{point}: the resume did not journal the killed run (run.interrupted)")
    if mode == "torn":
        if not any(e["kind"] == "journal.repaired" for e in after.entries):
            problems.append(f"{point}: the torn line was not set aside (no journal.repaired entry)")
        if not (case / "journal.jsonl.torn-1").exists():
            problems.append(f"{point}: journal.jsonl.torn-1 missing")
    return problems


def test_the_baseline_contains_the_agent_and_journals_every_action(baseline: Harness, harness: Harness) -> None:
    assert baseline.state["login_profile"] is False
    assert baseline.state["keys"] == {"<key0>": "Inactive", "<key1>": "Inactive"}
    assert set(baseline.state["role_policies"]) >= {"AWSRevokeOlderSessions"}
    assert len(baseline.applied) == 7 and all(c == 1 for c in baseline.done.values())
    assert baseline.snapshots["user-agent-infra-bot.json"]["login_profile"] is not None  # taken before


SHARDS = 3
"""The kill points are split in shards so that xdist runs them on every core (each worker builds its own
world and clean run); together the shards cover every point."""


@pytest.mark.parametrize("shard", range(SHARDS))
def test_sigkill_at_every_journal_boundary_then_resume_matches_an_uninterrupted_run(
    harness: Harness, baseline: Run, shard: int
) -> None:
    every = os.environ.get("IRKIT_CRASH_EVERY") == "1"
    points = crash_points(baseline, every=every)
    actions = sum(1 for e in baseline.entries if e["kind"] == "action.done")
    # every boundary but the after-done ones, before the first entry, every action's outcome, both
    # step.done, a torn line
    assert actions == 7 and len(points) == len(baseline.entries) - (0 if every else actions) + 1 + actions + 2 + 1
    started = time.monotonic()
    mine = points[shard::SHARDS]
    assert mine  # every shard kills somewhere
    problems = [p for point in mine for p in check_point(harness, baseline, point)]
    seconds = time.monotonic() - started
    sys.stderr.write(f"\ncrash harness: {len(mine)} of {len(points)} kill points in {seconds:.1f} s\n")
    assert problems == []


def test_a_kill_through_the_console_entry_point_leaves_a_resumable_case(harness: Harness, baseline: Run) -> None:
    """The same crash hook through a fresh interpreter (the path the `irkit` script takes)."""
    harness.fresh_world()
    out = harness.root / "console"
    first_done = next(e["seq"] for e in baseline.entries if e["kind"] == "action.done")
    killed = harness.subprocess(harness.contain_argv(out), crash=f"before:{first_done}")
    assert killed.returncode == -9
    resumed = harness.subprocess(["resume", str(out / CASE), "--yes"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "ended without finishing" in resumed.stdout  # the killed holder's note, not a refusal
    after = harness.observe(out / CASE, resumed.returncode)
    assert after.state == baseline.state
    assert set(after.applied) == set(baseline.applied)
