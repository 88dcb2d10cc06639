"""A labelled quality set: realistic benign agent traffic with attack incidents mixed in.

Deterministic for a seed. Benign traffic is what an infrastructure agent does all day (reads,
tagging, instance type changes, start/stop, metrics, app-bucket objects, small launches in its
usual regions, hourly AssumeRole of its own role, Lambda configuration, an occasional denied read)
plus near-misses that look like attacks but are not (ingress from 10.0.0.0/8, a bucket policy for
one role, a year-long log retention, GuardDuty being *enabled*) and a few legitimate changes that
rules do flag (a Lambda execution role created, HTTPS opened to the world on a load balancer): the
measured precision includes that cost. Attacks are randomised variants of
every technique the library covers, one in each ``variants`` failing (an attempt), all made with the
agent's own (stolen) credentials so that attribution is what ties them to the agent.

```python
data = generate(benign=50_000, seed=7)
analysis = analyse(data)          # -> irkit.detect.quality
```
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any
from urllib.parse import quote

import orjson

from irkit.detect.event import format_time
from irkit.detect.records import (
    ACCOUNT,
    AGENT_ROLE,
    AGENT_USER,
    AGENT_USER_KEY,
    BOTO_UA,
    CLI_UA,
    record,
    role_identity,
    user_identity,
)
from irkit.detect.rules.console_login_without_mfa import ROOT_IDENTITY, sign_in
from irkit.detect.rules.ec2_large_or_gpu_instance import is_suspicious_type

START = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
AGENT_SECRETS = (
    "agent/github-token",
    "agent/slack-webhook",
    "arn:aws:secretsmanager:us-east-1:111111111111:secret:agent/llm-key-Ab12Cd",
)
AGENT_PARAMETERS = ("/agent/api-token", "/agent/db-password")
AGENT_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
NAT_IP = "52.4.19.200"
"""The agent instance's NAT gateway address (its public network)."""
DAYS = 5
AGENT_IPS = tuple(f"10.20.4.{n}" for n in (11, 17, 23, 42))
ATTACKER_IPS = (
    "198.51.100.23",
    "203.0.113.80",
    "45.155.205.9",
    "185.220.101.4",
    "91.240.118.7",
    "2001:db8:bad::7",
)
USUAL_REGIONS = ("us-east-1",) * 6 + ("us-west-2",)
UNUSED_REGIONS = ("ap-south-1", "sa-east-1", "eu-north-1", "ap-northeast-3", "me-central-1", "af-south-1")
REPLICA_REGIONS = ("eu-west-3", "ap-northeast-2", "ca-central-1")
ADMIN_POLICIES = ("AdministratorAccess", "IAMFullAccess", "PowerUserAccess")
Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Incident:
    technique: str
    """The technique (a rule id, or a stateful scenario's detector id)."""
    expected: frozenset[str]
    """Every rule id that should fire on these events."""
    event_ids: tuple[str, ...]
    attempt: bool = False
    scope: str = "agent"
    """``agent``: made with the agent's credentials (attribution ties it to the agent); ``account``:
    another principal of the account (root, a workload) — seen only when every principal is analysed."""


@dataclass(slots=True)
class LabelledSet:
    records: list[Record]
    incidents: list[Incident]
    benign_ids: frozenset[str]
    principals: tuple[str, ...] = (AGENT_ROLE, AGENT_USER)
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    workload_ids: frozenset[str] = frozenset()
    """Benign events of the account's other principals (workloads); a subset of ``benign_ids``."""


