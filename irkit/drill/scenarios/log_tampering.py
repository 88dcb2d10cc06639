"""The seed's cover-your-tracks move: the attacker blinds the audit trail and the flow logs."""

from __future__ import annotations

from datetime import timedelta

from irkit.drill.scenarios import Scenario
from irkit.drill.world import TRAIL, World


def attack(world: World) -> None:
    assert world.attacker is not None
    a = world.attacker
    t = world.now - timedelta(minutes=150)
    a.call(
        "cloudtrail",
        "PutEventSelectors",
        when=t,
        TrailName=TRAIL,
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False}],
    )
    a.call("ec2", "DeleteFlowLogs", when=t + timedelta(minutes=1), FlowLogIds=[world.flow_log_id])
    a.call("cloudtrail", "StopLogging", when=t + timedelta(minutes=2), Name=TRAIL)
    # From here on CloudTrail delivers nothing: the digest chain stops early too.
    world.logging_stopped_at = t + timedelta(minutes=2)
    world.created_by_attacker.append({"kind": "trail", "name": f"{TRAIL} (logging stopped)", "trail": TRAIL})
    world.created_by_attacker.append(
        {"kind": "event-selectors", "name": f"{TRAIL} event selectors narrowed", "trail": TRAIL}
    )
    world.created_by_attacker.append({"kind": "flow-log", "name": f"{world.flow_log_id} (deleted)", "loss": "yes"})


SCENARIO = Scenario(
    name="log-tampering",
    summary="CloudTrail event selectors narrowed, VPC flow logs deleted, then logging stopped",
    expected=("cloudtrail_tampering", "vpc_flow_logs_deleted"),
    attack=attack,
    integrity=("digests-stopped",),
)
