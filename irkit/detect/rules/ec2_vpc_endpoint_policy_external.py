"""A VPC endpoint policy that admits principals outside the account (or anyone).

```yaml
id: ec2_vpc_endpoint_policy_external
events: [CreateVpcEndpoint, ModifyVpcEndpoint]
severity: high for named outside accounts; medium for an unconditioned "*"
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import external_principals, load_document
from irkit.detect.records import OUTSIDE_ACCOUNT, record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._util import own_account, wrapped

_NAMES = ("CreateVpcEndpoint", "ModifyVpcEndpoint")


def outsiders(event: Event) -> tuple[str, ...]:
    doc = load_document(wrapped(event, "policyDocument"))
    return external_principals(doc, own_account(event)) if doc else ()


def _match(event: Event) -> bool:
    return event.event_source == "ec2.amazonaws.com" and event.event_name in _NAMES and bool(outsiders(event))


def _severity(event: Event) -> Severity:
    return "high" if any(p != "*" for p in outsiders(event)) else "medium"


def _describe(event: Event) -> str:
    endpoint = wrapped(event, "vpcEndpointId", "serviceName") or "endpoint"
    return f"{endpoint} policy admits {', '.join(outsiders(event))}"


def _policy(principal: object) -> str:
    import orjson

    return orjson.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "s3:*", "Resource": "*"}]}
    ).decode()


RULE = Rule(
    id="ec2_vpc_endpoint_policy_external",
    title="VPC endpoint policy admits outside principals",
    severity="high",
    severity_of=_severity,
    mitre=("T1537", "T1599"),
    why="The endpoint policy is the data perimeter of a private network: admitting another account's "
    "principals lets credentials from outside use the VPC's private path to the service (and copy data to "
    "their own buckets) without crossing the internet-facing controls.",
    remediation="Reset the endpoint policy (ModifyVpcEndpoint --reset-policy, or the previous document) to "
    "the account's own principals, ideally with aws:PrincipalOrgID.",
    match=_match,
    describe=_describe,
    events=_NAMES,
    tactic="exfiltration",
    positive=(
        record(
            "ModifyVpcEndpoint",
            "ec2.amazonaws.com",
            request={
                "ModifyVpcEndpointRequest": {
                    "VpcEndpointId": "vpce-0a1b2c3d4e5f60718",
                    "PolicyDocument": _policy({"AWS": f"arn:aws:iam::{OUTSIDE_ACCOUNT}:root"}),
                }
            },
        ),
        record(
            "CreateVpcEndpoint",
            "ec2.amazonaws.com",
            request={
                "CreateVpcEndpointRequest": {
                    "VpcId": "vpc-0a1b2c3d",
                    "ServiceName": "com.amazonaws.us-east-1.s3",
                    "PolicyDocument": _policy("*"),
                }
            },
        ),
    ),
    negative=(
        record(
            "ModifyVpcEndpoint",
            "ec2.amazonaws.com",
            request={
                "ModifyVpcEndpointRequest": {
                    "VpcEndpointId": "vpce-0a1b2c3d4e5f60718",
                    "PolicyDocument": _policy({"AWS": "arn:aws:iam::111111111111:role/app"}),
                }
            },
        ),
        record(
            "CreateVpcEndpoint",
            "ec2.amazonaws.com",
            request={
                "CreateVpcEndpointRequest": {"VpcId": "vpc-0a1b2c3d", "ServiceName": "com.amazonaws.us-east-1.s3"}
            },
        ),
    ),
)
