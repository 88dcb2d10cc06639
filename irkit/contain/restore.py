"""Undo containment: return each principal to its snapshot.

What irkit changed is put back exactly: key status, irkit's deny policies removed (or the policy of
the same name that existed before put back), the trust policy from the snapshot, the ``irkit:case``
tag removed (or its earlier value restored). Two things are deliberately *not* done:

- A console password irkit removed is not re-created. IAM never reveals a password, so irkit could
  only invent a new one, and a password printed in a terminal or written in a case folder is a new
  secret to leak. The restore names the user; an administrator sets a new password
  (``aws iam create-login-profile --user-name U --password-reset-required ...``) through their
  usual channel. The restore exits 3 (done with gaps) to say so.
- Credentials from the credential chain stay contained unless ``include_chain`` is asked:
  re-opening an attacker's backdoor is never a default. That covers the principals the stolen
  credentials created (users, roles) *and* what they made on principals that are the agent's own:
  an access key the attacker created on the agent's user stays ``Inactive`` while the agent's
  original key returns to ``Active``; a console password the chain created is not "missing" (no gap
  asks for a new one); the session deny on an agent role whose sessions the chain obtained stays
  (it only refuses tokens issued before containment: the agent's new sessions work). Each held-back
  item is listed in the plan with the event that condemned it (detect's chain, contain_chain's rows).

Anything else that differs from the snapshot (a policy attached since, say) is reported as drift and
left alone: restore undoes irkit's changes, not other people's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from irkit.aws.session import aws_call
from irkit.config import Principal
from irkit.contain.actions import IRKIT_POLICIES, ROLE_POLICY
from irkit.contain.snapshot import CASE_TAG, SNAPSHOT_PERMISSIONS, differences, take_snapshot
from irkit.core.case import Case
from irkit.core.journal import Journal
from irkit.core.plan import Action
from irkit.errors import AwsCallError
from irkit.gaps import Gap

RESTORE_PERMISSIONS = (
    *SNAPSHOT_PERMISSIONS,
    "iam:UpdateAccessKey",
    "iam:DeleteUserPolicy",
    "iam:DeleteRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagUser",
    "iam:TagRole",
    "iam:UntagUser",
    "iam:UntagRole",
)

LOGIN_PROFILE_GAP = (
    "console password removed by containment is not re-created (IAM never reveals passwords and irkit "
    "will not invent and print one): an administrator sets a new one with --password-reset-required"
)
# Fields restore does not put back (by design, see the module docstring).
NOT_RESTORED = frozenset({"login_profile"})


@dataclass(frozen=True, slots=True)
class Condemned:
    """A credential the case's credential chain names: who made it, by which event, which rules fired."""

    kind: str
    identifier: str
    name: str = ""
    event_name: str = ""
    event_id: str = ""
    event_time: str = ""
    created_by: str = ""
    rules: tuple[str, ...] = ()

    def because(self) -> str:
        what = " ".join(x for x in (self.event_name or "an event", self.event_id) if x)
        when = f" at {self.event_time}" if self.event_time else ""
        who = f" by {self.created_by}" if self.created_by else ""
        flagged = f" (flagged: {', '.join(self.rules)})" if self.rules else ""
        return f"{what}{when}{who}{flagged}"


@dataclass(frozen=True, slots=True)
class HeldBack:
    """One change restore does not make (or, with ``include_chain``, makes with a warning)."""

    principal: str
    kind: str  # access_key | session_deny | login_profile | user | role
    credential: str
    what: str
    why: Condemned

    def to_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "kind": self.kind,
            "credential": self.credential,
            "what": self.what,
            "event_name": self.why.event_name,
            "event_id": self.why.event_id,
            "event_time": self.why.event_time,
            "created_by": self.why.created_by,
            "rules": list(self.why.rules),
            "because": self.why.because(),
        }

    def describe(self) -> str:
        return f"{self.what}: {self.why.because()}"


