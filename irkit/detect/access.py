"""Access detectors: when a routine kind of read is *not* routine.

Reading a secret, decrypting a parameter or invoking a model is what workloads do all day; one such
read is an access (recorded in the inventory, a low finding at most), not an alarm. These detectors
raise medium and above only when something makes the access suspicious:

```yaml
secret_read_unusual:             a secret the principal's baseline never read, a network it (almost)
                                 never calls from, or >= 5 secrets read for the first time in 10 min
bedrock_invocation_unusual:      model invocations by a principal whose baseline never invoked one, or
                                 from a network it never (or almost never) uses
ec2_instance_credentials_outside: an instance-profile session (ec2RoleDelivery) used from a network
                                 that is not the instance's
```

"A network it almost never calls from", without a baseline: a /24 (/48) carrying under 1 % of the
principal's *other* calls (not secret reads, resp. not invocations) in the analysed window when it
made at least 100 and its ten busiest networks carry 90 % of them — the agent's own hosts carry far
more; a stolen key driven from elsewhere carries little however many secrets it reads or prompts it
sends from there. A principal without such a home (a Lambda function outside a VPC calls from many
AWS addresses) has no rare network.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from irkit.detect.baseline import network_of
from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, finding, windows
from irkit.detect.event import Event, format_time
from irkit.detect.reads import SecretRead, model_invoked, secret_read
from irkit.detect.records import ACCOUNT, AGENT_IP, ATTACKER_IP, record, role_identity
from irkit.detect.rule import Finding, Severity

RARE_NETWORK_MIN_CALLS = 100
RARE_NETWORK_SHARE = 0.01
HOME_NETWORKS = 10
HOME_SHARE = 0.9
"""A principal "has a home" when its top ``HOME_NETWORKS`` networks carry ``HOME_SHARE`` of its calls."""
BURST_SECONDS = 600
BURST_SECRETS = 5
MAX_NETWORKS = 1_000
"""Networks counted per principal (more are counted as one overflow bucket)."""
MAX_SECRETS = 5_000
"""Distinct secrets tracked per principal."""
MAX_HITS = 100
_OVERFLOW = "(other networks)"
_BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _t(minutes: float) -> str:
    return format_time(_BASE + timedelta(minutes=minutes))


# RFC 1918 and unique-local addresses: what an instance's calls through a VPC endpoint carry.
# (ipaddress's is_private also counts the documentation ranges, which tests use as "the internet".)
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))


@lru_cache(maxsize=4096)
def _private(ip: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == net.version and addr in net for net in _PRIVATE)


class _NetworkUse:
    """A principal's other calls (neither secret reads nor model invocations) per source address: the
    denominator of "a network it almost never uses". Counted per address with plain dict updates (the
    per-event cost), folded into networks once, at the end."""

    def __init__(self) -> None:
        self._by_actor: dict[str, dict[str, int]] = {}
        self._networks: dict[str, Counter[str]] = {}

    def add(self, event: Event) -> None:
        ips = self._by_actor.get(event.actor)
        if ips is None:
            ips = self._by_actor[event.actor] = {}
        ip = event.source_ip
        seen = ips.get(ip)
        if seen is not None:
            ips[ip] = seen + 1
        elif len(ips) < MAX_NETWORKS:
            ips[ip] = 1
        else:
            ips[_OVERFLOW] = ips.get(_OVERFLOW, 0) + 1

    def _by_network(self, actor: str) -> Counter[str]:
        counts = self._networks.get(actor)
        if counts is None:
            counts = self._networks[actor] = Counter()
            for ip, n in self._by_actor.get(actor, {}).items():
                net = _OVERFLOW if ip == _OVERFLOW else network_of(ip)
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
        home = sum(n for _, n in counts.most_common(HOME_NETWORKS))
        return home >= HOME_SHARE * total, used, total

    def size(self) -> int:
        return sum(len(c) for c in self._by_actor.values())


def _unusual_network(context: DetectorContext, networks: _NetworkUse, actor: str, net: str | None) -> str | None:
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


# -- secrets -----------------------------------------------------------------------------------------
def _secret_get(minutes: float, secret: str, *, ip: str = AGENT_IP, n: int = 0) -> dict[str, Any]:
    return record(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        time=_t(minutes),
        request={"secretId": secret},
        read_only=True,
        ip=ip,
        event_id=f"00000000-0000-4000-8000-{int(minutes * 100) % 10**8:08d}{n:04d}",
    )


def _routine(minutes: float, n: int) -> dict[str, Any]:
    return record(
        "DescribeInstances",
        "ec2.amazonaws.com",
        time=_t(minutes),
        request={},
        read_only=True,
        event_id=f"00000000-0000-4000-9000-{n:012d}",
    )


@dataclass(slots=True)
class _SecretTrace:
    first: Hit
    count: int = 0


@dataclass(slots=True)
class _ReadsFrom:
    """A principal's secret reads from one network."""

    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    secrets: set[str] = field(default_factory=set)


