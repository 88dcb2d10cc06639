"""The agent's own baseline: what is normal for *this* agent, learned from its past CloudTrail.

An agent makes thousands of legitimate calls a day, so "is this call allowed?" says little; "has this
agent ever called this API, from this network, with this client, in this region, at this volume?"
says a lot (the seed: "is this API call pattern consistent with what the agent usually does?").

``irkit baseline AGENT --days 14`` learns a :class:`Baseline` and saves it as JSON; ``analyze
--baseline`` then reports deviations, one finding per new value (never one per event), with the
baseline's evidence in ``Finding.evidence``. Like the rules, a deviation kind reports at most
:data:`MAX_NEW_VALUES` new values for one principal; the further ones (a forged trail can carry a
new user agent in every record) fold into one finding per kind and principal that counts them and
names a sample, so the findings and the monitor's state stay bounded by principals, not by events.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from irkit.detect.attribution import Attributor
from irkit.detect.detector import DetectorInfo
from irkit.detect.event import Event, format_time, parse_time
from irkit.detect.names import base_name
from irkit.detect.reads import secret_read
from irkit.detect.rule import Finding, Severity

FORMAT_VERSION = 1
MAX_EVENT_IDS = 100
MAX_NEW_VALUES = 100
"""New values (one finding each) a deviation kind reports for one principal before it folds."""
FOLDED_SAMPLE = 5
"""Values a folded finding names as examples."""
FOLDED_DISTINCT = 10_000
"""Distinct folded values counted exactly; beyond, the finding says "more than" (memory stays bounded)."""
FOLDED_VALUE_CHARS = 200
SPIKE_FLOOR = 200
"""An hour needs at least this many calls to be a spike, whatever the baseline says."""

_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "Search", "Scan", "Query", "BatchGet")


def default_baseline_path(agent: str) -> Path:
    return Path("irkit-baselines") / f"{agent}.json"


@lru_cache(maxsize=8192)  # agents call from few addresses; parsing one costs microseconds
def network_of(ip: str) -> str | None:
    """``203.0.113.0/24`` for IPv4, the /48 for IPv6; None for service names (``ec2.amazonaws.com``)."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


_UA_FAMILIES = (
    ("terraform", re.compile(r"terraform", re.I)),
    ("pulumi", re.compile(r"pulumi", re.I)),
    ("aws-cli", re.compile(r"aws-cli/(\d+)", re.I)),
    ("boto3", re.compile(r"boto3/(\d+)", re.I)),
    ("botocore", re.compile(r"botocore/(\d+)", re.I)),
    ("aws-sdk-go-v2", re.compile(r"aws-sdk-go-v2/(\d+)", re.I)),
    ("aws-sdk-go", re.compile(r"aws-sdk-go/(\d+)", re.I)),
    ("aws-sdk-java", re.compile(r"aws-sdk-java/(\d+)", re.I)),
    ("aws-sdk-js", re.compile(r"aws-sdk-js(?:-v3)?/(\d+)", re.I)),
    ("aws-sdk-nodejs", re.compile(r"aws-sdk-nodejs/(\d+)", re.I)),
    ("aws-sdk-rust", re.compile(r"aws-sdk-rust/(\d+)", re.I)),
    ("console", re.compile(r"console\.(?:[a-z0-9-]+\.)?amazonaws\.com|signin\.amazonaws\.com", re.I)),
)


@lru_cache(maxsize=4096)  # a dozen regexes an event otherwise; clients are few
def user_agent_family(user_agent: str) -> str:
    """A client family with its major version (``boto3/1``, ``aws-cli/2``), not the full string.

    Full strings change with every patch release and OS update; the family changes when someone
    else's tooling holds the credentials.
    """
    ua = user_agent.strip()
    if not ua:
        return "(none)"
    if ua.endswith(".amazonaws.com") and " " not in ua:
        return ua.lower()  # an AWS service acting for the principal
    for family, pattern in _UA_FAMILIES:
        m = pattern.search(ua)
        if m:
            return f"{family}/{m.group(1)}" if m.groups() else family
    head = re.split(r"[\s(]", ua.strip("[]"), maxsplit=1)[0]
    name, _, version = head.partition("/")
    major = version.split(".", 1)[0] if version else ""
    return f"{name.lower()}/{major}" if major else name.lower()[:40]


