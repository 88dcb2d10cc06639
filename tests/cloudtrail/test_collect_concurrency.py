"""Collection in parallel (listing and downloads), its private folders, and hashing each log once (moto server)."""

from __future__ import annotations

import os
import random
import stat
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from irkit.cloudtrail import digest as digest_module
from irkit.cloudtrail.collect import collect_archive, plan_keys
from irkit.cloudtrail.digest import load_public_keys, verify_evidence
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.manifest import open_private
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive, trail_bucket

BUCKET = "org-trail-par"
LAYOUT = TrailLayout(BUCKET, "", ORG)
WINDOW = (T0 + timedelta(hours=1), T0 + timedelta(hours=2))


@pytest.fixture
def s3(boto: Any) -> Any:
    return trail_bucket(boto, BUCKET)


@pytest.fixture
def archive(s3: Any) -> ArchiveWriter:
    return build_archive(S3Sink(s3, BUCKET), layout=LAYOUT, accounts=(ACCOUNT, "222222222222"))


class Shuffled:
    """The real client, but every call waits a random few milliseconds: answers come back out of order."""

    def __init__(self, client: Any, seed: int) -> None:
        self._client = client
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name not in {"list_objects_v2", "get_object"}:
            return real

        def call(**kwargs: Any) -> Any:
            with self._lock:
                delay = self._rng.uniform(0, 0.02)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                time.sleep(delay)
                return real(**kwargs)
            finally:
                with self._lock:
                    self.in_flight -= 1

        return call


class FailOne(Shuffled):
    """Shuffled, and one key's GetObject is refused for good."""

    def __init__(self, client: Any, seed: int, refused: str) -> None:
        super().__init__(client, seed)
        self._refused = refused

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != "get_object":
            return call

        def get_object(**kwargs: Any) -> Any:
            if kwargs["Key"] == self._refused:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
            return call(**kwargs)

        return get_object


def collect(s3: Any, dest: Path, *, workers: int = 8) -> Any:
    return collect_archive(
        s3, layout=LAYOUT, accounts=(ACCOUNT, "222222222222"), regions=(), start=WINDOW[0], end=WINDOW[1],
        dest=dest, workers=workers,
    )  # fmt: skip


def test_parallel_listing_gives_the_sequential_plan_in_the_same_order(s3: Any, archive: ArchiveWriter) -> None:
    kwargs: dict[str, Any] = {"layout": LAYOUT, "accounts": (ACCOUNT, "222222222222"), "regions": ()}
    one = plan_keys(s3, start=WINDOW[0], end=WINDOW[1], workers=1, **kwargs)
    for seed in (1, 2, 3):
        client = Shuffled(s3, seed)
        assert plan_keys(client, start=WINDOW[0], end=WINDOW[1], workers=8, **kwargs) == one
        assert client.most_in_flight > 1  # the prefixes were listed side by side
    found, gaps, accounts, regions = one
    assert len(found) == 44 and not gaps  # 2 accounts x 2 regions x (8 logs + 3 digests)
    assert (accounts, regions) == ([ACCOUNT, "222222222222"], ["eu-west-1", "us-east-1"])


def test_a_failing_object_among_parallel_downloads_is_its_gap_and_the_manifest_is_deterministic(
    s3: Any, archive: ArchiveWriter, tmp_path: Path
) -> None:
    refused = archive.log_keys[9]
    results = [collect(FailOne(s3, seed, refused), tmp_path / f"ev{seed}") for seed in (1, 2)]
    docs = [orjson.loads(r.manifest.read_bytes()) for r in results]
    for result, doc in zip(results, docs, strict=True):
        assert result.files == 43
        assert [(g.path, g.reason) for g in result.gaps] == [
            (f"s3://{BUCKET}/{refused}", "not collected: AccessDenied: Access Denied")
        ]
        keys = [o["key"] for o in doc["objects"]]
        assert keys == sorted(keys) and refused not in keys and len(keys) == 43
        assert not (tmp_path / "ev1" / refused).exists()
    # two runs whose downloads finished in different orders write the same record (fetch times aside)
    for doc in docs:
        for obj in doc["objects"]:
            obj.pop("fetched_at")
    assert docs[0] == docs[1]
    # the next run fetches only the one that failed
    again = collect(s3, tmp_path / "ev1")
    assert (again.files, again.skipped, again.gaps) == (1, 43, ())


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_every_folder_collect_makes_is_private(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, open_umask: None
) -> None:
    dest = tmp_path / "cases" / "ev"
    result = collect(s3, dest)
    assert result.files == 44
    folders = [dest, *(p for p in dest.rglob("*") if p.is_dir())]
    assert len(folders) > 10
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {oct(0o700)}
    files = [p for p in dest.rglob("*") if p.is_file()]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o400)}


def test_an_existing_folder_keeps_its_mode(s3: Any, archive: ArchiveWriter, tmp_path: Path, open_umask: None) -> None:
    dest = tmp_path / "ev"
    dest.mkdir(mode=0o750)
    collect(s3, dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750


def test_a_leftover_part_file_or_link_is_replaced_never_followed(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_bytes(b"keep me")
    part = tmp_path / "log.json.gz.part"
    part.symlink_to(target)
    with open_private(part) as out:
        out.write(b"new")
    assert not part.is_symlink() and part.read_bytes() == b"new"
    assert target.read_bytes() == b"keep me"
    with open_private(part) as out:  # a plain leftover
        out.write(b"newer")
    assert part.read_bytes() == b"newer"


def _count_inflations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = digest_module.sha256_inflated

    def counting(body: bytes) -> Any:
        calls.append(len(body))
        return real(body)

    monkeypatch.setattr(digest_module, "sha256_inflated", counting)
    return calls


def test_verify_after_collect_does_not_inflate_what_collect_just_hashed(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = collect(s3, tmp_path / "ev")
    assert len(result.hashes) == 44
    keys = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    calls = _count_inflations(monkeypatch)
    report = verify_evidence(tmp_path / "ev", keys, start=WINDOW[0], end=WINDOW[1], known_hashes=result.hashes)
    assert report.ok and report.logs_checked == 32 and report.digests_checked
    assert calls == []
    # without them (`irkit verify` later, offline) every log is inflated from disk
    report = verify_evidence(tmp_path / "ev", keys, start=WINDOW[0], end=WINDOW[1])
    assert report.ok and len(calls) == 32


def test_a_log_changed_on_disk_after_collect_is_still_caught(
    s3: Any, archive: ArchiveWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = collect(s3, tmp_path / "ev")
    victim = result.paths[3]
    other = result.paths[4]
    victim.chmod(0o600)
    victim.write_bytes(other.read_bytes())  # a valid log, the wrong one
    keys = load_public_keys(None, [archive.write_public_key(tmp_path / "k.pem")])
    calls = _count_inflations(monkeypatch)
    report = verify_evidence(tmp_path / "ev", keys, start=WINDOW[0], end=WINDOW[1], known_hashes=result.hashes)
    assert not report.ok
    tampered = victim.relative_to(tmp_path / "ev").as_posix()
    assert [(p.kind, p.path.endswith(tampered)) for p in report.problems] == [("log-tampered", True)]
    assert len(calls) == 1  # the changed file was hashed from disk; the rest from what collect recorded
