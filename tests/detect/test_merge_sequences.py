"""Merging the state of the burst, region and backdoor-sequence detectors (issue 14, item 2).

A detector fed the events of one share of the files and merged with one fed the rest must find
what one detector fed everything finds: for every cut of each detector's own scenarios, of the
labelled sets and of seeded random mixes built to cross shares (a role created in one share and
used in the next, a key created before and used after the cut, equal times, the same subject on
both sides), and for three shares merged left to right. At a bound the merged state stays bounded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest

from irkit.detect.detector import SAMPLE_PER_BUCKET, DetectorContext
from irkit.detect.detectors._common import at
from irkit.detect.detectors._networks import MAX_ADDRESSES, OVERFLOW
from irkit.detect.detectors.ec2_instance_burst import InstanceBurst
from irkit.detect.detectors.ec2_unusual_region import LAUNCH_SAMPLE, UnusualRegion
from irkit.detect.detectors.iam_role_backdoor_sequence import (
    KEYS_PER_HOUR,
    MAX_PENDING_ROLES,
    USES_PER_ROLE,
    RoleBackdoor,
)
from irkit.detect.detectors.iam_user_backdoor_sequence import (
    MAX_PENDING_KEYS,
    MAX_PENDING_SESSION_KEYS,
    USES_PER_KEY,
    UserBackdoor,
)
from irkit.detect.detectors.recon_access_denied_burst import AccessDeniedBurst
from irkit.detect.event import Event, format_time
from irkit.detect.labelled import generate
from irkit.detect.quality import account_data
from irkit.detect.records import (
    ACCOUNT,
    AGENT_IP,
    ATTACKER_IP,
    OUTSIDE_ACCOUNT,
    record,
    role_identity,
    user_identity,
)
from irkit.detect.rule import Finding
from tests.detect.merging import comparable

DETECTORS: tuple[type[Any], ...] = (InstanceBurst, AccessDeniedBurst, UnusualRegion, RoleBackdoor, UserBackdoor)
UNFILTERED = DetectorContext(filtering=False)
KNOWN_REGIONS = DetectorContext(filtering=False, known_regions=frozenset({"us-east-1"}))
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _maker(cls: type[Any], context: DetectorContext = UNFILTERED) -> Callable[[], Any]:
    return lambda: cls(context)


def _events(records: Sequence[Any]) -> list[Event]:
    return [Event.from_record(dict(r)) for r in records]


def fed(make: Callable[[], Any], events: Sequence[Event]) -> Any:
    """A fresh detector fed ``events``, each with its own attribution (its id): a finding names
    its earliest hit's, so which hit a merge keeps first shows."""
    detector = make()
    for event in events:
        detector.feed(event, f"why {event.event_id}")
    return detector


def split_detector(make: Callable[[], Any], events: Sequence[Event], cut: int) -> tuple[list[Finding], list[Finding]]:
    """``tests.detect.merging.split_detector`` with an attribution an event (see :func:`fed`)."""
    first, second = fed(make, events[:cut]), fed(make, events[cut:])
    first.merge(second)
    return comparable(fed(make, events).finish()), comparable(first.finish())


def split3(make: Callable[[], Any], events: Sequence[Event], a: int, b: int, *, right: bool = False) -> list[Finding]:
    """Findings of three detectors fed ``events[:a]``, ``[a:b]``, ``[b:]``, merged left to right
    (or, ``right``, the last two first: a merged state is itself a later share)."""
    first, second, third = fed(make, events[:a]), fed(make, events[a:b]), fed(make, events[b:])
    if right:
        second.merge(third)
        first.merge(second)
    else:
        first.merge(second)
        first.merge(third)
    return comparable(first.finish())


def assert_every_cut(make: Callable[[], Any], events: Sequence[Event], cuts: Sequence[int] | None = None) -> None:
    whole = comparable(fed(make, events).finish())
    for cut in range(len(events) + 1) if cuts is None else cuts:
        one_pass, merged = split_detector(make, events, cut)
        assert one_pass == whole
        assert merged == whole, f"cut at {cut} of {len(events)}"


def assert_three_shares(make: Callable[[], Any], events: Sequence[Event], rng: random.Random, times: int) -> None:
    whole = comparable(fed(make, events).finish())
    for _ in range(times):
        a, b = sorted(rng.randint(0, len(events)) for _ in range(2))
        assert split3(make, events, a, b) == whole, f"cuts at {a}, {b} of {len(events)}"
        assert split3(make, events, a, b, right=True) == whole, f"cuts at {a}, {b} of {len(events)}, right first"


