"""Reliability tests: irkit against moto server through the fault proxy of :mod:`tests.faults`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from irkit.config import load_config
from tests.contain.conftest import World, attack, fake_detect, world, write_config
from tests.faults import FaultProxy, fault_proxy

__all__ = ["attack", "fake_detect", "fault_proxy", "proxied", "world"]


@pytest.fixture
def proxied(world: World, fault_proxy: FaultProxy) -> World:
    """The containment world, with irkit's endpoint behind the fault proxy. ``world.iam`` still talks
    to moto directly: it is the clean client the tests re-read the world with."""
    principals = [p.arn for p in world.settings.agent("infra-optimizer").principals]
    config = write_config(world.config, fault_proxy.url, principals)
    return replace(world, endpoint=fault_proxy.url, config=config, settings=load_config(config))
