"""The digest verifier at its edges: corrupt and truncated digests and logs, backfill digests, late
digests and the timing slack at its boundary, unsigned and unknown-key digests, the sources'
bounds and paging, the report's JSON. Problems are checked by kind and exact path: what a
responder acts on.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from irkit.cloudtrail import digest as digest_module
from irkit.cloudtrail.digest import (
    BAD_SIGNATURE,
    CHAIN_BROKEN,
    CHAIN_GAP,
    CHAIN_RESTART,
    DIGEST_MISSING,
    DIGEST_MOVED,
    DIGEST_UNREADABLE,
    DIGESTS_STOPPED,
    LOG_MISSING,
    LOG_NOT_IN_DIGEST,
    LOG_TAMPERED,
    UNKNOWN_KEY,
    UNSIGNED,
    DigestVerifier,
    IntegrityProblem,
    LocalSource,
    PublicKeyRing,
    S3Source,
    StoredObject,
    VerifyReport,
    load_key_bytes,
    load_public_keys,
    verify_evidence,
    window_prefixes,
)
from irkit.cloudtrail.layout import DIGEST_LAG, TrailLayout, parse_key
from irkit.cloudtrail.writer import ArchiveWriter, LocalSink, signing_string, synthetic_record
from irkit.detect.event import format_time, parse_time
from irkit.errors import UsageError
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive

BUCKET = "org-trail"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"
EAST = "us-east-1"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ArchiveWriter]:
    root = tmp_path_factory.mktemp("strength-archive")
    writer = build_archive(LocalSink(root / "bucket", bucket=BUCKET))
    return root / "bucket", writer.write_public_key(root / "key.pem"), writer


@pytest.fixture
def archive(template: tuple[Path, Path, ArchiveWriter], tmp_path: Path) -> Iterator[tuple[Path, ArchiveWriter]]:
    src, _, writer = template
    shutil.copytree(src, tmp_path / "bucket")
    yield tmp_path / "bucket", writer


@pytest.fixture
def keys(template: tuple[Path, Path, ArchiveWriter]) -> PublicKeyRing:
    return load_public_keys(None, [template[1]])


def verify(root: Path, keys: PublicKeyRing, **kw: Any) -> VerifyReport:
    return DigestVerifier(LocalSource(root), keys, **kw).verify()


def kinds(report: VerifyReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in report.problems:
        out.setdefault(p.kind, []).append(p.path)
    return out


def digests(writer: ArchiveWriter, region: str = EAST) -> list[str]:
    return [k for k in writer.digest_keys if f"/{region}/" in k]


def logs(writer: ArchiveWriter, region: str = EAST) -> list[str]:
    return [k for k in writer.log_keys if f"/{region}/" in k]


def read_digest(root: Path, key: str) -> dict[str, Any]:
    return dict(orjson.loads(gzip.decompress((root / key).read_bytes())))


def put_digest(root: Path, key: str, doc: dict[str, Any], writer: ArchiveWriter) -> str:
    """Write ``doc`` at ``key``, signed with the trail's own key (only the chain can tell)."""
    body = orjson.dumps(doc)
    message = signing_string(doc["digestEndTime"], doc["digestS3Bucket"], doc["digestS3Object"], body,
                             doc.get("previousDigestSignature"))  # fmt: skip
    signature = writer.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256()).hex()
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    (root / key).write_bytes(gzip.compress(body))
    (root / (key + ".meta.json")).write_bytes(orjson.dumps({"signature": signature}))
    return signature


def put_log(root: Path, key: str, records: list[dict[str, Any]]) -> str:
    raw = orjson.dumps({"Records": records})
    (root / key).parent.mkdir(parents=True, exist_ok=True)
    (root / key).write_bytes(gzip.compress(raw))
    return hashlib.sha256(raw).hexdigest()


# -- corrupt and truncated digests ---------------------------------------------------------------


