"""Containment's IAM calls ride out throttling beyond botocore's retries, bounded; nothing else is retried."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.exceptions
import pytest

from irkit.contain.calls import SERVER_TRIES, TRIES, Persistent


def client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "m"}}, "GetRole")


class Flaky:
    """A stand-in client: ``get_role`` fails with ``errors`` in turn, then answers."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.meta = "meta passes through"

    def get_role(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return {"Role": kwargs}


def test_throttling_is_retried_with_a_short_capped_backoff() -> None:
    pauses: list[float] = []
    flaky = Flaky([client_error("Throttling")] * 12)
    assert Persistent(flaky, sleep=pauses.append).get_role(RoleName="r") == {"Role": {"RoleName": "r"}}
    assert flaky.calls == 13 and len(pauses) == 12
    assert all(0 <= p <= 1.0 for p in pauses)
    assert Persistent(flaky).meta == "meta passes through"


def test_throttling_gives_up_after_its_tries() -> None:
    flaky = Flaky([client_error("ThrottlingException")] * (TRIES + 5))
    with pytest.raises(botocore.exceptions.ClientError):
        Persistent(flaky, sleep=lambda _s: None).get_role(RoleName="r")
    assert flaky.calls == TRIES


def test_server_errors_and_dropped_connections_get_a_few_tries() -> None:
    dropped = botocore.exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1")
    flaky = Flaky([client_error("ServiceUnavailable"), dropped])
    assert Persistent(flaky, sleep=lambda _s: None).get_role(RoleName="r")["Role"] == {"RoleName": "r"}
    flaky = Flaky([client_error("InternalFailure")] * 10)
    with pytest.raises(botocore.exceptions.ClientError):
        Persistent(flaky, sleep=lambda _s: None).get_role(RoleName="r")
    assert flaky.calls == SERVER_TRIES


def test_access_denied_is_not_retried() -> None:
    pauses: list[float] = []
    flaky = Flaky([client_error("AccessDenied")])
    with pytest.raises(botocore.exceptions.ClientError):
        Persistent(flaky, sleep=pauses.append).get_role(RoleName="r")
    assert flaky.calls == 1 and pauses == []


def test_calls_in_flight_stay_within_the_bound() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    class Slow:
        def get_role(self, **kwargs: Any) -> None:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    persistent = Persistent(Slow(), inflight=2)
    threads = [threading.Thread(target=persistent.get_role, kwargs={"RoleName": "r"}) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
