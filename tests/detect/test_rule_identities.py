"""Rules limited to identity types (``Rule.identities``): the analyzer runs them only on events of
those types, so a rule that declares them must never match any other, and the index must change
no finding."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from irkit.detect.analyzer import Analyzer
from irkit.detect.event import Event
from irkit.detect.labelled import generate
from irkit.detect.quality import account_data
from irkit.detect.records import record, role_identity, user_identity
from irkit.detect.rule import Rule
from irkit.detect.rules import all_rules

IDENTITY_TYPES = (
    "Root", "IAMUser", "AssumedRole", "FederatedUser", "AWSService", "AWSAccount", "WebIdentityUser",
    "SAMLUser", "IdentityCenterUser", "Unknown", "",
)  # fmt: skip
DECLARING = [rule for rule in all_rules() if rule.identities]


def _examples() -> list[dict[str, Any]]:
    """Every rule's positive and negative records: calls of every shape the rules know."""
    return [dict(r) for rule in all_rules() for r in (*rule.positive, *rule.negative)]


def _as(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    """``rec`` with its identity type set to ``kind`` (removed when empty)."""
    out = copy.deepcopy(rec)
    identity = out.setdefault("userIdentity", {})
    if kind:
        identity["type"] = kind
    else:
        identity.pop("type", None)
    return out


def test_some_rule_declares_identities() -> None:
    assert any(rule.id == "root_user_activity" for rule in DECLARING)


@pytest.mark.parametrize("rule", DECLARING, ids=lambda r: r.id)
def test_a_declaring_rule_matches_no_other_identity_type(rule: Rule) -> None:
    others = [kind for kind in IDENTITY_TYPES if kind not in rule.identities]
    hits = [
        (kind, rec.get("eventName"))
        for rec in _examples()
        for kind in others
        if rule.match(Event.from_record(_as(rec, kind)))
    ]
    assert not hits, f"{rule.id} declares {rule.identities} yet matched {hits[:5]}"


@pytest.mark.parametrize("rule", DECLARING, ids=lambda r: r.id)
def test_a_declaring_rule_still_matches_its_own_positives(rule: Rule) -> None:
    assert all(rule.match(Event.from_record(dict(rec))) for rec in rule.positive)


def _analysis(records: list[dict[str, Any]], rules: list[Rule]) -> dict[str, Any]:
    analyzer = Analyzer(rules=rules)
    for rec in records:
        analyzer.feed(Event.from_record(rec))
    return analyzer.finish().to_json()


def test_the_identity_index_changes_no_finding() -> None:
    # the agent's and the account's labelled sets, plus root and non-root calls of the same names
    records = [dict(r) for r in generate(benign=2_000, seed=5, variants=2).records]
    records += [dict(r) for r in account_data(2_000, 5).records]
    root = {"type": "Root", "principalId": "111111111111", "arn": "arn:aws:iam::111111111111:root",
            "accountId": "111111111111", "accessKeyId": "ASIAQROOTSESSION0001"}  # fmt: skip
    for name, source in (("DescribeInstances", "ec2.amazonaws.com"), ("CreateAccessKey", "iam.amazonaws.com")):
        records.append(record(name, source, identity=root))
        records.append(record(name, source, identity=role_identity()))
        records.append(record(name, source, identity=user_identity()))
    rules = list(all_rules())
    unindexed = [dataclasses.replace(rule, identities=()) for rule in rules]
    indexed = _analysis(records, rules)
    assert indexed == _analysis(records, unindexed)
    assert any(f["rule_id"] == "root_user_activity" for f in indexed["findings"])
