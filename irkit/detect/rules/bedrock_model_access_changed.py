"""Bedrock model access requested or granted, or provisioned throughput bought or changed.

```yaml
id: bedrock_model_access_changed
events: [PutUseCaseForModelAccess, CreateFoundationModelAgreement, PutFoundationModelEntitlement,
         CreateProvisionedModelThroughput, UpdateProvisionedModelThroughput]
severity: high; critical for provisioned throughput bought with a commitment term
```
"""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.records import record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._util import req

_ACCESS = ("PutUseCaseForModelAccess", "CreateFoundationModelAgreement", "PutFoundationModelEntitlement")
_THROUGHPUT = ("CreateProvisionedModelThroughput", "UpdateProvisionedModelThroughput")


def _match(event: Event) -> bool:
    return event.event_source == "bedrock.amazonaws.com" and event.event_name in (*_ACCESS, *_THROUGHPUT)


def _severity(event: Event) -> Severity:
    if event.event_name == "CreateProvisionedModelThroughput" and req(event, "commitmentDuration"):
        return "critical"
    return "high"


def _describe(event: Event) -> str:
    model = req(event, "modelId", "desiredModelId", "modelIdentifier") or ""
    if event.event_name in _THROUGHPUT:
        units = req(event, "modelUnits", "desiredModelUnits")
        term = req(event, "commitmentDuration") or "no commitment"
        return f"{event.event_name} {model} {units} model unit(s), {term}"
    return f"{event.event_name} {model}".strip()


RULE = Rule(
    id="bedrock_model_access_changed",
    title="Bedrock model access or provisioned throughput changed",
    severity="high",
    severity_of=_severity,
    mitre=("T1496.004", "T1098"),
    why="Stolen keys are used to enable models the account never used (the use-case form, the model "
    "agreement, the entitlement) and to buy provisioned throughput, which bills by the hour — a commitment "
    "term for months. An infrastructure agent has no reason to do either.",
    remediation="Delete the provisioned throughput (DeleteProvisionedModelThroughput; a commitment cannot be "
    "cancelled: contact AWS support at once) and review who else invoked the newly enabled models.",
    match=_match,
    describe=_describe,
    events=(*_ACCESS, *_THROUGHPUT),
    tactic="impact",
    positive=(
        record(
            "PutUseCaseForModelAccess", "bedrock.amazonaws.com", request={"formData": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        ),
        record(
            "CreateFoundationModelAgreement",
            "bedrock.amazonaws.com",
            request={
                "modelId": "anthropic.claude-3-opus-20240229-v1:0",
                "offerToken": "HIDDEN_DUE_TO_SECURITY_REASONS",
            },
        ),
        record(
            "CreateProvisionedModelThroughput",
            "bedrock.amazonaws.com",
            request={
                "modelUnits": 4,
                "provisionedModelName": "batch",
                "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "commitmentDuration": "SixMonths",
            },
        ),
    ),
    negative=(
        record("ListFoundationModels", "bedrock.amazonaws.com", request={}, read_only=True),
        record("GetFoundationModelAvailability", "bedrock.amazonaws.com", request={"modelId": "x"}, read_only=True),
    ),
)
