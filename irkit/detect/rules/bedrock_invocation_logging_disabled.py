"""Bedrock model-invocation logging deleted or switched off: the prompts stop being recorded.

```yaml
id: bedrock_invocation_logging_disabled
events: [DeleteModelInvocationLoggingConfiguration, PutModelInvocationLoggingConfiguration]
```
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.detect.event import Event
from irkit.detect.policy import truthy
from irkit.detect.records import record
from irkit.detect.rule import Rule
from irkit.detect.rules._util import req

_DELIVERY = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
)


def _weakened(config: object) -> bool:
    """A logging configuration that records nothing: no destination, or every data kind off."""
    if not isinstance(config, Mapping):
        return True
    if not config.get("s3Config") and not config.get("cloudWatchConfig"):
        return True
    return not any(truthy(config.get(key)) for key in _DELIVERY)


def _match(event: Event) -> bool:
    if event.event_source != "bedrock.amazonaws.com":
        return False
    if event.event_name == "DeleteModelInvocationLoggingConfiguration":
        return True
    return event.event_name == "PutModelInvocationLoggingConfiguration" and _weakened(req(event, "loggingConfig"))


def _describe(event: Event) -> str:
    if event.event_name.startswith("Delete"):
        return f"model-invocation logging deleted in {event.region}"
    return f"model-invocation logging set to record nothing in {event.region}"


_ON = {
    "cloudWatchConfig": {
        "logGroupName": "/bedrock/invocations",
        "roleArn": "arn:aws:iam::111111111111:role/bedrock-logs",
    },
    "textDataDeliveryEnabled": True,
    "imageDataDeliveryEnabled": True,
    "embeddingDataDeliveryEnabled": True,
}

RULE = Rule(
    id="bedrock_invocation_logging_disabled",
    title="Bedrock model-invocation logging disabled",
    severity="high",
    mitre=("T1562.008",),
    why="Invocation logs are the only record of what was asked of the models and what they answered; "
    "LLM-jacking with stolen keys turns them off first so the prompts (and the abuse) leave no trace.",
    remediation="Restore the logging configuration (PutModelInvocationLoggingConfiguration) and treat the "
    "interval without it as missing evidence; review the principal's model invocations in CloudTrail.",
    match=_match,
    describe=_describe,
    events=("DeleteModelInvocationLoggingConfiguration", "PutModelInvocationLoggingConfiguration"),
    tactic="defense-evasion",
    positive=(
        record("DeleteModelInvocationLoggingConfiguration", "bedrock.amazonaws.com", request={}),
        record(
            "PutModelInvocationLoggingConfiguration",
            "bedrock.amazonaws.com",
            request={
                "loggingConfig": {
                    **_ON,
                    "textDataDeliveryEnabled": False,
                    "imageDataDeliveryEnabled": False,
                    "embeddingDataDeliveryEnabled": False,
                }
            },
        ),
    ),
    negative=(
        record("PutModelInvocationLoggingConfiguration", "bedrock.amazonaws.com", request={"loggingConfig": _ON}),
        record("GetModelInvocationLoggingConfiguration", "bedrock.amazonaws.com", request={}, read_only=True),
    ),
)
