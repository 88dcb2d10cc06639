"""Write a realistic CloudTrail archive: gzip log files plus an hourly, signed digest chain.

Used by tests, the benchmark and the drill. The output follows CloudTrail's own format closely
enough that ``aws cloudtrail validate-logs`` logic (and ours) accepts it: logs at
:meth:`TrailLayout.log_key`, digests at :meth:`TrailLayout.digest_key`, each digest signed with RSA
PKCS#1 v1.5 / SHA-256 over ``digestEndTime\\n<bucket>/<key>\\n<sha256 hex of the digest JSON>\\n
<previous signature or "null">``, the signature hex in the object metadata ``signature``.

Example::

    writer = ArchiveWriter(layout, S3Sink(s3, bucket))
    writer.add_records("111111111111", "us-east-1", records)          # grouped into 5-minute files
    writer.seal_digests(until=datetime.now(UTC))
    writer.public_key_pem()                                            # for `irkit verify --public-key`
"""

from __future__ import annotations

import gzip
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from irkit.cloudtrail.keys import evidence_path
from irkit.cloudtrail.layout import DELIVERY_LAG, TrailLayout
from irkit.detect.event import format_time, parse_time

DIGEST_PERIOD = timedelta(hours=1)
FILE_PERIOD = timedelta(minutes=5)
META_SUFFIX = ".meta.json"
"""Beside a local digest file: its S3 object metadata (``signature``, ``signature-algorithm``)."""
SIGNATURE_ALGORITHM = "SHA256withRSA"


class ObjectSink(Protocol):
    """Where the archive goes: an S3 bucket or a folder that mirrors its keys."""

    bucket: str

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None: ...


class S3Sink:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            Metadata=dict(metadata),
            ContentType="application/json",
            ContentEncoding="gzip",
        )


class LocalSink:
    """A folder laid out like the bucket; metadata goes to ``<key>.meta.json`` beside the file."""

    def __init__(self, root: Path, bucket: str = "local-archive") -> None:
        self.root = root
        self.bucket = bucket

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None:
        path = evidence_path(self.root, key)  # a key is data: never outside the folder
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        if metadata:
            meta_path = path.with_name(path.name + META_SUFFIX)
            meta_path.write_bytes(orjson.dumps(dict(metadata), option=orjson.OPT_INDENT_2))


