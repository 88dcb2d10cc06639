"""Real git repositories for the IaC tests: commits with chosen identities and dates."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

GIT = shutil.which("git") or "/usr/bin/git"
HUMAN = ("Dana Ops", "dana@example.com")
AGENT = ("infra-optimizer", "agent-infra-optimizer@example.com")


@dataclass
class Repo:
    path: Path

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        base = {
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(self.path.parent),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
        }
        out = subprocess.run(
            [GIT, "-c", "init.defaultBranch=main", *args],
            cwd=self.path,
            env=base | (env or {}),
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()

    def write(self, name: str, text: str) -> None:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def commit(
        self,
        message: str,
        *,
        when: datetime,
        author: tuple[str, str] = HUMAN,
        committer: tuple[str, str] | None = None,
        committed: datetime | None = None,
        files: dict[str, str] | None = None,
    ) -> str:
        for name, text in (files or {}).items():
            self.write(name, text)
        self.git("add", "-A")
        committer = committer or author
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": when.isoformat(),
            "GIT_COMMITTER_NAME": committer[0],
            "GIT_COMMITTER_EMAIL": committer[1],
            "GIT_COMMITTER_DATE": (committed or when).isoformat(),
        }
        self.git("commit", "--quiet", "--allow-empty", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, *, when: datetime, author: tuple[str, str] = HUMAN) -> str:
        env = {
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": when.isoformat(),
            "GIT_COMMITTER_NAME": author[0],
            "GIT_COMMITTER_EMAIL": author[1],
            "GIT_COMMITTER_DATE": when.isoformat(),
        }
        self.git("merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", branch, env=env)
        return self.git("rev-parse", "HEAD")


def init_repo(path: Path) -> Repo:
    path.mkdir(parents=True, exist_ok=True)
    repo = Repo(path)
    repo.git("init", "--quiet", "-b", "main")
    return repo