def is_read_name(name: str) -> bool:
    """Whether a call named ``name`` (version suffix stripped) reads, when CloudTrail does not say."""
    return name.startswith(_READ_PREFIXES)


def is_read_call(event: Event) -> bool:
    if event.read_only is not None:
        return event.read_only
    return is_read_name(base_name(event.event_name))


@dataclass(frozen=True, slots=True)
class HourlyVolume:
    mean: float = 0.0
    p95: float = 0.0
    max: int = 0
    hours: int = 0

    def spike_threshold(self) -> float:
        return max(2.0 * self.max, 3.0 * self.p95, float(SPIKE_FLOOR))


def _hourly(counts: Mapping[datetime, int]) -> HourlyVolume:
    if not counts:
        return HourlyVolume()
    first, last = min(counts), max(counts)
    hours = int((last - first).total_seconds() // 3600) + 1
    series = sorted(counts.get(first + timedelta(hours=h), 0) for h in range(hours))
    p95 = series[min(len(series) - 1, math.ceil(0.95 * len(series)) - 1)]
    return HourlyVolume(mean=round(sum(series) / hours, 3), p95=float(p95), max=series[-1], hours=hours)


def _hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Baseline:
    agent: str
    principals: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    events: int = 0
    services: Mapping[str, int] = field(default_factory=dict)
    apis: Mapping[str, int] = field(default_factory=dict)
    regions: Mapping[str, int] = field(default_factory=dict)
    networks: Mapping[str, int] = field(default_factory=dict)
    user_agents: Mapping[str, int] = field(default_factory=dict)
    hourly: HourlyVolume = field(default_factory=HourlyVolume)
    secrets: Mapping[str, int] = field(default_factory=dict)
    """Secrets and decrypted parameters the agent read (``secretsmanager:prod/db``): a routine read of
    one of these is an access, not a finding (absent from baselines learned before this key existed)."""

    @classmethod
    def learn(cls, events: Iterable[Event], *, agent: str, principals: Sequence[str] | None = None) -> Baseline:
        """Learn from ``events``; with ``principals`` only the agent's (attributed) events count."""
        attributor = Attributor(principals)
        services: Counter[str] = Counter()
        apis: Counter[str] = Counter()
        regions: Counter[str] = Counter()
        networks: Counter[str] = Counter()
        agents: Counter[str] = Counter()
        hours: Counter[datetime] = Counter()
        secrets: Counter[str] = Counter()
        start: datetime | None = None
        end: datetime | None = None
        total = 0
        for event in events:
            reason = attributor.attribute(event)
            if reason is None:
                continue
            attributor.observe(event, reason)
            total += 1
            services[event.service] += 1
            apis[f"{event.service}:{base_name(event.event_name)}"] += 1
            if event.region:
                regions[event.region] += 1
            net = network_of(event.source_ip)
            if net:
                networks[net] += 1
            agents[user_agent_family(event.user_agent)] += 1
            hours[_hour(event.event_time)] += 1
            read = secret_read(event) if event.succeeded else None
            if read is not None:
                secrets.update(read.qualified())
            start = event.event_time if start is None or event.event_time < start else start
            end = event.event_time if end is None or event.event_time > end else end
        return cls(
            agent=agent,
            principals=tuple(principals or ()),
            start=start,
            end=end,
            events=total,
            services=dict(services.most_common()),
            apis=dict(apis.most_common()),
            regions=dict(regions.most_common()),
            networks=dict(networks.most_common()),
            user_agents=dict(agents.most_common()),
            hourly=_hourly(hours),
            secrets=dict(secrets.most_common()),
        )

    # -- persistence -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "agent": self.agent,
            "principals": list(self.principals),
            "start": format_time(self.start) if self.start else None,
            "end": format_time(self.end) if self.end else None,
            "events": self.events,
            "services": dict(self.services),
            "apis": dict(self.apis),
            "regions": dict(self.regions),
            "networks": dict(self.networks),
            "user_agents": dict(self.user_agents),
            "hourly": {
                "mean": self.hourly.mean,
                "p95": self.hourly.p95,
                "max": self.hourly.max,
                "hours": self.hourly.hours,
            },
            "secrets": dict(self.secrets),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Baseline:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported baseline version {data.get('version')!r}")
        hourly = data.get("hourly") or {}
        return cls(
            agent=str(data["agent"]),
            principals=tuple(str(p) for p in data.get("principals", ())),
            start=parse_time(data["start"]) if data.get("start") else None,
            end=parse_time(data["end"]) if data.get("end") else None,
            events=int(data.get("events", 0)),
            services={str(k): int(v) for k, v in (data.get("services") or {}).items()},
            apis={str(k): int(v) for k, v in (data.get("apis") or {}).items()},
            regions={str(k): int(v) for k, v in (data.get("regions") or {}).items()},
            networks={str(k): int(v) for k, v in (data.get("networks") or {}).items()},
            user_agents={str(k): int(v) for k, v in (data.get("user_agents") or {}).items()},
            hourly=HourlyVolume(
                mean=float(hourly.get("mean", 0.0)),
                p95=float(hourly.get("p95", 0.0)),
                max=int(hourly.get("max", 0)),
                hours=int(hourly.get("hours", 0)),
            ),
            secrets={str(k): int(v) for k, v in (data.get("secrets") or {}).items()},
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2) + b"\n")

    @classmethod
    def load(cls, path: Path) -> Baseline:
        """Raises ``ValueError`` (bad content) or ``OSError`` (unreadable); callers word the message."""
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not a baseline (expected a JSON object)")
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a valid baseline ({exc})") from None

    def summary(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "window": [
                format_time(self.start) if self.start else None,
                format_time(self.end) if self.end else None,
            ],
            "events": self.events,
        }


