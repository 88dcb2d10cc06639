"""Every change the analysed principals made, and every secret they read: an inventory, not findings.

A finding says "this looks like an attack"; the inventory says "this is everything that was changed"
— what a revert works from and what the report's *what was changed* section reads. Every successful
mutating call of an analysed event is kept, grouped by service and resource (``iam`` ·
``role/ops-maintenance``), with the calls, principals, times and (a bounded list of) event ids. Secret
reads and model invocations are listed the same way so the responder can rotate every secret read
and account for every model used.

```python
inventory = Inventory()
for event in analysed_events:
    inventory.feed(event, attribution)
inventory.finish().to_json()   # {"changes": [...], "secrets_read": [...], "models_invoked": [...], ...}
```
Memory is bounded by resources, not events: at most ``MAX_GROUPS`` groups of each kind (the rest fold
into one ``(other resources)`` group per service and are counted), ``MAX_IDS`` event ids a group, and
``MAX_VALUES`` distinct calls, principals, addresses and regions a group: the calls of any further one
are counted in the group's ``not_listed`` (``{"principals": 12, …}``), so a busy resource's list never
hides that someone else changed it too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from irkit.detect.baseline import is_read_call, is_read_name, network_of
from irkit.detect.detector import add_counts
from irkit.detect.event import Event, format_time
from irkit.detect.names import base_name
from irkit.detect.policy import items
from irkit.detect.reads import MAX_NAME, model_invoked, secret_name, secret_read

MAX_GROUPS = 10_000
MAX_IDS = 100
MAX_VALUES = 20
"""Principals, networks, regions kept per group (the rest counted)."""
MAX_RESOURCES_PER_CALL = 20
OTHER = "(other resources)"
_UNKNOWN = ("", "")

# Calls that change no resource although CloudTrail may not mark them read-only: credentials handed
# out (the credential chain tracks those), sign-ins, and cryptographic operations with a key.
_NOT_CHANGES = frozenset(
    {
        "AssumeRole",
        "AssumeRoleWithSAML",
        "AssumeRoleWithWebIdentity",
        "AssumeRoot",
        "GetSessionToken",
        "GetFederationToken",
        "GetCallerIdentity",
        "ConsoleLogin",
        "CheckMfa",
        "Decrypt",
        "Encrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateRandom",
        "Sign",
        "Verify",
        "GenerateMac",
        "VerifyMac",
    }
)

# Request keys that name the changed resource, most specific first, with the label shown for them.
# Lower-cased: CloudTrail's casing differs between services (``roleName``, ``RoleName``).
_RESOURCE_KEYS: tuple[tuple[str, str], ...] = (
    ("rolename", "role"),
    ("username", "user"),
    ("groupname", "group"),
    ("instanceprofilename", "instance-profile"),
    ("policyarn", "policy"),
    ("openidconnectproviderarn", "oidc-provider"),
    ("samlproviderarn", "saml-provider"),
    ("bucketname", "bucket"),
    ("bucket", "bucket"),
    ("functionname", "function"),
    ("layername", "layer"),
    ("dbinstanceidentifier", "db"),
    ("dbclusteridentifier", "cluster"),
    ("dbsnapshotidentifier", "snapshot"),
    ("dbclustersnapshotidentifier", "cluster-snapshot"),
    ("groupid", "security-group"),
    ("networkaclid", "network-acl"),
    ("routetableid", "route-table"),
    ("internetgatewayid", "internet-gateway"),
    ("natgatewayid", "nat-gateway"),
    ("vpcpeeringconnectionid", "vpc-peering"),
    ("vpcendpointid", "vpc-endpoint"),
    ("trafficmirrorsessionid", "traffic-mirror-session"),
    ("networkinterfaceid", "network-interface"),
    ("imageid", "image"),
    ("snapshotid", "snapshot"),
    ("volumeid", "volume"),
    ("instanceid", "instance"),
    ("subnetid", "subnet"),
    ("vpcid", "vpc"),
    ("keyid", "key"),
    ("secretid", "secret"),
    ("trailname", "trail"),
    ("loggroupname", "log-group"),
    ("detectorid", "detector"),
    ("guardrailidentifier", "guardrail"),
    ("trustanchorid", "trust-anchor"),
    ("profileid", "profile"),
    ("autoscalinggroupname", "auto-scaling-group"),
    ("topicarn", "topic"),
    ("queueurl", "queue"),
    ("tablename", "table"),
    ("stackname", "stack"),
    ("clustername", "cluster"),
    ("repositoryname", "repository"),
    ("configurationrecordername", "configuration-recorder"),
    ("resourcearn", "resource"),
    ("resourceid", "resource"),
    ("name", "name"),
)


_NOT_API_CALLS = ("AwsConsoleSignIn", "AwsServiceEvent")


def is_change(event: Event) -> bool:
    """A successful call that changed something (not a read, not a credential or crypto operation)."""
    if event.error_code or is_read_call(event):
        return False
    if event.raw.get("eventType") in _NOT_API_CALLS:
        return False
    return base_name(event.event_name) not in _NOT_CHANGES


_MAX_CACHED = 4_096
"""Distinct (source, name, readOnly) answers the inventory keeps (event names are attacker-writable)."""


def _change_call(event_source: str, event_name: str, read_only: bool | None) -> tuple[str, str] | None:
    """(service, call) when a successful call of this name and ``readOnly`` is a change — what
    :func:`is_change` decides but the event type, which depends on these three alone."""
    name = base_name(event_name)
    if (is_read_name(name) if read_only is None else read_only) or name in _NOT_CHANGES:
        return None
    return event_source.split(".", 1)[0], name


_RANK = {key: (rank, label) for rank, (key, label) in enumerate(_RESOURCE_KEYS)}
_shapes: dict[tuple[Any, ...], _Shape] = {}
"""A request's keys (as logged, in order) → what they say about its resources."""
_MAX_SHAPE_KEYS = 32
_ITEM_SETS = (("instancesSet", "instanceId", "instance"), ("resourcesSet", "resourceId", "resource"))
_EC2 = "ec2.amazonaws.com"
_EMPTY: Mapping[str, Any] = {}
_ACCESS_SOURCES = frozenset({"secretsmanager.amazonaws.com", "ssm.amazonaws.com", "bedrock.amazonaws.com"})


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a request's keys say about where it names its resources (worked out once per set of keys:
    the requests of one call have the same keys)."""

    wrapper: Any
    """The one key of a ``{"…Request": {...}}`` request, else None."""
    item_sets: tuple[tuple[str, str, str], ...]
    """The (wrapper, item key, label) of :data:`_ITEM_SETS` among the keys."""
    ranked: tuple[tuple[Any, str], ...]
    """The resource keys among the keys, most specific first (equal ranks in request order), with labels."""


def _shape(request: Mapping[str, Any]) -> _Shape:
    keys = tuple(request)
    shape = _shapes.get(keys)
    if shape is None:
        found = [(_RANK[low], key) for key in keys if (low := str(key).lower()) in _RANK]
        found.sort(key=lambda r: r[0][0])
        shape = _Shape(
            keys[0] if len(keys) == 1 and str(keys[0]).endswith("Request") else None,
            tuple(s for s in _ITEM_SETS if s[0] in request),
            tuple((key, rank[1]) for rank, key in found),
        )
        if len(_shapes) < _MAX_CACHED and len(keys) <= _MAX_SHAPE_KEYS:
            _shapes[keys] = shape
    return shape


def _named(request: Mapping[str, Any], ranked: tuple[tuple[Any, str], ...]) -> str | None:
    """The most specific resource key of the request with a value, as ``label/value``."""
    for key, label in ranked:
        value = request[key]
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            text = secret_name(value) if label == "secret" else str(value)[:MAX_NAME]
            return f"{label}/{text}"
    return None


def resources_of(event: Event) -> list[str]:
    """The resources a change touched (``role/ops``, ``instance/i-0abc``); ``(account)`` when none is named."""
    return _resources(event, None)


def _resources(event: Event, raw: Mapping[str, Any] | None) -> list[str]:
    """:func:`resources_of`, with the event's ``raw`` when the caller holds it already."""
    found: list[str] = []
    # EC2 launches and instance-set calls name their instances in the response or an items list (only
    # EC2 answers with an instancesSet: other calls' responses are not decoded)
    if event.event_source == _EC2:
        response = event.response
        started = response.get("instancesSet") if response else None
        if started:
            for item in items(started)[:MAX_RESOURCES_PER_CALL]:
                if item.get("instanceId"):
                    found.append(f"instance/{str(item['instanceId'])[:MAX_NAME]}")
            if found:
                return found
    request = event.request
    if request:
        shape = _shape(request)
        if shape.wrapper is not None:
            inner = request[shape.wrapper]
            if isinstance(inner, Mapping):  # one ``…Request`` wrapper unwrapped (newer EC2 APIs)
                request = inner
                shape = _shape(request)
        for wrapper, key, label in shape.item_sets:
            listed = request.get(wrapper)
            if not listed:
                continue
            for item in items(listed)[:MAX_RESOURCES_PER_CALL]:
                if item.get(key):
                    found.append(f"{label}/{str(item[key])[:MAX_NAME]}")
        if found:
            return found
        if shape.ranked:
            named = _named(request, shape.ranked)
            if named is not None:
                return [named]
    for entry in (event.raw if raw is None else raw).get("resources") or ():
        if isinstance(entry, Mapping) and entry.get("ARN"):
            return [str(entry["ARN"])[:MAX_NAME]]
    if event.identity_type == "IAMUser" and event.service == "iam":
        return [f"user/{event.principal_arn.rsplit('/', 1)[-1]}"]  # CreateAccessKey for oneself
    return ["(account)"]


