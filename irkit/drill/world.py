"""The drill's AWS world: an agent, its credentials, an Object Lock log archive, normal traffic.

Everything is created for real on the simulator; CloudTrail records are written by the actors
that made the calls (see :mod:`irkit.drill.recorder`) and delivered into the archive bucket in the
org-trail layout, so irkit reads the same shapes it reads in production.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from irkit.aws.session import new_session
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink
from irkit.detect.baseline import Baseline
from irkit.detect.event import Event, parse_time
from irkit.drill.iac import AGENT_IDENTITY, GOOD_CIDR, HUMAN, IacWorld
from irkit.drill.recorder import Actor

ACCOUNT = "123456789012"  # the simulator's default account
ORG_ID = "o-drill0example"
ARCHIVE_BUCKET = "drill-org-cloudtrail-archive"
AGENT = "infra-optimizer"
AGENT_ROLE = "agent-infra-optimizer"
AGENT_USER = "agent-infra-bot"
AGENT_IP = "198.51.100.20"
AGENT_UA = "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux lang/python#3.11.7 infra-optimizer/4.2"
ATTACKER_IP = "203.0.113.66"
ATTACKER_UA = "aws-cli/2.15.30 md/Botocore#2.4.5 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8"
OUTSIDE_ACCOUNT = "999999999999"
LOG_READER_ROLE = "irkit-log-reader"
HOME_REGION = "us-east-1"
TRAIL = "org-trail"
REGIONS = ("us-east-1", "us-west-2")

_AGENT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["ec2:*", "rds:Describe*", "s3:*", "cloudwatch:*"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "iam:CreateRole",
                "iam:AttachRolePolicy",
                "iam:PassRole",
                "iam:CreateAccessKey",
                "iam:CreateUser",
            ],
            "Resource": "*",
        },
    ],
}


_READS = (
    ("ec2", "DescribeInstances"),
    ("ec2", "DescribeSecurityGroups"),
    ("ec2", "DescribeVolumes"),
    ("rds", "DescribeDBInstances"),
    ("s3", "ListBuckets"),
    ("ec2", "DescribeSubnets"),
    ("cloudwatch", "GetMetricData"),
    ("ec2", "DescribeInstanceStatus"),
)
_ROUTINE_WRITES = (
    ("ec2", "RunInstances"),
    ("ec2", "CreateTags"),
    ("ec2", "StopInstances"),
    ("ec2", "StartInstances"),
    ("ec2", "ModifyInstanceAttribute"),
)


@dataclass
class World:
    endpoint: str
    now: datetime
    seed: int = 7
    admin: Any = None
    agent_user: Actor | None = None
    agent_role: Actor | None = None
    attacker: Actor | None = None
    created_by_attacker: list[dict[str, str]] = field(default_factory=list)
    """What the attacker made: kind, name, arn; the drill checks which are still there afterwards."""
    extra_records: list[dict[str, Any]] = field(default_factory=list)
    logging_stopped_at: datetime | None = None
    """Set by a scenario that stops the trail: CloudTrail delivers nothing after it."""
    workdir: Path | None = None
    """Where the world keeps files of its own (the IaC repository and terraform state)."""
    iac: IacWorld | None = None
    """The infrastructure as code, when a scenario uses it (:meth:`enable_iac`)."""
    actors: dict[str, Actor] = field(default_factory=dict)
    """Other holders of credentials a scenario brings in (a backdoor user's key, an assumed role)."""
    saved: dict[str, Any] = field(default_factory=dict)
    """Values a scenario saved from responses (``save:``), for its later steps."""
    background_ids: frozenset[str] = frozenset()
    """The event ids of the agent's normal activity: a finding citing only these is a false positive."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.trail_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.admin = new_session(
            aws_access_key_id="AKIADRILLADMIN000000",
            aws_secret_access_key="drill-admin-not-a-secret",
            region_name=HOME_REGION,
        )

    def client(self, service: str, region: str = HOME_REGION) -> Any:
        return self.admin.client(service, region_name=region, endpoint_url=self.endpoint)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{AGENT_ROLE}"

    @property
    def user_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT}:user/{AGENT_USER}"

    # -- the estate -------------------------------------------------------------------------------

    def build(self) -> None:
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
            ],
        }
        iam.create_role(
            RoleName=AGENT_ROLE,
            AssumeRolePolicyDocument=json.dumps(trust),
            Tags=[{"Key": "owner", "Value": "platform"}, {"Key": "agent", "Value": AGENT}],
        )
        iam.put_role_policy(RoleName=AGENT_ROLE, PolicyName="agent-scope", PolicyDocument=json.dumps(_AGENT_POLICY))
        iam.create_user(UserName=AGENT_USER, Tags=[{"Key": "agent", "Value": AGENT}])
        iam.put_user_policy(UserName=AGENT_USER, PolicyName="agent-scope", PolicyDocument=json.dumps(_AGENT_POLICY))
        iam.create_login_profile(UserName=AGENT_USER, Password="Drill-Only-Passw0rd!", PasswordResetRequired=False)
        key = iam.create_access_key(UserName=AGENT_USER)["AccessKey"]
        self.agent_user = Actor(
            self.endpoint, ACCOUNT, self.user_arn, key["AccessKeyId"], key["SecretAccessKey"], AGENT_IP, AGENT_UA
        )
        # The attacker holds the very same key: that is the compromise.
        self.attacker = Actor(
            self.endpoint, ACCOUNT, self.user_arn, key["AccessKeyId"], key["SecretAccessKey"], ATTACKER_IP, ATTACKER_UA
        )
        creds = self.client("sts").assume_role(RoleArn=self.role_arn, RoleSessionName="infra-optimizer-run")[
            "Credentials"
        ]
        self.agent_role = Actor(
            self.endpoint,
            ACCOUNT,
            f"arn:aws:sts::{ACCOUNT}:assumed-role/{AGENT_ROLE}/infra-optimizer-run",
            creds["AccessKeyId"],
            creds["SecretAccessKey"],
            AGENT_IP,
            AGENT_UA,
            identity_type="AssumedRole",
            session_token=creds["SessionToken"],
            issuer_arn=self.role_arn,
        )
        # The log archive is read through a dedicated reader role, as in a real log-archive account.
        iam.create_role(RoleName=LOG_READER_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
        reader_policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:GetObject", "s3:GetObjectVersion"],
                    "Resource": [f"arn:aws:s3:::{ARCHIVE_BUCKET}", f"arn:aws:s3:::{ARCHIVE_BUCKET}/*"],
                }
            ],
        }
        iam.put_role_policy(
            RoleName=LOG_READER_ROLE, PolicyName="read-archive", PolicyDocument=json.dumps(reader_policy)
        )
        s3 = self.client("s3")
        s3.create_bucket(Bucket=ARCHIVE_BUCKET, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=ARCHIVE_BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}},
            },
        )
        s3.create_bucket(Bucket="app-assets-prod")
        ec2 = self.client("ec2")
        self.vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.app_sg = ec2.create_security_group(GroupName="app-web", Description="app", VpcId=self.vpc_id)["GroupId"]
        s3.create_bucket(Bucket="vpc-flow-logs-prod")
        self.flow_log_id = ec2.create_flow_logs(
            ResourceIds=[self.vpc_id],
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination="arn:aws:s3:::vpc-flow-logs-prod",
        )["FlowLogIds"][0]
        trail = self.client("cloudtrail")
        trail.create_trail(Name=TRAIL, S3BucketName=ARCHIVE_BUCKET, IsMultiRegionTrail=True)
        trail.start_logging(Name=TRAIL)
        self.client("rds").create_db_instance(
            DBInstanceIdentifier="orders-db",
            Engine="postgres",
            DBInstanceClass="db.t3.medium",
            AllocatedStorage=20,
            MasterUsername="orders",
            MasterUserPassword="drill-db-password-not-real",
            PubliclyAccessible=False,
        )

    def _normal_calls(self, start: datetime, span_seconds: float, calls: int) -> Iterator[dict[str, Any]]:
        """The agent's reads, from its usual place, through its role (mostly) or its user."""
        assert self.agent_role is not None and self.agent_user is not None
        for _ in range(calls):
            when = start + timedelta(seconds=self.rng.uniform(0, span_seconds))
            service, op = self.rng.choice(_READS)
            region = HOME_REGION if self.rng.random() < 0.85 else "us-west-2"
            actor = self.agent_role if self.rng.random() < 0.8 else self.agent_user
            yield actor.record(service, op, region=region, when=when)

    def history(self, *, days: int = 14, per_hour: int = 80) -> Iterator[dict[str, Any]]:
        """The agent's two weeks before the window: what ``irkit baseline`` would learn from.

        The same reads as its normal day plus its routine writes, hour by hour (not delivered to
        the archive: the drill learns the baseline directly, as `irkit baseline --from` would)."""
        assert self.agent_role is not None
        first = self.now - timedelta(days=days)
        for hour in range(days * 24 - 6):
            start = first + timedelta(hours=hour)
            yield from self._normal_calls(start, 3600, per_hour)
            for service, op in _ROUTINE_WRITES:
                if self.rng.random() < 0.2:
                    yield self.agent_role.record(service, op, region=HOME_REGION, when=start + timedelta(minutes=30))

    def background(self, *, hours: float, calls: int = 600) -> None:
        """The agent's normal day: mostly reads, a few routine writes, all from its usual place."""
        assert self.agent_role is not None and self.agent_user is not None
        start = self.now - timedelta(hours=hours)
        self.extra_records.extend(self._normal_calls(start, hours * 3600 - 600, calls))
        # A few real, routine writes: a small instance, tags, a metric.
        when = start + timedelta(minutes=20)
        run = self.agent_role.call(
            "ec2",
            "RunInstances",
            region=HOME_REGION,
            when=when,
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
        )
        instance_id = run["Instances"][0]["InstanceId"]
        self.agent_role.call(
            "ec2",
            "CreateTags",
            region=HOME_REGION,
            when=when + timedelta(seconds=5),
            Resources=[instance_id],
            Tags=[{"Key": "team", "Value": "platform"}],
        )
        self.agent_role.call(
            "ec2", "StopInstances", region=HOME_REGION, when=when + timedelta(hours=1), InstanceIds=[instance_id]
        )
        self.agent_role.call(
            "ec2",
            "ModifyInstanceAttribute",
            region=HOME_REGION,
            when=when + timedelta(hours=1, minutes=2),
            InstanceId=instance_id,
            InstanceType={"Value": "t3.small"},
        )
        self.agent_role.call(
            "ec2",
            "StartInstances",
            region=HOME_REGION,
            when=when + timedelta(hours=1, minutes=4),
            InstanceIds=[instance_id],
        )

    # -- infrastructure as code -------------------------------------------------------------------

    def enable_iac(self) -> IacWorld:
        """A git repository and terraform root managing the app's HTTPS ingress, applied long ago by a human."""
        if self.iac is not None:
            return self.iac
        if self.workdir is None:
            raise RuntimeError("the world has no workdir for its IaC")
        iac = IacWorld.create(self.workdir / "iac", endpoint=self.endpoint, group_id=self.app_sg, region=HOME_REGION)
        iac.init()
        iac.commit("app: HTTPS from the VPC only", cidr=GOOD_CIDR, who=HUMAN, when=self.now - timedelta(days=20))
        iac.apply(self._admin_env())
        self.iac = iac
        return iac

    def _admin_env(self) -> dict[str, str]:
        creds = self.admin.get_credentials().get_frozen_credentials()
        return {
            "AWS_ACCESS_KEY_ID": creds.access_key,
            "AWS_SECRET_ACCESS_KEY": creds.secret_key,
            "AWS_DEFAULT_REGION": HOME_REGION,
        }

    def agent_iac_change(self, when: datetime, cidr: str, message: str) -> str:
        """The agent commits a change to the ingress and applies it with its own role: CloudTrail
        records the provisioners' calls as the agent's."""
        assert self.agent_role is not None and self.workdir is not None
        iac = self.enable_iac()
        sha = iac.commit(message, cidr=cidr, who=AGENT_IDENTITY, when=when)
        env = {
            "AWS_ACCESS_KEY_ID": self.agent_role.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.agent_role.secret_access_key,
            "AWS_DEFAULT_REGION": HOME_REGION,
        }
        if self.agent_role.session_token:
            env["AWS_SESSION_TOKEN"] = self.agent_role.session_token
        calls = iac.apply(env, log=self.workdir / "tfhook.jsonl")
        for i, call in enumerate(calls):
            self.extra_records.append(
                self.agent_role.record(
                    "ec2",
                    str(call["operation"]),
                    region=HOME_REGION,
                    when=when + timedelta(minutes=3, seconds=5 * i),
                    request=call["request"],
                    response=call["response"],
                )
            )
        return sha

    # -- the archive ------------------------------------------------------------------------------

    def all_records(self) -> list[dict[str, Any]]:
        actors = [a for a in (self.agent_user, self.agent_role, self.attacker) if a is not None]
        actors += [a for a in self.actors.values() if all(a.records is not b.records for b in actors)]
        records = [r for a in actors for r in a.records] + self.extra_records
        return sorted(records, key=lambda r: str(r["eventTime"]))

    def deliver(self) -> int:
        """Write every record into the archive as CloudTrail would: 5-minute files per region, and
        the hourly digests signed with the trail's key. After ``logging_stopped_at`` nothing is
        delivered any more: no log, no digest."""
        writer = ArchiveWriter(
            TrailLayout(ARCHIVE_BUCKET, "", ORG_ID),
            S3Sink(self.client("s3"), ARCHIVE_BUCKET),
            private_key=self.trail_key,
            trail_name=TRAIL,
        )
        stop = self.logging_stopped_at
        by_region: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in self.all_records():
            if stop is None or parse_time(rec["eventTime"]) <= stop:
                by_region[rec["awsRegion"]].append(rec)
        files = sum(len(writer.add_records(ACCOUNT, region, recs)) for region, recs in sorted(by_region.items()))
        if stop is None:
            writer.seal_digests(until=self.now)
        else:
            # A stopped trail still delivers the digest of its last hour, then nothing.
            writer.seal_digests(until=stop.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        return files

    def write_public_key(self, path: Path) -> Path:
        """The trail's digest public key, as `log_archive.public_keys` names it (moto has no ListPublicKeys)."""
        path.write_bytes(
            self.trail_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        return path

    # -- irkit's view ---------------------------------------------------------------------------

    def write_baseline(self, path: Path) -> Path:
        """Learn the agent's baseline from its history and save it where irkit.yaml points."""
        events = (Event.from_record(r) for r in self.history())
        Baseline.learn(events, agent=AGENT, principals=[self.role_arn, self.user_arn]).save(path)
        return path

    def write_config(self, path: Path, *, public_key: Path, baseline: Path) -> Path:
        text = f"""\
# Written by `irkit drill`: the embedded simulator at {self.endpoint}
aws:
  region: {HOME_REGION}
  endpoint_url: {self.endpoint}
log_archive:
  bucket: {ARCHIVE_BUCKET}
  organization_id: {ORG_ID}
  role_arn: arn:aws:iam::{ACCOUNT}:role/{LOG_READER_ROLE}
  public_keys: ["{public_key}"]
  accounts: ["{ACCOUNT}"]
  regions: [{", ".join(REGIONS)}, ap-southeast-1, eu-west-1]
agents:
  {AGENT}:
    account: "{ACCOUNT}"
    principals:
      - {self.role_arn}
      - {self.user_arn}
    baseline: {baseline}
"""
        if self.iac is not None:
            text += self.iac.config_yaml()
        path.write_text(text, encoding="utf-8")
        return path