# -- (a) each detector's own scenarios --------------------------------------------------------------


SCENARIOS = [
    pytest.param(cls, kind, n, id=f"{cls.info.id}-{kind}{n}")
    for cls in DETECTORS
    for kind, scenarios in (("pos", cls.info.positive), ("neg", cls.info.negative))
    for n in range(len(scenarios))
]


@pytest.mark.parametrize(("cls", "kind", "n"), SCENARIOS)
def test_own_scenarios_merge_to_the_one_pass_findings_at_every_cut(cls: type[Any], kind: str, n: int) -> None:
    scenario = (cls.info.positive if kind == "pos" else cls.info.negative)[n]
    events = _events(scenario)
    make = _maker(cls)
    whole = comparable(fed(make, events).finish())
    assert bool(whole) is (kind == "pos")
    assert_every_cut(make, events)
    for a in range(len(events) + 1):
        for b in range(a, len(events) + 1):
            assert split3(make, events, a, b) == whole
            assert split3(make, events, a, b, right=True) == whole


# -- (b) the labelled sets ------------------------------------------------------------------------------


@cache
def _labelled(which: str) -> list[Event]:
    data = generate(benign=3_000, seed=5, variants=2) if which == "agent" else account_data(3_000, 3)
    return _events(data.records)


_TURNS = frozenset(
    {"CreateRole", "AttachRolePolicy", "PutRolePolicy", "UpdateAssumeRolePolicy", "CreateUser", "CreateAccessKey"}
    | {"AssumeRole", "RunInstances", "AttachUserPolicy", "CreateLoginProfile"}
)


def _cuts(events: Sequence[Event], rng: random.Random, limit: int = 40) -> list[int]:
    """Cuts right before and after the calls a sequence turns on (a creation, a grant, a use),
    and after denied calls, thinned to ``limit``, plus a few anywhere."""
    turns = sorted(
        {i + d for i, e in enumerate(events) if e.event_name in _TURNS or e.error_code for d in (0, 1)}
    )
    picked = rng.sample(turns, min(limit, len(turns)))
    return sorted({*picked, *(rng.randint(0, len(events)) for _ in range(10))})


@pytest.mark.parametrize("which", ["agent", "account"])
@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.info.id)
def test_labelled_set_merges_to_the_one_pass_findings(cls: type[Any], which: str) -> None:
    events = _labelled(which)
    make = _maker(cls)
    if which == "agent":  # the agent set holds incidents of each: the merge is checked on findings
        assert fed(make, events).finish(), f"{cls.info.id} finds nothing in the labelled set"
    rng = random.Random(f"{cls.info.id}-{which}")
    assert_every_cut(make, events, _cuts(events, rng))
    assert_three_shares(make, events, rng, 8)


def test_labelled_set_with_known_regions_merges_to_the_one_pass_findings() -> None:
    events = _labelled("agent")
    make = _maker(UnusualRegion, KNOWN_REGIONS)
    assert fed(make, events).finish()
    rng = random.Random(11)
    assert_every_cut(make, events, _cuts(events, rng, 25))


# -- (c) seeded random mixes that cross shares -----------------------------------------------------------

_IPS = (AGENT_IP, ATTACKER_IP, "203.0.113.7", "192.0.2.44", "10.20.4.23")
_ROLES = ("ops-a", "ops-b", "ops-c")
_USERS = ("svc-a", "svc-b")
_ACTORS = (
    role_identity(),
    role_identity(f"arn:aws:iam::{ACCOUNT}:role/ci-deployer", session="ci", key="ASIAQCIDEPLOYER00001"),
    user_identity(),
)
_ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
_OUTSIDE_TRUST = (
    '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::' + OUTSIDE_ACCOUNT + ':root"},'
    '"Action":"sts:AssumeRole"}]}'
)
_OWN_TRUST = (
    '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::' + ACCOUNT + ':root"},'
    '"Action":"sts:AssumeRole"}]}'
)
_DENIED_APIS = (
    ("ListUsers", "iam.amazonaws.com"),
    ("ListRoles", "iam.amazonaws.com"),
    ("ListSecrets", "secretsmanager.amazonaws.com"),
    ("DescribeDBInstances", "rds.amazonaws.com"),
    ("ListBuckets", "s3.amazonaws.com"),
)


