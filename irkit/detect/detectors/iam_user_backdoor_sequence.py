"""``iam_user_backdoor_sequence``: CreateUser -> CreateAccessKey for it -> that key used from a new IP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, finding
from irkit.detect.detectors._common import at, iam
from irkit.detect.detectors._networks import OVERFLOW, AddressCounts
from irkit.detect.event import Event
from irkit.detect.records import ACCOUNT, AGENT_IP, ATTACKER_IP, record, user_identity
from irkit.detect.rule import Finding
from irkit.detect.rules._util import sub

NEW_IP_MIN_CALLS = 100
NEW_IP_SHARE = 0.01
USES_PER_KEY = 20
"""Uses kept of a created key (the earliest recorded)."""
NEW_IP_USES_PER_KEY = 20
"""Past its first :data:`USES_PER_KEY` uses, a key's use from an address none of its kept uses came
from is still kept, up to this many more: an attacker who drives the new key from the creator's own
network first (20 calls), then from theirs, is still seen."""
MAX_KEY_USES = USES_PER_KEY + NEW_IP_USES_PER_KEY
MAX_PENDING_KEYS = 2_000
MAX_PENDING_SESSION_KEYS = 100
_GRANTS = ("AttachUserPolicy", "PutUserPolicy", "AddUserToGroup", "CreateLoginProfile")
_USER_EVENTS = frozenset({"CreateUser", "CreateAccessKey", *_GRANTS})
"""The IAM calls this detector reads (the rest of IAM is only counted, like any call)."""


def _append(kept: list[Hit], more: list[Hit]) -> None:
    """``more`` after ``kept``, as one pass would have kept them: the first :data:`USES_PER_KEY`,
    then those from an address new to the list, up to :data:`MAX_KEY_USES`."""
    room = USES_PER_KEY - len(kept)
    if room > 0:
        kept.extend(more[:room])
        more = more[room:]
    seen = {h.extra for h in kept}
    for hit in more:
        if len(kept) >= MAX_KEY_USES:
            return
        if hit.extra not in seen:
            seen.add(hit.extra)
            kept.append(hit)


def _new_ip(ip: str, creator_ips: Mapping[str, int]) -> bool:
    """An IP the creator never used, or (for a busy creator) used for under 1 % of its calls.

    A stolen session and the key it minted are often driven from the same attacker host, so
    "never used by the creator" alone would miss exactly the case that matters; an agent's own
    hosts carry far more than 1 % of its calls.
    """
    used = creator_ips.get(ip, 0) if ip != OVERFLOW else 0
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

    events: frozenset[str] | None = None
    failed_only = False

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._users: dict[str, Hit] = {}
        self._grants: dict[str, list[Hit]] = {}
        self._keys: dict[str, tuple[str, Hit]] = {}
        self._uses: dict[str, list[Hit]] = {}
        """Uses of each key created here, from its creation on (the first :data:`USES_PER_KEY`, then
        those from a new address, at most :data:`MAX_KEY_USES`)."""
        self._pending: dict[str, list[Hit]] = {}
        """Uses of keys this detector saw no creation of (yet): the key's uses once its creation
        is read (files are read region folder by region folder, not in time order) or an earlier
        share created it (see :meth:`merge`). At most :data:`MAX_PENDING_KEYS` keys, of which at
        most :data:`MAX_PENDING_SESSION_KEYS` temporary (``ASIA…``) ones: ``CreateAccessKey``
        never returns those, so the table stays free for the keys that can matter."""
        self._pending_sessions = 0
        self._track: dict[str, list[Hit]] = {}
        """Each key → the list its next use goes to (its ``_uses`` or its ``_pending``)."""
        self._seen: dict[str, set[str]] = {}
        """The addresses of a key's kept uses once it has :data:`USES_PER_KEY` (a cache, rebuilt after a merge)."""
        self._ips = AddressCounts()
        """Calls per actor and source IP (bounded: past the bounds an IP is new to its creator)."""

    def feed(self, event: Event, attribution: str) -> None:
        self.feed_file((event,), attribution)

    def feed_file(self, events: Sequence[Event], attribution: str) -> None:
        """:meth:`feed` of each event, in order: the analyzer's pass feeds a file at a time. The
        address counts take the file first (they share no state with the keys and users)."""
        self._ips.add_calls([(e.issuer_arn or e.principal_arn, e.source_ip) for e in events])
        track = self._track
        for event in events:
            key = event.access_key_id
            if key:
                uses = track.get(key)
                if uses is None:
                    # a key not seen yet: pending, while the table has room (session keys, the bulk
                    # of a trail's keys, have a small share of it, soon full)
                    if "ASIA" <= key < "ASIB":  # key.startswith("ASIA"), without a call
                        if self._pending_sessions < MAX_PENDING_SESSION_KEYS:
                            uses = self._pend(key, True)
                    elif len(self._pending) - self._pending_sessions < MAX_PENDING_KEYS:
                        uses = self._pend(key, False)
                if uses is not None:
                    kept = len(uses)
                    if kept < USES_PER_KEY:
                        actor = event.issuer_arn or event.principal_arn
                        uses.append(Hit(event.event_time, event.event_id, attribution, actor, event.source_ip))
                    elif kept < MAX_KEY_USES:
                        self._use_from_new_ip(key, uses, event, attribution)
            if event.event_source == "iam.amazonaws.com" and event.event_name in _USER_EVENTS and not event.error_code:
                self._iam(event, attribution, event.issuer_arn or event.principal_arn)

    def _use_from_new_ip(self, key: str, uses: list[Hit], event: Event, attribution: str) -> None:
        """A use past the first :data:`USES_PER_KEY`: kept when no kept use came from its address."""
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = {str(h.extra) for h in uses}
        if event.source_ip not in seen:
            seen.add(event.source_ip)
            actor = event.issuer_arn or event.principal_arn
            uses.append(Hit(event.event_time, event.event_id, attribution, actor, event.source_ip))

    def _pend(self, key: str, session: bool) -> list[Hit]:
        """A new pending list: the uses of a key first used here without its creation."""
        uses: list[Hit] = []
        self._pending[key] = self._track[key] = uses
        if session:
            self._pending_sessions += 1
        return uses

    def _room(self, key: str) -> bool:
        """Whether the pending table takes one more key like ``key``."""
        if "ASIA" <= key < "ASIB":
            return self._pending_sessions < MAX_PENDING_SESSION_KEYS
        return len(self._pending) - self._pending_sessions < MAX_PENDING_KEYS

    def _iam(self, event: Event, attribution: str, actor: str) -> None:
        user = event.request.get("userName")
        if not isinstance(user, str):
            return
        hit = Hit(event.event_time, event.event_id, attribution, actor)
        name = event.event_name
        if name == "CreateUser":
            self._users[user] = hit
        elif name == "CreateAccessKey":
            key_id = sub(event.response.get("accessKey"), "accessKeyId")
            if isinstance(key_id, str):
                self._keys[key_id] = (user, hit)
                uses = self._uses.get(key_id)
                if uses is None:
                    # its uses read before it (another region's folder sorts before us-east-1's,
                    # where IAM logs): finish() judges them by time like any other
                    uses = self._pending.pop(key_id, None)
                    if uses is not None and "ASIA" <= key_id < "ASIB":
                        self._pending_sessions -= 1
                    uses = self._uses[key_id] = uses if uses is not None else []
                self._track[key_id] = uses
        else:
            grants = self._grants.get(user)
            if grants is None:
                self._grants[user] = [hit]
            else:
                grants.append(hit)

    def merge(self, later: UserBackdoor) -> None:
        """Fold in a later share. Exact while no table was full: IP counts add
        (:meth:`AddressCounts.merge`); users and keys keep the last creation; a key created here
        and used there gets the later share's uses (kept pending there, as it never saw the
        creation) after this share's, as one pass keeps them (:func:`_append`)."""
        self._ips.merge(later._ips)
        self._users.update(later._users)
        for user, hits in later._grants.items():
            grants = self._grants.get(user)
            if grants is None:
                self._grants[user] = hits
            else:
                grants.extend(hits)
        for key, pending in later._pending.items():
            if key in self._keys:  # created here: one pass would have recorded these uses
                _append(self._uses[key], pending)
            elif (kept := self._pending.get(key)) is not None:
                _append(kept, pending)
            elif self._room(key):
                _append(self._pend(key, "ASIA" <= key < "ASIB"), pending)
        for key, uses in later._uses.items():
            kept = self._uses.get(key)
            if kept is None:
                mine = self._pending.pop(key, None)  # used here, created there: one pass moves them too
                if mine is not None:
                    if "ASIA" <= key < "ASIB":
                        self._pending_sessions -= 1
                    _append(mine, uses)
                    uses = mine
                self._uses[key] = uses
            else:
                _append(kept, uses)
        self._keys.update(later._keys)
        self._track = {**self._pending, **self._uses}
        self._seen = {}

    def folded(self) -> list[str]:
        """What the bounds folded (the analysis says it)."""
        note = self._ips.note("new-IP check of created keys (iam_user_backdoor_sequence)")
        return [note] if note else []

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return (
            len(self._users)
            + sum(len(g) for g in self._grants.values())
            + len(self._keys)
            + sum(len(u) for u in self._uses.values())
            + sum(len(u) for u in self._pending.values())
            + self._ips.size()
        )

    def finish(self) -> list[Finding]:
        found = []
        for key_id, (user, key_hit) in self._keys.items():
            created = self._users.get(user)
            if created is None:
                continue
            creator_ips = self._ips.calls(created.principal)
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
