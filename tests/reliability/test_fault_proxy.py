"""The fault proxy itself: each fault arrives in the wire shape botocore expects from that service."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from tests.faults import FaultProxy, Rule

NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 0}, connect_timeout=5, read_timeout=10)


def client(proxy: FaultProxy, service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=proxy.url, config=NO_RETRY)


def error_of(fn: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        fn()
    resp = info.value.response
    return str(resp["Error"]["Code"]), int(resp["ResponseMetadata"]["HTTPStatusCode"])


def test_iam_throttling_and_server_errors_parse_as_aws_sends_them(fault_proxy: FaultProxy) -> None:
    iam = client(fault_proxy, "iam")
    iam.create_role(RoleName="r1", AssumeRolePolicyDocument="{}")
    fault_proxy.add(Rule("throttle", service="iam", actions=frozenset({"GetRole"}), limit=1))
    assert error_of(lambda: iam.get_role(RoleName="r1")) == ("Throttling", 400)
    fault_proxy.add(Rule("error", service="iam", status=503, limit=1))
    assert error_of(lambda: iam.get_role(RoleName="r1")) == ("ServiceUnavailable", 503)
    fault_proxy.add(Rule("error", service="iam", status=500, limit=1))
    assert error_of(lambda: iam.get_role(RoleName="r1")) == ("InternalFailure", 500)
    assert iam.get_role(RoleName="r1")["Role"]["RoleName"] == "r1"  # every limit spent: forwarded
    assert fault_proxy.injected == {
        "throttle iam:GetRole": 1,
        "error iam:GetRole": 2,
    }
    assert fault_proxy.requests["iam:GetRole"] == 4


def test_access_denied_only_on_the_chosen_resource(fault_proxy: FaultProxy) -> None:
    iam = client(fault_proxy, "iam")
    for name in ("denied", "allowed"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")
    fault_proxy.add(Rule("deny", service="iam", params={"RoleName": "denied"}))
    assert error_of(lambda: iam.get_role(RoleName="denied")) == ("AccessDenied", 403)
    assert error_of(lambda: iam.list_role_policies(RoleName="denied")) == ("AccessDenied", 403)
    assert iam.get_role(RoleName="allowed")["Role"]["RoleName"] == "allowed"


def test_json_protocol_faults_use_its_exception_names(fault_proxy: FaultProxy) -> None:
    trail = client(fault_proxy, "cloudtrail")
    fault_proxy.add(Rule("throttle", service="cloudtrail", limit=1))
    assert error_of(trail.describe_trails) == ("ThrottlingException", 400)
    fault_proxy.add(Rule("deny", service="cloudtrail", actions=frozenset({"DescribeTrails"}), limit=1))
    assert error_of(trail.describe_trails) == ("AccessDeniedException", 400)
    assert trail.describe_trails()["trailList"] == []


def test_s3_object_vanishes_between_list_and_get_and_throttling_is_slowdown(fault_proxy: FaultProxy) -> None:
    s3 = client(fault_proxy, "s3")
    s3.create_bucket(Bucket="archive-bucket")
    s3.put_object(Bucket="archive-bucket", Key="AWSLogs/a.json.gz", Body=b"one")
    s3.put_object(Bucket="archive-bucket", Key="AWSLogs/b.json.gz", Body=b"two")
    fault_proxy.add(Rule("vanish", service="s3", key_pattern=r"/a\.json\.gz$"))
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="archive-bucket")["Contents"]]
    assert listed == ["AWSLogs/a.json.gz", "AWSLogs/b.json.gz"]
    assert error_of(lambda: s3.get_object(Bucket="archive-bucket", Key="AWSLogs/a.json.gz")) == ("NoSuchKey", 404)
    assert error_of(lambda: s3.head_object(Bucket="archive-bucket", Key="AWSLogs/a.json.gz"))[1] == 404
    assert s3.get_object(Bucket="archive-bucket", Key="AWSLogs/b.json.gz")["Body"].read() == b"two"
    fault_proxy.add(Rule("throttle", service="s3", actions=frozenset({"ListObjectsV2"}), limit=1))
    assert error_of(lambda: s3.list_objects_v2(Bucket="archive-bucket")) == ("SlowDown", 503)


def test_a_reset_connection_is_a_dropped_connection_to_botocore(fault_proxy: FaultProxy) -> None:
    sts = client(fault_proxy, "sts")
    fault_proxy.add(Rule("reset", service="sts", limit=1))
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        sts.get_caller_identity()
    assert sts.get_caller_identity()["Account"] == "123456789012"
    assert fault_proxy.injected["reset sts:GetCallerIdentity"] == 1


def test_the_same_seed_injects_the_same_faults(aws_endpoint: str) -> None:
    def pattern(seed: int) -> list[bool]:
        with FaultProxy(aws_endpoint, seed=seed) as proxy:
            proxy.add(Rule("throttle", probability=0.3, service="sts"))
            sts = client(proxy, "sts")
            out = []
            for _ in range(40):
                try:
                    sts.get_caller_identity()
                    out.append(False)
                except botocore.exceptions.ClientError:
                    out.append(True)
            assert sum(out) == proxy.injected["throttle sts:GetCallerIdentity"]
            return out

    first = pattern(7)
    assert first == pattern(7)
    assert 0 < sum(first) < 40


def test_only_loopback_upstreams() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        FaultProxy("http://10.0.0.1:5000")
