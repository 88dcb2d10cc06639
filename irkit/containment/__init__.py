"""Containment: who may be touched, what their configuration was, what irkit changes and how it undoes it.

- :mod:`~irkit.containment.targets`: the principals a step may touch (inventory or credential chain)
- :mod:`~irkit.containment.snapshot`: a principal's full configuration, read before any change
- :mod:`~irkit.containment.actions`: planning, executing and verifying containment actions
- :mod:`~irkit.containment.runner`: principals snapshotted, cut and re-read in turn, keys first, side by side
- :mod:`~irkit.containment.verdict`: contained or NOT, from a re-read of IAM, never from the plan
- :mod:`~irkit.containment.calls`: IAM calls that ride out throttling, bounded in flight
- :mod:`~irkit.containment.chain`: the credential chain (what the agent's credentials created)
- :mod:`~irkit.containment.restore`: back to the snapshots
"""

from __future__ import annotations