def _role_arn(role: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{role}"


def _key(user: str, n: int) -> str:
    return f"AKIAQ{user.upper().replace('-', '')}{n:04d}".ljust(20, "0")[:20]


class _Mix:
    """Random records of the calls these detectors follow, at a few instants (equal times are
    common), in a shuffled or time-sorted order, event ids unrelated to arrival order."""

    def __init__(self, seed: int, size: int) -> None:
        self.rng = random.Random(seed)
        self.size = size
        self.records: list[dict[str, Any]] = []
        # a few clusters of minutes over nine hours: bursts within ten minutes, sequences within
        # six hours and regions over several hours all happen
        centers = [self.rng.randrange(0, 9 * 60) for _ in range(3)]
        self.minutes = [c + self.rng.randrange(10) for c in centers for _ in range(4)]

    def _time(self) -> str:
        jitter = self.rng.choice((0, 0, 0, 1, 7))  # mostly an instant shared with other events
        return format_time(START + timedelta(minutes=self.rng.choice(self.minutes), seconds=jitter))

    def _add(self, name: str, source: str, **kw: Any) -> None:
        rng = self.rng
        kw.setdefault("identity", rng.choice(_ACTORS))
        kw.setdefault("ip", rng.choice(_IPS[:2]))
        self.records.append(
            record(name, source, time=self._time(), event_id=f"{rng.getrandbits(40):010x}", **kw)
        )

    def build(self) -> list[Event]:
        rng = self.rng
        steps: list[Callable[[], None]] = [
            self._create_role,
            self._grant_role,
            self._grant_role,
            self._trust,
            self._assume,
            self._session_call,
            self._session_call,
            self._create_user,
            self._user_key,
            self._user_grant,
            self._key_use,
            self._key_use,
            self._launch,
            self._launch,
            self._denied,
            self._denied,
            self._routine,
            self._routine,
            self._routine,
        ]
        while len(self.records) < self.size:
            rng.choice(steps)()
        if rng.random() < 0.5:
            self.records.sort(key=lambda r: r["eventTime"])  # an archive read in time order
        return _events(self.records)

    def _create_role(self) -> None:
        role = self.rng.choice(_ROLES)
        trust = self.rng.choice((_OWN_TRUST, _OWN_TRUST, _OUTSIDE_TRUST))
        self._add(
            "CreateRole",
            "iam.amazonaws.com",
            request={"roleName": role, "assumeRolePolicyDocument": trust},
            response={"role": {"roleName": role, "arn": _role_arn(role)}},
        )

    def _grant_role(self) -> None:
        role = self.rng.choice(_ROLES)
        error = "NoSuchEntity" if self.rng.random() < 0.2 else None
        self._add(
            "AttachRolePolicy", "iam.amazonaws.com", request={"roleName": role, "policyArn": _ADMIN}, error=error
        )

    def _trust(self) -> None:
        role = self.rng.choice(_ROLES)
        request = {"roleName": role, "policyDocument": _OUTSIDE_TRUST}
        self._add("UpdateAssumeRolePolicy", "iam.amazonaws.com", request=request)

    def _assume(self) -> None:
        role = self.rng.choice(_ROLES)
        self._add(
            "AssumeRole",
            "sts.amazonaws.com",
            request={"roleArn": _role_arn(role), "roleSessionName": "x"},
            response={"credentials": {"accessKeyId": f"ASIAQ{self.rng.getrandbits(60):015X}"}},
        )

    def _session_call(self) -> None:
        role = self.rng.choice(_ROLES)
        identity = role_identity(_role_arn(role), session="s", key=f"ASIAQ{role.upper().replace('-', '')}SESS00")
        self._add("ListBuckets", "s3.amazonaws.com", identity=identity, read_only=True)

    def _create_user(self) -> None:
        user = self.rng.choice(_USERS)
        self._add(
            "CreateUser",
            "iam.amazonaws.com",
            request={"userName": user},
            response={"user": {"userName": user, "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}"}},
        )

    def _user_key(self) -> None:
        user = self.rng.choice(_USERS)
        key = _key(user, self.rng.randrange(2))
        self._add(
            "CreateAccessKey",
            "iam.amazonaws.com",
            request={"userName": user},
            response={"accessKey": {"userName": user, "accessKeyId": key}},
        )

    def _user_grant(self) -> None:
        user = self.rng.choice(_USERS)
        self._add("AttachUserPolicy", "iam.amazonaws.com", request={"userName": user, "policyArn": _ADMIN})

    def _key_use(self) -> None:
        user = self.rng.choice(_USERS)
        identity = user_identity(f"arn:aws:iam::{ACCOUNT}:user/{user}", key=_key(user, self.rng.randrange(2)))
        error = "AccessDenied" if self.rng.random() < 0.1 else None
        self._add("ListBuckets", "s3.amazonaws.com", identity=identity, ip=self.rng.choice(_IPS), error=error)

    def _launch(self) -> None:
        identity = self.rng.choice(_ACTORS)
        for _ in range(self.rng.randint(1, 3)):
            count = self.rng.choice((1, 2, 4, 6))
            region = self.rng.choice(("us-east-1", "us-east-1", "ap-southeast-1", "sa-east-1"))
            name = self.rng.choice(("RunInstances", "RunInstances", "CreateFunction20150331"))
            source = "ec2.amazonaws.com" if name == "RunInstances" else "lambda.amazonaws.com"
            request = {"instancesSet": {"items": [{"minCount": count, "maxCount": count}]}}
            self._add(name, source, region=region, request=request, identity=identity)

    def _denied(self) -> None:
        # a probe: a few denied calls of one actor (bursts form when probes meet)
        identity = self.rng.choice(_ACTORS)
        for _ in range(self.rng.randint(2, 5)):
            name, source = self.rng.choice(_DENIED_APIS)
            self._add(name, source, request={}, error="AccessDenied", read_only=True, identity=identity)

    def _routine(self) -> None:
        region = self.rng.choice(("us-east-1", "us-east-1", "us-east-1", "us-west-2"))
        self._add("DescribeInstances", "ec2.amazonaws.com", region=region, request={}, read_only=True)


SEEDS = range(6)


@cache
def _mix(seed: int) -> list[Event]:
    return _Mix(seed, 140).build()


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.info.id)
def test_random_mixes_merge_to_the_one_pass_findings_at_every_cut(cls: type[Any]) -> None:
    found = 0
    for seed in SEEDS:
        events = _mix(seed)
        for context in (UNFILTERED, KNOWN_REGIONS) if cls is UnusualRegion else (UNFILTERED,):
            make = _maker(cls, context)
            found += len(fed(make, events).finish())
            assert_every_cut(make, events)
            assert_three_shares(make, events, random.Random(seed), 40)
    assert found, f"the mixes raise no {cls.info.id}: the merge would be checked on nothing"


