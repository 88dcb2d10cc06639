"""Collect, recovery and verify with hostile keys and sizes (moto server; caps injected small)."""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cloudtrail import inflate, keys
from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.digest import (
    KEY_REFUSED,
    LOG_TAMPERED,
    DigestVerifier,
    S3Source,
    load_public_keys,
    verify_evidence,
)
from irkit.cloudtrail.keys import KeyRefused
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.recover import adopt_authentic_version, tampered_name
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive, trail_bucket

BUCKET = "org-trail"
LAYOUT = TrailLayout(BUCKET, "", ORG)
WINDOW = (T0 + timedelta(hours=1), T0 + timedelta(hours=2))


@pytest.fixture
def s3(boto: Any) -> Any:
    return trail_bucket(boto, BUCKET, versioned=True)


@pytest.fixture
def archive(s3: Any) -> ArchiveWriter:
    return build_archive(S3Sink(s3, BUCKET), layout=LAYOUT, regions=("us-east-1",))


def collect(s3: Any, dest: Path) -> Any:
    return collect_archive(
        s3, layout=LAYOUT, accounts=(ACCOUNT,), regions=("us-east-1",), start=WINDOW[0], end=WINDOW[1],
        dest=dest, workers=2,
    )  # fmt: skip


def victim_of(writer: ArchiveWriter) -> str:
    return next(k for k in writer.log_keys if "_20261125T01" in k)


def test_keys_that_one_file_would_hold_on_a_case_folding_filesystem_are_both_refused(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "folding", lambda root: str.casefold)
    victim = victim_of(archive)
    folder, name = victim.rsplit("/", 1)
    stem, file_id = name.removesuffix(".json.gz").rsplit("_", 1)
    twin = f"{folder}/{stem}_{file_id.upper()}.json.gz"  # the same name but for the case of its id
    assert twin != victim
    s3.put_object(Bucket=BUCKET, Key=twin, Body=gzip.compress(b'{"Records": []}'))
    result = collect(s3, tmp_path / "ev")
    refused = {g.path: g.reason for g in result.gaps if g.reason.startswith("key-refused")}
    assert set(refused) == {f"s3://{BUCKET}/{victim}", f"s3://{BUCKET}/{twin}"}
    assert "same file" in refused[f"s3://{BUCKET}/{twin}"]
    assert not (tmp_path / "ev" / victim).exists()


def test_an_object_too_large_for_any_log_is_not_downloaded(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inflate, "MAX_DECOMPRESSED", 64 << 10)  # stored limit: 64 KiB + 1 MiB and a bit
    victim = victim_of(archive)
    s3.put_object(Bucket=BUCKET, Key=victim, Body=bytes(inflate.stored_limit() + 1))
    result = collect(s3, tmp_path / "ev")
    assert not (tmp_path / "ev" / victim).exists()
    (gap,) = [g for g in result.gaps if g.path == f"s3://{BUCKET}/{victim}"]
    assert "not collected" in gap.reason and "64 KiB" not in gap.reason


def test_refused_keys_recorded_by_collect_fail_the_offline_verify(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    victim = victim_of(archive)
    folder, name = victim.rsplit("/", 1)
    plant = f"{folder}/sub//{name}"
    s3.put_object(Bucket=BUCKET, Key=plant, Body=gzip.compress(b'{"Records": []}'))
    collect(s3, tmp_path / "ev")
    ring = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    report = verify_evidence(tmp_path / "ev", ring)
    assert [(p.kind, p.path) for p in report.problems] == [(KEY_REFUSED, f"s3://{BUCKET}/{plant}")]
    assert "empty segment" in report.problems[0].detail


def test_a_symlink_in_the_evidence_folder_is_refused_by_the_offline_verify(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    result = collect(s3, tmp_path / "ev")
    outside = tmp_path / "outside.json"
    outside.write_bytes(b'{"Records": []}')
    link = result.paths[0].parent / "linked.json"
    link.symlink_to(outside)
    ring = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    report = verify_evidence(tmp_path / "ev", ring)
    assert [(p.kind, p.path) for p in report.problems] == [(KEY_REFUSED, str(link))]


def test_a_control_character_in_a_key_is_escaped_wherever_it_is_shown(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    victim = victim_of(archive)
    folder, name = victim.rsplit("/", 1)
    plant = f"{folder}/\x1b[2J{name}"
    s3.put_object(Bucket=BUCKET, Key=plant, Body=gzip.compress(b'{"Records": []}'))
    result = collect(s3, tmp_path / "ev")
    (gap,) = [g for g in result.gaps if g.reason.startswith("key-refused")]
    assert "\x1b" not in gap.path and "\\x1b[2J" in gap.path
    ring = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    report = DigestVerifier(S3Source(s3, BUCKET), ring, start=WINDOW[0], end=WINDOW[1]).verify()
    (problem,) = report.problems
    assert problem.kind == KEY_REFUSED and problem.path == gap.path


def test_recovery_refuses_a_key_that_is_not_a_plain_name(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(KeyRefused):
        tampered_name("AWSLogs/../x.json.gz", "v1")
    with pytest.raises(ValueError, match="key-refused"):
        adopt_authentic_version(
            s3, BUCKET, tmp_path / "ev", key="AWSLogs/../../x.json.gz", authentic_version="a", tampered_version="b",
            expected_sha256="0" * 64, record={},
        )  # fmt: skip
    assert not (tmp_path / "ev").exists() or not any((tmp_path / "ev").rglob("*"))


def test_a_rewrite_too_large_to_keep_does_not_stop_the_recovery(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = victim_of(archive)
    collect(s3, tmp_path / "ev")
    monkeypatch.setattr(inflate, "MAX_DECOMPRESSED", 64 << 10)
    huge = s3.put_object(Bucket=BUCKET, Key=victim, Body=bytes(inflate.stored_limit() + 10))["VersionId"]
    ring = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    report = DigestVerifier(S3Source(s3, BUCKET), ring, start=WINDOW[0], end=WINDOW[1]).verify()
    (problem,) = [p for p in report.problems if p.kind == LOG_TAMPERED]
    assert "cannot be the log the digest lists" in problem.detail
    rec = problem.recovered
    assert rec is not None and rec.tampered_version == huge
    adopted = adopt_authentic_version(
        s3, BUCKET, tmp_path / "ev", key=victim, authentic_version=rec.authentic_version,
        tampered_version=huge, expected_sha256=rec.sha256_decompressed, record=rec.to_json(),
    )  # fmt: skip
    assert "still in the bucket" in adopted.tampered["not_kept"]
    assert not (tmp_path / "ev" / tampered_name(victim, huge)).exists()
    body = gzip.decompress((tmp_path / "ev" / victim).read_bytes())
    assert orjson.loads(body)["Records"]
