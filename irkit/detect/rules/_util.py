"""Small helpers the rules share (not a rule: the leading underscore keeps it out of the registry)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.detect.event import Event


def own_account(event: Event) -> str:
    """The account the call was made in (``recipientAccountId``), else the caller's account."""
    recipient = event.raw.get("recipientAccountId")
    return str(recipient) if recipient else event.account_id


def req(event: Event, *keys: str) -> Any:
    """The first present request parameter among ``keys`` (CloudTrail casing varies by service)."""
    for key in keys:
        if key in event.request:
            return event.request[key]
    return None


def sub(value: object, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def created_key_id(event: Event) -> str:
    """The id of the access key a ``CreateAccessKey`` call created, as a finding's detail names it:
    ``(failed)`` only when the call failed; a successful call whose record lacks the id (a trimmed
    or damaged record) says so rather than claiming a failure."""
    key = sub(event.response.get("accessKey"), "accessKeyId")
    if isinstance(key, str) and key:
        return key
    return "(failed)" if event.error_code else "(its id not in the record)"


def caller_user_name(event: Event) -> str | None:
    """The IAM user name of the caller, when the caller is an IAM user."""
    if event.identity_type == "IAMUser":
        return event.principal_arn.rsplit("/", 1)[-1]
    return None


def wrapped(event: Event, *keys: str) -> Any:
    """A request parameter in either shape EC2 logs: flat (``vpcId``) or inside one ``…Request``
    wrapper with capitalised keys (``{"CreateVpcEndpointRequest": {"VpcId": …}}``, the newer APIs)."""
    value = req(event, *keys)
    if value is not None:
        return value
    for name, inner in event.request.items():
        if str(name).endswith("Request") and isinstance(inner, Mapping):
            lowered = {str(k).lower(): v for k, v in inner.items()}
            for key in keys:
                if key.lower() in lowered:
                    return lowered[key.lower()]
    return None
