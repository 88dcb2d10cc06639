"""Collect the CloudTrail archive for a window into an evidence folder that mirrors the S3 keys.

Listing goes by day prefix (the window widened by the delivery lag), several prefixes at a time,
files are chosen by the delivery time in their names, and each prefix's logs *and* the digests that
cover them are downloaded in a bounded thread pool as soon as its listing is in, with their
signature metadata beside them (``<key>.meta.json``), and ``manifest.json``
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
Evidence files are 0400 and the folders collect makes 0700, whatever the umask
(:mod:`irkit.cloudtrail.manifest` writes them and the manifest). Recovering a rewritten log is
:mod:`irkit.cloudtrail.recover`; the LookupEvents fallback, when the archive cannot be read,
:mod:`irkit.cloudtrail.lookup`.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from irkit.cloudtrail.keys import REFUSED, KeyRefused, PathAssigner, display, evidence_path
from irkit.cloudtrail.layout import DELIVERY_LAG, DIGEST_LAG, TrailLayout, days_between, in_window, parse_key
from irkit.cloudtrail.manifest import (
    CHUNK,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    PRIVATE_DIR,
    READ_ONLY,
    make_private_dirs,
    manifest_objects,
    manifest_recoveries,
    open_private,
    sha256_file,
    write_manifest,
    write_read_only,
)
from irkit.cloudtrail.writer import META_SUFFIX
from irkit.detect.event import format_time
from irkit.gaps import Gap

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
    hashes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """key → (SHA-256 stored, SHA-256 decompressed) of every object this run downloaded, computed on the
    bytes as they were written (the verify step checks the stored hash and does not inflate again)."""


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
retrying = retry(
    retry=retry_if_exception(_transient),
    wait=wait_exponential_jitter(multiplier=0.2, max=8),
    stop=stop_after_attempt(5),
    reraise=True,
)


def describe(exc: BaseException) -> str:
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
            page = retrying(self.s3.list_objects_v2)(**kwargs)
            yield page
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    def _guard(self, prefix: str, exc: Exception) -> None:
        code = error_code(exc)
        uri = f"s3://{self.bucket}/{prefix}"
        if code in {"NoSuchBucket", "AllAccessDisabled"}:
            raise _BucketUnavailable(Gap(f"s3://{self.bucket}", f"cannot read the archive: {describe(exc)}"))
        self.gaps.append(Gap(uri, f"cannot list: {describe(exc)}"))

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


def _window_prefixes(
    lister: _Lister, pool: ThreadPoolExecutor, *, layout: TrailLayout, accounts: Sequence[str],
    regions: Sequence[str], start: datetime, end: datetime,
) -> tuple[list[str], list[str], list[tuple[str, bool]]]:  # fmt: skip
    """(accounts, regions, every (day prefix, holds digests) of the window), folders discovered when
    none are given (each account's regions side by side)."""
    if not accounts:
        root = "/".join(p for p in (layout.prefix.strip("/"), "AWSLogs", layout.organization_id) if p) + "/"
        accounts = [a for a in lister.folders(root) if _ACCOUNT_DIR.match(a)]
    if regions:
        by_account = {account: list(regions) for account in accounts}
    else:

        def discover(account: str) -> list[str]:
            return [r for r in lister.folders(layout.region_root(account)) if _REGION_DIR.match(r)]

        by_account = dict(zip(accounts, pool.map(discover, accounts), strict=True))
    prefixes = [
        (layout.day_prefix(account, region, day, digest=digest), digest)
        for account in accounts
        for region in by_account[account]
        for digest, lag in ((False, DELIVERY_LAG), (True, DIGEST_LAG))
        for day in days_between(start, end + lag)
    ]
    all_regions = sorted({region for account in accounts for region in by_account[account]})
    return list(accounts), all_regions, prefixes


def _listed(
    lister: _Lister, pool: ThreadPoolExecutor, prefixes: Sequence[tuple[str, bool]], start: datetime, end: datetime
) -> Iterator[list[tuple[str, int]]]:
    """The window's (key, size) under each prefix, in prefix order; the prefixes are listed side by
    side in ``pool`` while the caller works on the ones already answered."""
    futures = [pool.submit(lister.keys, prefix) for prefix, _ in prefixes]
    try:
        for (_, digest), future in zip(prefixes, futures, strict=True):
            out = []
            for key, size in future.result():
                info = parse_key(key)
                if info is not None and info.digest == digest and in_window(info, start, end):
                    out.append((key, size))
            yield out
    finally:
        for future in futures:
            future.cancel()


def plan_keys(
    s3: Any,
    *,
    layout: TrailLayout,
    accounts: Sequence[str],
    regions: Sequence[str],
    start: datetime,
    end: datetime,
    workers: int = 8,
) -> tuple[list[tuple[str, int]], list[Gap], list[str], list[str]]:
    """(key, size) of every log and digest for the window, the listing gaps, accounts, regions.

    The day prefixes are listed ``workers`` at a time; the result is in prefix order whatever order
    the answers come in."""
    lister = _Lister(s3, layout.bucket)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found_accounts, found_regions, prefixes = _window_prefixes(
            lister, pool, layout=layout, accounts=accounts, regions=regions, start=start, end=end
        )
        found = [item for batch in _listed(lister, pool, prefixes, start, end) for item in batch]
    return found, lister.gaps, found_accounts, found_regions


class TooLargeObject(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(
            f"{size} bytes or more stored, more than any log within irkit's "
            f"{inflate.size_text(inflate.MAX_DECOMPRESSED)} limit holds: not collected"
        )


def stream_read_only(body: Any, path: Path) -> tuple[int, str, inflate.Inflated | None, str | None]:
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
        for chunk in iter(lambda: body.read(CHUNK), b""):
            size += len(chunk)
            if size > limit:
                body.close()
                out.close()
                tmp.unlink()
                raise TooLargeObject(size)
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
        self._folders: set[Path] = set()
        """Folders known to exist (made by this run or found): one mkdir a folder, not one a file."""

    def folder(self, path: Path) -> None:
        parent = path.parent
        if parent not in self._folders:
            make_private_dirs(self.dest, parent)
            self._folders.add(parent)

    def fetch(self, key: str, path: Path) -> tuple[_Entry, Gap | None]:
        return retrying(self._fetch)(key, path)

    def _fetch(self, key: str, path: Path) -> tuple[_Entry, Gap | None]:
        self.folder(path)
        resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        size, sha256, plain, why = stream_read_only(resp["Body"], path)
        gap = None if why is None else Gap(f"s3://{self.bucket}/{key}", f"{why}; kept as fetched")
        version = resp.get("VersionId")
        version = None if version in (None, "null") else str(version)
        info = parse_key(key)
        if info is not None and info.digest:
            meta = {str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()}
            meta["version_id"] = version or ""
            write_read_only(
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


def present(dest: Path, key: str, known: dict[str, Any] | None) -> bool:
    """Already collected: the file is there with the hash recorded (and its metadata, for digests)."""
    if not known:
        return False
    try:
        path = evidence_path(dest, key)
    except KeyRefused:
        return False
    if not path.is_file() or sha256_file(path) != known.get("sha256"):
        return False
    info = parse_key(key)
    return not (info is not None and info.digest and not path.with_name(path.name + META_SUFFIX).is_file())


def _progress_bar(enabled: bool) -> tuple[Callable[[int], None], Callable[[], None], Callable[[], None]]:
    """(grow the total, advance, close); a rich bar only on a terminal, nothing otherwise."""
    if not enabled or not sys.stderr.isatty():
        return (lambda n: None), (lambda: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("collecting CloudTrail", total=0)
    bar.start()
    lock = threading.Lock()
    total = 0

    def grow(n: int) -> None:
        nonlocal total
        with lock:
            total += n
            bar.update(task, total=total)

    def advance() -> None:
        with lock:
            bar.advance(task)

    return grow, advance, bar.stop


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
    paths: dict[str, Path] = field(default_factory=dict)
    """Where each key of the window is kept (assigned once, checked once)."""
    gaps: list[Gap] = field(default_factory=list)
    hashes: dict[str, tuple[str, str]] = field(default_factory=dict)
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
    workers: int = 16,
    progress: bool = False,
) -> CollectResult:
    """Download the window's logs and digests from the archive bucket into ``dest``.

    ``s3`` is a client made by the caller (adaptive retries, the log-archive role); empty
    ``accounts`` or ``regions`` are discovered from the bucket's folders. Never raises for what the
    archive holds: an unexpected error (a MemoryError included) ends the collection with a gap that
    names it, and the manifest still records every object fetched.
    """
    if not dest.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.mkdir(mode=PRIVATE_DIR, exist_ok=True)
    manifest_path = dest / MANIFEST_NAME
    run = _Run(manifest_objects(manifest_path), list(accounts), list(regions))
    try:
        _collect(s3, run, layout=layout, start=start, end=end, dest=dest, workers=workers, progress=progress)
    except Exception as exc:  # a manifest of what was fetched beats a traceback and none
        reason = f"collection stopped: {describe(exc)}; the manifest lists what was fetched"
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
    """List the window's day prefixes side by side and download each prefix's objects as soon as its
    listing is in (a prefix's keys are assigned their paths together: keys under two different day
    prefixes can never name one file, on any filesystem)."""
    lister = _Lister(s3, layout.bucket)
    assigner = PathAssigner(dest)
    fetcher = _Fetcher(s3, layout.bucket, dest)
    grow, advance, close = _progress_bar(progress)
    listing = ThreadPoolExecutor(max_workers=max(1, min(workers, 8)))
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    futures: dict[Future[tuple[_Entry, Gap | None]], str] = {}
    try:
        try:
            run.accounts, run.regions, prefixes = _window_prefixes(
                lister, listing, layout=layout, accounts=run.accounts, regions=run.regions, start=start, end=end
            )
            for batch in _listed(lister, listing, prefixes, start, end):
                to_fetch = _admit(run, assigner, dest, layout.bucket, dict(batch))
                grow(len(to_fetch))
                for key, path in to_fetch:
                    future = pool.submit(fetcher.fetch, key, path)
                    future.add_done_callback(lambda _: advance())
                    futures[future] = key
        except _BucketUnavailable as exc:
            run.gaps.append(exc.gap)
        listing.shutdown(wait=True, cancel_futures=True)  # every listing gap is in before it is read
        run.gaps.extend(lister.gaps)
        for future, key in futures.items():  # in the order submitted: no waiter on every future
            try:
                entry, gap = future.result()
            except Exception as exc:  # one object's failure (even MemoryError) is its gap
                run.gaps.append(Gap(f"s3://{layout.bucket}/{key}", f"not collected: {describe(exc)}"))
                continue
            run.entries[key] = entry.to_json()
            if entry.sha256_decompressed is not None:
                run.hashes[key] = (entry.sha256, entry.sha256_decompressed)
            run.fetched += 1
            run.fetched_bytes += entry.size
            if gap is not None:
                run.gaps.append(gap)
    finally:
        listing.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=True, cancel_futures=True)
        close()


def _admit(run: _Run, assigner: PathAssigner, dest: Path, bucket: str, sizes: dict[str, int]) -> list[tuple[str, Path]]:
    """The keys of one listing to download, with their paths; refused, too large and already
    collected ones are recorded in ``run`` instead."""
    paths, refused = assigner.assign(sorted(sizes))
    run.paths.update(paths)
    run.gaps.extend(refused_gap(bucket, key, reason) for key, reason in sorted(refused.items()))
    to_fetch: list[tuple[str, Path]] = []
    for key, path in sorted(paths.items()):
        if sizes[key] > inflate.stored_limit():
            run.gaps.append(Gap(f"s3://{bucket}/{key}", str(TooLargeObject(sizes[key]))))
        elif present(dest, key, run.known.get(key)):
            run.entries[key] = run.known[key]
            run.skipped += 1
        else:
            to_fetch.append((key, path))
    return to_fetch


def _finish(run: _Run, *, layout: TrailLayout, start: datetime, end: datetime, dest: Path) -> CollectResult:
    manifest_path = dest / MANIFEST_NAME
    # Evidence of tampering that the verify step added (the rewritten version of a log) is not in
    # the bucket listing any more; a resumed collection keeps it while the file is there.
    for key, kept in run.known.items():
        if key not in run.entries and kept.get("tampered_copy_of") and present(dest, key, kept):
            run.entries[key] = kept
    recoveries = manifest_recoveries(manifest_path)

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
        run.paths.get(k) or evidence_path(dest, k)
        for k in sorted(run.entries)
        if (info := parse_key(k)) is not None and not info.digest
    )
    return CollectResult(
        files=run.fetched, bytes=run.fetched_bytes, skipped=run.skipped, manifest=path, gaps=tuple(gaps),
        paths=log_paths, hashes={k: run.hashes[k] for k in sorted(run.hashes) if k in run.entries},
    )  # fmt: skip


# -- a rewritten log: the authentic version replaces the analysed file ------------------------------