def test_a_role_created_before_the_cut_is_used_after_it() -> None:
    # the three steps in three shares: the later shares never saw the role created
    create, attach, assume = RoleBackdoor.info.positive[1]
    session = record(
        "ListBuckets",
        "s3.amazonaws.com",
        identity=role_identity(f"arn:aws:iam::{ACCOUNT}:role/ops-maintenance", session="x", key="ASIAQX0000000000001"),
        time=assume["eventTime"],
    )
    for third in (assume, session):
        events = _events([create, attach, third])
        whole = comparable(fed(_maker(RoleBackdoor), events).finish())
        assert len(whole) == 1
        assert split3(_maker(RoleBackdoor), events, 1, 2) == whole
        _, merged = split_detector(_maker(RoleBackdoor), events, 2)
        assert merged == whole


def test_a_user_key_created_before_the_cut_is_used_after_it() -> None:
    events = _events(UserBackdoor.info.positive[0])
    whole = comparable(fed(_maker(UserBackdoor), events).finish())
    assert len(whole) == 1
    for cut in (1, 2):
        assert split_detector(_maker(UserBackdoor), events, cut)[1] == whole
    assert split3(_maker(UserBackdoor), events, 1, 2) == whole


# -- at the bounds ---------------------------------------------------------------------------------------


def _at(seconds: float) -> str:
    return format_time(START + timedelta(seconds=seconds))


def test_a_burst_sample_past_its_bound_merges_to_the_first_arrived() -> None:
    # 300 launches in one ten-minute bucket: the sample keeps the first 100 arrived, split or not
    rng = random.Random(3)
    run = {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}
    records = [
        record("RunInstances", "ec2.amazonaws.com", request=run, time=_at(rng.randrange(590)), event_id=f"run-{n:04d}")
        for n in range(300)
    ]
    events = _events(records)
    make = _maker(InstanceBurst)
    [burst] = fed(make, events).finish()
    assert len(burst.event_ids) == SAMPLE_PER_BUCKET and burst.evidence["launches"] == 300
    assert_every_cut(make, events, range(0, 301, 7))


