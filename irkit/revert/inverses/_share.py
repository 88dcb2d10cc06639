"""Snapshot and AMI sharing: the accounts (or "all") an attribute change added, outside the account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.revert.model import get, items


def added(request: Mapping[str, Any], attribute: str, account: str) -> tuple[list[str], bool]:
    """(outside accounts added, whether ``all`` (public) was added)."""
    users: list[str] = []
    public = False
    for entry in items(get(request, attribute, "add")):
        if not isinstance(entry, Mapping):
            continue
        if entry.get("group") == "all":
            public = True
        user = entry.get("userId")
        if isinstance(user, str) and user and user != account:
            users.append(user)
    return users, public
