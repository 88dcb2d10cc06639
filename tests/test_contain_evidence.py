"""`contain` against a signed archive: a rewritten log and a deleted digest are named in the report."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from irkit.cli import main
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink

ACCOUNT = "123456789012"
BUCKET = "org-trail-archive"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/agent-bot"


def rec(when: datetime, name: str, n: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.09",
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.20",
        "userAgent": "Boto3/1.34",
        "eventID": f"evt-{n}",
        "readOnly": True,
        "userIdentity": {
            "type": "IAMUser",
            "arn": USER_ARN,
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLE000000001",
        },
        "recipientAccountId": ACCOUNT,
    }


def write_config(folder: Path, endpoint: str, key_file: Path) -> Path:
    config = folder / "irkit.yaml"
    config.write_text(
        f"""
aws: {{region: us-east-1, endpoint_url: "{endpoint}"}}
log_archive:
  bucket: {BUCKET}
  organization_id: o-abc123
  accounts: ["{ACCOUNT}"]
  public_keys: ["{key_file}"]
agents:
  bot:
    account: "{ACCOUNT}"
    principals: [{USER_ARN}]
"""
    )
    return config


@pytest.fixture
def archive(boto: Any, tmp_path: Path) -> dict[str, Any]:
    iam, s3 = boto("iam"), boto("s3")
    iam.create_user(UserName="agent-bot")
    iam.create_access_key(UserName="agent-bot")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(hours=3)).replace(minute=0)
    writer = ArchiveWriter(TrailLayout(BUCKET, "", "o-abc123"), S3Sink(s3, BUCKET))
    records = [
        rec(start + timedelta(minutes=7 * i), "DescribeInstances", i)
        for i in range(int((now - start).total_seconds() // 420))
    ]
    writer.add_records(ACCOUNT, "us-east-1", records)
    writer.seal_digests(until=now)
    key_file = writer.write_public_key(tmp_path / "trail.pem")
    config = write_config(tmp_path, s3.meta.endpoint_url, key_file)
    return {"s3": s3, "config": config, "logs": writer.log_keys, "digests": writer.digest_keys}


def contain(config: Path, out: Path) -> tuple[int, str]:
    code = main(["contain", "bot", "--config", str(config), "--hours", "4", "--yes", "--out", str(out)])
    (case,) = out.iterdir()
    return code, (case / "report.md").read_text()


def test_clean_signed_archive_verifies(archive: dict[str, Any], tmp_path: Path) -> None:
    code, report = contain(archive["config"], tmp_path / "cases")
    assert code == 0, report
    assert "digest chain intact" in report


def test_rewritten_log_is_named_as_tampered(archive: dict[str, Any], tmp_path: Path) -> None:
    s3, key = archive["s3"], archive["logs"][3]
    body = json.loads(gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    body["Records"] = body["Records"][:-1]  # the attacker drops an event: a new object version
    s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(orjson.dumps(body)))
    code, report = contain(archive["config"], tmp_path / "cases")
    assert code == 3
    assert "log-tampered" in report
    tampered = [line for line in report.splitlines() if "log-tampered" in line]
    assert any(key in line for line in tampered)


def test_deleted_digest_is_reported_as_a_gap(archive: dict[str, Any], tmp_path: Path) -> None:
    s3 = archive["s3"]
    s3.delete_object(Bucket=BUCKET, Key=archive["digests"][1])
    code, report = contain(archive["config"], tmp_path / "cases")
    assert code == 3
    assert "digest-missing" in report
    assert "## Coverage gaps" in report


# -- a log rewritten to hide a CreateUser --------------------------------------------------------

BACKDOOR = "svc-shadow"


def create_user_record(when: datetime) -> dict[str, Any]:
    out = rec(when, "CreateUser", 9999)
    out.update(
        eventSource="iam.amazonaws.com",
        readOnly=False,
        requestParameters={"userName": BACKDOOR},
        responseElements={"user": {"userName": BACKDOOR, "arn": f"arn:aws:iam::{ACCOUNT}:user/{BACKDOOR}"}},
    )
    return out


@pytest.fixture
def hidden(boto: Any, tmp_path: Path) -> dict[str, Any]:
    """A signed archive where the agent's key created a user, then that log was rewritten without it."""
    iam, s3 = boto("iam"), boto("s3")
    iam.create_user(UserName="agent-bot")
    iam.create_access_key(UserName="agent-bot")
    iam.create_user(UserName=BACKDOOR)
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(hours=3)).replace(minute=0)
    writer = ArchiveWriter(TrailLayout(BUCKET, "", "o-abc123"), S3Sink(s3, BUCKET))
    records = [rec(start + timedelta(minutes=7 * i), "DescribeInstances", i) for i in range(20)]
    records.append(create_user_record(start + timedelta(minutes=61)))
    writer.add_records(ACCOUNT, "us-east-1", sorted(records, key=lambda r: r["eventTime"]))
    writer.seal_digests(until=now)
    def body_of(key: str) -> bytes:
        return gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    key = next(k for k in writer.log_keys if b"CreateUser" in body_of(k))
    original = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"][0]["VersionId"]
    body = json.loads(body_of(key))
    body["Records"] = [r for r in body["Records"] if r["eventName"] != "CreateUser"]
    rewritten = s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(orjson.dumps(body)))["VersionId"]
    key_file = writer.write_public_key(tmp_path / "trail.pem")
    config = write_config(tmp_path, s3.meta.endpoint_url, key_file)
    return {"s3": s3, "config": config, "key": key, "original": original, "rewritten": rewritten}


