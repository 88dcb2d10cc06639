"""What of the attacker's is still live, read from the world itself (never from irkit's output).

A scenario's ``leaves:`` names each thing the attacker made by a ``kind`` below; after the drill, each
check reads the simulator as its administrator and says what is still there. What no call can bring
back is marked ``loss`` by the scenario and listed as a loss, not checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from irkit.drill.iac import GOOD_CIDR
from irkit.drill.world import World

Check = Callable[[World, Mapping[str, str]], list[str]]
_IRKIT_OWN = {"AWSRevokeOlderSessions", "irkit-revoke-older-sessions"}


def _policies(iam: Any, kind: str, name: str) -> list[str]:
    if kind == "role":
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        inline = iam.list_role_policies(RoleName=name)["PolicyNames"]
    else:
        attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
        inline = iam.list_user_policies(UserName=name)["PolicyNames"]
    return [str(a["PolicyArn"]) for a in attached] + [str(n) for n in inline if n not in _IRKIT_OWN]


def _role(world: World, item: Mapping[str, str]) -> list[str]:
    iam = world.client("iam")
    try:
        trust = iam.get_role(RoleName=item["name"])["Role"]["AssumeRolePolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        return []
    allows = any(s.get("Effect") == "Allow" for s in trust.get("Statement", []))
    policies = _policies(iam, "role", item["name"])
    if allows or policies:
        return [f"iam role {item['name']}" + (f" with {', '.join(policies)}" if policies else "")]
    return []


def _access_key(world: World, item: Mapping[str, str]) -> list[str]:
    iam = world.client("iam")
    try:
        keys = iam.list_access_keys(UserName=item["user"])["AccessKeyMetadata"]
    except iam.exceptions.NoSuchEntityException:
        return []
    if any(k["AccessKeyId"] == item["name"] and k["Status"] == "Active" for k in keys):
        return [f"access key {item['name']} of {item['user']} (Active)"]
    return []


def _user(world: World, item: Mapping[str, str]) -> list[str]:
    iam = world.client("iam")
    try:
        keys = iam.list_access_keys(UserName=item["name"])["AccessKeyMetadata"]
    except iam.exceptions.NoSuchEntityException:
        return []
    armed = [k["AccessKeyId"] for k in keys if k["Status"] == "Active"] + _policies(iam, "user", item["name"])
    try:
        iam.get_login_profile(UserName=item["name"])
        armed.append("console password")
    except iam.exceptions.NoSuchEntityException:
        pass
    return [f"iam user {item['name']} ({', '.join(armed)})"] if armed else []


def _instances(world: World, item: Mapping[str, str]) -> list[str]:
    ec2 = world.client("ec2", item["region"])
    ids = [i for i in item["ids"].split(",") if i]
    found = ec2.describe_instances(InstanceIds=ids)["Reservations"] if ids else []
    running = [
        i
        for r in found
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down", "stopped", "stopping")
    ]
    return [f"{len(running)} instances {item['name']} running in {item['region']}"] if running else []


def _rule_live(world: World, item: Mapping[str, str]) -> bool:
    rules = world.client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [item["group"]]}]
    )["SecurityGroupRules"]
    return any(
        not r.get("IsEgress") and r.get("CidrIpv4") == item["cidr"] and str(r.get("FromPort")) == item["port"]
        for r in rules
    )


def _sg_rule(world: World, item: Mapping[str, str]) -> list[str]:
    return [f"security group rule {item['name']}"] if _rule_live(world, item) else []


def _iac_ingress(world: World, item: Mapping[str, str]) -> list[str]:
    left = _sg_rule(world, item)
    if world.iac is not None and world.iac.state_cidr() != GOOD_CIDR:
        left.append(f"terraform state still holds {world.iac.state_cidr()} (before: {GOOD_CIDR})")
    return left


def _db_replica(world: World, item: Mapping[str, str]) -> list[str]:
    dbs = world.client("rds", item["region"]).describe_db_instances()["DBInstances"]
    if any(d["DBInstanceIdentifier"] == item["id"] and d.get("DBInstanceStatus") != "deleting" for d in dbs):
        return [f"database replica {item['name']}"]
    return []


def _open_policy(world: World, bucket: str) -> list[str]:
    s3 = world.client("s3")
    try:
        policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except s3.exceptions.ClientError:
        return []
    return [f"bucket {bucket} policy open to everyone"] if '"*"' in policy else []


def _bucket(world: World, item: Mapping[str, str]) -> list[str]:
    """A bucket the attacker made public: its policy must be closed and public access blocked."""
    s3 = world.client("s3")
    left = _open_policy(world, item["bucket"])
    try:
        block = s3.get_public_access_block(Bucket=item["bucket"])["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError:
        block = {}
    if not (block.get("BlockPublicPolicy") and block.get("RestrictPublicBuckets")):
        left.append(f"bucket {item['bucket']} public access not blocked")
    return left


def _bucket_policy(world: World, item: Mapping[str, str]) -> list[str]:
    """An existing bucket whose policy the attacker opened: the open policy must be gone."""
    return _open_policy(world, item["bucket"])


def _trail(world: World, item: Mapping[str, str]) -> list[str]:
    if not world.client("cloudtrail").get_trail_status(Name=item["trail"]).get("IsLogging"):
        return [f"trail {item['trail']} not logging"]
    return []


def _event_selectors(world: World, item: Mapping[str, str]) -> list[str]:
    selectors = world.client("cloudtrail").get_event_selectors(TrailName=item["trail"]).get("EventSelectors") or []
    if not any(s.get("ReadWriteType") == "All" and s.get("IncludeManagementEvents") for s in selectors):
        return [f"trail {item['trail']} event selectors still narrowed"]
    return []


def _snapshot_share(world: World, item: Mapping[str, str]) -> list[str]:
    ec2 = world.client("ec2", item.get("region", "us-east-1"))
    perms = ec2.describe_snapshot_attribute(SnapshotId=item["snapshot"], Attribute="createVolumePermission")
    shared = [str(p.get("UserId") or p.get("Group")) for p in perms.get("CreateVolumePermissions", [])]
    return [f"snapshot {item['snapshot']} shared with {', '.join(shared)}"] if shared else []


def _image_share(world: World, item: Mapping[str, str]) -> list[str]:
    ec2 = world.client("ec2", item.get("region", "us-east-1"))
    perms = ec2.describe_image_attribute(ImageId=item["image"], Attribute="launchPermission")
    shared = [str(p.get("UserId") or p.get("Group")) for p in perms.get("LaunchPermissions", [])]
    return [f"image {item['image']} shared with {', '.join(shared)}"] if shared else []


def _db_public(world: World, item: Mapping[str, str]) -> list[str]:
    rds = world.client("rds", item.get("region", "us-east-1"))
    dbs = rds.describe_db_instances(DBInstanceIdentifier=item["id"])["DBInstances"]
    return [f"database {item['id']} publicly accessible"] if any(d.get("PubliclyAccessible") for d in dbs) else []


def _lambda_permission(world: World, item: Mapping[str, str]) -> list[str]:
    lam = world.client("lambda", item.get("region", "us-east-1"))
    try:
        policy = json.loads(lam.get_policy(FunctionName=item["function"])["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    if any(s.get("Sid") == item["sid"] for s in policy.get("Statement", [])):
        return [f"lambda function {item['function']} statement {item['sid']}"]
    return []


def _function_url(world: World, item: Mapping[str, str]) -> list[str]:
    lam = world.client("lambda", item.get("region", "us-east-1"))
    try:
        lam.get_function_url_config(FunctionName=item["function"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return [f"lambda function {item['function']} URL"]


CHECKS: dict[str, Check] = {
    "lambda-permission": _lambda_permission,
    "function-url": _function_url,
    "db-public": _db_public,
    "role": _role,
    "access_key": _access_key,
    "user": _user,
    "instances": _instances,
    "sg-rule": _sg_rule,
    "iac-ingress": _iac_ingress,
    "db-replica": _db_replica,
    "bucket": _bucket,
    "bucket-policy": _bucket_policy,
    "trail": _trail,
    "event-selectors": _event_selectors,
    "snapshot-share": _snapshot_share,
    "image-share": _image_share,
}


def residual(world: World) -> list[str]:
    """Every live thing of the attacker's, in the order it was made; an unknown kind is never called gone."""
    left: list[str] = []
    for item in world.created_by_attacker:
        if item.get("loss"):
            continue
        check = CHECKS.get(item["kind"])
        left.extend(check(world, item) if check else [f"{item['kind']} {item['name']} (no check for this kind)"])
    return left


def losses(world: World) -> list[str]:
    return [str(item["name"]) for item in world.created_by_attacker if item.get("loss")]
