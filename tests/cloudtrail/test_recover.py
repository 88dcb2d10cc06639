"""A log rewritten as a new S3 object version: its authentic version is found by the digest's hash,
analysed in its place, and the rewrite is kept as evidence of the tampering."""

from __future__ import annotations

import gzip
import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.digest import (
    LOG_TAMPERED,
    DigestVerifier,
    PublicKeyRing,
    RecoveredVersion,
    S3Source,
    load_public_keys,
    verify_evidence,
)
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.reader import iter_log_files
from irkit.cloudtrail.recover import adopt_authentic_version, tampered_name
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive, trail_bucket

BUCKET = "org-trail"


@pytest.fixture
def archive(boto: Any, tmp_path: Path) -> tuple[Any, ArchiveWriter, PublicKeyRing]:
    s3 = trail_bucket(boto, BUCKET, versioned=True)
    writer = build_archive(S3Sink(s3, BUCKET), layout=TrailLayout(BUCKET, "", ORG), regions=("us-east-1",), hours=2)
    return s3, writer, load_public_keys(None, [writer.write_public_key(tmp_path / "k.pem")])


def rewrite(s3: Any, key: str, drop: int = 1) -> str:
    """The attacker's move: the same key, a new version, ``drop`` events fewer. Returns the version id."""
    body = orjson.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    body["Records"] = body["Records"][drop:]
    resp = s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(orjson.dumps(body) + b" " * drop))
    return str(resp["VersionId"])


def only_version(s3: Any, key: str) -> str:
    (version,) = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    return str(version["VersionId"])


def tampered(report: Any) -> Any:
    (problem,) = [p for p in report.problems if p.kind == LOG_TAMPERED]
    return problem


def test_recovery_picks_the_version_matching_the_digest_among_several(
    archive: tuple[Any, ArchiveWriter, PublicKeyRing],
) -> None:
    s3, writer, keys = archive
    victim = writer.log_keys[4]
    original = only_version(s3, victim)
    rewrite(s3, victim, drop=1)
    latest = rewrite(s3, victim, drop=0)  # a second rewrite: three versions, one authentic
    problem = tampered(DigestVerifier(S3Source(s3, BUCKET), keys).verify())
    rec = problem.recovered
    assert isinstance(rec, RecoveredVersion)
    assert (rec.key, rec.authentic_version, rec.tampered_version, rec.versions) == (victim, original, latest, 3)
    assert rec.authentic_written and rec.tampered_written
    assert f"version {original}" in problem.detail and "authentic" in problem.detail
    assert f"version {latest}" in problem.detail and "rewrite" in problem.detail
    assert problem.to_json()["recovered"]["authentic_version"] == original


def test_no_matching_version_says_the_original_is_gone_and_recovers_nothing(
    archive: tuple[Any, ArchiveWriter, PublicKeyRing],
) -> None:
    s3, writer, keys = archive
    victim = writer.log_keys[4]
    original = only_version(s3, victim)
    rewrite(s3, victim, drop=1)
    rewrite(s3, victim, drop=2)
    # Without Object Lock the attacker can also destroy the delivered version.
    s3.delete_object(Bucket=BUCKET, Key=victim, VersionId=original)
    problem = tampered(DigestVerifier(S3Source(s3, BUCKET), keys).verify())
    assert problem.recovered is None
    assert "recovered" not in problem.to_json()
    assert "none of its other 1 versions matches the digest" in problem.detail
    assert "original is gone" in problem.detail


def test_local_verify_output_has_no_recovery(archive: tuple[Any, ArchiveWriter, PublicKeyRing], tmp_path: Path) -> None:
    s3, writer, keys = archive
    dest = tmp_path / "evidence"
    rewrite(s3, writer.log_keys[4])
    collect_archive(s3, layout=TrailLayout(BUCKET, "", ORG), accounts=(ACCOUNT,), regions=("us-east-1",),
                    start=T0, end=T0 + timedelta(hours=2), dest=dest)  # fmt: skip
    problem = tampered(verify_evidence(dest, keys))
    assert problem.recovered is None
    assert set(problem.to_json()) == {"kind", "path", "detail"}
    assert "collected version" in problem.detail