@dataclass
class RestorePlan:
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    principals: list[str] = field(default_factory=list)
    left_contained: list[str] = field(default_factory=list)
    held_back: list[HeldBack] = field(default_factory=list)
    """What the chain condemned, kept as containment left it (the default)."""
    reopened: list[HeldBack] = field(default_factory=list)
    """What the chain condemned and ``--include-chain`` re-opens: each one a warning."""
    warnings: list[str] = field(default_factory=list)
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per principal, snapshot fields as restore leaves them on purpose (held-back key status, the
    session deny kept): what the re-read after the restore is compared with instead of the snapshot."""

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": [a.to_json() for a in self.actions],
            "notes": self.notes,
            "gaps": [g.to_json() for g in self.gaps],
            "principals": self.principals,
            "left_contained": self.left_contained,
            "held_back": [h.to_json() for h in self.held_back],
            "reopened": [h.to_json() for h in self.reopened],
            "warnings": self.warnings,
        }


@dataclass
class RestoreResult:
    plan: RestorePlan
    applied: list[dict[str, Any]] = field(default_factory=list)
    failed: list[Gap] = field(default_factory=list)
    remaining: dict[str, list[str]] = field(default_factory=dict)
    """Per principal, snapshot fields that still differ after the restore (login profile excluded)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "applied": self.applied,
            "failed": [g.to_json() for g in self.failed],
            "remaining": self.remaining,
        }


REVERT_SNAPSHOT_PREFIX = "revert-"
"""``snapshots/revert-<event id>.json``: written by the revert stage (irkit/revert/runner.py)."""


def load_snapshots(case: Case, gaps: list[Gap] | None = None) -> list[tuple[dict[str, Any], Principal]]:
    """Every readable snapshot with its principal; a damaged one becomes a gap (restore it by hand)
    instead of stopping the restore of every other principal."""
    found: list[tuple[dict[str, Any], Principal]] = []
    for path in sorted(case.snapshots_dir.glob("*.json")):
        if path.name.startswith(REVERT_SNAPSHOT_PREFIX):
            continue  # the revert stage's before-images of the attacker's changes, not a principal's
        try:
            snap = orjson.loads(path.read_bytes())
            found.append((snap, principal_of(snap)))
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, IndexError, AttributeError):
            if gaps is not None:
                gaps.append(Gap(str(path), "damaged snapshot (not an irkit snapshot): this principal is not restored"))
    return found


def _explain_no_snapshots(case: Case, plan: RestorePlan) -> None:
    """"Nothing to change" must not hide a case whose containment did change things."""
    if case.meta.dry_run:
        plan.notes.append("the case was a dry run: containment changed nothing, so there is nothing to restore")
        return
    done = sum(1 for e in case.journal.entries() if e.get("kind") == "action.done")
    if done:
        plan.gaps.append(
            Gap(
                str(case.snapshots_dir),
                f"no snapshots, yet journal.jsonl records {done} completed containment action(s): "
                "restore those principals by hand (the journal's action.done entries name them)",
            )
        )
    else:
        plan.notes.append("no snapshots and no completed containment action: containment changed nothing")


def principal_of(snap: dict[str, Any]) -> Principal:
    arn = str(snap["arn"])
    return Principal(arn=arn, account=arn.split(":")[4], kind=str(snap["kind"]), name=str(snap["name"]))


class ChainRecord:
    """Every credential the case's chain names, from every place a run writes it down: detect's
    ``findings.json``, each step's ``chain`` output (contain_chain's rows, refused ones included) and
    contain_chain's later rounds (``chain.round``). Refused links count: "not provably the agent's"
    is no reason to re-open a credential."""

    def __init__(self, case: Case) -> None:
        self.links: dict[tuple[str, str], Condemned] = {}
        findings = case.read_json("findings.json")
        raw: list[Any] = []
        rules_of: dict[str, list[str]] = {}
        if isinstance(findings, dict):
            raw.extend(findings.get("chain") or [])
            for f in findings.get("findings") or []:
                if isinstance(f, dict):
                    for event_id in f.get("event_ids") or []:
                        rules_of.setdefault(str(event_id), []).append(str(f.get("rule_id", "")))
        for entry in case.journal.entries():
            data = entry.get("data") or {}
            if entry.get("kind") == "step.done":
                raw.extend((data.get("output") or {}).get("chain") or [])
            elif entry.get("kind") == "chain.round":
                raw.extend(data.get("links") or [])
        for item in raw:
            if not isinstance(item, dict) or not item.get("kind") or not item.get("identifier"):
                continue
            event_id = str(item.get("event_id") or "")
            link = Condemned(
                kind=str(item["kind"]),
                identifier=str(item["identifier"]),
                name=str(item.get("name") or ""),
                event_name=str(item.get("event_name") or ""),
                event_id=event_id,
                event_time=str(item.get("event_time") or ""),
                created_by=str(item.get("parent") or ""),
                rules=tuple(sorted(set(rules_of.get(event_id, [])) - {""})),
            )
            self.links.setdefault((link.kind, link.identifier), link)

    def key(self, key_id: str) -> Condemned | None:
        return self.links.get(("access_key", key_id))

    def principal(self, p: Principal) -> Condemned | None:
        """The link that made (or re-trusted) ``p``: CreateUser, CreateRole, UpdateAssumeRolePolicy."""
        for link in self.links.values():
            if link.kind == p.kind and (link.identifier == p.arn or _tail(link.identifier) == p.name):
                return link
        return None

    def login_profile(self, p: Principal) -> Condemned | None:
        for link in self.links.values():
            if link.kind == "login_profile" and (link.identifier == p.arn or link.name == p.name):
                return link
        return None

    def session_of(self, p: Principal) -> Condemned | None:
        """A session the chain obtained on role ``p`` (AssumeRole: ``name`` is the role's ARN or name)."""
        for link in self.links.values():
            if link.kind == "session" and p.kind == "role" and p.name in (_tail(link.name), _role_of(link.identifier)):
                return link
        return None

    def by_events(self, event_ids: list[str]) -> Condemned | None:
        for link in self.links.values():
            if link.event_id and link.event_id in event_ids:
                return link
        return None


