"""Network use of a principal: what "a network it (almost) never calls from" means, shared by the access
detectors (``secret_read_unusual``/``bedrock_invocation_unusual`` and ``ec2_instance_credentials_outside``).

"A network it almost never calls from", without a baseline: a /24 (/48) carrying under 1 % of the
principal's *other* calls (not secret reads, resp. not invocations) in the analysed window when it
made at least 100 and its ten busiest networks carry 90 % of them — the agent's own hosts carry far
more; a stolen key driven from elsewhere carries little however many secrets it reads or prompts it
sends from there. A principal without such a home (a Lambda function outside a VPC calls from many
AWS addresses) has no rare network.

Not a detector: the leading underscore keeps it out of the registry.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from functools import lru_cache

from irkit.detect.baseline import network_of
from irkit.detect.detector import DetectorContext
from irkit.detect.event import Event

RARE_NETWORK_MIN_CALLS = 100
RARE_NETWORK_SHARE = 0.01
HOME_NETWORKS = 10
HOME_SHARE = 0.9
"""A principal "has a home" when its top ``HOME_NETWORKS`` networks carry ``HOME_SHARE`` of its calls."""
MAX_NETWORKS = 1_000
"""Networks counted per principal (more are counted as one overflow bucket)."""
MAX_HITS = 100
OVERFLOW = "(other networks)"


# RFC 1918 and unique-local addresses: what an instance's calls through a VPC endpoint carry.
# (ipaddress's is_private also counts the documentation ranges, which tests use as "the internet".)
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


@lru_cache(maxsize=4096)
def private(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == net.version and addr in net for net in _PRIVATE)


class NetworkUse:
    """A principal's other calls (neither secret reads nor model invocations) per source address: the
    denominator of "a network it almost never uses". Counted per (principal, address) in one flat dict
    (the per-event cost: one lookup and one store, :meth:`add`), folded into networks once, at the end.

    At most ``MAX_NETWORKS`` addresses a principal are counted one by one; calls from further ones are
    counted in its ``OVERFLOW`` bucket."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        """(principal, source address) → calls. :meth:`add` is the way in; a caller that counts inline
        (``counts[key] += 1``) hands a key it has not seen to :meth:`new`."""
        self._distinct: dict[str, int] = {}
        """Principal → addresses counted one by one (the OVERFLOW bucket not included)."""
        self._networks: dict[str, Counter[str]] | None = None

    def add(self, event: Event) -> None:
        key = (event.issuer_arn or event.principal_arn, event.source_ip)
        try:
            self.counts[key] += 1
        except KeyError:
            self.new(key)

    def new(self, key: tuple[str, str], calls: int = 1) -> None:
        """Count ``calls`` from an address not counted yet for its principal (or in the overflow bucket)."""
        actor = key[0]
        distinct = self._distinct.get(actor, 0)
        if distinct < MAX_NETWORKS:
            self._distinct[actor] = distinct + 1
            self.counts[key] = calls
        else:
            over = (actor, OVERFLOW)
            self.counts[over] = self.counts.get(over, 0) + calls
        self._networks = None

    def merge(self, later: NetworkUse) -> None:
        """Fold in the counts of the calls read after this one's: each address's count adds, and the
        addresses this one has not counted join in the order the later share met them, while the
        principal has room (an address the later share put in its own overflow bucket stays there)."""
        counts = self.counts
        for key, calls in later.counts.items():
            seen = counts.get(key)
            if seen is not None:
                counts[key] = seen + calls
            else:
                self.new(key, calls)
        self._networks = None

    def _by_network(self, actor: str) -> Counter[str]:
        networks = self._networks
        if networks is None:
            networks = self._networks = {}
            for (who, ip), n in self.counts.items():
                net = OVERFLOW if ip == OVERFLOW else network_of(ip)
                if net is not None:
                    counts = networks.get(who)
                    if counts is None:
                        counts = networks[who] = Counter()
                    counts[net] += n
        return networks.get(actor) or Counter()

    def rare(self, actor: str, net: str) -> tuple[bool, int, int]:
        """(rare?, calls from ``net``, all calls) for ``actor``.

        Only a principal with a home can have a rare network: its top networks carry most of its calls.
        A Lambda function outside a VPC calls from whatever address its execution environment has —
        dozens of networks, each a sliver — and none of them is "rare" in the sense that matters."""
        counts = self._by_network(actor)
        total = sum(counts.values())
        used = counts.get(net, 0)
        if total < RARE_NETWORK_MIN_CALLS or used >= RARE_NETWORK_SHARE * total:
            return False, used, total
        home = sum(n for _, n in counts.most_common(HOME_NETWORKS))
        return home >= HOME_SHARE * total, used, total

    def size(self) -> int:
        return len(self.counts)


def unusual_network(context: DetectorContext, networks: NetworkUse, actor: str, net: str | None) -> str | None:
    """Why ``net`` is not one of ``actor``'s networks, or None when it is (or cannot be told)."""
    if net is None:
        return None  # an AWS service calling on the principal's behalf
    base = context.baseline
    if base is not None and base.networks:
        return None if net in base.networks else f"{net}, a network the baseline never saw"
    rare, used, total = networks.rare(actor, net)
    if rare:
        return f"{net}, which carries {used} of the principal's {total} other calls"
    return None
