"""``iam_role_backdoor_sequence``: CreateRole -> admin policy on it -> access key, AssumeRole or use of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, finding, hour_of
from irkit.detect.detectors._common import at, iam
from irkit.detect.event import Event
from irkit.detect.policy import external_principals, grants_admin, is_admin_managed_policy, load_document
from irkit.detect.records import ACCOUNT, ATTACKER_IP, CLI_UA, OUTSIDE_ACCOUNT, record
from irkit.detect.rule import Finding, lower
from irkit.detect.rules._util import sub

SEQUENCE_WINDOW = timedelta(hours=6)
KEYS_PER_HOUR = 8
MAX_KEPT_KEYS = 16_000
"""Access keys kept over all subject-hours; past it an hour keeps only its earliest and latest
(memory then grows with subject-hours alone, not with keys), said in ``folded()``."""
USES_PER_ROLE = 20
"""Session calls kept as uses of a role (AssumeRole calls of it are all kept)."""
MAX_PENDING_ROLES = 2_000
PENDING_ASSUMES = 20
"""AssumeRole calls kept a role while it is pending (its session calls: :data:`USES_PER_ROLE`)."""
_MAX_ROUTES = 10_000
_ROLE_EVENTS = frozenset(
    {"CreateAccessKey", "CreateRole", "AttachRolePolicy", "PutRolePolicy", "UpdateAssumeRolePolicy"}
)
"""The IAM calls this detector reads; IAM calls are never uses of a role."""
_ASSUME_CALLS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
_ASSUMED = "AssumeRole"
"""A use's ``extra`` when it is an AssumeRole of the role (kept whatever the count)."""


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
    return iam(
        "CreateRole",
        minutes,
        {"roleName": "ops-maintenance", "assumeRolePolicyDocument": trust},
        {"role": {"roleName": "ops-maintenance", "arn": _ROLE_ARN, "roleId": "AROAQBACKDOOR0000001"}},
        ip=ATTACKER_IP,
        user_agent=CLI_UA,
    )


