"""Minimal archive collection (sequential); the evidence work replaces it with the full engine."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from irkit.cloudtrail.layout import DELIVERY_LAG, TrailLayout, days_between, in_window, parse_key
from irkit.gaps import Gap


@dataclass(frozen=True)
class CollectResult:
    files: int
    bytes: int
    skipped: int
    manifest: Path
    gaps: list[Gap] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)


def collect_archive(
    s3: Any,
    *,
    layout: TrailLayout,
    accounts: Sequence[str],
    regions: Sequence[str],
    start: datetime,
    end: datetime,
    dest: Path,
    workers: int = 8,
    progress: bool = False,
) -> CollectResult:
    dest.mkdir(parents=True, exist_ok=True)
    objects: list[dict[str, Any]] = []
    gaps: list[Gap] = []
    paths: list[Path] = []
    total = 0
    for account in accounts:
        for region in regions:
            for day in days_between(start, end + DELIVERY_LAG):
                prefix = layout.day_prefix(account, region, day)
                try:
                    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=layout.bucket, Prefix=prefix)
                    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
                except Exception as exc:
                    gaps.append(Gap(f"s3://{layout.bucket}/{prefix}", f"listing failed: {exc}"))
                    continue
                for key in keys:
                    info = parse_key(key)
                    if info is None or not in_window(info, start, end):
                        continue
                    try:
                        obj = s3.get_object(Bucket=layout.bucket, Key=key)
                        body = obj["Body"].read()
                    except Exception as exc:
                        gaps.append(Gap(f"s3://{layout.bucket}/{key}", f"download failed: {exc}"))
                        continue
                    path = dest / key
                    path.parent.mkdir(parents=True, exist_ok=True)
                    if path.exists():
                        path.chmod(0o644)
                    path.write_bytes(body)
                    path.chmod(0o444)
                    paths.append(path)
                    total += len(body)
                    objects.append(
                        {
                            "key": key,
                            "version_id": obj.get("VersionId"),
                            "size": len(body),
                            "sha256": hashlib.sha256(body).hexdigest(),
                            "sha256_decompressed": hashlib.sha256(gzip.decompress(body)).hexdigest(),
                            "fetched_at": datetime.now(UTC).isoformat(),
                        }
                    )
    manifest = dest / "manifest.json"
    tmp = manifest.with_suffix(".tmp")
    tmp.write_bytes(
        orjson.dumps(
            {
                "format": "irkit-manifest/1",
                "bucket": layout.bucket,
                "objects": objects,
                "gaps": [g.to_json() for g in gaps],
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    tmp.replace(manifest)
    return CollectResult(len(paths), total, 0, manifest, gaps, paths)
