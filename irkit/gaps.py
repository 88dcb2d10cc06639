"""Coverage gaps: what irkit could not see or do, reported instead of raised.

A malformed log file, a missing permission or a throttled API becomes a :class:`Gap`; the run goes
on, the report names every gap, and the command exits 3 instead of 0.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Gap:
    path: str
    """What was not covered: a file, an ``s3://`` key, an ``iam:Action on arn``, a step id."""
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}
