"""A Bedrock guardrail deleted, or updated with a filter switched off or its policies removed.

```yaml
id: bedrock_guardrail_weakened
events: [DeleteGuardrail, UpdateGuardrail]
severity: high for a deletion or a visibly weakened guardrail; medium for another update
```
"""

from __future__ import annotations

from collections.abc import Mapping

from irkit.detect.event import Event
from irkit.detect.policy import as_list
from irkit.detect.records import record
from irkit.detect.rule import Rule, Severity
from irkit.detect.rules._util import req

_POLICIES = (
    "contentPolicyConfig",
    "topicPolicyConfig",
    "wordPolicyConfig",
    "sensitiveInformationPolicyConfig",
    "contextualGroundingPolicyConfig",
)


def _weakened(event: Event) -> bool:
    """Visible in the new configuration: no policy left, or a content filter at strength NONE."""
    if event.event_name == "DeleteGuardrail":
        return True
    if not any(req(event, key) for key in _POLICIES):
        return True
    content = req(event, "contentPolicyConfig")
    filters = content.get("filtersConfig") if isinstance(content, Mapping) else None
    for entry in as_list(filters):
        if isinstance(entry, Mapping) and "NONE" in (
            str(entry.get("inputStrength", "")).upper(),
            str(entry.get("outputStrength", "")).upper(),
        ):
            return True
    return False


def _match(event: Event) -> bool:
    return event.event_source == "bedrock.amazonaws.com" and event.event_name in ("DeleteGuardrail", "UpdateGuardrail")


def _severity(event: Event) -> Severity:
    return "high" if _weakened(event) else "medium"


def _describe(event: Event) -> str:
    guardrail = req(event, "guardrailIdentifier") or "(guardrail)"
    if event.event_name == "DeleteGuardrail":
        return f"guardrail {guardrail} deleted"
    return f"guardrail {guardrail} " + ("weakened (filters off or policies removed)" if _weakened(event) else "changed")


def _update(strength: str) -> dict[str, object]:
    return {
        "guardrailIdentifier": "gr-0a1b2c3d4e5f",
        "name": "customer-chat",
        "contentPolicyConfig": {
            "filtersConfig": [
                {
                    "type": "PROMPT_ATTACK",
                    "inputStrength": strength,
                    "outputStrength": "NONE" if strength == "NONE" else strength,
                },
                {"type": "VIOLENCE", "inputStrength": "HIGH", "outputStrength": "HIGH"},
            ]
        },
        "blockedInputMessaging": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "blockedOutputsMessaging": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }


RULE = Rule(
    id="bedrock_guardrail_weakened",
    title="Bedrock guardrail deleted or weakened",
    severity="high",
    severity_of=_severity,
    mitre=("T1562.001",),
    why="Guardrails stop prompt injection, data leakage and abuse through the account's models; an agent "
    "(or whoever holds its keys) deleting or loosening one removes the control that keeps the models safe "
    "to expose. Modify events log only the new configuration: an update that leaves every filter on is "
    "reported as a change (medium), since what it replaced cannot be seen.",
    remediation="Restore the guardrail (its previous version is kept by Bedrock: GetGuardrail with the "
    "version) and check which applications called the models while it was off.",
    match=_match,
    describe=_describe,
    events=("DeleteGuardrail", "UpdateGuardrail"),
    tactic="defense-evasion",
    positive=(
        record("DeleteGuardrail", "bedrock.amazonaws.com", request={"guardrailIdentifier": "gr-0a1b2c3d4e5f"}),
        record("UpdateGuardrail", "bedrock.amazonaws.com", request=_update("NONE")),
        record(
            "UpdateGuardrail", "bedrock.amazonaws.com", request={"guardrailIdentifier": "gr-0a1b2c3d4e5f", "name": "x"}
        ),
    ),
    negative=(
        record(
            "GetGuardrail", "bedrock.amazonaws.com", request={"guardrailIdentifier": "gr-0a1b2c3d4e5f"}, read_only=True
        ),
        record("CreateGuardrail", "bedrock.amazonaws.com", request=_update("HIGH")),
    ),
)
