"""The IaC half of a revert plan: the agent's commits reverted in a scratch clone, terraform planned twice.

For each terraform root the *base* (the branch as it is) and the *revert branch* are planned against
the same state. A resource change that appears only in the revert plan, or differs from the base
plan, is caused by the reverted commits; one that the base plan has too is drift, and is applied
only when a flagged change of the agent's is on that very resource (then it is the approved way to
restore it). Anything else in the plan is not linked to the attack: that root is not applied.

Nothing here changes the responder's repository or the terraform state: the clone, the working
directories and the plan files live in the case folder (``revert/plan-<n>/``, 0700).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from irkit.config import AgentSettings
from irkit.iac import IacError
from irkit.iac.git import AgentCommit, GitRepo, RevertOutcome, ScratchRepo
from irkit.iac.terraform import (
    StateResource,
    Terraform,
    TerraformPlan,
    installed_providers,
    local_state,
    private_dir,
)


def branch_name(case_id: str) -> str:
    return f"irkit/revert-{case_id}"


def _slug(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(path)).strip("-")[-60:] or "root"


@dataclass
class RootPlan:
    """One terraform root: where it lives, the two plans, and whether its apply is allowed."""

    dir: Path
    """The configured (real) directory."""
    workdir: Path
    """Where terraform runs: in the scratch clone, or a copy of ``dir``."""
    state: Path | None
    base: TerraformPlan | None = None
    revert: TerraformPlan | None = None
    caused: tuple[str, ...] = ()
    """Addresses the reverted commits change."""
    drift: tuple[str, ...] = ()
    """Addresses the base plan changes too (drift, or pending changes of someone else)."""
    refused: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def plan(self) -> TerraformPlan | None:
        return self.revert or self.base

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "dir": str(self.dir),
            "workdir": str(self.workdir),
            "state": str(self.state) if self.state else None,
            "plan": plan.to_json() if plan else None,
            "base_plan": self.base.to_json() if self.base and self.revert else None,
            "caused": list(self.caused),
            "drift": list(self.drift),
            "refused": self.refused,
            "notes": list(self.notes),
        }


@dataclass
class IacPlan:
    repo: Path | None = None
    branch: str = ""
    base: str = ""
    base_sha: str = ""
    head: str = ""
    scratch: Path | None = None
    commits: list[AgentCommit] = field(default_factory=list)
    outcomes: list[RevertOutcome] = field(default_factory=list)
    outside_window: list[AgentCommit] = field(default_factory=list)
    roots: list[RootPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[tuple[str, str]] = field(default_factory=list)

    @property
    def conflict(self) -> RevertOutcome | None:
        return next((o for o in self.outcomes if o.status == "conflict"), None)

    @property
    def reverted(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "reverted")

    def state_resources(self) -> list[tuple[RootPlan, StateResource]]:
        out = []
        for root in self.roots:
            plan = root.plan
            for res in plan.state if plan else ():
                out.append((root, res))
        return out

    def to_json(self) -> dict[str, Any]:
        by_sha = {o.sha: o for o in self.outcomes}
        return {
            "repo": str(self.repo) if self.repo else None,
            "branch": self.branch,
            "base": self.base,
            "base_sha": self.base_sha,
            "head": self.head,
            "scratch": str(self.scratch) if self.scratch else None,
            "commits": [
                c.to_json() | {"outcome": by_sha[c.sha].to_json() if c.sha in by_sha else {"status": "not attempted"}}
                for c in self.commits
            ],
            "outside_window": [c.to_json() for c in self.outside_window],
            "roots": [r.to_json() for r in self.roots],
            "notes": list(self.notes),
        }


def plan_iac(
    agent: AgentSettings,
    *,
    case_id: str,
    work: Path,
    since: datetime,
    until: datetime,
    env: Mapping[str, str],
    dry_run: bool,
) -> IacPlan:
    """Revert the agent's commits in a scratch clone and plan every terraform root (reads only)."""
    out = IacPlan(branch=branch_name(case_id))
    private_dir(work)
    repo: GitRepo | None = None
    scratch: ScratchRepo | None = None
    if agent.git is not None:
        repo = GitRepo(agent.git.repo, dry_run=dry_run)
        out.repo = repo.root
        out.base = agent.git.base or repo.head_branch() or "main"
        out.base_sha = repo.resolve(out.base)
        scan = repo.agent_commits(out.base, agent.git.authors, since=since, until=until)
        out.commits = list(scan.commits)
        out.outside_window = list(scan.outside_window)
        if scan.truncated:
            out.gaps.append(
                (str(repo.root), f"history read back {scan.walked - 1} commits only: older agent commits unseen")
            )
        scratch = repo.clone_to(work / "git")
        out.scratch = scratch.path
        scratch.checkout(out.base_sha)
    tf = agent.terraform
    roots = _roots(agent, repo, scratch, work)
    for root in roots:  # the base first: what terraform would do without the revert
        if tf is None:
            break
        try:
            root.base = _plan(root, tf.binary, env, dry_run, work / "plans" / f"{_slug(root.dir)}-base.tfplan")
        except IacError as exc:
            root.refused = f"terraform plan of the base failed: {exc}"
    if scratch is not None and out.commits:
        scratch.start_branch(out.branch, out.base_sha)
        for commit in out.commits:
            outcome = scratch.revert(commit, case_id=case_id)
            out.outcomes.append(outcome)
            if outcome.status == "conflict":
                out.notes.append(
                    f"reverting {commit.sha[:12]} conflicts in {', '.join(outcome.conflicts)}: the revert stops there;"
                    f" {out.branch} keeps the {out.reverted} revert(s) before it, for a human to finish"
                )
                break
        out.head = scratch.head()
        if out.conflict is not None:
            for root in roots:
                if scratch.path in root.workdir.parents:
                    # Applying the base would apply the agent's own commits: nothing is applied there.
                    root.refused = "the revert of the agent's commits stopped on a conflict: terraform is not applied"
        if out.conflict is None and out.reverted and tf is not None:
            for root in roots:
                if root.refused:
                    continue
                try:
                    root.revert = _plan(root, tf.binary, env, dry_run, work / "plans" / f"{_slug(root.dir)}.tfplan")
                except IacError as exc:
                    root.refused = f"terraform plan of {out.branch} failed: {exc}"
    for root in roots:
        _link(root)
    out.roots = roots
    pipeline = [c for c in out.commits if c.pipeline]
    for c in pipeline:
        out.notes.append(f"commit {c.sha[:12]} changed the pipeline itself ({'; '.join(c.pipeline)}): reverted too")
    if out.reverted:
        out.notes.append(
            f"until {out.branch} is merged into {out.base}, the next pipeline run on {out.base} applies the agent's"
            " commits again"
        )
    return out