def test_a_region_launch_sample_past_its_bound_is_the_earliest_whatever_the_cut() -> None:
    # 60 launches in a fresh region, many at the same instant, shuffled: the sample is the earliest
    # twenty by (time, id), so the merge is exact past the bound too
    rng = random.Random(5)
    records = [record("DescribeInstances", "ec2.amazonaws.com", request={}, time=_at(n * 60)) for n in range(10)]
    run = {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}
    records += [
        record(
            "RunInstances",
            "ec2.amazonaws.com",
            region="ap-southeast-1",
            request=run,
            time=_at(3000 + 60 * rng.randrange(4)),
            event_id=f"{rng.getrandbits(32):08x}",
        )
        for _ in range(60)
    ]
    rng.shuffle(records)
    events = _events(records)
    make = _maker(UnusualRegion, KNOWN_REGIONS)
    [found] = fed(make, events).finish()
    launches = sorted((e.event_time, e.event_id) for e in events if e.event_name == "RunInstances")
    assert list(found.event_ids) == [event_id for _, event_id in launches[:LAUNCH_SAMPLE]]
    assert_every_cut(make, events)


def test_an_actors_ip_table_merges_exactly_up_to_its_bound() -> None:
    # 1,500 IPs in each share: one pass keeps the first MAX_ADDRESSES (500) distinct and counts the
    # calls from the rest together; so does the merge
    records = [
        record("ListBuckets", "s3.amazonaws.com", ip=f"10.{n // 250}.{n % 250}.1", time=_at(n)) for n in range(3_000)
    ]
    events = _events(records)
    whole, first = fed(_maker(UserBackdoor), events), fed(_maker(UserBackdoor), events[:1_500])
    first.merge(fed(_maker(UserBackdoor), events[1_500:]))
    assert first._ips.by_actor == whole._ips.by_actor
    [ips] = first._ips.by_actor.values()
    assert len(ips.keys() - {OVERFLOW}) == MAX_ADDRESSES and ips[OVERFLOW] == 3_000 - MAX_ADDRESSES
    assert first._ips.folded == whole._ips.folded == 3_000 - MAX_ADDRESSES


def test_a_created_key_is_still_judged_after_many_session_keys_in_the_later_share() -> None:
    # the later share sees thousands of session keys before the created key's use: session keys
    # have a small share of the pending table, the created (AKIA) key still finds room
    create_user, create_key, use = UserBackdoor.info.positive[0]
    noise = [
        record("ListBuckets", "s3.amazonaws.com", identity=role_identity(key=f"ASIAQNOISE{n:010d}"), time=_at(n))
        for n in range(3 * MAX_PENDING_SESSION_KEYS)
    ]
    events = _events([create_user, create_key, *noise, use])
    whole = comparable(fed(_maker(UserBackdoor), events).finish())
    assert len(whole) == 1
    later = fed(_maker(UserBackdoor), events[2:])
    assert len(later._pending) <= MAX_PENDING_SESSION_KEYS + 1
    assert later.size() <= (MAX_PENDING_SESSION_KEYS + 1) * USES_PER_KEY + 10
    assert split_detector(_maker(UserBackdoor), events, 2)[1] == whole


def test_pending_uses_stay_bounded() -> None:
    # uses of roles and keys a share never saw created are kept for an earlier share: bounded in
    # uses a role or key, and in roles and keys
    def call(role: int, key: str, n: int) -> dict[str, Any]:
        identity = role_identity(f"arn:aws:iam::{ACCOUNT}:role/r{role}", key=key)
        return record("ListBuckets", "s3.amazonaws.com", identity=identity, time=_at(n), event_id=f"e{n}")

    busy = [call(n % 3, f"AKIAQPENDINGBUSY{n % 3:04d}", n) for n in range(3 * (USES_PER_ROLE + 5))]
    many = [call(n, f"AKIAQPENDING{n:08d}", len(busy) + n) for n in range(MAX_PENDING_ROLES + 50)]
    events = _events(busy + many)
    role, user = fed(_maker(RoleBackdoor), events), fed(_maker(UserBackdoor), events)
    assert len(role._pending) == MAX_PENDING_ROLES
    assert max(len(uses) for uses in role._pending.values()) == USES_PER_ROLE
    assert len(user._pending) == MAX_PENDING_KEYS
    assert max(len(uses) for uses in user._pending.values()) == USES_PER_KEY


