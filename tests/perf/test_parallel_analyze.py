"""Two processes for the whole analysis (issue 14, item 2): a second irkit process analyses the later
share of the files and its state is merged; the result is the one-process result, byte for byte —
over a mixed archive (the labelled set's incidents, benign workloads, bursts, and attribution that
crosses files and regions: a user and key created in one file, the key used from another region's
file in the other share). A worker that fails costs time, never data."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cloudtrail import analyze as analyze_module
from irkit.cloudtrail.analyze import analyze_paths
from irkit.cloudtrail.reader import ReadStats, log_files
from irkit.detect.analyzer import Analysis
from irkit.detect.labelled import generate

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
ATTACKER = "203.0.113.50"


def _call(name: str, source: str, minute: float, *, region: str = "us-east-1", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventTime": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventName": name,
        "eventSource": source,
        "awsRegion": region,
        "sourceIPAddress": "10.1.2.3",
        "userAgent": "Boto3/1.34.0",
        "eventID": f"x-{name}-{minute}-{region}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111111111111",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111111111111:assumed-role/agent-ops/s1",
            "accountId": "111111111111",
            "accessKeyId": "ASIAOPSSESSION0001",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111111111111:role/agent-ops"}},
        },
    }
    record.update(extra)
    return record


def _crossing() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A backdoor user made (IAM: us-east-1, in the first share's files), and its key used from a
    new address in another region (us-west-2, whose folder sorts after: the later share's)."""
    made = [
        _call("CreateUser", "iam.amazonaws.com", 0, requestParameters={"userName": "svc-backup"},
              responseElements={"user": {"arn": "arn:aws:iam::111111111111:user/svc-backup"}}),
        _call("AttachUserPolicy", "iam.amazonaws.com", 1,
              requestParameters={"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        _call("CreateAccessKey", "iam.amazonaws.com", 2, requestParameters={"userName": "svc-backup"},
              responseElements={"accessKey": {"accessKeyId": "AKIABACKDOOR0000001", "userName": "svc-backup"}}),
    ]  # fmt: skip
    used = [
        _call("ListBuckets", "s3.amazonaws.com", 30 + i, region="us-west-2", sourceIPAddress=ATTACKER,
              userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/svc-backup",
                            "accountId": "111111111111", "accessKeyId": "AKIABACKDOOR0000001"})
        for i in range(3)
    ]  # fmt: skip
    used += [_call("RunInstances", "ec2.amazonaws.com", 40 + i / 10, region="us-west-2",
                   requestParameters={"instanceType": "p4d.24xlarge"},
                   responseElements={"instancesSet": {"items": [{"instanceId": f"i-0burst{i:04d}"}]}})
             for i in range(12)]  # fmt: skip
    return made, used


def _archive(root: Path) -> int:
    """The labelled set and the crossing chain in 24 gzip files, region folders as an org trail has."""
    data = generate(benign=6_000, seed=11, variants=2, workloads=1_500)
    records = list(data.records)
    made, used = _crossing()
    per = len(records) // 22 + 1
    chunks = [records[i : i + per] for i in range(0, len(records), per)]
    chunks[0] = made + chunks[0]
    chunks += [used, used[:2]]  # the key's use, twice
    for i, chunk in enumerate(chunks):
        region = "us-west-2" if i >= len(chunks) - 2 else "us-east-1"
        path = root / "AWSLogs" / "111111111111" / "CloudTrail" / region / f"{i:03d}.json.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(orjson.dumps({"Records": chunk})))
    # a broken file inside the later share: its gap must come back from the worker
    (root / "AWSLogs" / "111111111111" / "CloudTrail" / "us-west-2" / "zzz.json.gz").write_bytes(b"not gzip")
    return sum(len(c) for c in chunks)


def _dump(analysis: Analysis, stats: ReadStats) -> bytes:
    return orjson.dumps(
        {
            **analysis.to_json(),
            "parked": [analysis.parked_unresolved, analysis.parked_dropped],
            "errors": analysis.errors,
            "stats": [stats.files, stats.events, [g.to_json() for g in stats.gaps]],
        }
    )


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    monkeypatch.setattr(analyze_module, "PARALLEL_MIN_BYTES", 0)  # a small archive, split all the same
    monkeypatch.setattr(analyze_module, "PARALLEL_MIN_FILES", 2)
    root = tmp_path / "archive"
    return root, _archive(root)


def test_two_processes_give_the_one_process_result(archive: tuple[Path, int]) -> None:
    root, events = archive
    one = analyze_paths([root], processes=1)
    later = analyze_module._later_share(log_files([root], ReadStats()), analyze_module.Analyzer(), None, 2)
    assert later and len(later) < 25  # really split: the key made in the first share, used in the later
    assert [p.name for p in later[-3:]] == ["022.json.gz", "023.json.gz", "zzz.json.gz"]
    assert "000.json.gz" not in [p.name for p in later]
    two = analyze_paths([root], processes=2)
    assert one[1].events == events and one[1].gaps  # the broken file is named
    assert _dump(*two) == _dump(*one)
    crossing = {f.rule_id for f in one[0].findings if "AKIABACKDOOR0000001" in f.detail}
    assert "iam_user_backdoor_sequence" in crossing  # the key made in one share, used in the other
    assert "ec2_instance_burst" in {f.rule_id for f in one[0].findings}


def test_a_failed_worker_costs_time_not_data(archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = archive
    one = analyze_paths([root], processes=1)
    monkeypatch.setattr(analyze_module, "_WORKER", "import sys; sys.exit(3)")
    assert _dump(*analyze_paths([root], processes=2)) == _dump(*one)
    monkeypatch.setattr(analyze_module, "_WORKER", "import sys; sys.stdout.write('garbage'); sys.exit(0)")
    assert _dump(*analyze_paths([root], processes=2)) == _dump(*one)


def test_a_filtered_analysis_runs_in_one_process(archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = archive
    files = log_files([root], ReadStats())
    agent = ["arn:aws:iam::111111111111:role/agent-ops"]
    assert analyze_module._later_share(files, analyze_module.Analyzer(principals=agent), None, 2) == []
    assert analyze_module._later_share(files, analyze_module.Analyzer(), None, 1) == []
    monkeypatch.setenv(analyze_module.ENV_PROCESSES, "1")
    assert analyze_module._later_share(files, analyze_module.Analyzer(), None, None) == []
    monkeypatch.setenv(analyze_module.ENV_PROCESSES, "2")
    assert analyze_module._later_share(files, analyze_module.Analyzer(), None, None)