def _bump(counts: dict[str, int], value: str) -> bool:
    """Count ``value``, keeping at most ``MAX_VALUES`` distinct ones (plain dict updates: per event);
    False when ``value`` is past the bound and was not counted by name."""
    seen = counts.get(value)
    if seen is not None:
        counts[value] = seen + 1
    elif len(counts) < MAX_VALUES:
        counts[value] = 1
    else:
        return False
    return True


def _by_count(counts: dict[str, int]) -> list[str]:
    return sorted(counts, key=lambda k: (-counts[k], k))


@dataclass(slots=True)
class _Group:
    first: datetime
    last: datetime
    count: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    principals: dict[str, int] = field(default_factory=dict)
    addresses: dict[str, int] = field(default_factory=dict)
    """Source addresses (at most ``MAX_VALUES``); reported as their networks."""
    regions: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    bulk: bool = False
    # calls whose call name, principal, address or region was past MAX_VALUES: ``not_listed``
    unlisted_calls: int = 0
    unlisted_principals: int = 0
    unlisted_networks: int = 0
    unlisted_regions: int = 0

    def add(self, event: Event, call: str | None = None) -> None:
        self.count += 1
        when = event.event_time
        if when < self.first:
            self.first = when
        elif when > self.last:
            self.last = when
        if call is not None and not _bump(self.calls, call):
            self.unlisted_calls += 1
        if not _bump(self.principals, event.issuer_arn or event.principal_arn):
            self.unlisted_principals += 1
        if not _bump(self.addresses, event.source_ip):
            self.unlisted_networks += 1
        if not _bump(self.regions, event.region):
            self.unlisted_regions += 1
        if len(self.ids) < MAX_IDS:
            self.ids.append(event.event_id)

    def merge(self, later: _Group) -> None:
        """Fold in a group of the events read after this one's."""
        self.count += later.count
        if later.first < self.first:
            self.first = later.first
        if later.last > self.last:
            self.last = later.last
        self.unlisted_calls += later.unlisted_calls + add_counts(self.calls, later.calls, MAX_VALUES)
        self.unlisted_principals += later.unlisted_principals + add_counts(
            self.principals, later.principals, MAX_VALUES
        )
        self.unlisted_networks += later.unlisted_networks + add_counts(self.addresses, later.addresses, MAX_VALUES)
        self.unlisted_regions += later.unlisted_regions + add_counts(self.regions, later.regions, MAX_VALUES)
        self.ids.extend(later.ids[: MAX_IDS - len(self.ids)])
        self.bulk = self.bulk or later.bulk

    def not_listed(self) -> dict[str, int]:
        """The calls left out of each list (kinds with none omitted)."""
        kinds = (
            ("calls", self.unlisted_calls),
            ("principals", self.unlisted_principals),
            ("networks", self.unlisted_networks),
            ("regions", self.unlisted_regions),
        )
        return {kind: n for kind, n in kinds if n}

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "principals": _by_count(self.principals),
            "first_seen": format_time(self.first),
            "last_seen": format_time(self.last),
            "regions": sorted(self.regions),
            "networks": list(dict.fromkeys(network_of(ip) or ip[:100] for ip in _by_count(self.addresses))),
            "event_ids": list(self.ids),
            **({"not_listed": unlisted} if (unlisted := self.not_listed()) else {}),
        }


