"""Drill scenarios as data: a YAML file says who calls what, when, from where, and what must not remain.

```yaml
name: hidden-admin-role                 # the file is hidden_admin_role.yaml
summary: one line for `irkit drill --list`
default: false                          # run when `irkit drill` names no scenario
expected: [iam_role_created]            # rule ids irkit must detect
integrity: []                           # digest-chain problem kinds the verify step must report
max_severity: critical                  # benign scenarios: nothing above this may be flagged
background: {hours: 3.5, reads: 600}    # the agent's normal reads (synthetic records) and routine writes
setup: [STEP...]                        # the estate this scenario needs (the administrator's, not logged)
benign: [STEP...]                       # the agent's own normal calls before and during the attack
attack: [STEP...]                       # the attacker's calls
after_delivery: [STEP...]               # once CloudTrail delivered the logs (e.g. a log rewritten)
```
A STEP is one of
```yaml
- call: iam.CreateAccessKey             # service.Operation, run for real on the simulator and recorded
  by: attacker                          # attacker (default) | agent-role | agent-user | admin | an actor
  at: -95m                              # offset from the drill's "now" (or `after: 41s`, after the previous)
  region: us-east-1
  from: 192.0.2.10                      # source IP in the record (default: the actor's)
  user_agent: aws-cli/2.15.30           # user agent in the record (default: the actor's)
  params: {UserName: "${agent_user}"}   # the API's parameters; ${name} is a world value or a saved one
  save: {key_id: AccessKey.AccessKeyId} # response values, by dotted path, for later steps
  leaves: {kind: access_key, name: "${key_id}", user: "${agent_user}"}   # must not be live afterwards
  record_only: true                     # the simulator lacks the operation: the record is written, no state
  stops_delivery: true                  # StopLogging: CloudTrail delivers nothing after this call
- actor: backdoor                       # somebody holding other credentials (saved from a response)
  arn: "arn:aws:iam::${account}:user/svc-backup-sync"
  key: "${key_id}"
  secret: "${key_secret}"
  from: 192.0.2.77
- hook: iac_change                      # a Python function in irkit.drill.hooks, for what YAML cannot say
  at: -110m
  with: {cidr: 0.0.0.0/0}
```
Every file is validated when it is loaded: an unknown key, a missing field, an unknown hook, actor or
variable is a :class:`ScenarioError` naming the file and the place, never a traceback.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.exceptions
import yaml
from botocore import xform_name

from irkit.detect.rule import SEVERITIES
from irkit.drill.recorder import Actor
from irkit.drill.world import (
    ACCOUNT,
    AGENT_IP,
    AGENT_ROLE,
    AGENT_USER,
    ARCHIVE_BUCKET,
    ATTACKER_IP,
    HOME_REGION,
    OUTSIDE_ACCOUNT,
    TRAIL,
    World,
)
from irkit.errors import UsageError

SEVERITY_ORDER = tuple(SEVERITIES)


class ScenarioError(UsageError):
    """A scenario file that cannot be run as written."""


_TOP = {
    "name",
    "summary",
    "default",
    "expected",
    "integrity",
    "max_severity",
    "background",
    "setup",
    "benign",
    "attack",
    "after_delivery",
    "notes",
}
_CALL = {
    "call",
    "by",
    "at",
    "after",
    "region",
    "from",
    "user_agent",
    "params",
    "save",
    "leaves",
    "record_only",
    "response",
    "stops_delivery",
}
_ACTOR = {"actor", "arn", "key", "secret", "token", "type", "issuer", "from", "user_agent"}
_HOOK = {"hook", "at", "after", "with"}
_BUILTIN_ACTORS = ("attacker", "agent-role", "agent-user", "admin")
WORLD_VARS = (
    "account",
    "outside_account",
    "agent_user",
    "agent_role",
    "agent_user_arn",
    "agent_role_arn",
    "agent_ip",
    "attacker_ip",
    "app_sg",
    "vpc_id",
    "flow_log_id",
    "trail",
    "home_region",
    "archive_bucket",
)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_OFFSET = re.compile(r"^([+-])?((?:\d+[hms])+)$")
_PART = re.compile(r"(\d+)([hms])")


def parse_offset(text: str) -> timedelta:
    """``-95m``, ``1h30m``, ``+41s`` → a signed duration."""
    match = _OFFSET.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like -95m, 1h30m or 41s")
    seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[unit] for n, unit in _PART.findall(match.group(2)))
    return -timedelta(seconds=seconds) if match.group(1) == "-" else timedelta(seconds=seconds)


@dataclasses.dataclass(frozen=True, slots=True)
class Background:
    hours: float = 3.5
    reads: int = 600


@dataclasses.dataclass(frozen=True, slots=True)
class Program:
    """A validated list of steps; :meth:`run` performs them on a world."""

    steps: tuple[Mapping[str, Any], ...]
    source: str

    def run(self, world: World) -> None:
        Performer(world, self.source).perform(self.steps)


@dataclasses.dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    summary: str
    default: bool
    expected: tuple[str, ...]
    integrity: tuple[str, ...]
    max_severity: str
    background: Background
    setup: Program
    benign: Program
    attack: Program
    after_delivery: Program | None
    path: Path


# -- loading --------------------------------------------------------------------------------------------


def load_scenario_file(path: Path) -> ScenarioSpec:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}); a scenario must be UTF-8 YAML") from None
    return parse_scenario(text, path=path)


def parse_scenario(text: str, *, path: Path) -> ScenarioSpec:
    where = f"{path}: "
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise ScenarioError(f"{where}not valid YAML{at}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}a scenario is a mapping with name, summary, expected and attack")
    unknown = set(doc) - _TOP
    if unknown:
        raise ScenarioError(f"{where}{sorted(map(str, unknown))[0]}: unknown key (allowed: {', '.join(sorted(_TOP))})")
    name = doc.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        raise ScenarioError(f"{where}name: required, lower-case words joined by '-' (e.g. hidden-admin-role)")
    if path.suffix == ".yaml" and path.stem.replace("_", "-") != name:
        expected_file = name.replace("-", "_") + ".yaml"
        raise ScenarioError(f"{where}name: {name!r} differs from its file name (expected {expected_file})")
    summary = doc.get("summary")
    if not isinstance(summary, str) or not summary.strip() or "\n" in summary.strip():
        raise ScenarioError(f"{where}summary: required, one line")
    expected = _strings(doc.get("expected", []), f"{where}expected")
    integrity = _strings(doc.get("integrity", []), f"{where}integrity")
    default = doc.get("default", False)
    if not isinstance(default, bool):
        raise ScenarioError(f"{where}default: expected true or false")
    max_severity = doc.get("max_severity", "critical")
    if max_severity not in SEVERITY_ORDER:
        raise ScenarioError(f"{where}max_severity: one of {', '.join(SEVERITY_ORDER)}")
    background = _background(doc.get("background", {}), f"{where}background")
    if "attack" not in doc and not doc.get("benign"):
        raise ScenarioError(f"{where}attack: required (a list of steps; empty only with `benign:` steps)")
    known: set[str] = set(WORLD_VARS)
    actors: set[str] = set(_BUILTIN_ACTORS)
    programs = {}
    for section in ("setup", "benign", "attack", "after_delivery"):
        programs[section] = _program(doc.get(section, []), f"{where}{section}", known, actors)
    _check_rules(expected, f"{where}expected")
    return ScenarioSpec(
        name=name,
        summary=summary.strip(),
        default=default,
        expected=expected,
        integrity=integrity,
        max_severity=str(max_severity),
        background=background,
        setup=programs["setup"],
        benign=programs["benign"],
        attack=programs["attack"],
        after_delivery=programs["after_delivery"] if programs["after_delivery"].steps else None,
        path=path,
    )


def _strings(value: Any, at: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScenarioError(f"{at}: expected a list of names")
    return tuple(value)


def _check_rules(expected: Sequence[str], at: str) -> None:
    from irkit.detect.detectors import registered
    from irkit.detect.rules import all_rules

    ids = {r.id for r in all_rules()} | {info.id for entry in registered() for info in entry.infos}
    unknown = [r for r in expected if r not in ids and not r.startswith(("baseline_", "sigma:"))]
    if unknown:
        raise ScenarioError(f"{at}: unknown rule id {unknown[0]!r} (see `irkit rules list`)")


def _background(value: Any, at: str) -> Background:
    if not isinstance(value, dict) or set(value) - {"hours", "reads"}:
        raise ScenarioError(f"{at}: expected a mapping with hours and reads")
    hours = value.get("hours", Background().hours)
    reads = value.get("reads", Background().reads)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0.5 <= hours <= 12:
        raise ScenarioError(f"{at}.hours: a number of hours from 0.5 to 12")
    if isinstance(reads, bool) or not isinstance(reads, int) or not 0 <= reads <= 20000:
        raise ScenarioError(f"{at}.reads: a whole number from 0 to 20000")
    return Background(float(hours), reads)


def _program(value: Any, at: str, known: set[str], actors: set[str]) -> Program:
    if not isinstance(value, list):
        raise ScenarioError(f"{at}: expected a list of steps")
    for i, step in enumerate(value):
        _check_step(step, f"{at}[{i}]", known, actors)
    return Program(tuple(value), at.rstrip(": "))


def _check_step(step: Any, at: str, known: set[str], actors: set[str]) -> None:
    if not isinstance(step, dict):
        raise ScenarioError(f"{at}: expected a mapping with `call:`, `actor:` or `hook:`")
    kinds = [k for k in ("call", "actor", "hook") if k in step]
    if len(kinds) != 1:
        raise ScenarioError(f"{at}: a step has exactly one of `call:`, `actor:` or `hook:`")
    allowed = {"call": _CALL, "actor": _ACTOR, "hook": _HOOK}[kinds[0]]
    bad = set(step) - allowed
    if bad:
        raise ScenarioError(f"{at}.{sorted(map(str, bad))[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in ("at", "after"):
        if key in step:
            try:
                parse_offset(str(step[key]))
            except ValueError as exc:
                raise ScenarioError(f"{at}.{key}: {exc}") from None
    save = step.get("save", {})
    if not isinstance(save, dict) or not all(isinstance(v, str) for v in save.values()):
        raise ScenarioError(f"{at}.save: expected a mapping of name: Dotted.Path")
    known.update(str(k) for k in save)  # a call's own response fills its `leaves:`
    _check_vars({k: v for k, v in step.items() if k not in ("save",)}, at, known)
    if kinds[0] == "call":
        call = step["call"]
        if not isinstance(call, str) or not re.fullmatch(r"[a-z0-9-]+\.[A-Z][A-Za-z0-9]+", call):
            raise ScenarioError(f"{at}.call: expected service.Operation (e.g. iam.CreateRole)")
        by = step.get("by", "attacker")
        if by not in actors:
            raise ScenarioError(f"{at}.by: unknown actor {by!r} (known: {', '.join(sorted(actors))})")
        for key in ("params", "response"):
            if key in step and not isinstance(step[key], dict):
                raise ScenarioError(f"{at}.{key}: expected a mapping")
        leaves = step.get("leaves")
        if leaves is not None and (not isinstance(leaves, dict) or not isinstance(leaves.get("kind"), str)):
            raise ScenarioError(f"{at}.leaves: expected a mapping with kind and name")
        if leaves is not None and not isinstance(leaves.get("name"), str):
            raise ScenarioError(f"{at}.leaves.name: required, a string")
        if leaves is not None and not leaves.get("loss") and leaves["kind"] not in residual_kinds():
            raise ScenarioError(
                f"{at}.leaves.kind: unknown kind {leaves['kind']!r} (known: {', '.join(residual_kinds())};"
                " or `loss: true` for what no call can bring back)"
            )
    elif kinds[0] == "actor":
        name = step["actor"]
        if not isinstance(name, str) or name in _BUILTIN_ACTORS:
            raise ScenarioError(f"{at}.actor: a new actor's name (not {', '.join(_BUILTIN_ACTORS)})")
        for key in ("arn", "key", "secret"):
            if not isinstance(step.get(key), str):
                raise ScenarioError(f"{at}.{key}: required, a string")
        actors.add(name)
    else:
        from irkit.drill.hooks import HOOKS

        if step["hook"] not in HOOKS:
            raise ScenarioError(f"{at}.hook: unknown hook {step['hook']!r} (hooks: {', '.join(sorted(HOOKS))})")
        if not isinstance(step.get("with", {}), dict):
            raise ScenarioError(f"{at}.with: expected a mapping")


def _check_vars(value: Any, at: str, known: set[str]) -> None:
    if isinstance(value, str):
        for name in _VAR.findall(value):
            if name not in known:
                raise ScenarioError(f"{at}: unknown variable ${{{name}}} (world values: {', '.join(WORLD_VARS)})")
    elif isinstance(value, dict):
        for v in value.values():
            _check_vars(v, at, known)
    elif isinstance(value, list):
        for v in value:
            _check_vars(v, at, known)


def residual_kinds() -> tuple[str, ...]:
    from irkit.drill.residual import CHECKS

    return tuple(sorted(CHECKS))


# -- running ---------------------------------------------------------------------------------------------


class Performer:
    """Performs a program's steps on a world: the calls for real, each recorded by its actor."""

    def __init__(self, world: World, source: str) -> None:
        self.world = world
        self.source = source
        self.when = world.now - timedelta(hours=1)

    def values(self) -> dict[str, Any]:
        w = self.world
        return {
            "account": ACCOUNT,
            "outside_account": OUTSIDE_ACCOUNT,
            "agent_user": AGENT_USER,
            "agent_role": AGENT_ROLE,
            "agent_user_arn": w.user_arn,
            "agent_role_arn": w.role_arn,
            "agent_ip": AGENT_IP,
            "attacker_ip": ATTACKER_IP,
            "app_sg": getattr(w, "app_sg", ""),
            "vpc_id": getattr(w, "vpc_id", ""),
            "flow_log_id": getattr(w, "flow_log_id", ""),
            "trail": TRAIL,
            "home_region": HOME_REGION,
            "archive_bucket": ARCHIVE_BUCKET,
            **w.saved,
        }

    def fill(self, value: Any) -> Any:
        if isinstance(value, str):
            values = self.values()
            whole = _VAR.fullmatch(value)
            if whole:
                return values[whole.group(1)]
            return _VAR.sub(lambda m: str(values[m.group(1)]), value)
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value

    def _time(self, step: Mapping[str, Any]) -> datetime:
        if "at" in step:
            self.when = self.world.now + parse_offset(str(step["at"]))
        else:
            self.when = self.when + parse_offset(str(step.get("after", "5s")))
        return self.when

    def perform(self, steps: Sequence[Mapping[str, Any]]) -> None:
        for step in steps:
            if "actor" in step:
                self._actor(step)
            elif "hook" in step:
                from irkit.drill.hooks import HOOKS

                HOOKS[str(step["hook"])](self.world, self._time(step), self.fill(dict(step.get("with", {}))))
            else:
                self._call(step)

    def _actor(self, step: Mapping[str, Any]) -> None:
        s = self.fill(dict(step))
        identity = str(s.get("type", "AssumedRole" if ":assumed-role/" in str(s["arn"]) else "IAMUser"))
        actor = Actor(
            self.world.endpoint,
            ACCOUNT,
            str(s["arn"]),
            str(s["key"]),
            str(s["secret"]),
            str(s.get("from", ATTACKER_IP)),
            str(s.get("user_agent", self.world.attacker.user_agent if self.world.attacker else "")),
            identity_type=identity,
            session_token=str(s["token"]) if s.get("token") else None,
            issuer_arn=str(s["issuer"]) if s.get("issuer") else None,
        )
        self.world.actors[str(step["actor"])] = actor

    def _by(self, name: str) -> Actor | None:
        w = self.world
        if name == "admin":
            return None
        found = {"attacker": w.attacker, "agent-role": w.agent_role, "agent-user": w.agent_user}.get(name)
        return found if found is not None else w.actors[name]

    def _call(self, step: Mapping[str, Any]) -> None:
        service, operation = str(step["call"]).split(".", 1)
        region = str(self.fill(step.get("region", HOME_REGION)))
        params = self.fill(dict(step.get("params", {})))
        when = self._time(step)
        actor = self._by(str(step.get("by", "attacker")))
        if actor is None:
            client = self.world.client(service, region)
            try:
                response: dict[str, Any] = getattr(client, xform_name(operation))(**params)
            except (botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError) as exc:
                # The estate could not be built as the file says: the scenario's error, not a traceback.
                raise ScenarioError(f"{self.source}: {step['call']} by admin failed: {exc}") from None
        else:
            if "from" in step or "user_agent" in step:
                # The same holder of the same key, seen from elsewhere: the records land in the actor's own list.
                actor = dataclasses.replace(
                    actor,
                    source_ip=str(self.fill(step.get("from", actor.source_ip))),
                    user_agent=str(self.fill(step.get("user_agent", actor.user_agent))),
                )
            if step.get("record_only"):
                response = self.fill(dict(step.get("response", {})))
                actor.records.append(
                    actor.record(service, operation, region=region, when=when, request=params, response=response)
                )
            else:
                response = actor.call(service, operation, region=region, when=when, **params)
        for var, dotted in dict(step.get("save", {})).items():
            self.world.saved[str(var)] = _dig(response, str(dotted), f"{self.source}: {step['call']} save {var}")
        if step.get("stops_delivery"):
            self.world.logging_stopped_at = when
        if step.get("leaves"):
            item = {
                str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v)
                for k, v in self.fill(dict(step["leaves"])).items()
                if k != "loss"
            }
            if step["leaves"].get("loss"):
                item["loss"] = "yes"
            self.world.created_by_attacker.append(item)


def _dig(value: Any, dotted: str, at: str) -> Any:
    """``AccessKey.AccessKeyId``, ``Instances.0.InstanceId``; ``Instances.*.InstanceId`` is a list."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part == "*" and isinstance(value, list):
            rest = ".".join(parts[i + 1 :])
            return [_dig(v, rest, at) if rest else v for v in value]
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise ScenarioError(f"{at}: the response has no {dotted}")
    return value