def _info(id_: str, title: str, severity: Severity, mitre: tuple[str, ...], why: str) -> DetectorInfo:
    return DetectorInfo(
        id=id_,
        title=title,
        severity=severity,
        mitre=mitre,
        why=why,
        remediation="Confirm with the agent's owner whether the change is expected; if not, contain the "
        "agent and review the flagged calls. Re-learn the baseline after legitimate changes.",
        tactic="discovery",
        kind="baseline",
    )


BASELINE_INFOS: tuple[DetectorInfo, ...] = (
    _info(
        "baseline_new_api",
        "API the agent has never called",
        "medium",
        ("T1078.004",),
        "A new API (a write above all) is behaviour the agent never showed: 'if it suddenly starts "
        "making API calls to services it never uses, that's suspicious'.",
    ),
    _info(
        "baseline_new_region",
        "Region the agent has never used",
        "high",
        ("T1535",),
        "Activity in a region outside the agent's history is a classic hiding place.",
    ),
    _info(
        "baseline_new_network",
        "Calls from a network the agent has never used",
        "high",
        ("T1078.004",),
        "Agents run from fixed infrastructure; a new /24 (or /48) means someone else holds the keys.",
    ),
    _info(
        "baseline_new_user_agent",
        "Client the agent has never used",
        "medium",
        ("T1078.004",),
        "A new SDK or CLI family signals different tooling behind the same credentials.",
    ),
    _info(
        "baseline_volume_spike",
        "Call volume far above the agent's normal",
        "medium",
        ("T1496", "T1580"),
        "'If your agent makes 1,000 API calls per day on average, but suddenly makes 10,000 calls in "
        "one hour, that's suspicious.'",
    ),
)
_INFO = {info.id: info for info in BASELINE_INFOS}


@dataclass(slots=True)
class _Group:
    first: datetime
    principal: str
    attribution: str
    count: int = 0
    ids: list[str] = field(default_factory=list)
    writes: int = 0
    values: dict[str, None] = field(default_factory=dict)
    """A folded group's distinct values (at most FOLDED_DISTINCT), in first-seen order."""
    overflow: bool = False


def _fold_value(group: _Group, value: str) -> None:
    """Count ``value`` among a folded group's distinct values (at most FOLDED_DISTINCT, then "more")."""
    value = value[:FOLDED_VALUE_CHARS]  # a forged event name can be megabytes
    if value not in group.values:
        if len(group.values) < FOLDED_DISTINCT:
            group.values[value] = None
        else:
            group.overflow = True