def _tail(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1] if arn_or_name else ""


def _role_of(session_arn: str) -> str:
    parts = session_arn.split(":assumed-role/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else ""


def plan_restore(iam: Any, case: Case, *, include_chain: bool = False) -> RestorePlan:
    """Compare every snapshot with IAM now; the actions that undo irkit's changes (reads only)."""
    plan = RestorePlan()
    chain = ChainRecord(case)
    snapshots = load_snapshots(case, plan.gaps)
    if not snapshots and not plan.gaps:
        _explain_no_snapshots(case, plan)
    for snap, p in snapshots:
        if snap.get("origin") == "chain":
            why = chain.principal(p) or chain.by_events([str(e) for e in snap.get("proof") or []])
            item = HeldBack(
                p.arn, p.kind, p.arn, f"{p.arn} (contained by contain_chain)",
                why or Condemned(p.kind, p.arn, event_name="the credential chain"),
            )  # fmt: skip
            if not include_chain:
                plan.left_contained.append(p.arn)
                plan.held_back.append(item)
                continue
            plan.reopened.append(item)
        try:
            now = take_snapshot(iam, p)
        except AwsCallError as exc:
            plan.gaps.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: cannot read it, not restored")
            )
            continue
        plan.principals.append(p.arn)
        plan.actions.extend(_principal_actions(p, snap, now, plan, chain, include_chain=include_chain))
    if plan.left_contained:
        plan.notes.append(
            "left contained (created by the agent's credentials; delete them, or pass --include-chain): "
            + ", ".join(plan.left_contained)
        )
    held = [h for h in plan.held_back if h.kind not in ("user", "role") or h.principal not in plan.left_contained]
    if held:
        plan.notes.append(
            f"held back: {len(held)} credential(s) of the agent's own principals that the credential chain made "
            "stay as containment left them (--include-chain re-opens them)"
        )
    for item in plan.reopened:
        plan.warnings.append(f"--include-chain re-opens {item.describe()}")
    _warn_unexamined_keys(iam, case, plan, chain)
    return plan


def _warn_unexamined_keys(iam: Any, case: Case, plan: RestorePlan, chain: ChainRecord) -> None:
    """Without detection over the window, restore cannot tell the agent's keys from an attacker's:
    say which keys it is about to re-activate were created inside the window."""
    findings = case.read_json("findings.json")
    if isinstance(findings, dict) and int(findings.get("events") or 0) > 0:
        return
    start, end = case.meta.window_start, case.meta.window_end
    for action in plan.actions:
        if action.kind != "set-access-key-status" or action.params.get("status") != "Active":
            continue
        key_id = str(action.params.get("key_id"))
        try:
            keys = aws_call(
                "iam:ListAccessKeys",
                action.target,
                lambda a=action: iam.list_access_keys(UserName=a.params["user"]),  # type: ignore[misc]
            )["AccessKeyMetadata"]
        except AwsCallError:
            continue
        for k in keys:
            created = k.get("CreateDate")
            stamp = created.isoformat(timespec="seconds") if hasattr(created, "isoformat") else str(created or "")
            if k.get("AccessKeyId") == key_id and created is not None and start <= stamp <= end:
                plan.warnings.append(
                    f"{key_id} on {action.target} was created {stamp}, inside the case window, and detection "
                    "analysed no event of this case: restore cannot tell whether the agent or whoever held its "
                    "credentials made it; check it before approving"
                )


