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

import heapq
import ipaddress
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from irkit.detect.baseline import network_of
from irkit.detect.detector import DetectorContext

RARE_NETWORK_MIN_CALLS = 100
RARE_NETWORK_SHARE = 0.01
HOME_NETWORKS = 10
HOME_SHARE = 0.9
"""A principal "has a home" when its top ``HOME_NETWORKS`` networks carry ``HOME_SHARE`` of its calls."""
MAX_NETWORKS = 1_000
"""Networks an instance session is seen from (``ec2_instance_credentials_outside``)."""
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


MAX_ADDRESSES = 500
"""Source addresses counted one by one per principal (calls from further ones: its ``OVERFLOW``)."""
MAX_ADDRESSES_TOTAL = 30_000
"""Source addresses counted one by one over all principals: many principals each calling from many
addresses (a trail's Lambda fleet, a planted log) fold into their overflow buckets past it, so the
tables stay ~10 MB whatever the archive."""


class AddressCounts:
    """Calls per principal and source address, bounded: at most :data:`MAX_ADDRESSES` addresses a
    principal and :data:`MAX_ADDRESSES_TOTAL` in all are counted one by one; a call from an address
    past a bound is counted in the principal's ``OVERFLOW`` bucket (its total stays right) and the
    fold is said (:meth:`note`). Plain dict updates per event: the bulk of a trail's cost here."""

    __slots__ = ("by_actor", "folded", "folded_actors", "held")

    def __init__(self) -> None:
        self.by_actor: dict[str, dict[str, int]] = {}
        """Principal → source address (or ``OVERFLOW``) → calls."""
        self.held = 0
        """Addresses counted one by one, over all principals (overflow buckets not included)."""
        self.folded = 0
        """Calls counted in an overflow bucket."""
        self.folded_actors: set[str] = set()

    def add(self, actor: str, ip: str) -> None:
        self.add_calls(((actor, ip),))

    def add_calls(self, calls: Iterable[tuple[str, str]]) -> None:
        """Count each (actor, source address) call, in order: what :meth:`add` of each does."""
        by_actor = self.by_actor
        last_actor: str | None = None
        ips: dict[str, int] = {}
        for actor, ip in calls:
            if actor is not last_actor:
                got = by_actor.get(actor)
                if got is None:
                    got = by_actor[actor] = {}
                ips, last_actor = got, actor
            seen = ips.get(ip)
            if seen is not None:
                ips[ip] = seen + 1
            elif len(ips) < MAX_ADDRESSES and self.held < MAX_ADDRESSES_TOTAL:
                ips[ip] = 1
                self.held += 1
            else:
                self._fold(actor, ips, 1)

    def _fold(self, actor: str, ips: dict[str, int], calls: int) -> None:
        ips[OVERFLOW] = ips.get(OVERFLOW, 0) + calls
        self.folded += calls
        if len(self.folded_actors) < MAX_HITS:
            self.folded_actors.add(actor)

    def calls(self, actor: str) -> dict[str, int]:
        """``actor``'s counts (``OVERFLOW``: calls from addresses past the bounds)."""
        return self.by_actor.get(actor, {})

    def merge(self, later: AddressCounts) -> None:
        """Fold in the counts of the calls read after this one's: each address's count adds, and the
        addresses this one has not counted join in the order the later share met them while the
        bounds have room; the rest (and the later share's own overflow) go to the overflow bucket.
        Exact while no bound was reached."""
        for actor, theirs in later.by_actor.items():
            ips = self.by_actor.get(actor)
            if ips is None:
                ips = self.by_actor[actor] = {}
            folded = 0  # calls this merge folds for the actor: one _fold, at the end
            for ip, n in theirs.items():
                if ip == OVERFLOW:  # folded there already (and counted in later.folded)
                    ips[OVERFLOW] = ips.get(OVERFLOW, 0) + n
                    continue
                seen = ips.get(ip)
                if seen is not None:
                    ips[ip] = seen + n
                elif len(ips) < MAX_ADDRESSES and self.held < MAX_ADDRESSES_TOTAL:
                    ips[ip] = n
                    self.held += 1
                else:  # past a bound, for the rest of the actor's addresses too (bounds only fill)
                    folded += n
            if folded:
                self._fold(actor, ips, folded)
        self.folded += later.folded
        for actor in later.folded_actors:
            if len(self.folded_actors) < MAX_HITS:
                self.folded_actors.add(actor)
        later.by_actor = {}

    def size(self) -> int:
        return sum(len(c) for c in self.by_actor.values())

    def note(self, what: str) -> str | None:
        """What was folded, for the analysis's ``folded`` list; None when nothing was."""
        if not self.folded:
            return None
        return (
            f"{what}: {self.folded:,} call(s) of {len(self.folded_actors)}"
            f"{'+' if len(self.folded_actors) >= MAX_HITS else ''} principal(s) came from addresses past the "
            f"bound ({MAX_ADDRESSES:,} an actor, {MAX_ADDRESSES_TOTAL:,} in all) and were counted together, "
            "not address by address"
        )


class NetworkUse:
    """A principal's other calls (neither secret reads nor model invocations) per source address: the
    denominator of "a network it almost never uses". Counted per address (:class:`AddressCounts`:
    plain dict updates per event, bounded), folded into networks once, at the end (the first
    :meth:`rare`, after the last call is counted)."""

    def __init__(self) -> None:
        self.addresses = AddressCounts()
        self._networks: dict[str, Counter[str]] = {}

    def add_calls(self, calls: Iterable[tuple[str, str]]) -> None:
        """Count each (actor, source address) call (:meth:`AddressCounts.add_calls`)."""
        self.addresses.add_calls(calls)

    def merge(self, later: NetworkUse) -> None:
        """Fold in the counts of the calls read after this one's (:meth:`AddressCounts.merge`)."""
        self.addresses.merge(later.addresses)
        self._networks.clear()

    def _by_network(self, actor: str) -> Counter[str]:
        counts = self._networks.get(actor)
        if counts is None:
            counts = self._networks[actor] = Counter()
            for ip, n in self.addresses.calls(actor).items():
                net = OVERFLOW if ip == OVERFLOW else network_of(ip)
                if net is not None:
                    counts[net] += n
        return counts

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
        # The calls past the address bound (OVERFLOW) came from the principal's 501st address on:
        # spread over many, never a home. Counted as one network they made a Lambda function's
        # thousands of addresses look like a home, and its every secret read "rare".
        home = sum(heapq.nlargest(HOME_NETWORKS, (n for network, n in counts.items() if network != OVERFLOW)))
        return home >= HOME_SHARE * total, used, total

    def size(self) -> int:
        return self.addresses.size()


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
