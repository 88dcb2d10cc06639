"""Every registered inverse, for real on a moto server: the attack made, its record read, undone, verified,
and undone again as a no-op ("already gone" is done)."""

from __future__ import annotations

import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import irkit.revert.inverses as inverses_pkg
from irkit.detect.event import Event
from irkit.revert.calls import execute
from irkit.revert.inverses import all_inverses, inverse_for, module_name
from irkit.revert.model import Reversibility
from tests.revert.conftest import (
    ACCOUNT,
    ADMIN_DOC,
    OUTSIDE,
    TRUST_EC2,
    TRUST_OUTSIDE,
    Sim,
    apply_undo,
    replan,
    verdict,
)


@dataclass(frozen=True)
class Case:
    event: str
    arrange: Callable[[Sim], dict[str, Any]]
    check: Callable[[Sim], None]
    options: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    exact: bool = True

    @property
    def id(self) -> str:
        return self.name or self.event


# -- IAM -----------------------------------------------------------------------------------------------


def create_role(sim: Sim) -> dict[str, Any]:
    rec = sim.attack(
        "iam", "CreateRole", RoleName="ops-maintenance-automation", AssumeRolePolicyDocument=json.dumps(TRUST_OUTSIDE)
    )
    iam = sim.boto("iam")
    iam.attach_role_policy(RoleName="ops-maintenance-automation", PolicyArn=sim.managed_policy())
    iam.put_role_policy(RoleName="ops-maintenance-automation", PolicyName="extra", PolicyDocument=json.dumps(ADMIN_DOC))
    iam.put_role_policy(
        RoleName="ops-maintenance-automation", PolicyName="AWSRevokeOlderSessions", PolicyDocument=json.dumps(ADMIN_DOC)
    )
    iam.create_instance_profile(InstanceProfileName="ops-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="ops-profile", RoleName="ops-maintenance-automation")
    return rec


def role_gone(sim: Sim) -> None:
    iam = sim.boto("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="ops-maintenance-automation")
    assert iam.get_instance_profile(InstanceProfileName="ops-profile")["InstanceProfile"]["Roles"] == []


def role_quarantined(sim: Sim) -> None:
    iam = sim.boto("iam")
    role = iam.get_role(RoleName="ops-maintenance-automation")["Role"]
    assert all(s["Effect"] == "Deny" for s in role["AssumeRolePolicyDocument"]["Statement"])
    assert iam.list_attached_role_policies(RoleName="ops-maintenance-automation")["AttachedPolicies"] == []
    assert iam.list_role_policies(RoleName="ops-maintenance-automation")["PolicyNames"] == []
    tags = iam.list_role_tags(RoleName="ops-maintenance-automation")["Tags"]
    assert {"Key": "irkit:quarantine", "Value": "IR-TEST"} in tags


def attach_role_policy(sim: Sim) -> dict[str, Any]:
    sim.boto("iam").create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    return sim.attack("iam", "AttachRolePolicy", RoleName="app-role", PolicyArn=sim.managed_policy())


def role_detached(sim: Sim) -> None:
    assert sim.boto("iam").list_attached_role_policies(RoleName="app-role")["AttachedPolicies"] == []


def put_role_policy(sim: Sim) -> dict[str, Any]:
    sim.boto("iam").create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    return sim.attack(
        "iam", "PutRolePolicy", RoleName="app-role", PolicyName="break-glass", PolicyDocument=json.dumps(ADMIN_DOC)
    )


def role_inline_gone(sim: Sim) -> None:
    assert sim.boto("iam").list_role_policies(RoleName="app-role")["PolicyNames"] == []


READ_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def put_role_policy_over_earlier(sim: Sim) -> dict[str, Any]:
    sim.boto("iam").create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    sim.earlier("iam", "PutRolePolicy", RoleName="app-role", PolicyName="app", PolicyDocument=json.dumps(READ_DOC))
    return sim.attack(
        "iam", "PutRolePolicy", RoleName="app-role", PolicyName="app", PolicyDocument=json.dumps(ADMIN_DOC)
    )


def role_inline_restored(sim: Sim) -> None:
    doc = sim.boto("iam").get_role_policy(RoleName="app-role", PolicyName="app")["PolicyDocument"]
    assert doc == READ_DOC


def attach_user_policy(sim: Sim) -> dict[str, Any]:
    sim.boto("iam").create_user(UserName="app-user")
    return sim.attack("iam", "AttachUserPolicy", UserName="app-user", PolicyArn=sim.managed_policy())


def user_detached(sim: Sim) -> None:
    assert sim.boto("iam").list_attached_user_policies(UserName="app-user")["AttachedPolicies"] == []


def put_user_policy(sim: Sim) -> dict[str, Any]:
    sim.boto("iam").create_user(UserName="app-user")
    return sim.attack(
        "iam", "PutUserPolicy", UserName="app-user", PolicyName="break-glass", PolicyDocument=json.dumps(ADMIN_DOC)
    )


def user_inline_gone(sim: Sim) -> None:
    assert sim.boto("iam").list_user_policies(UserName="app-user")["PolicyNames"] == []


def create_user(sim: Sim) -> dict[str, Any]:
    rec = sim.attack("iam", "CreateUser", UserName="svc-backup-sync")
    iam = sim.boto("iam")
    iam.create_access_key(UserName="svc-backup-sync")
    iam.create_login_profile(UserName="svc-backup-sync", Password="Backdoor-Passw0rd!")
    iam.create_group(GroupName="admins")
    iam.add_user_to_group(GroupName="admins", UserName="svc-backup-sync")
    iam.attach_user_policy(UserName="svc-backup-sync", PolicyArn=sim.managed_policy())
    iam.put_user_policy(UserName="svc-backup-sync", PolicyName="more", PolicyDocument=json.dumps(ADMIN_DOC))
    iam.put_user_policy(
        UserName="svc-backup-sync", PolicyName="irkit-revoke-older-sessions", PolicyDocument=json.dumps(ADMIN_DOC)
    )
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="backdoor")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="svc-backup-sync", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    return rec


def user_disarmed(sim: Sim) -> None:
    iam = sim.boto("iam")
    keys = iam.list_access_keys(UserName="svc-backup-sync")["AccessKeyMetadata"]
    assert keys and all(k["Status"] == "Inactive" for k in keys)  # kept: evidence
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="svc-backup-sync")
    assert iam.list_groups_for_user(UserName="svc-backup-sync")["Groups"] == []
    assert iam.list_attached_user_policies(UserName="svc-backup-sync")["AttachedPolicies"] == []
    assert iam.list_user_policies(UserName="svc-backup-sync")["PolicyNames"] == ["irkit-revoke-older-sessions"]
    assert iam.list_mfa_devices(UserName="svc-backup-sync")["MFADevices"] == []


