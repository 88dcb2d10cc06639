"""pytest plugin for mutation runs (``-p tests.mutation.order``): tests that need no AWS simulator
run first. Runs stop at the first failure (``-x``), so a mutant that a unit test kills is killed in
a fraction of a second instead of after the moto-server tests that happen to be listed first."""

from __future__ import annotations

from typing import Any

SIMULATOR_FIXTURES = frozenset({"aws_endpoint", "moto_server", "boto", "world", "s3_archive"})


def pytest_collection_modifyitems(items: list[Any]) -> None:
    items.sort(key=lambda item: bool(SIMULATOR_FIXTURES & set(getattr(item, "fixturenames", ()))))