def public_key_fingerprint(key: rsa.RSAPublicKey) -> str:
    """MD5 hex of the PKCS#1 DER public key: the form ``ListPublicKeys`` returns and digests name."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return hashlib.md5(der, usedforsecurity=False).hexdigest()


def signing_string(
    end_time: str, bucket: str, key: str, digest_json: bytes, previous_signature: str | None
) -> bytes:
    """The string CloudTrail signs; ``digest_json`` is the *decompressed* digest file."""
    digest_hash = hashlib.sha256(digest_json).hexdigest()
    return f"{end_time}\n{bucket}/{key}\n{digest_hash}\n{previous_signature or 'null'}".encode()


@dataclass(slots=True)
class _LogEntry:
    key: str
    delivered: datetime
    sha256: str
    oldest: str | None
    newest: str | None


@dataclass(slots=True)
class _Stream:
    """One account+region: its logs waiting for a digest and the tail of its chain."""

    pending: list[_LogEntry] = field(default_factory=list)
    last_end: datetime | None = None
    last_key: str | None = None
    last_signature: str | None = None
    last_hash: str | None = None


class ArchiveWriter:
    def __init__(
        self,
        layout: TrailLayout,
        sink: ObjectSink,
        *,
        private_key: rsa.RSAPrivateKey | None = None,
        trail_name: str | None = None,
        compresslevel: int = 6,
    ) -> None:
        self.layout = layout
        self.sink = sink
        self.private_key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fingerprint = public_key_fingerprint(self.private_key.public_key())
        self.trail_name = trail_name
        self.compresslevel = compresslevel
        self._streams: dict[tuple[str, str], _Stream] = {}
        self.log_keys: list[str] = []
        self.digest_keys: list[str] = []

    # -- keys ---------------------------------------------------------------------------------

    def public_key_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def write_public_key(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.public_key_pem())
        return path

    # -- logs ---------------------------------------------------------------------------------

    def add_log_file(
        self,
        account: str,
        region: str,
        records: Sequence[Mapping[str, Any]],
        *,
        delivered: datetime,
        file_id: str | None = None,
    ) -> str:
        """One log file delivered at ``delivered``; its events must be at most 15 minutes older."""
        delivered = delivered.astimezone(UTC).replace(second=0, microsecond=0)
        times = sorted(parse_time(str(r["eventTime"])) for r in records if r.get("eventTime"))
        if times and (times[0] < delivered - DELIVERY_LAG or times[-1] > delivered):
            raise ValueError(
                f"events from {format_time(times[0])} to {format_time(times[-1])} cannot be in a file "
                f"delivered at {format_time(delivered)} (at most {DELIVERY_LAG} older, never newer)"
            )
        raw = orjson.dumps({"Records": list(records)})
        key = self.layout.log_key(account, region, delivered, file_id or secrets.token_hex(8))
        self.sink.put(key, gzip.compress(raw, compresslevel=self.compresslevel, mtime=0), {})
        stream = self._streams.setdefault((account, region), _Stream())
        if stream.last_end is not None and delivered < stream.last_end:
            sealed = format_time(stream.last_end)
            raise ValueError(f"{key}: delivered before the last sealed digest ({sealed})")
        stream.pending.append(
            _LogEntry(
                key=key,
                delivered=delivered,
                sha256=hashlib.sha256(raw).hexdigest(),
                oldest=format_time(times[0]) if times else None,
                newest=format_time(times[-1]) if times else None,
            )
        )
        self.log_keys.append(key)
        return key

    def add_records(
        self,
        account: str,
        region: str,
        records: Iterable[Mapping[str, Any]],
        *,
        delivered: datetime | None = None,
    ) -> list[str]:
        """Write records as log files. With ``delivered`` one file; else one file a 5-minute slice,
        delivered at the slice's end (so no event is more than 5 minutes older than its file)."""
        if delivered is not None:
            return [self.add_log_file(account, region, list(records), delivered=delivered)]
        slices: dict[datetime, list[Mapping[str, Any]]] = {}
        for record in records:
            when = parse_time(str(record["eventTime"]))
            start = when.replace(minute=when.minute - when.minute % 5, second=0, microsecond=0)
            slices.setdefault(start + FILE_PERIOD, []).append(record)
        return [self.add_log_file(account, region, slices[at], delivered=at) for at in sorted(slices)]

    # -- digests ------------------------------------------------------------------------------

    def seal_digests(self, until: datetime, *, start: datetime | None = None) -> list[str]:
        """Write the hourly digests of every stream up to ``until`` (digests with end ≤ until).

        The first digest of a stream starts at ``start`` or the hour of its first log. Hours
        without logs still get a digest, as CloudTrail does. Calling again continues the chain."""
        written: list[str] = []
        for (account, region), stream in sorted(self._streams.items()):
            if stream.last_end is None:
                first = start or min((e.delivered for e in stream.pending), default=None)
                if first is None:
                    continue
                stream.last_end = first.replace(minute=0, second=0, microsecond=0)
            while stream.last_end + DIGEST_PERIOD <= until:
                written.append(self._write_digest(account, region, stream))
        return written

    def _write_digest(self, account: str, region: str, stream: _Stream) -> str:
        assert stream.last_end is not None
        begin, end = stream.last_end, stream.last_end + DIGEST_PERIOD
        covered = [e for e in stream.pending if e.delivered < end]
        stream.pending = [e for e in stream.pending if e.delivered >= end]
        key = self.layout.digest_key(account, region, end, trail_name=self.trail_name)
        newest = max((e.newest for e in covered if e.newest), default=None)
        oldest = min((e.oldest for e in covered if e.oldest), default=None)
        doc: dict[str, Any] = {
            "awsAccountId": account,
            "digestStartTime": format_time(begin),
            "digestEndTime": format_time(end),
            "digestS3Bucket": self.sink.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": self.fingerprint,
            "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
            "newestEventTime": newest,
            "oldestEventTime": oldest,
            "previousDigestS3Bucket": self.sink.bucket if stream.last_key else None,
            "previousDigestS3Object": stream.last_key,
            "previousDigestHashValue": stream.last_hash,
            "previousDigestHashAlgorithm": "SHA-256" if stream.last_key else None,
            "previousDigestSignature": stream.last_signature,
            "logFiles": [
                {
                    "s3Bucket": self.sink.bucket,
                    "s3Object": e.key,
                    "hashValue": e.sha256,
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": e.newest,
                    "oldestEventTime": e.oldest,
                }
                for e in covered
            ],
        }
        body = orjson.dumps(doc)
        to_sign = signing_string(doc["digestEndTime"], self.sink.bucket, key, body, stream.last_signature)
        signature = self.private_key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()).hex()
        self.sink.put(
            key,
            gzip.compress(body, mtime=0),
            {"signature": signature, "signature-algorithm": SIGNATURE_ALGORITHM},
        )
        stream.last_end, stream.last_key = end, key
        stream.last_signature, stream.last_hash = signature, hashlib.sha256(body).hexdigest()
        self.digest_keys.append(key)
        return key


def synthetic_record(
    when: datetime,
    *,
    account: str = "111111111111",
    region: str = "us-east-1",
    principal: str = "arn:aws:iam::111111111111:user/alice",
    event_name: str = "DescribeInstances",
    event_source: str = "ec2.amazonaws.com",
    seq: int = 0,
) -> dict[str, Any]:
    """A plausible CloudTrail record (for tests, the benchmark and drill fillers)."""
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDA" + hashlib.sha1(principal.encode(), usedforsecurity=False).hexdigest()[:17],
            "arn": principal,
            "accountId": account,
            "accessKeyId": "AKIA" + f"{seq:016d}"[-16:],
            "userName": principal.rsplit("/", 1)[-1],
        },
        "eventTime": format_time(when),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0 Python/3.11",
        "requestParameters": {"maxResults": 50},
        "responseElements": None,
        "requestID": f"{seq:08x}-0000-4000-8000-000000000000",
        "eventID": f"{seq % 2**32:08x}-1111-4000-8000-{seq % 2**48:012x}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
