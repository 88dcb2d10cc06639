"""Run the planned calls, exactly as approved; read the world for planning and verifying.

Every call goes through a client made by :mod:`irkit.aws` (so the dry-run guard applies) and through
:func:`irkit.aws.session.aws_call` (so a failure names the action and resource). An error code the
call lists in ``done_if`` means the world is already as the call would leave it: done, not failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import botocore.exceptions
from botocore import xform_name

from irkit.aws.session import aws_call
from irkit.errors import AwsCallError
from irkit.revert.model import Call, Client

WAITER_CONFIG = {"Delay": 5, "MaxAttempts": 120}


def execute(client: Client, call: Call) -> str:
    """Make the call: ``done``, or ``already`` when its error code says the world is already so."""
    boto = client(call.service, call.region)
    method = getattr(boto, xform_name(call.operation))
    try:
        aws_call(call.op, call.detail or call.op, lambda: method(**dict(call.args)))
    except AwsCallError as exc:
        if exc.code in call.done_if:
            return "already"
        raise
    if call.wait:
        try:
            boto.get_waiter(call.wait).wait(**dict(call.wait_args), WaiterConfig=WAITER_CONFIG)
        except botocore.exceptions.WaiterError as exc:
            raise AwsCallError(call.op, call.detail or call.op, "WaiterError", str(exc)) from None
    return "done"


def read(
    client: Client,
    op: str,
    region: str,
    resource: str,
    *,
    missing: tuple[str, ...] = (),
    **args: Any,
) -> Mapping[str, Any] | None:
    """A read call; None when its error code is one of ``missing`` (the resource does not exist)."""
    service, operation = op.split(":", 1)
    method = getattr(client(service, region), xform_name(operation))
    try:
        result: Mapping[str, Any] = aws_call(op, resource, lambda: method(**args))
    except AwsCallError as exc:
        if exc.code in missing:
            return None
        raise
    return result


def pages(client: Client, op: str, region: str, resource: str, key: str, **args: Any) -> list[Any]:
    """Every item of a paginated IAM/EC2 listing (Marker / NextToken followed by hand)."""
    out: list[Any] = []
    token: dict[str, str] = {}
    for _ in range(1000):
        page = read(client, op, region, resource, **{**args, **token}) or {}
        out.extend(page.get(key) or [])
        if page.get("IsTruncated") and page.get("Marker"):
            token = {"Marker": str(page["Marker"])}
        elif page.get("NextToken"):
            token = {"NextToken": str(page["NextToken"])}
        else:
            break
    return out
