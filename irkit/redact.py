"""Keep secrets out of every output: stdout, the journal, the report.

Three layers, none of them guessing from a string's shape (that masks S3 keys and hashes):
1. structures are walked and any value under a secret-named key (SecretAccessKey, SessionToken,
   Password, …) is masked;
2. every secret irkit handles (credentials it is given or obtains) is registered with
   :func:`register_secret` and masked wherever its exact text appears;
3. ``name=value`` / ``name: value`` / ``"name": "value"`` spellings of secret-named fields in free
   text are masked: CamelCase, snake_case, kebab-case or UPPER_CASE names, a quoted value up to its
   closing quote (spaces included), a bare value up to the next space, quote or separator.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

# Any key that names a secret, in any spelling: X-Amz-Security-Token and AWS_SECURITY_TOKEN are the
# session token's older names, KeyMaterial is what ec2:CreateKeyPair returns the private key in.
_SECRET_KEYS = re.compile(
    r"(secret|session[-_]?token|security[-_]?token|password|private[-_]?key|key[-_]?material)", re.IGNORECASE
)
# In free text the name must be followed by its separator, so it cannot be a prefix of a longer
# word ("secretsmanager:GetSecretValue" is no assignment): the secret-valued field names of the
# AWS APIs are listed whole. A quoted value ends at its closing quote (escapes skipped), a bare one
# at the first space, quote or separator; a bare word under six characters (false, null) is left.
_SECRET_ASSIGN = re.compile(
    r"""(?ix)
    (?P<name>
    (?:secret[-_]?access[-_]?key|secret[-_]?string|secret[-_]?binary|session[-_]?token|security[-_]?token
    |private[-_]?key|key[-_]?material|password[-_]?data|secret|password)
    ["']?\s*[:=]\s*)
    (?:(?P<q>["'])(?:(?!(?P=q))[^\\]|\\.)+(?P=q)|(?P<open>["']?)[^\s"',;}]{6,})
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


def _mask_value(match: re.Match[str]) -> str:
    """The name and separator as written, the value masked; a quoted value keeps its quotes."""
    if match["q"]:
        return f"{match['name']}{match['q']}{MASK}{match['q']}"
    return f"{match['name']}{match['open']}{MASK}"


def redact_text(text: str) -> str:
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:  # longest first: a secret that contains another is masked whole
        if secret in text:
            text = text.replace(secret, MASK)
    return _SECRET_ASSIGN.sub(_mask_value, text)
