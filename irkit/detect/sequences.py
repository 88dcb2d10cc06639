"""The stateful detectors: instance bursts, unusual regions, backdoor sequences, denied-call bursts.

Each class keeps a compact trace of the few events it cares about and decides in ``finish()``.

```yaml
ec2_instance_burst:          >= 10 instances launched within 10 minutes by one principal
ec2_unusual_region:          launches in a region the agent otherwise (almost) never uses
iam_role_backdoor_sequence:  CreateRole -> admin policy on it -> access key, AssumeRole or use of it
iam_user_backdoor_sequence:  CreateUser -> CreateAccessKey for it -> that key used from a new IP
recon_access_denied_burst:   >= 10 denied calls on >= 4 APIs within 10 minutes
```
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.detect.access import ACCESS_DETECTORS
from irkit.detect.detector import (
    Detector,
    DetectorContext,
    DetectorInfo,
    Hit,
    TimeCells,
    finding,
    windows,
)
from irkit.detect.event import Event, format_time
from irkit.detect.names import base_name
from irkit.detect.policy import (
    external_principals,
    grants_admin,
    is_admin_managed_policy,
    items,
    load_document,
)
from irkit.detect.records import (
    ACCOUNT,
    AGENT_IP,
    ATTACKER_IP,
    CLI_UA,
    OUTSIDE_ACCOUNT,
    record,
    user_identity,
)
from irkit.detect.rule import Finding, lower
from irkit.detect.rules._util import sub

BURST_WINDOW_SECONDS = 600
BURST_INSTANCES = 10
REGION_SHARE = 0.05
REGION_MIN_EVENTS = 20
REGION_MIN_HOURS = 3
REGION_HOURS_SHARE = 0.10
SEQUENCE_WINDOW = timedelta(hours=6)
NEW_IP_MIN_CALLS = 100
NEW_IP_SHARE = 0.01
DENIED_WINDOW_SECONDS = 600
KEYS_PER_HOUR = 8
LAUNCH_SAMPLE = 20
DENIED_CALLS = 10
DENIED_DISTINCT_APIS = 4
LAUNCH_EVENTS = frozenset(
    {
        "RunInstances",
        "RequestSpotInstances",
        "RequestSpotFleet",
        "CreateFleet",
        "CreateDBInstance",
        "CreateDBCluster",
        "CreateDBInstanceReadReplica",
        "CreateFunction",
    }
)
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
        "NotAuthorized",
    }
)
_BASE = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _t(minutes: float) -> str:
    return format_time(_BASE + timedelta(minutes=minutes))


def launched_count(event: Event) -> int:
    """Instances a RunInstances call started (response), else asked for (request minCount)."""
    started = items(event.response.get("instancesSet"))
    if started:
        return len(started)
    total = 0
    for item in items(event.request.get("instancesSet")):
        try:
            total += int(item.get("minCount") or item.get("maxCount") or 1)
        except (TypeError, ValueError):
            total += 1
    return total or 1


def _run(
    minutes: float, count: int, *, region: str = "us-east-1", itype: str = "c5.xlarge"
) -> dict[str, Any]:
    return record(
        "RunInstances",
        "ec2.amazonaws.com",
        time=_t(minutes),
        region=region,
        request={
            "instancesSet": {
                "items": [{"imageId": "ami-0abc1234def567890", "minCount": count, "maxCount": count}]
            },
            "instanceType": itype,
        },
        response={
            "instancesSet": {
                "items": [
                    {
                        "instanceId": f"i-{minutes:04.0f}{n:013d}",
                        "instanceType": itype,
                        "currentInstanceCount": 1,
                    }
                    for n in range(count)
                ]
            }
        },
    )


def _describe(minutes: float, region: str = "us-east-1") -> dict[str, Any]:
    return record(
        "DescribeInstances", "ec2.amazonaws.com", time=_t(minutes), region=region, request={}, read_only=True
    )


class InstanceBurst:
    info = DetectorInfo(
        id="ec2_instance_burst",
        title="Burst of EC2 instance launches",
        severity="high",
        mitre=("T1496", "T1578.002"),
        why="The seed's miner was 100 instances launched through legitimate API calls; an agent that "
        "launches one or two instances at a time does not start ten in ten minutes.",
        remediation="Terminate the burst's instances after snapshotting one for forensics; check the AMI "
        "and user data; raise a cost alarm on the account.",
        tactic="impact",
        positive=(tuple(_run(m, 3) for m in (0, 2, 4, 6)),),
        negative=(tuple(_run(m * 30, 2) for m in range(6)),),
    )

    events: frozenset[str] | None = frozenset({"RunInstances"})
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._cells = TimeCells()

    def feed(self, event: Event, attribution: str) -> None:
        if event.event_name == "RunInstances" and event.succeeded:
            self._cells.add(event.actor, event, attribution, weight=launched_count(event))

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return self._cells.size()

    def finish(self) -> list[Finding]:
        found = []
        for actor in self._cells.subjects():
            for episode in windows(
                self._cells.hits(actor),
                seconds=BURST_WINDOW_SECONDS,
                weight=lambda h: h.extra.weight,
                enough=lambda total, _: total >= BURST_INSTANCES,
            ):
                count = sum(h.extra.weight for h in episode)
                launches = sum(h.extra.count for h in episode)
                span = (episode[-1].time - episode[0].time).total_seconds() / 60
                found.append(
                    finding(
                        self.info,
                        episode,
                        detail=f"{count} instances in {launches} launches over {span:.0f} min",
                        evidence={"instances": count, "launches": launches, "threshold": BURST_INSTANCES},
                        severity="critical" if count >= 5 * BURST_INSTANCES else None,
                        samples=self._cells.samples(actor, episode),
                    )
                )
        return found


@dataclass(slots=True)
class _Launches:
    """Launches of one subject in one region: the earliest, the count, and a sample of ids."""

    first: Hit
    count: int
    sample: list[Hit]

    def add(self, hit: Hit) -> None:
        self.count += 1
        if (hit.time, hit.event_id) < (self.first.time, self.first.event_id):
            self.first = hit
        if len(self.sample) < LAUNCH_SAMPLE:
            self.sample.append(hit)
            if len(self.sample) == LAUNCH_SAMPLE:
                self.sample.sort(key=lambda h: (h.time, h.event_id))
        elif hit.time < self.sample[-1].time:
            # keep the earliest launches: the sample is what the finding lists, earliest first
            self.sample[-1] = hit
            self.sample.sort(key=lambda h: (h.time, h.event_id))


class UnusualRegion:
    info = DetectorInfo(
        id="ec2_unusual_region",
        title="Resources launched in a region the agent does not use",
        severity="high",
        mitre=("T1535", "T1496"),
        why="Attackers launch where nobody looks (the seed: 'creating resources in unfamiliar regions', "
        "a replica 'in a region you don't usually deploy to').",
        remediation="Terminate what was launched there; consider an SCP denying unused regions.",
        tactic="impact",
        positive=(
            (
                *(_describe(m) for m in range(0, 120, 2)),
                _describe(130, "ap-southeast-1"),
                _run(131, 2, region="ap-southeast-1"),
            ),
        ),
        negative=(
            tuple(_describe(m) for m in range(0, 120, 2))
            + tuple(_describe(m, "us-west-2") for m in range(0, 120, 30))
            + (_run(125, 1), _run(126, 1, region="us-west-2")),
        ),
    )

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        # (subject, region, hour) → calls: one dict update an event; the per-region counts and
        # active hours are derived in finish(). Bounded by subjects x regions x hours.
        self._filtering = context.filtering
        self._cells: dict[tuple[str, str, int], int] = {}
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._hours: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._active: dict[str, set[int]] = defaultdict(set)
        self._launches: dict[tuple[str, str], _Launches] = {}

    def feed(self, event: Event, attribution: str) -> None:
        region = event.region
        if not region:
            return
        subject = "(agent)" if self._filtering else (event.issuer_arn or event.principal_arn)
        cell = (subject, region, int(event.event_time.timestamp()) // 3600)
        cells = self._cells
        cells[cell] = cells.get(cell, 0) + 1
        if event.error_code is None and base_name(event.event_name) in LAUNCH_EVENTS:
            key = (subject, region)
            hit = Hit(event.event_time, event.event_id, attribution, event.issuer_arn or event.principal_arn)
            launches = self._launches.get(key)
            if launches is None:
                self._launches[key] = _Launches(hit, 1, [hit])
            else:
                launches.add(hit)

    def _fold(self) -> None:
        for (subject, region, hour), calls in self._cells.items():
            self._counts[subject][region] += calls
            self._hours[(subject, region)].add(hour)
            self._active[subject].add(hour)
        self._cells.clear()

    def _usual(self, subject: str, region: str) -> bool:
        """Known to the baseline; or, without one, a real share of the calls or of the active hours.

        An attacker's work in a fresh region is a handful of calls in a few hours; an agent's own
        region carries a share of its calls, or at least shows up hour after hour.
        """
        known = self._context.known_regions
        if known is not None:
            return region in known
        counts = self._counts[subject]
        total = sum(counts.values())
        if total < REGION_MIN_EVENTS or counts[region] >= REGION_SHARE * total:
            return True
        hours = len(self._hours[(subject, region)])
        return hours >= max(REGION_MIN_HOURS, REGION_HOURS_SHARE * len(self._active[subject]))

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return len(self._cells) + sum(1 + len(x.sample) for x in self._launches.values())

    def finish(self) -> list[Finding]:
        self._fold()
        found = []
        for key, launches in self._launches.items():
            subject, region = key
            if self._usual(subject, region):
                continue
            hits = [launches.first]
            calls = launches.count
            counts = self._counts[subject]
            usual = [r for r, _ in counts.most_common() if r != region and self._usual(subject, r)][:5]
            found.append(
                finding(
                    self.info,
                    hits,
                    detail=f"{calls} launch call(s) in {region}; usual: {', '.join(usual) or '-'}",
                    evidence={
                        "region": region,
                        "events_in_region": counts[region],
                        "events_total": sum(counts.values()),
                        "usual_regions": usual,
                        "baseline_regions": sorted(self._context.known_regions or ()),
                    },
                    samples=[(h.time, h.event_id) for h in launches.sample],
                )
            )
        return found


def _iam(
    name: str, minutes: float, request: dict[str, Any], response: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    return record(name, "iam.amazonaws.com", time=_t(minutes), request=request, response=response, **kw)


_TRUST_OUTSIDE = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'
    + OUTSIDE_ACCOUNT
    + ':root"},"Action":"sts:AssumeRole"}]}'
)
_TRUST_OWN = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'
    + ACCOUNT
    + ':root"},"Action":"sts:AssumeRole"}]}'
)
_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ops-maintenance"


def _create_role(minutes: float, *, trust: str = _TRUST_OWN) -> dict[str, Any]:
    return _iam(
        "CreateRole",
        minutes,
        {"roleName": "ops-maintenance", "assumeRolePolicyDocument": trust},
        {"role": {"roleName": "ops-maintenance", "arn": _ROLE_ARN, "roleId": "AROAQBACKDOOR0000001"}},
        ip=ATTACKER_IP,
        user_agent=CLI_UA,
    )


def _attach_admin(minutes: float, *, error: str | None = None) -> dict[str, Any]:
    return _iam(
        "AttachRolePolicy",
        minutes,
        {"roleName": "ops-maintenance", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ip=ATTACKER_IP,
        user_agent=CLI_UA,
        error=error,
    )


def _key_for(user: str, key: str, minutes: float) -> dict[str, Any]:
    return _iam(
        "CreateAccessKey",
        minutes,
        {"userName": user},
        {"accessKey": {"userName": user, "accessKeyId": key, "status": "Active"}},
        ip=ATTACKER_IP,
        user_agent=CLI_UA,
    )


class _Role:
    __slots__ = ("admin", "arn", "created", "trust", "uses")

    def __init__(self) -> None:
        self.created: Hit | None = None
        self.arn = ""
        self.admin: list[Hit] = []
        """Admin grants; ``extra`` is True for a grant that failed (an attempt)."""
        self.uses: list[Hit] = []
        self.trust: list[Hit] = []
        """Trust opened to an outside account or ``*``: the role is reachable without any key."""


class RoleBackdoor:
    info = DetectorInfo(
        id="iam_role_backdoor_sequence",
        title="Hidden admin role: role created, made admin, then keyed, assumed or trusted outside",
        severity="critical",
        mitre=("T1098.003", "T1136.003", "T1078.004"),
        why="The seed's healthcare incident: a leaked agent credential created a hidden administrative "
        "role; 'creating an IAM role, then immediately attaching an admin policy, then creating access "
        "keys' is the backdoor pattern the article names. A failed admin grant in the same sequence is "
        "reported as an attempt (one severity lower).",
        remediation="Contain the role (revoke sessions, detach policies, reset its trust policy), "
        "deactivate the keys created in the sequence, and audit everything the role did.",
        tactic="persistence",
        positive=(
            (_create_role(0), _attach_admin(1), _key_for("agent-infra-bot", "AKIAQBACKDOORKEY0001", 2)),
            (
                _create_role(0),
                _attach_admin(1),
                record(
                    "AssumeRole",
                    "sts.amazonaws.com",
                    time=_t(5),
                    request={"roleArn": _ROLE_ARN, "roleSessionName": "x"},
                    response={"credentials": {"accessKeyId": "ASIAQBACKDOORSESS001"}},
                    ip=ATTACKER_IP,
                ),
            ),
            (_create_role(0, trust=_TRUST_OUTSIDE), _attach_admin(1)),
            (
                _create_role(0),
                _attach_admin(1, error="NoSuchEntity"),
                _key_for("agent-infra-bot", "AKIAQBACKDOORKEY0004", 2),
            ),
        ),
        negative=(
            (_create_role(0), _key_for("agent-infra-bot", "AKIAQBACKDOORKEY0002", 2)),
            (
                _create_role(0),
                _attach_admin(60 * 7),
                _key_for("agent-infra-bot", "AKIAQBACKDOORKEY0003", 60 * 7 + 1),
            ),
            (_create_role(0), _attach_admin(1)),
        ),
    )

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._roles: dict[str, _Role] = defaultdict(_Role)
        self._keys: dict[str, dict[int, list[Hit]]] = defaultdict(dict)
        """Access keys created, per subject and hour: a bounded sample (see ``_keep_key``)."""

    def _keep_key(self, subject: str, hit: Hit) -> None:
        """Keep at most ``KEYS_PER_HOUR`` keys a subject and hour, always including the hour's
        earliest and latest: whether any key falls inside a sequence's window (whose edges may
        cut an hour) stays exact, memory stays bounded by subjects x hours. A sequence lists the
        kept keys; an agent minting more than eight keys an hour is a finding of its own."""
        minutes = self._keys[subject]
        minute = int(hit.time.timestamp()) // 3600
        kept = minutes.get(minute)
        if kept is None:
            minutes[minute] = [hit]
            return
        if len(kept) < KEYS_PER_HOUR:
            kept.append(hit)
            return
        times = [h.time for h in kept]
        earliest, latest = min(times), max(times)
        if earliest <= hit.time <= latest:
            return
        edges = (times.index(earliest), times.index(latest))
        kept[next(i for i in range(len(kept)) if i not in edges)] = hit

    def _subject(self, event: Event) -> str:
        return "(agent)" if self._context.filtering else event.actor

    def _admin_grant(self, event: Event) -> bool:
        if event.event_name == "AttachRolePolicy":
            return is_admin_managed_policy(event.request.get("policyArn"))
        if event.event_name == "PutRolePolicy":
            return grants_admin(load_document(event.request.get("policyDocument")))
        return False

    def feed(self, event: Event, attribution: str) -> None:
        name = event.event_name
        if event.event_source == "iam.amazonaws.com":
            role = event.request.get("roleName")
            if not isinstance(role, str) and name != "CreateAccessKey":
                return
            if not event.succeeded:
                if isinstance(role, str) and self._admin_grant(event):
                    hit = Hit(event.event_time, event.event_id, attribution, event.actor, True)
                    self._roles[role].admin.append(hit)
                return
            hit = Hit(event.event_time, event.event_id, attribution, event.actor, False)
            if name == "CreateAccessKey":
                self._keep_key(self._subject(event), hit)
            elif name == "CreateRole" and isinstance(role, str):
                state = self._roles[role]
                state.created = hit
                created_arn = sub(event.response.get("role"), "arn")
                state.arn = str(created_arn) if created_arn else ""
                doc = load_document(event.request.get("assumeRolePolicyDocument"))
                if external_principals(doc, _account(event)):
                    state.trust.append(hit)
            elif isinstance(role, str) and self._admin_grant(event):
                self._roles[role].admin.append(hit)
            elif name == "UpdateAssumeRolePolicy" and isinstance(role, str):
                doc = load_document(event.request.get("policyDocument"))
                if external_principals(doc, _account(event)):
                    self._roles[role].trust.append(hit)
            return
        if event.error_code or not self._roles:
            return
        if name in ("AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
            target = event.request.get("roleArn")
            if isinstance(target, str) and target.rsplit("/", 1)[-1] in self._roles:
                hit = Hit(event.event_time, event.event_id, attribution, event.actor)
                self._roles[target.rsplit("/", 1)[-1]].uses.append(hit)
        elif event.issuer_arn and event.issuer_arn.rsplit("/", 1)[-1] in self._roles:
            state = self._roles[event.issuer_arn.rsplit("/", 1)[-1]]
            if len(state.uses) < 20:
                state.uses.append(Hit(event.event_time, event.event_id, attribution, event.actor))

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return len(self._roles) + sum(len(kept) for m in self._keys.values() for kept in m.values())

    def finish(self) -> list[Finding]:
        found = []
        for role, state in self._roles.items():
            created = state.created
            if created is None:
                continue
            deadline = created.time + SEQUENCE_WINDOW
            admin = [h for h in state.admin if created.time <= h.time <= deadline]
            granted = [h for h in admin if not h.extra]
            if not admin:
                continue
            after = min(h.time for h in (granted or admin))
            subject = "(agent)" if self._context.filtering else created.principal
            keys = [
                h
                for kept in self._keys.get(subject, {}).values()
                for h in kept
                if after <= h.time <= deadline
            ]
            uses = [h for h in state.uses if created.time <= h.time <= deadline]
            trust = [h for h in state.trust if created.time <= h.time <= deadline]
            if not keys and not uses and not trust:
                continue
            steps = ["CreateRole", "admin policy" if granted else "admin policy (failed)"]
            steps += ["trusts an outside account"] if trust else []
            steps += ["CreateAccessKey"] if keys else []
            steps += ["AssumeRole/use"] if uses else []
            result = finding(
                self.info,
                [created, *admin, *trust, *keys, *uses],
                detail=f"role {role}: {' → '.join(steps)}",
                evidence={"role": role, "role_arn": state.arn, "steps": steps, "attempt": not granted},
                principal=created.principal,
                severity=None if granted else lower(self.info.severity),
            )
            if not granted:
                result = replace(result, title=f"Attempted: {result.title}")
            found.append(result)
        return found


def _account(event: Event) -> str:
    recipient = event.raw.get("recipientAccountId")
    return str(recipient) if recipient else event.account_id


def _new_ip(ip: str, creator_ips: Counter[str]) -> bool:
    """An IP the creator never used, or (for a busy creator) used for under 1 % of its calls.

    A stolen session and the key it minted are often driven from the same attacker host, so
    "never used by the creator" alone would miss exactly the case that matters; an agent's own
    hosts carry far more than 1 % of its calls.
    """
    used = creator_ips.get(ip, 0)
    if used == 0:
        return True
    total = sum(creator_ips.values())
    return total >= NEW_IP_MIN_CALLS and used < NEW_IP_SHARE * total


class UserBackdoor:
    info = DetectorInfo(
        id="iam_user_backdoor_sequence",
        title="New user's access key used from a new IP",
        severity="critical",
        mitre=("T1136.003", "T1098.001", "T1078.004"),
        why="Creating a user, minting its key and using that key from somewhere the creator never "
        "called from is a credential handed to someone else: persistence that survives containment.",
        remediation="Deactivate the key, delete the user's login profile and policies, delete the user, "
        "and investigate every call made with the key.",
        tactic="persistence",
        positive=(
            (
                _iam(
                    "CreateUser",
                    0,
                    {"userName": "svc-backup"},
                    {"user": {"userName": "svc-backup", "arn": f"arn:aws:iam::{ACCOUNT}:user/svc-backup"}},
                ),
                _iam(
                    "CreateAccessKey",
                    1,
                    {"userName": "svc-backup"},
                    {"accessKey": {"userName": "svc-backup", "accessKeyId": "AKIAQSVCBACKUPKEY001"}},
                ),
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    time=_t(30),
                    identity=user_identity(
                        f"arn:aws:iam::{ACCOUNT}:user/svc-backup", key="AKIAQSVCBACKUPKEY001"
                    ),
                    ip=ATTACKER_IP,
                    read_only=True,
                ),
            ),
        ),
        negative=(
            (
                _iam(
                    "CreateUser",
                    0,
                    {"userName": "svc-backup"},
                    {"user": {"userName": "svc-backup", "arn": f"arn:aws:iam::{ACCOUNT}:user/svc-backup"}},
                ),
                _iam(
                    "CreateAccessKey",
                    1,
                    {"userName": "svc-backup"},
                    {"accessKey": {"userName": "svc-backup", "accessKeyId": "AKIAQSVCBACKUPKEY002"}},
                ),
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    time=_t(30),
                    identity=user_identity(
                        f"arn:aws:iam::{ACCOUNT}:user/svc-backup", key="AKIAQSVCBACKUPKEY002"
                    ),
                    ip=AGENT_IP,
                    read_only=True,
                ),
            ),
        ),
    )

    _MAX_IPS = 2000

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._users: dict[str, Hit] = {}
        self._grants: dict[str, list[Hit]] = defaultdict(list)
        self._keys: dict[str, tuple[str, Hit]] = {}
        self._uses: dict[str, list[Hit]] = defaultdict(list)
        self._ips: dict[str, Counter[str]] = defaultdict(Counter)

    def feed(self, event: Event, attribution: str) -> None:
        ips = self._ips[event.issuer_arn or event.principal_arn]
        ip = event.source_ip
        if ip in ips:
            ips[ip] += 1
        elif len(ips) < self._MAX_IPS:
            ips[ip] = 1
        key = event.access_key_id
        if key and self._keys and key in self._keys and len(self._uses[key]) < 20:
            self._uses[key].append(
                Hit(event.event_time, event.event_id, attribution, event.actor, event.source_ip)
            )
        if event.error_code or event.event_source != "iam.amazonaws.com":
            return
        user = event.request.get("userName")
        if not isinstance(user, str):
            return
        hit = Hit(event.event_time, event.event_id, attribution, event.actor)
        if event.event_name == "CreateUser":
            self._users[user] = hit
        elif event.event_name == "CreateAccessKey":
            key_id = sub(event.response.get("accessKey"), "accessKeyId")
            if isinstance(key_id, str):
                self._keys[key_id] = (user, hit)
        elif event.event_name in (
            "AttachUserPolicy",
            "PutUserPolicy",
            "AddUserToGroup",
            "CreateLoginProfile",
        ):
            self._grants[user].append(hit)

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return (
            len(self._users)
            + sum(len(g) for g in self._grants.values())
            + len(self._keys)
            + sum(len(u) for u in self._uses.values())
            + sum(len(c) for c in self._ips.values())
        )

    def finish(self) -> list[Finding]:
        found = []
        for key_id, (user, key_hit) in self._keys.items():
            created = self._users.get(user)
            if created is None:
                continue
            creator_ips = self._ips.get(created.principal, Counter())
            uses = [
                h
                for h in self._uses.get(key_id, [])
                if h.time >= key_hit.time and _new_ip(str(h.extra), creator_ips)
            ]
            if not uses:
                continue
            grants = self._grants.get(user, [])
            new_ips = sorted({str(h.extra) for h in uses})
            found.append(
                finding(
                    self.info,
                    [created, *grants, key_hit, *uses],
                    detail=f"user {user}: key {key_id} used from {', '.join(new_ips)}",
                    evidence={"user": user, "access_key_id": key_id, "new_ips": new_ips},
                    principal=created.principal,
                )
            )
        return found


def _denied(minutes: float, name: str, source: str) -> dict[str, Any]:
    return record(
        name, source, time=_t(minutes), request={}, error="AccessDenied", read_only=True, ip=ATTACKER_IP
    )


_RECON = (
    ("ListUsers", "iam.amazonaws.com"),
    ("ListRoles", "iam.amazonaws.com"),
    ("GetAccountAuthorizationDetails", "iam.amazonaws.com"),
    ("ListSecrets", "secretsmanager.amazonaws.com"),
    ("DescribeDBInstances", "rds.amazonaws.com"),
    ("ListBuckets", "s3.amazonaws.com"),
)


class AccessDeniedBurst:
    info = DetectorInfo(
        id="recon_access_denied_burst",
        title="Burst of denied calls across many APIs (reconnaissance)",
        severity="medium",
        mitre=("T1580", "T1087.004", "T1526"),
        why="Someone probing what a stolen credential can do collects AccessDenied on API after API; "
        "a working agent calls the few APIs it is allowed to.",
        remediation="Treat the credential as compromised: contain it and review its successful calls.",
        tactic="discovery",
        positive=(tuple(_denied(i * 0.5, *_RECON[i % len(_RECON)]) for i in range(12)),),
        negative=(tuple(_denied(i * 30, *_RECON[i % len(_RECON)]) for i in range(12)),),
    )

    events: frozenset[str] | None = None
    failed_only = True

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._cells = TimeCells()

    def feed(self, event: Event, attribution: str) -> None:
        if event.error_code in DENIED_CODES:
            self._cells.add(event.actor, event, attribution, tag=event.action)

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return self._cells.size()

    def finish(self) -> list[Finding]:
        found = []

        def enough(total: int, hits: list[Hit]) -> bool:
            if total < DENIED_CALLS:
                return False
            apis: set[str] = set()
            for hit in hits:
                apis |= hit.extra.tags
            return len(apis) >= DENIED_DISTINCT_APIS

        for actor in self._cells.subjects():
            hits = self._cells.hits(actor)
            for episode in windows(hits, seconds=DENIED_WINDOW_SECONDS, weight=lambda h: h.extra.count, enough=enough):
                apis = sorted({api for h in episode for api in h.extra.tags})
                calls = sum(h.extra.count for h in episode)
                found.append(
                    finding(
                        self.info,
                        episode,
                        detail=f"{calls} denied calls on {len(apis)} APIs",
                        evidence={"denied_calls": calls, "apis": apis},
                        samples=self._cells.samples(actor, episode),
                    )
                )
        return found


DETECTORS: tuple[Callable[[DetectorContext], Detector], ...] = (
    InstanceBurst,
    UnusualRegion,
    RoleBackdoor,
    UserBackdoor,
    AccessDeniedBurst,
    *ACCESS_DETECTORS,
)


def all_detector_infos() -> tuple[DetectorInfo, ...]:
    classes = (InstanceBurst, UnusualRegion, RoleBackdoor, UserBackdoor, AccessDeniedBurst, *ACCESS_DETECTORS)
    # a detector may report under several ids (``infos``): one entry each
    return tuple(info for cls in classes for info in getattr(cls, "infos", (cls.info,)))
