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
from irkit.detect.rules.ec2_large_or_gpu_instance import is_suspicious_type

START = datetime(2026, 11, 18, 0, 0, tzinfo=UTC)
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


@dataclass(slots=True)
class LabelledSet:
    records: list[Record]
    incidents: list[Incident]
    benign_ids: frozenset[str]
    principals: tuple[str, ...] = (AGENT_ROLE, AGENT_USER)
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


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
                "instancesSet": {
                    "items": [{"imageId": "ami-0abc1234def567890", "minCount": count, "maxCount": count}]
                },
                "instanceType": itype,
            },
            response={
                "instancesSet": {"items": [{"instanceId": _instance(g), "instanceType": itype}] * count}
            },
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
        name, source = g.pick(
            (("DescribeInstances", ec2), ("DescribeDBInstances", rds), ("GetBucketPolicy", s3))
        )
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

    return [
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
            lambda at: g.rec(
                "PutObject", s3, at, request={"bucketName": "agent-reports", "key": g.name("r")}
            ),
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


def _admin_inline(g: _Gen) -> dict[str, Any]:
    stmt = g.pick(
        (
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["*:*"], "Resource": ["*"]},
            {"Effect": "Allow", "Action": ["iam:*", "s3:GetObject"], "Resource": "*"},
            {"Effect": "Allow", "NotAction": ["organizations:*"], "Resource": "*"},
        )
    )
    kind = g.pick(
        (("PutUserPolicy", "userName"), ("PutRolePolicy", "roleName"), ("PutGroupPolicy", "groupName"))
    )
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
    ranges = {"items": [{"cidrIpv6": "::/0"}]} if v6 else {"items": [{"cidrIp": "0.0.0.0/0"}]}
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
        _single(
            "CreateLoginProfile", IAM, lambda g: {"userName": g.name("u"), "passwordResetRequired": False}
        ),
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
                _trust(
                    g.pick(
                        ({"AWS": f"arn:aws:iam::{g.account()}:root"}, {"AWS": g.account()}, "*", {"AWS": "*"})
                    )
                ),
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
        lambda g: {
            "DeleteFlowLogsRequest": {"FlowLogId": {"content": f"fl-{g.rng.getrandbits(64):016x}", "tag": 1}}
        },
    ),
    "logs_log_group_tampering": _variants(
        _single(
            "DeleteLogGroup", "logs.amazonaws.com", lambda g: {"logGroupName": f"/aws/lambda/{g.name('fn')}"}
        ),
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
        _single(
            "DeleteDeliveryChannel", "config.amazonaws.com", lambda g: {"deliveryChannelName": "default"}
        ),
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
            "cidrBlock": "0.0.0.0/0",
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
    "secretsmanager_secret_read": _single(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        lambda g: {"secretId": f"prod/{g.name('svc')}/db"},
        read_only=True,
    ),
    "ssm_parameter_decrypted": _variants(
        _single(
            "GetParameter",
            "ssm.amazonaws.com",
            lambda g: {"name": f"/prod/{g.name('k')}", "withDecryption": True},
        ),
        _single(
            "GetParametersByPath", "ssm.amazonaws.com", lambda g: {"path": "/prod/", "withDecryption": True}
        ),
    ),
    "ec2_password_data_read": _single(
        "GetPasswordData", EC2, lambda g: {"instanceId": _instance(g)}, read_only=True
    ),
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
        recs.append(
            g.rec(name, source, t, read_only=True, identity=user_identity(arn, key=key), ip=use_ip, ua=CLI_UA)
        )
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


SCENARIOS: dict[str, tuple[Attack, ...]] = {
    "ec2_instance_burst": (_burst,),
    "ec2_unusual_region": tuple(_unusual_region(r) for r in UNUSED_REGIONS),
    "iam_role_backdoor_sequence": (_role_backdoor,),
    "iam_user_backdoor_sequence": (_user_backdoor,),
    "recon_access_denied_burst": (_recon,),
}


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


def generate(
    *, benign: int = 50_000, seed: int = 7, variants: int = 6, start: datetime = START, days: int = DAYS
) -> LabelledSet:
    """Benign traffic plus ``variants`` incidents per technique (one in each ``variants`` failing),
    spread over ``days`` from ``start``."""
    g = _Gen(seed, start, days)
    ops = _benign_ops(g)
    weights = [w for w, _ in ops]
    makers = [m for _, m in ops]
    records: list[Record] = []
    for _ in range(benign):
        maker = g.rng.choices(makers, weights)[0]
        records.append(maker(g.when()))
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
    records.sort(key=lambda r: (r["eventTime"], r["eventID"]))
    return LabelledSet(records=records, incidents=incidents, benign_ids=benign_ids, seed=seed)
