"""The seed's configuration drift through the pipeline: the agent commits a wider ingress and applies it.

The change hides in the infrastructure-as-code history as a commit by the authorised agent
(``app: allow HTTPS from anywhere``), applied with the agent's own role: terraform itself opens the
app's security group to the internet. irkit must revert the commit on ``irkit/revert-<case>``, apply
the approved terraform plan, and leave the state as it was before.
"""

from __future__ import annotations

from datetime import timedelta

from irkit.drill.iac import PORT
from irkit.drill.scenarios import Scenario
from irkit.drill.world import World

WIDE = "0.0.0.0/0"


def attack(world: World) -> None:
    world.agent_iac_change(world.now - timedelta(minutes=110), WIDE, "app: allow HTTPS from anywhere (health checks)")
    world.created_by_attacker.append(
        {
            "kind": "iac-ingress",
            "name": f"{world.app_sg} tcp/{PORT} from {WIDE} (terraform)",
            "group": world.app_sg,
            "cidr": WIDE,
            "port": PORT,
        }
    )


SCENARIO = Scenario(
    name="iac-drift",
    summary="the agent commits a wider ingress to the IaC repository and applies it with terraform",
    expected=("ec2_security_group_open_to_internet",),
    attack=attack,
)
