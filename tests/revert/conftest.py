"""A small world for the inverses: an administrator, an attacker holding a user's key, real records."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from irkit.aws.session import Aws
from irkit.config import AwsSettings
from irkit.detect.event import Event
from irkit.drill.recorder import Actor
from irkit.drill.server import patch_simulator
from irkit.revert.evidence import EarlierIndex
from irkit.revert.model import PlanContext

ACCOUNT = "123456789012"  # moto's account
OUTSIDE = "999988887777"
TRUST_OUTSIDE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, "Action": "sts:AssumeRole"}
    ],
}
TRUST_EC2 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
ADMIN_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass
class Sim:
    endpoint: str
    boto: Callable[..., Any]
    attacker: Actor
    admin: Actor
    history: list[dict[str, Any]] = field(default_factory=list)
    """Earlier records (anyone's): the before-images an inverse may use."""
    mem: dict[str, Any] = field(default_factory=dict)

    def ctx(self, **options: Any) -> PlanContext:
        aws = Aws(AwsSettings(region="us-east-1", endpoint_url=self.endpoint))
        index = EarlierIndex()
        for rec in self.history:
            index.add(Event.from_record(rec))
        return PlanContext(
            client=lambda service, region: aws.client(service, region),
            case_id="IR-TEST",
            account=ACCOUNT,
            home_region="us-east-1",
            options=options,
            earlier=index.earlier,
        )

    def attack(self, service: str, op: str, *, region: str = "us-east-1", **params: Any) -> dict[str, Any]:
        """The attacker's call, made for real; returns its CloudTrail record."""
        self.attacker.call(service, op, region=region, when=_when(len(self.attacker.records) + 10), **params)
        return self.attacker.records[-1]

    def earlier(self, service: str, op: str, *, region: str = "us-east-1", **params: Any) -> dict[str, Any]:
        """An administrator's call before the attack (its record is a before-image source)."""
        self.admin.call(service, op, region=region, when=_when(len(self.admin.records)), **params)
        rec = self.admin.records[-1]
        self.history.append(rec)
        return rec

    def managed_policy(self) -> str:
        iam = self.boto("iam")
        arn: str = iam.create_policy(PolicyName="attacker-admin", PolicyDocument=json.dumps(ADMIN_DOC))["Policy"]["Arn"]
        return arn


def _when(n: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime(2026, 11, 25, 20, 0, tzinfo=UTC) + timedelta(minutes=n)


def actor(endpoint: str, boto: Callable[..., Any], user: str, ip: str) -> Actor:
    iam = boto("iam")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return Actor(
        endpoint,
        ACCOUNT,
        f"arn:aws:iam::{ACCOUNT}:user/{user}",
        key["AccessKeyId"],
        key["SecretAccessKey"],
        ip,
        "aws-cli/2",
    )


@pytest.fixture
def sim(aws_endpoint: str, boto: Callable[..., Any]) -> Sim:
    patch_simulator()
    return Sim(
        aws_endpoint,
        boto,
        attacker=actor(aws_endpoint, boto, "agent-infra-bot", "203.0.113.66"),
        admin=actor(aws_endpoint, boto, "platform-admin", "198.51.100.9"),
    )


def apply_undo(sim: Sim, record: dict[str, Any], **options: Any) -> tuple[Any, Any, list[str]]:
    """Change → plan → every call → verify, as the runner does; returns (change, undo, call outcomes)."""
    from irkit.revert.calls import execute
    from irkit.revert.inverses import inverse_for

    event = Event.from_record(record)
    inverse = inverse_for(event.event_name)
    assert inverse is not None
    change = inverse.change(event)
    assert change is not None
    ctx = sim.ctx(**options)
    undo = inverse.plan(change, ctx)
    outcomes = [execute(ctx.client, call) for call in undo.calls]
    return change, undo, outcomes


def verdict(sim: Sim, record: dict[str, Any], **options: Any) -> Any:
    from irkit.revert.inverses import inverse_for

    event = Event.from_record(record)
    inverse = inverse_for(event.event_name)
    assert inverse is not None
    change = inverse.change(event)
    assert change is not None
    return inverse.verify(change, sim.ctx(**options))


def replan(sim: Sim, record: dict[str, Any], **options: Any) -> Sequence[Any]:
    from irkit.revert.inverses import inverse_for

    event = Event.from_record(record)
    inverse = inverse_for(event.event_name)
    assert inverse is not None
    change = inverse.change(event)
    assert change is not None
    return inverse.plan(change, sim.ctx(**options)).calls