def _principal_actions(
    p: Principal,
    snap: dict[str, Any],
    now: dict[str, Any],
    plan: RestorePlan,
    chain: ChainRecord,
    *,
    include_chain: bool = False,
) -> list[Action]:
    actions: list[Action] = []
    kept: dict[str, Any] = {}

    def hold(item: HeldBack) -> bool:
        """True when the change is held back; with --include-chain it is made, with a warning."""
        if include_chain:
            plan.reopened.append(item)
            return False
        plan.held_back.append(item)
        return True

    kind_param = {"user": p.name} if p.kind == "user" else {"role": p.name}
    before_inline, now_inline = snap.get("inline_policies", {}), now.get("inline_policies", {})
    session = chain.session_of(p) if snap.get("origin") != "chain" else None
    for name in sorted(IRKIT_POLICIES & (set(before_inline) | set(now_inline))):
        if name in now_inline and name not in before_inline:
            if name == ROLE_POLICY and session is not None and hold(
                HeldBack(p.arn, "session_deny", name, f"{name} on {p.arn} kept (sessions issued before "
                         "containment stay refused; new sessions work)", session)
            ):  # fmt: skip
                kept.setdefault("inline_policies", dict(before_inline))[name] = now_inline[name]
                continue
            actions.append(Action("delete-inline-policy", p.arn, name, {**kind_param, "policy": name}))
        elif name in before_inline and now_inline.get(name) != before_inline[name]:
            doc = json.dumps(before_inline[name])
            actions.append(
                Action(
                    "put-inline-policy",
                    p.arn,
                    f"{name} as before",
                    {**kind_param, "policy": name, "document": doc},
                )
            )
    if p.kind == "role" and now.get("trust_policy") != snap.get("trust_policy"):
        retrusted = chain.principal(p) if snap.get("origin") != "chain" else None
        if retrusted is not None and hold(
            HeldBack(p.arn, "trust_policy", p.arn, f"trust policy of {p.arn} kept locked (the snapshot's trust "
                     "is the chain's: put the trust you want back by hand)", retrusted)
        ):  # fmt: skip
            kept["trust_policy"] = now.get("trust_policy")
        else:
            doc = json.dumps(snap.get("trust_policy"))
            actions.append(
                Action(
                    "restore-trust-policy",
                    p.arn,
                    "trust policy from the snapshot",
                    {"role": p.name, "document": doc},
                )
            )
    if p.kind == "user":
        current = {k["id"]: k["status"] for k in now.get("access_keys", [])}
        expected = []
        for key in snap.get("access_keys", []):
            expected.append(dict(key))
            if key["id"] not in current:
                plan.gaps.append(Gap(p.arn, f"access key {key['id']} no longer exists: cannot be restored"))
            elif current[key["id"]] != key["status"]:
                why = chain.key(str(key["id"])) if snap.get("origin") != "chain" else None
                change = f"{key['id']} ({current[key['id']]} → {key['status']})"
                if why is not None and hold(
                    HeldBack(p.arn, "access_key", str(key["id"]), f"access key {key['id']} on {p.arn} stays "
                             f"{current[key['id']]}", why)
                ):  # fmt: skip
                    expected[-1]["status"] = current[key["id"]]
                    continue
                actions.append(
                    Action(
                        "set-access-key-status",
                        p.arn,
                        change,
                        {"user": p.name, "key_id": key["id"], "status": key["status"]},
                    )
                )
        if expected != list(snap.get("access_keys", [])):
            kept["access_keys"] = expected
        if snap.get("login_profile") is not None and now.get("login_profile") is None:
            made = chain.login_profile(p) if snap.get("origin") != "chain" else None
            if made is not None:
                # The password the chain set is not the agent's: not re-creating it is the point.
                plan.held_back.append(
                    HeldBack(p.arn, "login_profile", p.arn, f"console login of {p.arn} stays removed", made)
                )
            else:
                plan.gaps.append(Gap(p.arn, LOGIN_PROFILE_GAP))
    if kept:
        plan.kept[p.arn] = kept
    before_tag, now_tag = snap.get("tags", {}).get(CASE_TAG), now.get("tags", {}).get(CASE_TAG)
    if before_tag != now_tag:
        if before_tag is None:
            actions.append(Action("untag-principal", p.arn, CASE_TAG, {"kind": p.kind, "name": p.name}))
        else:
            actions.append(
                Action(
                    "tag-principal",
                    p.arn,
                    f"{CASE_TAG}={before_tag}",
                    {"kind": p.kind, "name": p.name, "case": before_tag},
                )
            )
    handled = {"inline_policies", "trust_policy", "access_keys", "tags", *NOT_RESTORED}
    drift = [f for f in differences(snap, now) if f not in handled]
    drift += _unhandled(before_inline, now_inline, IRKIT_POLICIES, "inline policy")
    drift += _unhandled(snap.get("tags", {}), now.get("tags", {}), frozenset({CASE_TAG}), "tag")
    if drift:
        plan.notes.append(
            f"{p.arn}: changed since the snapshot, not by irkit, left alone: {', '.join(drift)}"
        )
    return actions