def test_access_keys_past_the_hourly_bound_merge_within_it() -> None:
    # 30 keys in one hour, on both sides of the cut: the merged hour holds at most eight keys,
    # its earliest and latest among them, and the sequence is still found
    create, attach, key = RoleBackdoor.info.positive[0]
    keys = [dict(key, eventTime=_at(3600 * 2 + 100 * n), eventID=f"key-{n:02d}") for n in range(30)]
    start = START + timedelta(hours=2)
    create, attach = dict(create, eventTime=format_time(start)), dict(attach, eventTime=format_time(start))
    events = _events([create, attach, *keys])
    for cut in (5, 12, 20):
        first = fed(_maker(RoleBackdoor), events[:cut])
        first.merge(fed(_maker(RoleBackdoor), events[cut:]))
        [hours] = first._keys.values()
        for kept in hours.values():
            times = [h.time for h in kept.hits]
            assert len(times) <= KEYS_PER_HOUR
        kept_ids = {h.event_id for kept in hours.values() for h in kept.hits}
        assert {"key-00", "key-29"} <= kept_ids  # the hour's earliest and latest
        [found] = first.finish()
        assert found.rule_id == "iam_role_backdoor_sequence"


def test_equal_instants_on_both_sides_keep_the_smallest_id_first() -> None:
    # the same actor launches and is denied at the same instants in both shares: a merged cell
    # names the smaller id's hit first (its attribution), as one pass does
    run = {"instancesSet": {"items": [{"minCount": 5, "maxCount": 5}]}}
    records = []
    for n, event_id in enumerate(("c", "a", "d", "b")):
        when = _at(60 * (n // 2))  # c and a at one instant, d and b at the next
        records.append(record("RunInstances", "ec2.amazonaws.com", request=run, time=when, event_id=event_id))
        for name, source in _DENIED_APIS:
            records.append(record(name, source, error="AccessDenied", time=when, event_id=f"{event_id}-{name}"))
    events = _events(records)
    for cls in (InstanceBurst, AccessDeniedBurst):
        [found] = fed(_maker(cls), events).finish()
        assert found.attribution.startswith("why a")
        assert_every_cut(_maker(cls), events)


def test_usual_regions_are_listed_in_first_seen_order_across_the_cut() -> None:
    # actor X's first calls are in us-west-2, then us-east-1 (equal counts), in a (region, hour)
    # group another actor opened before the cut: the usual regions keep X's first-seen order
    other = role_identity(f"arn:aws:iam::{ACCOUNT}:role/ci-deployer", session="ci", key="ASIAQCIDEPLOYER00001")
    records = [record("DescribeInstances", "ec2.amazonaws.com", request={}, identity=other, time=_at(0))]
    for region, start in (("us-west-2", 1), ("us-east-1", 20)):
        records += [
            record("DescribeInstances", "ec2.amazonaws.com", region=region, request={}, time=_at(start + n))
            for n in range(12)
        ]
    run = {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}
    records.append(record("RunInstances", "ec2.amazonaws.com", region="sa-east-1", request=run, time=_at(40)))
    events = _events(records)
    [found] = fed(_maker(UnusualRegion), events).finish()
    assert found.detail.endswith("usual: us-west-2, us-east-1")
    assert_every_cut(_maker(UnusualRegion), events)


def test_every_assume_role_of_a_known_role_is_kept_across_the_cut() -> None:
    # a role's session calls are kept up to twenty, its AssumeRole calls all: so in the later
    # share, where the role was not known, after twenty-five session calls
    create, attach, assume = RoleBackdoor.info.positive[1]
    identity = role_identity(f"arn:aws:iam::{ACCOUNT}:role/ops-maintenance", session="x", key="ASIAQX0000000000001")
    calls = [record("ListBuckets", "s3.amazonaws.com", identity=identity, time=at(3 + n / 60)) for n in range(25)]
    assumes = [dict(assume, eventID=f"assume-{n}") for n in range(3)]
    events = _events([create, attach, *calls, *assumes])
    [found] = fed(_maker(RoleBackdoor), events).finish()
    assert {"assume-0", "assume-1", "assume-2"} <= set(found.event_ids)
    assert len(found.event_ids) == 2 + USES_PER_ROLE + 3
    assert_every_cut(_maker(RoleBackdoor), events)
    # the calls and the AssumeRoles in two later shares, merged together first: their pending
    # uses merge into one pending list, resolved by the share that created the role
    whole = comparable([found])
    for b in range(2, len(events) + 1):
        assert split3(_maker(RoleBackdoor), events, 2, b, right=True) == whole, b