def _roots(agent: AgentSettings, repo: GitRepo | None, scratch: ScratchRepo | None, work: Path) -> list[RootPlan]:
    tf = agent.terraform
    if tf is None:
        return []
    roots = []
    for real in tf.roots:
        state = local_state(real)
        rel = _inside(real, repo.root) if repo is not None else None
        if scratch is not None and rel is not None:
            roots.append(RootPlan(real, scratch.path / rel, state))
            continue
        # Outside the repository (or no repository): terraform runs on a copy of the directory,
        # never in it (init would write .terraform/ there).
        copy = work / "tf" / _slug(real)
        if not copy.exists():
            shutil.copytree(real, copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan"))
        root = RootPlan(real, copy, state)
        root.notes.append(f"{real} is not in the git repository: only drift is restored there (no commit to revert)")
        roots.append(root)
    return roots


def _inside(path: Path, root: Path) -> Path | None:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return None


def _plan(root: RootPlan, binary: str, env: Mapping[str, str], dry_run: bool, out: Path) -> TerraformPlan:
    tf = Terraform(root.workdir, binary=binary, env=env, state=root.state, dry_run=dry_run)
    providers = installed_providers(root.dir)
    lock = (root.workdir / ".terraform.lock.hcl").exists()
    try:
        # Offline first: the providers the real directory already installed, the lock file honoured.
        tf.init(plugin_dirs=[providers] if providers else (), readonly_lock=lock)
    except IacError:
        if providers is None:
            raise
        root.notes.append("terraform init needed the configured provider sources (a reverted lock file?)")
        tf.init(readonly_lock=lock)
    if not lock:
        root.notes.append("no .terraform.lock.hcl: provider versions are not pinned")
    return tf.plan(out)


def _link(root: RootPlan) -> None:
    """Which resource changes the revert causes, and which the base plan already had."""
    if root.revert is None:
        if root.base is not None:
            root.drift = tuple(c.address for c in root.base.changes)
        return
    base = {c.address: c.actions for c in (root.base.changes if root.base else ())}
    root.caused = tuple(c.address for c in root.revert.changes if base.get(c.address) != c.actions)
    root.drift = tuple(c.address for c in root.revert.changes if base.get(c.address) == c.actions)


def refuse_unlinked(root: RootPlan, linked: Sequence[str]) -> None:
    """Refuse the root's apply when its plan changes a resource no commit and no flagged change explains."""
    plan = root.plan
    if root.refused or plan is None:
        return
    refusal = plan.refusal()
    if refusal:
        root.refused = refusal
        return
    stray = [a for a in root.drift if a not in linked]
    if stray:
        root.refused = (
            f"the plan also changes {', '.join(stray[:10])}, which neither a reverted commit nor a flagged change"
            " explains (pending changes of someone else?): not applied; apply or revert those by hand first"
        )
