"""Event-name normalisation shared by the rule index and the rules.

Lambda logs versioned operation names (``AddPermission20150331v2``, ``UpdateFunctionCode20150331v2``,
``CreateFunctionUrlConfig20211031``); rules and the index speak the plain name.
"""

from __future__ import annotations

import re

_VERSION_SUFFIX = re.compile(r"(?<=[A-Za-z])\d{8}(?:v\d+)?$")
_cache: dict[str, str] = {}


def base_name(event_name: str) -> str:
    """``AddPermission20150331v2`` → ``AddPermission``; other names unchanged (cached)."""
    name = _cache.get(event_name)
    if name is None:
        name = _VERSION_SUFFIX.sub("", event_name)
        if len(_cache) < 10_000:
            _cache[event_name] = name
    return name
