"""Shared logic of the "resource shared with another account" rules."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.detect.policy import as_list, items
from irkit.detect.rules._util import own_account, req, sub


def ec2_added_principals(event: Event, attribute: str) -> list[str]:
    """Accounts (or ``all``) added to an AMI ``launchPermission`` / snapshot ``createVolumePermission``."""
    found: list[str] = []
    perm = req(event, attribute)
    for entry in items(sub(perm, "add")):
        if entry.get("group") == "all":
            found.append("all")
        user = entry.get("userId")
        if user and str(user) != own_account(event):
            found.append(str(user))
        for key in ("organizationArn", "organizationalUnitArn"):
            if entry.get(key):
                found.append(str(entry[key]))
    # the older flat form: {"attributeType": "launchPermission", "operationType": "add", "userIds": [...]}
    if str(req(event, "operationType") or "").lower() == "add":
        for user in as_list(req(event, "userIds", "userId")):
            if str(user) != own_account(event):
                found.append(str(user))
        if "all" in [str(g) for g in as_list(req(event, "groupNames", "group"))]:
            found.append("all")
    return found
