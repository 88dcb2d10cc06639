"""Real-shaped CloudTrail records for the inverses' examples (their test cases)."""

from __future__ import annotations

from typing import Any

ACCOUNT = "111122223333"
OUTSIDE = "444455556666"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/agent-infra-bot"
_SOURCES = {
    "iam": "iam.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "cloudtrail": "cloudtrail.amazonaws.com",
    "kms": "kms.amazonaws.com",
    "rds": "rds.amazonaws.com",
    "secretsmanager": "secretsmanager.amazonaws.com",
    "logs": "logs.amazonaws.com",
    "guardduty": "guardduty.amazonaws.com",
}


def record(
    service: str,
    name: str,
    request: dict[str, Any] | None,
    response: dict[str, Any] | None = None,
    *,
    region: str = "us-east-1",
    event_id: str = "7e3a5b0c-7f0e-4c8e-9a54-3f0f1c2d4e5f",
) -> dict[str, Any]:
    """The record an IAM user's access-key call leaves (the stolen-key case)."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAXAMPLEAGENTBOT01",
            "arn": USER_ARN,
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAXAMPLEAGENTKEY01",
            "userName": "agent-infra-bot",
        },
        "eventTime": "2026-11-25T20:52:24Z",
        "eventSource": _SOURCES[service],
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.66",
        "userAgent": "aws-cli/2.15.30 md/Botocore#2.4.5 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8",
        "requestParameters": request,
        "responseElements": response,
        "requestID": "3f1c9a52-0c4b-4d1e-8e2a-6b7d9f0a1b2c",
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }
