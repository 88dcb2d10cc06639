"""Keep secrets out of every output: stdout, the journal, the report.

Three layers, none of them guessing from a string's shape (that masks S3 keys and hashes):
1. structures are walked and any value under a secret-named key (SecretAccessKey, SessionToken,
   Password, …) is masked;
2. every secret irkit handles (credentials it is given or obtains) is registered with
   :func:`register_secret` and masked wherever its exact text appears;
3. ``name=value`` / ``"name": "value"`` spellings of secret-named fields in free text are masked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

_SECRET_KEYS = re.compile(r"(secret|sessiontoken|session_token|password|privatekey|private_key)", re.IGNORECASE)
_SECRET_ASSIGN = re.compile(
    r"""(?ix)
    (["']?(?:aws_)?(?:secret_?access_?key|session_?token|secret|password)["']?\s*[:=]\s*["']?)
    ([^\s"',;}]{6,})
    """
)
MASK = "***redacted***"

_known: set[str] = set()
_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Remember a secret so that its exact text is masked in every later output."""
    with _lock:
        for value in values:
            if value and len(value) >= 8:
                _known.add(value)


def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets masked; mappings, lists and strings are walked."""
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and _SECRET_KEYS.search(k) and v else redact(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return _SECRET_ASSIGN.sub(lambda m: m.group(1) + MASK, text)
