"""`contain` runs the Sigma rules of detection.sigma_dirs (through the config) and keeps the inventory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from irkit.cli import main
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink

ACCOUNT = "123456789012"
BUCKET = "org-trail-archive"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/agent-bot"
RULE = """title: Instance user data read
id: 1f2e3d4c-0000-4000-8000-000000000001
author: irkit tests
level: high
tags: [attack.credential-access, attack.t1552]
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: DescribeInstanceAttribute
    requestParameters.attribute: userData
  condition: sel
"""
REFUSED = """title: keyword rule
id: 1f2e3d4c-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection:
  words: [AKIA]
  condition: words
"""


def _rec(when: datetime, name: str, n: int, **extra: Any) -> dict[str, Any]:
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
        **extra,
    }


def test_contain_runs_the_configured_sigma_rules_and_names_the_refused_ones(boto: Any, tmp_path: Path) -> None:
    iam, s3 = boto("iam"), boto("s3")
    iam.create_user(UserName="agent-bot")
    iam.create_access_key(UserName="agent-bot")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = (now - timedelta(hours=2)).replace(minute=0)
    writer = ArchiveWriter(TrailLayout(BUCKET, "", "o-abc123"), S3Sink(s3, BUCKET))
    records = [_rec(start + timedelta(minutes=5 * i), "DescribeInstances", i) for i in range(10)]
    records.append(
        _rec(
            start + timedelta(minutes=53),
            "DescribeInstanceAttribute",
            100,
            requestParameters={"instanceId": "i-0a1b2c3d", "attribute": "userData"},
        )
    )
    records.append(
        _rec(
            start + timedelta(minutes=54),
            "CreateTags",
            101,
            readOnly=False,
            requestParameters={"resourcesSet": {"items": [{"resourceId": "i-0a1b2c3d"}]}},
        )
    )
    writer.add_records(ACCOUNT, "us-east-1", sorted(records, key=lambda r: r["eventTime"]))
    writer.seal_digests(until=now)
    key_file = writer.write_public_key(tmp_path / "trail.pem")
    sigma = tmp_path / "sigma"
    sigma.mkdir()
    (sigma / "user_data.yml").write_text(RULE)
    (sigma / "keywords.yml").write_text(REFUSED)
    config = tmp_path / "irkit.yaml"
    config.write_text(
        f"""
aws: {{region: us-east-1, endpoint_url: "{s3.meta.endpoint_url}"}}
log_archive:
  bucket: {BUCKET}
  organization_id: o-abc123
  accounts: ["{ACCOUNT}"]
  public_keys: ["{key_file}"]
agents:
  bot:
    account: "{ACCOUNT}"
    principals: [{USER_ARN}]
detection:
  sigma_dirs: [sigma]
"""
    )
    out = tmp_path / "cases"
    code = main(["contain", "bot", "--config", str(config), "--hours", "3", "--yes", "--out", str(out)])
    (case,) = out.iterdir()
    report = (case / "report.md").read_text()
    assert code == 3, report  # the refused rule is a coverage gap
    doc = orjson.loads((case / "findings.json").read_bytes())
    found = {f["rule_id"]: f for f in doc["findings"]}
    sigma_finding = found["sigma:1f2e3d4c-0000-4000-8000-000000000001"]
    assert sigma_finding["event_ids"] == ["evt-100"] and sigma_finding["severity"] == "high"
    assert "ec2_user_data_read" in found  # the built-in rule sees it too
    assert "keywords.yml" in report and "keyword" in report
    assert [c["resource"] for c in doc["inventory"]["changes"]] == ["resource/i-0a1b2c3d"]
