"""What a call read that a responder must rotate or account for: secret values, decrypted parameters,
model invocations.

Shared by the secret-read rules, the access detectors (:mod:`irkit.detect.detectors`), the baseline (which
secrets an agent reads routinely) and the inventory (every secret read, so each can be rotated).

```python
secret_read(event)   # SecretRead(service="secretsmanager", names=("prod/orders/db",), bulk=False)
model_invoked(event) # "anthropic.claude-3-5-sonnet-20240620-v1:0" for a Bedrock InvokeModel
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.policy import as_list, truthy

MAX_NAME = 512
"""Secret and model names are attacker-writable request fields: kept to this many characters."""

SECRET_EVENTS = frozenset({"GetSecretValue", "BatchGetSecretValue"})
PARAMETER_EVENTS = frozenset({"GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"})
MODEL_EVENTS = frozenset(
    {
        "InvokeModel",
        "InvokeModelWithResponseStream",
        "InvokeModelWithBidirectionalStream",
        "Converse",
        "ConverseStream",
    }
)
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[^:]*:\d{12}:secret:(.+?)(?:-[A-Za-z0-9]{6})?$")
_PARAMETER_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[^:]*:\d{12}:parameter(/.*)$")


@dataclass(frozen=True, slots=True)
class SecretRead:
    service: str
    """``secretsmanager`` or ``ssm``."""
    names: tuple[str, ...]
    """Secret names (ARNs reduced to the name) or parameter names; a path read ends with ``/*``."""
    bulk: bool
    """A read whose set of secrets the request does not name (a filtered batch, a path)."""

    def qualified(self) -> tuple[str, ...]:
        """``secretsmanager:prod/orders/db``: one key per secret, as baselines and inventories store them."""
        return tuple(f"{self.service}:{name}" for name in self.names)


def _clip(value: object) -> str:
    return str(value)[:MAX_NAME]


def secret_name(value: object) -> str:
    """``prod/orders/db`` for the name or the full ARN (with its random 6-character suffix)."""
    text = _clip(value)
    m = _SECRET_ARN.match(text)
    return m.group(1) if m else text


def parameter_name(value: object) -> str:
    text = _clip(value)
    m = _PARAMETER_ARN.match(text)
    return m.group(1) if m else text


def secret_read(event: Event) -> SecretRead | None:
    """The secrets a successful or attempted call read the value of; None when it read none."""
    name = base_name(event.event_name)
    request = event.request
    if event.event_source == "secretsmanager.amazonaws.com" and name in SECRET_EVENTS:
        if name == "GetSecretValue":
            secret = request.get("secretId")
            return SecretRead("secretsmanager", (secret_name(secret),) if secret else ("(unnamed)",), False)
        listed = tuple(secret_name(s) for s in as_list(request.get("secretIdList")) if s)
        if listed:
            return SecretRead("secretsmanager", listed[:100], False)
        return SecretRead("secretsmanager", ("(filtered batch)",), True)
    if event.event_source == "ssm.amazonaws.com" and name in PARAMETER_EVENTS:
        if not truthy(request.get("withDecryption")):
            return None
        if name == "GetParametersByPath":
            path = _clip(request.get("path") or "/").rstrip("/")
            return SecretRead("ssm", (f"{path}/*",), True)
        names = tuple(parameter_name(n) for n in as_list(request.get("names") or request.get("name")) if n)
        return SecretRead("ssm", names[:100] or ("(unnamed)",), False)
    return None


def model_invoked(event: Event) -> str | None:
    """The model id of a Bedrock runtime invocation (InvokeModel, Converse and their streaming forms)."""
    if event.event_source != "bedrock.amazonaws.com" or base_name(event.event_name) not in MODEL_EVENTS:
        return None
    model = event.request.get("modelId")
    return _clip(model) if model else "(unknown model)"
