"""Containment: who may be touched, what their configuration was, what irkit changes and how it undoes it.

- :mod:`~irkit.contain.targets`: the principals a step may touch (inventory or credential chain)
- :mod:`~irkit.contain.snapshot`: a principal's full configuration, read before any change
- :mod:`~irkit.contain.actions`: planning, executing and verifying containment actions
- :mod:`~irkit.contain.runner`: principals snapshotted, cut and re-read in turn, keys first, side by side
- :mod:`~irkit.contain.verdict`: contained or NOT, from a re-read of IAM, never from the plan
- :mod:`~irkit.contain.calls`: IAM calls that ride out throttling, bounded in flight
- :mod:`~irkit.contain.chain`: the credential chain (what the agent's credentials created)
- :mod:`~irkit.contain.restore`: back to the snapshots
"""

from __future__ import annotations
