"""Everything at once, the seed incidents in one window: the revert stage's acceptance drill.

With the agent's stolen key: a security group rule 0.0.0.0/0:4444, a role with AdministratorAccess
trusting an outside account, a second access key on the agent's own user, a new user with a key, six
GPU instances in a region the agent never uses, and finally the organisation trail stopped. Before
that, the agent itself committed and applied a terraform change widening the app's ingress. irkit
must end with all of it undone: the trail logging, the rule gone, the role deleted, the keys inactive,
the instances stopped, a revert commit on irkit/revert-<case> and the terraform state as before.
"""

from __future__ import annotations

import json
from datetime import timedelta

from irkit.drill.iac import PORT
from irkit.drill.scenarios import Scenario
from irkit.drill.world import ACCOUNT, AGENT_USER, OUTSIDE_ACCOUNT, TRAIL, World

ROLE = "ops-maintenance-automation"
USER = "svc-backup-sync"
MINER_REGION = "ap-southeast-1"


def attack(world: World) -> None:
    assert world.attacker is not None
    a, now, made = world.attacker, world.now, world.created_by_attacker
    a.call(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        when=now - timedelta(minutes=130),
        GroupId=world.app_sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 4444, "ToPort": 4444, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    made.append(
        {
            "kind": "sg-rule",
            "name": f"{world.app_sg} tcp/4444 from 0.0.0.0/0",
            "group": world.app_sg,
            "cidr": "0.0.0.0/0",
            "port": "4444",
        }
    )
    world.agent_iac_change(now - timedelta(minutes=120), "0.0.0.0/0", "app: allow HTTPS from anywhere (health checks)")
    made.append(
        {
            "kind": "iac-ingress",
            "name": f"{world.app_sg} tcp/{PORT} from 0.0.0.0/0 (terraform)",
            "group": world.app_sg,
            "cidr": "0.0.0.0/0",
            "port": PORT,
        }
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE_ACCOUNT}:root"},
            }
        ],
    }
    t = now - timedelta(minutes=95)
    a.call("iam", "CreateRole", when=t, RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    made.append({"kind": "role", "name": ROLE, "arn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"})
    a.call(
        "iam",
        "AttachRolePolicy",
        when=t + timedelta(seconds=41),
        RoleName=ROLE,
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    key = a.call("iam", "CreateAccessKey", when=t + timedelta(seconds=77), UserName=AGENT_USER)["AccessKey"]
    made.append({"kind": "access_key", "name": key["AccessKeyId"], "user": AGENT_USER})
    t = now - timedelta(minutes=80)
    a.call("iam", "CreateUser", when=t, UserName=USER)
    made.append({"kind": "user", "name": USER, "arn": f"arn:aws:iam::{ACCOUNT}:user/{USER}"})
    key = a.call("iam", "CreateAccessKey", when=t + timedelta(seconds=52), UserName=USER)["AccessKey"]
    made.append({"kind": "access_key", "name": key["AccessKeyId"], "user": USER})
    run = a.call(
        "ec2",
        "RunInstances",
        region=MINER_REGION,
        when=now - timedelta(minutes=70),
        ImageId="ami-12c6146b",
        MinCount=6,
        MaxCount=6,
        InstanceType="p3.2xlarge",
    )
    ids = [i["InstanceId"] for i in run.get("Instances", [])]
    made.append({"kind": "instances", "name": "p3.2xlarge", "region": MINER_REGION, "ids": ",".join(ids)})
    a.call("cloudtrail", "StopLogging", when=now - timedelta(minutes=40), Name=TRAIL)
    world.logging_stopped_at = now - timedelta(minutes=40)
    made.append({"kind": "trail", "name": f"{TRAIL} (logging stopped)", "trail": TRAIL})


SCENARIO = Scenario(
    name="full-compromise",
    summary="0.0.0.0/0:4444, an outside-trusted admin role, two new keys, six GPU instances, IaC drift, trail stopped",
    expected=(
        "iam_role_created",
        "iam_admin_policy_attached",
        "iam_access_key_created",
        "iam_user_created",
        "ec2_security_group_open_to_internet",
        "ec2_large_or_gpu_instance",
        "cloudtrail_tampering",
    ),
    attack=attack,
)
