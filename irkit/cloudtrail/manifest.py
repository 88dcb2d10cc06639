"""The evidence folder's record: ``manifest.json`` (its name and format, read and written here only) and
how every evidence file is written — read-only (0400) for its owner, atomically (``.part``, then rename).

``manifest.json`` lists every object collected (key, version id, size, SHA-256 of the stored and of the
decompressed bytes, fetched-at), the window, the gaps and, after a rewritten log was recovered
(:mod:`irkit.cloudtrail.recover`), the ``recoveries``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import IO, Any

import orjson

MANIFEST_FORMAT = "irkit-manifest/1"
MANIFEST_NAME = "manifest.json"
READ_ONLY = 0o400
"""Every evidence file: read-only, and for its owner only (CloudTrail holds secrets' context, ARNs,
IPs); set with chmod after writing, so the umask cannot widen it."""
PRIVATE_DIR = 0o700
"""Every folder irkit makes in the evidence folder (and the evidence folder itself, when it makes it)."""
CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_private(path: Path) -> IO[bytes]:
    """A new file at ``path`` that only its owner can open (0600 from the start, never wider, whatever
    the umask); a leftover of an interrupted run is replaced. Made with O_EXCL: never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:  # a leftover (or a link someone put there): removed, never followed
        path.unlink(missing_ok=True)
        fd = os.open(path, flags, 0o600)
    return os.fdopen(fd, "wb")


def make_private_dirs(root: Path, folder: Path) -> None:
    """``folder`` (inside ``root``) and every missing folder between them, each made 0700 (the umask can
    only narrow it); folders that exist are left as they are."""
    missing: list[Path] = []
    at = folder
    while at != root and not at.is_dir():
        missing.append(at)
        at = at.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not path.is_dir():
                raise


def write_read_only(path: Path, data: bytes) -> None:
    """``data`` at ``path``, read-only, replaced atomically."""
    tmp = path.with_name(path.name + ".part")
    with open_private(tmp) as out:
        out.write(data)
    tmp.chmod(READ_ONLY)
    tmp.replace(path)


def copy_read_only(src: Path, dst: Path) -> None:
    """A read-only copy of ``src`` at ``dst``, streamed in chunks, replaced atomically."""
    tmp = dst.with_name(dst.name + ".part")
    with src.open("rb") as source, open_private(tmp) as out:
        shutil.copyfileobj(source, out, CHUNK)
    tmp.chmod(READ_ONLY)
    tmp.replace(dst)


def write_manifest(dest: Path, doc: dict[str, Any]) -> Path:
    """``doc`` as ``dest/manifest.json`` (read-only, keys sorted); its path."""
    path = dest / MANIFEST_NAME
    write_read_only(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def manifest_objects(path: Path) -> dict[str, dict[str, Any]]:
    """The manifest's objects by key; none when it is missing or unreadable (everything is fetched again)."""
    try:
        doc = orjson.loads(path.read_bytes())
        return {str(o["key"]): o for o in doc.get("objects", []) if isinstance(o, dict) and "key" in o}
    except (OSError, orjson.JSONDecodeError, AttributeError, TypeError):
        return {}


def manifest_doc(path: Path) -> dict[str, Any]:
    """The whole manifest document, or an empty one when it is missing or unreadable."""
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {"format": MANIFEST_FORMAT, "objects": []}
    return doc if isinstance(doc, dict) else {"format": MANIFEST_FORMAT, "objects": []}


def manifest_recoveries(path: Path) -> list[dict[str, Any]]:
    """The recoveries of rewritten logs the manifest records (kept across a resumed collection)."""
    recoveries = manifest_doc(path).get("recoveries", [])
    return [r for r in recoveries if isinstance(r, dict)] if isinstance(recoveries, list) else []
