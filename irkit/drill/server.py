"""The embedded simulator: a moto server on 127.0.0.1, on a free port, for one drill."""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reset(endpoint: str, *, timeout: float = 30) -> None:
    """Empty the simulator's world (every service, every account)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - loopback only
        pass


def patch_simulator() -> None:
    """Fix a moto bug the drill meets: moto 5.2 records a cross-region read replica on its primary by
    ARN but removes it by identifier, so deleting the replica answers 500. Remove whichever is there."""
    from moto.rds.models import DBInstance

    if getattr(DBInstance, "_irkit_replica_fix", False):
        return

    def remove_replica(self: DBInstance, replica: DBInstance) -> None:
        for ident in (replica.db_instance_identifier, replica.db_instance_arn):
            if ident in self.replicas:
                self.replicas.remove(ident)
                return

    DBInstance.remove_replica = remove_replica  # type: ignore[method-assign]
    DBInstance._irkit_replica_fix = True  # type: ignore[attr-defined]


_SETTINGS = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


@contextmanager
def simulator() -> Iterator[str]:
    """Start moto server on loopback only; yields its endpoint URL and stops it afterwards."""
    from moto.server import ThreadedMotoServer

    # The simulator's request log and its tracebacks for unimplemented APIs (ListPublicKeys, which irkit tries
    # before its key-file fallback) are noise on a responder's terminal.
    logging.getLogger("werkzeug").disabled = True
    # AWS managed policies (AdministratorAccess, …) exist in a real account: moto loads them on request
    # (about a second of CPU each time a reset world first touches IAM). moto's ~1,300 public AMIs are
    # not loaded: no scenario reads them (RunInstances does not check its image), and moto builds them,
    # with a volume and a snapshot each, for every region's EC2 at every reset. The settings are the
    # process's: they are put back as they were when the drill ends, so a later simulator in the same
    # process (a test's) gets the world it asked for.
    previous = {name: os.environ.get(name) for name in _SETTINGS}
    os.environ.update(_SETTINGS)
    patch_simulator()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, not per server: every drill starts from an empty world.
    try:
        reset(endpoint)
        yield endpoint
    finally:
        server.stop()
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
