"""A successful console sign-in of an IAM user or the root user without MFA.

```yaml
id: console_login_without_mfa
events: [ConsoleLogin]
severity: high; critical for the root user
```
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, AGENT_USER, record, user_identity
from irkit.detect.rule import Rule, Severity

ROOT_IDENTITY = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
_BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _match(event: Event) -> bool:
    if event.event_name != "ConsoleLogin" or event.identity_type not in ("IAMUser", "Root"):
        return False
    response = event.response
    extra = event.raw.get("additionalEventData")
    mfa = extra.get("MFAUsed") if isinstance(extra, Mapping) else None
    return str(response.get("ConsoleLogin", "")) == "Success" and str(mfa or "No") != "Yes"


def _severity(event: Event) -> Severity:
    return "critical" if event.identity_type == "Root" else "high"


def _describe(event: Event) -> str:
    who = "root user" if event.identity_type == "Root" else event.principal_arn.rsplit("/", 1)[-1]
    return f"{who} signed in to the console without MFA from {event.source_ip}"


def sign_in(identity: Mapping[str, Any], *, mfa: str, result: str = "Success") -> dict[str, Any]:
    """A ConsoleLogin record as signin.amazonaws.com writes it."""
    rec = record(
        "ConsoleLogin",
        "signin.amazonaws.com",
        identity=identity,
        request=None,
        response={"ConsoleLogin": result},
        ip="198.51.100.23",
        user_agent=_BROWSER,
    )
    rec["requestParameters"] = None
    rec["additionalEventData"] = {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": mfa,
    }
    rec["eventType"] = "AwsConsoleSignIn"
    return rec


RULE = Rule(
    id="console_login_without_mfa",
    title="Console sign-in without MFA",
    severity="high",
    severity_of=_severity,
    mitre=("T1078.004",),
    why="A password alone opened the console: a stolen or newly set password (the login profile an "
    "attacker creates for persistence) works from anywhere. An agent never signs in to the console; the "
    "root user without MFA can do anything, including closing the account.",
    remediation="Reset the user's password and delete its login profile if it should have none; enforce "
    "MFA (an IAM policy denying all without aws:MultiFactorAuthPresent); for root, reset the password and "
    "register MFA from the account's recovery email.",
    match=_match,
    describe=_describe,
    events=("ConsoleLogin",),
    failed_calls="ignore",
    tactic="persistence",
    positive=(
        sign_in(user_identity(AGENT_USER), mfa="No"),
        sign_in(ROOT_IDENTITY, mfa="No"),
    ),
    negative=(
        sign_in(user_identity(AGENT_USER), mfa="Yes"),
        sign_in(user_identity(AGENT_USER), mfa="No", result="Failure"),
    ),
)
