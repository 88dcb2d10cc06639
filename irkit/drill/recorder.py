"""Make AWS calls for real against the simulator and write the CloudTrail record each would leave.

The drill's attacker and its benign agent act through :class:`Actor`: every call changes the
simulated world *and* yields a record with the identity, source IP, user agent, request and
response CloudTrail would log, so what the logs say matches the state irkit finds.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.exceptions
from botocore import xform_name

from irkit.redact import register_secret

_SERVICE_SOURCES = {
    "iam": "iam.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "ec2": "ec2.amazonaws.com",
    "s3": "s3.amazonaws.com",
    "cloudtrail": "cloudtrail.amazonaws.com",
    "rds": "rds.amazonaws.com",
    "guardduty": "guardduty.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
    "cloudwatch": "monitoring.amazonaws.com",
    "bedrock": "bedrock.amazonaws.com",
    "bedrock-runtime": "bedrock.amazonaws.com",  # InvokeModel is logged under bedrock's own source
    "secretsmanager": "secretsmanager.amazonaws.com",
}
_GLOBAL = {"iam", "sts"}
# Never in a CloudTrail record (CloudTrail omits them); never in a drill's evidence either.
_DROP = re.compile(r"(SecretAccessKey|SessionToken|Password|ResponseMetadata|SecretString|SecretBinary)$")


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def to_cloudtrail(value: Any) -> Any:
    """boto3 shapes → CloudTrail's lowerCamelCase JSON, secrets dropped, times as ISO strings."""
    if isinstance(value, Mapping):
        return {_lower_camel(k): to_cloudtrail(v) for k, v in value.items() if not _DROP.search(k)}
    if isinstance(value, list | tuple):
        return [to_cloudtrail(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%b %d, %Y %I:%M:%S %p")
    if isinstance(value, bytes) or not isinstance(value, str | int | float | bool | None):
        return None  # a payload (bytes, a streamed body such as InvokeModel's): CloudTrail does not log it
    return value


def _items(value: Any) -> Any:
    """EC2's query API logs every list as ``{"items": [...]}``."""
    if isinstance(value, Mapping):
        return {k: _items(v) for k, v in value.items()}
    if isinstance(value, list):
        return {"items": [_items(v) for v in value]}
    return value


def ec2_shapes(operation: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> tuple[Any, Any]:
    """CloudTrail's own shapes for EC2 calls (they differ from boto3's)."""
    if operation == "RunInstances":
        req: dict[str, Any] = {
            "instancesSet": {
                "items": [
                    {
                        "imageId": request.get("ImageId"),
                        "minCount": request.get("MinCount"),
                        "maxCount": request.get("MaxCount"),
                    }
                ]
            },
            "instanceType": request.get("InstanceType"),
            "blockDeviceMapping": {},
            "monitoring": {"enabled": False},
            "disableApiTermination": False,
        }
        if "UserData" in request:
            req["userData"] = "<sensitiveDataRemoved>"
        instances = response.get("Instances", [])
        resp = (
            {
                "reservationId": response.get("ReservationId"),
                "ownerId": response.get("OwnerId"),
                "instancesSet": {
                    "items": [
                        {
                            "instanceId": i.get("InstanceId"),
                            "imageId": i.get("ImageId"),
                            "instanceType": i.get("InstanceType"),
                            "placement": {"availabilityZone": i.get("Placement", {}).get("AvailabilityZone")},
                        }
                        for i in instances
                    ]
                },
            }
            if instances
            else None
        )
        return req, resp
    if operation in ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"):
        # CloudTrail names the new rules in securityGroupRuleSet (boto3 says SecurityGroupRules).
        rules = [
            {
                "groupOwnerId": r.get("GroupOwnerId"),
                "groupId": r.get("GroupId"),
                "securityGroupRuleId": r.get("SecurityGroupRuleId"),
                "isEgress": r.get("IsEgress"),
                "ipProtocol": r.get("IpProtocol"),
                "fromPort": r.get("FromPort"),
                "toPort": r.get("ToPort"),
                **({"cidrIpv4": r["CidrIpv4"]} if r.get("CidrIpv4") else {}),
                **({"cidrIpv6": r["CidrIpv6"]} if r.get("CidrIpv6") else {}),
            }
            for r in response.get("SecurityGroupRules", [])
        ]
        resp_sg = {"requestId": str(uuid.uuid4()), "_return": True, "securityGroupRuleSet": {"items": rules}}
        return _items(to_cloudtrail(dict(request))), (resp_sg if rules else None)
    if operation == "ModifySnapshotAttribute":
        entries = [{"userId": u} for u in request.get("UserIds", [])] + [
            {"group": g} for g in request.get("GroupNames", [])
        ]
        op = str(request.get("OperationType", "add")).lower()
        return {
            "snapshotId": request.get("SnapshotId"),
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {op: {"items": entries}},
        }, {"requestId": str(uuid.uuid4()), "_return": True}
    if operation == "DeleteFlowLogs":
        ids = [{"tag": i + 1, "content": fl} for i, fl in enumerate(request.get("FlowLogIds", []))]
        return {"DeleteFlowLogsRequest": {"FlowLogId": ids[0] if len(ids) == 1 else ids}}, {
            "DeleteFlowLogsResponse": {"unsuccessful": ""}
        }
    return _items(to_cloudtrail(dict(request))), (_items(to_cloudtrail(dict(response))) if response else None)


def s3_shapes(request: Mapping[str, Any]) -> dict[str, Any]:
    """S3 logs the bucket as ``bucketName`` and a bucket policy parsed, as ``bucketPolicy``."""
    out: dict[str, Any] = {}
    for key, value in request.items():
        if key == "Bucket":
            out["bucketName"] = value
        elif key == "Policy" and isinstance(value, str):
            try:
                out["bucketPolicy"] = json.loads(value)
            except ValueError:
                out["policy"] = value
        else:
            out[_lower_camel(key)] = to_cloudtrail(value)
    out["Host"] = f"{request.get('Bucket', '')}.s3.amazonaws.com"
    return out


@dataclass
class Actor:
    """Somebody holding credentials: the agent, or the attacker with the agent's stolen key."""

    endpoint: str
    account: str
    arn: str
    access_key_id: str
    secret_access_key: str
    source_ip: str
    user_agent: str
    identity_type: str = "IAMUser"
    session_token: str | None = None
    issuer_arn: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """One client per (service, region): making a boto3 client costs more than most simulator calls."""

    def __post_init__(self) -> None:
        register_secret(self.secret_access_key, self.session_token)

    def __repr__(self) -> str:  # keep the secret out of any log line
        return f"Actor({self.arn!r}, key={self.access_key_id})"

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=self.endpoint,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                aws_session_token=self.session_token,
            )
        return self._clients[key]

    def call(
        self, service: str, operation: str, *, region: str = "us-east-1", when: datetime, **params: Any
    ) -> dict[str, Any]:
        """Call ``operation`` for real and record it as of ``when``; a refused call records errorCode."""
        client = self.client(service, region)
        method = getattr(client, xform_name(operation))
        error: tuple[str, str] | None = None
        try:
            response: dict[str, Any] = method(**params)
        except botocore.exceptions.ClientError as exc:
            err = exc.response.get("Error", {})
            error = (str(err.get("Code", "Error")), str(err.get("Message", "")))
            response = {}
        self.records.append(
            self.record(service, operation, region=region, when=when, request=params, response=response, error=error)
        )
        return response

    def record(
        self,
        service: str,
        operation: str,
        *,
        region: str,
        when: datetime,
        request: Mapping[str, Any] | None = None,
        response: Mapping[str, Any] | None = None,
        error: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """The CloudTrail record of one call (also used for synthetic background reads)."""
        identity: dict[str, Any] = {
            "type": self.identity_type,
            "principalId": self.access_key_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": self.access_key_id,
        }
        if self.identity_type == "IAMUser":
            identity["userName"] = self.arn.rsplit("/", 1)[-1]
        if self.issuer_arn:
            identity["sessionContext"] = {
                "sessionIssuer": {
                    "type": "Role",
                    "arn": self.issuer_arn,
                    "accountId": self.account,
                    "userName": self.issuer_arn.rsplit("/", 1)[-1],
                },
                "attributes": {"creationDate": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "mfaAuthenticated": "false"},
            }
        body = {k: v for k, v in (response or {}).items() if k != "ResponseMetadata"}
        if service == "ec2":
            req_out, resp_out = ec2_shapes(operation, request or {}, body)
        elif service == "s3" and request:
            req_out, resp_out = s3_shapes(request), None
        else:
            req_out = to_cloudtrail(dict(request)) if request else None
            resp_out = to_cloudtrail(body) if body else None
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": _SERVICE_SOURCES.get(service, f"{service}.amazonaws.com"),
            "eventName": operation,
            "awsRegion": "us-east-1" if service in _GLOBAL else region,
            "sourceIPAddress": self.source_ip,
            "userAgent": self.user_agent,
            "requestParameters": req_out or None,
            "responseElements": resp_out if resp_out and not error else None,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": operation.startswith(("Describe", "Get", "List", "Head")),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": self.account,
            "eventCategory": "Management",
        }
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        return rec
