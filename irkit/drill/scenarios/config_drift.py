"""The seed's configuration-drift attack: small changes that open backdoors for later.

A security group opened to the internet on a port nobody uses, a database replica in a region the
agent never deploys to, and a new storage bucket made public.
"""

from __future__ import annotations

import json
from datetime import timedelta

from irkit.drill.scenarios import Scenario
from irkit.drill.world import ACCOUNT, World

BUCKET = "tmp-export-7f3a91"


def attack(world: World) -> None:
    assert world.attacker is not None
    a = world.attacker
    t = world.now - timedelta(minutes=130)
    a.call(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        when=t,
        GroupId=world.app_sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 4444, "ToPort": 4444, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    world.created_by_attacker.append(
        {
            "kind": "sg-rule",
            "name": f"{world.app_sg} tcp/4444 from 0.0.0.0/0",
            "group": world.app_sg,
            "cidr": "0.0.0.0/0",
            "port": "4444",
        }
    )
    a.call(
        "rds",
        "CreateDBInstanceReadReplica",
        region="eu-west-1",
        when=t + timedelta(minutes=9),
        DBInstanceIdentifier="orders-db-replica",
        SourceDBInstanceIdentifier=f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db",
        SourceRegion="us-east-1",
        PubliclyAccessible=True,
    )
    world.created_by_attacker.append(
        {
            "kind": "db-replica",
            "name": "orders-db-replica (eu-west-1)",
            "id": "orders-db-replica",
            "region": "eu-west-1",
        }
    )
    a.call("s3", "CreateBucket", when=t + timedelta(minutes=21), Bucket=BUCKET)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
        ],
    }
    a.call("s3", "PutBucketPolicy", when=t + timedelta(minutes=22), Bucket=BUCKET, Policy=json.dumps(policy))
    world.created_by_attacker.append({"kind": "bucket", "name": f"{BUCKET} (public read)", "bucket": BUCKET})


SCENARIO = Scenario(
    name="config-drift",
    summary="a security group opened to the internet, a DB replica in a new region, a public bucket",
    expected=("ec2_security_group_open_to_internet", "rds_cross_region_replica", "s3_bucket_public"),
    attack=attack,
)