def create_access_key(sim: Sim) -> dict[str, Any]:
    return sim.attack("iam", "CreateAccessKey", UserName="agent-infra-bot")


def second_key_inactive(sim: Sim) -> None:
    keys = sim.boto("iam").list_access_keys(UserName="agent-infra-bot")["AccessKeyMetadata"]
    assert sorted(k["Status"] for k in keys) == ["Active", "Inactive"]  # only the attacker's key


def create_login_profile(sim: Sim) -> dict[str, Any]:
    sim.boto("iam").create_user(UserName="app-user")
    return sim.attack("iam", "CreateLoginProfile", UserName="app-user", Password="Attacker-Passw0rd!")


def login_gone(sim: Sim) -> None:
    iam = sim.boto("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="app-user")


def update_assume_role_policy(sim: Sim) -> dict[str, Any]:
    sim.earlier("iam", "CreateRole", RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    return sim.attack("iam", "UpdateAssumeRolePolicy", RoleName="app-role", PolicyDocument=json.dumps(TRUST_OUTSIDE))


def trust_restored(sim: Sim) -> None:
    assert sim.boto("iam").get_role(RoleName="app-role")["Role"]["AssumeRolePolicyDocument"] == TRUST_EC2


# -- EC2 -----------------------------------------------------------------------------------------------


def _group(sim: Sim) -> str:
    ec2 = sim.boto("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    group: str = ec2.create_security_group(GroupName="app-web", Description="app", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
    )
    return group


OPEN_4444 = [{"IpProtocol": "tcp", "FromPort": 4444, "ToPort": 4444, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


def authorize_ingress(sim: Sim) -> dict[str, Any]:
    return sim.attack("ec2", "AuthorizeSecurityGroupIngress", GroupId=_group(sim), IpPermissions=OPEN_4444)


def authorize_ingress_without_rule_ids(sim: Sim) -> dict[str, Any]:
    rec = authorize_ingress(sim)
    rec["responseElements"] = {"requestId": "x", "_return": True}  # an older record: no securityGroupRuleSet
    return rec


def authorize_ingress_flat_form(sim: Sim) -> dict[str, Any]:
    rec = authorize_ingress(sim)
    group = rec["requestParameters"]["groupId"]
    rec["requestParameters"] = {
        "groupId": group,
        "ipPermissions": {},
        "ipProtocol": "tcp",
        "fromPort": 4444,
        "toPort": 4444,
        "cidrIp": "0.0.0.0/0",
    }
    rec["responseElements"] = {"requestId": "x", "_return": True}
    return rec


def only_the_443_rule_left(sim: Sim) -> None:
    (group,) = [g for g in sim.boto("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"] == "app-web"]
    assert [(p["FromPort"], p["IpRanges"][0]["CidrIp"]) for p in group["IpPermissions"]] == [(443, "10.0.0.0/8")]


def authorize_egress(sim: Sim) -> dict[str, Any]:
    return sim.attack("ec2", "AuthorizeSecurityGroupEgress", GroupId=_group(sim), IpPermissions=OPEN_4444)


def egress_4444_gone(sim: Sim) -> None:
    (group,) = [g for g in sim.boto("ec2").describe_security_groups()["SecurityGroups"] if g["GroupName"] == "app-web"]
    assert all(p.get("FromPort") != 4444 for p in group["IpPermissionsEgress"])


MINER_REGION = "ap-southeast-1"


def run_instances(sim: Sim) -> dict[str, Any]:
    rec = sim.attack(
        "ec2",
        "RunInstances",
        region=MINER_REGION,
        ImageId="ami-12c6146b",
        MinCount=6,
        MaxCount=6,
        InstanceType="p3.2xlarge",
    )
    ids = [i["instanceId"] for i in rec["responseElements"]["instancesSet"]["items"]]
    sim.boto("ec2", MINER_REGION).modify_instance_attribute(InstanceId=ids[0], DisableApiStop={"Value": True})
    return rec


def _states(sim: Sim) -> dict[str, str]:
    res = sim.boto("ec2", MINER_REGION).describe_instances()["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in res for i in r["Instances"]}


def instances_stopped_and_tagged(sim: Sim) -> None:
    assert set(_states(sim).values()) == {"stopped"}
    res = sim.boto("ec2", MINER_REGION).describe_instances()["Reservations"]
    assert all({"Key": "irkit:case", "Value": "IR-TEST"} in i["Tags"] for r in res for i in r["Instances"])


def instances_terminated(sim: Sim) -> None:
    assert set(_states(sim).values()) == {"terminated"}


def _snapshot(sim: Sim) -> str:
    ec2 = sim.boto("ec2")
    volume = ec2.create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"]
    snap: str = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    sim.mem["snapshot"] = snap
    return snap


def modify_snapshot_attribute(sim: Sim) -> dict[str, Any]:
    return sim.attack(
        "ec2",
        "ModifySnapshotAttribute",
        SnapshotId=_snapshot(sim),
        Attribute="createVolumePermission",
        OperationType="add",
        UserIds=[OUTSIDE],
    )


def snapshot_private(sim: Sim) -> None:
    ec2 = sim.boto("ec2")
    attr = ec2.describe_snapshot_attribute(SnapshotId=sim.mem["snapshot"], Attribute="createVolumePermission")
    assert attr["CreateVolumePermissions"] == []


def modify_image_attribute(sim: Sim) -> dict[str, Any]:
    ec2 = sim.boto("ec2")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=instance, Name="golden-image")["ImageId"]
    sim.mem["image"] = image
    return sim.attack("ec2", "ModifyImageAttribute", ImageId=image, LaunchPermission={"Add": [{"UserId": OUTSIDE}]})


def image_private(sim: Sim) -> None:
    ec2 = sim.boto("ec2")
    attr = ec2.describe_image_attribute(ImageId=sim.mem["image"], Attribute="launchPermission")
    assert attr["LaunchPermissions"] == []


# -- logging, storage, keys, databases ----------------------------------------------------------------


def _trail(sim: Sim) -> str:
    sim.boto("s3").create_bucket(Bucket="org-trail-bucket")
    ct = sim.boto("cloudtrail")
    arn: str = ct.create_trail(Name="org-trail", S3BucketName="org-trail-bucket", IsMultiRegionTrail=True)["TrailARN"]
    ct.start_logging(Name="org-trail")
    return arn


def stop_logging(sim: Sim) -> dict[str, Any]:
    # By ARN: the trail is started again in its home region, found from the ARN.
    return sim.attack("cloudtrail", "StopLogging", Name=_trail(sim))


def trail_logging(sim: Sim) -> None:
    assert sim.boto("cloudtrail").get_trail_status(Name="org-trail")["IsLogging"] is True


def put_event_selectors(sim: Sim) -> dict[str, Any]:
    _trail(sim)
    return sim.attack(
        "cloudtrail",
        "PutEventSelectors",
        TrailName="org-trail",
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}],
    )


def selectors_all(sim: Sim) -> None:
    sel = sim.boto("cloudtrail").get_event_selectors(TrailName="org-trail")["EventSelectors"]
    assert [(s["ReadWriteType"], s["IncludeManagementEvents"]) for s in sel] == [("All", True)]


def put_event_selectors_over_earlier(sim: Sim) -> dict[str, Any]:
    _trail(sim)
    sim.earlier(
        "cloudtrail",
        "PutEventSelectors",
        TrailName="org-trail",
        EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}],
    )
    return sim.attack(
        "cloudtrail",
        "PutEventSelectors",
        TrailName="org-trail",
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}],
    )


