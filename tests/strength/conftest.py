"""Fixtures for the strength tests: the containment world (shared with tests/contain) and a spy
on every AWS call botocore makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from tests.contain.conftest import attack, fake_detect, world

__all__ = ["attack", "calls", "fake_detect", "world"]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every AWS call made during the test, as (``<endpoint prefix>:<Operation>``, parameters)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    real = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: dict[str, Any]) -> Any:
        seen.append((f"{self.meta.service_model.endpoint_prefix}:{operation}", dict(params)))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    yield seen