def contain_case(config: Path, out: Path, *extra: str) -> tuple[int, Path]:
    code = main(["contain", "bot", "--config", str(config), "--hours", "4", "--yes", "--out", str(out), *extra])
    (case,) = out.iterdir()
    return code, case


def rules_found(case: Path) -> set[str]:
    return {f["rule_id"] for f in orjson.loads((case / "findings.json").read_bytes())["findings"]}


def test_contain_detects_the_create_user_a_rewritten_log_hid(hidden: dict[str, Any], tmp_path: Path) -> None:
    code, case = contain_case(hidden["config"], tmp_path / "cases")
    report = (case / "report.md").read_text()
    assert code == 3, report  # the tampering stays a named gap
    assert "iam_user_created" in rules_found(case)
    assert BACKDOOR in report
    assert f"The attacker rewrote `{hidden['key']}`" in report
    assert "irkit analysed the original" in report
    assert hidden["original"] in report and hidden["rewritten"] in report
    evidence = case / "evidence"
    assert b"CreateUser" in gzip.decompress((evidence / hidden["key"]).read_bytes())
    (copy,) = evidence.rglob("*.tampered-*")
    assert b"CreateUser" not in gzip.decompress(copy.read_bytes())
    journal = [json.loads(line) for line in (case / "journal.jsonl").read_text().splitlines()]
    actions = [e["data"]["action"] for e in journal if e["kind"] == "action.done"]
    adopted = [a for a in actions if a["kind"] == "adopt-authentic-log"]
    assert adopted and adopted[0]["params"]["authentic_version"] == hidden["original"]


def test_without_recovery_the_hidden_create_user_is_not_detected(hidden: dict[str, Any], tmp_path: Path) -> None:
    runbook = tmp_path / "no-recovery.yaml"
    text = (Path(__file__).parent.parent / "runbooks" / "agent-compromise.yaml").read_text()
    runbook.write_text(text.replace("  - step: verify\n", "  - step: verify\n    with: {recover: false}\n"))
    code, case = contain_case(hidden["config"], tmp_path / "cases", "--runbook", str(runbook))
    report = (case / "report.md").read_text()
    assert code == 3, report
    assert "log-tampered" in report
    assert "iam_user_created" not in rules_found(case)
    assert "recover: false" in report
    assert not list((case / "evidence").rglob("*.tampered-*"))


def test_no_matching_version_leaves_the_evidence_and_names_the_gap(hidden: dict[str, Any], tmp_path: Path) -> None:
    s3 = hidden["s3"]
    # No retention on these objects: the attacker can destroy the delivered version as well.
    s3.delete_object(Bucket=BUCKET, Key=hidden["key"], VersionId=hidden["original"])
    code, case = contain_case(hidden["config"], tmp_path / "cases")
    report = (case / "report.md").read_text()
    assert code == 3, report
    assert "iam_user_created" not in rules_found(case)
    assert "the evidence holds the rewrite" in report
    assert "single version" in report
    evidence = case / "evidence"
    assert not list(evidence.rglob("*.tampered-*"))
    current = s3.get_object(Bucket=BUCKET, Key=hidden["key"])["Body"].read()
    assert (evidence / hidden["key"]).read_bytes() == current