class BaselineMonitor:
    """Compares analysed events with a :class:`Baseline`; one finding per new value."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        self._groups: dict[tuple[str, str], _Group] = {}
        self._hours: dict[datetime, _Group] = {}
        self._values: dict[tuple[str, str], int] = {}
        """(kind, principal) → new values reported one by one so far."""
        self._folded: dict[tuple[str, str], _Group] = {}

    def _add(self, key: tuple[str, str], event: Event, attribution: str, *, write: bool = False) -> None:
        group = self._groups.get(key)
        if group is None:
            family = (key[0], event.actor)
            reported = self._values.get(family, 0)
            if reported >= MAX_NEW_VALUES:
                self._fold(family, key[1], event, attribution, write=write)
                return
            self._values[family] = reported + 1
            group = self._groups[key] = _Group(event.event_time, event.actor, attribution)
        group.count += 1
        group.writes += write
        if event.event_time < group.first:
            group.first = event.event_time
        if len(group.ids) < MAX_EVENT_IDS:
            group.ids.append(event.event_id)

    def _fold(self, family: tuple[str, str], value: str, event: Event, attribution: str, *, write: bool) -> None:
        group = self._folded.get(family)
        if group is None:
            group = self._folded[family] = _Group(event.event_time, event.actor, attribution)
        group.count += 1
        group.writes += write
        if event.event_time < group.first:
            group.first = event.event_time
            group.attribution = attribution
        _fold_value(group, value)
        if len(group.ids) < MAX_EVENT_IDS:
            group.ids.append(event.event_id)

    def feed(self, event: Event, attribution: str) -> None:
        base = self.baseline
        api = f"{event.service}:{base_name(event.event_name)}"
        if api not in base.apis:
            self._add(("baseline_new_api", api), event, attribution, write=not is_read_call(event))
        if event.region and event.region not in base.regions:
            self._add(("baseline_new_region", event.region), event, attribution)
        net = network_of(event.source_ip)
        if net and net not in base.networks:
            self._add(("baseline_new_network", net), event, attribution)
        family = user_agent_family(event.user_agent)
        if family not in base.user_agents:
            self._add(("baseline_new_user_agent", family), event, attribution)
        hour = _hour(event.event_time)
        group = self._hours.get(hour)
        if group is None:
            group = self._hours[hour] = _Group(event.event_time, event.actor, attribution)
        group.count += 1
        if len(group.ids) < MAX_EVENT_IDS:
            group.ids.append(event.event_id)

    def _known(self, rule_id: str) -> list[str]:
        base = self.baseline
        source = {
            "baseline_new_api": base.apis,
            "baseline_new_region": base.regions,
            "baseline_new_network": base.networks,
            "baseline_new_user_agent": base.user_agents,
        }[rule_id]
        return list(source)[:20]

    def merge(self, later: BaselineMonitor) -> None:
        """Fold in the state of a monitor fed the events read after this one's (see Detector.merge).

        A value both shares met keeps this share's group (its first-arrived event names principal and
        attribution, as in one pass); a value only the later share met is a new value of the principal
        of its first call, in the order the later share met them, while that principal has fewer than
        ``MAX_NEW_VALUES`` — beyond, it folds. That is the bound: there one pass may have folded some
        calls of a value and reported the rest under another principal; the merged state stays within
        the same bounds. An hour's calls add up; ``later`` is consumed."""
        for key, group in later._groups.items():
            mine = self._groups.get(key)
            if mine is None:
                family = (key[0], group.principal)
                reported = self._values.get(family, 0)
                if reported >= MAX_NEW_VALUES:
                    self._fold_group(family, key[1], group)
                    continue
                self._values[family] = reported + 1
                self._groups[key] = group
                continue
            mine.count += group.count
            mine.writes += group.writes
            if group.first < mine.first:
                mine.first = group.first
            mine.ids.extend(group.ids[: MAX_EVENT_IDS - len(mine.ids)])
        for family, group in later._folded.items():
            folded = self._folded.get(family)
            if folded is None:
                self._folded[family] = group
                continue
            self._absorb(folded, group)
            for value in group.values:
                _fold_value(folded, value)
            folded.overflow = folded.overflow or group.overflow
        for hour, group in later._hours.items():
            mine = self._hours.get(hour)
            if mine is None:
                self._hours[hour] = group
                continue
            mine.count += group.count  # principal and attribution stay the first-arrived call's
            mine.ids.extend(group.ids[: MAX_EVENT_IDS - len(mine.ids)])

    def _fold_group(self, family: tuple[str, str], value: str, group: _Group) -> None:
        """A later share's new value met when its principal had reported MAX_NEW_VALUES already."""
        folded = self._folded.get(family)
        if folded is None:
            folded = self._folded[family] = _Group(group.first, family[1], group.attribution)
        self._absorb(folded, group)
        _fold_value(folded, value)

    @staticmethod
    def _absorb(folded: _Group, group: _Group) -> None:
        folded.count += group.count
        folded.writes += group.writes
        if group.first < folded.first:  # equal: the earlier share's call arrived first
            folded.first = group.first
            folded.attribution = group.attribution
        folded.ids.extend(group.ids[: MAX_EVENT_IDS - len(folded.ids)])

    def size(self) -> int:
        """Items held: one group per reported new value, per folded kind and principal and per hour,
        each with at most MAX_EVENT_IDS ids (a folded group also counts its distinct values)."""
        groups = (*self._groups.values(), *self._hours.values(), *self._folded.values())
        return len(groups) + sum(len(g.ids) + len(g.values) for g in groups) + len(self._values)

    def finish(self) -> list[Finding]:
        found: list[Finding] = []
        for (rule_id, value), group in self._groups.items():
            info = _INFO[rule_id]
            severity: Severity = info.severity
            if rule_id == "baseline_new_api" and not group.writes:
                severity = "low"
            found.append(
                Finding(
                    rule_id=rule_id,
                    severity=severity,
                    title=f"{info.title}: {value}",
                    event_ids=tuple(group.ids),
                    principal=group.principal,
                    mitre=info.mitre,
                    first_seen=group.first,
                    detail=f"{value}: {group.count} call(s), never seen in the baseline",
                    attribution=group.attribution,
                    evidence={
                        "value": value,
                        "events": group.count,
                        "baseline": {**self.baseline.summary(), "known": self._known(rule_id)},
                    },
                )
            )
        for (rule_id, principal), group in self._folded.items():
            found.append(self._folded_finding(rule_id, principal, group))
        threshold = self.baseline.hourly.spike_threshold()
        info = _INFO["baseline_volume_spike"]
        for hour, group in sorted(self._hours.items()):
            if group.count <= threshold:
                continue
            found.append(
                Finding(
                    rule_id=info.id,
                    severity=info.severity,
                    title=info.title,
                    event_ids=tuple(group.ids),
                    principal=group.principal,
                    mitre=info.mitre,
                    first_seen=hour,
                    detail=f"{group.count} calls in the hour from {format_time(hour)} "
                    f"(baseline max {self.baseline.hourly.max}/h, p95 {self.baseline.hourly.p95:g}/h)",
                    attribution=group.attribution,
                    evidence={
                        "hour": format_time(hour),
                        "events": group.count,
                        "threshold": threshold,
                        "baseline": {
                            **self.baseline.summary(),
                            "hourly": {
                                "mean": self.baseline.hourly.mean,
                                "p95": self.baseline.hourly.p95,
                                "max": self.baseline.hourly.max,
                            },
                        },
                    },
                )
            )
        return found

    def _folded_finding(self, rule_id: str, principal: str, group: _Group) -> Finding:
        info = _INFO[rule_id]
        severity: Severity = info.severity
        if rule_id == "baseline_new_api" and not group.writes:
            severity = "low"
        distinct = f"more than {len(group.values)}" if group.overflow else str(len(group.values))
        sample = list(group.values)[:FOLDED_SAMPLE]
        return Finding(
            rule_id=rule_id,
            severity=severity,
            title=f"{info.title}: {distinct} more values",
            event_ids=tuple(group.ids),
            principal=principal,
            mitre=info.mitre,
            first_seen=group.first,
            detail=f"{distinct} more new values in {group.count} call(s) beyond the {MAX_NEW_VALUES} reported "
            f"for this principal, never seen in the baseline (e.g. {', '.join(sample)})",
            attribution=group.attribution,
            evidence={
                "values": len(group.values),
                "values_exact": not group.overflow,
                "sample": sample,
                "events": group.count,
                "baseline": {**self.baseline.summary(), "known": self._known(rule_id)},
            },
        )
