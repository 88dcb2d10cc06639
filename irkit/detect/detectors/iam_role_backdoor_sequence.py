"""``iam_role_backdoor_sequence``: CreateRole -> admin policy on it -> access key, AssumeRole or use of it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from typing import Any

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, finding
from irkit.detect.detectors._common import at, iam
from irkit.detect.event import Event
from irkit.detect.policy import external_principals, grants_admin, is_admin_managed_policy, load_document
from irkit.detect.records import ACCOUNT, ATTACKER_IP, CLI_UA, OUTSIDE_ACCOUNT, record
from irkit.detect.rule import Finding, lower
from irkit.detect.rules._util import sub

SEQUENCE_WINDOW = timedelta(hours=6)
KEYS_PER_HOUR = 8


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
            keys = [h for kept in self._keys.get(subject, {}).values() for h in kept if after <= h.time <= deadline]
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


DETECTOR = RoleBackdoor
