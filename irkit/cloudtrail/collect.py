"""Collect the CloudTrail archive for a window into an evidence folder that mirrors the S3 keys.

Listing goes by day prefix (the window widened by the delivery lag), files are chosen by the
delivery time in their names, logs *and* the digests that cover them are downloaded in a bounded
thread pool with their signature metadata beside them (``<key>.meta.json``), and ``manifest.json``
records every object (key, version id, size, SHA-256 of the stored and of the decompressed bytes,
fetched-at). Nothing is ever held whole: objects stream to disk in chunks.

A prefix that cannot be listed, an object that cannot be fetched or a bucket that does not exist
becomes a :class:`Gap` naming the exact ``s3://bucket/key``; everything else is still collected.
A second run over the same folder fetches only what is missing or differs (resumable). Whatever
happens inside (even a MemoryError), the manifest is written with what was fetched and a gap
naming the failure.

Keys are chosen by whoever can write to the bucket: each becomes a path only through
:mod:`irkit.cloudtrail.keys` (a key with ``..``, ``//``, a backslash or a control character, or that
would share a file with another key, is refused as a ``key-refused`` gap and never fetched). The
decompressed hash comes from :mod:`irkit.cloudtrail.inflate`, the code the reader and the digest
verifier use, under the same cap; an object too large to hold a log within it is not downloaded.
Evidence files are 0400, whatever the umask.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from irkit.aws.session import error_code
from irkit.cloudtrail import inflate
from irkit.cloudtrail.keys import REFUSED, KeyRefused, PathAssigner, check, display, evidence_path
from irkit.cloudtrail.layout import DELIVERY_LAG, DIGEST_LAG, TrailLayout, days_between, in_window, parse_key
from irkit.cloudtrail.writer import META_SUFFIX
from irkit.detect.event import format_time
from irkit.gaps import Gap

MANIFEST_FORMAT = "irkit-manifest/1"
MANIFEST_NAME = "manifest.json"
READ_ONLY = 0o400
"""Every evidence file: read-only, and for its owner only (CloudTrail holds secrets' context, ARNs,
IPs); set with chmod after writing, so the umask cannot widen it."""
_CHUNK = 1 << 20
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "503",
        "500",
    }
)
_ACCOUNT_DIR = re.compile(r"^\d{12}$")
_REGION_DIR = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


@dataclass(frozen=True, slots=True)
class CollectResult:
    files: int
    """Objects downloaded by this run."""
    bytes: int
    skipped: int
    """Objects already in the folder with the hash the manifest records (a resumed run)."""
    manifest: Path
    gaps: tuple[Gap, ...]
    paths: tuple[Path, ...]
    """Every log file of the window in the evidence folder (for the reader), digests excluded."""
    verified: bool = True
    """False for evidence that no digest chain can vouch for (LookupEvents)."""


@dataclass(slots=True)
class _Entry:
    key: str
    version_id: str | None
    size: int
    sha256: str
    sha256_decompressed: str | None
    fetched_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version_id": self.version_id,
            "size": self.size,
            "sha256": self.sha256,
            "sha256_decompressed": self.sha256_decompressed,
            "fetched_at": self.fetched_at,
        }


class _BucketUnavailable(Exception):
    def __init__(self, gap: Gap) -> None:
        super().__init__(gap.reason)
        self.gap = gap


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        return error_code(exc) in _TRANSIENT_CODES
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        # Nothing listening: botocore has already retried the connection; retrying its retries
        # turns an unreachable endpoint into minutes of silence at 3 a.m. instead of a gap.
        return False
    return isinstance(exc, ConnectionError | ReadTimeoutError)


# botocore's adaptive mode retries inside a call; this outer retry covers what it gives up on
# (a throttled burst that outlasts its budget, a stream cut mid-download).
_retrying = retry(
    retry=retry_if_exception(_transient),
    wait=wait_exponential_jitter(multiplier=0.2, max=8),
    stop=stop_after_attempt(5),
    reraise=True,
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class _Lister:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.gaps: list[Gap] = []

    def _pages(self, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if delimiter:
                kwargs["Delimiter"] = delimiter
            if token:
                kwargs["ContinuationToken"] = token
            page = _retrying(self.s3.list_objects_v2)(**kwargs)
            yield page
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def _guard(self, prefix: str, exc: Exception) -> None:
        code = error_code(exc)
        uri = f"s3://{self.bucket}/{prefix}"
        if code in {"NoSuchBucket", "AllAccessDisabled"}:
            raise _BucketUnavailable(Gap(f"s3://{self.bucket}", f"cannot read the archive: {_describe(exc)}"))
        self.gaps.append(Gap(uri, f"cannot list: {_describe(exc)}"))

    def keys(self, prefix: str) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        try:
            for page in self._pages(prefix, None):
                out.extend((str(o["Key"]), int(o.get("Size", 0))) for o in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            self._guard(prefix, exc)
        return out

    def folders(self, prefix: str) -> list[str]:
        out: list[str] = []
        try:
            for page in self._pages(prefix, "/"):
                out.extend(str(p["Prefix"])[len(prefix) :].strip("/") for p in page.get("CommonPrefixes", []))
        except (ClientError, BotoCoreError) as exc:
            self._guard(prefix, exc)
        return out


def plan_keys(
    s3: Any,
    *,
    layout: TrailLayout,
    accounts: Sequence[str],
    regions: Sequence[str],
    start: datetime,
    end: datetime,
) -> tuple[list[tuple[str, int]], list[Gap], list[str], list[str]]:
    """(key, size) of every log and digest for the window, the listing gaps, accounts, regions."""
    lister = _Lister(s3, layout.bucket)
    if not accounts:
        root = "/".join(p for p in (layout.prefix.strip("/"), "AWSLogs", layout.organization_id) if p) + "/"
        accounts = [a for a in lister.folders(root) if _ACCOUNT_DIR.match(a)]
    found: list[tuple[str, int]] = []
    all_regions: set[str] = set()
    for account in accounts:
        account_regions = list(regions) or [
            r for r in lister.folders(layout.region_root(account)) if _REGION_DIR.match(r)
        ]
        all_regions.update(account_regions)
        for region in account_regions:
            for digest, lag in ((False, DELIVERY_LAG), (True, DIGEST_LAG)):
                for day in days_between(start, end + lag):
                    for key, size in lister.keys(layout.day_prefix(account, region, day, digest=digest)):
                        info = parse_key(key)
                        if info is not None and info.digest == digest and in_window(info, start, end):
                            found.append((key, size))
    return found, lister.gaps, list(accounts), sorted(all_regions)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_private(path: Path) -> IO[bytes]:
    """A new file at ``path`` that only its owner can open (0600 from the start, never wider, whatever
    the umask); a leftover of an interrupted run is replaced. Made with O_EXCL: never through a link."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return os.fdopen(fd, "wb")


