"""``secret_read_unusual`` and ``bedrock_invocation_unusual``: one detector, two ids (named after the first).

```yaml
secret_read_unusual:             a secret the principal's baseline never read, a network it (almost)
                                 never calls from, or >= 5 secrets read for the first time in 10 min
bedrock_invocation_unusual:      model invocations by a principal whose baseline never invoked one, or
                                 from a network it never (or almost never) uses
```

Both judge a read against the principal's other calls (see :mod:`irkit.detect.detectors._networks`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from irkit.detect.baseline import network_of
from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, Scenarios, earlier, finding, named, windows
from irkit.detect.detectors._common import at
from irkit.detect.detectors._networks import MAX_HITS, NetworkUse, unusual_network
from irkit.detect.event import Event
from irkit.detect.reads import SecretRead, model_invoked, secret_read
from irkit.detect.records import AGENT_IP, ATTACKER_IP, record
from irkit.detect.rule import Finding, Severity

BURST_SECONDS = 600
BURST_SECRETS = 5
MAX_SECRETS = 5_000
"""Distinct secrets tracked per principal."""
_MAX_MODELS = 20
"""Distinct models counted per principal and network."""


# -- secrets -----------------------------------------------------------------------------------------
def _secret_get(minutes: float, secret: str, *, ip: str = AGENT_IP, n: int = 0) -> dict[str, Any]:
    return record(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        time=at(minutes),
        request={"secretId": secret},
        read_only=True,
        ip=ip,
        event_id=f"00000000-0000-4000-8000-{int(minutes * 100) % 10**8:08d}{n:04d}",
    )


def _routine(minutes: float, n: int) -> dict[str, Any]:
    return record(
        "DescribeInstances",
        "ec2.amazonaws.com",
        time=at(minutes),
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
    secrets: dict[str, None] = field(default_factory=dict)
    """The secrets read, in first-read order (added a read at a time while under MAX_HITS)."""


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
    positive=Scenarios(
        lambda: (
            # harvesting: seven secrets read for the first time within a few minutes
            tuple(_secret_get(m, f"prod/svc-{m}/db") for m in range(7)),
            # routine traffic from the agent's hosts, then one read from somewhere else
            (
                *(_routine(m * 0.5, m) for m in range(150)),
                _secret_get(80, "prod/orders/db", ip=ATTACKER_IP),
            ),
        )
    ),
    negative=Scenarios(
        lambda: (
            # the same two secrets read every ten minutes for hours, from the agent's own hosts
            tuple(_secret_get(m * 10, f"app/{'db' if m % 2 else 'api-key'}", n=m) for m in range(40)),
        )
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
        time=at(minutes),
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
    positive=Scenarios(
        lambda: (
            (
                *(_routine(m * 0.5, m) for m in range(150)),
                *(_invoke(80 + m, ip=ATTACKER_IP, name="ConverseStream", n=m) for m in range(3)),
            ),
        )
    ),
    negative=Scenarios(
        lambda: (
            (
                *(_routine(m * 0.5, m) for m in range(150)),
                *(_invoke(m * 5, n=m) for m in range(20)),
            ),
        )
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
        self._networks = NetworkUse()
        self._secrets: dict[str, dict[str, _SecretTrace]] = {}
        self._from: dict[tuple[str, str], _ReadsFrom] = {}
        self._calls: dict[tuple[str, str], _Invocations] = {}

    def feed(self, event: Event, attribution: str) -> None:
        self.feed_file((event,), attribution)

    def feed_file(self, events: Sequence[Event], attribution: str) -> None:
        """:meth:`feed` of each event, in order (the analyzer's pass feeds a file at a time). A secret
        read or a model invocation is recorded as the comprehension meets it; every other call (the
        bulk of a trail) is one more call of its principal from its address, counted after."""
        self._networks.add_calls(
            [
                (event.issuer_arn or event.principal_arn, event.source_ip)
                for event in events
                if event.event_source not in _ACCESS_SOURCES or not self._access(event, attribution)
            ]
        )

    def _access(self, event: Event, attribution: str) -> bool:
        """Record a secret read or a model invocation (when it succeeded); False when it is neither."""
        read = secret_read(event)
        if read is not None:
            if event.succeeded:
                self._read(event, attribution, read)
            return True
        model = model_invoked(event)
        if model is not None:
            if event.succeeded:
                self._invoked(event, attribution, model)
            return True
        return False

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
            elif earlier(hit, trace.first):
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
                reads.secrets.update(dict.fromkeys(read.qualified()))

    def _invoked(self, event: Event, attribution: str, model: str) -> None:
        key = (event.actor, network_of(event.source_ip) or "(aws service)")
        calls = self._calls.get(key)
        if calls is None:
            calls = self._calls[key] = _Invocations()
        calls.count += 1
        if model in calls.models or len(calls.models) < _MAX_MODELS:
            calls.models[model] += 1
        if len(calls.hits) < MAX_HITS:
            calls.hits.append(Hit(event.event_time, event.event_id, attribution, event.actor))

    def merge(self, later: UnusualAccess) -> None:
        """Fold in the state of a detector fed the events read after this one's (see Detector.merge).

        Bounds (where the merged state may differ from one pass, staying within them): MAX_SECRETS
        secrets a principal, MAX_HITS hits and secret names a network, 20 models a network, and the
        principal's counted addresses (:meth:`AddressCounts.merge`)."""
        self._networks.merge(later._networks)
        for actor, theirs in later._secrets.items():
            traces = self._secrets.get(actor)
            if traces is None:
                self._secrets[actor] = theirs
                continue
            for key, trace in theirs.items():
                mine = traces.get(key)
                if mine is None:
                    if len(traces) < MAX_SECRETS:
                        traces[key] = trace
                    continue
                # one pass keeps the first-arrived read of an equal (time, id): this share's
                if earlier(trace.first, mine.first):
                    mine.first = trace.first
                mine.count += trace.count
        for where, reads in later._from.items():
            have = self._from.get(where)
            if have is None:
                self._from[where] = reads
                continue
            have.count += reads.count
            have.hits.extend(reads.hits[: MAX_HITS - len(have.hits)])
            for name in reads.secrets:
                if len(have.secrets) >= MAX_HITS:
                    break
                have.secrets[name] = None
        for where, calls in later._calls.items():
            had = self._calls.get(where)
            if had is None:
                self._calls[where] = calls
                continue
            had.count += calls.count
            had.hits.extend(calls.hits[: MAX_HITS - len(had.hits)])
            for model, n in calls.models.items():
                if model in had.models or len(had.models) < _MAX_MODELS:
                    had.models[model] += n

    def folded(self) -> list[str]:
        """What the bounds folded (the analysis says it)."""
        note = self._networks.addresses.note("rare-network check of secret reads and model invocations")
        return [note] if note else []

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
                minimum=BURST_SECRETS,
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
                        detail=f"{len(names)} secret(s) the baseline never read: " + _names(names),
                        evidence={"secrets": names[:100], "baseline": base.summary()},
                    )
                )
        for (actor, net), reads in self._from.items():
            why = unusual_network(self._context, self._networks, actor, net)
            if why is None:
                continue
            names = sorted(reads.secrets)
            severity: Severity = "high" if base is not None and set(names) - known else "medium"
            found.append(
                finding(
                    SECRET_INFO,
                    reads.hits,
                    detail=f"{reads.count} secret read(s) from {why}: " + _names(names),
                    evidence={"network": net, "reads": reads.count, "secrets": names},
                    severity=severity,
                    events=reads.count,
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
            why = unusual_network(self._context, self._networks, actor, None if net.startswith("(") else net)
            if why is not None:
                reasons.append(f"from {why}")
            if not reasons:
                continue
            models = [m for m, _ in calls.models.most_common()]
            found.append(
                finding(
                    BEDROCK_INFO,
                    calls.hits,
                    detail=f"{calls.count} invocation(s) of {named(models, 5, bound=_MAX_MODELS)}: "
                    + "; ".join(reasons),
                    evidence={"network": net, "invocations": calls.count, "models": dict(calls.models)},
                    events=calls.count,
                )
            )
        return found


def _names(names: list[str]) -> str:
    """Ten secrets named, then how many more (a network keeps at most :data:`MAX_HITS`)."""
    return named(names, 10, bound=MAX_HITS)


# -- instance credentials ----------------------------------------------------------------------------


DETECTOR = UnusualAccess
