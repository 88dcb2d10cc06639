"""Shared fixtures: a real moto server over HTTP, reset between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from hypothesis import HealthCheck, settings

from irkit.drill.server import free_port, reset

# Property tests run beside moto servers on two loaded cores: no per-example deadline (a slow example
# is not a wrong one), and no "too slow" health check. Each test's own settings still apply on top.
settings.register_profile("irkit", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("irkit")

# Never let a test reach a real AWS account, whatever the developer's environment holds.
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
# moto rebuilds ~1,300 public AMIs (a volume and a snapshot each) for every region's EC2 backend at every
# reset, a large share of each test's setup; no test reads them (tests/revert makes its own image), and
# the drill's simulator does not load them either (irkit/drill/server.py).
os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the session; yields its endpoint URL (http://127.0.0.1:PORT)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_endpoint(moto_server: str) -> Iterator[str]:
    """A clean AWS world for one test: the server's state is reset before the test."""
    reset(moto_server, timeout=10)
    yield moto_server


@pytest.fixture
def boto(aws_endpoint: str):  # type: ignore[no-untyped-def]
    """``boto("iam")`` → a client bound to the test's moto server."""

    def make(service: str, region: str = "us-east-1"):  # type: ignore[no-untyped-def]
        return boto3.client(service, region_name=region, endpoint_url=aws_endpoint)

    return make
