"""Digest-chain verification: is this CloudTrail archive complete and untouched?

The same algorithm as ``aws cloudtrail validate-logs``, split the way awscli splits it (a source
of objects, a ring of public keys, a verifier that reports problems as data and keeps going), with
two differences: it runs on a local copy as well as on S3, and it does not lose track of the chain
when several digests in a row are gone (awscli jumps to the next digest it can list and misses them).

What is checked, per account and region:

* each digest is where it claims to be (``digestS3Bucket``/``digestS3Object``), is signed
  (``signature`` metadata) by a known key, and the signature verifies over
  ``digestEndTime\\n<bucket>/<key>\\n<sha256 hex of the decompressed digest>\\n<previous signature|null>``;
* the chain is whole: each digest names the one before it (``previousDigestS3Object``), carries its
  signature, and starts where it ended; a named digest that is absent, a gap in time longer than
  one digest, a chain that restarts, or digests that stop before the others are all reported;
* each log a digest lists exists and hashes (SHA-256 of the decompressed bytes) to ``hashValue``;
* each log older than the newest digest is listed by some digest; newer logs are *pending*;
* every key is data: one that cannot safely name a file (``..``, ``//``, a leading ``/``, a
  backslash, a control character) is a ``key-refused`` problem, never a path, and every file the
  reader would read that is not a CloudTrail log (a planted ``.json``) is ``log-not-in-digest``.

Logs are hashed through :mod:`irkit.cloudtrail.inflate`, the code the reader parses with: every gzip
member (an appended member fails the hash like any rewrite), at most ``MAX_DECOMPRESSED`` bytes.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from irkit.cloudtrail import inflate as inflate_module
from irkit.cloudtrail import keys as archive_keys
from irkit.cloudtrail.inflate import (
    TooLarge,
    TooManyValues,
    check_values,
    inflate,
    sha256_inflated,
    size_text,
    stored_limit,
)
from irkit.cloudtrail.layout import (
    DELIVERY_LAG,
    DIGEST_LAG,
    KeyInfo,
    TrailLayout,
    days_between,
    in_window,
    parse_key,
)
from irkit.cloudtrail.manifest import MANIFEST_NAME
from irkit.cloudtrail.reader import is_log_path
from irkit.cloudtrail.writer import META_SUFFIX, public_key_fingerprint, signing_string
from irkit.detect.event import MalformedRecord, format_time, parse_time
from irkit.errors import UsageError
from irkit.gaps import Gap

DIGEST_PERIOD = timedelta(hours=1)
# A digest period is about an hour; a hole longer than this between two digests means one is gone.
_SLACK = timedelta(minutes=15)
# A rewritten log's versions: how many are listed, and how many downloaded to look for the original.
MAX_VERSIONS_LISTED = 1000
MAX_VERSIONS_CHECKED = 20

# Problem kinds: stable strings, documented in docs/evidence.md.
LOG_TAMPERED = "log-tampered"
LOG_MISSING = "log-missing"
LOG_NOT_IN_DIGEST = "log-not-in-digest"
DIGEST_MISSING = "digest-missing"
CHAIN_GAP = "chain-gap"
CHAIN_BROKEN = "chain-broken"
CHAIN_RESTART = "chain-restart"
DIGEST_MOVED = "digest-moved"
BAD_SIGNATURE = "bad-signature"
UNSIGNED = "digest-unsigned"
UNKNOWN_KEY = "unknown-key"
DIGEST_UNREADABLE = "digest-unreadable"
DIGESTS_STOPPED = "digests-stopped"
KEY_REFUSED = archive_keys.REFUSED
"""A key that cannot safely name a file (``..``, ``//``, …): CloudTrail never writes one."""


@dataclass(frozen=True, slots=True)
class RecoveredVersion:
    """A rewritten log's authentic version, found among the object's versions by its digest hash.

    Object Lock keeps the version CloudTrail delivered; an attacker with ``s3:PutObject`` on the
    archive can only add a newer one. The digest's ``hashValue`` says which version is the original.
    """

    key: str
    authentic_version: str
    authentic_written: str
    """When the authentic version was written (S3 LastModified, ISO 8601 UTC)."""
    tampered_version: str
    tampered_written: str
    sha256_decompressed: str
    """The digest's ``hashValue``, which the authentic version matches."""
    tampered_sha256_decompressed: str
    digest: str
    """The digest that vouches for the authentic version."""
    versions: int
    """How many versions the object has."""

    def to_json(self) -> dict[str, str | int]:
        return {
            "key": self.key,
            "authentic_version": self.authentic_version,
            "authentic_written": self.authentic_written,
            "tampered_version": self.tampered_version,
            "tampered_written": self.tampered_written,
            "sha256_decompressed": self.sha256_decompressed,
            "tampered_sha256_decompressed": self.tampered_sha256_decompressed,
            "digest": self.digest,
            "versions": self.versions,
        }


@dataclass(frozen=True, slots=True)
class VersionSearch:
    """What a source can say about a tampered log's versions: the authentic one, if found, and a note."""

    recovered: RecoveredVersion | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class IntegrityProblem:
    kind: str
    path: str
    """The exact ``s3://bucket/key`` (or local path) concerned."""
    detail: str
    recovered: RecoveredVersion | None = None
    """For ``log-tampered`` on S3: the version the digest vouches for, when one is still there."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "path": self.path, "detail": self.detail}
        if self.recovered is not None:
            out["recovered"] = self.recovered.to_json()
        return out

    def to_gap(self) -> Gap:
        return Gap(self.path, f"integrity: {self.kind}: {self.detail}")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    logs_checked: int
    digests_checked: int
    problems: list[IntegrityProblem]
    pending: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        """One honest word for the chain: "intact" only when at least one digest vouched for something.

        No problem found over no digest is not "intact": it is nothing verified (an empty window) or a
        window whose logs are all newer than the newest digest (CloudTrail signs about once an hour).
        """
        if self.problems:
            return f"{len(self.problems)} INTEGRITY PROBLEMS"
        if self.digests_checked:
            return "intact"
        if self.pending or self.logs_checked:
            return "NOT VERIFIED yet: no digest covers these logs (CloudTrail signs about hourly)"
        return "NOT VERIFIED: no log or digest in the window"

    def gaps(self) -> list[Gap]:
        return [p.to_gap() for p in self.problems]

    @property
    def recovered(self) -> list[RecoveredVersion]:
        """Rewritten logs whose authentic version was found (S3 only)."""
        return [p.recovered for p in self.problems if p.recovered is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "logs_checked": self.logs_checked,
            "digests_checked": self.digests_checked,
            "problems": [p.to_json() for p in self.problems],
            "pending": list(self.pending),
            "notes": list(self.notes),
        }


# -- sources ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    body: bytes
    metadata: Mapping[str, str]
    version_id: str | None = None
    """The S3 version read (None for a local file or an unversioned bucket)."""
    too_large: int | None = None
    """The stored size, when it is larger than any log irkit reads (``body`` is then empty)."""
    sha256_decompressed: str | None = None
    """The SHA-256 of the decompressed ``body`` when the source already has it (a collection that
    hashed these very bytes as it wrote them); None: the verifier inflates ``body`` itself."""


class ArchiveSource(Protocol):
    bucket: str | None
    """The bucket the archive lives in, when known (a local copy may not know it)."""

    def list_keys(self, prefix: str = "") -> Iterator[str]: ...

    def get(self, key: str) -> StoredObject | None: ...

    def uri(self, key: str) -> str: ...

    def find_authentic(self, key: str, expected: str, current: StoredObject, digest: str) -> VersionSearch:
        """For a tampered log: the version whose decompressed SHA-256 is ``expected`` (the digest's
        ``hashValue``), if the source keeps versions, and a short note on the object's history."""
        ...

    # Optional: ``refused() -> list[tuple[str, str, bool]]``, what the source would not read, as
    # (key or uri, detail, is_uri); the verifier reports each as ``key-refused``.


class LocalSource:
    """A folder that mirrors S3 keys (``irkit collect`` output or a copy of a bucket).

    Digest metadata sits beside each digest as ``<key>.meta.json``; ``manifest.json``, when present,
    names the bucket and the collected window.
    """

    def __init__(self, root: Path, known_hashes: Mapping[str, tuple[str, str]] | None = None) -> None:
        """``known_hashes``: key → (SHA-256 stored, SHA-256 decompressed) that the caller computed while it
        wrote the file. A file whose bytes still have that stored hash is not inflated again; any
        other file is hashed from what is on disk."""
        self.root = root
        self._hashes = dict(known_hashes or {})
        self.bucket: str | None = None
        self.window: tuple[datetime, datetime] | None = None
        self._versions: dict[str, str | None] = {}
        self._refused: list[tuple[str, str, bool]] = []
        self._collect_refused: list[tuple[str, str, bool]] = []
        manifest = root / MANIFEST_NAME
        if manifest.is_file():
            try:
                doc = orjson.loads(manifest.read_bytes())
                self.bucket = doc.get("bucket") or None
                win = doc.get("window") or {}
                if win.get("start") and win.get("end"):
                    self.window = (parse_time(win["start"]), parse_time(win["end"]))
                for obj in doc.get("objects", []):
                    self._versions[obj["key"]] = obj.get("version_id")
                # Keys collect refused are not in the folder, but they were in the archive: still a problem.
                for gap in doc.get("gaps", []):
                    reason = str(gap.get("reason", ""))
                    if reason.startswith(KEY_REFUSED):
                        why = reason.removeprefix(KEY_REFUSED).lstrip(": ")
                        self._collect_refused.append((str(gap.get("path", "")), _refused_detail(why), True))
            except (orjson.JSONDecodeError, MalformedRecord, KeyError, TypeError, AttributeError):
                pass  # a damaged manifest only loses the window hint; the digests decide integrity

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every ``*.json.gz`` below the folder and every other file the reader would read."""
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if not path.is_file():
                continue
            key = path.relative_to(self.root).as_posix()
            if not (key.endswith(".json.gz") or is_log_path(PurePosixPath(key))):
                continue
            if not archive_keys.inside(self.root, path):
                detail = "a symlink that leads outside the folder: not verified, and `irkit analyze` does not read it"
                self._refused.append((key, detail, False))
                continue
            yield key

    def refused(self) -> list[tuple[str, str, bool]]:
        """(key or uri, detail, is_uri) of what was not read: symlinks out of the folder, and the keys
        ``collect`` refused (from the manifest)."""
        return [*self._collect_refused, *self._refused]

    def get(self, key: str) -> StoredObject | None:
        try:
            path = archive_keys.evidence_path(self.root, key)
            size = path.stat().st_size
            if size > stored_limit():
                return StoredObject(key, b"", {}, too_large=size)
            body = path.read_bytes()
        except (OSError, archive_keys.KeyRefused):
            return None  # reported as missing or unreadable
        meta: dict[str, str] = {}
        sidecar = path.with_name(path.name + META_SUFFIX)
        if sidecar.is_file():
            try:
                raw = orjson.loads(sidecar.read_bytes())
                if isinstance(raw, dict):
                    meta = {str(k).lower(): str(v) for k, v in raw.items() if isinstance(v, str)}
            except orjson.JSONDecodeError:
                pass  # reported as an unsigned digest below
        known = self._hashes.get(key)
        if known is not None and hashlib.sha256(body).hexdigest() == known[0]:
            return StoredObject(key, body, meta, sha256_decompressed=known[1])
        return StoredObject(key, body, meta)

    def uri(self, key: str) -> str:
        return str(self.root / archive_keys.display(key, limit=1024))

    def find_authentic(self, key: str, expected: str, current: StoredObject, digest: str) -> VersionSearch:
        # A local copy has one version of each file: name the one collected, recover nothing.
        version = self._versions.get(key)
        return VersionSearch(note=f"collected version {version}" if version else "")


class S3Source:
    """The archive bucket itself (read-only calls: ListObjectsV2, GetObject, ListObjectVersions)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket: str | None = bucket
        self._bucket = bucket

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def get(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            resp = self.s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        meta = {str(k).lower(): str(v) for k, v in (resp.get("Metadata") or {}).items()}
        version = resp.get("VersionId")
        version = None if version in (None, "null") else str(version)
        body, size = _bounded_body(resp)
        if body is None:
            return StoredObject(key, b"", meta, version, too_large=size)
        return StoredObject(key, body, meta, version)

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{archive_keys.display(key, limit=1024)}"

    def folders(self, prefix: str) -> list[str]:
        """Immediate sub-folder names under ``prefix`` (ListObjectsV2 with a delimiter)."""
        paginator = self.s3.get_paginator("list_objects_v2")
        out: list[str] = []
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
            out.extend(str(p["Prefix"])[len(prefix) :].strip("/") for p in page.get("CommonPrefixes", []))
        return out

    def versions(self, key: str) -> list[dict[str, Any]]:
        """The key's versions, newest first, at most :data:`MAX_VERSIONS_LISTED`."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": key}
        while len(out) < MAX_VERSIONS_LISTED:
            resp = self.s3.list_object_versions(**kwargs)
            out.extend(v for v in resp.get("Versions", []) if v.get("Key") == key)
            if not resp.get("IsTruncated") or resp.get("NextKeyMarker") != key:
                break
            kwargs.update(KeyMarker=resp["NextKeyMarker"], VersionIdMarker=resp.get("NextVersionIdMarker", ""))
        return out[:MAX_VERSIONS_LISTED]

    def find_authentic(self, key: str, expected: str, current: StoredObject, digest: str) -> VersionSearch:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            versions = self.versions(key)
        except (ClientError, BotoCoreError) as exc:
            return VersionSearch(note=f"its versions could not be listed ({_client_error(exc)})")
        if len(versions) < 2:
            return VersionSearch(
                note="the object has a single version: the original was overwritten without versioning "
                "or deleted permanently, and no authentic copy is left in the bucket"
            )
        history = f"the object has {len(versions)} versions: it was overwritten after delivery"
        latest = next((v for v in versions if v.get("IsLatest")), versions[0])
        tampered_id = current.version_id or str(latest.get("VersionId"))
        tampered = next((v for v in versions if v.get("VersionId") == tampered_id), latest)
        # Oldest first: CloudTrail's delivery is the first version, so one download usually settles it.
        candidates = [v for v in reversed(versions) if v.get("VersionId") != tampered_id][:MAX_VERSIONS_CHECKED]
        for version in candidates:
            vid = str(version["VersionId"])
            try:
                resp = self.s3.get_object(Bucket=self._bucket, Key=key, VersionId=vid)
                body, _size = _bounded_body(resp)
                if body is None:
                    continue  # larger than any log: not the authentic one
                actual = gunzip_sha256(body)
            except (ClientError, BotoCoreError, zlib.error):
                continue  # an unreadable version cannot be the authentic one; the others still can
            if actual == expected:
                recovered = RecoveredVersion(
                    key=key,
                    authentic_version=vid,
                    authentic_written=_written(version),
                    tampered_version=tampered_id,
                    tampered_written=_written(tampered),
                    sha256_decompressed=expected,
                    tampered_sha256_decompressed=_safe_sha(current.body),
                    digest=digest,
                    versions=len(versions),
                )
                note = (
                    f"{history}; version {vid} (written {recovered.authentic_written}) matches the digest "
                    f"and is authentic; version {tampered_id} (written {recovered.tampered_written}) is the rewrite"
                )
                return VersionSearch(recovered, note)
        checked = len(candidates)
        bound = f" (the oldest {checked} checked)" if len(versions) - 1 > checked else ""
        return VersionSearch(
            note=f"{history}; none of its other {len(versions) - 1} versions{bound} matches the digest: "
            "the original is gone (deleted permanently where no Object Lock protects it) and its events "
            "stay hidden"
        )


def _bounded_body(resp: Mapping[str, Any]) -> tuple[bytes | None, int]:
    """A GetObject body, read only when it can hold a log within the cap: (body or None, size)."""
    limit = stored_limit()
    stream = resp["Body"]
    declared = resp.get("ContentLength")
    if isinstance(declared, int) and declared > limit:
        stream.close()
        return None, declared
    parts: list[bytes] = []
    total = 0
    while total <= limit:  # whatever ContentLength said: the stream is what is read
        chunk = stream.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            return b"".join(parts), total
        parts.append(chunk)
        total += len(chunk)
    stream.close()
    return None, total


def _written(version: Mapping[str, Any]) -> str:
    when = version.get("LastModified")
    return format_time(when) if isinstance(when, datetime) else str(when or "unknown")


def _safe_sha(body: bytes) -> str:
    try:
        return gunzip_sha256(body)
    except zlib.error:
        return ""


def _client_error(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    from irkit.aws.session import error_code

    if isinstance(exc, ClientError):
        return error_code(exc) or "error"
    return type(exc).__name__


# -- public keys -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PublicKeyRing:
    """Trusted digest-signing keys by fingerprint (MD5 hex of the PKCS#1 DER key)."""

    keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: rsa.RSAPublicKey, fingerprint: str | None = None) -> str:
        fp = (fingerprint or public_key_fingerprint(key)).lower()
        self.keys[fp] = key
        return fp

    def get(self, fingerprint: str) -> rsa.RSAPublicKey | None:
        return self.keys.get(fingerprint.lower())

    def __len__(self) -> int:
        return len(self.keys)


def load_key_bytes(data: bytes, name: str = "key") -> rsa.RSAPublicKey:
    """A PEM or DER RSA public key, SubjectPublicKeyInfo or PKCS#1."""
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
    except ValueError as exc:
        raise UsageError(f"{name}: not a PEM or DER public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise UsageError(f"{name}: not an RSA public key")
    return key


def load_public_keys(
    cloudtrail: Any | None,
    files: Iterable[Path] = (),
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> PublicKeyRing:
    """Keys from ``cloudtrail:ListPublicKeys`` when it answers, plus every given PEM/DER file.

    A failing ListPublicKeys (no permission, a simulator that does not implement it) is a note,
    not an error: the files are the fallback. No keys at all is for the caller to refuse.
    """
    ring = PublicKeyRing()
    if cloudtrail is not None:  # the SDK's errors and error codes, only when the SDK was asked
        from botocore.exceptions import BotoCoreError, ClientError

        from irkit.aws.session import error_code

        kwargs: dict[str, Any] = {}
        if start is not None:
            kwargs["StartTime"] = start
        if end is not None:
            kwargs["EndTime"] = end
        try:
            while True:
                resp = cloudtrail.list_public_keys(**kwargs)
                for item in resp.get("PublicKeyList", []):
                    ring.add(load_key_bytes(item["Value"], "ListPublicKeys"), item.get("Fingerprint"))
                token = resp.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        except (ClientError, BotoCoreError, UsageError) as exc:
            # The code, not the message: a simulator's 500 carries a whole HTML page.
            why = error_code(exc) or type(exc).__name__
            ring.notes.append(f"cloudtrail:ListPublicKeys unavailable ({why}); using public key files")
    for path in files:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read public key {path}: {exc.strerror}") from None
        ring.add(load_key_bytes(data, str(path)))
    return ring


# -- the verifier ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Digest:
    key: str
    claimed_key: str
    start: datetime
    end: datetime
    previous_key: str | None
    previous_signature: str | None
    signature: str | None
    log_files: list[Mapping[str, Any]]


def gunzip_sha256(body: bytes) -> str:
    """SHA-256 hex of the decompressed bytes (every gzip member, at most ``MAX_DECOMPRESSED``), streamed;
    ``zlib.error`` (:class:`~irkit.cloudtrail.inflate.InflateError`) when that cannot be computed."""
    return sha256_inflated(body).sha256


_NOT_A_LOG = (
    "not a CloudTrail log file name, yet a file the reader would read: no digest can vouch for it "
    "(planted, or copied in by hand); irkit never collects it"
)


def _refused_detail(reason: str) -> str:
    return (
        f"{reason}: not collected, not read (an archive key is data, never a path); CloudTrail writes no "
        "such key, so someone else wrote it into the archive"
    )


class DigestVerifier:
    """Verify one archive source; problems go to ``on_problem`` as they are found and into the report."""

    def __init__(
        self,
        source: ArchiveSource,
        keys: PublicKeyRing,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        on_problem: Callable[[IntegrityProblem], None] | None = None,
    ) -> None:
        self.source = source
        self.keys = keys
        self.start = start
        self.end = end
        self.on_problem = on_problem
        self._problems: list[IntegrityProblem] = []
        self._pending: list[str] = []
        self._logs_checked = 0
        self._digests_checked = 0

    def _report(
        self, kind: str, key: str, detail: str, *, uri: bool = True, recovered: RecoveredVersion | None = None
    ) -> None:
        problem = IntegrityProblem(kind, self.source.uri(key) if uri else key, detail, recovered)
        self._problems.append(problem)
        if self.on_problem is not None:
            self.on_problem(problem)

    def _wanted(self, info: KeyInfo) -> bool:
        if self.start is None and self.end is None:
            return True
        start = self.start or datetime.min.replace(tzinfo=info.delivered.tzinfo)
        end = self.end or datetime.max.replace(tzinfo=info.delivered.tzinfo) - DIGEST_LAG
        return in_window(info, start, end)

    def verify(self, prefixes: Sequence[str] = ("",)) -> VerifyReport:
        logs: dict[tuple[str, str], dict[str, KeyInfo]] = {}
        digests: dict[tuple[str, str], list[tuple[str, KeyInfo]]] = {}
        seen: set[str] = set()
        for prefix in prefixes:
            for key in self.source.list_keys(prefix):
                if key in seen:
                    continue
                seen.add(key)
                reason = archive_keys.refusal(key)
                if reason is not None:
                    self._report(KEY_REFUSED, key, _refused_detail(reason))
                    continue
                info = parse_key(key)
                if info is None and is_log_path(PurePosixPath(key)):
                    self._report(LOG_NOT_IN_DIGEST, key, _NOT_A_LOG)
                    continue
                if info is None or not self._wanted(info):
                    continue
                stream = (info.account, info.region)
                if info.digest:
                    digests.setdefault(stream, []).append((key, info))
                else:
                    logs.setdefault(stream, {})[key] = info

        refused = getattr(self.source, "refused", None)
        for where, detail, is_uri in refused() if callable(refused) else ():
            self._report(KEY_REFUSED, where, detail, uri=not is_uri)

        loaded = {stream: self._load_digests(items) for stream, items in sorted(digests.items())}
        newest = {s: max(d.end for d in ds) for s, ds in loaded.items() if ds}
        # How far digests should reach: the window's end, else the newest digest of any stream,
        # else (no digest at all) the newest log: an archive of logs without digests proves nothing.
        reference = (
            self.end
            or max(newest.values(), default=None)
            or max((i.delivered for ls in logs.values() for i in ls.values()), default=None)
        )

        for stream in sorted(set(logs) | set(loaded)):
            chain = loaded.get(stream, [])
            self._check_chain(chain)
            covered = self._check_logs(chain, logs.get(stream, {}))
            stream_newest = newest.get(stream)
            oldest_log = min((i.delivered for i in logs.get(stream, {}).values()), default=None)
            if reference is not None and (
                (stream_newest is None and oldest_log is not None and oldest_log < reference - DIGEST_LAG)
                or (stream_newest is not None and stream_newest < reference - DIGEST_LAG)
            ):
                where = self._digest_folder(stream, logs.get(stream, {}), chain)
                last = format_time(stream_newest) if stream_newest else "never"
                self._report(
                    DIGESTS_STOPPED,
                    where,
                    f"{stream[0]} {stream[1]}: the newest digest ends {last}, digests are expected up to "
                    f"{format_time(reference - DIGEST_LAG)}: logging stopped or the newest digests "
                    "were deleted",
                )
            for key, info in sorted(logs.get(stream, {}).items()):
                if key in covered:
                    continue
                if stream_newest is not None and info.delivered < stream_newest:
                    self._report(
                        LOG_NOT_IN_DIGEST,
                        key,
                        f"delivered {format_time(info.delivered)}, "
                        f"before the newest digest ({format_time(stream_newest)}), yet no digest lists it",
                    )
                elif reference is not None and info.delivered < reference - DIGEST_LAG:
                    self._report(
                        LOG_NOT_IN_DIGEST,
                        key,
                        f"delivered {format_time(info.delivered)} but no digest covers its hour",
                    )
                else:
                    self._pending.append(self.source.uri(key))
        return VerifyReport(
            logs_checked=self._logs_checked,
            digests_checked=self._digests_checked,
            problems=list(self._problems),
            pending=list(self._pending),
            notes=list(self.keys.notes),
        )

    @staticmethod
    def _digest_folder(
        stream: tuple[str, str], stream_logs: Mapping[str, KeyInfo], chain: Sequence[_Digest]
    ) -> str:
        if chain:
            return chain[-1].key
        sample = next(iter(sorted(stream_logs)), "")
        return sample.replace("/CloudTrail/", "/CloudTrail-Digest/", 1).rsplit("/", 4)[0] + "/"

    # digests ---------------------------------------------------------------------------------

    def _load_digests(self, items: list[tuple[str, KeyInfo]]) -> list[_Digest]:
        out: list[_Digest] = []
        for key, _info in sorted(items, key=lambda kv: kv[1].delivered):
            digest = self._load_digest(key)
            if digest is not None:
                out.append(digest)
        out.sort(key=lambda d: d.end)
        return out

    def _load_digest(self, key: str) -> _Digest | None:
        obj = self.source.get(key)
        if obj is None:
            self._report(DIGEST_MISSING, key, "listed but could not be read back")
            return None
        self._digests_checked += 1
        try:
            if obj.too_large is not None:
                raise ValueError(f"{obj.too_large} bytes stored, more than irkit reads")
            raw = bytes(inflate(obj.body))
            check_values(raw)
            doc = orjson.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            end_text = str(doc["digestEndTime"])
            digest = _Digest(
                key=key,
                claimed_key=str(doc["digestS3Object"]),
                start=parse_time(str(doc["digestStartTime"])),
                end=parse_time(end_text),
                previous_key=doc.get("previousDigestS3Object") or None,
                previous_signature=doc.get("previousDigestSignature") or None,
                signature=obj.metadata.get("signature"),
                log_files=[f for f in doc.get("logFiles") or [] if isinstance(f, dict)],
            )
        except (
            OSError,
            EOFError,
            zlib.error,
            orjson.JSONDecodeError,
            ValueError,
            TooManyValues,
            KeyError,
            TypeError,
        ) as exc:
            self._report(DIGEST_UNREADABLE, key, f"not a readable digest file ({exc})")
            return None
        claimed_bucket = str(doc.get("digestS3Bucket") or "")
        if digest.claimed_key != key or (self.source.bucket and claimed_bucket != self.source.bucket):
            self._report(
                DIGEST_MOVED,
                key,
                f"the digest says it was delivered to s3://{claimed_bucket}/{digest.claimed_key}",
            )
        self._check_signature(digest, doc, raw, claimed_bucket, end_text)
        return digest

    def _check_signature(
        self, digest: _Digest, doc: Mapping[str, Any], raw: bytes, bucket: str, end_text: str
    ) -> None:
        if not digest.signature:
            self._report(UNSIGNED, digest.key, "no `signature` metadata on the digest object")
            return
        fingerprint = str(doc.get("digestPublicKeyFingerprint") or "")
        key = self.keys.get(fingerprint)
        if key is None:
            self._report(
                UNKNOWN_KEY,
                digest.key,
                f"signed with key {fingerprint or '(none)'}, which is not among the trusted public keys",
            )
            return
        # The signature covers the location the digest *claims*; a moved digest is reported above.
        message = signing_string(end_text, bucket, digest.claimed_key, raw, digest.previous_signature)
        try:
            key.verify(bytes.fromhex(digest.signature), message, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            # Never show more than the verdict: a verification error's internals help nobody here.
            self._report(BAD_SIGNATURE, digest.key, "the signature does not verify: the digest was altered")

    def _check_chain(self, digests: Sequence[_Digest]) -> None:
        present = {d.claimed_key for d in digests} | {d.key for d in digests}
        # Backfill digests (``…_backfill.json.gz``) add late logs to an hour; they are signed and
        # their logs checked, but they are not links of the hourly chain.
        chain = [d for d in digests if not d.key.endswith("_backfill.json.gz")]
        for i, cur in enumerate(chain):
            prev = chain[i - 1] if i else None
            if cur.previous_key is None:
                if prev is not None:
                    self._report(
                        CHAIN_RESTART,
                        cur.key,
                        f"a new chain starts at {format_time(cur.start)} "
                        f"after one that ended {format_time(prev.end)}: logging was stopped and restarted",
                    )
                continue
            if cur.previous_key not in present:
                pointed = parse_key(cur.previous_key)
                pointed_end = pointed.delivered if pointed else cur.start
                if prev is None and self.start is not None and pointed_end < self.start:
                    continue  # the predecessor lies before the window we were asked about
                self._report(
                    DIGEST_MISSING,
                    cur.previous_key,
                    f"named as previous digest by {cur.key}, but it is not in the archive",
                )
                hole_start = prev.end if prev is not None else self.start
                if hole_start is not None and pointed_end - DIGEST_PERIOD - hole_start > _SLACK:
                    self._report(
                        CHAIN_GAP,
                        cur.previous_key,
                        f"no digest covers {format_time(hole_start)} to "
                        f"{format_time(pointed_end - DIGEST_PERIOD)}: earlier digests were deleted too",
                    )
                continue
            if prev is None:
                continue
            if cur.previous_key not in {prev.claimed_key, prev.key}:
                self._report(
                    CHAIN_BROKEN,
                    cur.key,
                    f"names {cur.previous_key} as previous digest, but the digest before it is {prev.key}",
                )
            elif prev.signature and cur.previous_signature != prev.signature:
                self._report(
                    CHAIN_BROKEN,
                    cur.key,
                    f"previousDigestSignature does not match the signature of {prev.key}",
                )
            elif abs(cur.start - prev.end) > _SLACK:
                self._report(
                    CHAIN_GAP,
                    cur.key,
                    f"starts {format_time(cur.start)} but the previous digest ends {format_time(prev.end)}",
                )

    # logs ------------------------------------------------------------------------------------

    def _check_logs(self, chain: Sequence[_Digest], present: Mapping[str, KeyInfo]) -> set[str]:
        covered: set[str] = set()
        for digest in chain:
            for entry in digest.log_files:
                key = str(entry.get("s3Object") or "")
                info = parse_key(key)
                if info is None or not self._wanted(info):
                    continue
                covered.add(key)
                if key not in present:
                    self._report(LOG_MISSING, key, f"listed in {digest.key} but not in the archive")
                    continue
                obj = self.source.get(key)
                if obj is None:
                    self._report(LOG_MISSING, key, f"listed in {digest.key} but could not be read")
                    continue
                self._logs_checked += 1
                expected = str(entry.get("hashValue") or "").lower()
                actual, why = _log_hash(obj, str(entry.get("hashValue")), digest.key)
                if actual != expected:
                    search = self.source.find_authentic(key, expected, obj, digest.key)
                    detail = why + (f"; {search.note}" if search.note else "")
                    self._report(LOG_TAMPERED, key, detail, recovered=search.recovered)
        return covered


def _log_hash(obj: StoredObject, recorded: str, digest_key: str) -> tuple[str, str]:
    """(SHA-256 of the decompressed log, or "" when it cannot be had; why it would not match)."""
    if obj.too_large is not None:
        return "", (
            f"the object is {obj.too_large} bytes stored, more than any log within irkit's "
            f"{size_text(inflate_module.MAX_DECOMPRESSED)} limit holds: it cannot be the log the digest lists"
        )
    if obj.sha256_decompressed is not None and obj.sha256_decompressed == recorded.lower():
        return obj.sha256_decompressed, ""
    try:
        result = sha256_inflated(obj.body)
    except TooLarge as exc:
        return "", f"{exc} (irkit's limit for one log; not hashed further): it cannot be the log the digest lists"
    except zlib.error as exc:
        return "", f"not a valid gzip file any more ({exc})"
    why = f"SHA-256 {result.sha256} differs from {recorded} recorded in {digest_key}"
    if result.members > 1:
        why += f"; the file holds {result.members} gzip members where CloudTrail writes one: data was appended"
    return result.sha256, why


def window_prefixes(
    layout: TrailLayout, accounts: Sequence[str], regions: Sequence[str], start: datetime, end: datetime
) -> list[str]:
    """The day folders (logs and digests) that can hold the window's files."""
    out: list[str] = []
    for account in accounts:
        for region in regions:
            for day in days_between(start, end + DELIVERY_LAG):
                out.append(layout.day_prefix(account, region, day))
            for day in days_between(start, end + DIGEST_LAG):
                out.append(layout.day_prefix(account, region, day, digest=True))
    return out


def verify_s3_window(
    s3: Any,
    layout: TrailLayout,
    keys: PublicKeyRing,
    *,
    accounts: Sequence[str],
    regions: Sequence[str] = (),
    start: datetime,
    end: datetime,
    on_problem: Callable[[IntegrityProblem], None] | None = None,
) -> VerifyReport:
    """Verify the archive bucket itself over [start, end] (what ``contain`` runs); empty
    ``regions`` are discovered from the account's CloudTrail folders."""
    source = S3Source(s3, layout.bucket)
    prefixes: list[str] = []
    for account in accounts:
        found = list(regions) or [r for r in source.folders(layout.region_root(account)) if r]
        prefixes.extend(window_prefixes(layout, [account], found, start, end))
    return DigestVerifier(source, keys, start=start, end=end, on_problem=on_problem).verify(prefixes)


def verify_evidence(
    dest: Path,
    keys: PublicKeyRing,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    on_problem: Callable[[IntegrityProblem], None] | None = None,
    known_hashes: Mapping[str, tuple[str, str]] | None = None,
) -> VerifyReport:
    """Verify a collected evidence folder; the window defaults to the one its manifest records.

    ``known_hashes`` (see :class:`LocalSource`) spares re-inflating the files a collection has just written."""
    source = LocalSource(dest, known_hashes)
    if start is None and end is None and source.window is not None:
        start, end = source.window
    return DigestVerifier(source, keys, start=start, end=end, on_problem=on_problem).verify()
