"""Digest-chain verification over a local copy and over S3 (moto server)."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from irkit.cloudtrail.digest import (
    BAD_SIGNATURE,
    CHAIN_BROKEN,
    CHAIN_GAP,
    CHAIN_RESTART,
    DIGEST_MISSING,
    DIGEST_MOVED,
    DIGESTS_STOPPED,
    LOG_MISSING,
    LOG_NOT_IN_DIGEST,
    LOG_TAMPERED,
    DigestVerifier,
    LocalSource,
    PublicKeyRing,
    S3Source,
    VerifyReport,
    load_public_keys,
    verify_s3_window,
)
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, LocalSink, S3Sink, signing_string, synthetic_record
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ArchiveWriter]:
    root = tmp_path_factory.mktemp("archive")
    writer = build_archive(LocalSink(root / "bucket", bucket="org-trail"))
    key = writer.write_public_key(root / "key.pem")
    return root / "bucket", key, writer


@pytest.fixture
def archive(
    template: tuple[Path, Path, ArchiveWriter], tmp_path: Path
) -> Iterator[tuple[Path, ArchiveWriter]]:
    src, _, writer = template
    dst = tmp_path / "bucket"
    shutil.copytree(src, dst)
    yield dst, writer


@pytest.fixture
def keys(template: tuple[Path, Path, ArchiveWriter]) -> PublicKeyRing:
    return load_public_keys(None, [template[1]])


def verify(root: Path, keys: PublicKeyRing) -> VerifyReport:
    return DigestVerifier(LocalSource(root), keys).verify()


def kinds(report: VerifyReport) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in report.problems:
        out.setdefault(p.kind, []).append(p.path)
    return out


def digests_of(writer: ArchiveWriter, region: str) -> list[str]:
    return [k for k in writer.digest_keys if f"/{region}/" in k]


def logs_of(writer: ArchiveWriter, region: str) -> list[str]:
    return [k for k in writer.log_keys if f"/{region}/" in k]


def test_clean_archive_verifies_with_pending_logs_not_failing(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, _ = archive
    report = verify(root, keys)
    assert report.problems == []
    assert report.ok
    assert report.digests_checked == 8
    assert report.logs_checked == 48
    # the file delivered after the newest digest is pending, not a failure
    assert len(report.pending) == 2
    assert all("T0405Z" in p for p in report.pending)


def test_rewritten_log_is_named_as_tampered(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = logs_of(writer, "us-east-1")[7]
    forged = synthetic_record(T0 + timedelta(minutes=40), seq=999, event_name="ListBuckets")
    (root / victim).write_bytes(gzip.compress(orjson.dumps({"Records": [forged]})))
    report = verify(root, keys)
    assert kinds(report) == {LOG_TAMPERED: [str(root / victim)]}
    assert not report.ok


def test_deleted_log_is_missing(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = logs_of(writer, "eu-west-1")[3]
    (root / victim).unlink()
    assert kinds(verify(root, keys)) == {LOG_MISSING: [str(root / victim)]}


def test_deleted_digest_is_a_gap_and_its_logs_are_uncovered(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = digests_of(writer, "us-east-1")[1]  # covers 01:00-02:00
    (root / victim).unlink()
    found = kinds(verify(root, keys))
    assert found[DIGEST_MISSING] == [str(root / victim)]
    assert len(found[LOG_NOT_IN_DIGEST]) == 6
    assert CHAIN_GAP not in found


def test_two_consecutive_deleted_digests_are_both_reported(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    first, second = digests_of(writer, "us-east-1")[1:3]  # 01:00-02:00 and 02:00-03:00
    (root / first).unlink()
    (root / second).unlink()
    report = verify(root, keys)
    found = kinds(report)
    assert found[DIGEST_MISSING] == [str(root / second)]
    gap = next(p for p in report.problems if p.kind == CHAIN_GAP)
    assert "2026-11-25T01:00:00Z to 2026-11-25T02:00:00Z" in gap.detail  # the hour awscli never sees
    assert len(found[LOG_NOT_IN_DIGEST]) == 12


def test_digest_at_another_key_than_it_claims_is_moved(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    original = digests_of(writer, "eu-west-1")[2]
    moved = original.replace("T030000Z", "T030500Z")
    for suffix in ("", ".meta.json"):
        (root / (original + suffix)).rename(root / (moved + suffix))
    found = kinds(verify(root, keys))
    assert found == {DIGEST_MOVED: [str(root / moved)]}


def test_altered_digest_fails_its_signature(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    victim = digests_of(writer, "us-east-1")[0]
    doc = orjson.loads(gzip.decompress((root / victim).read_bytes()))
    doc["logFiles"] = doc["logFiles"][1:]  # hide one log from the digest
    (root / victim).write_bytes(gzip.compress(orjson.dumps(doc)))
    found = kinds(verify(root, keys))
    assert found[BAD_SIGNATURE] == [str(root / victim)]
    assert len(found[LOG_NOT_IN_DIGEST]) == 1


def test_signature_from_an_unknown_key_is_not_trusted(
    archive: tuple[Path, ArchiveWriter], tmp_path: Path
) -> None:
    root, _ = archive
    other = ArchiveWriter(TrailLayout("x"), LocalSink(tmp_path / "o"))
    report = verify(root, load_public_keys(None, [other.write_public_key(tmp_path / "other.pem")]))
    assert {p.kind for p in report.problems} == {"unknown-key"}


def test_logging_stopped_in_one_region_is_reported(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    for key in digests_of(writer, "eu-west-1")[2:] + logs_of(writer, "eu-west-1")[12:]:
        (root / key).unlink()
        Path(str(root / key) + ".meta.json").unlink(missing_ok=True)
    found = kinds(verify(root, keys))
    assert list(found) == [DIGESTS_STOPPED]
    assert "eu-west-1" in found[DIGESTS_STOPPED][0]


def test_window_verifies_only_its_hours(archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing) -> None:
    root, writer = archive
    (root / digests_of(writer, "us-east-1")[0]).unlink()  # before the window: not our business
    report = DigestVerifier(
        LocalSource(root), keys, start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=3)
    ).verify()
    assert report.problems == []
    assert report.digests_checked == 6  # ending 02:00, 03:00 and 04:00 (delivery lag), two regions


# -- S3 --------------------------------------------------------------------------------------------


@pytest.fixture
def s3_archive(boto: Any, tmp_path: Path) -> tuple[Any, ArchiveWriter, PublicKeyRing]:
    s3 = boto("s3")
    s3.create_bucket(Bucket="org-trail")
    s3.put_bucket_versioning(Bucket="org-trail", VersioningConfiguration={"Status": "Enabled"})
    writer = build_archive(S3Sink(s3, "org-trail"), regions=("us-east-1",), hours=2)
    return s3, writer, load_public_keys(None, [writer.write_public_key(tmp_path / "k.pem")])


def test_clean_archive_verifies_on_s3(s3_archive: tuple[Any, ArchiveWriter, PublicKeyRing]) -> None:
    s3, _, keys = s3_archive
    report = DigestVerifier(S3Source(s3, "org-trail"), keys).verify()
    assert report.ok, report.problems
    assert (report.digests_checked, report.logs_checked, len(report.pending)) == (2, 12, 1)


def test_log_rewritten_as_new_object_version_is_tampered_on_s3(
    s3_archive: tuple[Any, ArchiveWriter, PublicKeyRing],
) -> None:
    s3, writer, keys = s3_archive
    victim = writer.log_keys[4]
    s3.put_object(Bucket="org-trail", Key=victim, Body=gzip.compress(b'{"Records": []}'))
    report = DigestVerifier(S3Source(s3, "org-trail"), keys).verify()
    assert [(p.kind, p.path) for p in report.problems] == [(LOG_TAMPERED, f"s3://org-trail/{victim}")]
    assert "2 versions" in report.problems[0].detail


def test_deleted_digest_on_s3_is_a_gap(s3_archive: tuple[Any, ArchiveWriter, PublicKeyRing]) -> None:
    s3, writer, keys = s3_archive
    s3.delete_object(Bucket="org-trail", Key=writer.digest_keys[0])
    writer.add_records(ACCOUNT, "us-east-1", [synthetic_record(T0 + timedelta(hours=2, minutes=30))])
    writer.seal_digests(until=T0 + timedelta(hours=3))
    report = DigestVerifier(S3Source(s3, "org-trail"), keys).verify()
    assert f"s3://org-trail/{writer.digest_keys[0]}" in kinds(report)[DIGEST_MISSING]


def test_list_public_keys_failure_falls_back_to_files(boto: Any, tmp_path: Path) -> None:
    writer = ArchiveWriter(TrailLayout("x"), LocalSink(tmp_path))
    ring = load_public_keys(boto("cloudtrail"), [writer.write_public_key(tmp_path / "k.pem")])
    assert ring.get(writer.fingerprint) is not None
    assert ring.notes and "ListPublicKeys" in ring.notes[0]


def test_s3_window_verification_discovers_regions_and_ignores_other_hours(boto: Any, tmp_path: Path) -> None:
    s3 = boto("s3")
    s3.create_bucket(Bucket="org-trail")
    writer = build_archive(S3Sink(s3, "org-trail"))
    keys = load_public_keys(None, [writer.write_public_key(tmp_path / "k.pem")])
    s3.delete_object(Bucket="org-trail", Key=digests_of(writer, "us-east-1")[0])  # 00:00-01:00, outside
    victim = logs_of(writer, "eu-west-1")[14]  # delivered 02:25, inside
    s3.put_object(Bucket="org-trail", Key=victim, Body=gzip.compress(b'{"Records": []}'))
    report = verify_s3_window(
        s3, TrailLayout("org-trail", "", ORG), keys, accounts=[ACCOUNT],
        start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=3),
    )  # fmt: skip
    assert [(p.kind, p.path) for p in report.problems] == [(LOG_TAMPERED, f"s3://org-trail/{victim}")]
    assert report.digests_checked == 6


def test_logs_without_any_digest_do_not_verify(tmp_path: Path, keys: PublicKeyRing) -> None:
    writer = ArchiveWriter(TrailLayout("org-trail"), LocalSink(tmp_path, bucket="org-trail"))
    writer.add_records(
        ACCOUNT, "us-east-1", [synthetic_record(T0 + timedelta(minutes=m)) for m in range(0, 180, 20)]
    )
    found = kinds(verify(tmp_path, keys))
    assert len(found[DIGESTS_STOPPED]) == 1
    assert len(found[LOG_NOT_IN_DIGEST]) == 5  # delivered before 01:45 (newest log 02:45 - 1h15)


def _resign(root: Path, key: str, writer: ArchiveWriter, edit: Any) -> None:
    """Rewrite a digest and sign it again with the trail's key: only the chain can tell."""
    doc = orjson.loads(gzip.decompress((root / key).read_bytes()))
    edit(doc)
    body = orjson.dumps(doc)
    message = signing_string(
        doc["digestEndTime"], doc["digestS3Bucket"], key, body, doc["previousDigestSignature"]
    )
    signature = writer.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256()).hex()
    (root / key).write_bytes(gzip.compress(body))
    meta = root / (key + ".meta.json")
    meta.write_bytes(orjson.dumps({"signature": signature, "signature-algorithm": "SHA256withRSA"}))


def test_validly_signed_digest_with_a_foreign_previous_signature_breaks_the_chain(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim, successor = digests_of(writer, "us-east-1")[2:4]
    _resign(root, victim, writer, lambda d: d.update(previousDigestSignature="00" * 256))
    found = kinds(verify(root, keys))
    # its own link is wrong, and its new signature is not the one its successor carries
    assert found[CHAIN_BROKEN] == [str(root / victim), str(root / successor)]
    assert BAD_SIGNATURE not in found


def test_a_chain_that_starts_again_means_logging_stopped(
    archive: tuple[Path, ArchiveWriter], keys: PublicKeyRing
) -> None:
    root, writer = archive
    victim = digests_of(writer, "eu-west-1")[3]
    fields = ("S3Object", "S3Bucket", "Signature", "HashValue", "HashAlgorithm")
    _resign(root, victim, writer, lambda d: d.update({f"previousDigest{f}": None for f in fields}))
    assert kinds(verify(root, keys)) == {CHAIN_RESTART: [str(root / victim)]}