@dataclass(frozen=True)
class InventoryResult:
    changes: tuple[Mapping[str, Any], ...] = ()
    """One entry per (service, resource): ``{service, resource, count, calls, principals, first_seen,
    last_seen, regions, networks, event_ids}``, by service then first change."""
    secrets_read: tuple[Mapping[str, Any], ...] = ()
    """One entry per secret or parameter read successfully: ``{service, secret, bulk, count, …}``."""
    models_invoked: tuple[Mapping[str, Any], ...] = ()
    """One entry per Bedrock model invoked: ``{model, count, …}``."""
    folded: Mapping[str, int] = field(default_factory=dict)
    """Calls counted in an ``(other resources)`` group because the group limit was reached."""

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [dict(c) for c in self.changes],
            "secrets_read": [dict(s) for s in self.secrets_read],
            "models_invoked": [dict(m) for m in self.models_invoked],
            "folded": dict(self.folded),
        }


class Inventory:
    """Fed every analysed event; keeps one compact group per changed resource, secret and model."""

    def __init__(self) -> None:
        self._changes: dict[tuple[str, str], _Group] = {}
        self._secrets: dict[tuple[str, str], _Group] = {}
        self._models: dict[str, _Group] = {}
        self._folded: Counter[str] = Counter()
        self._kinds: dict[tuple[str, str, bool | None], tuple[str, str] | None] = {}
        """(source, name, readOnly) → (service, call) of a change, or None (see :func:`_change_call`)."""

    def _group(self, table: dict[Any, _Group], key: Any, overflow: Any, kind: str, event: Event) -> _Group:
        group = table.get(key)
        if group is None:
            if len(table) >= MAX_GROUPS:
                self._folded[kind] += 1
                key = overflow
                group = table.get(key)
            if group is None:
                group = table[key] = _Group(event.event_time, event.event_time)
        return group

    def feed(self, event: Event, attribution: str = "") -> None:
        self.feed_file((event,), attribution)

    def feed_file(self, events: Sequence[Event], attribution: str = "") -> None:
        """:meth:`feed` of each event, in order (the analyzer's pass feeds a file at a time)."""
        kinds, changes = self._kinds, self._changes
        for event in events:
            if event.error_code:
                continue
            if event.event_source in _ACCESS_SOURCES and self._access(event):
                continue
            read_only = event.read_only
            if read_only is True:
                continue  # the bulk of a trail: reads change nothing
            # is_change, its per-(source, name, readOnly) part asked once
            which = (event.event_source, event.event_name, read_only)
            known = kinds.get(which, _UNKNOWN)
            if known is _UNKNOWN:
                known = _change_call(*which)
                if len(kinds) < _MAX_CACHED:
                    kinds[which] = known
            if known is None:
                continue
            raw = event.raw
            if raw.get("eventType") in _NOT_API_CALLS:
                continue
            service, call = known
            for resource in _resources(event, raw):
                self._group(changes, (service, resource), (service, OTHER), "changes", event).add(event, call)

    def _access(self, event: Event) -> bool:
        """Record a secret read or a model invocation; False when the event is neither."""
        read = secret_read(event)
        if read is not None:
            for name in read.names:
                key = (read.service, name)
                group = self._group(self._secrets, key, (read.service, OTHER), "secrets_read", event)
                group.bulk = group.bulk or read.bulk
                group.add(event)
            return True
        model = model_invoked(event)
        if model is not None:
            self._group(self._models, model, OTHER, "models_invoked", event).add(event)
            return True
        return False

    def merge(self, later: Inventory) -> None:
        """Fold in the state of an inventory fed the events read after this one's (see Detector.merge):
        ``finish()`` then returns what one inventory fed both shares in that order returns, while no
        bound was reached. A group the later share started joins while its table has room (one pass
        would have created it then: the later share met its groups in the same order); once the
        table is full, its calls fold into the ``(other resources)`` group and are counted, as one
        pass folds them. At a bound (``MAX_GROUPS``, ``MAX_VALUES``, ``MAX_IDS``) what is kept may
        differ from one pass, never its size. ``later`` is consumed (its groups are taken over)."""
        tables: tuple[tuple[dict[Any, _Group], dict[Any, _Group], str], ...] = (
            (self._changes, later._changes, "changes"),
            (self._secrets, later._secrets, "secrets_read"),
            (self._models, later._models, "models_invoked"),
        )
        for mine, theirs, kind in tables:
            for key, group in theirs.items():
                have = mine.get(key)
                if have is None and len(mine) >= MAX_GROUPS:
                    overflow = (key[0], OTHER) if isinstance(key, tuple) else OTHER
                    if key != overflow:  # the later share's own overflow: its calls are counted already
                        self._folded[kind] += group.count
                        key = overflow
                        have = mine.get(key)
                if have is None:
                    mine[key] = group
                else:
                    have.merge(group)
        self._folded.update(later._folded)

    def size(self) -> int:
        """Items held: groups and their bounded ids (bounded by resources, never by events)."""
        groups = (*self._changes.values(), *self._secrets.values(), *self._models.values())
        return len(groups) + sum(len(g.ids) for g in groups)

    def finish(self) -> InventoryResult:
        changes = [
            {
                "service": service,
                "resource": resource,
                **group.to_json(),
                "calls": {c: group.calls[c] for c in _by_count(group.calls)},
            }
            for (service, resource), group in sorted(
                self._changes.items(), key=lambda kv: (kv[0][0], kv[1].first, kv[0][1])
            )
        ]
        secrets = [
            {"service": service, "secret": name, "bulk": group.bulk, **group.to_json()}
            for (service, name), group in sorted(self._secrets.items(), key=lambda kv: (kv[1].first, kv[0]))
        ]
        models = [
            {"model": model, **group.to_json()}
            for model, group in sorted(self._models.items(), key=lambda kv: (kv[1].first, kv[0]))
        ]
        return InventoryResult(tuple(changes), tuple(secrets), tuple(models), dict(self._folded))
