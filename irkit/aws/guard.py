"""The dry-run guard: below every step, a botocore hook that refuses what is not a read.

It is an allow-list of read verbs, not a deny-list of writes: an operation AWS adds tomorrow is
refused in a dry run until someone decides it only reads. Steps never see the flag; a step that
tries to mutate during a dry run fails loudly with :class:`DryRunViolation`.
"""

from __future__ import annotations

from typing import Any

from irkit.errors import DryRunViolation

READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Select", "BatchGet", "Check")
# Read-shaped names that hand out credentials or change state anyway.
NOT_READS = frozenset(
    {
        "sts:GetFederationToken",
        "sts:GetSessionToken",
        "ec2:GetPasswordData",
        "secretsmanager:GetSecretValue",
        "ec2:GetConsoleScreenshot",
        "iam:GetCredentialReport",  # fine to read, but only after Generate*, which is a write
    }
)
# Calls that do not change the account, needed to read at all (cross-account log reader).
EXTRA_READS = frozenset({"sts:AssumeRole", "sts:GetCallerIdentity", "sts:DecodeAuthorizationMessage"})


def is_read_only(service: str, operation: str) -> bool:
    action = f"{service}:{operation}"
    if action in EXTRA_READS:
        return True
    if action in NOT_READS:
        return False
    return operation.startswith(READ_PREFIXES)


def refuse_mutations(model: Any, **_: Any) -> None:
    """``before-call`` handler: raise before a non-read request leaves the process."""
    service = model.service_model.service_name
    if not is_read_only(service, model.name):
        raise DryRunViolation(service, model.name)