def test_evidence_keeps_both_versions_and_the_manifest_says_which_is_authentic(
    archive: tuple[Any, ArchiveWriter, PublicKeyRing], tmp_path: Path
) -> None:
    s3, writer, keys = archive
    victim = writer.log_keys[4]
    original = only_version(s3, victim)
    rewritten = rewrite(s3, victim)
    dest = tmp_path / "evidence"
    layout = TrailLayout(BUCKET, "", ORG)
    window = {"accounts": (ACCOUNT,), "regions": ("us-east-1",), "start": T0, "end": T0 + timedelta(hours=2)}
    collect_archive(s3, layout=layout, dest=dest, **window)  # type: ignore[arg-type]
    tampered_bytes = (dest / victim).read_bytes()  # collect took the current version: the rewrite

    rec = tampered(DigestVerifier(S3Source(s3, BUCKET), keys).verify()).recovered
    assert rec is not None
    adopted = adopt_authentic_version(
        s3, BUCKET, dest, key=victim, authentic_version=rec.authentic_version,
        tampered_version=rec.tampered_version, expected_sha256=rec.sha256_decompressed, record=rec.to_json(),
    )  # fmt: skip

    copy = dest / tampered_name(victim, rewritten)
    assert adopted.tampered["key"] == tampered_name(victim, rewritten)
    assert copy.read_bytes() == tampered_bytes
    assert hashlib.sha256(gzip.decompress((dest / victim).read_bytes())).hexdigest() == rec.sha256_decompressed
    assert (dest / victim).stat().st_mode & 0o777 == 0o400
    assert copy.stat().st_mode & 0o777 == 0o400
    manifest = orjson.loads((dest / "manifest.json").read_bytes())
    objects = {o["key"]: o for o in manifest["objects"]}
    assert objects[victim]["authentic"] is True and objects[victim]["version_id"] == original
    assert objects[victim]["replaces_version"] == rewritten
    assert objects[copy.relative_to(dest).as_posix()]["authentic"] is False
    assert objects[copy.relative_to(dest).as_posix()]["version_id"] == rewritten
    assert objects[copy.relative_to(dest).as_posix()]["tampered_copy_of"] == victim
    assert [r["key"] for r in manifest["recoveries"]] == [victim]
    # The reader never analyses the rewrite; the evidence folder now verifies.
    assert copy not in set(iter_log_files(dest))
    assert verify_evidence(dest, keys).ok

    before = (dest / "manifest.json").read_bytes()
    adopt_authentic_version(
        s3, BUCKET, dest, key=victim, authentic_version=rec.authentic_version,
        tampered_version=rec.tampered_version, expected_sha256=rec.sha256_decompressed, record=rec.to_json(),
    )  # fmt: skip
    assert (dest / "manifest.json").read_bytes() == before  # idempotent: a resumed run changes nothing

    again = collect_archive(s3, layout=layout, dest=dest, **window)  # type: ignore[arg-type]
    assert again.files == 0  # the authentic file matches its manifest entry: not fetched again
    kept = {o["key"] for o in orjson.loads(again.manifest.read_bytes())["objects"]}
    assert copy.relative_to(dest).as_posix() in kept
    assert orjson.loads(again.manifest.read_bytes())["recoveries"]


def test_a_version_that_no_longer_matches_replaces_nothing(
    archive: tuple[Any, ArchiveWriter, PublicKeyRing], tmp_path: Path
) -> None:
    s3, writer, _ = archive
    victim = writer.log_keys[4]
    rewritten = rewrite(s3, victim)
    dest = tmp_path / "evidence"
    collect_archive(s3, layout=TrailLayout(BUCKET, "", ORG), accounts=(ACCOUNT,), regions=("us-east-1",),
                    start=T0, end=T0 + timedelta(hours=2), dest=dest)  # fmt: skip
    before = (dest / victim).read_bytes()
    with pytest.raises(ValueError, match="no longer matches the digest"):
        adopt_authentic_version(
            s3, BUCKET, dest, key=victim, authentic_version=only_version_oldest(s3, victim),
            tampered_version=rewritten, expected_sha256="0" * 64, record={},
        )  # fmt: skip
    assert (dest / victim).read_bytes() == before


def only_version_oldest(s3: Any, key: str) -> str:
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]
    return str(next(v for v in versions if not v["IsLatest"])["VersionId"])


def test_a_rewrite_made_after_collection_keeps_the_collected_rewrite_too(
    archive: tuple[Any, ArchiveWriter, PublicKeyRing], tmp_path: Path
) -> None:
    s3, writer, keys = archive
    victim = writer.log_keys[4]
    first = rewrite(s3, victim, drop=1)
    dest = tmp_path / "evidence"
    collect_archive(s3, layout=TrailLayout(BUCKET, "", ORG), accounts=(ACCOUNT,), regions=("us-east-1",),
                    start=T0, end=T0 + timedelta(hours=2), dest=dest)  # fmt: skip
    second = rewrite(s3, victim, drop=2)  # between collect and verify
    rec = tampered(DigestVerifier(S3Source(s3, BUCKET), keys).verify()).recovered
    assert rec is not None and rec.tampered_version == second
    adopt_authentic_version(
        s3, BUCKET, dest, key=victim, authentic_version=rec.authentic_version,
        tampered_version=rec.tampered_version, expected_sha256=rec.sha256_decompressed, record=rec.to_json(),
    )  # fmt: skip
    assert (dest / tampered_name(victim, first)).is_file()
    assert (dest / tampered_name(victim, second)).is_file()
    objects = {o["key"]: o for o in orjson.loads((dest / "manifest.json").read_bytes())["objects"]}
    assert objects[tampered_name(victim, first)]["version_id"] == first
    assert objects[tampered_name(victim, second)]["version_id"] == second
    assert objects[victim]["authentic"] is True
