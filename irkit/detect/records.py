"""Realistic CloudTrail records for rule cases, tests and the labelled quality set.

Every record carries the fields a real trail delivers (``eventVersion``, ``userIdentity`` with its
session context, ``requestID``, ``eventType``, ``recipientAccountId``...), so a rule that works on
these works on an archive.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

ACCOUNT = "111111111111"
OUTSIDE_ACCOUNT = "999999999999"
AGENT_ROLE = f"arn:aws:iam::{ACCOUNT}:role/agent-infra-optimizer"
AGENT_USER = f"arn:aws:iam::{ACCOUNT}:user/agent-infra-bot"
AGENT_SESSION_KEY = "ASIAQAGENTSESSION001"
AGENT_USER_KEY = "AKIAQAGENTUSERKEY001"
AGENT_IP = "10.20.4.17"
ATTACKER_IP = "198.51.100.23"
BOTO_UA = (
    "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.9 "
    "md/pyimpl#CPython cfg/retry-mode#adaptive Botocore/1.34.120"
)
CLI_UA = (
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 command/iam"
)
_NS = uuid.UUID("6f1f2c1e-3f7c-4b6e-9a51-7d0c1a2b3c4d")


def role_identity(
    role_arn: str = AGENT_ROLE, *, session: str = "agent-run", key: str = AGENT_SESSION_KEY
) -> dict[str, Any]:
    """``userIdentity`` of an assumed-role session of ``role_arn``."""
    account = role_arn.split(":")[4]
    name = role_arn.rsplit("/", 1)[-1]
    role_id = "AROAQ" + uuid.uuid5(_NS, role_arn).hex[:16].upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": role_arn,
                "accountId": account,
                "userName": name,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-11-25T00:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def user_identity(user_arn: str = AGENT_USER, *, key: str = AGENT_USER_KEY) -> dict[str, Any]:
    account = user_arn.split(":")[4]
    return {
        "type": "IAMUser",
        "principalId": "AIDAQ" + uuid.uuid5(_NS, user_arn).hex[:16].upper(),
        "arn": user_arn,
        "accountId": account,
        "accessKeyId": key,
        "userName": user_arn.rsplit("/", 1)[-1],
    }


def record(
    event_name: str,
    event_source: str,
    *,
    request: Mapping[str, Any] | None = None,
    response: Mapping[str, Any] | None = None,
    error: str | None = None,
    region: str = "us-east-1",
    identity: Mapping[str, Any] | None = None,
    time: str = "2026-11-25T10:00:00Z",
    ip: str = AGENT_IP,
    user_agent: str = BOTO_UA,
    read_only: bool = False,
    event_id: str | None = None,
    request_id: str | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """One CloudTrail management-event record."""
    ident = dict(identity) if identity is not None else role_identity()
    body: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": ident,
        "eventTime": time,
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": user_agent,
        "requestParameters": dict(request) if request is not None else None,
        "responseElements": None if error else (dict(response) if response is not None else None),
    }
    if error:
        body["errorCode"] = error
        body["errorMessage"] = f"User: {ident.get('arn')} is not authorized to perform: {event_name}"
    if event_id is None or request_id is None:
        seed = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
        event_id = event_id or str(uuid.uuid5(_NS, seed))
        request_id = request_id or str(uuid.uuid5(_NS, "request:" + seed))
    body["requestID"] = request_id
    body["eventID"] = event_id
    body["readOnly"] = read_only
    body["eventType"] = "AwsApiCall"
    body["managementEvent"] = True
    body["recipientAccountId"] = account
    body["eventCategory"] = "Management"
    return body
