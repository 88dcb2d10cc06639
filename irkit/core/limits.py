"""Limits said once, in a module that imports nothing: the command line reads them before any
AWS library is loaded (``irkit analyze`` must start without boto3)."""

from __future__ import annotations

# Ten years: beyond any CloudTrail archive worth reading, and inside what datetime can subtract.
MAX_HOURS = 24 * 366 * 10
