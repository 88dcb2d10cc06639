"""irkit: incident response for AI agents that hold AWS credentials."""

from __future__ import annotations

__version__ = "0.1.0"
