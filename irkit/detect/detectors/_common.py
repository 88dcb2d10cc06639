"""What several detectors share: the time base of their example records and record builders.

Not a detector: the leading underscore keeps it out of the registry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.detect.event import format_time
from irkit.detect.records import record

BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
"""When the detectors' positive and negative example records start."""


def at(minutes: float) -> str:
    """The CloudTrail ``eventTime`` ``minutes`` after :data:`BASE`."""
    return format_time(BASE + timedelta(minutes=minutes))


def run_instances(minutes: float, count: int, *, region: str = "us-east-1", itype: str = "c5.xlarge") -> dict[str, Any]:
    return record(
        "RunInstances",
        "ec2.amazonaws.com",
        time=at(minutes),
        region=region,
        request={
            "instancesSet": {"items": [{"imageId": "ami-0abc1234def567890", "minCount": count, "maxCount": count}]},
            "instanceType": itype,
        },
        response={
            "instancesSet": {
                "items": [
                    {
                        "instanceId": f"i-{minutes:04.0f}{n:013d}",
                        "instanceType": itype,
                        "currentInstanceCount": 1,
                    }
                    for n in range(count)
                ]
            }
        },
    )


def iam(
    name: str, minutes: float, request: dict[str, Any], response: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    return record(name, "iam.amazonaws.com", time=at(minutes), request=request, response=response, **kw)
