"""Route 53 Resolver DNS query logging deleted or detached from a VPC.

```yaml
id: route53resolver_query_logging_deleted
events: [DeleteResolverQueryLogConfig, DisassociateResolverQueryLogConfig]
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_NAMES = ("DeleteResolverQueryLogConfig", "DisassociateResolverQueryLogConfig")


def _match(event: Event) -> bool:
    return event.event_name in _NAMES


def _describe(event: Event) -> str:
    return f"{event.event_name} {req(event, 'resolverQueryLogConfigId') or ''}".strip()


RULE = Rule(
    id="route53resolver_query_logging_deleted",
    title="DNS query logging removed",
    severity="high",
    mitre=("T1562.008",),
    why="DNS query logs reveal C2 and exfiltration domains; removing them blinds that view.",
    remediation="Recreate the query log config and associate it with the VPCs again.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="defense-evasion",
    positive=(
        record(
            "DeleteResolverQueryLogConfig",
            "route53resolver.amazonaws.com",
            request={"resolverQueryLogConfigId": "rqlc-8ca61fe7c055415a"},
        ),
    ),
    negative=(
        record("ListResolverQueryLogConfigs", "route53resolver.amazonaws.com", request={}, read_only=True),
    ),
)