def _write_read_only(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with open_private(tmp) as out:
        out.write(data)
    tmp.chmod(READ_ONLY)
    tmp.replace(path)


class _TooLargeObject(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(
            f"{size} bytes or more stored, more than any log within irkit's "
            f"{inflate.size_text(inflate.MAX_DECOMPRESSED)} limit holds: not collected"
        )


def _stream_read_only(body: Any, path: Path) -> tuple[int, str, inflate.Inflated | None, str | None]:
    """Stream an S3 body to ``path`` (written as ``.part``, made read-only, renamed: atomic).

    Returns (size, SHA-256 stored, the decompressed hash or None, why not). More stored bytes than a
    log within the cap can have stops the download (nothing is kept: it is not evidence of a log, and
    the bucket still holds it)."""
    tmp = path.with_name(path.name + ".part")
    stored = hashlib.sha256()
    hasher: inflate.Hasher | None = inflate.Hasher()
    why: str | None = None
    size = 0
    limit = inflate.stored_limit()
    with open_private(tmp) as out:
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            size += len(chunk)
            if size > limit:
                body.close()
                out.close()
                tmp.unlink()
                raise _TooLargeObject(size)
            out.write(chunk)
            stored.update(chunk)
            if hasher is not None:
                try:
                    hasher.feed(chunk)
                except zlib.error as exc:  # InflateError, TooLarge
                    hasher, why = None, str(exc)
    plain: inflate.Inflated | None = None
    if hasher is not None:
        try:
            plain = hasher.finish()
        except zlib.error as exc:
            why = str(exc)
    tmp.chmod(READ_ONLY)
    tmp.replace(path)
    return size, stored.hexdigest(), plain, why


class _Fetcher:
    def __init__(self, s3: Any, bucket: str, dest: Path) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.dest = dest

    def fetch(self, key: str, path: Path) -> tuple[_Entry, Gap | None]:
        return _retrying(self._fetch)(key, path)

    def _fetch(self, key: str, path: Path) -> tuple[_Entry, Gap | None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        size, sha256, plain, why = _stream_read_only(resp["Body"], path)
        gap = None if why is None else Gap(f"s3://{self.bucket}/{key}", f"{why}; kept as fetched")
        version = resp.get("VersionId")
        version = None if version in (None, "null") else str(version)
        info = parse_key(key)
        if info is not None and info.digest:
            meta = {str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()}
            meta["version_id"] = version or ""
            _write_read_only(
                path.with_name(path.name + META_SUFFIX), orjson.dumps(meta, option=orjson.OPT_INDENT_2)
            )
        entry = _Entry(
            key=key,
            version_id=version,
            size=size,
            sha256=sha256,
            sha256_decompressed=plain.sha256 if plain is not None else None,
            fetched_at=format_time(datetime.now(UTC)),
        )
        return entry, gap


def _load_manifest(path: Path) -> dict[str, dict[str, Any]]:
    try:
        doc = orjson.loads(path.read_bytes())
        return {str(o["key"]): o for o in doc.get("objects", []) if isinstance(o, dict) and "key" in o}
    except (OSError, orjson.JSONDecodeError, AttributeError, TypeError):
        return {}


def _present(dest: Path, key: str, known: dict[str, Any] | None) -> bool:
    """Already collected: the file is there with the hash recorded (and its metadata, for digests)."""
    if not known:
        return False
    try:
        path = evidence_path(dest, key)
    except KeyRefused:
        return False
    if not path.is_file() or _sha256_file(path) != known.get("sha256"):
        return False
    info = parse_key(key)
    return not (info is not None and info.digest and not path.with_name(path.name + META_SUFFIX).is_file())


def write_manifest(dest: Path, doc: dict[str, Any]) -> Path:
    path = dest / MANIFEST_NAME
    _write_read_only(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path


def _progress_bar(enabled: bool, total: int) -> tuple[Callable[[], None], Callable[[], None]]:
    """(advance, close); a rich bar only on a terminal, nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        return (lambda: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("collecting CloudTrail", total=total)
    bar.start()
    lock = threading.Lock()

    def advance() -> None:
        with lock:
            bar.advance(task)

    return advance, bar.stop


def refused_gap(bucket: str, key: str, reason: str) -> Gap:
    """The gap for a key that is not turned into a path (its reason starts with ``key-refused``)."""
    return Gap(
        f"s3://{bucket}/{display(key, limit=1024)}",
        f"{REFUSED}: {reason}; not collected (CloudTrail writes no such key: someone else wrote it into the archive)",
    )


@dataclass(slots=True)
class _Run:
    """What a collection has so far: written to the manifest whatever happens next."""

    known: dict[str, dict[str, Any]]
    accounts: list[str]
    regions: list[str]
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    gaps: list[Gap] = field(default_factory=list)
    fetched: int = 0
    fetched_bytes: int = 0
    skipped: int = 0


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
    """Download the window's logs and digests from the archive bucket into ``dest``.

    ``s3`` is a client made by the caller (adaptive retries, the log-archive role); empty
    ``accounts`` or ``regions`` are discovered from the bucket's folders. Never raises for what the
    archive holds: an unexpected error (a MemoryError included) ends the collection with a gap that
    names it, and the manifest still records every object fetched.
    """
    dest.mkdir(parents=True, exist_ok=True)
    manifest_path = dest / MANIFEST_NAME
    run = _Run(_load_manifest(manifest_path), list(accounts), list(regions))
    try:
        _collect(s3, run, layout=layout, start=start, end=end, dest=dest, workers=workers, progress=progress)
    except Exception as exc:  # a manifest of what was fetched beats a traceback and none
        reason = f"collection stopped: {_describe(exc)}; the manifest lists what was fetched"
        run.gaps.append(Gap(f"s3://{layout.bucket}", reason))
    except BaseException as exc:  # interrupted: leave a manifest a resumed run can build on, then stop
        run.gaps.append(Gap(f"s3://{layout.bucket}", f"collection interrupted ({type(exc).__name__})"))
        _finish(run, layout=layout, start=start, end=end, dest=dest)
        raise
    return _finish(run, layout=layout, start=start, end=end, dest=dest)


def _collect(
    s3: Any, run: _Run, *, layout: TrailLayout, start: datetime, end: datetime, dest: Path, workers: int,
    progress: bool,
) -> None:  # fmt: skip
    try:
        planned, list_gaps, run.accounts, run.regions = plan_keys(
            s3, layout=layout, accounts=run.accounts, regions=run.regions, start=start, end=end
        )
        run.gaps.extend(list_gaps)
    except _BucketUnavailable as exc:
        planned = []
        run.gaps.append(exc.gap)

    sizes = dict(planned)
    paths, refused = PathAssigner(dest).assign(sorted(sizes))
    run.gaps.extend(refused_gap(layout.bucket, key, reason) for key, reason in sorted(refused.items()))
    to_fetch: list[tuple[str, Path]] = []
    for key, path in sorted(paths.items()):
        if sizes[key] > inflate.stored_limit():
            run.gaps.append(Gap(f"s3://{layout.bucket}/{key}", str(_TooLargeObject(sizes[key]))))
        elif _present(dest, key, run.known.get(key)):
            run.entries[key] = run.known[key]
            run.skipped += 1
        else:
            to_fetch.append((key, path))

    fetcher = _Fetcher(s3, layout.bucket, dest)
    advance, close = _progress_bar(progress, len(to_fetch))
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = {pool.submit(fetcher.fetch, key, path): key for key, path in to_fetch}
        for future in as_completed(futures):
            key = futures[future]
            advance()
            try:
                entry, gap = future.result()
            except Exception as exc:  # one object's failure (even MemoryError) is its gap
                run.gaps.append(Gap(f"s3://{layout.bucket}/{key}", f"not collected: {_describe(exc)}"))
                continue
            run.entries[key] = entry.to_json()
            run.fetched += 1
            run.fetched_bytes += entry.size
            if gap is not None:
                run.gaps.append(gap)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        close()


def _finish(run: _Run, *, layout: TrailLayout, start: datetime, end: datetime, dest: Path) -> CollectResult:
    manifest_path = dest / MANIFEST_NAME
    # Evidence of tampering that the verify step added (the rewritten version of a log) is not in
    # the bucket listing any more; a resumed collection keeps it while the file is there.
    for key, kept in run.known.items():
        if key not in run.entries and kept.get("tampered_copy_of") and _present(dest, key, kept):
            run.entries[key] = kept
    recoveries = _load_recoveries(manifest_path)

    gaps = sorted(run.gaps, key=lambda g: (g.path, g.reason))
    doc = {
        "format": MANIFEST_FORMAT,
        "engine": "s3",
        "bucket": layout.bucket,
        "prefix": layout.prefix,
        "organization_id": layout.organization_id,
        "accounts": list(run.accounts),
        "regions": list(run.regions),
        "window": {"start": format_time(start), "end": format_time(end)},
        "objects": [run.entries[k] for k in sorted(run.entries)],
        "gaps": [g.to_json() for g in gaps],
    }
    if recoveries:
        doc["recoveries"] = recoveries
    path = write_manifest(dest, doc)
    log_paths = tuple(
        evidence_path(dest, k)
        for k in sorted(run.entries)
        if (info := parse_key(k)) is not None and not info.digest
    )
    return CollectResult(
        files=run.fetched, bytes=run.fetched_bytes, skipped=run.skipped, manifest=path, gaps=tuple(gaps),
        paths=log_paths,
    )  # fmt: skip


# -- a rewritten log: the authentic version replaces the analysed file ------------------------------

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
    one inflate path, under its cap); its manifest entry. :class:`_TooLargeObject` when it is larger
    than any log (nothing is then written)."""

    def fetch() -> tuple[int, str, inflate.Inflated | None, str | None]:
        resp = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
        return _stream_read_only(resp["Body"], path)

    path.parent.mkdir(parents=True, exist_ok=True)
    size, sha256, plain, _why = _retrying(fetch)()
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
    doc = _manifest_doc(manifest_path)
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
        and _present(dest, key, current)
    ):
        collected_key = tampered_name(key, str(current["version_id"]))
        if not _present(dest, collected_key, objects.get(collected_key)):
            _copy_read_only(path, evidence_path(dest, collected_key))
        objects[collected_key] = dict(current, key=collected_key, authentic=False, tampered_copy_of=key)
    tampered = objects.get(copy_key)
    if tampered is None or not (_present(dest, copy_key, tampered) or tampered.get("not_kept")):
        try:
            tampered = _fetch_version(s3, bucket, key, tampered_version, copy_path) | {"key": copy_key}
        except _TooLargeObject as exc:
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
        and _present(dest, key, authentic)
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


def _copy_read_only(src: Path, dst: Path) -> None:
    tmp = dst.with_name(dst.name + ".part")
    with src.open("rb") as source, open_private(tmp) as out:
        shutil.copyfileobj(source, out, _CHUNK)
    tmp.chmod(READ_ONLY)
    tmp.replace(dst)


def _manifest_doc(path: Path) -> dict[str, Any]:
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {"format": MANIFEST_FORMAT, "objects": []}
    return doc if isinstance(doc, dict) else {"format": MANIFEST_FORMAT, "objects": []}


def _load_recoveries(path: Path) -> list[dict[str, Any]]:
    recoveries = _manifest_doc(path).get("recoveries", [])
    return [r for r in recoveries if isinstance(r, dict)] if isinstance(recoveries, list) else []


# -- LookupEvents fallback -------------------------------------------------------------------------

LOOKUP_RATE = 2.0  # LookupEvents: 2 requests a second per account and region
UNVERIFIED = (
    "UNVERIFIED evidence from cloudtrail:LookupEvents: management events only, last 90 days, "
    "no digest chain vouches for it"
)


def _lookup_attribute(principal: str) -> dict[str, str]:
    if re.match(r"^(AKIA|ASIA)[A-Z0-9]{12,}$", principal):
        return {"AttributeKey": "AccessKeyId", "AttributeValue": principal}
    # Users appear under their name; role sessions under the session name, which for agents is
    # usually the role name; sessions named otherwise are only found by their access key id.
    return {"AttributeKey": "Username", "AttributeValue": principal.rsplit("/", 1)[-1]}


@dataclass(slots=True)
class _Throttle:
    rate: float
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    _last: float | None = field(default=None)

    def wait(self) -> None:
        if self._last is not None:
            delay = 1.0 / self.rate - (self.clock() - self._last)
            if delay > 0:
                self.sleep(delay)
        self._last = self.clock()


def lookup_fallback(
    cloudtrail: Any,
    principals: Iterable[str],
    start: datetime,
    end: datetime,
    dest: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> CollectResult:
    """Management events of each principal (ARN or access key id) via LookupEvents, to
    ``dest/lookup/<name>.jsonl``; every result is marked unverified. Use only when the archive
    cannot be read."""
    folder = dest / "lookup"
    folder.mkdir(parents=True, exist_ok=True)
    throttle = _Throttle(LOOKUP_RATE, sleep, clock)
    gaps = [Gap("cloudtrail:LookupEvents", UNVERIFIED)]
    if end - start > timedelta(days=90):
        gaps.append(
            Gap("cloudtrail:LookupEvents", "LookupEvents keeps 90 days; older events are not covered")
        )
    paths: list[Path] = []
    objects: list[dict[str, Any]] = []
    total = 0
    for principal in principals:
        attr = _lookup_attribute(principal)
        name = re.sub(r"[^A-Za-z0-9._-]", "_", attr["AttributeValue"])
        path = folder / f"{attr['AttributeKey']}-{name}.jsonl"
        kwargs: dict[str, Any] = {
            "LookupAttributes": [attr],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": 50,
        }
        lines: list[bytes] = []
        try:
            while True:
                throttle.wait()
                resp = _retrying(cloudtrail.lookup_events)(**kwargs)
                for event in resp.get("Events", []):
                    raw = event.get("CloudTrailEvent")
                    if isinstance(raw, str):
                        lines.append(orjson.dumps(orjson.loads(raw)))
                token = resp.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        except (ClientError, BotoCoreError, orjson.JSONDecodeError) as exc:
            gaps.append(
                Gap(
                    f"cloudtrail:LookupEvents {attr['AttributeKey']}={attr['AttributeValue']}",
                    f"lookup stopped: {_describe(exc)}",
                )
            )
        data = b"\n".join(lines) + (b"\n" if lines else b"")
        _write_read_only(path, data)
        paths.append(path)
        total += len(data)
        objects.append(
            {
                "key": path.relative_to(dest).as_posix(),
                "principal": principal,
                "events": len(lines),
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "fetched_at": format_time(datetime.now(UTC)),
                "verified": False,
            }
        )
    doc = {
        "format": MANIFEST_FORMAT,
        "engine": "lookup-events",
        "verified": False,
        "window": {"start": format_time(start), "end": format_time(end)},
        "objects": objects,
        "gaps": [g.to_json() for g in gaps],
    }
    manifest = folder / MANIFEST_NAME
    _write_read_only(manifest, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return CollectResult(
        files=len(paths),
        bytes=total,
        skipped=0,
        manifest=manifest,
        gaps=tuple(gaps),
        paths=tuple(paths),
        verified=False,
    )