def _attach_admin(minutes: float, *, error: str | None = None) -> dict[str, Any]:
    return iam(
        "AttachRolePolicy",
        minutes,
        {"roleName": "ops-maintenance", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
        ip=ATTACKER_IP,
        user_agent=CLI_UA,
        error=error,
    )


def _key_for(user: str, key: str, minutes: float) -> dict[str, Any]:
    return iam(
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


class _Kept:
    """One subject-hour's kept access keys (see ``RoleBackdoor._keep_key``), their earliest and
    latest times at hand: a key inside them, once the hour is full, is dropped with two comparisons."""

    __slots__ = ("earliest", "hits", "latest")

    def __init__(self, hit: Hit) -> None:
        self.hits = [hit]
        self.earliest = self.latest = hit.time

    def add(self, hit: Hit, limit: int = KEYS_PER_HOUR) -> int:
        """Keep ``hit`` within ``limit`` keys (the earliest and latest always kept); 1 when the
        sample grew, 0 when it kept its size."""
        hits = self.hits
        when = hit.time
        added = 0
        if len(hits) >= limit:
            if self.earliest <= when <= self.latest:
                return 0
            # replace the first kept key that is neither the (first) earliest nor the latest; with
            # only those two kept, the one the new key moves past
            times = [h.time for h in hits]
            edges = (times.index(self.earliest), times.index(self.latest))
            inner = next((i for i in range(len(hits)) if i not in edges), None)
            hits[inner if inner is not None else edges[0] if when < self.earliest else edges[1]] = hit
        else:
            hits.append(hit)
            added = 1
        if when < self.earliest:
            self.earliest = when
        elif when > self.latest:
            self.latest = when
        return added


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
                    time=at(5),
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
        self._roles: dict[str, _Role] = {}
        self._keys: dict[str, dict[int, _Kept]] = {}
        """Access keys created, per subject and hour: a bounded sample (see ``_keep_key``)."""
        self._kept = 0
        """Keys in ``_keys`` (:data:`MAX_KEPT_KEYS`)."""
        self._pending: dict[str, list[Hit]] = {}
        """Uses of roles this detector knew nothing of when they came, in arrival order (session
        calls while fewer than :data:`USES_PER_ROLE` uses are listed, :data:`PENDING_ASSUMES`
        AssumeRole calls; at most :data:`MAX_PENDING_ROLES` roles): the role's uses once it is
        read of later (files are read region folder by region folder, not in time order) or an
        earlier share knew it (see :meth:`merge`)."""
        self._pending_assumes: dict[str, int] = {}
        """AssumeRole calls in each pending list."""
        self._route: dict[str, list[Hit] | None] = {}
        """A session issuer's ARN → the list its calls are recorded in: its role's uses, the
        role's pending uses, or None (the pending table was full). Reset when a role becomes known."""
        self._names: dict[str, str] = {}
        """Role ARN → role name (``rsplit`` once an ARN)."""

    def _keep_key(self, subject: str, hit: Hit) -> None:
        """Keep at most ``KEYS_PER_HOUR`` keys a subject and hour, always including the hour's
        earliest and latest: whether any key falls inside a sequence's window (whose edges may
        cut an hour) stays exact, memory stays bounded by subjects x hours. A sequence lists the
        kept keys; an agent minting more than eight keys an hour is a finding of its own."""
        hours = self._keys.get(subject)
        if hours is None:
            hours = self._keys[subject] = {}
        hour = hour_of(hit.time)
        kept = hours.get(hour)
        if kept is None:
            hours[hour] = _Kept(hit)
            self._kept += 1
        else:
            self._kept += kept.add(hit, self._key_limit())

    def _key_limit(self) -> int:
        return KEYS_PER_HOUR if self._kept < MAX_KEPT_KEYS else 2

    def _admin_grant(self, event: Event) -> bool:
        if event.event_name == "AttachRolePolicy":
            return is_admin_managed_policy(event.request.get("policyArn"))
        if event.event_name == "PutRolePolicy":
            return grants_admin(load_document(event.request.get("policyDocument")))
        return False

    def _role(self, role: str) -> _Role:
        state = self._roles.get(role)
        if state is None:
            state = self._roles[role] = _Role()
            # its uses read before it (another region's folder, sorted first, holds the AssumeRole
            # of a role created in us-east-1's): finish() judges them by time like any other
            pending = self._pending.pop(role, None)
            if pending is not None:
                self._pending_assumes.pop(role, None)
                state.uses = pending
            self._route.clear()  # its sessions' calls are its uses from now on
        return state

    def _name(self, arn: str) -> str:
        name = self._names.get(arn)
        if name is None:
            name = arn.rsplit("/", 1)[-1]
            if len(self._names) < _MAX_ROUTES:
                self._names[arn] = name
        return name

    def feed(self, event: Event, attribution: str) -> None:
        self.feed_file((event,), attribution)

    def feed_file(self, events: Sequence[Event], attribution: str) -> None:
        """:meth:`feed` of each event, in order (the analyzer's pass feeds a file at a time)."""
        route = self._route  # cleared in place when a role is created, never rebound while fed
        for event in events:
            if event.event_source == "iam.amazonaws.com":
                if event.event_name in _ROLE_EVENTS:
                    self._iam(event, attribution)
                continue
            if event.error_code:
                continue
            if event.event_name in _ASSUME_CALLS:
                self._assumed(event, attribution)
                continue
            issuer = event.issuer_arn
            if issuer:
                uses = route.get(issuer)
                if uses is None:
                    uses = self._routed(issuer)
                if uses is not None and len(uses) < USES_PER_ROLE:
                    uses.append(Hit(event.event_time, event.event_id, attribution, issuer))

    def _routed(self, issuer: str) -> list[Hit] | None:
        """Where the calls of ``issuer``'s sessions go (see ``_route``)."""
        if issuer in self._route:
            return None
        role = self._name(issuer)
        state = self._roles.get(role)
        uses = state.uses if state is not None else self._pending.get(role)
        if uses is None and len(self._pending) < MAX_PENDING_ROLES:
            uses = self._pending[role] = []
        if len(self._route) < _MAX_ROUTES:
            self._route[issuer] = uses
        return uses

    def _assumed(self, event: Event, attribution: str) -> None:
        target = event.request.get("roleArn")
        if not isinstance(target, str):
            return
        role = self._name(target)
        hit = Hit(event.event_time, event.event_id, attribution, event.actor, _ASSUMED)
        state = self._roles.get(role)
        if state is not None:
            state.uses.append(hit)  # every AssumeRole of a known role is kept, as before any cap
            return
        pending = self._pending.get(role)
        if pending is None:
            if len(self._pending) >= MAX_PENDING_ROLES:
                return
            pending = self._pending[role] = []
        assumes = self._pending_assumes.get(role, 0)
        if assumes < PENDING_ASSUMES:
            pending.append(hit)
            self._pending_assumes[role] = assumes + 1

    def _iam(self, event: Event, attribution: str) -> None:
        name = event.event_name
        if name == "CreateAccessKey":  # whatever its request: a key, kept by who made it
            if not event.error_code:
                actor = event.issuer_arn or event.principal_arn
                hit = Hit(event.event_time, event.event_id, attribution, actor, False)
                self._keep_key("(agent)" if self._context.filtering else actor, hit)
            return
        role = event.request.get("roleName")
        if not isinstance(role, str):
            return
        if not event.succeeded:
            if self._admin_grant(event):
                hit = Hit(event.event_time, event.event_id, attribution, event.actor, True)
                self._role(role).admin.append(hit)
            return
        hit = Hit(event.event_time, event.event_id, attribution, event.actor, False)
        if name == "CreateRole":
            state = self._role(role)
            state.created = hit
            created_arn = sub(event.response.get("role"), "arn")
            state.arn = str(created_arn) if created_arn else ""
            doc = load_document(event.request.get("assumeRolePolicyDocument"))
            if external_principals(doc, _account(event)):
                state.trust.append(hit)
        elif self._admin_grant(event):
            self._role(role).admin.append(hit)
        elif name == "UpdateAssumeRolePolicy":
            doc = load_document(event.request.get("policyDocument"))
            if external_principals(doc, _account(event)):
                self._role(role).trust.append(hit)

    def merge(self, later: RoleBackdoor) -> None:
        """Fold in a later share. Exact while no bound was reached: a role's creation is the last
        one, its admin grants and trust changes add; its uses are this share's, then the later
        share's uses of it from before the later share knew the role (kept pending there), then
        the later's own (session calls up to :data:`USES_PER_ROLE`, every AssumeRole); keys per
        subject and hour are this share's then the later's (past ``KEYS_PER_HOUR`` the sample
        keeps each hour's earliest and latest). Bounds: past :data:`PENDING_ASSUMES` AssumeRole
        calls of a role the later share did not know, or past :data:`MAX_PENDING_ROLES` such
        roles, the later share kept no more (one pass would have kept them)."""
        roles = self._roles
        for role, pending in later._pending.items():
            state = roles.get(role)
            if state is not None:
                _replay(state.uses, pending)
            elif (kept := self._pending.get(role)) is not None:
                assumes = self._pending_assumes.get(role, 0)
                for hit in pending:
                    if hit.extra is not _ASSUMED:
                        if len(kept) < USES_PER_ROLE:
                            kept.append(hit)
                    elif assumes < PENDING_ASSUMES:
                        kept.append(hit)
                        assumes += 1
                self._pending_assumes[role] = assumes
            elif len(self._pending) < MAX_PENDING_ROLES:
                self._pending[role] = pending
                self._pending_assumes[role] = later._pending_assumes.get(role, 0)
        for role, theirs in later._roles.items():
            state = roles.get(role)
            if state is None:
                mine = self._pending.pop(role, None)  # used here, known there: one pass moves them too
                if mine is not None:
                    self._pending_assumes.pop(role, None)
                    _replay(mine, theirs.uses)
                    theirs.uses = mine
                roles[role] = theirs
                continue
            if theirs.created is not None:
                state.created, state.arn = theirs.created, theirs.arn
            state.admin.extend(theirs.admin)
            state.trust.extend(theirs.trust)
            _replay(state.uses, theirs.uses)
        for subject, theirs_hours in later._keys.items():
            hours = self._keys.get(subject)
            if hours is None:
                hours = self._keys[subject] = {}
            for hour, theirs_kept in theirs_hours.items():
                hits = theirs_kept.hits
                kept_keys = hours.get(hour)
                if kept_keys is None:
                    kept_keys = hours[hour] = _Kept(hits[0])
                    self._kept += 1
                    hits = hits[1:]
                for hit in hits:
                    self._kept += kept_keys.add(hit, self._key_limit())
        self._route.clear()
        later._roles, later._keys, later._pending, later._pending_assumes, later._route = {}, {}, {}, {}, {}

    def folded(self) -> list[str]:
        """What the bounds folded (the analysis says it)."""
        if self._kept < MAX_KEPT_KEYS:
            return []
        return [
            f"iam_role_backdoor_sequence: past {MAX_KEPT_KEYS:,} access keys kept, an hour keeps its earliest "
            "and latest key only (a sequence may list fewer keys)"
        ]

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        keys = sum(len(kept.hits) for m in self._keys.values() for kept in m.values())
        return len(self._roles) + keys + sum(len(p) for p in self._pending.values())

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
            hours = self._keys.get(subject, {}).values()
            keys = [h for kept in hours for h in kept.hits if after <= h.time <= deadline]
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


def _replay(uses: list[Hit], more: list[Hit]) -> None:
    """A later share's uses of a role after this share's, kept as one pass keeps them: every
    AssumeRole, a session's call while fewer than :data:`USES_PER_ROLE` uses are kept."""
    for hit in more:
        if hit.extra is _ASSUMED or len(uses) < USES_PER_ROLE:
            uses.append(hit)


def _account(event: Event) -> str:
    recipient = event.raw.get("recipientAccountId")
    return str(recipient) if recipient else event.account_id


DETECTOR = RoleBackdoor
