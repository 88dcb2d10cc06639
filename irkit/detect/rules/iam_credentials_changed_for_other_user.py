"""Credentials changed for another IAM user: a key reactivated, MFA enrolled or removed, SSH keys,
signing certificates or service-specific credentials added or reset.

```yaml
id: iam_credentials_changed_for_other_user
events: [UpdateAccessKey, EnableMFADevice, DeactivateMFADevice, ResyncMFADevice, UploadSSHPublicKey,
         UploadSigningCertificate, CreateServiceSpecificCredential, ResetServiceSpecificCredential]
```
(Console passwords: ``iam_login_profile_changed``; new access keys: ``iam_access_key_for_other_user``.)
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record, user_identity
from irkit.detect.rule import Rule
from irkit.detect.rules._util import caller_user_name, req

_NAMES = (
    "UpdateAccessKey",
    "EnableMFADevice",
    "DeactivateMFADevice",
    "ResyncMFADevice",
    "UploadSSHPublicKey",
    "UploadSigningCertificate",
    "CreateServiceSpecificCredential",
    "ResetServiceSpecificCredential",
)
_VERBS = {
    "UpdateAccessKey": "reactivated access key {key} of",
    "EnableMFADevice": "enrolled an MFA device for",
    "DeactivateMFADevice": "removed the MFA device of",
    "ResyncMFADevice": "resynchronised the MFA device of",
    "UploadSSHPublicKey": "added an SSH key (CodeCommit) for",
    "UploadSigningCertificate": "added a signing certificate for",
    "CreateServiceSpecificCredential": "created a service-specific credential for",
    "ResetServiceSpecificCredential": "reset a service-specific credential of",
}


def _match(event: Event) -> bool:
    if event.event_source != "iam.amazonaws.com" or event.event_name not in _NAMES:
        return False
    target = req(event, "userName")
    if not target or target == caller_user_name(event):
        return False
    # deactivating someone's key is what a responder does; reactivating one undoes containment
    return event.event_name != "UpdateAccessKey" or str(req(event, "status") or "").lower() == "active"


def _describe(event: Event) -> str:
    verb = _VERBS[event.event_name].format(key=req(event, "accessKeyId") or "")
    return f"{verb} user {req(event, 'userName')}"


RULE = Rule(
    id="iam_credentials_changed_for_other_user",
    title="Credentials changed for another IAM user",
    severity="high",
    mitre=("T1098.001", "T1556.006"),
    why="Reactivating a disabled key, enrolling one's own MFA device on someone else, removing their MFA, "
    "or adding SSH keys and service credentials to another user takes over that identity in a way its "
    "owner does not see — and an attacker re-enabling keys a responder disabled undoes containment.",
    remediation="Deactivate what was added or re-enabled (UpdateAccessKey Inactive, DeactivateMFADevice of "
    "the foreign device, DeleteSSHPublicKey, DeleteSigningCertificate, DeleteServiceSpecificCredential) and "
    "review the target user's activity since.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="persistence",
    positive=(
        record(
            "UpdateAccessKey",
            "iam.amazonaws.com",
            request={"userName": "ci-deployer", "accessKeyId": "AKIAQCIDEPLOYER00001", "status": "Active"},
        ),
        record(
            "EnableMFADevice",
            "iam.amazonaws.com",
            request={
                "userName": "admin-jane",
                "serialNumber": "arn:aws:iam::111111111111:mfa/attacker-phone",
                "authenticationCode1": "HIDDEN_DUE_TO_SECURITY_REASONS",
                "authenticationCode2": "HIDDEN_DUE_TO_SECURITY_REASONS",
            },
        ),
        record(
            "DeactivateMFADevice",
            "iam.amazonaws.com",
            request={"userName": "admin-jane", "serialNumber": "arn:aws:iam::111111111111:mfa/jane"},
        ),
        record(
            "CreateServiceSpecificCredential",
            "iam.amazonaws.com",
            request={"userName": "admin-jane", "serviceName": "codecommit.amazonaws.com"},
        ),
    ),
    negative=(
        record(
            "UpdateAccessKey",
            "iam.amazonaws.com",
            request={"userName": "ci-deployer", "accessKeyId": "AKIAQCIDEPLOYER00001", "status": "Inactive"},
        ),
        record(
            "EnableMFADevice",
            "iam.amazonaws.com",
            identity=user_identity(),
            request={"userName": "agent-infra-bot", "serialNumber": "arn:aws:iam::111111111111:mfa/bot"},
        ),
    ),
)
