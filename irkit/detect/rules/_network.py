"""Network helpers the exposure rules share: "open to any network", and the admin ports."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

ADMIN_PORTS: dict[int, str] = {
    22: "SSH",
    23: "telnet",
    135: "MS RPC",
    139: "NetBIOS",
    445: "SMB",
    1433: "SQL Server",
    1521: "Oracle",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    2379: "etcd",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5900: "VNC",
    5985: "WinRM",
    5986: "WinRM (TLS)",
    6379: "Redis",
    6443: "Kubernetes API",
    9200: "Elasticsearch",
    10250: "kubelet",
    11211: "memcached",
    27017: "MongoDB",
}
"""Remote administration and data-store ports: open to the world, a takeover or a data leak, not a
website. A rule that opens one of these (or every port) is weighted one severity higher."""

_PORT_PROTOCOLS = frozenset({"tcp", "udp", "6", "17", "-1", "all"})


def any_network(cidr: object) -> bool:
    """True for a prefix-length-0 block: ``0.0.0.0/0``, ``::/0`` and also ``208.236.235.254/0`` — any
    ``x.x.x.x/0`` is the whole address space (the string ``0.0.0.0/0`` is only one spelling)."""
    return isinstance(cidr, str) and "/" in cidr and _prefix_zero(cidr)


@lru_cache(maxsize=4096)  # a trail repeats the same few blocks
def _prefix_zero(cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def admin_ports(protocol: object, low: object, high: object) -> list[str]:
    """The admin ports a rule opens (``["22 SSH"]``, ``["all ports"]``), empty when it opens none."""
    proto = str(protocol if protocol is not None else "").strip().lower()
    if proto not in _PORT_PROTOCOLS:
        return []  # ICMP (ports are type codes) and other protocols
    if proto in ("-1", "all"):
        return ["all ports"]
    start, end = _int(low), _int(high)
    start = start if start is not None else end
    end = end if end is not None else start
    if start is None or end is None:
        return ["all ports"]
    if (start <= 0 and end >= 65535) or start == -1:
        return ["all ports"]
    return [f"{port} {name}" for port, name in ADMIN_PORTS.items() if start <= port <= end]
