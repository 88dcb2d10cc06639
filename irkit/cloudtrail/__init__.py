"""CloudTrail archives: key layout, listing, the streaming reader and the digest-chain validator."""

from __future__ import annotations
