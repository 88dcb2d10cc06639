"""The agent's commits in an infrastructure-as-code repository, and a branch that reverts them.

```python
repo = GitRepo(Path("../infra-live"), dry_run=False)
commits = repo.agent_commits("main", identities=["agent@example.com"], since=start, until=end)
scratch = repo.clone_to(case_dir / "revert" / "git")       # the responder's checkout is never touched
scratch.start_branch("irkit/revert-IR-1", repo.resolve("main"))
for commit in commits:                                     # newest first; merges with -m 1
    outcome = scratch.revert(commit, case_id="IR-1")       # a conflict stops: the paths are named
repo.adopt_branch(scratch, "irkit/revert-IR-1", scratch.head())   # the one change to the repository
```

What the agent wrote is hostile input: commit messages, names and paths are bounded and never
interpreted, hooks never run (``core.hooksPath=/dev/null``), diff drivers and text conversion are
off, and a diff too large to scan counts as touching the pipeline (fail closed).

History is never rewritten: reverts are new commits on a new branch, the branch is created only if
it does not exist (or already holds exactly those commits), and nothing is ever force-pushed. The
responder's work tree, index and other refs are left as they were; planning happens in a scratch
clone inside the case folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import git

from irkit.iac import IacDryRun, IacError

MAX_WALK = 10_000
"""Commits read back from the base; an agent commit further back is outside any sane case window."""
MAX_SCAN_LINES = 50_000
"""Changed lines scanned for pipeline constructs; a bigger commit counts as touching the pipeline."""
_SAFE_CONFIG = (
    "core.hooksPath=/dev/null",  # no hook of any repository runs on the responder's machine
    "commit.gpgsign=false",  # a signing prompt would hang an unattended run
    "core.fsmonitor=false",
    "diff.external=",
    "core.pager=cat",
)
IRKIT_NAME = "irkit"
IRKIT_EMAIL = "irkit-revert@localhost"

# Paths whose change alters how infrastructure gets deployed, not only what is deployed.
_PIPELINE_PATHS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), why)
    for p, why in (
        (r"(^|/)\.github/workflows/", "CI workflow"),
        (r"(^|/)\.github/actions/", "CI action"),
        (r"(^|/)\.gitlab-ci\.ya?ml$", "CI pipeline"),
        (r"(^|/)\.gitlab/ci/", "CI pipeline"),
        (r"(^|/)\.circleci/", "CI pipeline"),
        (r"(^|/)Jenkinsfile[^/]*$", "CI pipeline"),
        (r"(^|/)azure-pipelines[^/]*\.ya?ml$", "CI pipeline"),
        (r"(^|/)bitbucket-pipelines\.ya?ml$", "CI pipeline"),
        (r"(^|/)\.buildkite/", "CI pipeline"),
        (r"(^|/)\.drone\.ya?ml$", "CI pipeline"),
        (r"(^|/)buildspec[^/]*\.ya?ml$", "CI pipeline"),
        (r"(^|/)cloudbuild[^/]*\.ya?ml$", "CI pipeline"),
        (r"(^|/)atlantis\.ya?ml$", "terraform automation config"),
        (r"(^|/)\.terraform\.lock\.hcl$", "provider lock file"),
        (r"(^|/)(\.terraformrc|terraform\.rc|[^/]*\.tfrc)$", "terraform CLI config"),
        (r"(^|/)(\.github/)?CODEOWNERS$", "review rules"),
    )
)
_IAC_FILE = re.compile(r"\.(tf|tf\.json|tofu|hcl)$")
# Constructs in changed lines of terraform files that change the pipeline itself.
_PIPELINE_LINES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'\bbackend\s*"|"backend"\s*:|^\s*cloud\s*\{'), "backend block"),
    (re.compile(r'^\s*"?source"?\s*[=:]'), "provider or module source"),
    (re.compile(r'\bdata\s*"external"|"external"\s*:'), 'data "external"'),
    (re.compile(r'\bprovisioner\s*"|"provisioner"\s*:'), "provisioner"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(text: str, limit: int = 200) -> str:
    """Attacker-written text (a subject, a name) made safe to show: one line, bounded."""
    one = _CONTROL.sub(" ", text).strip()
    return one if len(one) <= limit else one[: limit - 1] + "…"


def pipeline_reasons(paths: Iterable[str], changed_lines: Iterable[tuple[str, str]] = ()) -> tuple[str, ...]:
    """Why a change touches the deployment pipeline: ``("CI workflow: .github/workflows/x.yml", …)``.

    ``changed_lines`` are ``(path, line)`` pairs of added or removed lines."""
    reasons: list[str] = []
    for path in paths:
        for pattern, why in _PIPELINE_PATHS:
            if pattern.search(path):
                reasons.append(f"{why}: {_clean(path)}")
                break
    for path, line in changed_lines:
        if not _IAC_FILE.search(path):
            continue
        for pattern, why in _PIPELINE_LINES:
            if pattern.search(line):
                reasons.append(f"{why}: {_clean(path)}")
    return tuple(dict.fromkeys(reasons))


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    email: str

    def matches(self, wanted: frozenset[str]) -> bool:
        return self.email.lower() in wanted or self.name.lower() in wanted

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass(frozen=True, slots=True)
class AgentCommit:
    """A commit authored or committed by one of the agent's identities (both are recorded:
    either can be forged, so a commit whose committer is the agent counts even if the author is not)."""

    sha: str
    parents: tuple[str, ...]
    author: Identity
    committer: Identity
    authored_at: str
    committed_at: str
    summary: str
    matched_by: tuple[str, ...]
    """``author``, ``committer`` or both."""
    paths: tuple[str, ...] = ()
    pipeline: tuple[str, ...] = ()
    """Why the commit touches the pipeline itself (CI, backend, lock file, sources, provisioners)."""
    covered_by: str | None = None
    """A merge commit of the agent whose revert already undoes this one (not reverted twice)."""

    @property
    def merge(self) -> bool:
        return len(self.parents) > 1

    def to_json(self) -> dict[str, Any]:
        return {
            "sha": self.sha,
            "parents": list(self.parents),
            "author": str(self.author),
            "committer": str(self.committer),
            "authored_at": self.authored_at,
            "committed_at": self.committed_at,
            "summary": self.summary,
            "matched_by": list(self.matched_by),
            "paths": list(self.paths),
            "pipeline": list(self.pipeline),
            "covered_by": self.covered_by,
            "merge": self.merge,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> AgentCommit:
        def ident(raw: str) -> Identity:
            name, _, email = str(raw).rpartition(" <")
            return Identity(name, email.rstrip(">"))

        return cls(
            sha=str(d["sha"]),
            parents=tuple(str(p) for p in d.get("parents", [])),
            author=ident(d.get("author", "")),
            committer=ident(d.get("committer", "")),
            authored_at=str(d.get("authored_at", "")),
            committed_at=str(d.get("committed_at", "")),
            summary=str(d.get("summary", "")),
            matched_by=tuple(str(m) for m in d.get("matched_by", [])),
            paths=tuple(str(p) for p in d.get("paths", [])),
            pipeline=tuple(str(p) for p in d.get("pipeline", [])),
            covered_by=str(d["covered_by"]) if d.get("covered_by") else None,
        )


@dataclass(frozen=True, slots=True)
class CommitScan:
    commits: tuple[AgentCommit, ...]
    """In the window, newest first (children before parents)."""
    outside_window: tuple[AgentCommit, ...] = ()
    """The agent's commits before or after the window: named, not reverted."""
    walked: int = 0
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class RevertOutcome:
    sha: str
    status: str  # reverted | empty | conflict | covered
    revert_sha: str | None = None
    conflicts: tuple[str, ...] = ()
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sha": self.sha,
            "status": self.status,
            "revert_sha": self.revert_sha,
            "conflicts": list(self.conflicts),
            "message": self.message,
        }