SECRET_INFO = DetectorInfo(
    id="secret_read_unusual",
    title="Secret read that is not routine",
    severity="medium",
    mitre=("T1555.006", "T1552"),
    why="A workload reads the same few secrets all day: that is an access, listed in the inventory for "
    "rotation, not an alarm. A secret the principal's baseline never read, a read from a network the "
    "principal (almost) never calls from, or a burst of first-time reads (harvesting after "
    "ListSecrets) is what stolen credentials look like.",
    remediation="Rotate every secret listed, starting with these, and review where each is used; "
    "contain the principal if the read was not its own.",
    tactic="credential-access",
    positive=(
        # harvesting: seven secrets read for the first time within a few minutes
        tuple(_secret_get(m, f"prod/svc-{m}/db") for m in range(7)),
        # routine traffic from the agent's hosts, then one read from somewhere else
        (
            *(_routine(m * 0.5, m) for m in range(150)),
            _secret_get(80, "prod/orders/db", ip=ATTACKER_IP),
        ),
    ),
    negative=(
        # the same two secrets read every ten minutes for hours, from the agent's own hosts
        tuple(_secret_get(m * 10, f"app/{'db' if m % 2 else 'api-key'}", n=m) for m in range(40)),
    ),
)


# -- Bedrock -----------------------------------------------------------------------------------------
_BEDROCK_APIS = (
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:InvokeModelWithBidirectionalStream",
    "bedrock:Converse",
    "bedrock:ConverseStream",
)


