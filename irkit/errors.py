"""The error tree and the exit codes every command speaks.

Exit codes are a contract (docs/contracts.md): 0 done, 1 a step failed (``analyze --fail-on``: a finding at
or above), 2 usage or config error (no AWS credentials included, before any step), 3 done with coverage
gaps, 4 stopped awaiting approval, 130 interrupted (``irkit resume`` continues). ``verify`` uses 0 valid,
1 integrity failure.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    STEP_FAILED = 1
    USAGE = 2
    GAPS = 3
    AWAITING_APPROVAL = 4
    INTERRUPTED = 130


class IrkitError(Exception):
    """Base of every error irkit reports to a user as a message, never as a traceback."""

    exit_code: ExitCode = ExitCode.STEP_FAILED


class ConfigError(IrkitError):
    """irkit.yaml is missing, malformed, or has an unknown or wrong key."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, key_path: str = "", source: str = "") -> None:
        self.key_path = key_path
        self.source = source
        where = f"{source}: " if source else ""
        at = f"{key_path}: " if key_path else ""
        super().__init__(f"{where}{at}{message}")


class RunbookError(IrkitError):
    """A runbook does not parse or names a step or option that does not exist."""

    exit_code = ExitCode.USAGE


class UsageError(IrkitError):
    exit_code = ExitCode.USAGE


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: the run stops the same way, journaled, resumable."""


class CredentialsError(IrkitError):
    """No AWS credentials resolve, or AWS refuses the ones that do: nothing can be contained."""

    exit_code = ExitCode.USAGE


class CaseError(IrkitError):
    """A case folder is missing, incomplete, or its journal chain is broken."""

    exit_code = ExitCode.USAGE


class DryRunViolation(IrkitError):
    """A mutating AWS call was attempted while the run is a dry run."""

    def __init__(self, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation
        super().__init__(
            f"dry run: refused mutating call {service}:{operation} "
            "(only read-only operations are allowed in --dry-run)"
        )


class AwsCallError(IrkitError):
    """An AWS call failed; names the action and the resource so the gap is actionable."""

    def __init__(self, action: str, resource: str, code: str, message: str) -> None:
        self.action = action
        self.resource = resource
        self.code = code
        super().__init__(f"{action} on {resource} failed: {code}: {message}")
