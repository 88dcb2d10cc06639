"""CloudTrail trails: found from the event's region, changed in their home region."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from irkit.revert.calls import read
from irkit.revert.model import Change, PlanContext, text

NOT_FOUND = ("TrailNotFoundException", "InvalidTrailNameException")


def trail(change: Change, ctx: PlanContext) -> Mapping[str, Any] | None:
    """The trail (its ARN and home region), or None when it no longer exists."""
    name = text(change.params.get("trail"))
    got = read(
        ctx.client,
        "cloudtrail:DescribeTrails",
        change.region,
        change.resource,
        missing=NOT_FOUND,
        trailNameList=[name],
        includeShadowTrails=True,
    )
    for t in (got or {}).get("trailList") or []:
        if name in (t.get("Name"), t.get("TrailARN")):
            return dict(t)
    return None