def _invoke(minutes: float, *, ip: str = AGENT_IP, name: str = "InvokeModel", n: int = 0) -> dict[str, Any]:
    return record(
        name,
        "bedrock.amazonaws.com",
        time=_t(minutes),
        request={"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
        read_only=True,
        ip=ip,
        event_id=f"00000000-0000-4000-a000-{int(minutes * 100) % 10**8:08d}{n:04d}",
    )


@dataclass(slots=True)
class _Invocations:
    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    models: Counter[str] = field(default_factory=Counter)


BEDROCK_INFO = DetectorInfo(
    id="bedrock_invocation_unusual",
    title="Bedrock models invoked by a principal or from a network that never did",
    severity="high",
    mitre=("T1496.004", "T1078.004"),
    why="'LLMjacking': stolen cloud keys are sold for their model access; the bill lands on the "
    "account and prompts may carry its data. An agent that invokes models routinely does so from its "
    "own hosts; a principal whose baseline never invoked one, or invocations from a network it never "
    "uses, are someone else's.",
    remediation="Contain the principal; check the model-invocation logs (if still enabled) for the "
    "prompts; review Bedrock model access and provisioned throughput; watch the bill.",
    tactic="impact",
    positive=(
        (
            *(_routine(m * 0.5, m) for m in range(150)),
            *(_invoke(80 + m, ip=ATTACKER_IP, name="ConverseStream", n=m) for m in range(3)),
        ),
    ),
    negative=(
        (
            *(_routine(m * 0.5, m) for m in range(150)),
            *(_invoke(m * 5, n=m) for m in range(20)),
        ),
    ),
)


_ACCESS_SOURCES = frozenset({"secretsmanager.amazonaws.com", "ssm.amazonaws.com", "bedrock.amazonaws.com"})


class UnusualAccess:
    """``secret_read_unusual`` and ``bedrock_invocation_unusual`` in one detector: both judge a read
    against the principal's other calls, which are counted once."""

    info = SECRET_INFO
    infos = (SECRET_INFO, BEDROCK_INFO)
    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._networks = _NetworkUse()
        self._secrets: dict[str, dict[str, _SecretTrace]] = {}
        self._from: dict[tuple[str, str], _ReadsFrom] = {}
        self._calls: dict[tuple[str, str], _Invocations] = {}

    def feed(self, event: Event, attribution: str) -> None:
        if event.event_source in _ACCESS_SOURCES:
            read = secret_read(event)
            if read is not None:
                if event.succeeded:
                    self._read(event, attribution, read)
                return
            model = model_invoked(event)
            if model is not None:
                if event.succeeded:
                    self._invoked(event, attribution, model)
                return
        self._networks.add(event)

    def _read(self, event: Event, attribution: str, read: SecretRead) -> None:
        actor = event.actor
        hit = Hit(event.event_time, event.event_id, attribution, actor)
        traces = self._secrets.get(actor)
        if traces is None:
            traces = self._secrets[actor] = {}
        for key in read.qualified():
            trace = traces.get(key)
            if trace is None:
                if len(traces) >= MAX_SECRETS:
                    continue
                trace = traces[key] = _SecretTrace(hit)
            elif (hit.time, hit.event_id) < (trace.first.time, trace.first.event_id):
                trace.first = hit
            trace.count += 1
        net = network_of(event.source_ip)
        if net is not None:
            reads = self._from.get((actor, net))
            if reads is None:
                reads = self._from[(actor, net)] = _ReadsFrom()
            reads.count += 1
            if len(reads.hits) < MAX_HITS:
                reads.hits.append(hit)
            if len(reads.secrets) < MAX_HITS:
                reads.secrets.update(read.qualified())

    def _invoked(self, event: Event, attribution: str, model: str) -> None:
        key = (event.actor, network_of(event.source_ip) or "(aws service)")
        calls = self._calls.get(key)
        if calls is None:
            calls = self._calls[key] = _Invocations()
        calls.count += 1
        if model in calls.models or len(calls.models) < 20:
            calls.models[model] += 1
        if len(calls.hits) < MAX_HITS:
            calls.hits.append(Hit(event.event_time, event.event_id, attribution, event.actor))

    def size(self) -> int:
        return (
            self._networks.size()
            + sum(len(t) for t in self._secrets.values())
            + sum(len(r.hits) + len(r.secrets) for r in self._from.values())
            + sum(len(c.hits) + len(c.models) for c in self._calls.values())
        )

    def finish(self) -> list[Finding]:
        return self._secret_findings() + self._bedrock_findings()

    def _secret_findings(self) -> list[Finding]:
        found: list[Finding] = []
        base = self._context.baseline
        known = set(base.secrets) if base is not None else set()
        for actor, traces in self._secrets.items():
            first_reads = [
                Hit(t.first.time, t.first.event_id, t.first.attribution, actor, key)
                for key, t in traces.items()
                if key not in known
            ]
            for episode in windows(
                first_reads,
                seconds=BURST_SECONDS,
                weight=lambda _h: 1,
                enough=lambda total, _hits: total >= BURST_SECRETS,
            ):
                names = sorted({str(h.extra) for h in episode})
                span = (episode[-1].time - episode[0].time).total_seconds() / 60
                found.append(
                    finding(
                        SECRET_INFO,
                        episode,
                        detail=f"{len(names)} secrets read for the first time within {span:.0f} min: "
                        + ", ".join(names[:10])
                        + (" …" if len(names) > 10 else ""),
                        evidence={"secrets": names[:100], "burst_threshold": BURST_SECRETS},
                        severity="high",
                    )
                )
            if base is not None and first_reads:
                names = sorted({str(h.extra) for h in first_reads})
                found.append(
                    finding(
                        SECRET_INFO,
                        first_reads,
                        detail=f"{len(names)} secret(s) the baseline never read: " + ", ".join(names[:10]),
                        evidence={"secrets": names[:100], "baseline": base.summary()},
                    )
                )
        for (actor, net), reads in self._from.items():
            why = _unusual_network(self._context, self._networks, actor, net)
            if why is None:
                continue
            names = sorted(reads.secrets)
            severity: Severity = "high" if base is not None and set(names) - known else "medium"
            found.append(
                finding(
                    SECRET_INFO,
                    reads.hits,
                    detail=f"{reads.count} secret read(s) from {why}: " + ", ".join(names[:10]),
                    evidence={"network": net, "reads": reads.count, "secrets": names},
                    severity=severity,
                )
            )
        return found

    def _bedrock_findings(self) -> list[Finding]:
        found: list[Finding] = []
        base = self._context.baseline
        never = base is not None and not any(api in base.apis for api in _BEDROCK_APIS)
        for (actor, net), calls in self._calls.items():
            reasons: list[str] = []
            if never:
                reasons.append("the baseline never invoked a model")
            why = _unusual_network(self._context, self._networks, actor, None if net.startswith("(") else net)
            if why is not None:
                reasons.append(f"from {why}")
            if not reasons:
                continue
            models = [m for m, _ in calls.models.most_common()]
            found.append(
                finding(
                    BEDROCK_INFO,
                    calls.hits,
                    detail=f"{calls.count} invocation(s) of {', '.join(models[:5])}: " + "; ".join(reasons),
                    evidence={"network": net, "invocations": calls.count, "models": dict(calls.models)},
                )
            )
        return found


# -- instance credentials ----------------------------------------------------------------------------
_WEB_ROLE = f"arn:aws:iam::{ACCOUNT}:role/web-instance"
_INSTANCE_IP = "54.210.33.7"


def _instance_call(minutes: float, ip: str, *, n: int, vpce: bool = False) -> dict[str, Any]:
    identity = role_identity(_WEB_ROLE, session="i-0a1b2c3d4e5f60718", key="ASIAQWEBINSTANCE0001")
    identity["sessionContext"]["ec2RoleDelivery"] = "2.0"
    rec = record(
        "GetObject" if n % 2 else "DescribeTags",
        "s3.amazonaws.com" if n % 2 else "ec2.amazonaws.com",
        time=_t(minutes),
        identity=identity,
        ip=ip,
        read_only=True,
        request={"bucketName": "web-assets", "key": "index.html"} if n % 2 else {},
        event_id=f"00000000-0000-4000-b000-{n:012d}",
    )
    if vpce:
        rec["vpcEndpointId"] = "vpce-0a1b2c3d4e5f60718"
    return rec


def _delivery(event: Event) -> bool:
    ctx = event.raw.get("userIdentity")
    session = ctx.get("sessionContext") if isinstance(ctx, Mapping) else None
    return isinstance(session, Mapping) and bool(session.get("ec2RoleDelivery"))


@dataclass(slots=True)
class _From:
    first: Hit
    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    inside: bool = False
    """Private address or through a VPC endpoint: the instance's own network."""


class InstanceCredentialsOutside:
    info = DetectorInfo(
        id="ec2_instance_credentials_outside",
        title="Instance-role credentials used outside their instance",
        severity="high",
        mitre=("T1552.005", "T1078.004"),
        why="Credentials delivered to an instance (ec2RoleDelivery) are only ever used by that instance: "
        "from its private address through a VPC endpoint, or from its one public address. The same "
        "session from another network means the credentials were taken from the metadata service (SSRF, "
        "a compromised process) and are driven from elsewhere. The instance's network is its private or "
        "endpoint traffic plus the public network it called from first (its address or NAT gateway): a "
        "session seen from one network only, or whose first public call was already the thief's, cannot be "
        "judged.",
        remediation="Revoke the role's sessions (AWSRevokeOlderSessions), enforce IMDSv2 with a hop limit "
        "of 1, find the process or request that read the metadata service, and review the calls made.",
        tactic="credential-access",
        positive=(
            (
                *(_instance_call(m, _INSTANCE_IP, n=m) for m in range(10)),
                _instance_call(30, ATTACKER_IP, n=100),
            ),
            (
                *(_instance_call(m, "10.0.3.17", n=m, vpce=True) for m in range(10)),
                _instance_call(1.5, _INSTANCE_IP, n=50),
                _instance_call(30, ATTACKER_IP, n=100),
            ),
        ),
        negative=(
            tuple(_instance_call(m, _INSTANCE_IP, n=m) for m in range(10)),
            (
                *(_instance_call(m, "10.0.3.17", n=m, vpce=True) for m in range(10)),
                _instance_call(30, _INSTANCE_IP, n=100),
            ),
        ),
    )

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._sessions: dict[tuple[str, str], dict[str, _From]] = {}

    def feed(self, event: Event, attribution: str) -> None:
        # instance-profile sessions are named after their instance: a cheap test before the raw record
        if event.identity_type != "AssumedRole" or "/i-" not in event.principal_arn or not _delivery(event):
            return
        net = network_of(event.source_ip)
        if net is None:
            return  # an AWS service acting for the instance
        subject = (event.actor, event.principal_arn.rsplit("/", 1)[-1])
        nets = self._sessions.get(subject)
        if nets is None:
            nets = self._sessions[subject] = {}
        hit = Hit(event.event_time, event.event_id, attribution, event.actor, event.source_ip)
        seen = nets.get(net)
        if seen is None:
            if len(nets) >= MAX_NETWORKS:
                return
            seen = nets[net] = _From(hit)
        elif (hit.time, hit.event_id) < (seen.first.time, seen.first.event_id):
            seen.first = hit
        seen.count += 1
        if event.raw.get("vpcEndpointId") or _private(event.source_ip):
            seen.inside = True
        if len(seen.hits) < MAX_HITS:
            seen.hits.append(hit)

    def size(self) -> int:
        return sum(len(n) + sum(len(f.hits) for f in n.values()) for n in self._sessions.values())

    def finish(self) -> list[Finding]:
        found: list[Finding] = []
        base = self._context.baseline
        for (actor, instance), nets in self._sessions.items():
            if len(nets) < 2:
                continue
            own = {net for net, seen in nets.items() if seen.inside}
            public = [(seen.first.time, seen.first.event_id, net) for net, seen in nets.items() if not seen.inside]
            if public:
                own.add(min(public)[2])  # the first public network: the instance's own (or NAT) address
            if base is not None:
                own |= set(base.networks) & set(nets)
            for net, seen in nets.items():
                if net in own:
                    continue
                ips = sorted({str(h.extra) for h in seen.hits})
                found.append(
                    finding(
                        self.info,
                        seen.hits,
                        detail=f"session {instance} of {actor.rsplit('/', 1)[-1]} used from {', '.join(ips[:5])} "
                        f"({seen.count} calls); the instance calls from {', '.join(sorted(own))}",
                        evidence={
                            "instance": instance,
                            "network": net,
                            "calls": seen.count,
                            "instance_networks": sorted(own),
                        },
                    )
                )
        return found


ACCESS_DETECTORS = (UnusualAccess, InstanceCredentialsOutside)