def _corrupt(body: bytes, doc: dict[str, Any], damage: str) -> bytes:
    if damage == "not-gzip":
        return b"this is not a gzip file"
    if damage == "truncated":
        return body[: len(body) // 2]
    if damage == "empty":
        return b""
    if damage == "not-json":
        return gzip.compress(b"{not json")
    if damage == "json-array":
        return gzip.compress(b"[1, 2, 3]")
    if damage == "no-end-time":
        return gzip.compress(orjson.dumps({k: v for k, v in doc.items() if k != "digestEndTime"}))
    if damage == "no-object":
        return gzip.compress(orjson.dumps({k: v for k, v in doc.items() if k != "digestS3Object"}))
    if damage == "bad-time":
        return gzip.compress(orjson.dumps({**doc, "digestStartTime": "yesterday"}))
    return gzip.compress(orjson.dumps({**doc, "logFiles": "not a list"}))


@pytest.mark.parametrize(
    "damage", ["not-gzip", "truncated", "empty", "not-json", "json-array", "no-end-time", "no-object", "bad-time"]
)
def test_an_unreadable_digest_is_named_and_its_logs_are_not_vouched_for(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, damage: str
) -> None:
    root, writer = archive
    victim = digests(writer)[1]  # covers 01:00-02:00
    doc = read_digest(root, victim)
    (root / victim).write_bytes(_corrupt((root / victim).read_bytes(), doc, damage))
    report = verify(root, keys)
    found = kinds(report)
    assert found[DIGEST_UNREADABLE] == [str(root / victim)]
    [problem] = [p for p in report.problems if p.kind == DIGEST_UNREADABLE]
    assert problem.detail.startswith("not a readable digest file (")
    covered = {str(root / f["s3Object"]) for f in doc["logFiles"]}
    assert len(covered) == 6 and set(found[LOG_NOT_IN_DIGEST]) == covered  # none of its logs passes
    assert not report.ok
    assert report.digests_checked == 8  # it was read; the others were all checked


def test_a_digest_whose_log_list_is_no_list_lists_nothing(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = digests(writer)[1]
    doc = read_digest(root, victim)
    put_digest(root, victim, {**doc, "logFiles": [None, "x", *doc["logFiles"][1:]]}, writer)
    found = kinds(verify(root, keys))
    assert len(found[LOG_NOT_IN_DIGEST]) == 1  # the entry that was replaced by junk
    assert CHAIN_BROKEN in found  # re-signed: the next digest's link no longer matches


def test_a_listed_digest_that_cannot_be_read_back_is_missing(keys: PublicKeyRing, tmp_path: Path) -> None:
    class Vanishing(LocalSource):
        def get(self, key: str) -> StoredObject | None:
            return None if "CloudTrail-Digest" in key else super().get(key)

    writer = build_archive(LocalSink(tmp_path, bucket=BUCKET), regions=(EAST,), hours=2, pending=False)
    report = DigestVerifier(
        Vanishing(tmp_path), load_public_keys(None, [writer.write_public_key(tmp_path / "k")])
    ).verify()
    missing = [p for p in report.problems if p.kind == DIGEST_MISSING]
    assert {p.path for p in missing} >= {str(tmp_path / k) for k in writer.digest_keys}
    assert all(p.detail == "listed but could not be read back" for p in missing if p.path.endswith("00Z.json.gz"))
    assert report.digests_checked == 0


@pytest.mark.parametrize("damage", ["truncated", "not-gzip", "empty"])
def test_a_truncated_or_corrupt_log_is_tampered(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, damage: str
) -> None:
    root, writer = archive
    victim = logs(writer)[5]
    (root / victim).write_bytes(_corrupt((root / victim).read_bytes(), {}, damage))
    report = verify(root, keys)
    assert kinds(report) == {LOG_TAMPERED: [str(root / victim)]}
    assert "not a valid gzip file any more" in report.problems[0].detail or damage == "empty"


def test_a_listed_log_that_cannot_be_read_back_is_missing(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = logs(writer)[2]

    class Vanishing(LocalSource):
        def get(self, key: str) -> StoredObject | None:
            return None if key == victim else super().get(key)

    report = DigestVerifier(Vanishing(root), keys).verify()
    [problem] = report.problems
    assert (problem.kind, problem.path) == (LOG_MISSING, str(root / victim))
    assert problem.detail.startswith("listed in ") and problem.detail.endswith("but could not be read")


def test_a_large_log_hashes_over_all_its_bytes(tmp_path: Path) -> None:
    """Over a few MiB the hash is streamed in chunks: every chunk counts, once."""
    writer = ArchiveWriter(TrailLayout(BUCKET), LocalSink(tmp_path, bucket=BUCKET))
    noise = os.urandom(3 << 20).hex()  # incompressible: the gzip file spans several chunks
    record = {**synthetic_record(T0 + timedelta(minutes=1), account=ACCOUNT), "requestParameters": {"n": noise}}
    key = writer.add_log_file(ACCOUNT, EAST, [record], delivered=T0 + timedelta(minutes=5))
    writer.seal_digests(until=T0 + timedelta(hours=1))
    assert (tmp_path / key).stat().st_size > 3 << 20
    ring = load_public_keys(None, [writer.write_public_key(tmp_path / "k.pem")])
    report = verify(tmp_path, ring)
    assert report.ok and report.logs_checked == 1
    body = (tmp_path / key).read_bytes()
    (tmp_path / key).write_bytes(body[: -(2 << 20)] + bytes(reversed(body[-(2 << 20) :])))
    assert kinds(verify(tmp_path, ring)) == {LOG_TAMPERED: [str(tmp_path / key)]}


# -- signatures -------------------------------------------------------------------------------------


def test_a_digest_without_its_signature_is_unsigned(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    first, second = digests(writer)[:2]
    (root / (first + ".meta.json")).unlink()
    (root / (second + ".meta.json")).write_bytes(b"{damaged")
    report = verify(root, keys)
    unsigned = [p for p in report.problems if p.kind == UNSIGNED]
    assert [p.path for p in unsigned] == [str(root / first), str(root / second)]
    assert unsigned[0].detail == "no `signature` metadata on the digest object"


@pytest.mark.parametrize("signature", ["zz-not-hex", "00" * 256, ""])
def test_a_signature_that_does_not_verify_is_bad(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, signature: str
) -> None:
    root, writer = archive
    victim = digests(writer)[3]  # the newest: no successor's link is involved
    (root / (victim + ".meta.json")).write_bytes(orjson.dumps({"signature": signature}))
    found = kinds(verify(root, keys))
    assert found == ({BAD_SIGNATURE: [str(root / victim)]} if signature else {UNSIGNED: [str(root / victim)]})


def test_a_digest_naming_no_key_or_an_unknown_one_is_not_trusted(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = digests(writer)[3]
    doc = read_digest(root, victim)
    put_digest(root, victim, {**doc, "digestPublicKeyFingerprint": None}, writer)
    report = verify(root, keys)
    [problem] = report.problems
    assert (problem.kind, problem.path) == (UNKNOWN_KEY, str(root / victim))
    assert "signed with key (none)" in problem.detail
    fingerprint = doc["digestPublicKeyFingerprint"]
    put_digest(root, victim, {**doc, "digestPublicKeyFingerprint": fingerprint.upper()}, writer)
    assert verify(root, keys).ok  # fingerprints compare in any case


def test_a_digest_claiming_another_bucket_is_moved(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = digests(writer)[3]
    put_digest(root, victim, {**read_digest(root, victim), "digestS3Bucket": "elsewhere"}, writer)
    (root / "manifest.json").write_bytes(orjson.dumps({"bucket": BUCKET}))
    report = verify(root, keys)
    assert kinds(report) == {DIGEST_MOVED: [str(root / victim)]}
    assert f"s3://elsewhere/{victim}" in report.problems[0].detail
    (root / "manifest.json").unlink()  # without a known bucket the claim cannot be checked
    assert verify(root, keys).ok


# -- backfill and late digests --------------------------------------------------------------------


def _late_log(root: Path, writer: ArchiveWriter, hour: int) -> tuple[str, str]:
    """A log delivered into an hour whose hourly digest is already sealed (and does not list it)."""
    delivered = T0 + timedelta(hours=hour, minutes=33)
    key = writer.layout.log_key(ACCOUNT, EAST, delivered, "late0000backfill")
    sha = put_log(root, key, [synthetic_record(delivered - timedelta(minutes=3), account=ACCOUNT, seq=7777)])
    return key, sha


def _backfill(root: Path, writer: ArchiveWriter, hour: int, entries: list[dict[str, Any]]) -> str:
    hourly = digests(writer)[hour]
    doc = read_digest(root, hourly)
    key = hourly.replace(".json.gz", "_backfill.json.gz")
    backfill = {**doc, "digestS3Object": key, "logFiles": entries, "previousDigestS3Object": None,
                "previousDigestSignature": None}  # fmt: skip
    put_digest(root, key, backfill, writer)
    return key


def test_a_backfill_digest_vouches_for_late_logs_without_being_a_link_of_the_chain(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    late, sha = _late_log(root, writer, 1)
    without = verify(root, keys)
    assert kinds(without) == {LOG_NOT_IN_DIGEST: [str(root / late)]}  # the control
    backfill = _backfill(root, writer, 1, [{"s3Object": late, "hashValue": sha}])
    assert parse_key(backfill) is not None and parse_key(backfill).digest  # type: ignore[union-attr]
    report = verify(root, keys)
    assert report.problems == []
    assert (report.digests_checked, report.logs_checked) == (without.digests_checked + 1, without.logs_checked + 1)


def test_a_backfill_digest_is_checked_like_any_other(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    late, _ = _late_log(root, writer, 2)
    backfill = _backfill(root, writer, 2, [{"s3Object": late, "hashValue": "0" * 64}])
    assert kinds(verify(root, keys)) == {LOG_TAMPERED: [str(root / late)]}
    (root / (backfill + ".meta.json")).write_bytes(orjson.dumps({"signature": "00" * 256}))
    assert kinds(verify(root, keys)) == {LOG_TAMPERED: [str(root / late)], BAD_SIGNATURE: [str(root / backfill)]}


def _start_newest_at(root: Path, writer: ArchiveWriter, shift: timedelta) -> str:
    """Move the newest digest's start by ``shift`` from where the one before it ends."""
    newest, before = digests(writer)[3], digests(writer)[2]
    end_before = parse_time(read_digest(root, before)["digestEndTime"])
    doc = read_digest(root, newest)
    put_digest(root, newest, {**doc, "digestStartTime": format_time(end_before + shift)}, writer)
    return newest


@pytest.mark.parametrize(
    ("shift", "gap"),
    [
        (timedelta(0), False),
        (timedelta(minutes=15), False),
        (timedelta(minutes=15, seconds=1), True),
        (-timedelta(minutes=15), False),
        (-timedelta(minutes=15, seconds=1), True),
        (timedelta(hours=3), True),
    ],
    ids=["on-time", "15min-late", "15min1s-late", "15min-early", "15min1s-early", "3h-late"],
)
def test_a_late_or_early_digest_is_a_gap_beyond_fifteen_minutes_of_slack(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, shift: timedelta, gap: bool
) -> None:
    root, writer = archive
    newest = _start_newest_at(root, writer, shift)
    report = verify(root, keys)
    assert kinds(report) == ({CHAIN_GAP: [str(root / newest)]} if gap else {})
    if gap:
        assert report.problems[0].detail.startswith("starts ")


@pytest.mark.parametrize(
    ("after", "gap"),
    [(timedelta(minutes=15), False), (timedelta(minutes=15, seconds=1), True), (timedelta(0), False)],
    ids=["15min", "15min1s", "exact"],
)
def test_a_missing_predecessor_is_a_gap_only_beyond_the_slack(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, after: timedelta, gap: bool
) -> None:
    """The newest digest names a predecessor that is gone: how long a stretch is uncovered is read
    from the predecessor's name (its end) against the digest before it."""
    root, writer = archive
    _first, second, third, newest = digests(writer)
    (root / third).unlink()
    (root / (third + ".meta.json")).unlink()
    end_second = parse_time(read_digest(root, second)["digestEndTime"])
    pointed = writer.layout.digest_key(ACCOUNT, EAST, end_second + timedelta(hours=1) + after)
    put_digest(root, newest, {**read_digest(root, newest), "previousDigestS3Object": pointed}, writer)
    found = kinds(verify(root, keys))
    assert found[DIGEST_MISSING] == [str(root / pointed)]
    assert (CHAIN_GAP in found) is gap
    if gap:
        assert found[CHAIN_GAP] == [str(root / pointed)]


def test_a_chain_gap_names_the_uncovered_stretch(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    for key in digests(writer)[1:3]:
        (root / key).unlink()
    report = verify(root, keys)
    [gap] = [p for p in report.problems if p.kind == CHAIN_GAP]
    assert gap.detail == (
        "no digest covers 2026-11-25T01:00:00Z to 2026-11-25T02:00:00Z: earlier digests were deleted too"
    )
    [missing] = [p for p in report.problems if p.kind == DIGEST_MISSING]
    assert missing.detail == f"named as previous digest by {digests(writer)[3]}, but it is not in the archive"
    assert gap.path == missing.path == str(root / digests(writer)[2])


def test_a_chain_restart_and_a_broken_link_say_what_they_saw(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    newest = digests(writer)[3]
    doc = read_digest(root, newest)
    put_digest(root, newest, {**doc, "previousDigestS3Object": None}, writer)
    [restart] = verify(root, keys).problems
    assert (restart.kind, restart.path) == (CHAIN_RESTART, str(root / newest))
    assert restart.detail == (
        "a new chain starts at 2026-11-25T03:00:00Z after one that ended 2026-11-25T03:00:00Z: "
        "logging was stopped and restarted"
    )
    put_digest(root, newest, {**doc, "previousDigestS3Object": digests(writer)[1]}, writer)
    [broken] = verify(root, keys).problems
    assert (broken.kind, broken.path) == (CHAIN_BROKEN, str(root / newest))
    assert (
        broken.detail
        == f"names {digests(writer)[1]} as previous digest, but the digest before it is {digests(writer)[2]}"
    )


@pytest.mark.parametrize(("late_by", "stopped"), [(timedelta(0), False), (timedelta(seconds=1), True)])
def test_digests_stop_when_the_newest_ends_before_the_window_allows(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, late_by: timedelta, stopped: bool
) -> None:
    root, writer = archive
    newest_end = T0 + timedelta(hours=4)
    report = verify(root, keys, start=T0 + timedelta(hours=2), end=newest_end + DIGEST_LAG + late_by)
    found = kinds(report)
    assert (DIGESTS_STOPPED in found) is stopped
    if stopped:
        assert sorted(found[DIGESTS_STOPPED]) == sorted(str(root / digests(writer, r)[3]) for r in (EAST, "eu-west-1"))
        detail = next(p.detail for p in report.problems if p.kind == DIGESTS_STOPPED)
        assert detail.startswith(f"{ACCOUNT} ") and "the newest digest ends 2026-11-25T04:00:00Z" in detail
        assert "digests are expected up to 2026-11-25T04:00:01Z" in detail


def test_a_region_with_logs_and_no_digest_at_all_has_stopped_since_never(tmp_path: Path, keys: PublicKeyRing) -> None:
    writer = ArchiveWriter(TrailLayout(BUCKET), LocalSink(tmp_path, bucket=BUCKET))
    key = writer.add_log_file(
        ACCOUNT, EAST, [synthetic_record(T0, account=ACCOUNT)], delivered=T0 + timedelta(minutes=5)
    )
    report = verify(tmp_path, keys, end=T0 + timedelta(hours=3))
    [stopped] = [p for p in report.problems if p.kind == DIGESTS_STOPPED]
    assert "the newest digest ends never" in stopped.detail
    assert key.startswith(f"AWSLogs/{ACCOUNT}/CloudTrail/{EAST}/")
    assert stopped.path == str(tmp_path / f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{EAST}")  # where digests belong
    [uncovered] = [p for p in report.problems if p.kind == LOG_NOT_IN_DIGEST]
    assert uncovered.detail == "delivered 2026-11-25T00:05:00Z but no digest covers its hour"


def test_a_log_newer_than_every_digest_is_pending_not_missing(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    report = verify(root, keys)
    assert report.ok and sorted(report.pending) == sorted(str(root / k) for k in writer.log_keys if "T0405Z" in k)
    # a log delivered before the newest digest that no digest lists is not pending
    doc = read_digest(root, digests(writer)[3])
    put_digest(root, digests(writer)[3], {**doc, "logFiles": doc["logFiles"][:-1]}, writer)
    hidden = doc["logFiles"][-1]["s3Object"]
    [problem] = verify(root, keys).problems
    assert (problem.kind, problem.path) == (LOG_NOT_IN_DIGEST, str(root / hidden))
    assert "before the newest digest (2026-11-25T04:00:00Z), yet no digest lists it" in problem.detail


# -- the window, the sources ---------------------------------------------------------------------


def test_the_window_comes_from_the_manifest_and_a_damaged_manifest_is_ignored(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    (root / digests(writer)[0]).unlink()  # 00:00-01:00: outside the window below
    window = {"start": "2026-11-25T02:00:00Z", "end": "2026-11-25T03:00:00Z"}
    victim = logs(writer)[14]
    manifest = {"bucket": BUCKET, "window": window, "objects": [{"key": victim, "version_id": "v-42"}]}
    (root / "manifest.json").write_bytes(orjson.dumps(manifest))
    source = LocalSource(root)
    assert (source.bucket, source.window) == (BUCKET, (parse_time(window["start"]), parse_time(window["end"])))
    assert verify_evidence(root, keys).ok
    (root / victim).write_bytes(gzip.compress(b'{"Records": []}'))
    [problem] = verify_evidence(root, keys).problems
    assert problem.kind == LOG_TAMPERED and problem.detail.endswith("; collected version v-42")
    for damaged in (b"{not json", b"[]", b'{"window": {"start": "yesterday", "end": "x"}}', b'{"objects": [{}]}'):
        (root / "manifest.json").write_bytes(damaged)
        assert LocalSource(root).window is None
    assert not verify_evidence(root, keys).ok  # no window any more: the deleted digest counts


def test_an_explicit_window_wins_over_the_manifest(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    (root / "manifest.json").write_bytes(orjson.dumps({"window": {"start": "2026-11-25T02:00:00Z",
                                                                  "end": "2026-11-25T03:00:00Z"}}))  # fmt: skip
    (root / digests(writer)[0]).unlink()
    assert verify_evidence(root, keys).ok
    assert not verify_evidence(root, keys, start=T0, end=T0 + timedelta(hours=3)).ok


def test_window_prefixes_cover_the_delivery_lag_across_midnight() -> None:
    layout = TrailLayout(BUCKET, "", ORG)
    start, end = datetime(2026, 11, 24, 23, 0, tzinfo=T0.tzinfo), datetime(2026, 11, 24, 23, 50, tzinfo=T0.tzinfo)
    prefixes = window_prefixes(layout, [ACCOUNT], [EAST], start, end)
    assert prefixes == [
        f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/{EAST}/2026/11/24/",
        f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/{EAST}/2026/11/25/",  # 23:50 + 15 min of delivery lag
        f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail-Digest/{EAST}/2026/11/24/",
        f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail-Digest/{EAST}/2026/11/25/",
    ]
    early = window_prefixes(layout, [ACCOUNT], [EAST], start, start + timedelta(minutes=10))
    assert [p for p in early if "/CloudTrail/" in p] == [f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/{EAST}/2026/11/24/"]
    assert len([p for p in early if "Digest" in p]) == 2  # 23:10 + 1h15 reaches the next day


class FakeS3:
    """Just enough of an S3 client: pages, versions, errors."""

    def __init__(self, versions: list[dict[str, Any]] | None = None, bodies: dict[str, bytes] | None = None) -> None:
        self.versions = versions or []
        self.bodies = bodies or {}
        self.calls: list[dict[str, Any]] = []
        self.gets: list[str] = []

    def list_object_versions(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        page = 7
        start = int(kw.get("VersionIdMarker") or 0)
        chunk = self.versions[start : start + page]
        more = start + page < len(self.versions)
        out: dict[str, Any] = {"Versions": chunk, "IsTruncated": more}
        if more:
            out.update(NextKeyMarker=kw["Prefix"], NextVersionIdMarker=str(start + page))
        return out

    def get_object(self, **kw: Any) -> dict[str, Any]:
        vid = kw.get("VersionId", "")
        self.gets.append(vid)
        if vid not in self.bodies:
            raise ClientError({"Error": {"Code": "NoSuchVersion", "Message": "gone"}}, "GetObject")
        return {"Body": _Body(self.bodies[vid]), "VersionId": vid}


class _Body:
    """A streaming body as botocore hands it out: read(size) returns the next chunk, then b""."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.at + size
        chunk = self.data[self.at : end]
        self.at += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True


def _versions(n: int, key: str = "k") -> list[dict[str, Any]]:
    newest_first = [{"Key": key, "VersionId": str(i), "IsLatest": i == n - 1, "LastModified": T0 + timedelta(minutes=i)}
                    for i in reversed(range(n))]  # fmt: skip
    return [*newest_first, {"Key": "k-other", "VersionId": "x"}]


def test_versions_are_paged_and_bounded() -> None:
    s3 = FakeS3(_versions(30))
    assert [v["VersionId"] for v in S3Source(s3, BUCKET).versions("k")] == [str(i) for i in reversed(range(30))]
    assert len(s3.calls) == 5 and s3.calls[1]["KeyMarker"] == "k" and s3.calls[1]["VersionIdMarker"] == "7"
    endless = FakeS3(_versions(1500))
    listed = S3Source(endless, BUCKET).versions("k")
    assert len(listed) == 1000 and len(endless.calls) == 143  # stops listing at the bound


@pytest.mark.parametrize(("authentic", "found"), [(19, True), (0, True), (20, False)])
def test_the_authentic_version_is_looked_for_among_the_oldest_twenty(authentic: int, found: bool) -> None:
    raw = b'{"Records": []}'
    expected = hashlib.sha256(raw).hexdigest()
    bodies = {str(i): gzip.compress(b'{"Records": [1]}' + bytes([i])) for i in range(25)}
    bodies[str(authentic)] = gzip.compress(raw)
    bodies.pop("3")  # an unreadable version is skipped, not fatal
    s3 = FakeS3(_versions(26), bodies)
    current = StoredObject("k", bodies["24"], {}, "25")
    search = S3Source(s3, BUCKET).find_authentic("k", expected, current, "digest-key")
    assert (search.recovered is not None) is found
    if found:
        assert search.recovered is not None and search.recovered.authentic_version == str(authentic)
        assert search.recovered.to_json()["tampered_version"] == "25" and search.recovered.versions == 26
        assert search.recovered.tampered_written == format_time(T0 + timedelta(minutes=25))
    else:
        assert len(s3.gets) == 20 and "(the oldest 20 checked)" in search.note
        assert "none of its other 25 versions" in search.note


def test_a_single_version_or_unlistable_versions_recover_nothing() -> None:
    one = S3Source(FakeS3(_versions(1)), BUCKET).find_authentic("k", "0" * 64, StoredObject("k", b"", {}), "d")
    assert one.recovered is None and "single version" in one.note

    class Denied(FakeS3):
        def list_object_versions(self, **kw: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListObjectVersions")

    denied = S3Source(Denied(), BUCKET).find_authentic("k", "0" * 64, StoredObject("k", b"", {}), "d")
    assert denied.recovered is None and denied.note == "its versions could not be listed (AccessDenied)"


# -- keys -------------------------------------------------------------------------------------------


class FakeTrail:
    def __init__(self, pages: list[list[bytes]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def list_public_keys(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        n = int(kw.get("NextToken", 0))
        out: dict[str, Any] = {"PublicKeyList": [{"Value": v} for v in self.pages[n]]}
        if n + 1 < len(self.pages):
            out["NextToken"] = str(n + 1)
        return out


def _der(writer: ArchiveWriter) -> bytes:
    return writer.private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def test_public_keys_are_paged_from_cloudtrail_for_the_window(tmp_path: Path) -> None:
    writers = [ArchiveWriter(TrailLayout("x"), LocalSink(tmp_path / str(i))) for i in range(3)]
    trail = FakeTrail([[_der(writers[0]), _der(writers[1])], [_der(writers[2])]])
    ring = load_public_keys(trail, start=T0, end=T0 + timedelta(hours=1))
    assert len(ring) == 3 and all(ring.get(w.fingerprint.upper()) is not None for w in writers)
    assert trail.calls[0] == {"StartTime": T0, "EndTime": T0 + timedelta(hours=1)}
    assert trail.calls[1]["NextToken"] == "1" and ring.notes == []


def test_key_files_in_every_form_are_read_and_bad_ones_are_usage_errors(tmp_path: Path) -> None:
    writer = ArchiveWriter(TrailLayout("x"), LocalSink(tmp_path))
    public = writer.private_key.public_key()
    forms = {
        "spki.pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        "pkcs1.pem": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        "spki.der": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "pkcs1.der": _der(writer),
    }
    for name, data in forms.items():
        (tmp_path / name).write_bytes(b"\n  " + data if name.endswith(".pem") else data)
        assert load_public_keys(None, [tmp_path / name]).get(writer.fingerprint) is not None, name
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "ec.pem").write_bytes(
        ec_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(UsageError, match=r"ec\.pem: not an RSA public key"):
        load_public_keys(None, [tmp_path / "ec.pem"])
    with pytest.raises(UsageError, match="junk: not a PEM or DER public key"):
        load_key_bytes(b"junk", "junk")
    with pytest.raises(UsageError, match="cannot read public key"):
        load_public_keys(None, [tmp_path / "absent.pem"])


def test_a_failing_key_listing_is_a_note_and_the_files_are_used(tmp_path: Path) -> None:
    class Broken:
        def list_public_keys(self, **kw: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InternalFailure", "Message": "<html>...</html>"}}, "ListPublicKeys")

    writer = ArchiveWriter(TrailLayout("x"), LocalSink(tmp_path))
    ring = load_public_keys(Broken(), [writer.write_public_key(tmp_path / "k.pem")])
    assert ring.notes == ["cloudtrail:ListPublicKeys unavailable (InternalFailure); using public key files"]
    assert len(ring) == 1
    ring.add(writer.private_key.public_key(), "ABCDEF")
    assert ring.get("abcdef") is not None and len(ring) == 2


# -- the report ---------------------------------------------------------------------------------


def test_the_report_json_and_gaps(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = logs(writer)[1]
    (root / victim).write_bytes(gzip.compress(b"{}"))
    report = verify(root, keys)
    doc = report.to_json()
    assert doc["ok"] is False and (doc["logs_checked"], doc["digests_checked"]) == (48, 8)
    assert doc["problems"] == [{"kind": LOG_TAMPERED, "path": str(root / victim), "detail": report.problems[0].detail}]
    assert doc["pending"] == report.pending and len(doc["pending"]) == 2 and doc["notes"] == []
    [gap] = report.gaps()
    assert (gap.path, gap.reason) == (str(root / victim), f"integrity: log-tampered: {report.problems[0].detail}")
    assert report.recovered == []
    problem = IntegrityProblem("x", "p", "d")
    assert problem.to_json() == {"kind": "x", "path": "p", "detail": "d"}


def test_problems_reach_the_callback_as_they_are_found(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    (root / logs(writer)[0]).unlink()
    (root / digests(writer)[1]).unlink()
    seen: list[IntegrityProblem] = []
    report = DigestVerifier(LocalSource(root), keys, on_problem=seen.append).verify()
    assert seen == report.problems and len(seen) >= 3


def test_every_problem_kind_is_documented_for_the_responder() -> None:
    """The kinds are stable strings (``verify --json``, reports, gaps): each has its row in
    docs/evidence.md, and every documented row is a kind the verifier can report."""
    documented = set(re.findall(r"^\| `([a-z-]+)`", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `[a-z-]+` / `([a-z-]+)`", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    emitted = {
        v for k, v in vars(digest_module).items()
        if k.isupper() and isinstance(v, str) and re.fullmatch(r"[a-z]+(?:-[a-z]+)+", v)
    }  # fmt: skip
    assert len(emitted) == 14
    assert emitted <= documented, sorted(emitted - documented)
    assert {"log-tampered", "digest-missing", "chain-gap", "bad-signature", "digests-stopped", "key-refused"} <= emitted


# -- more of the sources: prefixes, version history, errors ---------------------------------------


def test_a_local_source_lists_under_a_prefix_and_reads_back_by_key(archive: tuple[Path, ArchiveWriter]) -> None:
    root, writer = archive
    source = LocalSource(root)
    east = f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/{EAST}/"
    listed = list(source.list_keys(east))
    assert listed == sorted(logs(writer)) and listed
    assert list(source.list_keys("AWSLogs/nothing-here/")) == []
    assert len(list(source.list_keys())) == len(writer.log_keys) + len(writer.digest_keys)
    obj = source.get(listed[0])
    assert obj is not None and obj.key == listed[0] and obj.metadata == {} and obj.version_id is None
    assert source.get("AWSLogs/absent.json.gz") is None
    assert DigestVerifier(source, load_public_keys(None, [])).verify([east, east]).logs_checked == 0  # no keys: unknown


def test_a_tampered_local_log_without_a_manifest_says_only_what_differs(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = logs(writer)[3]
    (root / victim).write_bytes(gzip.compress(b'{"Records": []}'))
    [problem] = verify(root, keys).problems
    listed_in = next(d for d in digests(writer) if victim in {f["s3Object"] for f in read_digest(root, d)["logFiles"]})
    expected = next(f["hashValue"] for f in read_digest(root, listed_in)["logFiles"] if f["s3Object"] == victim)
    actual = hashlib.sha256(b'{"Records": []}').hexdigest()
    assert problem.detail == f"SHA-256 {actual} differs from {expected} recorded in {listed_in}"


def test_the_recovered_version_json_keeps_its_field_names() -> None:
    bodies = {"0": gzip.compress(b"original"), "1": gzip.compress(b"rewrite")}
    versions = [
        {"Key": "k", "VersionId": "1", "IsLatest": True, "LastModified": "2026-11-25T05:00:00Z"},
        {"Key": "k", "VersionId": "0", "IsLatest": False},
    ]
    search = S3Source(FakeS3(versions, bodies), BUCKET).find_authentic(
        "k", hashlib.sha256(b"original").hexdigest(), StoredObject("k", b"not gzip", {}, None), "d-key"
    )
    assert search.recovered is not None
    assert search.recovered.to_json() == {
        "key": "k",
        "authentic_version": "0",
        "authentic_written": "unknown",  # S3 did not say when
        "tampered_version": "1",  # the read had no version id: the latest one is the rewrite
        "tampered_written": "2026-11-25T05:00:00Z",
        "sha256_decompressed": hashlib.sha256(b"original").hexdigest(),
        "tampered_sha256_decompressed": "",  # the rewrite is not even gzip
        "digest": "d-key",
        "versions": 2,
    }
    assert search.note == (
        "the object has 2 versions: it was overwritten after delivery; version 0 (written unknown) matches the "
        "digest and is authentic; version 1 (written 2026-11-25T05:00:00Z) is the rewrite"
    )


def test_the_latest_version_is_the_rewrite_wherever_it_is_listed() -> None:
    bodies = {"a": gzip.compress(b"original"), "b": gzip.compress(b"x"), "c": gzip.compress(b"y")}
    versions = [
        {"Key": "k", "VersionId": "b", "IsLatest": False},
        {"Key": "k", "VersionId": "c", "IsLatest": True},
        {"Key": "k", "VersionId": "a", "IsLatest": False},
    ]
    unknown_read = StoredObject("k", bodies["c"], {}, "not-listed")
    search = S3Source(FakeS3(versions, bodies), BUCKET).find_authentic(
        "k", hashlib.sha256(b"original").hexdigest(), StoredObject("k", bodies["c"], {}, None), "d"
    )
    assert search.recovered is not None and search.recovered.tampered_version == "c"
    other = S3Source(FakeS3(versions, bodies), BUCKET).find_authentic(
        "k", hashlib.sha256(b"original").hexdigest(), unknown_read, "d"
    )
    assert other.recovered is not None and other.recovered.tampered_written == "unknown"


def test_a_single_version_says_no_authentic_copy_is_left() -> None:
    search = S3Source(FakeS3(_versions(1)), BUCKET).find_authentic("k", "0" * 64, StoredObject("k", b"", {}), "d")
    assert search.note == (
        "the object has a single version: the original was overwritten without versioning "
        "or deleted permanently, and no authentic copy is left in the bucket"
    )


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (ClientError({"Error": {}, "ResponseMetadata": {}}, "ListObjectVersions"), "(error)"),
        (ClientError({"Error": {"Code": "SlowDown"}}, "ListObjectVersions"), "(SlowDown)"),
    ],
)
def test_unlistable_versions_name_what_went_wrong(error: Exception, says: str) -> None:
    from botocore.exceptions import EndpointConnectionError

    class Failing(FakeS3):
        def __init__(self, exc: Exception) -> None:
            super().__init__()
            self.exc = exc

        def list_object_versions(self, **kw: Any) -> dict[str, Any]:
            raise self.exc

    note = S3Source(Failing(error), BUCKET).find_authentic("k", "", StoredObject("k", b"", {}), "d").note
    assert note == f"its versions could not be listed {says}"
    unreachable = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    note = S3Source(Failing(unreachable), BUCKET).find_authentic("k", "", StoredObject("k", b"", {}), "d").note
    assert note == "its versions could not be listed (EndpointConnectionError)"


def test_region_folders_are_read_page_by_page() -> None:
    class Paged:
        def get_paginator(self, name: str) -> Any:
            assert name == "list_objects_v2"
            return self

        def paginate(self, **kw: Any) -> Iterator[dict[str, Any]]:
            assert kw["Delimiter"] == "/"
            yield {"CommonPrefixes": [{"Prefix": kw["Prefix"] + "us-east-1/"}]}
            yield {}  # a page without folders
            yield {"CommonPrefixes": [{"Prefix": kw["Prefix"] + "eu-west-1/"}]}

    assert S3Source(Paged(), BUCKET).folders("AWSLogs/1/CloudTrail/") == ["us-east-1", "eu-west-1"]


def test_the_window_end_bounds_what_a_collected_folder_is_checked_for(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    [late] = [k for k in logs(writer) if "_20261125T0325Z_" in k]  # after the window below
    (root / late).write_bytes(gzip.compress(b"{}"))
    seen: list[IntegrityProblem] = []
    report = verify_evidence(root, keys, start=T0, end=T0 + timedelta(hours=1), on_problem=seen.append)
    assert report.ok and seen == []
    assert not verify_evidence(root, keys, start=T0, end=T0 + timedelta(hours=4), on_problem=seen.append).ok
    assert [p.path for p in seen] == [str(root / late)]


def test_the_window_end_bounds_what_the_bucket_is_checked_for(boto: Any, tmp_path: Path) -> None:
    from irkit.cloudtrail.digest import verify_s3_window
    from irkit.cloudtrail.writer import S3Sink

    s3 = boto("s3")
    s3.create_bucket(Bucket=BUCKET)
    writer = build_archive(S3Sink(s3, BUCKET), regions=(EAST,), hours=3)
    ring = load_public_keys(None, [writer.write_public_key(tmp_path / "k.pem")])
    [late] = [k for k in logs(writer) if "_20261125T0235Z_" in k]
    s3.put_object(Bucket=BUCKET, Key=late, Body=gzip.compress(b"{}"))
    layout = TrailLayout(BUCKET, "", ORG)
    seen: list[IntegrityProblem] = []
    early = verify_s3_window(s3, layout, ring, accounts=[ACCOUNT], regions=[EAST], start=T0,
                             end=T0 + timedelta(minutes=30), on_problem=seen.append)  # fmt: skip
    assert early.ok and seen == []
    whole = verify_s3_window(s3, layout, ring, accounts=[ACCOUNT], start=T0, end=T0 + timedelta(hours=3),
                             on_problem=seen.append)  # fmt: skip
    assert [(p.kind, p.path) for p in whole.problems] == [(LOG_TAMPERED, f"s3://{BUCKET}/{late}")]
    assert seen == whole.problems


class Objects:
    """A bucket as S3Source reads it: listing pages and objects, with S3's errors."""

    def __init__(self, keys: list[str], *, error: str = "NoSuchKey", version: str | None = "null") -> None:
        self.keys, self.error, self.version = keys, error, version
        self.prefixes: list[str] = []

    def get_paginator(self, name: str) -> Any:
        return self

    def paginate(self, **kw: Any) -> Iterator[dict[str, Any]]:
        self.prefixes.append(kw["Prefix"])
        chosen = [k for k in self.keys if k.startswith(kw["Prefix"])]
        yield {"Contents": [{"Key": k} for k in chosen[:2]]}
        yield {"KeyCount": 0}  # a page with no Contents at all
        yield {"Contents": [{"Key": k} for k in chosen[2:]]}

    def get_object(self, **kw: Any) -> dict[str, Any]:
        if kw["Key"] not in self.keys:
            raise ClientError({"Error": {"Code": self.error, "Message": "x"}}, "GetObject")
        out: dict[str, Any] = {"Body": _Body(b"body"), "Metadata": {"Signature": "ab"}}
        if self.version is not None:
            out["VersionId"] = self.version
        return out


def test_the_bucket_is_listed_under_each_prefix_page_by_page() -> None:
    s3 = Objects(["a/1", "a/2", "a/3", "b/1"])
    assert list(S3Source(s3, BUCKET).list_keys("a/")) == ["a/1", "a/2", "a/3"]
    assert list(S3Source(s3, BUCKET).list_keys()) == ["a/1", "a/2", "a/3", "b/1"]
    assert s3.prefixes == ["a/", ""]


def test_reading_an_object_back_keeps_its_version_and_lowercases_metadata() -> None:
    versioned = S3Source(Objects(["k"], version="v7"), BUCKET).get("k")
    assert versioned is not None and (versioned.key, versioned.version_id, versioned.body) == ("k", "v7", b"body")
    assert versioned.metadata == {"signature": "ab"}
    for unversioned in ("null", None):
        obj = S3Source(Objects(["k"], version=unversioned), BUCKET).get("k")
        assert obj is not None and obj.version_id is None


@pytest.mark.parametrize("code", ["NoSuchKey", "404"])
def test_a_missing_object_is_none(code: str) -> None:
    assert S3Source(Objects([], error=code), BUCKET).get("k") is None


def test_any_other_read_error_is_raised_not_taken_for_missing() -> None:
    with pytest.raises(ClientError):
        S3Source(Objects([], error="AccessDenied"), BUCKET).get("k")


@pytest.mark.parametrize(("page", "calls"), [(8, 125), (7, 143)])
def test_versions_stop_at_the_bound_exactly(page: int, calls: int) -> None:
    class Paged(FakeS3):
        def list_object_versions(self, **kw: Any) -> dict[str, Any]:
            self.calls.append(kw)
            n = len(self.calls)
            return {
                "Versions": [{"Key": "k", "VersionId": f"{n}-{i}"} for i in range(page)],
                "IsTruncated": True,
                "NextKeyMarker": "k",
                "NextVersionIdMarker": str(n),
            }

    s3 = Paged()
    assert len(S3Source(s3, BUCKET).versions("k")) == 1000
    assert len(s3.calls) == calls


def test_versions_stop_when_the_listing_moves_past_the_key() -> None:
    class Moved(FakeS3):
        def list_object_versions(self, **kw: Any) -> dict[str, Any]:
            self.calls.append(kw)
            return {"Versions": [{"Key": "k", "VersionId": "1"}, {"Key": "k2", "VersionId": "2"}],
                    "IsTruncated": True, "NextKeyMarker": "k2", "NextVersionIdMarker": "2"}  # fmt: skip

    s3 = Moved()
    assert S3Source(s3, BUCKET).versions("k") == [{"Key": "k", "VersionId": "1"}]
    assert s3.calls == [{"Bucket": BUCKET, "Prefix": "k"}]


def test_the_original_is_named_gone_when_no_version_matches() -> None:
    bodies = {str(i): gzip.compress(bytes([i])) for i in range(3)}
    search = S3Source(FakeS3(_versions(3), bodies), BUCKET).find_authentic(
        "k", "0" * 64, StoredObject("k", bodies["2"], {}, "2"), "d"
    )
    assert search.recovered is None
    assert search.note == (
        "the object has 3 versions: it was overwritten after delivery; none of its other 2 versions matches the "
        "digest: the original is gone (deleted permanently where no Object Lock protects it) and its events "
        "stay hidden"
    )


def test_an_s3_source_knows_its_bucket() -> None:
    assert S3Source(Objects([]), BUCKET).bucket == BUCKET


def test_a_json_array_digest_says_it_is_no_object(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = digests(writer)[3]
    (root / victim).write_bytes(gzip.compress(b"[]"))
    [problem] = [p for p in verify(root, keys).problems if p.kind == DIGEST_UNREADABLE]
    assert problem.detail == "not a readable digest file (not a JSON object)"


def test_a_bad_signature_says_the_digest_was_altered(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = digests(writer)[3]
    (root / (victim + ".meta.json")).write_bytes(orjson.dumps({"signature": "00" * 256}))
    [problem] = verify(root, keys).problems
    assert problem.detail == "the signature does not verify: the digest was altered"


def test_a_predecessor_named_by_no_parsable_key_is_missing(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    newest = digests(writer)[3]
    put_digest(root, newest, {**read_digest(root, newest), "previousDigestS3Object": "not/a/digest"}, writer)
    found = kinds(verify(root, keys))
    assert found[DIGEST_MISSING] == [str(root / "not/a/digest")]


@pytest.mark.parametrize(
    ("start", "missing"), [(T0 + timedelta(hours=1), True), (T0 + timedelta(hours=1, seconds=1), False)]
)
def test_a_predecessor_before_the_window_is_not_missing(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, start: datetime, missing: bool
) -> None:
    root, writer = archive
    first, _, third, _ = digests(writer)
    (root / first).unlink()  # ends 01:00: before a window that starts after it
    (root / third).unlink()  # inside the window: always missing
    found = kinds(verify(root, keys, start=start, end=T0 + timedelta(hours=4)))
    assert (str(root / first) in found.get(DIGEST_MISSING, [])) is missing
    assert str(root / third) in found[DIGEST_MISSING]  # and the chain is still followed after it


def test_a_window_open_at_one_end_checks_only_that_side(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    (root / digests(writer)[0]).unlink()  # 00:00-01:00
    [late] = [k for k in logs(writer) if "_20261125T0335Z_" in k]
    (root / late).write_bytes(gzip.compress(b"{}"))
    after = verify(root, keys, start=T0 + timedelta(hours=2))
    assert kinds(after) == {LOG_TAMPERED: [str(root / late)]}  # the deleted early digest is not its business
    before = kinds(verify(root, keys, end=T0 + timedelta(hours=2)))
    assert LOG_TAMPERED not in before  # after the window: not checked
    assert before[DIGEST_MISSING] == [str(root / digests(writer)[0])]  # no start: every predecessor counts
    assert before[LOG_NOT_IN_DIGEST]  # the early hour's logs, without their digest


# -- the verifier over a bucket (an in-memory S3 with versioning) ---------------------------------


class Bucket:
    """Enough of a versioned S3 bucket for S3Sink and S3Source: put, get, list, list versions."""

    def __init__(self) -> None:
        self.objects: dict[str, list[tuple[str, bytes, dict[str, str]]]] = {}

    def put_object(self, **kw: Any) -> dict[str, Any]:
        versions = self.objects.setdefault(kw["Key"], [])
        vid = f"v{len(versions) + 1}"
        versions.append((vid, kw["Body"], dict(kw.get("Metadata") or {})))
        return {"VersionId": vid}

    def get_object(self, **kw: Any) -> dict[str, Any]:
        versions = self.objects.get(kw["Key"], [])
        chosen = [v for v in versions if v[0] == kw["VersionId"]] if "VersionId" in kw else versions[-1:]
        if not chosen:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "x"}}, "GetObject")
        vid, body, meta = chosen[0]
        return {"Body": _Body(body), "Metadata": meta, "VersionId": vid}

    def get_paginator(self, name: str) -> Any:
        return self

    def paginate(self, **kw: Any) -> Iterator[dict[str, Any]]:
        keys = sorted(k for k in self.objects if k.startswith(kw["Prefix"]))
        yield {"Contents": [{"Key": k} for k in keys]}

    def list_object_versions(self, **kw: Any) -> dict[str, Any]:
        versions = self.objects.get(kw["Prefix"], [])
        listed = [
            {"Key": kw["Prefix"], "VersionId": vid, "IsLatest": n == len(versions) - 1,
             "LastModified": T0 + timedelta(hours=6 + n)}
            for n, (vid, _, _) in enumerate(versions)
        ]  # fmt: skip
        return {"Versions": list(reversed(listed)), "IsTruncated": False}


def test_a_rewritten_log_in_a_versioned_bucket_is_recovered_by_the_digest_that_vouches_for_it(tmp_path: Path) -> None:
    from irkit.cloudtrail.writer import S3Sink

    bucket = Bucket()
    writer = build_archive(S3Sink(bucket, BUCKET), regions=(EAST,), hours=2)
    ring = load_public_keys(None, [writer.write_public_key(tmp_path / "k.pem")])
    victim = writer.log_keys[4]
    original = gzip.decompress(bucket.objects[victim][0][1])
    bucket.put_object(Key=victim, Body=gzip.compress(b'{"Records": []}'))
    report = DigestVerifier(S3Source(bucket, BUCKET), ring).verify()
    [problem] = report.problems
    assert (problem.kind, problem.path) == (LOG_TAMPERED, f"s3://{BUCKET}/{victim}")
    assert problem.recovered is not None
    assert (problem.recovered.authentic_version, problem.recovered.tampered_version) == ("v1", "v2")
    assert problem.recovered.sha256_decompressed == hashlib.sha256(original).hexdigest()
    listing = [d for d in writer.digest_keys if victim in gzip.decompress(bucket.objects[d][0][1]).decode()]
    assert problem.recovered.digest == listing[0]
    assert report.recovered == [problem.recovered]
    assert problem.to_json()["recovered"] == problem.recovered.to_json()


def test_listing_the_same_key_twice_checks_it_once(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, _ = archive
    source = LocalSource(root)
    once = DigestVerifier(source, keys).verify()
    digest_day = f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail-Digest/eu-west-1/2026/11/25/"
    twice = DigestVerifier(source, keys).verify([digest_day, "", digest_day])
    assert (twice.logs_checked, twice.digests_checked, twice.problems) == (once.logs_checked, 8, [])
    assert sorted(twice.pending) == sorted(once.pending)


def test_a_region_whose_logs_were_all_deleted_names_each_one(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    for key in logs(writer, "eu-west-1"):
        (root / key).unlink()
    found = kinds(verify(root, keys))
    listed = {str(root / k) for k in logs(writer, "eu-west-1") if "T0405Z" not in k}
    assert set(found[LOG_MISSING]) == listed and list(found) == [LOG_MISSING]
    [problem] = [p for p in verify(root, keys).problems if p.path == str(root / logs(writer, "eu-west-1")[0])]
    assert problem.detail == f"listed in {digests(writer, 'eu-west-1')[0]} but not in the archive"


@pytest.mark.parametrize(("late_by", "stopped"), [(timedelta(0), False), (timedelta(seconds=1), True)])
def test_logs_without_digests_have_stopped_only_once_a_digest_was_due(
    tmp_path: Path, keys: PublicKeyRing, late_by: timedelta, stopped: bool
) -> None:
    writer = ArchiveWriter(TrailLayout(BUCKET), LocalSink(tmp_path, bucket=BUCKET))
    delivered = T0 + timedelta(minutes=5)
    writer.add_log_file(ACCOUNT, EAST, [synthetic_record(T0, account=ACCOUNT)], delivered=delivered)
    found = kinds(verify(tmp_path, keys, end=delivered + DIGEST_LAG + late_by))
    assert (DIGESTS_STOPPED in found) is stopped


def test_an_unlisted_log_delivered_when_the_newest_digest_ends_is_pending(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    at_end = writer.layout.log_key(ACCOUNT, EAST, T0 + timedelta(hours=4), "atthedigestend0")
    put_log(root, at_end, [synthetic_record(T0 + timedelta(hours=3, minutes=59), account=ACCOUNT)])
    report = verify(root, keys)
    assert report.ok and str(root / at_end) in report.pending


@pytest.mark.parametrize(("late_by", "pending"), [(timedelta(0), True), (timedelta(seconds=1), False)])
def test_a_log_after_the_newest_digest_is_pending_until_a_digest_was_due(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, late_by: timedelta, pending: bool
) -> None:
    root, writer = archive
    [newest_log] = [k for k in logs(writer) if "T0405Z" in k]
    report = verify(root, keys, end=T0 + timedelta(hours=4, minutes=5) + DIGEST_LAG + late_by)
    assert (str(root / newest_log) in report.pending) is pending
    assert (str(root / newest_log) in kinds(report).get(LOG_NOT_IN_DIGEST, [])) is not pending


def test_a_foreign_previous_signature_is_named(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    before, newest = digests(writer)[2:4]
    put_digest(root, newest, {**read_digest(root, newest), "previousDigestSignature": "ab" * 256}, writer)
    [problem] = verify(root, keys).problems
    assert (problem.kind, problem.path) == (CHAIN_BROKEN, str(root / newest))
    assert problem.detail == f"previousDigestSignature does not match the signature of {before}"


def test_a_junk_entry_in_a_digest_does_not_hide_the_entries_after_it(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    newest = digests(writer)[3]
    doc = read_digest(root, newest)
    put_digest(root, newest, {**doc, "logFiles": [{"s3Object": "junk"}, {}, *doc["logFiles"]]}, writer)
    victim = doc["logFiles"][-1]["s3Object"]
    (root / victim).write_bytes(gzip.compress(b"{}"))
    assert kinds(verify(root, keys)) == {LOG_TAMPERED: [str(root / victim)]}


def test_the_listed_fingerprint_names_the_key_and_a_bad_listing_is_a_note(tmp_path: Path) -> None:
    writer = ArchiveWriter(TrailLayout("x"), LocalSink(tmp_path))

    class Listing:
        def __init__(self, pages: list[dict[str, Any]]) -> None:
            self.pages = pages

        def list_public_keys(self, **kw: Any) -> dict[str, Any]:
            return self.pages[int(kw.get("NextToken", 0))]

    named = Listing([{"PublicKeyList": [{"Value": _der(writer), "Fingerprint": "AA" * 16}], "NextToken": "1"}, {}])
    ring = load_public_keys(named)
    assert ring.get("aa" * 16) is not None and ring.get(writer.fingerprint) is None and ring.notes == []
    junk = load_public_keys(Listing([{"PublicKeyList": [{"Value": b"junk"}]}]))
    assert junk.notes == ["cloudtrail:ListPublicKeys unavailable (UsageError); using public key files"]
    with pytest.raises(UsageError, match=r"^key: not a PEM or DER public key"):
        load_key_bytes(b"junk")


def test_the_key_notes_travel_with_the_report(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, _ = archive
    keys.notes.append("cloudtrail:ListPublicKeys unavailable (AccessDenied); using public key files")
    assert verify(root, keys).notes == keys.notes  # the ring is this test's own (function-scoped fixture)
    assert verify(root, keys).to_json()["notes"] == keys.notes


def _listing(ids: list[str], latest: str | None) -> list[dict[str, Any]]:
    """Newest first, as S3 lists versions."""
    return [
        {"Key": "k", "VersionId": v, "IsLatest": v == latest, "LastModified": T0 + timedelta(minutes=int(v))}
        for v in reversed(ids)
    ]


def test_the_version_read_is_the_rewrite_even_when_a_newer_one_exists() -> None:
    bodies = {"0": gzip.compress(b"original"), "1": gzip.compress(b"read"), "2": gzip.compress(b"newer")}
    s3 = FakeS3(_listing(["0", "1", "2"], latest="2"), bodies)
    search = S3Source(s3, BUCKET).find_authentic(
        "k", hashlib.sha256(b"original").hexdigest(), StoredObject("k", bodies["1"], {}, "1"), "d"
    )
    assert search.recovered is not None
    assert (search.recovered.tampered_version, search.recovered.tampered_written) == (
        "1",
        format_time(T0 + timedelta(minutes=1)),
    )
    assert search.recovered.tampered_sha256_decompressed == hashlib.sha256(b"read").hexdigest()


def test_the_rewrite_itself_is_not_downloaded_again() -> None:
    bodies = {v: gzip.compress(v.encode()) for v in ("0", "1", "2")}
    s3 = FakeS3(_listing(["0", "1", "2"], latest="2"), bodies)
    search = S3Source(s3, BUCKET).find_authentic("k", "0" * 64, StoredObject("k", bodies["2"], {}, "2"), "d")
    assert search.recovered is None and s3.gets == ["0", "1"]
    assert "none of its other 2 versions matches" in search.note and "checked" not in search.note


def test_the_bound_is_named_only_when_versions_were_left_unchecked() -> None:
    ids = [str(i) for i in range(22)]
    bodies = {v: gzip.compress(v.encode()) for v in ids}
    s3 = FakeS3(_listing(ids, latest="21"), bodies)
    note = S3Source(s3, BUCKET).find_authentic("k", "0" * 64, StoredObject("k", b"", {}, "21"), "d").note
    assert "none of its other 21 versions (the oldest 20 checked) matches the digest" in note
    s3 = FakeS3(_listing(ids[:21], latest="20"), bodies)
    note = S3Source(s3, BUCKET).find_authentic("k", "0" * 64, StoredObject("k", b"", {}, "20"), "d").note
    assert "none of its other 20 versions matches the digest" in note


def test_without_a_latest_flag_the_newest_listed_version_is_the_rewrite() -> None:
    bodies = {"0": gzip.compress(b"original"), "1": gzip.compress(b"x"), "2": gzip.compress(b"y")}
    versions = [{**v, "IsLatest": False} for v in _listing(["0", "1", "2"], latest=None)]
    search = S3Source(FakeS3(versions, bodies), BUCKET).find_authentic(
        "k", hashlib.sha256(b"original").hexdigest(), StoredObject("k", bodies["2"], {}, None), "d"
    )
    assert search.recovered is not None and search.recovered.tampered_version == "2"


def test_a_page_of_delete_markers_lists_no_version_and_markers_carry_over() -> None:
    class Markers(FakeS3):
        def list_object_versions(self, **kw: Any) -> dict[str, Any]:
            self.calls.append(kw)
            if len(self.calls) == 1:  # only delete markers on this page, and no version marker given
                return {"DeleteMarkers": [{"Key": "k"}], "IsTruncated": True, "NextKeyMarker": "k"}
            return {"Versions": [{"Key": "k", "VersionId": "a"}], "IsTruncated": False}

    s3 = Markers()
    assert S3Source(s3, BUCKET).versions("k") == [{"Key": "k", "VersionId": "a"}]
    assert s3.calls[1] == {"Bucket": BUCKET, "Prefix": "k", "KeyMarker": "k", "VersionIdMarker": ""}


# -- objects larger than any log irkit reads ------------------------------------------------------


class _Trickle(_Body):
    """A stream that hands out at most three bytes a read, as a slow connection may."""

    def read(self, size: int = -1) -> bytes:
        return super().read(3 if size is None or size < 0 else min(size, 3))


@pytest.mark.parametrize("cls", [_Body, _Trickle])
def test_a_body_is_read_whole_up_to_the_cap_and_not_a_byte_past_it(
    cls: type[_Body], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(digest_module, "stored_limit", lambda: 10)
    assert digest_module._bounded_body({"Body": cls(b"0123456789")}) == (b"0123456789", 10)
    assert digest_module._bounded_body({"Body": cls(b"")}) == (b"", 0)
    over = cls(b"0123456789ABCDEF")
    assert digest_module._bounded_body({"Body": over}) == (None, 11)  # one byte past the cap is enough
    assert over.at == 11
    # ContentLength is believed when it says too large (nothing read), never when it says small.
    declared = cls(b"x" * 40)
    assert digest_module._bounded_body({"Body": declared, "ContentLength": 11}) == (None, 11) and declared.at == 0
    lying = cls(b"x" * 40)
    assert digest_module._bounded_body({"Body": lying, "ContentLength": 5}) == (None, 11)


def test_an_oversized_object_is_named_with_its_size_and_never_read(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, writer = archive
    victim = logs(writer)[3]
    limit = max(p.stat().st_size for p in root.rglob("*") if p.is_file())
    with (root / victim).open("ab") as fh:
        fh.write(b"\0" * (limit + 1 - (root / victim).stat().st_size))  # one byte past every other file
    (root / (victim + ".meta.json")).write_bytes(orjson.dumps({"signature": "ab"}))
    monkeypatch.setattr(digest_module, "stored_limit", lambda: limit)
    obj = LocalSource(root).get(victim)
    assert obj is not None
    assert (obj.body, dict(obj.metadata), obj.too_large) == (b"", {}, limit + 1)
    report = verify(root, keys)
    [problem] = [p for p in report.problems if p.path.endswith(victim)]
    assert problem.kind == LOG_TAMPERED and f"{limit + 1} bytes stored" in problem.detail
    assert len(report.problems) == 1


def test_an_oversized_s3_object_keeps_its_metadata_and_version_but_no_body(monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = Bucket()
    bucket.put_object(Key="k", Body=b"small", Metadata={"Signature": "aa"})
    bucket.put_object(Key="k", Body=b"y" * 64, Metadata={"Signature": "bb", "Signature-Algorithm": "SHA256withRSA"})
    monkeypatch.setattr(digest_module, "stored_limit", lambda: 16)
    obj = S3Source(bucket, BUCKET).get("k")
    assert obj is not None
    assert obj.body == b"" and obj.too_large == 17 and obj.version_id == "v2"
    assert dict(obj.metadata) == {"signature": "bb", "signature-algorithm": "SHA256withRSA"}


# -- what the reader would read that no digest can vouch for ---------------------------------------


def test_a_file_the_reader_would_read_under_a_name_cloudtrail_never_writes_is_named(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    odd = str(PurePosixPath(logs(writer)[0]).parent / "planted.json.gz")
    (root / odd).write_bytes(gzip.compress(b'{"Records": []}'))
    report = verify(root, keys)
    assert kinds(report) == {LOG_NOT_IN_DIGEST: [str(root / odd)]}


def test_a_symlink_out_of_the_folder_is_refused_by_the_verifier_too(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing, tmp_path: Path
) -> None:
    root, writer = archive
    outside = tmp_path / "elsewhere.json.gz"
    outside.write_bytes(gzip.compress(b'{"Records": []}'))
    link = root / PurePosixPath(logs(writer)[0]).parent / "link.json.gz"
    link.symlink_to(outside)
    report = verify(root, keys)
    assert list(kinds(report)) == ["key-refused"]
    [problem] = report.problems
    assert "symlink" in problem.detail and problem.path.endswith("link.json.gz")


def test_data_appended_to_a_log_as_a_second_gzip_member_is_named(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = logs(writer)[2]
    with (root / victim).open("ab") as fh:
        fh.write(gzip.compress(b'{"Records": [{"eventName": "planted"}]}'))
    report = verify(root, keys)
    [problem] = report.problems
    assert problem.kind == LOG_TAMPERED and problem.path.endswith(victim)
    assert "2 gzip members where CloudTrail writes one" in problem.detail
