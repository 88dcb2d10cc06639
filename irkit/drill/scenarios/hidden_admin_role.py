"""The seed article's incident: stolen agent credentials create a hidden administrative role.

CreateRole (trusting an outside account) → AttachRolePolicy AdministratorAccess → CreateAccessKey
(a second key on the agent's own user, for persistence), from the attacker's network, blended
into the agent's normal traffic.
"""

from __future__ import annotations

import json
from datetime import timedelta

from irkit.drill.scenarios import Scenario
from irkit.drill.world import ACCOUNT, AGENT_USER, OUTSIDE_ACCOUNT, World

ROLE = "ops-maintenance-automation"


def attack(world: World) -> None:
    assert world.attacker is not None
    a = world.attacker
    t = world.now - timedelta(minutes=95)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    a.call(
        "iam",
        "CreateRole",
        when=t,
        RoleName=ROLE,
        Path="/",
        Description="Maintenance automation",
        AssumeRolePolicyDocument=json.dumps(trust),
    )
    world.created_by_attacker.append({"kind": "role", "name": ROLE, "arn": f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"})
    a.call(
        "iam",
        "AttachRolePolicy",
        when=t + timedelta(seconds=41),
        RoleName=ROLE,
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    key = a.call("iam", "CreateAccessKey", when=t + timedelta(seconds=77), UserName=AGENT_USER)["AccessKey"]
    world.created_by_attacker.append(
        {
            "kind": "access_key",
            "name": key["AccessKeyId"],
            "user": AGENT_USER,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{AGENT_USER}",
        }
    )


SCENARIO = Scenario(
    name="hidden-admin-role",
    summary="CreateRole trusting an outside account → AdministratorAccess → a new access key",
    expected=(
        "iam_role_created",
        "iam_admin_policy_attached",
        "iam_access_key_created",
        "iam_role_backdoor_sequence",
        "baseline_new_api",
        "baseline_new_network",
    ),
    attack=attack,
    default=True,
)
