"""Regressions for issue 8 (evidence part): an attacker who can write to the archive must not blind irkit.

Each test here fails on the code before the fix and uses only APIs that existed then (collect_archive,
the digest verifier, the reader, the CLI), so it can be run against that code as it stands.
"""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cli import main
from irkit.cloudtrail import reader
from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.digest import (
    LOG_TAMPERED,
    DigestVerifier,
    LocalSource,
    S3Source,
    load_public_keys,
    verify_evidence,
)
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.cloudtrail.writer import ArchiveWriter, LocalSink, S3Sink
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive, trail_bucket

BUCKET = "org-trail"
LAYOUT = TrailLayout(BUCKET, "", ORG)
WINDOW = (T0 + timedelta(hours=1), T0 + timedelta(hours=2))
DAY = "2026/11/25"
BOMB_MIB = 200  # inflates past the 128 MiB cap


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def bomb(mib: int = BOMB_MIB) -> bytes:
    """A gzip file of ``mib`` MiB of zeros (~1 KB compressed per MiB), made without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(mib)) + packer.flush()


@pytest.fixture
def s3(boto: Any) -> Any:
    return trail_bucket(boto, BUCKET, versioned=True)


@pytest.fixture
def archive(s3: Any) -> ArchiveWriter:
    return build_archive(S3Sink(s3, BUCKET), layout=LAYOUT)


def collect(s3: Any, dest: Path) -> Any:
    return collect_archive(
        s3, layout=LAYOUT, accounts=(ACCOUNT,), regions=("us-east-1", "eu-west-1"), start=WINDOW[0],
        end=WINDOW[1], dest=dest, workers=4,
    )  # fmt: skip


def window_log(writer: ArchiveWriter, region: str = "us-east-1") -> str:
    return next(k for k in writer.log_keys if f"_{region}_20261125T01" in k)


def without_first_record(s3: Any, key: str) -> bytes:
    doc = orjson.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    doc["Records"] = doc["Records"][1:]
    return gz(orjson.dumps(doc))


def manifest_gaps(result: Any) -> list[dict[str, str]]:
    return list(orjson.loads(result.manifest.read_bytes())["gaps"])


# -- bug 1: a crafted key aliases a verified log ------------------------------------------------------


def test_a_dotdot_key_from_another_region_never_replaces_the_verified_log(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    victim = window_log(archive)
    folder, name = victim.rsplit("/", 1)
    alias = f"{folder.replace('/us-east-1/', '/eu-west-1/')}/../../../../us-east-1/{DAY}/{name}"
    s3.put_object(Bucket=BUCKET, Key=alias, Body=without_first_record(s3, victim))

    result = collect(s3, tmp_path / "evidence")
    authentic = s3.get_object(Bucket=BUCKET, Key=victim)["Body"].read()
    assert (tmp_path / "evidence" / victim).read_bytes() == authentic
    reasons = [g["reason"] for g in manifest_gaps(result) if g["path"] == f"s3://{BUCKET}/{alias}"]
    assert len(reasons) == 1 and reasons[0].startswith("key-refused")

    keys = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    on_s3 = DigestVerifier(S3Source(s3, BUCKET), keys, start=WINDOW[0], end=WINDOW[1]).verify()
    assert ("key-refused", f"s3://{BUCKET}/{alias}") in {(p.kind, p.path) for p in on_s3.problems}
    offline = verify_evidence(tmp_path / "evidence", keys)
    assert [p.kind for p in offline.problems] == ["key-refused"]  # the plant, and the log verifies


# -- bug 2: files written outside the case folder -----------------------------------------------------


def test_a_key_climbing_out_of_the_evidence_folder_writes_nothing_outside(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    victim = window_log(archive)
    folder, name = victim.rsplit("/", 1)
    # evidence/ is tmp_path/case/evidence: 8 segments down to the day folder, 2 more up to tmp_path
    escape = f"{folder}/{'../' * 10}sentinel/any/dir/x{name}"
    s3.put_object(Bucket=BUCKET, Key=escape, Body=without_first_record(s3, victim))

    result = collect(s3, tmp_path / "case" / "evidence")
    assert not (tmp_path / "sentinel").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]
    reasons = [g["reason"] for g in manifest_gaps(result) if "sentinel" in g["path"]]
    assert len(reasons) == 1 and reasons[0].startswith("key-refused")


# -- bug 3: appended gzip members pass the digest check -----------------------------------------------


@pytest.fixture
def local_archive(tmp_path: Path) -> tuple[Path, Path, ArchiveWriter]:
    root = tmp_path / "evidence"
    writer = build_archive(LocalSink(root, bucket=BUCKET), regions=("us-east-1",), hours=2)
    return root, writer.write_public_key(tmp_path / "key.pem"), writer


def test_an_appended_gzip_member_fails_the_digest_check_offline(
    local_archive: tuple[Path, Path, ArchiveWriter], capsys: pytest.CaptureFixture[str]
) -> None:
    root, key_file, writer = local_archive
    victim = root / writer.log_keys[3]
    victim.write_bytes(victim.read_bytes() + gz(b"x"))
    code = main(["verify", str(root), "--public-key", str(key_file), "--json"])
    doc = orjson.loads(capsys.readouterr().out)
    assert code == 1
    assert [(p["kind"], p["path"]) for p in doc["problems"]] == [(LOG_TAMPERED, str(victim))]
    assert "gzip members" in doc["problems"][0]["detail"]


def test_an_appended_gzip_member_on_s3_is_recovered_from_the_authentic_version(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    victim = window_log(archive)
    delivered = s3.get_object(Bucket=BUCKET, Key=victim)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=victim, Body=gz(gzip.decompress(delivered)) + gz(b"x"))
    keys = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    report = DigestVerifier(S3Source(s3, BUCKET), keys, start=WINDOW[0], end=WINDOW[1]).verify()
    (problem,) = [p for p in report.problems if p.kind == LOG_TAMPERED]
    assert problem.path == f"s3://{BUCKET}/{victim}"
    assert problem.recovered is not None and problem.recovered.versions == 2


# -- bug 9: offline verify skips what analyze reads ---------------------------------------------------


def test_offline_verify_names_every_file_analyze_would_read(
    local_archive: tuple[Path, Path, ArchiveWriter], capsys: pytest.CaptureFixture[str]
) -> None:
    root, key_file, writer = local_archive
    folder = (root / writer.log_keys[0]).parent
    record = orjson.loads(gzip.decompress((root / writer.log_keys[0]).read_bytes()))["Records"][0]
    planted = {
        folder / "extra.json": orjson.dumps({"Records": [record]}),
        folder / "extra.jsonl": orjson.dumps(record) + b"\n",
        folder / "extra.jsonl.gz": gz(orjson.dumps(record) + b"\n"),
        folder / "extra.json.gz": gz(orjson.dumps({"Records": [record]})),
    }
    for path, body in planted.items():
        path.write_bytes(body)
    code = main(["verify", str(root), "--public-key", str(key_file), "--json"])
    doc = orjson.loads(capsys.readouterr().out)
    assert code == 1
    assert sorted((p["kind"], p["path"]) for p in doc["problems"]) == sorted(
        ("log-not-in-digest", str(path)) for path in planted
    )


# -- tiny inputs, unbounded output ---------------------------------------------------------------------


def test_two_million_empty_records_in_6_kb_give_a_bounded_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "logs" / f"{ACCOUNT}_CloudTrail_us-east-1_20261125T0100Z_tiny.json.gz"
    path.parent.mkdir()
    path.write_bytes(gzip.compress(b'{"Records":[' + b",".join([b"{}"] * 2_000_000) + b"]}", 9))
    assert path.stat().st_size < 8_000
    code = main(["analyze", str(path.parent), "--json"])
    out = capsys.readouterr().out
    assert code == 3  # gaps, named
    assert len(out) < 20_000
    doc = orjson.loads(out)
    assert doc["events"] == 0 and 1 <= len(doc["gaps"]) <= 12


def _bomb_in(folder: Path, copies: int = 1) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    body = bomb()
    paths = [folder / f"{ACCOUNT}_CloudTrail_us-east-1_20261125T01{i:02d}Z_bomb.json.gz" for i in range(copies)]
    for path in paths:
        path.write_bytes(body)
    return paths


def test_a_gzip_bomb_stops_at_the_cap_in_process(tmp_path: Path) -> None:
    (path,) = _bomb_in(tmp_path / "logs")
    stats = ReadStats()
    assert list(iter_events([tmp_path / "logs"], stats, workers=0)) == []
    assert [(g.path, g.reason.split(" (")[0]) for g in stats.gaps] == [
        (str(path), "log larger than 128 MiB decompressed")
    ]


def test_a_gzip_bomb_stops_at_the_cap_in_the_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(reader, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    paths = _bomb_in(tmp_path / "logs", copies=2)
    stats = ReadStats()
    assert list(iter_events([tmp_path / "logs"], stats, workers=1)) == []
    assert [(g.path, g.reason.split(" (")[0]) for g in stats.gaps] == [
        (str(p), "log larger than 128 MiB decompressed") for p in paths
    ]
    assert list((tmp_path / "shm").iterdir()) == []


def test_collect_does_not_hash_a_bomb_past_the_cap(s3: Any, archive: ArchiveWriter, tmp_path: Path) -> None:
    victim = window_log(archive)
    s3.put_object(Bucket=BUCKET, Key=victim, Body=bomb())
    result = collect(s3, tmp_path / "evidence")
    (entry,) = [o for o in orjson.loads(result.manifest.read_bytes())["objects"] if o["key"] == victim]
    assert entry["sha256_decompressed"] is None
    (gap,) = [g for g in manifest_gaps(result) if g["path"] == f"s3://{BUCKET}/{victim}"]
    assert gap["reason"].startswith("log larger than 128 MiB decompressed")


def test_the_verifier_does_not_hash_a_bomb_past_the_cap(local_archive: tuple[Path, Path, ArchiveWriter]) -> None:
    root, key_file, writer = local_archive
    (root / writer.log_keys[2]).write_bytes(bomb())
    report = DigestVerifier(LocalSource(root), load_public_keys(None, [key_file])).verify()
    (problem,) = report.problems
    assert problem.kind == LOG_TAMPERED
    assert "log larger than 128 MiB decompressed" in problem.detail


# -- a failure inside collection still leaves a manifest ----------------------------------------------


def test_a_memory_error_while_fetching_still_writes_the_manifest(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from irkit.cloudtrail import collect as collect_module

    victim = window_log(archive)
    real = collect_module._Fetcher._fetch

    def fetch(self: Any, key: str, *rest: Any) -> Any:
        if key == victim:
            raise MemoryError
        return real(self, key, *rest)

    monkeypatch.setattr(collect_module._Fetcher, "_fetch", fetch)
    result = collect(s3, tmp_path / "evidence")
    doc = orjson.loads((tmp_path / "evidence" / "manifest.json").read_bytes())
    assert victim not in {o["key"] for o in doc["objects"]}
    assert len(doc["objects"]) == result.files > 10
    assert {"path": f"s3://{BUCKET}/{victim}", "reason": "not collected: MemoryError"} in doc["gaps"]


def test_a_memory_error_while_listing_still_writes_the_manifest(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from irkit.cloudtrail import collect as collect_module

    def keys(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("listing")

    monkeypatch.setattr(collect_module._Lister, "keys", keys)  # raised in the listing threads
    result = collect(s3, tmp_path / "evidence")
    doc = orjson.loads((tmp_path / "evidence" / "manifest.json").read_bytes())
    assert doc["objects"] == [] and result.files == 0
    assert [g["reason"].split(";")[0] for g in doc["gaps"]] == ["collection stopped: MemoryError: listing"]


# -- evidence is 0400, whatever the umask -------------------------------------------------------------


@pytest.fixture(params=[0o000, 0o022, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield int(request.param)
    finally:
        os.umask(old)


def test_evidence_files_are_0400_whatever_the_umask(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, umask: int
) -> None:
    result = collect(s3, tmp_path / "evidence")
    files = [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()]
    assert len(files) > len(result.paths) >= 10  # logs, digests, their metadata, the manifest
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o400)}
