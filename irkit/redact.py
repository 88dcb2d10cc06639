"""Keep secrets out of every output: stdout, the journal, the report.

Secret access keys and session tokens are dropped by key name wherever they appear in a structure;
strings shaped like a secret key or a session token are masked as a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SECRET_KEYS = re.compile(r"(secret|sessiontoken|session_token|password|privatekey|private_key)", re.IGNORECASE)
# 40-char base64-ish secret keys and long STS session tokens.
_SECRET_VALUE = re.compile(r"(?<![A-Za-z0-9/+=])([A-Za-z0-9/+=]{40}|[A-Za-z0-9/+=]{100,})(?![A-Za-z0-9/+=])")
MASK = "***redacted***"


def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets masked; mappings, lists and strings are walked."""
    if isinstance(value, Mapping):
        return {k: (MASK if isinstance(k, str) and _SECRET_KEYS.search(k) and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _mask(match: re.Match[str]) -> str:
    token = match.group(1)
    # A git commit id or a SHA-1 is 40 lowercase hex characters: not a secret. Secrets mix cases.
    if token.lower() == token or token.upper() == token:
        return token
    return MASK


def redact_text(text: str) -> str:
    return _SECRET_VALUE.sub(_mask, text)