def _git_env() -> dict[str, str]:
    """Identity of the revert commits and no prompt of any kind."""
    return {
        "GIT_AUTHOR_NAME": IRKIT_NAME,
        "GIT_AUTHOR_EMAIL": IRKIT_EMAIL,
        "GIT_COMMITTER_NAME": IRKIT_NAME,
        "GIT_COMMITTER_EMAIL": IRKIT_EMAIL,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_EDITOR": "true",
    }


def _open(path: Path) -> git.Repo:
    try:
        repo = git.Repo(path)
    except git.NoSuchPathError:
        raise IacError(f"git repository {path}: no such directory") from None
    except git.InvalidGitRepositoryError:
        raise IacError(f"{path} is not a git repository") from None
    repo.git.set_persistent_git_options(c=list(_SAFE_CONFIG))
    return repo


def _error(operation: str, where: Path, exc: git.GitCommandError) -> IacError:
    stderr = _clean(str(exc.stderr or exc), 400)
    return IacError(f"git {operation} in {where} failed: {stderr}")


class GitRepo:
    """The responder's repository: read freely, changed only by :meth:`adopt_branch` and :meth:`push`."""

    def __init__(self, path: Path, *, dry_run: bool = False) -> None:
        self.path = path
        self.dry_run = dry_run
        self.repo = _open(path)
        if self.repo.bare:
            self.root = Path(self.repo.git_dir)
        else:
            self.root = Path(self.repo.working_tree_dir or path)

    def head_branch(self) -> str | None:
        try:
            return str(self.repo.active_branch.name)
        except TypeError:  # detached HEAD
            return None

    def resolve(self, ref: str) -> str:
        """The commit a branch (or any revision) names."""
        for candidate in (f"refs/heads/{ref}", ref):
            try:
                return str(self.repo.commit(candidate).hexsha)
            except (git.BadName, ValueError, git.GitCommandError):
                continue
        raise IacError(f"{self.path}: no branch or revision {_clean(ref)!r}")

    def branch_sha(self, name: str) -> str | None:
        try:
            return str(self.repo.commit(f"refs/heads/{name}").hexsha)
        except (git.BadName, ValueError, git.GitCommandError):
            return None

    def agent_commits(
        self,
        base: str,
        identities: Sequence[str],
        *,
        since: datetime,
        until: datetime,
        max_walk: int = MAX_WALK,
    ) -> CommitScan:
        """Commits reachable from ``base`` whose author or committer is one of ``identities``
        (emails or names, case-insensitive), with author or commit time in the window."""
        wanted = frozenset(i.strip().lower() for i in identities if i.strip())
        if not wanted:
            return CommitScan(())
        found: list[AgentCommit] = []
        outside: list[AgentCommit] = []
        walked = 0
        truncated = False
        for commit in self.repo.iter_commits(self.resolve(base), topo_order=True):
            walked += 1
            if walked > max_walk:
                truncated = True
                break
            author = Identity(_clean(commit.author.name or ""), _clean(commit.author.email or ""))
            committer = Identity(_clean(commit.committer.name or ""), _clean(commit.committer.email or ""))
            matched = tuple(role for role, who in (("author", author), ("committer", committer)) if who.matches(wanted))
            if not matched:
                continue
            authored, committed = commit.authored_datetime, commit.committed_datetime
            item = AgentCommit(
                sha=str(commit.hexsha),
                parents=tuple(str(p.hexsha) for p in commit.parents),
                author=author,
                committer=committer,
                authored_at=authored.isoformat(),
                committed_at=committed.isoformat(),
                summary=_clean(str(commit.summary)),
                matched_by=matched,
            )
            if since <= authored <= until or since <= committed <= until:
                found.append(self._describe(item))
            else:
                outside.append(item)
        return CommitScan(tuple(self._covered(found)), tuple(outside[:20]), walked, truncated)

    def _describe(self, commit: AgentCommit) -> AgentCommit:
        """The commit's changed paths (against its first parent) and pipeline reasons."""
        against = commit.parents[0] if commit.parents else git.NULL_TREE
        try:
            if against is git.NULL_TREE:
                names = self.repo.git.diff_tree("--root", "--no-commit-id", "--name-only", "-r", "-z", commit.sha)
                numstat = self.repo.git.diff_tree("--root", "--no-commit-id", "--numstat", "-r", commit.sha)
            else:
                names = self.repo.git.diff("--name-only", "-z", "--no-renames", against, commit.sha)
                numstat = self.repo.git.diff("--numstat", "--no-renames", against, commit.sha)
        except git.GitCommandError as exc:
            raise _error("diff", self.path, exc) from None
        paths = tuple(p for p in names.split("\0") if p)
        total = 0
        for row in numstat.splitlines():
            added, _, rest = row.partition("\t")
            removed = rest.partition("\t")[0]
            total += int(added) if added.isdigit() else 1
            total += int(removed) if removed.isdigit() else 1
        lines: list[tuple[str, str]] = []
        extra: list[str] = []
        iac_paths = [p for p in paths if _IAC_FILE.search(p)]
        if total > MAX_SCAN_LINES:
            extra.append(f"diff too large to scan ({total} changed lines): treated as touching the pipeline")
        elif iac_paths:
            lines = self._changed_lines(commit, against, iac_paths)
        reasons = pipeline_reasons(paths, lines) + tuple(extra)
        return AgentCommit(
            **{**_fields(commit), "paths": tuple(_clean(p, 300) for p in paths[:200]), "pipeline": reasons}
        )

    def _changed_lines(self, commit: AgentCommit, against: object, paths: Sequence[str]) -> list[tuple[str, str]]:
        args = ["--unified=0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames"]
        try:
            if against is git.NULL_TREE:
                text = self.repo.git.diff_tree("--root", "-p", "-r", *args, commit.sha, "--", *paths)
            else:
                text = self.repo.git.diff(*args, str(against), commit.sha, "--", *paths)
        except git.GitCommandError as exc:
            raise _error("diff", self.path, exc) from None
        out: list[tuple[str, str]] = []
        current = ""
        for line in text.splitlines():
            if line.startswith("+++ ") or line.startswith("--- "):
                name = line[4:]
                if name != "/dev/null":
                    current = name[2:] if name[:2] in ("a/", "b/") else name
                continue
            if line[:1] in ("+", "-"):
                out.append((current, line[1:]))
        return out

    def _covered(self, commits: list[AgentCommit]) -> list[AgentCommit]:
        """A side-branch commit that an agent merge brought in is undone by reverting that merge."""
        covered: dict[str, str] = {}
        for c in commits:
            if c.merge and c.sha not in covered:
                try:
                    side = self.repo.git.rev_list(f"{c.parents[0]}..{c.sha}").split()
                except git.GitCommandError as exc:
                    raise _error("rev-list", self.path, exc) from None
                for sha in side:
                    if sha != c.sha:
                        covered.setdefault(sha, c.sha)
        return [AgentCommit(**{**_fields(c), "covered_by": covered.get(c.sha)}) for c in commits]

    # -- the only changes made to the responder's repository -----------------------------------------

    def clone_to(self, dest: Path) -> ScratchRepo:
        """A private clone for planning and reverting (reads this repository, writes only ``dest``)."""
        if dest.exists():
            return ScratchRepo(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            runner = git.Git(str(dest.parent))
            runner.set_persistent_git_options(c=list(_SAFE_CONFIG))
            with runner.custom_environment(**_git_env()):
                runner.clone("--quiet", "--no-checkout", "--", str(self.root), str(dest))
        except git.GitCommandError as exc:
            raise _error("clone", self.path, exc) from None
        return ScratchRepo(dest)

    def adopt_branch(self, scratch: ScratchRepo, branch: str, sha: str) -> str:
        """Create ``branch`` here at ``sha``, fetched from the scratch clone; never moved or forced.

        Returns ``created`` or ``exists`` (the branch already points at ``sha``: a resumed run)."""
        if self.dry_run:
            raise IacDryRun(f"git: create branch {branch} in {self.path}")
        if scratch.branch_sha(branch) != sha:
            raise IacError(f"the scratch clone's {branch} is not at the planned {sha[:12]}: plan again")
        current = self.branch_sha(branch)
        if current == sha:
            return "exists"
        if current is not None:
            raise IacError(
                f"branch {branch} already exists in {self.path} at {current[:12]}, not at the planned {sha[:12]}:"
                " left as it is (delete or rename it by hand, then plan again)"
            )
        try:
            # No '+': a fetch that would move an existing ref is refused by git itself.
            self.repo.git.fetch(
                "--no-tags", "--no-write-fetch-head", str(scratch.path), f"refs/heads/{branch}:refs/heads/{branch}"
            )
        except git.GitCommandError as exc:
            raise _error("fetch", self.path, exc) from None
        if self.branch_sha(branch) != sha:
            raise IacError(f"branch {branch} in {self.path} does not point at {sha[:12]} after the fetch")
        return "created"

    def push(self, remote: str, branch: str) -> None:
        """Push ``branch`` to ``remote`` (only when asked; never forced)."""
        if self.dry_run:
            raise IacDryRun(f"git: push {branch} to {remote}")
        try:
            self.repo.git.push("--no-verify", remote, f"refs/heads/{branch}:refs/heads/{branch}")
        except git.GitCommandError as exc:
            raise _error("push", self.path, exc) from None

    def fingerprint(self) -> dict[str, Any]:
        """Refs, HEAD, index and work-tree status: equal before and after a dry run."""
        refs = self.repo.git.for_each_ref("--format=%(refname) %(objectname)")
        status = "" if self.repo.bare else self.repo.git.status("--porcelain=v1", "-z", "--untracked-files=all")
        return {"refs": refs, "head": (Path(self.repo.git_dir) / "HEAD").read_text(), "status": status}


class ScratchRepo:
    """A clone in the case folder: branches, checkouts and reverts happen here, never in the original."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = _open(path)

    def checkout(self, sha: str) -> None:
        self._git("checkout", "--quiet", "--force", "--detach", sha)

    def start_branch(self, branch: str, sha: str) -> None:
        self._git("checkout", "--quiet", "--force", "-B", branch, sha)

    def head(self) -> str:
        return str(self.repo.head.commit.hexsha)

    def branch_sha(self, name: str) -> str | None:
        try:
            return str(self.repo.commit(f"refs/heads/{name}").hexsha)
        except (git.BadName, ValueError, git.GitCommandError):
            return None

    def tree(self) -> str:
        return str(self.repo.head.commit.tree.hexsha)

    def revert(self, commit: AgentCommit, *, case_id: str) -> RevertOutcome:
        """Revert one commit on the current branch (``-m 1`` for a merge): ``reverted``, ``empty``
        (already undone on the base) or ``conflict`` with the conflicting paths (nothing committed)."""
        if commit.covered_by:
            return RevertOutcome(commit.sha, "covered", message=f"undone by the revert of merge {commit.covered_by}")
        args = ["--no-commit"] + (["-m", "1"] if commit.merge else []) + [commit.sha]
        try:
            self._git("revert", *args)
        except IacError as exc:
            conflicts = self._unmerged()
            self._reset()
            if conflicts:
                return RevertOutcome(commit.sha, "conflict", conflicts=conflicts, message=str(exc))
            raise
        if not self.repo.git.diff("--cached", "--name-only", "HEAD"):
            self._reset()
            return RevertOutcome(commit.sha, "empty", message="nothing to revert: already undone on the base")
        message = f'Revert "{commit.summary}"\n\nThis reverts commit {commit.sha}'
        if commit.merge:
            message += f", reversing changes made to {commit.parents[0]}"
        message += (
            f".\n\nReverted by irkit for case {case_id}: {' and '.join(commit.matched_by)} is one of the"
            f" agent's identities ({commit.author}; committer {commit.committer}).\n\nIrkit-Case: {case_id}\n"
        )
        self._git("commit", "--quiet", "--no-verify", "-m", message)
        return RevertOutcome(commit.sha, "reverted", revert_sha=self.head())

    def _unmerged(self) -> tuple[str, ...]:
        try:
            out = self.repo.git.diff("--name-only", "--diff-filter=U", "-z")
        except git.GitCommandError:
            return ()
        return tuple(_clean(p, 300) for p in out.split("\0") if p)

    def _reset(self) -> None:
        for args in (("revert", "--quit"), ("reset", "--quiet", "--hard", "HEAD")):
            try:
                self._git(*args)
            except IacError:
                continue

    def _git(self, command: str, *args: str) -> str:
        try:
            with self.repo.git.custom_environment(**_git_env()):
                return str(getattr(self.repo.git, command)(*args))
        except git.GitCommandError as exc:
            raise _error(command, self.path, exc) from None


def _fields(commit: AgentCommit) -> dict[str, Any]:
    return {name: getattr(commit, name) for name in AgentCommit.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class BranchPlan:
    """What reverting the agent's commits in a scratch clone produced."""

    branch: str
    base: str
    base_sha: str
    head: str
    tree: str
    outcomes: tuple[RevertOutcome, ...] = field(default_factory=tuple)

    @property
    def conflict(self) -> RevertOutcome | None:
        return next((o for o in self.outcomes if o.status == "conflict"), None)

    @property
    def reverted(self) -> int:
        return sum(1 for o in self.outcomes if o.status == "reverted")
