"""Adapters for infrastructure as code: git (gitpython) and terraform (python-terraform).

No AWS call is made here. Both adapters know whether the run is a dry run and refuse their own
mutating operations then (a new branch in the responder's repository, a push, a terraform apply):
:mod:`irkit.aws.guard` cannot see a subprocess, so the guard for git and terraform lives here.
"""

from __future__ import annotations

from irkit.errors import ExitCode, IrkitError


class IacError(IrkitError):
    """A git or terraform operation failed; the message names the operation and the path."""


class IacDryRun(IrkitError):
    """A mutating git or terraform operation was attempted while the run is a dry run."""

    exit_code = ExitCode.STEP_FAILED

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(f"dry run: refused {operation} (a dry run changes no repository and no terraform state)")


__all__ = ["IacDryRun", "IacError"]