def _unhandled(before: dict[str, Any], now: dict[str, Any], ours: frozenset[str], what: str) -> list[str]:
    return [
        f"{what} {k}" for k in sorted(set(before) | set(now)) if k not in ours and before.get(k) != now.get(k)
    ]


def execute_restore(iam: Any, action: Action) -> None:
    p = action.params
    if action.kind == "delete-inline-policy":
        if "user" in p:
            aws_call(
                "iam:DeleteUserPolicy",
                action.target,
                lambda: iam.delete_user_policy(UserName=p["user"], PolicyName=p["policy"]),
            )
        else:
            aws_call(
                "iam:DeleteRolePolicy",
                action.target,
                lambda: iam.delete_role_policy(RoleName=p["role"], PolicyName=p["policy"]),
            )
    elif action.kind == "put-inline-policy":
        if "user" in p:
            aws_call(
                "iam:PutUserPolicy",
                action.target,
                lambda: iam.put_user_policy(
                    UserName=p["user"], PolicyName=p["policy"], PolicyDocument=p["document"]
                ),
            )
        else:
            aws_call(
                "iam:PutRolePolicy",
                action.target,
                lambda: iam.put_role_policy(
                    RoleName=p["role"], PolicyName=p["policy"], PolicyDocument=p["document"]
                ),
            )
    elif action.kind == "restore-trust-policy":
        aws_call(
            "iam:UpdateAssumeRolePolicy",
            action.target,
            lambda: iam.update_assume_role_policy(RoleName=p["role"], PolicyDocument=p["document"]),
        )
    elif action.kind == "set-access-key-status":
        aws_call(
            "iam:UpdateAccessKey",
            action.target,
            lambda: iam.update_access_key(UserName=p["user"], AccessKeyId=p["key_id"], Status=p["status"]),
        )
    elif action.kind == "untag-principal":
        if p["kind"] == "user":
            aws_call(
                "iam:UntagUser", action.target, lambda: iam.untag_user(UserName=p["name"], TagKeys=[CASE_TAG])
            )
        else:
            aws_call(
                "iam:UntagRole", action.target, lambda: iam.untag_role(RoleName=p["name"], TagKeys=[CASE_TAG])
            )
    elif action.kind == "tag-principal":
        tags = [{"Key": CASE_TAG, "Value": p["case"]}]
        if p["kind"] == "user":
            aws_call("iam:TagUser", action.target, lambda: iam.tag_user(UserName=p["name"], Tags=tags))
        else:
            aws_call("iam:TagRole", action.target, lambda: iam.tag_role(RoleName=p["name"], Tags=tags))
    else:
        raise AwsCallError(
            action.kind, action.target, "UnknownAction", "irkit does not know this restore action"
        )


def apply_restore(iam: Any, case: Case, plan: RestorePlan, journal: Journal) -> RestoreResult:
    """Carry out ``plan``, journaling each action, then re-read and compare with the snapshots."""
    result = RestoreResult(plan)
    for action in plan.actions:
        journal.append("restore.action.start", action=action.to_json())
        try:
            execute_restore(iam, action)
        except AwsCallError as exc:
            journal.append("restore.action.failed", action=action.to_json(), error=str(exc))
            result.failed.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: not restored ({action.kind})")
            )
            continue
        journal.append("restore.action.done", action=action.to_json())
        result.applied.append(action.to_json())
    for snap, p in load_snapshots(case):
        if p.arn not in plan.principals:
            continue
        try:
            now = take_snapshot(iam, p)
        except AwsCallError as exc:
            result.failed.append(
                Gap(f"{exc.action} on {exc.resource}", f"{exc.code}: cannot verify the restore")
            )
            continue
        diff = [f for f in differences(snap | plan.kept.get(p.arn, {}), now) if f not in NOT_RESTORED]
        if diff:
            result.remaining[p.arn] = diff
    return result
