"""The dry-run guard: below every step, a botocore hook that refuses what is not a read.

It is an allow-list of read verbs, not a deny-list of writes: an operation AWS adds tomorrow is
refused in a dry run until someone decides it only reads. Steps never see the flag; a step that
tries to mutate during a dry run fails loudly with :class:`DryRunViolation`.
"""

from __future__ import annotations

import re
from typing import Any

from irkit.errors import DryRunViolation

# Whole CamelCase words: "Check" was a read verb once, and let license-manager:CheckoutLicense and
# CheckInLicense through. Nothing irkit calls needs it, so it is no longer on the list.
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "Select", "BatchGet")
_READ = re.compile(rf"(?:{'|'.join(READ_PREFIXES)})(?![a-z])")
# Read-shaped names that hand out a credential or a secret: STS's GetSessionToken,
# GetFederationToken, GetWebIdentityToken and the ones AWS adds next, ec2:GetPasswordData,
# secretsmanager:(Batch)GetSecretValue, ecr:GetAuthorizationToken, sso:GetRoleCredentials,
# redshift:GetClusterCredentials, iam:GetCredentialReport (which needs a Generate*, a write, first).
_HANDS_OUT_SECRETS = re.compile(r"(?:Batch)?Get\w*(?:Credential|Token|Password|SecretValue)")
# Read-shaped names the pattern does not catch that show what a dry run must not see.
NOT_READS = frozenset({"ec2:GetConsoleScreenshot"})
# Calls that do not change the account, needed to read at all (cross-account log reader).
EXTRA_READS = frozenset({"sts:AssumeRole", "sts:DecodeAuthorizationMessage"})


def is_read_only(service: str, operation: str) -> bool:
    action = f"{service}:{operation}"
    if action in EXTRA_READS:
        return True
    if action in NOT_READS or _HANDS_OUT_SECRETS.match(operation):
        return False
    return _READ.match(operation) is not None


def refuse_mutations(model: Any, **_: Any) -> None:
    """``before-call`` handler: raise before a non-read request leaves the process."""
    service = model.service_model.service_name
    if not is_read_only(service, model.name):
        raise DryRunViolation(service, model.name)
