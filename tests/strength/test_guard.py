"""The dry-run guard, by behaviour: every mutating operation of every service irkit uses, and every
credential-issuing read, is refused before it leaves the process; the same calls go out without it.

Which operations mutate is not taken from the guard: it is the access level the IAM service
reference gives each action (Write, Permissions management, Tagging), shipped with parliament.
An operation whose name is not an IAM action (S3 names many differently) takes the level every
IAM action of the same verb has (Delete*, Put*, ... are Write in every service).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import parliament
import pytest
from botocore.model import OperationModel, Shape

from irkit.aws.guard import is_read_only
from irkit.aws.session import Aws
from irkit.config import AwsSettings
from irkit.errors import DryRunViolation

# boto3 service names irkit creates clients for (irkit/aws, steps, containment, cloudtrail, drill).
IRKIT_SERVICES = ("iam", "sts", "s3", "ec2", "cloudtrail", "athena", "rds")
MUTATING_LEVELS = frozenset({"Write", "Permissions management", "Tagging"})
# Reads by the AWS API reference that hand out a credential, a secret or a password.
CREDENTIAL_READS = (
    ("sts", "GetSessionToken"),
    ("sts", "GetFederationToken"),
    ("sts", "GetWebIdentityToken"),
    ("sts", "GetDelegatedAccessToken"),
    ("sts", "GetScopedCredentials"),
    ("ec2", "GetPasswordData"),
    ("ec2", "GetConsoleScreenshot"),
    ("iam", "GetCredentialReport"),
    ("secretsmanager", "GetSecretValue"),
    ("secretsmanager", "BatchGetSecretValue"),
    ("ecr", "GetAuthorizationToken"),
    ("codeartifact", "GetAuthorizationToken"),
    ("sso", "GetRoleCredentials"),
    ("redshift", "GetClusterCredentials"),
    ("redshift", "GetClusterCredentialsWithIAM"),
    ("redshift-serverless", "GetCredentials"),
    ("cognito-identity", "GetCredentialsForIdentity"),
    ("cognito-identity", "GetOpenIdToken"),
    ("emr", "GetClusterSessionCredentials"),
    ("lightsail", "GetRelationalDatabaseMasterUserPassword"),
)
# Not reads, and allowed in a dry run by design: the log-archive reader role must be assumed to
# read the trail at all, and an AccessDenied message decoded to name the missing permission.
DESIGNED_EXCEPTIONS = (("sts", "AssumeRole"), ("sts", "DecodeAuthorizationMessage"))
# One real read of each read verb irkit relies on: a dry run must be able to plan.
READS = (
    ("iam", "GetRole"),
    ("iam", "ListAccessKeys"),
    ("iam", "GetAccessKeyLastUsed"),
    ("sts", "GetCallerIdentity"),
    ("sts", "GetAccessKeyInfo"),
    ("ec2", "DescribeRegions"),
    ("s3", "HeadObject"),
    ("s3", "GetObject"),
    ("s3", "ListObjectVersions"),
    ("s3", "SelectObjectContent"),
    ("cloudtrail", "LookupEvents"),
    ("cloudtrail", "ListPublicKeys"),
    ("athena", "GetQueryResults"),
    ("athena", "BatchGetQueryExecution"),
    ("ec2", "SearchTransitGatewayRoutes"),
)

_SESSION = botocore.session.get_session()


class Sent(Exception):
    """Raised by a ``before-call`` handler registered after the guard: the request would have gone out."""


@cache
def access_levels() -> dict[str, dict[str, str]]:
    """IAM service reference (parliament's copy): service prefix → action → access level."""
    path = Path(parliament.__file__).with_name("iam_definition.json")
    return {
        s["prefix"]: {p["privilege"]: p["access_level"] for p in s["privileges"]}
        for s in json.loads(path.read_text(encoding="utf-8"))
    }


def verb(operation: str) -> str:
    match = re.match(r"[A-Za-z][a-z]*", operation)
    return match.group(0).capitalize() if match else operation


@cache
def verb_levels() -> dict[str, frozenset[str]]:
    """Every access level IAM gives actions of each verb, over all services."""
    out: dict[str, set[str]] = defaultdict(set)
    for actions in access_levels().values():
        for action, level in actions.items():
            out[verb(action)].add(level)
    return {v: frozenset(levels) for v, levels in out.items()}


def mutates(service: str, operation: str) -> bool | None:
    """True/False from the IAM reference; None when it cannot say (a verb of mixed levels)."""
    model = _SESSION.get_service_model(service)
    prefix = model.signing_name or model.endpoint_prefix
    level = access_levels().get(prefix, {}).get(operation)
    if level is not None:
        return level in MUTATING_LEVELS
    levels = verb_levels().get(verb(operation), frozenset())
    if levels and levels <= MUTATING_LEVELS:
        return True
    if levels and not levels & MUTATING_LEVELS:
        return False
    return None


def _value(shape: Shape, depth: int = 0) -> Any:
    """The smallest value botocore's validation accepts for ``shape``."""
    kind = shape.type_name
    low = int(shape.metadata.get("min", 0))
    if kind == "structure":
        if depth > 12:
            return {}
        return {name: _value(shape.members[name], depth + 1) for name in shape.required_members}  # type: ignore[attr-defined]
    if kind == "list":
        return [_value(shape.member, depth + 1) for _ in range(max(low, 1))]  # type: ignore[attr-defined]
    if kind == "map":
        return {"irkit": _value(shape.value, depth + 1)} if low else {}  # type: ignore[attr-defined]
    if kind == "string":
        enum = shape.metadata.get("enum")
        return enum[0] if enum else "irkittest".ljust(max(low, 9), "x")
    if kind in ("integer", "long"):
        return max(low, 1)
    if kind in ("float", "double"):
        return float(max(low, 1))
    if kind == "boolean":
        return False
    if kind == "blob":
        return b"x" * max(low, 1)
    if kind == "timestamp":
        return datetime(2026, 1, 1, tzinfo=UTC)
    return "irkittest"


def params(operation: OperationModel) -> dict[str, Any]:
    return _value(operation.input_shape) if operation.input_shape is not None else {}


def attempt(client: Any, operation: str) -> type[BaseException] | None:
    """Call ``operation`` with minimal parameters; the exception type it ends in (Sent: went out)."""
    model = client.meta.service_model.operation_model(operation)
    try:
        client._make_api_call(operation, params(model))  # the public method names are derived from this
    except (DryRunViolation, Sent) as exc:
        return type(exc)
    except Exception as exc:
        return type(exc)
    return None


def client_factory(dry_run: bool) -> Callable[[str], Any]:
    # A closed port: nothing may leave even if a handler failed to stop the request.
    aws = Aws(AwsSettings(region="us-east-1", endpoint_url="http://127.0.0.1:9"), dry_run=dry_run)

    def make(service: str) -> Any:
        client = aws.client(service)
        client.meta.events.register_last("before-call", _sent, unique_id="strength-sent")
        return client

    return make


def _sent(**_: Any) -> None:
    raise Sent


def mutating_operations(service: str) -> Iterator[str]:
    for operation in _SESSION.get_service_model(service).operation_names:
        if mutates(service, operation) and (service, operation) not in DESIGNED_EXCEPTIONS:
            yield operation


@pytest.fixture(scope="module")
def guarded() -> Callable[[str], Any]:
    return client_factory(dry_run=True)


@pytest.fixture(scope="module")
def unguarded() -> Callable[[str], Any]:
    return client_factory(dry_run=False)


@pytest.mark.parametrize("service", IRKIT_SERVICES)
def test_a_dry_run_refuses_every_mutating_operation_of_every_service_irkit_uses(
    service: str, guarded: Callable[[str], Any], unguarded: Callable[[str], Any]
) -> None:
    client, control = guarded(service), unguarded(service)
    operations = list(mutating_operations(service))
    families = {verb(op) for op in operations}
    assert len(operations) >= 3, operations  # the loop below checks something
    assert service == "sts" or {"Create", "Delete", "Put", "Tag"} & families, sorted(families)
    leaked, unbuilt = [], []
    for operation in operations:
        if attempt(control, operation) is not Sent:
            unbuilt.append(operation)  # the harness cannot build it: proves nothing either way
            continue
        if attempt(client, operation) is not DryRunViolation:
            leaked.append(operation)
    assert leaked == [], f"{service}: mutating calls a dry run lets through: {leaked}"
    assert len(unbuilt) <= len(operations) // 20, f"{service}: requests the test could not build: {unbuilt}"


def test_sts_issues_no_credentials_in_a_dry_run(guarded: Callable[[str], Any]) -> None:
    """The sweep above sees STS's mutating verbs; the reads that hand out credentials are here."""
    sts = guarded("sts")
    assert attempt(sts, "GetSessionToken") is DryRunViolation
    assert attempt(sts, "GetFederationToken") is DryRunViolation
    assert attempt(sts, "GetCallerIdentity") is Sent


@pytest.mark.parametrize(("service", "operation"), CREDENTIAL_READS, ids=[f"{s}:{o}" for s, o in CREDENTIAL_READS])
def test_a_dry_run_refuses_every_read_that_hands_out_a_credential(
    service: str, operation: str, guarded: Callable[[str], Any], unguarded: Callable[[str], Any]
) -> None:
    assert attempt(unguarded(service), operation) is Sent  # a real operation, and it would go out
    assert attempt(guarded(service), operation) is DryRunViolation


@pytest.mark.parametrize(("service", "operation"), READS + DESIGNED_EXCEPTIONS, ids=lambda x: str(x))
def test_a_dry_run_still_reads(service: str, operation: str, guarded: Callable[[str], Any]) -> None:
    assert attempt(guarded(service), operation) is Sent


def test_the_refusal_names_the_service_and_the_operation(guarded: Callable[[str], Any]) -> None:
    with pytest.raises(DryRunViolation) as caught:
        guarded("sts")._make_api_call("GetSessionToken", {})
    assert (caught.value.service, caught.value.operation) == ("sts", "GetSessionToken")
    assert "sts:GetSessionToken" in str(caught.value)


def test_new_verbs_are_refused_until_someone_says_they_read() -> None:
    # Names no AWS service has today: an allow-list refuses them, a deny-list would not.
    assert not is_read_only("iam", "ObliterateUser")
    assert not is_read_only("license-manager", "CheckoutLicense")  # "Check" + "out" is no read verb
    assert not is_read_only("license-manager", "CheckInLicense")
    assert not is_read_only("ec2", "Getaway")  # "Get" must be a whole word
    assert is_read_only("ec2", "DescribeInstances")


@pytest.mark.parametrize("quick", [False, True])
def test_the_guard_covers_every_client_of_a_dry_run_session(quick: bool) -> None:
    """Clients in another region and the fail-fast ``quick`` clients are guarded too."""
    aws = Aws(AwsSettings(region="us-east-1", endpoint_url="http://127.0.0.1:9"), dry_run=True)
    checked = []
    for service in IRKIT_SERVICES:
        client = aws.client(service, "eu-west-1", quick=quick)
        client.meta.events.register_last("before-call", _sent, unique_id="strength-sent")
        operation = next(iter(mutating_operations(service)))
        checked.append((service, attempt(client, operation)))
    assert checked == [(service, DryRunViolation) for service in IRKIT_SERVICES]


# -- the same, over a moto server: the world does not change ------------------------------------


def _settings(endpoint: str) -> AwsSettings:
    return AwsSettings(region="us-east-1", endpoint_url=endpoint)


def test_a_dry_run_changes_nothing_on_the_server_and_the_same_calls_do_without_it(aws_endpoint: str) -> None:
    admin = Aws(_settings(aws_endpoint)).client("iam")
    admin.create_user(UserName="victim")
    key = admin.create_access_key(UserName="victim")["AccessKey"]["AccessKeyId"]
    calls: list[tuple[str, Callable[[Any], Any]]] = [
        ("iam", lambda c: c.delete_access_key(UserName="victim", AccessKeyId=key)),
        ("iam", lambda c: c.update_access_key(UserName="victim", AccessKeyId=key, Status="Inactive")),
        ("iam", lambda c: c.create_access_key(UserName="victim")),
        ("iam", lambda c: c.generate_credential_report()),
        ("iam", lambda c: c.tag_user(UserName="victim", Tags=[{"Key": "k", "Value": "v"}])),
        ("sts", lambda c: c.get_session_token()),
        ("s3", lambda c: c.create_bucket(Bucket="dry-run-bucket")),
    ]
    dry = Aws(_settings(aws_endpoint), dry_run=True)
    for service, call in calls:
        with pytest.raises(DryRunViolation):
            call(dry.client(service))
    assert [k["Status"] for k in admin.list_access_keys(UserName="victim")["AccessKeyMetadata"]] == ["Active"]
    assert admin.list_user_tags(UserName="victim")["Tags"] == []
    assert dry.client("sts").get_caller_identity()["Account"]  # reads still go through
    # The control: without the guard the very same calls reach the server and change it.
    live = Aws(_settings(aws_endpoint))
    for service, call in calls[1:]:
        call(live.client(service))
    keys = admin.list_access_keys(UserName="victim")["AccessKeyMetadata"]
    assert sorted(k["Status"] for k in keys) == ["Active", "Inactive"]
    assert admin.list_user_tags(UserName="victim")["Tags"] == [{"Key": "k", "Value": "v"}]
    assert "dry-run-bucket" in [b["Name"] for b in live.client("s3").list_buckets()["Buckets"]]
