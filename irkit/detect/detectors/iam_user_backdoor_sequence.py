"""``iam_user_backdoor_sequence``: CreateUser -> CreateAccessKey for it -> that key used from a new IP."""

from __future__ import annotations

from collections import Counter, defaultdict

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, finding
from irkit.detect.detectors._common import at, iam
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, AGENT_IP, ATTACKER_IP, record, user_identity
from irkit.detect.rule import Finding
from irkit.detect.rules._util import sub

NEW_IP_MIN_CALLS = 100
NEW_IP_SHARE = 0.01


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
                iam(
                    "CreateUser",
                    0,
                    {"userName": "svc-backup"},
                    {"user": {"userName": "svc-backup", "arn": f"arn:aws:iam::{ACCOUNT}:user/svc-backup"}},
                ),
                iam(
                    "CreateAccessKey",
                    1,
                    {"userName": "svc-backup"},
                    {"accessKey": {"userName": "svc-backup", "accessKeyId": "AKIAQSVCBACKUPKEY001"}},
                ),
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    time=at(30),
                    identity=user_identity(f"arn:aws:iam::{ACCOUNT}:user/svc-backup", key="AKIAQSVCBACKUPKEY001"),
                    ip=ATTACKER_IP,
                    read_only=True,
                ),
            ),
        ),
        negative=(
            (
                iam(
                    "CreateUser",
                    0,
                    {"userName": "svc-backup"},
                    {"user": {"userName": "svc-backup", "arn": f"arn:aws:iam::{ACCOUNT}:user/svc-backup"}},
                ),
                iam(
                    "CreateAccessKey",
                    1,
                    {"userName": "svc-backup"},
                    {"accessKey": {"userName": "svc-backup", "accessKeyId": "AKIAQSVCBACKUPKEY002"}},
                ),
                record(
                    "ListBuckets",
                    "s3.amazonaws.com",
                    time=at(30),
                    identity=user_identity(f"arn:aws:iam::{ACCOUNT}:user/svc-backup", key="AKIAQSVCBACKUPKEY002"),
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
            self._uses[key].append(Hit(event.event_time, event.event_id, attribution, event.actor, event.source_ip))
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
                h for h in self._uses.get(key_id, []) if h.time >= key_hit.time and _new_ip(str(h.extra), creator_ips)
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


DETECTOR = UserBackdoor
