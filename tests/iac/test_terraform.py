"""The terraform adapter with the real binary, offline: plan to a 0600 file, apply exactly it, converge."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from irkit.iac import IacDryRun
from irkit.iac.terraform import (
    PlanRefused,
    Terraform,
    TerraformError,
    classify,
    installed_providers,
    local_state,
    parse_plan,
    sha256_file,
)
from tests.iac.conftest import Offline
from tests.iac.tfproject import ingress_tf, write


@pytest.fixture
def applied(tmp_path: Path, offline: Offline) -> Path:
    """A directory whose state holds the pre-compromise rule (10.20.0.0/16)."""
    d = write(tmp_path / "live", ingress_tf("10.20.0.0/16"))
    offline.run(d, "init")
    offline.run(d, "apply", "-auto-approve")
    return d


def state_triggers(state: Path) -> dict[str, dict[str, str]]:
    doc = json.loads(state.read_text())
    return {r["name"]: r["instances"][0]["attributes"]["triggers"] for r in doc["resources"]}


def scratch_copy(tmp_path: Path, applied: Path, cidr: str) -> Path:
    d = write(tmp_path / "scratch", ingress_tf(cidr))
    (d / ".terraform.lock.hcl").write_text((applied / ".terraform.lock.hcl").read_text())
    return d


def adapter(d: Path, applied: Path, offline: Offline, *, dry_run: bool = False) -> Terraform:
    tf = Terraform(d, binary=offline.binary, env=offline.env, state=local_state(applied), dry_run=dry_run)
    providers = installed_providers(applied)
    assert providers is not None
    tf.init(plugin_dirs=[providers])
    return tf


def test_plans_to_a_private_file_and_applies_exactly_it(tmp_path: Path, offline: Offline, applied: Path) -> None:
    state = applied / "terraform.tfstate"
    # The agent widened the rule and applied it; the revert goes back.
    offline.run(write(applied, ingress_tf("0.0.0.0/0")), "apply", "-auto-approve")
    tf = adapter(scratch_copy(tmp_path, applied, "10.20.0.0/16"), applied, offline)
    before = sha256_file(state)

    plan = tf.plan(tmp_path / "case" / "revert" / "prod.tfplan")

    assert sha256_file(state) == before  # planning never writes the state
    path = Path(plan.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name(path.name + ".json").stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert plan.sha256 == sha256_file(path)
    assert [(c.address, c.kind) for c in plan.changes] == [("null_resource.ingress", "replace")]
    assert plan.unchanged == 1
    assert plan.refusal() is None
    assert plan.errored is None and plan.applyable is None  # terraform 1.0 does not say: unknown
    assert any("does not report errored" in n for n in plan.notes)
    assert any("0.0.0.0/0" in r.values for r in plan.state)  # the prior state, for managed matching

    result = tf.apply(path, sha256=plan.sha256)

    assert result.status == "applied", result.message
    assert state_triggers(state)["ingress"]["cidr"] == "10.20.0.0/16"
    assert tf.converged() == (True, "no changes: the infrastructure matches the configuration")


def test_a_different_plan_file_is_refused(tmp_path: Path, offline: Offline, applied: Path) -> None:
    tf = adapter(scratch_copy(tmp_path, applied, "0.0.0.0/0"), applied, offline)
    plan = tf.plan(tmp_path / "plans" / "a.tfplan")
    other = tf.plan(tmp_path / "plans" / "b.tfplan")
    state = applied / "terraform.tfstate"
    before = sha256_file(state)
    Path(plan.path).write_bytes(Path(other.path).read_bytes() + b"\0")
    with pytest.raises(PlanRefused, match="not the approved"):
        tf.apply(Path(plan.path), sha256=plan.sha256)
    assert sha256_file(state) == before


def test_a_stale_plan_is_reported_and_never_retried(tmp_path: Path, offline: Offline, applied: Path) -> None:
    tf = adapter(scratch_copy(tmp_path, applied, "0.0.0.0/0"), applied, offline)
    plan = tf.plan(tmp_path / "plans" / "p.tfplan")
    # Someone else changes the state after the plan was approved.
    offline.run(write(applied, ingress_tf("10.30.0.0/16")), "apply", "-auto-approve")
    state = applied / "terraform.tfstate"
    before = sha256_file(state)

    result = tf.apply(Path(plan.path), sha256=plan.sha256)

    assert result.status == "stale"
    assert "plan and approve again" in result.message
    assert sha256_file(state) == before
    assert state_triggers(state)["ingress"]["cidr"] == "10.30.0.0/16"


def test_not_converged_says_what_is_left(tmp_path: Path, offline: Offline, applied: Path) -> None:
    tf = adapter(scratch_copy(tmp_path, applied, "0.0.0.0/0"), applied, offline)
    ok, why = tf.converged()
    assert not ok
    assert "1 to add" in why and "1 to destroy" in why


def test_a_dry_run_plans_but_refuses_to_apply(tmp_path: Path, offline: Offline, applied: Path) -> None:
    tf = adapter(scratch_copy(tmp_path, applied, "0.0.0.0/0"), applied, offline, dry_run=True)
    state = applied / "terraform.tfstate"
    before = state.read_bytes()
    plan = tf.plan(tmp_path / "plans" / "p.tfplan")
    with pytest.raises(IacDryRun):
        tf.apply(Path(plan.path), sha256=plan.sha256)
    assert state.read_bytes() == before


def test_a_plan_against_empty_state_is_refused(tmp_path: Path, offline: Offline, applied: Path) -> None:
    d = scratch_copy(tmp_path, applied, "0.0.0.0/0")
    tf = Terraform(d, binary=offline.binary, env=offline.env)  # no state: the local state is elsewhere
    providers = installed_providers(applied)
    assert providers is not None
    tf.init(plugin_dirs=[providers])
    plan = tf.plan(tmp_path / "plans" / "p.tfplan")
    refusal = plan.refusal()
    assert refusal is not None and "no prior state" in refusal


def test_init_honours_the_lock_file(tmp_path: Path, offline: Offline, applied: Path) -> None:
    d = scratch_copy(tmp_path, applied, "0.0.0.0/0")
    lock = (d / ".terraform.lock.hcl").read_text()
    (d / ".terraform.lock.hcl").write_text(lock.replace("2.1.2", "2.1.1"))
    tf = Terraform(d, binary=offline.binary, env=offline.env, state=local_state(applied))
    with pytest.raises(TerraformError, match="init"):
        tf.init(plugin_dirs=[installed_providers(applied) or Path()])
    assert (d / ".terraform.lock.hcl").read_text() == lock.replace("2.1.2", "2.1.1")  # never rewritten


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TerraformError, match="not found on PATH"):
        Terraform(tmp_path, binary="no-such-terraform-binary")
    with pytest.raises(TerraformError, match="not an executable"):
        Terraform(tmp_path, binary=str(tmp_path / "missing" / "terraform"))


@pytest.mark.parametrize(
    ("actions", "kind"),
    [
        (["no-op"], "no-op"),
        (["create"], "create"),
        (["read"], "read"),
        (["update"], "update"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
        (["delete"], "delete"),
        (["forget"], "forget"),
        (["create", "forget"], "replace"),
    ],
)
def test_every_known_action_list_has_a_class(actions: list[str], kind: str) -> None:
    assert classify(actions) == kind


@pytest.mark.parametrize("actions", [["destroy"], ["delete", "update"], [], "delete", None, ["create", "create"]])
def test_an_unknown_action_list_fails_closed(actions: object) -> None:
    with pytest.raises(PlanRefused, match="unknown terraform change actions"):
        classify(actions)  # type: ignore[arg-type]


def change(address: str, rtype: str, actions: list[str]) -> dict[str, object]:
    return {"address": address, "type": rtype, "change": {"actions": actions}}


PRIOR = {"values": {"root_module": {"resources": []}}}


def test_destructive_changes_to_stateful_types_come_first() -> None:
    doc = {
        "format_version": "1.2",
        "terraform_version": "1.9.0",
        "errored": False,
        "applyable": True,
        "complete": True,
        "prior_state": PRIOR,
        "resource_changes": [
            change("aws_security_group_rule.a", "aws_security_group_rule", ["update"]),
            change("aws_iam_role.r", "aws_iam_role", ["delete"]),
            change("aws_db_instance.orders", "aws_db_instance", ["delete", "create"]),
            change("null_resource.n", "null_resource", ["no-op"]),
        ],
    }
    plan = parse_plan(doc)
    assert [c.address for c in plan.changes] == [
        "aws_db_instance.orders",
        "aws_iam_role.r",
        "aws_security_group_rule.a",
    ]
    assert plan.changes[0].destructive and plan.changes[0].stateful
    assert any("DESTROYS stateful resources" in n for n in plan.notes)
    assert not any("does not report" in n for n in plan.notes)  # terraform ≥ 1.8 says it all
    assert plan.refusal() is None


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"errored": True}, "errored"),
        ({"applyable": False}, "not applyable"),
        ({"complete": False}, "incomplete"),
        ({"prior_state": None}, "no prior state"),
    ],
)
def test_an_errored_or_unapplyable_plan_is_refused(extra: dict[str, object], why: str) -> None:
    doc = {
        "format_version": "1.2",
        "prior_state": PRIOR,
        "resource_changes": [change("null_resource.n", "null_resource", ["update"])],
    } | extra
    refusal = parse_plan(doc).refusal()
    assert refusal is not None and why in refusal


@pytest.mark.parametrize("version", ["2.0", "", "x", None])
def test_an_unknown_plan_format_is_refused(version: object) -> None:
    with pytest.raises(PlanRefused, match="format_version"):
        parse_plan({"format_version": version, "resource_changes": []})


def test_a_malformed_change_entry_is_refused() -> None:
    with pytest.raises(PlanRefused, match=r"resource_changes\[0\]"):
        parse_plan({"format_version": "1.0", "resource_changes": ["not a change"]})
