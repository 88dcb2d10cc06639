"""Collecting an archive window into an evidence folder (moto server over HTTP)."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from irkit.cloudtrail.collect import collect_archive
from irkit.cloudtrail.digest import DigestVerifier, LocalSource, load_public_keys
from irkit.cloudtrail.layout import TrailLayout, parse_key
from irkit.cloudtrail.lookup import lookup_fallback
from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink
from tests.cloudtrail.archive import ACCOUNT, ORG, T0, build_archive, trail_bucket

BUCKET = "org-trail"
WINDOW = (T0 + timedelta(hours=1), T0 + timedelta(hours=2))


@pytest.fixture
def s3(boto: Any) -> Any:
    return trail_bucket(boto, BUCKET)


@pytest.fixture
def org_archive(s3: Any) -> ArchiveWriter:
    return build_archive(S3Sink(s3, BUCKET), layout=TrailLayout(BUCKET, "", ORG))


def collect(
    s3: Any, dest: Path, *, layout: TrailLayout | None = None, regions: tuple[str, ...] = (), **kw: Any
) -> Any:
    return collect_archive(
        s3,
        layout=layout or TrailLayout(BUCKET, "", ORG),
        accounts=kw.pop("accounts", (ACCOUNT,)),
        regions=regions,
        start=WINDOW[0],
        end=WINDOW[1],
        dest=dest,
        workers=4,
        **kw,
    )


def test_org_trail_window_is_collected_with_discovered_regions_and_verifies(
    s3: Any, org_archive: ArchiveWriter, tmp_path: Path
) -> None:
    result = collect(s3, tmp_path / "evidence")
    keys = [o["key"] for o in orjson.loads(result.manifest.read_bytes())["objects"]]
    regions = {parse_key(k).region for k in keys}  # type: ignore[union-attr]
    assert regions == {"us-east-1", "eu-west-1"}
    logs = [k for k in keys if not parse_key(k).digest]  # type: ignore[union-attr]
    digests = [k for k in keys if parse_key(k).digest]  # type: ignore[union-attr]
    # logs delivered 01:05..02:15 (window end + 15 min delivery lag): 8 a region
    assert len(logs) == 16
    assert min(parse_key(k).delivered for k in logs) == T0 + timedelta(hours=1, minutes=5)  # type: ignore[union-attr]
    assert max(parse_key(k).delivered for k in logs) == T0 + timedelta(hours=2, minutes=15)  # type: ignore[union-attr]
    # digests ending 01:00, 02:00, 03:00 cover them
    assert len(digests) == 6
    assert result.files == 22 and result.skipped == 0 and not result.gaps
    assert len(result.paths) == 16
    # the evidence folder verifies on its own, offline
    keys_ring = load_public_keys(None, [org_archive.write_public_key(tmp_path / "k.pem")])
    source = LocalSource(tmp_path / "evidence")
    assert source.window == WINDOW
    report = DigestVerifier(source, keys_ring, start=WINDOW[0], end=WINDOW[1]).verify()
    assert report.ok, report.problems
    assert report.logs_checked == 16


def test_single_account_layout_with_prefix_and_explicit_region(s3: Any, tmp_path: Path) -> None:
    layout = TrailLayout(BUCKET, "trails/main", None)
    build_archive(S3Sink(s3, BUCKET), layout=layout)
    result = collect(s3, tmp_path / "ev", layout=layout, regions=("eu-west-1",))
    assert result.files == 11
    assert all(
        p.relative_to(tmp_path / "ev")
        .as_posix()
        .startswith("trails/main/AWSLogs/111111111111/CloudTrail/eu-west-1/")
        for p in result.paths
    )
    stats = ReadStats()
    events = list(iter_events([tmp_path / "ev"], stats))
    assert len(events) == 8 and not stats.gaps  # digests and sidecars are not read as logs


def test_second_run_downloads_nothing(s3: Any, org_archive: ArchiveWriter, tmp_path: Path) -> None:
    first = collect(s3, tmp_path / "ev")
    second = collect(s3, tmp_path / "ev")
    assert (second.files, second.skipped) == (0, first.files)
    assert (
        orjson.loads(second.manifest.read_bytes())["objects"]
        == orjson.loads(first.manifest.read_bytes())["objects"]
    )


def test_a_changed_local_file_is_fetched_again(s3: Any, org_archive: ArchiveWriter, tmp_path: Path) -> None:
    first = collect(s3, tmp_path / "ev")
    victim = first.paths[0]
    victim.chmod(0o644)
    victim.write_bytes(b"garbage")
    second = collect(s3, tmp_path / "ev")
    assert second.files == 1
    assert victim.read_bytes() != b"garbage"


def test_collected_files_and_manifest_are_read_only_and_complete(
    s3: Any, org_archive: ArchiveWriter, tmp_path: Path
) -> None:
    result = collect(s3, tmp_path / "ev")
    for path in [*result.paths, result.manifest]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o400
    doc = orjson.loads(result.manifest.read_bytes())
    assert doc["format"] == "irkit-manifest/1"
    assert doc["bucket"] == BUCKET
    assert doc["window"] == {"start": "2026-11-25T01:00:00Z", "end": "2026-11-25T02:00:00Z"}
    obj = doc["objects"][0]
    assert set(obj) == {"key", "version_id", "size", "sha256", "sha256_decompressed", "fetched_at"}
    digest = next(o for o in doc["objects"] if "CloudTrail-Digest" in o["key"])
    meta = orjson.loads((tmp_path / "ev" / (digest["key"] + ".meta.json")).read_bytes())
    assert len(meta["signature"]) == 512 and meta["signature-algorithm"] == "SHA256withRSA"


def test_missing_bucket_is_a_gap_not_an_exception(boto: Any, tmp_path: Path) -> None:
    result = collect(boto("s3"), tmp_path / "ev", layout=TrailLayout("no-such-bucket", "", ORG))
    assert result.files == 0
    assert [g.path for g in result.gaps] == ["s3://no-such-bucket"]
    assert "NoSuchBucket" in result.gaps[0].reason
    assert orjson.loads(result.manifest.read_bytes())["gaps"][0]["path"] == "s3://no-such-bucket"


class DenyPrefix:
    """The real client, except that listing one prefix is refused."""

    def __init__(self, client: Any, denied: str) -> None:
        self._client = client
        self._denied = denied

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def list_objects_v2(self, **kwargs: Any) -> Any:
        if kwargs.get("Prefix", "").startswith(self._denied):
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "ListObjectsV2"
            )
        return self._client.list_objects_v2(**kwargs)


def test_access_denied_on_a_prefix_is_a_gap_and_the_rest_is_collected(
    s3: Any, org_archive: ArchiveWriter, tmp_path: Path
) -> None:
    denied = f"AWSLogs/{ORG}/{ACCOUNT}/CloudTrail/eu-west-1/"
    result = collect(DenyPrefix(s3, denied), tmp_path / "ev", regions=("us-east-1", "eu-west-1"))
    assert result.files == 14  # eu-west-1 digests + everything of us-east-1
    assert {g.path for g in result.gaps} == {f"s3://{BUCKET}/{denied}2026/11/25/"}
    assert "AccessDenied" in result.gaps[0].reason


def test_malformed_file_does_not_stop_the_run(s3: Any, org_archive: ArchiveWriter, tmp_path: Path) -> None:
    bad = org_archive.log_keys[8]  # us-east-1 01:25
    s3.put_object(Bucket=BUCKET, Key=bad, Body=b"this is not gzip")
    result = collect(s3, tmp_path / "ev")
    assert result.files == 22
    assert [g.path for g in result.gaps] == [f"s3://{BUCKET}/{bad}"]
    entry = next(o for o in orjson.loads(result.manifest.read_bytes())["objects"] if o["key"] == bad)
    assert entry["sha256_decompressed"] is None


def test_lookup_fallback_writes_unverified_jsonl_at_two_requests_a_second(boto: Any, tmp_path: Path) -> None:
    ct = boto("cloudtrail")
    record = {
        "eventName": "CreateUser",
        "eventTime": "2026-11-25T01:10:00Z",
        "eventSource": "iam.amazonaws.com",
    }
    start, end = WINDOW
    sleeps: list[float] = []
    with Stubber(ct) as stub:
        attr = [{"AttributeKey": "Username", "AttributeValue": "agent-infra-bot"}]
        stub.add_response(
            "lookup_events",
            {"Events": [{"CloudTrailEvent": orjson.dumps(record).decode()}], "NextToken": "t1"},
            {"LookupAttributes": attr, "StartTime": start, "EndTime": end, "MaxResults": 50},
        )
        stub.add_response(
            "lookup_events",
            {"Events": [{"CloudTrailEvent": orjson.dumps(record).decode()}]},
            {
                "LookupAttributes": attr,
                "StartTime": start,
                "EndTime": end,
                "MaxResults": 50,
                "NextToken": "t1",
            },
        )
        stub.add_client_error("lookup_events", "AccessDeniedException", "no")
        result = lookup_fallback(
            ct,
            ["arn:aws:iam::111111111111:user/agent-infra-bot", "AKIAEXAMPLEKEY000001"],
            start,
            end,
            tmp_path,
            sleep=sleeps.append,
            clock=lambda: 0.0,
        )
    assert result.verified is False
    assert sleeps == [0.5, 0.5]  # three calls, each at least half a second after the previous
    lines = result.paths[0].read_text().splitlines()
    assert [orjson.loads(line)["eventName"] for line in lines] == ["CreateUser", "CreateUser"]
    assert "UNVERIFIED" in result.gaps[0].reason
    assert any("AccessKeyId=AKIAEXAMPLEKEY000001" in g.path for g in result.gaps)
    manifest = orjson.loads(result.manifest.read_bytes())
    assert manifest["verified"] is False and manifest["engine"] == "lookup-events"
    stats = ReadStats()
    assert len(list(iter_events([tmp_path], stats))) == 2


class ThrottleOnce:
    """The real client, except that the first GetObject of each key is throttled."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.throttled: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"] not in self.throttled:
            self.throttled.add(kwargs["Key"])
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return self._client.get_object(**kwargs)


def test_throttled_downloads_are_retried(s3: Any, org_archive: ArchiveWriter, tmp_path: Path) -> None:
    client = ThrottleOnce(s3)
    result = collect(client, tmp_path / "ev", regions=("us-east-1",))
    assert result.files == 11 and not result.gaps
    assert len(client.throttled) == 11


def test_accounts_are_discovered_when_none_are_configured(
    s3: Any, org_archive: ArchiveWriter, tmp_path: Path
) -> None:
    result = collect(s3, tmp_path / "ev", accounts=())
    doc = orjson.loads(result.manifest.read_bytes())
    assert doc["accounts"] == [ACCOUNT]
    assert doc["regions"] == ["eu-west-1", "us-east-1"]
    assert result.files == 22
