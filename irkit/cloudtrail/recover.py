"""Recovery of a rewritten log: the authentic version (by version id, checked against the digest's hash)
replaces the analysed file, and the rewrite is kept beside it as evidence (``<key>.tampered-<version>``),
both recorded in ``manifest.json``. Called by the verify step when the digest chain shows a rewrite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from irkit.cloudtrail import inflate
from irkit.cloudtrail.collect import TooLargeObject, present, retrying, stream_read_only
from irkit.cloudtrail.keys import check, evidence_path
from irkit.cloudtrail.manifest import MANIFEST_NAME, copy_read_only, manifest_doc, write_manifest
from irkit.detect.event import format_time

TAMPERED_MARK = ".tampered-"


def tampered_name(key: str, version_id: str) -> str:
    """Where the rewritten version of ``key`` is kept: beside it, under a name no reader takes for a log
    (``is_log_path`` reads only ``*.json``/``*.json.gz``/``*.jsonl(.gz)``). :class:`KeyRefused` (a
    ValueError) for a key that cannot name a file."""
    return f"{check(key)}{TAMPERED_MARK}{re.sub(r'[^A-Za-z0-9_-]', '_', version_id)[:128]}"


@dataclass(frozen=True, slots=True)
class Adopted:
    """The evidence folder after a rewritten log was replaced by its authentic version."""

    key: str
    authentic: dict[str, Any]
    """Manifest entry of the authentic version, now at ``evidence/<key>``."""
    tampered: dict[str, Any]
    """Manifest entry of the rewritten version, kept at ``evidence/<tampered_name>``."""

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "evidence": self.authentic["key"], "tampered_evidence": self.tampered["key"]}


def _fetch_version(s3: Any, bucket: str, key: str, version_id: str, path: Path) -> dict[str, Any]:
    """Stream one object version to ``path`` (atomically, read-only; the decompressed hash through the
    one inflate path, under its cap); its manifest entry. :class:`TooLargeObject` when it is larger
    than any log (nothing is then written)."""

    def fetch() -> tuple[int, str, inflate.Inflated | None, str | None]:
        resp = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
        return stream_read_only(resp["Body"], path)

    path.parent.mkdir(parents=True, exist_ok=True)
    size, sha256, plain, _why = retrying(fetch)()
    return {
        "key": key,
        "version_id": version_id,
        "size": size,
        "sha256": sha256,
        "sha256_decompressed": plain.sha256 if plain is not None else None,
        "fetched_at": format_time(datetime.now(UTC)),
    }


def adopt_authentic_version(
    s3: Any,
    bucket: str,
    dest: Path,
    *,
    key: str,
    authentic_version: str,
    tampered_version: str,
    expected_sha256: str,
    record: dict[str, Any],
) -> Adopted:
    """Make ``dest/<key>`` the authentic version of a rewritten log and keep the rewrite beside it.

    The authentic version is fetched by version id and checked again against the digest's hash
    (``expected_sha256``, of the decompressed log) before it replaces anything. No rewrite is ever
    deleted: the file collected (unless it is the authentic version) and ``tampered_version`` (copied
    or downloaded) are kept as ``<key>.tampered-<version>``. ``manifest.json`` then records every
    copy (``authentic`` true/false) and ``record`` under ``recoveries``. Idempotent: a second call
    changes nothing.
    """
    manifest_path = dest / MANIFEST_NAME
    doc = manifest_doc(manifest_path)
    objects: dict[str, dict[str, Any]] = {
        str(o["key"]): o for o in doc.get("objects", []) if isinstance(o, dict) and "key" in o
    }
    path = evidence_path(dest, key)  # KeyRefused (a ValueError): nothing is touched
    copy_key = tampered_name(key, tampered_version)
    copy_path = evidence_path(dest, copy_key)

    # 1. The rewrite, preserved first: nothing is replaced until the evidence of tampering is safe.
    # The file collected is kept whatever version it is (unless it is the authentic one): an attacker
    # who rewrote again between collect and verify leaves two rewrites, and both are evidence.
    current = objects.get(key)
    if (
        current is not None
        and current.get("version_id")
        and current.get("version_id") != authentic_version
        and not current.get("authentic")
        and present(dest, key, current)
    ):
        collected_key = tampered_name(key, str(current["version_id"]))
        if not present(dest, collected_key, objects.get(collected_key)):
            copy_read_only(path, evidence_path(dest, collected_key))
        objects[collected_key] = dict(current, key=collected_key, authentic=False, tampered_copy_of=key)
    tampered = objects.get(copy_key)
    if tampered is None or not (present(dest, copy_key, tampered) or tampered.get("not_kept")):
        try:
            tampered = _fetch_version(s3, bucket, key, tampered_version, copy_path) | {"key": copy_key}
        except TooLargeObject as exc:
            # A rewrite too large to keep does not stop the recovery (that would let a huge rewrite
            # keep the original out of the analysis); the bucket still has it, by version id.
            tampered = {"key": copy_key, "version_id": tampered_version, "sha256": None,
                        "not_kept": f"{exc}; still in the bucket as version {tampered_version}"}  # fmt: skip
    tampered.update(authentic=False, tampered_copy_of=key)

    # 2. The authentic version, checked before it takes the log's place (write, then rename: atomic).
    authentic = objects.get(key)
    if not (
        authentic is not None
        and authentic.get("version_id") == authentic_version
        and authentic.get("sha256_decompressed") == expected_sha256
        and present(dest, key, authentic)
    ):
        staging = path.with_name(path.name + ".authentic")
        authentic = _fetch_version(s3, bucket, key, authentic_version, staging)
        if authentic["sha256_decompressed"] != expected_sha256:
            staging.chmod(0o644)
            staging.unlink()
            raise ValueError(
                f"s3://{bucket}/{key} version {authentic_version} no longer matches the digest; nothing replaced"
            )
        staging.replace(path)
    authentic.update(authentic=True, recovered=True, replaces_version=tampered_version)

    objects[key] = authentic
    objects[copy_key] = tampered
    doc["objects"] = [objects[k] for k in sorted(objects)]
    recoveries = [r for r in doc.get("recoveries", []) if isinstance(r, dict) and r.get("key") != key]
    doc["recoveries"] = sorted([*recoveries, dict(record, key=key, tampered_evidence=copy_key)],
                               key=lambda r: str(r["key"]))  # fmt: skip
    write_manifest(dest, doc)
    return Adopted(key, authentic, tampered)