def selectors_write_only(sim: Sim) -> None:
    sel = sim.boto("cloudtrail").get_event_selectors(TrailName="org-trail")["EventSelectors"]
    assert [(s["ReadWriteType"], s["IncludeManagementEvents"]) for s in sel] == [("WriteOnly", True)]


BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}


def delete_public_access_block(sim: Sim) -> dict[str, Any]:
    s3 = sim.boto("s3")
    s3.create_bucket(Bucket="app-assets-prod")
    s3.put_public_access_block(Bucket="app-assets-prod", PublicAccessBlockConfiguration=BLOCKED)
    return sim.attack("s3", "DeletePublicAccessBlock", Bucket="app-assets-prod") | {
        "eventName": "DeleteBucketPublicAccessBlock"
    }


def blocked(sim: Sim, bucket: str = "app-assets-prod") -> None:
    got = sim.boto("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == BLOCKED


PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tmp-export-7f3a91/*"}
    ],
}


def put_bucket_policy_on_new_bucket(sim: Sim) -> dict[str, Any]:
    created = sim.attack("s3", "CreateBucket", Bucket="tmp-export-7f3a91")
    sim.history.append(created)  # the bucket's creation in the window: it had no policy before
    return sim.attack("s3", "PutBucketPolicy", Bucket="tmp-export-7f3a91", Policy=json.dumps(PUBLIC_POLICY))


def no_bucket_policy(sim: Sim) -> None:
    s3 = sim.boto("s3")
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket="tmp-export-7f3a91")


def put_bucket_acl(sim: Sim) -> dict[str, Any]:
    sim.boto("s3").create_bucket(Bucket="app-assets-prod")
    rec = sim.attack("s3", "PutBucketAcl", Bucket="app-assets-prod", ACL="public-read")
    rec["requestParameters"]["x-amz-acl"] = ["public-read"]  # CloudTrail logs the canned ACL header
    return rec


def acl_private(sim: Sim) -> None:
    grants = sim.boto("s3").get_bucket_acl(Bucket="app-assets-prod")["Grants"]
    assert not [g for g in grants if "AllUsers" in str(g["Grantee"].get("URI", ""))]


def create_bucket(sim: Sim) -> dict[str, Any]:
    return sim.attack("s3", "CreateBucket", Bucket="tmp-export-7f3a91")


def new_bucket_blocked(sim: Sim) -> None:
    blocked(sim, "tmp-export-7f3a91")


def schedule_key_deletion(sim: Sim) -> dict[str, Any]:
    key = sim.boto("kms").create_key(Description="orders")["KeyMetadata"]["KeyId"]
    sim.mem["key"] = key
    return sim.attack("kms", "ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)


def key_enabled(sim: Sim) -> None:
    kms = sim.boto("kms")
    assert kms.describe_key(KeyId=sim.mem["key"])["KeyMetadata"]["KeyState"] == "Enabled"


def delete_secret(sim: Sim) -> dict[str, Any]:
    sim.boto("secretsmanager").create_secret(Name="prod/orders-db", SecretString="not-a-real-secret")
    return sim.attack("secretsmanager", "DeleteSecret", SecretId="prod/orders-db", RecoveryWindowInDays=7)


def secret_restored(sim: Sim) -> None:
    assert "DeletedDate" not in sim.boto("secretsmanager").describe_secret(SecretId="prod/orders-db")


def create_replica(sim: Sim) -> dict[str, Any]:
    sim.boto("rds").create_db_instance(
        DBInstanceIdentifier="orders-db",
        Engine="postgres",
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=20,
        MasterUsername="orders",
        MasterUserPassword="not-a-real-password",
    )
    return sim.attack(
        "rds",
        "CreateDBInstanceReadReplica",
        region="eu-west-1",
        DBInstanceIdentifier="orders-db-replica",
        SourceDBInstanceIdentifier=f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db",
        SourceRegion="us-east-1",
    )


def replica_gone_snapshot_kept(sim: Sim) -> None:
    rds = sim.boto("rds", "eu-west-1")
    assert [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]] == []
    snaps = rds.describe_db_snapshots(DBSnapshotIdentifier="irkit-IR-TEST-orders-db-replica")["DBSnapshots"]
    assert snaps[0]["DBInstanceIdentifier"] == "orders-db-replica"


CASES = [
    Case("CreateRole", create_role, role_gone),
    Case("CreateRole", create_role, role_quarantined, {"quarantine_roles": True}, "CreateRole-quarantine"),
    Case("AttachRolePolicy", attach_role_policy, role_detached),
    Case("PutRolePolicy", put_role_policy, role_inline_gone, exact=False),
    Case("PutRolePolicy", put_role_policy_over_earlier, role_inline_restored, name="PutRolePolicy-before-image"),
    Case("AttachUserPolicy", attach_user_policy, user_detached),
    Case("PutUserPolicy", put_user_policy, user_inline_gone, exact=False),
    Case("CreateUser", create_user, user_disarmed),
    Case("CreateAccessKey", create_access_key, second_key_inactive),
    Case("CreateLoginProfile", create_login_profile, login_gone),
    Case("UpdateAssumeRolePolicy", update_assume_role_policy, trust_restored),
    Case("AuthorizeSecurityGroupIngress", authorize_ingress, only_the_443_rule_left),
    Case(
        "AuthorizeSecurityGroupIngress",
        authorize_ingress_without_rule_ids,
        only_the_443_rule_left,
        name="SGI-no-rule-ids",
    ),
    Case("AuthorizeSecurityGroupIngress", authorize_ingress_flat_form, only_the_443_rule_left, name="SGI-flat-form"),
    Case("AuthorizeSecurityGroupEgress", authorize_egress, egress_4444_gone),
    Case("RunInstances", run_instances, instances_stopped_and_tagged),
    Case("RunInstances", run_instances, instances_terminated, {"terminate_instances": True}, "RunInstances-terminate"),
    Case("ModifySnapshotAttribute", modify_snapshot_attribute, snapshot_private),
    Case("ModifyImageAttribute", modify_image_attribute, image_private),
    Case("StopLogging", stop_logging, trail_logging),
    Case("PutEventSelectors", put_event_selectors, selectors_all, exact=False),
    Case(
        "PutEventSelectors",
        put_event_selectors_over_earlier,
        selectors_write_only,
        name="PutEventSelectors-before-image",
    ),
    Case("DeleteBucketPublicAccessBlock", delete_public_access_block, blocked, exact=False),
    Case("PutBucketPolicy", put_bucket_policy_on_new_bucket, no_bucket_policy),
    Case("PutBucketAcl", put_bucket_acl, acl_private, exact=False),
    Case("CreateBucket", create_bucket, new_bucket_blocked),
    Case("ScheduleKeyDeletion", schedule_key_deletion, key_enabled, exact=False),
    Case("DeleteSecret", delete_secret, secret_restored),
    Case("CreateDBInstanceReadReplica", create_replica, replica_gone_snapshot_kept),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_undo_restores_the_world_and_running_it_again_changes_nothing(sim: Sim, case: Case) -> None:
    record = case.arrange(sim)
    assert verdict(sim, record, **case.options).status == "present"

    change, undo, outcomes = apply_undo(sim, record, **case.options)

    assert undo.calls, undo.notes
    assert undo.exact is case.exact
    assert set(outcomes) == {"done"}
    assert verdict(sim, record, **case.options).status == "undone"
    case.check(sim)  # read by the world's administrator, not by the inverse
    # Idempotent: a second plan is empty, or every call finds the world already so.
    again = replan(sim, record, **case.options)
    ctx = sim.ctx(**case.options)
    assert all(execute(ctx.client, c) in ("done", "already") for c in again)
    assert verdict(sim, record, **case.options).status == "undone"
    case.check(sim)
    assert change.event_id == record["eventID"]


def test_every_reversible_inverse_has_a_moto_case() -> None:
    covered = {c.event for c in CASES}
    reversible = {n for n, inv in all_inverses().items() if inv.reversibility is not Reversibility.NOT_REVERSIBLE}
    assert reversible - covered == set()


def test_registry_key_is_the_module_name_and_every_module_registers() -> None:
    modules = {m.name for m in pkgutil.iter_modules(inverses_pkg.__path__) if not m.name.startswith("_")}
    assert {module_name(name) for name in all_inverses()} == modules
    assert module_name("CreateDBInstanceReadReplica") == "create_db_instance_read_replica"


@pytest.mark.parametrize("name", sorted(all_inverses()))
def test_every_inverse_reads_its_own_example_record(name: str) -> None:
    inverse = all_inverses()[name]
    assert inverse.example["eventName"] == name
    assert inverse.reversibility in Reversibility
    change = inverse.change(Event.from_record(inverse.example))
    assert change is not None
    assert change.resource and change.key and change.event_id == inverse.example["eventID"]
    if inverse.reversibility is Reversibility.NOT_REVERSIBLE:
        assert inverse.permissions == ()
    else:
        assert inverse.permissions and all(":" in p for p in inverse.permissions)


@pytest.mark.parametrize(
    "name", sorted(n for n, i in all_inverses().items() if i.reversibility is Reversibility.NOT_REVERSIBLE)
)
def test_a_loss_is_planned_as_not_reversible_and_verified_as_lost(sim: Sim, name: str) -> None:
    inverse = all_inverses()[name]
    change = inverse.change(Event.from_record(inverse.example))
    assert change is not None
    undo = inverse.plan(change, sim.ctx())
    assert undo.status == "not reversible" and undo.calls == () and undo.notes
    assert inverse.verify(change, sim.ctx()).status == "lost"


def test_an_already_deleted_role_is_nothing_to_do(sim: Sim) -> None:
    record = create_role(sim)
    iam = sim.boto("iam")
    iam.remove_role_from_instance_profile(InstanceProfileName="ops-profile", RoleName="ops-maintenance-automation")
    for arn in [
        p["PolicyArn"]
        for p in iam.list_attached_role_policies(RoleName="ops-maintenance-automation")["AttachedPolicies"]
    ]:
        iam.detach_role_policy(RoleName="ops-maintenance-automation", PolicyArn=arn)
    for name in iam.list_role_policies(RoleName="ops-maintenance-automation")["PolicyNames"]:
        iam.delete_role_policy(RoleName="ops-maintenance-automation", PolicyName=name)
    iam.delete_role(RoleName="ops-maintenance-automation")
    event = Event.from_record(record)
    inverse = inverse_for("CreateRole")
    assert inverse is not None
    change = inverse.change(event)
    assert change is not None
    undo = inverse.plan(change, sim.ctx())
    assert undo.status == "nothing to do" and undo.calls == ()
    assert inverse.verify(change, sim.ctx()).status == "undone"


def test_a_call_on_a_resource_gone_meanwhile_counts_as_done(sim: Sim) -> None:
    record = create_access_key(sim)
    _, undo, _ = apply_undo(sim, record)
    (call,) = undo.calls
    iam = sim.boto("iam")
    iam.delete_access_key(UserName="agent-infra-bot", AccessKeyId=call.args["AccessKeyId"])
    assert execute(sim.ctx().client, call) == "already"


def test_containment_policies_are_never_undone(sim: Sim) -> None:
    sim.boto("iam").create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    record = sim.attack(
        "iam",
        "PutRolePolicy",
        RoleName="app-role",
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=json.dumps(ADMIN_DOC),
    )
    inverse = inverse_for("PutRolePolicy")
    assert inverse is not None
    assert inverse.change(Event.from_record(record)) is None