class _Gen:
    def __init__(self, seed: int, start: datetime = START, days: int = DAYS) -> None:
        self.start = start
        self.days = days
        self.rng = Random(seed)  # noqa: S311 - reproducible test data, not secrets

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def when(self) -> datetime:
        return self.start + timedelta(seconds=self.rng.randrange(self.days * 86400))

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.rng.getrandbits(24):06x}"

    def account(self) -> str:
        return str(self.rng.randrange(100000000000, 999999999999))

    def pick(self, options: tuple[Any, ...] | list[Any]) -> Any:
        return options[self.rng.randrange(len(options))]

    def session_key(self, at: datetime) -> str:
        hour = int((at - START).total_seconds() // 3600) % 10**10
        return f"ASIAQAGENT{hour:010d}"

    def rec(
        self,
        name: str,
        source: str,
        at: datetime,
        *,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        region: str | None = None,
        read_only: bool = False,
        identity: dict[str, Any] | None = None,
        ip: str | None = None,
        ua: str = BOTO_UA,
        error: str | None = None,
    ) -> Record:
        return record(
            name,
            source,
            time=format_time(at),
            request=request if request is not None else {},
            response=response,
            region=region or self.pick(USUAL_REGIONS),
            read_only=read_only,
            identity=identity or role_identity(key=self.session_key(at)),
            ip=ip or self.pick(AGENT_IPS),
            user_agent=ua,
            error=error,
            event_id=self.uid(),
            request_id=self.uid(),
        )


# -- benign traffic ----------------------------------------------------------------------------
def _instance(g: _Gen) -> str:
    return f"i-0{g.rng.getrandbits(60):015x}"


def _benign_ops(g: _Gen) -> list[tuple[float, Callable[[datetime], Record]]]:
    ec2, rds, s3 = "ec2.amazonaws.com", "rds.amazonaws.com", "s3.amazonaws.com"

    def read(name: str, source: str, request: dict[str, Any] | None = None) -> Callable[[datetime], Record]:
        return lambda at: g.rec(name, source, at, request=request or {}, read_only=True)

    def run(at: datetime) -> Record:
        itype = g.pick(("t3.micro", "t3.small", "t3.medium", "t3.large", "m6i.large"))
        count = g.pick((1, 1, 1, 2))
        return g.rec(
            "RunInstances",
            ec2,
            at,
            request={
                "instancesSet": {"items": [{"imageId": "ami-0abc1234def567890", "minCount": count, "maxCount": count}]},
                "instanceType": itype,
            },
            response={"instancesSet": {"items": [{"instanceId": _instance(g), "instanceType": itype}] * count}},
        )

    def sg_internal(at: datetime) -> Record:
        cidr = g.pick(("10.0.0.0/8", "10.20.0.0/16", "172.16.0.0/12"))
        perm = {
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "ipRanges": {"items": [{"cidrIp": cidr}]},
        }
        return g.rec(
            "AuthorizeSecurityGroupIngress",
            ec2,
            at,
            request={"groupId": "sg-0app", "ipPermissions": {"items": [perm]}},
        )

    def bucket_policy(at: datetime) -> Record:
        stmt = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::app-assets/*",
        }
        return g.rec(
            "PutBucketPolicy",
            s3,
            at,
            request={"bucketName": "app-assets", "bucketPolicy": {"Statement": [stmt]}},
        )

    def lambda_role(at: datetime) -> Record:
        # legitimate, and still flagged: an infrastructure agent may create execution roles
        trust = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
        role = g.name("fn-exec")
        return g.rec(
            "CreateRole",
            "iam.amazonaws.com",
            at,
            region="us-east-1",
            request={"roleName": role, "assumeRolePolicyDocument": orjson.dumps(trust).decode()},
            response={"role": {"roleName": role, "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}"}},
        )

    def public_https(at: datetime) -> Record:
        # legitimate, and still flagged: a public load balancer's HTTPS listener
        perm = {
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
        }
        return g.rec(
            "AuthorizeSecurityGroupIngress",
            ec2,
            at,
            request={"groupId": "sg-0alb", "ipPermissions": {"items": [perm]}},
        )

    def denied(at: datetime) -> Record:
        name, source = g.pick((("DescribeInstances", ec2), ("DescribeDBInstances", rds), ("GetBucketPolicy", s3)))
        return g.rec(name, source, at, read_only=True, error="AccessDenied")

    def assume_own(at: datetime) -> Record:
        return g.rec(
            "AssumeRole",
            "sts.amazonaws.com",
            at,
            identity=user_identity(AGENT_USER, key=AGENT_USER_KEY),
            request={"roleArn": AGENT_ROLE, "roleSessionName": "agent-run", "durationSeconds": 3600},
            response={"credentials": {"accessKeyId": g.session_key(at), "expiration": "x"}},
            region="us-east-1",
        )

    def own_secret(at: datetime) -> Record:
        # the agent's own credentials, read at every run: routine, an access, never an alarm
        secret = g.pick(AGENT_SECRETS)
        return g.rec("GetSecretValue", "secretsmanager.amazonaws.com", at, request={"secretId": secret}, read_only=True)

    def own_parameter(at: datetime) -> Record:
        if g.rng.random() < 0.3:
            request: dict[str, Any] = {"path": "/agent/config/", "recursive": True, "withDecryption": True}
            return g.rec("GetParametersByPath", "ssm.amazonaws.com", at, request=request, read_only=True)
        request = {"name": g.pick(AGENT_PARAMETERS), "withDecryption": True}
        return g.rec("GetParameter", "ssm.amazonaws.com", at, request=request, read_only=True)

    def think(at: datetime) -> Record:
        # an AI agent: its own model calls, from its own hosts
        name = g.pick(("InvokeModel", "Converse", "Converse", "ConverseStream"))
        return g.rec(name, "bedrock.amazonaws.com", at, request={"modelId": AGENT_MODEL}, read_only=True)

    def own_layer(at: datetime) -> Record:
        # legitimate, and still flagged (medium): the agent rolls its own tracing layer out
        layer = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:otel:{g.rng.randrange(10, 40)}"
        return g.rec(
            "UpdateFunctionConfiguration20150331v2",
            "lambda.amazonaws.com",
            at,
            request={"functionName": "orders-api", "layers": [layer]},
        )

    return [
        (2, own_secret),
        (1, own_parameter),
        (3, think),
        (
            0.5,
            read("DescribeInstanceAttribute", ec2, {"instanceId": "i-0agentbox0000001", "attribute": "instanceType"}),
        ),
        (0.01, own_layer),
        (14, read("DescribeInstances", ec2)),
        (5, read("DescribeVolumes", ec2)),
        (4, read("DescribeSecurityGroups", ec2)),
        (3, read("DescribeSubnets", ec2)),
        (2, read("DescribeImages", ec2, {"ownersSet": {"items": [{"owner": "self"}]}})),
        (2, read("DescribeSnapshots", ec2)),
        (4, read("DescribeInstanceStatus", ec2)),
        (3, read("DescribeDBInstances", rds)),
        (1, read("DescribeDBClusters", rds)),
        (6, read("GetMetricData", "monitoring.amazonaws.com")),
        (
            4,
            lambda at: g.rec("PutMetricData", "monitoring.amazonaws.com", at, request={"namespace": "Agent"}),
        ),
        (3, read("ListBuckets", s3)),
        (3, read("GetObject", s3, {"bucketName": "agent-config", "key": "plan.json"})),
        (
            3,
            lambda at: g.rec("PutObject", s3, at, request={"bucketName": "agent-reports", "key": g.name("r")}),
        ),
        (2, read("GetRole", "iam.amazonaws.com", {"roleName": "app"})),
        (1, read("ListAttachedRolePolicies", "iam.amazonaws.com", {"roleName": "app"})),
        (3, read("GetCallerIdentity", "sts.amazonaws.com")),
        (
            4,
            lambda at: g.rec(
                "CreateTags",
                ec2,
                at,
                request={
                    "resourcesSet": {"items": [{"resourceId": _instance(g)}]},
                    "tagSet": {"items": [{"key": "rightsized", "value": "1"}]},
                },
            ),
        ),
        (
            2,
            lambda at: g.rec(
                "ModifyInstanceAttribute",
                ec2,
                at,
                request={
                    "instanceId": _instance(g),
                    "instanceType": {"value": g.pick(("t3.large", "m6i.large"))},
                },
            ),
        ),
        (
            1,
            lambda at: g.rec(
                "ModifyInstanceAttribute",
                ec2,
                at,
                request={"instanceId": _instance(g), "disableApiTermination": {"value": True}},
            ),
        ),
        (
            2,
            lambda at: g.rec(
                "StopInstances", ec2, at, request={"instancesSet": {"items": [{"instanceId": _instance(g)}]}}
            ),
        ),
        (
            2,
            lambda at: g.rec(
                "StartInstances", ec2, at, request={"instancesSet": {"items": [{"instanceId": _instance(g)}]}}
            ),
        ),
        (0.8, run),
        (2, read("GetFunction", "lambda.amazonaws.com", {"functionName": "orders-api"})),
        (
            1,
            lambda at: g.rec(
                "UpdateFunctionConfiguration20150331v2",
                "lambda.amazonaws.com",
                at,
                request={"functionName": "orders-api", "memorySize": g.pick((256, 512, 1024))},
            ),
        ),
        (2, read("GetParameter", "ssm.amazonaws.com", {"name": "/agent/config", "withDecryption": False})),
        (2, read("Decrypt", "kms.amazonaws.com", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})),
        (2, read("DescribeAutoScalingGroups", "autoscaling.amazonaws.com")),
        (
            1,
            lambda at: g.rec(
                "SetDesiredCapacity",
                "autoscaling.amazonaws.com",
                at,
                request={"autoScalingGroupName": "web", "desiredCapacity": g.pick((2, 3, 4))},
            ),
        ),
        (1, lambda at: g.rec("CreateSnapshot", ec2, at, request={"volumeId": "vol-0abc"})),
        (1, read("DescribeLogGroups", "logs.amazonaws.com")),
        (1, read("ListDetectors", "guardduty.amazonaws.com")),
        (1, read("DescribeTrails", "cloudtrail.amazonaws.com")),
        (0.3, denied),
        (0.1, sg_internal),
        (0.05, bucket_policy),
        (
            0.05,
            lambda at: g.rec(
                "PutRetentionPolicy",
                "logs.amazonaws.com",
                at,
                request={"logGroupName": "/agent/runs", "retentionInDays": 365},
            ),
        ),
        (
            0.05,
            lambda at: g.rec(
                "UpdateDetector", "guardduty.amazonaws.com", at, request={"detectorId": "d1", "enable": True}
            ),
        ),
        (
            0.05,
            lambda at: g.rec(
                "ModifyDBInstance",
                rds,
                at,
                request={"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.large"},
            ),
        ),
        (
            0.05,
            lambda at: g.rec(
                "AddPermission20150331v2",
                "lambda.amazonaws.com",
                at,
                request={
                    "functionName": "thumbs",
                    "principal": "s3.amazonaws.com",
                    "action": "lambda:InvokeFunction",
                    "sourceArn": "arn:aws:s3:::uploads",
                },
            ),
        ),
        (
            0.05,
            lambda at: g.rec(
                "CreateDBInstanceReadReplica",
                rds,
                at,
                region="us-east-1",
                request={"dBInstanceIdentifier": g.name("orders-ro"), "sourceDBInstanceIdentifier": "orders"},
            ),
        ),
        (0.3, assume_own),
        (0.01, lambda_role),
        (0.01, public_https),
    ]


# -- attacks -----------------------------------------------------------------------------------
Attack = Callable[[_Gen, datetime, dict[str, Any]], tuple[list[Record], set[str]]]


def _doc(statement: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [statement]}


def _encoded(g: _Gen, doc: dict[str, Any]) -> str:
    text = orjson.dumps(doc).decode()
    return quote(text) if g.rng.random() < 0.5 else text


def _single(
    name: str,
    source: str,
    build: Callable[[_Gen], dict[str, Any]],
    expected: set[str] | None = None,
    **rec: Any,
) -> Attack:
    def attack(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
        return [g.rec(name, source, at, request=build(g), **{**ident, **rec})], set(expected or ())

    return attack


def _variants(*attacks: Attack) -> Attack:
    def attack(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
        chosen: Attack = g.pick(attacks)
        return chosen(g, at, ident)

    return attack


IAM, EC2, S3, RDS = "iam.amazonaws.com", "ec2.amazonaws.com", "s3.amazonaws.com", "rds.amazonaws.com"
BEDROCK = "bedrock.amazonaws.com"


def _away(attack: Attack, also: str) -> Attack:
    """An attack that also raises ``also`` when it succeeds from the attacker's network (not the agent's)."""

    def wrapped(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
        recs, expected = attack(g, at, ident)
        if ident.get("ip") in ATTACKER_IPS and not ident.get("error"):
            expected = expected | {also}
        return recs, expected

    return wrapped


def _console(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    # a failed sign-in is not this technique: the password worked, only MFA was missing
    rec = sign_in(user_identity(AGENT_USER, key=""), mfa="No")
    rec.update(
        eventTime=format_time(at), eventID=g.uid(), requestID=g.uid(), sourceIPAddress=ident.get("ip", ATTACKER_IPS[0])
    )
    return [rec], set()


def _outside_account(g: _Gen) -> str:
    return g.account()


def _layer_arn(g: _Gen) -> str:
    return f"arn:aws:lambda:us-east-1:{g.account()}:layer:{g.name('ext')}:{g.rng.randrange(1, 9)}"


def _mirror(g: _Gen) -> dict[str, Any]:
    return {
        "CreateTrafficMirrorSessionRequest": {
            "NetworkInterfaceId": f"eni-0{g.rng.getrandbits(56):014x}",
            "TrafficMirrorTargetId": f"tmt-0{g.rng.getrandbits(56):014x}",
            "TrafficMirrorFilterId": f"tmf-0{g.rng.getrandbits(56):014x}",
            "SessionNumber": 1,
        }
    }


def _endpoint_policy(g: _Gen) -> dict[str, Any]:
    stmt = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{g.account()}:root"},
        "Action": "s3:*",
        "Resource": "*",
    }
    return {
        "ModifyVpcEndpointRequest": {
            "VpcEndpointId": f"vpce-0{g.rng.getrandbits(56):014x}",
            "PolicyDocument": orjson.dumps(_doc(stmt)).decode(),
        }
    }


NEW_EVENT_ATTACKS: dict[str, Attack] = {
    "bedrock_invocation_logging_disabled": _variants(
        _single("DeleteModelInvocationLoggingConfiguration", BEDROCK, lambda g: {}),
        _single(
            "PutModelInvocationLoggingConfiguration",
            BEDROCK,
            lambda g: {"loggingConfig": {"textDataDeliveryEnabled": False, "imageDataDeliveryEnabled": False}},
        ),
    ),
    "bedrock_guardrail_weakened": _variants(
        _single("DeleteGuardrail", BEDROCK, lambda g: {"guardrailIdentifier": g.name("gr")}),
        _single(
            "UpdateGuardrail",
            BEDROCK,
            lambda g: {
                "guardrailIdentifier": g.name("gr"),
                "name": "support-bot",
                "contentPolicyConfig": {
                    "filtersConfig": [{"type": "PROMPT_ATTACK", "inputStrength": "NONE", "outputStrength": "NONE"}]
                },
            },
        ),
    ),
    "bedrock_model_access_changed": _variants(
        _single("PutUseCaseForModelAccess", BEDROCK, lambda g: {"formData": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        _single(
            "CreateFoundationModelAgreement",
            BEDROCK,
            lambda g: {"modelId": g.pick(("anthropic.claude-3-opus-20240229-v1:0", "meta.llama3-70b-instruct-v1:0"))},
        ),
        _single(
            "CreateProvisionedModelThroughput",
            BEDROCK,
            lambda g: {
                "modelUnits": g.rng.randrange(1, 8),
                "provisionedModelName": g.name("pt"),
                "modelId": AGENT_MODEL,
            },
        ),
    ),
    "console_login_without_mfa": _console,
    "iam_credentials_changed_for_other_user": _variants(
        _single(
            "UpdateAccessKey",
            IAM,
            lambda g: {
                "userName": g.name("user"),
                "accessKeyId": f"AKIAQ{g.rng.getrandbits(60):015X}",
                "status": "Active",
            },
            region="us-east-1",
        ),
        _single(
            "EnableMFADevice",
            IAM,
            lambda g: {"userName": g.name("admin"), "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/{g.name('phone')}"},
            region="us-east-1",
        ),
        _single(
            "DeactivateMFADevice", IAM, lambda g: {"userName": g.name("admin"), "serialNumber": "x"}, region="us-east-1"
        ),
        _single(
            "UploadSSHPublicKey",
            IAM,
            lambda g: {"userName": g.name("dev"), "sSHPublicKeyBody": "ssh-ed25519 AAAA"},
            region="us-east-1",
        ),
    ),
    "iam_quarantine_policy_detached": _single(
        "DetachUserPolicy",
        IAM,
        lambda g: {
            "userName": "agent-infra-bot",
            "policyArn": f"arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine{g.pick(('', 'V2', 'V3'))}",
        },
        region="us-east-1",
    ),
    "ec2_user_data_read": _single(
        "DescribeInstanceAttribute",
        EC2,
        lambda g: {"instanceId": _instance(g), "attribute": "userData"},
        read_only=True,
    ),
    "lambda_layer_attached": _single(
        "UpdateFunctionConfiguration20150331v2",
        "lambda.amazonaws.com",
        lambda g: {"functionName": g.pick(("orders-api", "thumbs", "auth")), "layers": [_layer_arn(g)]},
    ),
    "lambda_layer_shared_externally": _single(
        "AddLayerVersionPermission20181031",
        "lambda.amazonaws.com",
        lambda g: {
            "layerName": g.name("layer"),
            "versionNumber": g.rng.randrange(1, 9),
            "statementId": g.name("s"),
            "action": "lambda:GetLayerVersion",
            "principal": g.pick(("*", g.account())),
        },
    ),
    "rolesanywhere_trust_anchor_created": _variants(
        _single(
            "CreateTrustAnchor",
            "rolesanywhere.amazonaws.com",
            lambda g: {"name": g.name("ca"), "source": {"sourceType": "CERTIFICATE_BUNDLE"}, "enabled": True},
        ),
        _single(
            "CreateProfile",
            "rolesanywhere.amazonaws.com",
            lambda g: {"name": g.name("p"), "roleArns": [f"arn:aws:iam::{ACCOUNT}:role/{g.name('ops')}"]},
        ),
    ),
    "iam_identity_provider_added": _variants(
        _single(
            "CreateOpenIDConnectProvider",
            IAM,
            lambda g: {"url": f"https://{g.name('oidc')}.example.net", "clientIDList": ["sts.amazonaws.com"]},
            region="us-east-1",
        ),
        _single(
            "CreateSAMLProvider",
            IAM,
            lambda g: {"name": g.name("idp"), "sAMLMetadataDocument": "<md/>"},
            region="us-east-1",
        ),
    ),
    "rds_deletion_protection_disabled": _single(
        "ModifyDBInstance", RDS, lambda g: {"dBInstanceIdentifier": g.name("db"), "deletionProtection": False}
    ),
    "rds_master_password_changed": _single(
        "ModifyDBInstance",
        RDS,
        lambda g: {"dBInstanceIdentifier": g.name("db"), "masterUserPassword": "****", "applyImmediately": True},
    ),
    "rds_snapshot_restored_public": _single(
        "RestoreDBInstanceFromDBSnapshot",
        RDS,
        lambda g: {
            "dBInstanceIdentifier": g.name("copy"),
            "dBSnapshotIdentifier": f"rds:{g.name('orders')}",
            "publiclyAccessible": True,
        },
        {"rds_instance_made_public"},  # a public restore is both: data copied out, and exposed
    ),
    "rds_backup_deleted": _variants(
        _single("DeleteDBSnapshot", RDS, lambda g: {"dBSnapshotIdentifier": g.name("snap")}),
        _single("DeleteDBClusterSnapshot", RDS, lambda g: {"dBClusterSnapshotIdentifier": g.name("snap")}),
        _single("ModifyDBInstance", RDS, lambda g: {"dBInstanceIdentifier": g.name("db"), "backupRetentionPeriod": 0}),
    ),
    "rds_instance_deleted": _single(
        "DeleteDBInstance",
        RDS,
        lambda g: {"dBInstanceIdentifier": g.name("db"), "skipFinalSnapshot": g.pick((True, False))},
    ),
    "rds_activity_stream_stopped": _single(
        "StopActivityStream",
        RDS,
        lambda g: {"resourceArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:{g.name('c')}", "applyImmediately": True},
    ),
    "rds_iam_role_added": _single(
        "AddRoleToDBCluster",
        RDS,
        lambda g: {"dBClusterIdentifier": g.name("c"), "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{g.name('exp')}"},
    ),
    "ec2_route_table_changed": _single(
        "CreateRoute",
        EC2,
        lambda g: {
            "routeTableId": f"rtb-0{g.rng.getrandbits(56):014x}",
            "destinationCidrBlock": "0.0.0.0/0",
            g.pick(("gatewayId", "networkInterfaceId", "instanceId")): f"x-0{g.rng.getrandbits(40):010x}",
        },
    ),
    "ec2_internet_gateway_created": _variants(
        _single("AttachInternetGateway", EC2, lambda g: {"internetGatewayId": g.name("igw"), "vpcId": g.name("vpc")}),
        _single("CreateNatGateway", EC2, lambda g: {"CreateNatGatewayRequest": {"SubnetId": g.name("subnet")}}),
    ),
    "ec2_vpc_peering_created": _single(
        "CreateVpcPeeringConnection",
        EC2,
        lambda g: {"vpcId": g.name("vpc"), "peerVpcId": g.name("vpc"), "peerOwnerId": _outside_account(g)},
    ),
    "ec2_traffic_mirroring_created": _single("CreateTrafficMirrorSession", EC2, _mirror),
    "ec2_vpc_endpoint_policy_external": _single("ModifyVpcEndpoint", EC2, _endpoint_policy),
    "cloudtrail_trail_created": _single(
        "CreateTrail",
        "cloudtrail.amazonaws.com",
        lambda g: {"name": g.name("audit"), "s3BucketName": g.name("logs"), "isMultiRegionTrail": True},
    ),
    "account_region_enabled": _single(
        "EnableRegion",
        "account.amazonaws.com",
        lambda g: {"regionName": g.pick(("ap-east-1", "me-south-1", "af-south-1"))},
    ),
}


def _admin_inline(g: _Gen) -> dict[str, Any]:
    stmt = g.pick(
        (
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]},
            {"Effect": "Allow", "Action": ["iam:*", "s3:GetObject"], "Resource": "*"},
            {"Effect": "Allow", "NotAction": ["organizations:*"], "Resource": "*"},
        )
    )
    kind = g.pick((("PutUserPolicy", "userName"), ("PutRolePolicy", "roleName"), ("PutGroupPolicy", "groupName")))
    return {
        kind[1]: g.name("p"),
        "policyName": g.name("inline"),
        "policyDocument": _encoded(g, _doc(stmt)),
        "_n": kind[0],
    }


def _admin_policy(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    if g.rng.random() < 0.5:
        req = _admin_inline(g)
        name = req.pop("_n")
    else:
        name, key = g.pick(
            (
                ("AttachUserPolicy", "userName"),
                ("AttachRolePolicy", "roleName"),
                ("AttachGroupPolicy", "groupName"),
            )
        )
        req = {key: g.name("p"), "policyArn": f"arn:aws:iam::aws:policy/{g.pick(ADMIN_POLICIES)}"}
    return [g.rec(name, IAM, at, request=req, region="us-east-1", **ident)], set()


def _trust(principal: Any) -> dict[str, Any]:
    return _doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


def _sg_open(g: _Gen) -> dict[str, Any]:
    port = g.pick((22, 3389, 5432, 6379, 8443, 9200, 27017, 31337))
    v6 = g.rng.random() < 0.3
    # any prefix-length-0 block is the whole internet, not only the 0.0.0.0/0 spelling
    v4 = (
        "0.0.0.0/0"
        if g.rng.random() < 0.5
        else f"{g.rng.randrange(1, 224)}.{g.rng.randrange(256)}.0.{g.rng.randrange(256)}/0"
    )
    ranges = {"items": [{"cidrIpv6": "::/0"}]} if v6 else {"items": [{"cidrIp": v4}]}
    proto = g.pick(("tcp", "tcp", "-1"))
    perm = {
        "ipProtocol": proto,
        "fromPort": port,
        "toPort": port,
        "ipRanges": {} if v6 else ranges,
        "ipv6Ranges": ranges if v6 else {},
    }
    return {"groupId": f"sg-0{g.rng.getrandbits(56):014x}", "ipPermissions": {"items": [perm]}}


def _bucket_public(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    bucket = g.name("exports")
    choice = g.rng.randrange(4)
    if choice == 0:
        principal = g.pick(("*", {"AWS": "*"}, {"AWS": ["*"]}))
        stmt = {
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        req: dict[str, Any] = {"bucketName": bucket, "bucketPolicy": _doc(stmt), "policy": ""}
        name = "PutBucketPolicy"
    elif choice == 1:
        group = g.pick(("AllUsers", "AuthenticatedUsers"))
        grant = {
            "Grantee": {"xsi:type": "Group", "URI": f"http://acs.amazonaws.com/groups/global/{group}"},
            "Permission": g.pick(("READ", "WRITE", "FULL_CONTROL")),
        }
        req = {
            "bucketName": bucket,
            "acl": "",
            "AccessControlPolicy": {"AccessControlList": {"Grant": grant}},
        }
        name = "PutBucketAcl"
    elif choice == 2:
        req = {"bucketName": bucket, "acl": "", "x-amz-acl": [g.pick(("public-read", "public-read-write"))]}
        name = "PutBucketAcl"
    else:
        req = {
            "bucketName": bucket,
            "acl": "",
            "x-amz-grant-read": ["uri=http://acs.amazonaws.com/groups/global/AllUsers"],
        }
        name = "PutBucketAcl"
    return [g.rec(name, S3, at, request=req, **ident)], set()


def _pab(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    if g.rng.random() < 0.4:
        return [
            g.rec(
                "DeletePublicAccessBlock",
                S3,
                at,
                request={"bucketName": g.name("b"), "publicAccessBlock": ""},
                **ident,
            )
        ], set()
    config = {k: g.rng.random() < 0.5 for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy")}
    config["RestrictPublicBuckets"] = False
    return [
        g.rec(
            "PutPublicAccessBlock",
            S3,
            at,
            request={"bucketName": g.name("b"), "PublicAccessBlockConfiguration": config},
            **ident,
        )
    ], set()


def _gpu(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    itype = g.pick(
        (
            "p3.2xlarge",
            "p4d.24xlarge",
            "g4dn.xlarge",
            "g5.48xlarge",
            "p5.48xlarge",
            "c6i.32xlarge",
            "x2iedn.metal",
        )
    )
    count = g.pick((1, 2, 3))
    req = {
        "instancesSet": {"items": [{"imageId": "ami-0miner", "minCount": count, "maxCount": count}]},
        "instanceType": itype,
    }
    return [g.rec("RunInstances", EC2, at, request=req, region="us-east-1", **ident)], set()


def _replica(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    region = g.pick(REPLICA_REGIONS)
    req = {
        "dBInstanceIdentifier": g.name("orders-dr"),
        "sourceDBInstanceIdentifier": f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders",
    }
    expected = {"ec2_unusual_region"} if not ident.get("error") else set()
    return [g.rec("CreateDBInstanceReadReplica", RDS, at, request=req, region=region, **ident)], expected


def _ec2_share(name: str, attribute: str, key: str, prefix: str) -> Attack:
    def build(g: _Gen) -> dict[str, Any]:
        entry = {"group": "all"} if g.rng.random() < 0.3 else {"userId": g.account()}
        return {
            key: f"{prefix}-0{g.rng.getrandbits(56):014x}",
            attribute: {"add": {"items": [entry]}},
            "attributeType": attribute,
        }

    return _single(name, EC2, build)


EVENT_ATTACKS: dict[str, Attack] = {
    "iam_user_created": _single("CreateUser", IAM, lambda g: {"userName": g.name("svc")}, region="us-east-1"),
    "iam_role_created": _single(
        "CreateRole",
        IAM,
        lambda g: {
            "roleName": g.name("ops"),
            "assumeRolePolicyDocument": _encoded(
                g, _trust({"Service": g.pick(("ec2.amazonaws.com", "lambda.amazonaws.com"))})
            ),
        },
        region="us-east-1",
    ),
    "iam_access_key_created": _single(
        "CreateAccessKey",
        IAM,
        lambda g: {},
        region="us-east-1",
        identity=user_identity(AGENT_USER, key=AGENT_USER_KEY),
    ),
    "iam_access_key_for_other_user": _single(
        "CreateAccessKey", IAM, lambda g: {"userName": g.name("user")}, region="us-east-1"
    ),
    "iam_login_profile_changed": _variants(
        _single("CreateLoginProfile", IAM, lambda g: {"userName": g.name("u"), "passwordResetRequired": False}),
        _single("UpdateLoginProfile", IAM, lambda g: {"userName": g.name("u")}),
    ),
    "iam_admin_policy_attached": _admin_policy,
    "iam_policy_version_default": _variants(
        _single(
            "CreatePolicyVersion",
            IAM,
            lambda g: {
                "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/{g.name('pol')}",
                "setAsDefault": True,
                "policyDocument": _encoded(g, _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})),
            },
        ),
        _single(
            "SetDefaultPolicyVersion",
            IAM,
            lambda g: {"policyArn": f"arn:aws:iam::{ACCOUNT}:policy/{g.name('pol')}", "versionId": "v1"},
        ),
    ),
    "iam_role_trust_external": _single(
        "UpdateAssumeRolePolicy",
        IAM,
        lambda g: {
            "roleName": g.name("ops"),
            "policyDocument": _encoded(
                g,
                _trust(g.pick(({"AWS": f"arn:aws:iam::{g.account()}:root"}, {"AWS": g.account()}, "*", {"AWS": "*"}))),
            ),
        },
    ),
    "iam_privileged_group_membership": _single(
        "AddUserToGroup",
        IAM,
        lambda g: {
            "groupName": g.pick(("Administrators", "admins", "PowerUsers", "iam-managers", "BreakGlass")),
            "userName": g.name("u"),
        },
    ),
    "cloudtrail_tampering": _variants(
        *(
            _single(n, "cloudtrail.amazonaws.com", lambda g: {"name": "org-trail"})
            for n in ("StopLogging", "DeleteTrail", "UpdateTrail")
        ),
        _single(
            "PutEventSelectors",
            "cloudtrail.amazonaws.com",
            lambda g: {"trailName": "org-trail", "eventSelectors": [{"readWriteType": "ReadOnly"}]},
        ),
    ),
    "vpc_flow_logs_deleted": _single(
        "DeleteFlowLogs",
        EC2,
        lambda g: {"DeleteFlowLogsRequest": {"FlowLogId": {"content": f"fl-{g.rng.getrandbits(64):016x}", "tag": 1}}},
    ),
    "logs_log_group_tampering": _variants(
        _single("DeleteLogGroup", "logs.amazonaws.com", lambda g: {"logGroupName": f"/aws/lambda/{g.name('fn')}"}),
        _single(
            "PutRetentionPolicy",
            "logs.amazonaws.com",
            lambda g: {"logGroupName": "/security/audit", "retentionInDays": g.pick((1, 3, 5, 7, 14))},
        ),
    ),
    "guardduty_tampering": _variants(
        _single("DeleteDetector", "guardduty.amazonaws.com", lambda g: {"detectorId": g.name("d")}),
        _single(
            "UpdateDetector",
            "guardduty.amazonaws.com",
            lambda g: {"detectorId": g.name("d"), "enable": False},
        ),
        _single(
            "CreateFilter",
            "guardduty.amazonaws.com",
            lambda g: {
                "detectorId": g.name("d"),
                "name": "noise",
                "action": "ARCHIVE",
                "findingCriteria": {},
            },
        ),
    ),
    "securityhub_disabled": _variants(
        _single("DisableSecurityHub", "securityhub.amazonaws.com", lambda g: {}),
        _single(
            "BatchDisableStandards",
            "securityhub.amazonaws.com",
            lambda g: {"standardsSubscriptionArns": ["x"]},
        ),
    ),
    "config_recorder_stopped": _variants(
        _single(
            "StopConfigurationRecorder",
            "config.amazonaws.com",
            lambda g: {"configurationRecorderName": "default"},
        ),
        _single(
            "DeleteConfigurationRecorder",
            "config.amazonaws.com",
            lambda g: {"configurationRecorderName": "default"},
        ),
        _single("DeleteDeliveryChannel", "config.amazonaws.com", lambda g: {"deliveryChannelName": "default"}),
    ),
    "organizations_leave": _single(
        "LeaveOrganization", "organizations.amazonaws.com", lambda g: {}, region="us-east-1"
    ),
    "route53resolver_query_logging_deleted": _variants(
        _single(
            "DeleteResolverQueryLogConfig",
            "route53resolver.amazonaws.com",
            lambda g: {"resolverQueryLogConfigId": g.name("rqlc")},
        ),
        _single(
            "DisassociateResolverQueryLogConfig",
            "route53resolver.amazonaws.com",
            lambda g: {"resolverQueryLogConfigId": g.name("rqlc"), "resourceId": g.name("vpc")},
        ),
    ),
    "ec2_security_group_open_to_internet": _single("AuthorizeSecurityGroupIngress", EC2, _sg_open),
    "ec2_network_acl_open": _single(
        "CreateNetworkAclEntry",
        EC2,
        lambda g: {
            "networkAclId": g.name("acl"),
            "ruleNumber": g.pick((1, 2, 50)),
            "egress": False,
            "ruleAction": "allow",
            "aclProtocol": g.pick(("-1", "6")),
            "cidrBlock": g.pick(("0.0.0.0/0", "208.236.235.254/0", "10.0.0.0/0")),
            "portRange": {"from": 0, "to": 65535},
        },
    ),
    "rds_instance_made_public": _single(
        "ModifyDBInstance",
        RDS,
        lambda g: {
            "dBInstanceIdentifier": g.name("db"),
            "publiclyAccessible": True,
            "applyImmediately": True,
        },
    ),
    "rds_cross_region_replica": _replica,
    "s3_bucket_public": _bucket_public,
    "s3_public_access_block_removed": _pab,
    "ec2_ami_shared_externally": _ec2_share("ModifyImageAttribute", "launchPermission", "imageId", "ami"),
    "ec2_snapshot_shared_externally": _ec2_share(
        "ModifySnapshotAttribute", "createVolumePermission", "snapshotId", "snap"
    ),
    "rds_snapshot_shared_externally": _single(
        "ModifyDBSnapshotAttribute",
        RDS,
        lambda g: {
            "dBSnapshotIdentifier": g.name("snap"),
            "attributeName": "restore",
            "valuesToAdd": [g.pick(("all", g.account()))],
        },
    ),
    "secretsmanager_secret_read": _away(
        _single(
            "GetSecretValue",
            "secretsmanager.amazonaws.com",
            lambda g: {"secretId": f"prod/{g.name('svc')}/db"},
            read_only=True,
        ),
        "secret_read_unusual",
    ),
    "ssm_parameter_decrypted": _away(
        _variants(
            _single(
                "GetParameter",
                "ssm.amazonaws.com",
                lambda g: {"name": f"/prod/{g.name('k')}", "withDecryption": True},
            ),
            _single("GetParametersByPath", "ssm.amazonaws.com", lambda g: {"path": "/prod/", "withDecryption": True}),
        ),
        "secret_read_unusual",
    ),
    "ec2_password_data_read": _single("GetPasswordData", EC2, lambda g: {"instanceId": _instance(g)}, read_only=True),
    "sts_federation_token": _single(
        "GetFederationToken",
        "sts.amazonaws.com",
        lambda g: {"name": g.name("f"), "durationSeconds": 129600},
        identity=user_identity(AGENT_USER, key=AGENT_USER_KEY),
    ),
    "ec2_large_or_gpu_instance": _gpu,
    "ec2_user_data_modified": _single(
        "ModifyInstanceAttribute",
        EC2,
        lambda g: {"instanceId": _instance(g), "userData": "<sensitiveDataRemoved>"},
    ),
    "ssm_send_command": _single(
        "SendCommand",
        "ssm.amazonaws.com",
        lambda g: {
            "instanceIds": [_instance(g)],
            "documentName": g.pick(("AWS-RunShellScript", "AWS-RunPowerShellScript")),
        },
    ),
    "ssm_start_session": _single("StartSession", "ssm.amazonaws.com", lambda g: {"target": _instance(g)}),
    "ec2_instance_connect_key_pushed": _variants(
        _single(
            "SendSSHPublicKey",
            "ec2-instance-connect.amazonaws.com",
            lambda g: {
                "instanceId": _instance(g),
                "instanceOSUser": "ec2-user",
                "sSHPublicKey": "ssh-ed25519 AAAA",
            },
        ),
        _single(
            "SendSerialConsoleSSHPublicKey",
            "ec2-instance-connect.amazonaws.com",
            lambda g: {"instanceId": _instance(g), "serialPort": 0, "sSHPublicKey": "ssh-ed25519 AAAA"},
        ),
    ),
    "ec2_serial_console_enabled": _single("EnableSerialConsoleAccess", EC2, lambda g: {}),
    "ec2_ebs_default_encryption_disabled": _single(
        "DisableEbsEncryptionByDefault", EC2, lambda g: {"DisableEbsEncryptionByDefaultRequest": ""}
    ),
    "kms_key_deletion": _variants(
        _single(
            "ScheduleKeyDeletion",
            "kms.amazonaws.com",
            lambda g: {"keyId": g.uid(), "pendingWindowInDays": g.pick((7, 10, 30))},
        ),
        _single("DisableKey", "kms.amazonaws.com", lambda g: {"keyId": g.uid()}),
    ),
    "lambda_permission_public_or_external": _single(
        "AddPermission20150331v2",
        "lambda.amazonaws.com",
        lambda g: {
            "functionName": g.name("fn"),
            "statementId": g.name("s"),
            "action": g.pick(("lambda:InvokeFunction", "lambda:*", "lambda:UpdateFunctionCode")),
            "principal": g.pick(("*", g.account(), f"arn:aws:iam::{g.account()}:root")),
        },
    ),
    "lambda_function_code_updated": _single(
        "UpdateFunctionCode20150331v2",
        "lambda.amazonaws.com",
        lambda g: {"functionName": g.name("fn"), "publish": True},
    ),
    "lambda_function_url_public": _single(
        "CreateFunctionUrlConfig20211031",
        "lambda.amazonaws.com",
        lambda g: {"functionName": g.name("fn"), "authType": "NONE"},
    ),
    **NEW_EVENT_ATTACKS,
}


# -- stateful scenarios ------------------------------------------------------------------------
def _burst(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    records, total, t = [], 0, at
    expected: set[str] = set()
    target = g.rng.randrange(12, 60)
    while total < target:
        count = g.rng.randrange(2, 9)
        itype = g.pick(("c5.xlarge", "c6i.2xlarge", "m5.large", "c5.4xlarge"))
        req = {
            "instancesSet": {"items": [{"imageId": "ami-0miner", "minCount": count, "maxCount": count}]},
            "instanceType": itype,
        }
        resp = {"instancesSet": {"items": [{"instanceId": _instance(g), "instanceType": itype}] * count}}
        records.append(g.rec("RunInstances", EC2, t, request=req, response=resp, region="us-east-1", **ident))
        if is_suspicious_type(itype):
            expected.add("ec2_large_or_gpu_instance")
        total += count
        t += timedelta(seconds=g.rng.randrange(10, 90))
    return records, expected


def _unusual_region(region: str) -> Attack:
    def attack(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
        look = g.rec("DescribeImages", EC2, at, region=region, read_only=True, **ident)
        count = g.pick((1, 2))
        req = {
            "instancesSet": {"items": [{"imageId": "ami-0x", "minCount": count, "maxCount": count}]},
            "instanceType": g.pick(("t3.medium", "c5.large")),
        }
        launch = g.rec("RunInstances", EC2, at + timedelta(minutes=3), region=region, request=req, **ident)
        return [look, launch], set()

    return attack


def _role_backdoor(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    role = g.name("ops-maintenance")
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    trust = _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    recs = [
        g.rec(
            "CreateRole",
            IAM,
            at,
            region="us-east-1",
            **ident,
            request={"roleName": role, "assumeRolePolicyDocument": _encoded(g, trust)},
            response={"role": {"roleName": role, "arn": arn, "roleId": g.name("AROA")}},
        ),
        g.rec(
            "AttachRolePolicy",
            IAM,
            at + timedelta(minutes=1),
            region="us-east-1",
            **ident,
            request={"roleName": role, "policyArn": f"arn:aws:iam::aws:policy/{g.pick(ADMIN_POLICIES)}"},
        ),
    ]
    expected = {"iam_role_created", "iam_admin_policy_attached"}
    then = at + timedelta(minutes=g.rng.randrange(2, 40))
    if g.rng.random() < 0.5:
        user = g.name("user")
        key = f"AKIAQ{g.rng.getrandbits(60):015X}"
        recs.append(
            g.rec(
                "CreateAccessKey",
                IAM,
                then,
                region="us-east-1",
                **ident,
                request={"userName": user},
                response={"accessKey": {"userName": user, "accessKeyId": key, "status": "Active"}},
            )
        )
        expected.add("iam_access_key_for_other_user")
    else:
        session_key = f"ASIAQ{g.rng.getrandbits(60):015X}"
        recs.append(
            g.rec(
                "AssumeRole",
                "sts.amazonaws.com",
                then,
                region="us-east-1",
                **ident,
                request={"roleArn": arn, "roleSessionName": "maint"},
                response={"credentials": {"accessKeyId": session_key}},
            )
        )
        used = {**ident, "identity": role_identity(arn, session="maint", key=session_key)}
        recs.append(g.rec("ListBuckets", S3, then + timedelta(minutes=2), read_only=True, **used))
    return recs, expected


def _user_backdoor(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    user = g.name("svc-backup")
    arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    key = f"AKIAQ{g.rng.getrandbits(60):015X}"
    recs = [
        g.rec(
            "CreateUser",
            IAM,
            at,
            region="us-east-1",
            **ident,
            request={"userName": user},
            response={"user": {"userName": user, "arn": arn}},
        ),
        g.rec(
            "CreateAccessKey",
            IAM,
            at + timedelta(minutes=1),
            region="us-east-1",
            **ident,
            request={"userName": user},
            response={"accessKey": {"userName": user, "accessKeyId": key}},
        ),
    ]
    use_ip = g.pick(ATTACKER_IPS)
    t = at + timedelta(minutes=g.rng.randrange(5, 120))
    for name, source in (
        ("GetCallerIdentity", "sts.amazonaws.com"),
        ("ListBuckets", S3),
        ("DescribeInstances", EC2),
    ):
        recs.append(g.rec(name, source, t, read_only=True, identity=user_identity(arn, key=key), ip=use_ip, ua=CLI_UA))
        t += timedelta(seconds=g.rng.randrange(5, 60))
    return recs, {"iam_user_created", "iam_access_key_for_other_user"}


def _recon(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    apis = [
        ("ListUsers", IAM),
        ("ListRoles", IAM),
        ("GetAccountAuthorizationDetails", IAM),
        ("ListSecrets", "secretsmanager.amazonaws.com"),
        ("DescribeDBInstances", RDS),
        ("ListBuckets", S3),
        ("DescribeInstances", EC2),
        ("ListFunctions20150331", "lambda.amazonaws.com"),
        ("GetBucketPolicy", S3),
        ("DescribeTrails", "cloudtrail.amazonaws.com"),
    ]
    recs, t = [], at
    for _ in range(g.rng.randrange(12, 30)):
        name, source = g.pick(apis)
        recs.append(
            g.rec(
                name,
                source,
                t,
                read_only=True,
                **{**ident, "error": g.pick(("AccessDenied", "AccessDeniedException"))},
            )
        )
        t += timedelta(seconds=g.rng.randrange(2, 25))
    return recs, set()


def _harvest(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    """ListSecrets, then the values of many of them within minutes: credential harvesting."""
    ident = {**ident, "ip": g.pick(ATTACKER_IPS)} if g.rng.random() < 0.5 else ident
    recs = [g.rec("ListSecrets", "secretsmanager.amazonaws.com", at, read_only=True, **ident)]
    t = at
    for _ in range(g.rng.randrange(6, 16)):
        t += timedelta(seconds=g.rng.randrange(3, 40))
        secret = f"prod/{g.name('svc')}/{g.pick(('db', 'api-key', 'stripe'))}"
        recs.append(
            g.rec(
                "GetSecretValue",
                "secretsmanager.amazonaws.com",
                t,
                request={"secretId": secret},
                read_only=True,
                **ident,
            )
        )
    return recs, {"secretsmanager_secret_read"}


def _llmjack(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    """Stolen keys used for their model access, from the buyer's network."""
    ident = {**ident, "ip": g.pick(ATTACKER_IPS)}
    recs = [
        g.rec("ListFoundationModels", BEDROCK, at, read_only=True, **ident),
        g.rec("GetFoundationModelAvailability", BEDROCK, at, request={"modelId": AGENT_MODEL}, read_only=True, **ident),
    ]
    t = at
    model = g.pick((AGENT_MODEL, "anthropic.claude-3-opus-20240229-v1:0", "meta.llama3-70b-instruct-v1:0"))
    for _ in range(g.rng.randrange(5, 40)):
        t += timedelta(seconds=g.rng.randrange(1, 30))
        name = g.pick(("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"))
        recs.append(g.rec(name, BEDROCK, t, request={"modelId": model}, read_only=True, **ident))
    return recs, set()


def _instance_identity(g: _Gen, role: str, instance: str) -> dict[str, Any]:
    identity = role_identity(role, session=instance, key=f"ASIAQ{g.rng.getrandbits(60):015X}")
    identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
    return identity


def _instance_theft(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    """The agent runs on an instance; its role credentials are read from the metadata service and used
    from elsewhere while the instance keeps working."""
    identity = _instance_identity(g, AGENT_ROLE, f"i-0{g.rng.getrandbits(60):015x}")
    recs = []
    t = at
    for _ in range(g.rng.randrange(3, 8)):
        t += timedelta(seconds=g.rng.randrange(5, 120))
        recs.append(g.rec("DescribeInstances", EC2, t, read_only=True, identity=identity, ip=NAT_IP))
    t += timedelta(minutes=g.rng.randrange(5, 90))
    thief = g.pick(ATTACKER_IPS)
    for name, source in (("GetCallerIdentity", "sts.amazonaws.com"), ("ListBuckets", S3), ("DescribeInstances", EC2)):
        t += timedelta(seconds=g.rng.randrange(2, 30))
        recs.append(g.rec(name, source, t, read_only=True, identity=identity, ip=thief, ua=CLI_UA))
    return recs, set()


SCENARIOS: dict[str, tuple[Attack, ...]] = {
    "ec2_instance_burst": (_burst,),
    "ec2_unusual_region": tuple(_unusual_region(r) for r in UNUSED_REGIONS),
    "iam_role_backdoor_sequence": (_role_backdoor,),
    "iam_user_backdoor_sequence": (_user_backdoor,),
    "recon_access_denied_burst": (_recon,),
    "secret_read_unusual": (_harvest,),
    "bedrock_invocation_unusual": (_llmjack,),
    "ec2_instance_credentials_outside": (_instance_theft,),
}


# -- the rest of the account: workloads, and what only an account-wide analysis sees ------------------
WORKLOAD_ROLES = {
    "orders-api": f"arn:aws:iam::{ACCOUNT}:role/orders-api-lambda",
    "billing-worker": f"arn:aws:iam::{ACCOUNT}:role/billing-ecs-task",
    "web": f"arn:aws:iam::{ACCOUNT}:role/web-instance",
    "ci": f"arn:aws:iam::{ACCOUNT}:role/ci-deployer",
}
WEB_INSTANCES = ("i-0web00000000000a1", "i-0web00000000000b2")
WEB_NAT_IP = "54.210.33.7"
BILLING_NAT_IP = "34.192.8.41"
LAMBDA_UA = (
    "aws-sdk-js/3.637.0 ua/2.1 os/linux#5.10 lang/js md/nodejs#20.15.1 api/secrets-manager#3.637.0 "
    "exec-env/AWS_Lambda_nodejs20.x"
)


def _lambda_ip(g: _Gen) -> str:
    # a Lambda function outside a VPC calls from its execution environment's address: many networks
    return f"3.{g.rng.randrange(80, 96)}.{g.rng.randrange(256)}.{g.rng.randrange(1, 255)}"


def _workload_ops(g: _Gen) -> list[tuple[float, Callable[[datetime], Record]]]:
    """Routine traffic of the account's workloads: secrets and parameters read at every start, KMS
    decrypts, metrics, and a CI role deploying function code now and then."""
    sm, ssm, kms = "secretsmanager.amazonaws.com", "ssm.amazonaws.com", "kms.amazonaws.com"

    def lam(name: str, source: str, request: dict[str, Any]) -> Callable[[datetime], Record]:
        def make(at: datetime) -> Record:
            identity = role_identity(WORKLOAD_ROLES["orders-api"], session="orders-api", key=g.session_key(at))
            return g.rec(
                name, source, at, request=request, read_only=True, identity=identity, ip=_lambda_ip(g), ua=LAMBDA_UA
            )

        return make

    def ecs(name: str, source: str, request: dict[str, Any], *, read_only: bool = True) -> Callable[[datetime], Record]:
        def make(at: datetime) -> Record:
            identity = role_identity(WORKLOAD_ROLES["billing-worker"], session=g.name("task"), key=g.session_key(at))
            return g.rec(name, source, at, request=request, read_only=read_only, identity=identity, ip=BILLING_NAT_IP)

        return make

    def web(name: str, source: str, request: dict[str, Any], *, read_only: bool = True) -> Callable[[datetime], Record]:
        def make(at: datetime) -> Record:
            instance = g.pick(WEB_INSTANCES)
            identity = role_identity(
                WORKLOAD_ROLES["web"], session=instance, key=f"ASIAQWEB{instance[-2:]}{g.session_key(at)[-10:]}"
            )
            identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
            return g.rec(name, source, at, request=request, read_only=read_only, identity=identity, ip=WEB_NAT_IP)

        return make

    def deploy(at: datetime) -> Record:
        identity = role_identity(WORKLOAD_ROLES["ci"], session="gha-deploy", key=g.session_key(at))
        return g.rec(
            "UpdateFunctionCode20150331v2",
            "lambda.amazonaws.com",
            at,
            request={"functionName": "orders-api", "publish": True},
            identity=identity,
            ip=f"20.{g.rng.randrange(20, 200)}.{g.rng.randrange(256)}.{g.rng.randrange(1, 255)}",
            region="us-east-1",
        )

    return [
        (6, lam("GetSecretValue", sm, {"secretId": "prod/orders/db"})),
        (2, lam("GetParameters", ssm, {"names": ["/orders/stripe-key", "/orders/jwt-secret"], "withDecryption": True})),
        (4, lam("Decrypt", kms, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})),
        (3, ecs("GetSecretValue", sm, {"secretId": "prod/billing/db"})),
        (2, ecs("GetSecretValue", sm, {"secretId": "prod/billing/stripe"})),
        (2, ecs("GetParametersByPath", ssm, {"path": "/billing/", "recursive": True, "withDecryption": True})),
        (3, ecs("Decrypt", kms, {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"})),
        (2, ecs("PutMetricData", "monitoring.amazonaws.com", {"namespace": "Billing"}, read_only=False)),
        (3, web("GetSecretValue", sm, {"secretId": "prod/web/session-key"})),
        (2, web("GetParameter", ssm, {"name": "/web/cdn-token", "withDecryption": True})),
        (3, web("DescribeTags", "ec2.amazonaws.com", {})),
        (2, web("PutMetricData", "monitoring.amazonaws.com", {"namespace": "Web"}, read_only=False)),
        (0.02, deploy),
    ]


def _root(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    name, source = g.pick((("ListBuckets", S3), ("GetAccountSummary", IAM), ("DescribeInstances", EC2)))
    return [
        g.rec(name, source, at, read_only=True, identity=ROOT_IDENTITY, ip=ident.get("ip"), error=ident.get("error"))
    ], set()


def _web_theft(g: _Gen, at: datetime, ident: dict[str, Any]) -> tuple[list[Record], set[str]]:
    """A web instance's role credentials (SSRF to the metadata service) used from elsewhere."""
    instance = g.pick(WEB_INSTANCES)
    identity = _instance_identity(g, WORKLOAD_ROLES["web"], instance)
    recs = [g.rec("DescribeTags", EC2, at, read_only=True, identity=identity, ip=WEB_NAT_IP)]
    thief = g.pick(ATTACKER_IPS)
    t = at + timedelta(minutes=g.rng.randrange(2, 60))
    for name, source in (("GetCallerIdentity", "sts.amazonaws.com"), ("ListBuckets", S3)):
        t += timedelta(seconds=g.rng.randrange(2, 30))
        recs.append(g.rec(name, source, t, read_only=True, identity=identity, ip=thief, ua=CLI_UA))
    return recs, set()


ACCOUNT_ATTACKS: dict[str, Attack] = {"root_user_activity": _root}
"""Techniques of other principals than the agent (one variant in six failing, like the agent's)."""
ACCOUNT_SCENARIOS: dict[str, tuple[Attack, ...]] = {"ec2_instance_credentials_outside": (_web_theft,)}


def _attacker(g: _Gen, at: datetime, *, fail: bool) -> dict[str, Any]:
    """The stolen session: the agent's own identity, from the attacker's host or a lookalike."""
    ident: dict[str, Any] = {"identity": role_identity(key=g.session_key(at))}
    if g.rng.random() < 0.7:
        ident["ip"] = g.pick(ATTACKER_IPS)
    if g.rng.random() < 0.5:
        ident["ua"] = CLI_UA
    if fail:
        ident["error"] = "AccessDenied"
    return ident


def _draw(g: _Gen, ops: list[tuple[float, Callable[[datetime], Record]]], count: int) -> list[Record]:
    weights = [w for w, _ in ops]
    makers = [m for _, m in ops]
    return [g.rng.choices(makers, weights)[0](g.when()) for _ in range(count)]


def generate(
    *,
    benign: int = 50_000,
    seed: int = 7,
    variants: int = 6,
    start: datetime = START,
    days: int = DAYS,
    workloads: int = 0,
) -> LabelledSet:
    """Benign traffic plus ``variants`` incidents per technique (one in each ``variants`` failing),
    spread over ``days`` from ``start``. ``workloads`` adds that many benign events of the account's
    other principals (and, with them, the account-scope incidents: root use, a workload's stolen
    instance credentials)."""
    g = _Gen(seed, start, days)
    records = _draw(g, _benign_ops(g), benign)
    workload_records = _draw(g, _workload_ops(g), workloads) if workloads else []
    records.extend(workload_records)
    benign_ids = frozenset(r["eventID"] for r in records)
    incidents: list[Incident] = []
    for technique, attack in EVENT_ATTACKS.items():
        for n in range(variants):
            fail = n == variants - 1
            at = g.when()
            recs, extra = attack(g, at, _attacker(g, at, fail=fail))
            records.extend(recs)
            ids = tuple(r["eventID"] for r in recs)
            incidents.append(Incident(technique, frozenset({technique} | extra), ids, attempt=fail))
    for technique, attacks in SCENARIOS.items():
        for n in range(max(variants, len(attacks)) if variants else 0):
            at = g.when()
            recs, extra = attacks[n % len(attacks)](g, at, _attacker(g, at, fail=False))
            records.extend(recs)
            ids = tuple(r["eventID"] for r in recs)
            incidents.append(Incident(technique, frozenset({technique} | extra), ids))
    if workloads:
        for technique, attack in ACCOUNT_ATTACKS.items():
            for n in range(variants):
                fail = n == variants - 1
                at = g.when()
                recs, extra = attack(g, at, _attacker(g, at, fail=fail))
                records.extend(recs)
                ids = tuple(r["eventID"] for r in recs)
                incidents.append(
                    Incident(technique, frozenset({technique} | extra), ids, attempt=fail, scope="account")
                )
        for technique, attacks in ACCOUNT_SCENARIOS.items():
            for n in range(variants):
                at = g.when()
                recs, extra = attacks[n % len(attacks)](g, at, {})
                records.extend(recs)
                ids = tuple(r["eventID"] for r in recs)
                incidents.append(Incident(technique, frozenset({technique} | extra), ids, scope="account"))
    records.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    return LabelledSet(
        records=records,
        incidents=incidents,
        benign_ids=benign_ids,
        seed=seed,
        workload_ids=frozenset(r["eventID"] for r in workload_records),
    )
