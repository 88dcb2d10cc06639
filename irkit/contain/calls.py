"""How containment calls IAM: persistent under throttling, bounded in flight, reads side by side.

Anyone holding a credential in the account can exhaust its IAM request quota, and an attacker who
sees containment start has every reason to. botocore's answers to throttling are wrong for
containment: its back-off doubles from 1 s to 20 s, and adaptive mode's client-side rate limit
falls to 0.5 request/s when throttling it did not cause goes on, so random throttling held the first
key back for 30-100 s. Containment therefore uses an ``urgent`` client (botocore retries once) and
:class:`Persistent`, which retries throttling itself: a short, capped, jittered back-off
(50 ms doubling to 1 s), up to ``tries`` times; server errors and dropped connections a few times.
Every call waits for one of ``inflight`` slots, so parallel principals and parallel reads stay
within a fixed number of concurrent requests against the account.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from irkit.aws.session import error_code

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_WORKERS = 8
"""Principals contained side by side (the steps' ``workers`` option)."""
READS = 4
"""Independent reads of one principal (its plan, its snapshot, its re-read) issued side by side."""
INFLIGHT = 16
"""IAM requests in flight at once, whatever the number of workers (botocore's pool holds 32)."""
TRIES = 30
"""Tries of a throttled call (with the back-off capped at 1 s: about 25 s at most, then it fails)."""
SERVER_TRIES = 4
"""Tries of a call that met a server error or a dropped connection."""

THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "429",
    }
)
SERVER = frozenset({"ServiceUnavailable", "InternalFailure", "InternalError", "RequestTimeout", "500", "503"})


def transient(exc: BaseException) -> str:
    """``throttle``, ``server`` (5xx, a dropped connection) or ``""`` (not worth trying again)."""
    code = error_code(exc)
    if code in THROTTLING:
        return "throttle"
    # botocore's ConnectionClosedError (a reset), matched by name: boto3 stays in irkit.aws
    if code in SERVER or type(exc).__name__ == "ConnectionClosedError":
        return "server"
    return ""


class Persistent:
    """An AWS client whose operations ride out throttling: a short back-off of its own, bounded.

    ``Persistent(iam).get_role(RoleName=...)`` behaves like ``iam.get_role``: same result, and in
    the end the same exception. Attributes that are not operations (``meta``, ``exceptions``) pass
    through.
    """

    def __init__(
        self,
        client: Any,
        *,
        tries: int = TRIES,
        server_tries: int = SERVER_TRIES,
        base: float = 0.05,
        cap: float = 1.0,
        inflight: int = INFLIGHT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._tries = {"throttle": tries, "server": server_tries}
        self._base, self._cap = base, cap
        self._sleep = sleep
        self._gate = threading.BoundedSemaphore(inflight)
        self._rng = random.Random()  # noqa: S311 - jitter, not a secret
        self._lock = threading.Lock()
        self.retried = 0
        """Tries made again (throttled, a server error, a dropped connection)."""

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name.startswith("_") or not callable(attr) or name in {"get_paginator", "get_waiter", "can_paginate"}:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(max(self._tries.values())):  # bounded: TRIES at most
                with self._gate:
                    try:
                        return attr(*args, **kwargs)
                    except Exception as exc:
                        kind = transient(exc)
                        if not kind or attempt + 1 >= self._tries[kind]:
                            raise
                with self._lock:
                    self.retried += 1
                    delay = self._rng.uniform(0, min(self._cap, self._base * 2**attempt))
                # Pause outside the gate: a waiting call must not hold a slot another one could use.
                self._sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

        return call


def urgent(aws: Any, service: str = "iam") -> Persistent:
    """The client containment calls ``service`` with: botocore retries once, :class:`Persistent` the rest."""
    return Persistent(aws.client(service, urgent=True))


def bounded_map(fn: Callable[[T], R], items: Sequence[T], *, workers: int = DEFAULT_WORKERS) -> list[R]:
    """``[fn(x) for x in items]`` on at most ``workers`` threads, results in input order."""
    if len(items) <= 1 or workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="irkit-contain") as pool:
        return list(pool.map(fn, items))


def together(*fns: Callable[[], Any], workers: int = READS) -> list[Any]:
    """Run independent reads side by side; results in order, the first failure (in order) raised.

    Every read is waited for before a failure is raised: none is left running behind the caller.
    """
    if len(fns) <= 1 or workers <= 1:
        return [fn() for fn in fns]
    with ThreadPoolExecutor(max_workers=min(workers, len(fns)), thread_name_prefix="irkit-read") as pool:
        futures = [pool.submit(fn) for fn in fns]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]
