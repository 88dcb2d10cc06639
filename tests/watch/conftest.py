"""A drill world (moto server over HTTP) whose agent's stolen key planted a backdoor role and stopped
the org trail, and a paging service on 127.0.0.1 that records what it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.writer import ArchiveWriter, S3Sink
from irkit.drill.server import reset
from irkit.drill.world import (
    ACCOUNT,
    AGENT,
    AGENT_USER,
    ARCHIVE_BUCKET,
    LOG_READER_ROLE,
    ORG_ID,
    OUTSIDE_ACCOUNT,
    TRAIL,
    World,
)

BACKDOOR = "ops-maintenance-automation"
ROUTING_KEY = "R0UTINGKEYsecret0123456789abcdef"


@dataclass
class Receiver:
    """A paging service: answers each POST with the next scripted status (then 202), keeps the bodies."""

    url: str
    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)

    def accepted(self) -> list[dict[str, Any]]:
        return [b for b, s in zip(self.bodies, self.answered, strict=True) if 200 <= s < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            rec = box["r"]
            status = rec.statuses.pop(0) if rec.statuses else 202
            rec.bodies.append(body)
            rec.answered.append(status)
            payload = b'{"status":"success","message":"Event processed"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue")
    try:
        yield box["r"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Scene:
    world: World
    config: Path
    tmp: Path

    def writer(self) -> ArchiveWriter:
        return ArchiveWriter(
            TrailLayout(ARCHIVE_BUCKET, "", ORG_ID),
            S3Sink(self.world.client("s3"), ARCHIVE_BUCKET),
            private_key=self.world.trail_key,
            trail_name=TRAIL,
        )

    def deliver(self, records: list[dict[str, Any]], *, delivered: datetime | None = None) -> None:
        """Deliver just these records, as CloudTrail would (5-minute files per region; with
        ``delivered``, one file a region delivered then)."""
        by_region: dict[str, list[dict[str, Any]]] = {}
        for record in records:  # in the order given: a file need not be sorted
            by_region.setdefault(record["awsRegion"], []).append(record)
        writer = self.writer()
        for region, recs in sorted(by_region.items()):
            writer.add_records(ACCOUNT, region, recs, delivered=delivered)


def write_config(world: World, path: Path, *, public_key: Path, extra: str = "") -> Path:
    path.write_text(
        f"""\
aws:
  region: us-east-1
  endpoint_url: {world.endpoint}
log_archive:
  bucket: {ARCHIVE_BUCKET}
  organization_id: {ORG_ID}
  role_arn: arn:aws:iam::{ACCOUNT}:role/{LOG_READER_ROLE}
  public_keys: ["{public_key}"]
  accounts: ["{ACCOUNT}"]
  regions: [us-east-1, us-west-2]
agents:
  {AGENT}:
    account: "{ACCOUNT}"
    principals:
      - {world.role_arn}
      - {world.user_arn}
{extra}""",
        encoding="utf-8",
    )
    return path


def create_role(world: World, when: datetime) -> None:
    assert world.attacker is not None
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    world.attacker.call(
        "iam", "CreateRole", when=when, RoleName=BACKDOOR, Path="/", AssumeRolePolicyDocument=json.dumps(trust)
    )


def arm_role(world: World, when: datetime) -> None:
    assert world.attacker is not None
    world.attacker.call(
        "iam",
        "AttachRolePolicy",
        when=when,
        RoleName=BACKDOOR,
        PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
    )
    world.attacker.call("iam", "CreateAccessKey", when=when + timedelta(seconds=30), UserName=AGENT_USER)


def new_world(endpoint: str, tmp: Path) -> World:
    world = World(endpoint, now=datetime.now(UTC).replace(microsecond=0), workdir=tmp / "world")
    world.build()
    world.background(hours=1.5, calls=150)
    return world


@pytest.fixture
def compromised(aws_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scene:
    """Backdoor role (CreateRole → AdministratorAccess → CreateAccessKey), then StopLogging on the org trail."""
    # AdministratorAccess exists, as in a real account (moto loads AWS's managed policies on request).
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    reset(aws_endpoint, timeout=10)
    world = new_world(aws_endpoint, tmp_path)
    assert world.attacker is not None
    t = world.now - timedelta(minutes=40)
    create_role(world, t)
    arm_role(world, t + timedelta(minutes=1))
    world.attacker.call("cloudtrail", "StopLogging", when=t + timedelta(minutes=3), Name=TRAIL)
    world.logging_stopped_at = t + timedelta(minutes=3)
    world.deliver()
    key = world.write_public_key(tmp_path / "trail-key.pem")
    return Scene(world, write_config(world, tmp_path / "irkit.yaml", public_key=key), tmp_path)
