"""Archive keys are data, never paths: the one place a key becomes a file in the evidence folder.

Whoever can write to the archive bucket chooses its keys. A key such as
``…/us-west-2/2026/11/25/../../../../us-east-1/2026/11/25/<name of a verified log>`` is, for S3, just
a string; joined to a folder it names the authentic log's file (and overwrites it), and with enough
``..`` it names a file anywhere the responder can write. So a key is accepted only when each of its
``/``-separated segments is a plain file name (:func:`refusal`), the path it maps to is resolved and
must lie inside the folder (:func:`evidence_path`, which also stops a symlink already in the folder),
and, on a filesystem that folds case or Unicode forms, no two keys of one collection share a file
(:class:`PathAssigner`). A refused key is never fetched nor read; callers name it as a gap whose
reason starts with :data:`REFUSED` and as an integrity problem: someone put it there.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

REFUSED = "key-refused"
"""How every refusal reason starts (a gap's reason, an integrity problem's kind)."""
MAX_SEGMENT_BYTES = 255
"""NAME_MAX of the usual filesystems: a longer segment cannot be a file name."""
MAX_KEY_BYTES = 1024
"""S3's own limit for a key."""


class KeyRefused(ValueError):
    """A key that irkit will not turn into a path; ``reason`` says why (without the key)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{REFUSED}: {display(key)}: {reason}")
        self.key = key
        self.reason = reason


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0 or unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"}


def refusal(key: str) -> str | None:
    """Why ``key`` cannot name a file in the evidence folder, or None when it can."""
    if not key:
        return "empty key"
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if "\x00" in key:
        return "contains a NUL byte"
    if "\\" in key:
        return "contains a backslash"
    if any(_is_control(ch) for ch in key):
        return "contains a control character"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in key):
        return "is not valid UTF-8"
    if key.startswith("/"):
        return "starts with /"
    for segment in key.split("/"):
        if segment == "":
            return "has an empty segment (//, or a trailing /)"
        if segment in {".", ".."}:
            return f"has a {segment!r} segment"
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return f"has a segment longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def check(key: str) -> str:
    """``key`` itself when it is acceptable; :class:`KeyRefused` otherwise."""
    reason = refusal(key)
    if reason is not None:
        raise KeyRefused(key, reason)
    return key


def display(key: str, limit: int = 300) -> str:
    """The key as it may be shown (terminal, journal, report): control characters, backslashes and
    surrogates escaped, and at most ``limit`` characters."""
    out = []
    for ch in key:
        if ch == "\\":
            out.append("\\\\")
        elif _is_control(ch) or 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inside(root: Path, path: Path) -> bool:
    """Does ``path``, every symlink resolved, lie in ``root`` (resolved too)?"""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop, an unreadable component
        return False


def evidence_path(root: Path, key: str) -> Path:
    """The file ``key`` is kept at under ``root``; :class:`KeyRefused` when the key is not a plain
    relative name or the path, symlinks resolved, would leave ``root``."""
    check(key)
    path = root.joinpath(*key.split("/"))
    if not inside(root, path):
        raise KeyRefused(key, f"resolves outside {root} (a symlink in the folder)")
    return path


# -- two keys, one file ----------------------------------------------------------------------------


def _probe(root: Path, name: str, variant: str) -> bool:
    """Does the filesystem under ``root`` find ``name`` when asked for ``variant``?"""
    import secrets  # (random, hashlib, hmac, base64): only a folder's first probe needs a token

    token = secrets.token_hex(6)
    path = root / f".irkit-probe-{token}-{name}"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return False
    os.close(fd)
    try:
        return (root / f".irkit-probe-{token}-{variant}").exists()
    finally:
        path.unlink(missing_ok=True)


def folding(root: Path) -> Callable[[str], str]:
    """How the filesystem under ``root`` compares names: the identity on Linux's usual filesystems;
    case folding and/or Unicode normalisation where two different keys would name one file (macOS,
    Windows shares)."""
    root.mkdir(parents=True, exist_ok=True)
    fold_case = _probe(root, "a", "A")
    fold_form = _probe(root, "\u00e9", "e\u0301")
    if fold_case and fold_form:
        return lambda key: unicodedata.normalize("NFC", key).casefold()
    if fold_case:
        return str.casefold
    if fold_form:
        return lambda key: unicodedata.normalize("NFC", key)
    return lambda key: key


class PathAssigner:
    """Paths for the keys of one collection, none shared: where the filesystem would make two keys
    one file, every key of that group is refused (which of them is authentic only the digest can
    say, and the verify step checks the bucket itself)."""

    def __init__(self, root: Path, fold: Callable[[str], str] | None = None) -> None:
        self.root = root
        self.fold = fold or folding(root)

    def assign(self, keys: Iterable[str]) -> tuple[dict[str, Path], dict[str, str]]:
        """(key → path for every accepted key, key → refusal reason for every other)."""
        refused: dict[str, str] = {}
        groups: dict[str, list[str]] = {}
        paths: dict[str, Path] = {}
        for key in dict.fromkeys(keys):  # a key listed twice is one key
            try:
                paths[key] = evidence_path(self.root, key)
            except KeyRefused as exc:
                refused[key] = exc.reason
                continue
            groups.setdefault(self.fold(key), []).append(key)
        for same in groups.values():
            if len(same) > 1:
                for key in same:
                    other = next(k for k in same if k != key)
                    refused[key] = f"names the same file as {display(other)} on this filesystem"
                    paths.pop(key)
        return paths, refused
