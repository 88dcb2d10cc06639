"""VPC traffic mirroring set up: a copy of an interface's packets sent to another target.

```yaml
id: ec2_traffic_mirroring_created
events: [CreateTrafficMirrorSession, ModifyTrafficMirrorSession, CreateTrafficMirrorTarget,
         CreateTrafficMirrorFilter, CreateTrafficMirrorFilterRule]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import wrapped

_NAMES = (
    "CreateTrafficMirrorSession",
    "ModifyTrafficMirrorSession",
    "CreateTrafficMirrorTarget",
    "CreateTrafficMirrorFilter",
    "CreateTrafficMirrorFilterRule",
)


def _match(event: Event) -> bool:
    return event.event_source == "ec2.amazonaws.com" and event.event_name in _NAMES


def _describe(event: Event) -> str:
    source = wrapped(event, "NetworkInterfaceId") or ""
    target = wrapped(event, "TrafficMirrorTargetId", "NetworkLoadBalancerArn", "GatewayLoadBalancerEndpointId") or ""
    return f"{event.event_name} {source} → {target}".strip(" →")


RULE = Rule(
    id="ec2_traffic_mirroring_created",
    title="VPC traffic mirroring configured",
    severity="high",
    mitre=("T1040",),
    why="A mirror session copies every packet of an interface — credentials in clear-text protocols, "
    "database traffic — to a target the caller chooses: network sniffing with an API call.",
    remediation="Delete the session, target and filter (DeleteTrafficMirrorSession, …Target, …Filter) and "
    "treat the mirrored interfaces' unencrypted traffic as exposed.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="credential-access",
    positive=(
        record(
            "CreateTrafficMirrorSession",
            "ec2.amazonaws.com",
            request={
                "CreateTrafficMirrorSessionRequest": {
                    "NetworkInterfaceId": "eni-0db0a1b2",
                    "TrafficMirrorTargetId": "tmt-0a1b2c3d",
                    "TrafficMirrorFilterId": "tmf-0a1b2c3d",
                    "SessionNumber": 1,
                }
            },
        ),
        record(
            "CreateTrafficMirrorTarget",
            "ec2.amazonaws.com",
            request={"CreateTrafficMirrorTargetRequest": {"NetworkInterfaceId": "eni-0attacker"}},
        ),
    ),
    negative=(record("DescribeTrafficMirrorSessions", "ec2.amazonaws.com", request={}, read_only=True),),
)
