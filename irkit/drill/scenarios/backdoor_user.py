"""A backdoor user: the stolen credentials create a user, give it admin and a key, then use it.

This is the credential chain irkit must follow: the new user and its key are contained too.
"""

from __future__ import annotations

from datetime import timedelta

from irkit.drill.recorder import Actor
from irkit.drill.scenarios import Scenario
from irkit.drill.world import ACCOUNT, World

USER = "svc-backup-sync"
SECOND_IP = "192.0.2.77"


def attack(world: World) -> None:
    assert world.attacker is not None
    a = world.attacker
    t = world.now - timedelta(minutes=80)
    a.call("iam", "CreateUser", when=t, UserName=USER)
    world.created_by_attacker.append({"kind": "user", "name": USER, "arn": f"arn:aws:iam::{ACCOUNT}:user/{USER}"})
    a.call(
        "iam",
        "AttachUserPolicy",
        when=t + timedelta(seconds=30),
        UserName=USER,
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    key = a.call("iam", "CreateAccessKey", when=t + timedelta(seconds=52), UserName=USER)["AccessKey"]
    world.created_by_attacker.append({"kind": "access_key", "name": key["AccessKeyId"], "user": USER})
    backdoor = Actor(
        world.endpoint,
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:user/{USER}",
        key["AccessKeyId"],
        key["SecretAccessKey"],
        SECOND_IP,
        "aws-cli/2.13.1 md/Botocore#2.4.5 ua/2.0 os/windows#10",
    )
    backdoor.call("s3", "ListBuckets", when=t + timedelta(minutes=6))
    backdoor.call("iam", "ListUsers", when=t + timedelta(minutes=7))
    world.extra_records.extend(backdoor.records)


SCENARIO = Scenario(
    name="backdoor-user",
    summary="CreateUser → AdministratorAccess → CreateAccessKey, then the new key used from elsewhere",
    expected=(
        "iam_user_created",
        "iam_access_key_for_other_user",
        "iam_admin_policy_attached",
        "iam_user_backdoor_sequence",
    ),
    attack=attack,
)
