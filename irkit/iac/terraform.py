"""The one terraform adapter: init, plan to a file, read the plan, apply exactly that file, check convergence.

```python
tf = Terraform(workdir, binary="terraform", env={"TF_CLI_CONFIG_FILE": "..."}, state=None, dry_run=False)
tf.init(plugin_dirs=[real_dir / ".terraform" / "providers"])   # the lock file is honoured (readonly)
plan = tf.plan(case_dir / "revert" / "prod.tfplan")           # 0600, with its SHA-256 and classified changes
if plan.refusal() is None and plan.has_changes:
    result = tf.apply(Path(plan.path), sha256=plan.sha256)    # a different file is refused
    converged, why = tf.converged()                           # plan -detailed-exitcode must exit 0
```

python-terraform (0.10.1, unmaintained since 2019) builds the argument lists of ``init``, ``plan`` and
``show``; running them is :meth:`Terraform._run` (see :class:`_Cli` for why), and ``apply`` of a
saved plan runs the binary directly because python-terraform cannot do it at all.

What a plan is allowed to be: ``format_version`` 0.x (terraform 1.0 writes ``0.2``) or 1.x; every
``resource_changes[].change.actions`` a known verb list (anything else fails closed); a ``prior_state``
(a plan against empty state can be applied twice, hashicorp/terraform#24078); not ``errored``, and
``applyable`` when it has changes. Terraform before 1.5 / 1.8 writes neither ``errored`` nor
``applyable`` nor ``complete``: then they are *unknown* (``None``) and the decision rests on what is
known — plan exited 0 or 2, the plan file exists, and the checks above — which the plan's notes say.

A plan file and its JSON hold secrets in clear: both are written 0600 in a 0700 folder, never in git.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import python_terraform

from irkit.iac import IacDryRun, IacError

PLAN_TIMEOUT = 900.0
APPLY_TIMEOUT = 1800.0
TAIL = 2000

# resource_changes[].change.actions → one class. Anything else is refused (fail closed).
ACTION_CLASSES: Mapping[tuple[str, ...], str] = {
    ("no-op",): "no-op",
    ("read",): "read",
    ("create",): "create",
    ("update",): "update",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("create", "forget"): "replace",
    ("delete",): "delete",
    ("forget",): "forget",
}
CLASS_ORDER = ("delete", "replace", "update", "create", "forget", "read", "no-op")

# Types whose destruction loses data (or keys to data): their deletes and replacements are listed first.
STATEFUL_TYPES = frozenset(
    {
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_rds_cluster_instance",
        "aws_docdb_cluster",
        "aws_neptune_cluster",
        "aws_redshift_cluster",
        "aws_dynamodb_table",
        "aws_s3_bucket",
        "aws_s3_object",
        "aws_ebs_volume",
        "aws_ebs_snapshot",
        "aws_efs_file_system",
        "aws_fsx_lustre_file_system",
        "aws_elasticache_cluster",
        "aws_elasticache_replication_group",
        "aws_opensearch_domain",
        "aws_elasticsearch_domain",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_ssm_parameter",
        "aws_backup_vault",
        "aws_ecr_repository",
        "aws_cloudwatch_log_group",
        "aws_kinesis_stream",
        "aws_msk_cluster",
        "aws_sqs_queue",
        "aws_glacier_vault",
        "aws_instance",
    }
)
_STATEFUL_HINT = re.compile(r"(database|_db_|bucket|volume|table|disk|snapshot|storage|log_group|vault|secret|key$)")


class TerraformError(IacError):
    """terraform could not be run, or a command failed; the message carries the end of its output."""


class PlanRefused(IacError):
    """A plan irkit will not apply (unknown verbs, no prior state, errored, not applyable, …)."""


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    type: str
    actions: tuple[str, ...]
    kind: str
    """create | update | replace | delete | forget | read | no-op"""
    destructive: bool
    stateful: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "type": self.type,
            "actions": list(self.actions),
            "kind": self.kind,
            "destructive": self.destructive,
            "stateful": self.stateful,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class StateResource:
    """A managed resource of the prior state: its address and every scalar value it holds, as text
    (what an attacker change's ids and ARNs are matched against). Kept in memory only: values may
    be secrets."""

    address: str
    type: str
    values: frozenset[str]


@dataclass(frozen=True, slots=True)
class TerraformPlan:
    path: str
    sha256: str
    format_version: str
    terraform_version: str
    changes: tuple[ResourceChange, ...]
    """Every entry that is not a no-op or a read, destructive changes to stateful types first."""
    unchanged: int
    errored: bool | None
    applyable: bool | None
    complete: bool | None
    prior_state: bool
    state: tuple[StateResource, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in CLASS_ORDER if k not in ("read", "no-op")}
        for c in self.changes:
            out[c.kind] = out.get(c.kind, 0) + 1
        return out

    def refusal(self) -> str | None:
        """Why this plan must not be applied, or None."""
        if self.errored:
            return "terraform reports the plan as errored"
        if not self.prior_state:
            return (
                "the plan has no prior state (planned against empty state, which could be applied twice:"
                " hashicorp/terraform#24078); is the state where terraform looks for it?"
            )
        if self.complete is False:
            return "terraform reports the plan as incomplete (deferred or targeted changes)"
        if self.applyable is False and self.has_changes:
            return "terraform reports the plan as not applyable"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "format_version": self.format_version,
            "terraform_version": self.terraform_version,
            "changes": [c.to_json() for c in self.changes],
            "counts": self.counts(),
            "unchanged": self.unchanged,
            "errored": self.errored,
            "applyable": self.applyable,
            "complete": self.complete,
            "prior_state": self.prior_state,
            "notes": list(self.notes),
            "refusal": self.refusal(),
        }


def classify(actions: Sequence[Any]) -> str:
    """One class for a ``change.actions`` list; an unknown list is refused, never guessed."""
    key = tuple(str(a) for a in actions) if isinstance(actions, list | tuple) else ()
    kind = ACTION_CLASSES.get(key)
    if kind is None:
        raise PlanRefused(f"unknown terraform change actions {list(key) or actions!r}: refusing the plan")
    return kind


def is_stateful(resource_type: str) -> bool:
    return resource_type in STATEFUL_TYPES or bool(_STATEFUL_HINT.search(resource_type))


def _order(change: ResourceChange) -> tuple[int, int, str]:
    danger = 0 if (change.destructive and change.stateful) else 1 if change.destructive else 2
    return (danger, CLASS_ORDER.index(change.kind), change.address)


def _scalars(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _modules(module: Any) -> Iterator[Mapping[str, Any]]:
    if not isinstance(module, Mapping):
        return
    yield module
    for child in module.get("child_modules") or []:
        yield from _modules(child)


def state_resources(values: Any) -> tuple[StateResource, ...]:
    """Managed resources of a state's ``values`` (``prior_state.values`` or ``show -json`` of a state)."""
    root = values.get("root_module") if isinstance(values, Mapping) else None
    out = []
    for module in _modules(root):
        for res in module.get("resources") or []:
            if not isinstance(res, Mapping) or res.get("mode", "managed") != "managed":
                continue
            out.append(
                StateResource(
                    str(res.get("address", "")), str(res.get("type", "")), frozenset(_scalars(res.get("values")))
                )
            )
    return tuple(out)


def parse_plan(doc: Any, *, path: str = "", sha256: str = "") -> TerraformPlan:
    """``terraform show -json PLAN`` → :class:`TerraformPlan` (pure; refuses what it cannot vouch for)."""
    if not isinstance(doc, Mapping):
        raise PlanRefused("terraform show -json did not return a JSON object")
    version = str(doc.get("format_version", ""))
    if not re.match(r"^[01]\.\d+", version):
        raise PlanRefused(f"plan format_version {version or '(none)'!r} is not one irkit knows (0.x or 1.x)")
    changes: list[ResourceChange] = []
    unchanged = 0
    for i, rc in enumerate(doc.get("resource_changes") or []):
        if not isinstance(rc, Mapping) or not isinstance(rc.get("change"), Mapping):
            raise PlanRefused(f"resource_changes[{i}] is not a change object: refusing the plan")
        kind = classify(rc["change"].get("actions"))
        if kind in ("no-op", "read"):
            unchanged += 1
            continue
        rtype = str(rc.get("type", ""))
        changes.append(
            ResourceChange(
                address=str(rc.get("address", "")),
                type=rtype,
                actions=tuple(str(a) for a in rc["change"]["actions"]),
                kind=kind,
                destructive="delete" in rc["change"]["actions"],
                stateful=is_stateful(rtype),
                reason=str(rc.get("action_reason") or ""),
            )
        )
    notes: list[str] = []
    flags: dict[str, bool | None] = {}
    for key in ("errored", "applyable", "complete"):
        value = doc.get(key)
        flags[key] = value if isinstance(value, bool) else None
    missing = [k for k, v in flags.items() if v is None]
    if missing:
        notes.append(
            f"terraform {doc.get('terraform_version', '?')} does not report {', '.join(missing)} (terraform ≥ 1.5/1.8"
            " does): treated as unknown; the plan is accepted only because plan exited 0 or 2, wrote its file,"
            " has a prior state and only known change verbs"
        )
    prior = doc.get("prior_state")
    has_prior = isinstance(prior, Mapping) and isinstance(prior.get("values"), Mapping)
    destroyed = [c.address for c in changes if c.destructive and c.stateful]
    if destroyed:
        notes.append(f"DESTROYS stateful resources (data may be lost): {', '.join(destroyed[:10])}")
    return TerraformPlan(
        path=path,
        sha256=sha256,
        format_version=version,
        terraform_version=str(doc.get("terraform_version", "")),
        changes=tuple(sorted(changes, key=_order)),
        unchanged=unchanged,
        errored=flags["errored"],
        applyable=flags["applyable"],
        complete=flags["complete"],
        prior_state=has_prior,
        state=state_resources(prior.get("values")) if has_prior and isinstance(prior, Mapping) else (),
        notes=tuple(notes),
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    path.chmod(0o600)


def private_dir(path: Path) -> Path:
    """A folder only the responder can read (plans hold secrets)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


@dataclass(frozen=True, slots=True)
class Completed:
    code: int
    out: str
    err: str

    def tail(self) -> str:
        text = (self.err.strip() or self.out.strip()).replace("\x1b", "")
        return text[-TAIL:]


@dataclass(frozen=True, slots=True)
class ApplyResult:
    status: str  # applied | stale | failed
    message: str

    def to_json(self) -> dict[str, str]:
        return {"status": self.status, "message": self.message}


def resolve_binary(binary: str) -> str:
    """``terraform`` / ``tofu`` on PATH, or a path; a clear error when it is not there."""
    if os.sep in binary:
        if Path(binary).is_file() and os.access(binary, os.X_OK):
            return binary
        raise TerraformError(f"terraform binary {binary}: not an executable file")
    found = shutil.which(binary)
    if found is None:
        raise TerraformError(
            f"terraform binary {binary!r} not found on PATH (install it, or set agents.<name>.terraform.binary)"
        )
    return found


class _Cli(python_terraform.Terraform):  # type: ignore[misc]  # untyped library
    """python-terraform's argument building, irkit's process handling.

    Its ``cmd()`` always inherits ``os.environ`` and cannot add to it (terraform must run with the
    responder's credentials and the configured CLI config, not whatever the shell holds), has no
    timeout (a state lock held elsewhere would hang irkit for ever) and logs variable values at debug
    level. Its constructor parses ``terraform.tfstate`` into memory (secrets, and an exception on a
    damaged file). So both are replaced; ``init()``, ``plan()`` and ``generate_cmd_string()`` are its own.
    """

    def __init__(self, workdir: Path, binary: str, runner: Any) -> None:
        self._runner = runner
        super().__init__(working_dir=str(workdir), terraform_bin_path=binary)

    def read_state_file(self, file_path: str | None = None) -> None:
        self.tfstate = None

    def cmd(self, cmd: str, *args: Any, **kwargs: Any) -> Completed:
        for key in ("capture_output", "raise_on_error", "synchronous"):
            kwargs.pop(key, None)
        try:
            argv = self.generate_cmd_string(cmd, *args, **kwargs)
            return self._runner(argv)  # type: ignore[no-any-return]
        finally:
            self.temp_var_files.clean_up()


class Terraform:
    """terraform in one working directory, with the responder's environment; apply refused in a dry run."""

    def __init__(
        self,
        workdir: Path,
        *,
        binary: str = "terraform",
        env: Mapping[str, str] | None = None,
        state: Path | None = None,
        dry_run: bool = False,
        plan_timeout: float = PLAN_TIMEOUT,
        apply_timeout: float = APPLY_TIMEOUT,
    ) -> None:
        self.workdir = workdir
        self.binary = resolve_binary(binary)
        self.state = state
        self.dry_run = dry_run
        self.plan_timeout = plan_timeout
        self.apply_timeout = apply_timeout
        self.env = dict(os.environ)
        # No prompt, no update check over the network, output meant for a machine.
        self.env.update({"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"})
        self.env.pop("TF_LOG", None)  # a debug log would carry every secret of the plan
        self.env.update(env or {})
        self._timeout = plan_timeout
        self._cli = _Cli(workdir, self.binary, self._run)

    def _run(self, argv: Sequence[str]) -> Completed:
        try:
            proc = subprocess.run(
                list(argv),
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                timeout=self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TerraformError(
                f"terraform {argv[1]} in {self.workdir} did not finish within {self._timeout:.0f} s (state lock?)"
            ) from None
        except OSError as exc:
            raise TerraformError(f"cannot run {self.binary}: {exc.strerror}") from None
        return Completed(
            proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        )

    def _state_args(self) -> dict[str, str]:
        return {"state": str(self.state)} if self.state is not None else {}

    def version(self) -> str:
        done = self._cli.cmd("version", json=python_terraform.IsFlagged)
        try:
            return str(json.loads(done.out).get("terraform_version", ""))
        except (ValueError, AttributeError):
            return done.out.strip().splitlines()[0] if done.out.strip() else ""

    def init(self, *, plugin_dirs: Sequence[Path] = (), readonly_lock: bool = True) -> None:
        """``init -input=false``: providers from ``plugin_dirs`` only when given (no network), the lock
        file honoured (``-lockfile=readonly``: a provider it does not pin fails instead of being added)."""
        done = self._cli.init(
            var=None,
            reconfigure=python_terraform.IsNotFlagged,
            input=False,
            plugin_dir=[str(p) for p in plugin_dirs] or None,
            lockfile="readonly" if readonly_lock else None,
        )
        if done.code != 0:
            raise TerraformError(f"terraform init in {self.workdir} failed: {done.tail()}")

    def plan(self, out: Path) -> TerraformPlan:
        """``plan -out`` (0600) then ``show -json`` (0600 beside it) → the classified plan.

        ``-lock=false``: planning reads the state and never writes it (terraform ≥ 0.15.4); a change
        made meanwhile makes the saved plan stale, which apply detects."""
        private_dir(out.parent)
        self._timeout = self.plan_timeout
        done = self._cli.plan(
            out=str(out), var=None, lock=False, input=False, detailed_exitcode=python_terraform.IsFlagged,
            **self._state_args(),
        )  # fmt: skip
        if done.code not in (0, 2) or not out.exists():
            raise TerraformError(f"terraform plan in {self.workdir} failed (exit {done.code}): {done.tail()}")
        out.chmod(0o600)
        digest = sha256_file(out)
        shown = self._cli.cmd("show", str(out), json=python_terraform.IsFlagged, no_color=python_terraform.IsFlagged)
        if shown.code != 0:
            raise TerraformError(f"terraform show -json {out.name} failed: {shown.tail()}")
        _write_private(out.with_name(out.name + ".json"), shown.out.encode("utf-8"))
        try:
            doc = json.loads(shown.out)
        except ValueError:
            raise PlanRefused(f"terraform show -json {out.name} did not print JSON") from None
        return parse_plan(doc, path=str(out), sha256=digest)

    def apply(self, plan: Path, *, sha256: str) -> ApplyResult:
        """Apply exactly the approved plan file: a file whose SHA-256 differs is refused; a stale plan
        is reported (plan and approve again), never retried."""
        if self.dry_run:
            raise IacDryRun(f"terraform apply {plan.name} in {self.workdir}")
        if not plan.exists():
            raise PlanRefused(f"approved plan file {plan} is missing")
        actual = sha256_file(plan)
        if actual != sha256:
            raise PlanRefused(
                f"plan file {plan.name} has SHA-256 {actual[:16]}…, not the approved {sha256[:16]}…: refusing to apply"
            )
        # The binary, not python-terraform: its apply() always adds -var-file (its empty variables
        # become a temporary file) and -auto-approve=false, and terraform refuses any variable with a
        # saved plan ("Can't set variables when applying a saved plan", checked with 1.0.3).
        argv = [self.binary, "apply", "-input=false", "-no-color", "-lock-timeout=30s"]
        argv += [f"-state={self.state}"] if self.state is not None else []
        argv.append(str(plan))
        self._timeout = self.apply_timeout
        try:
            done = self._run(argv)
        finally:
            self._timeout = self.plan_timeout
        if done.code == 0:
            return ApplyResult("applied", _summary_line(done.out, "Apply complete!") or "applied")
        text = done.out + "\n" + done.err
        if "Saved plan is stale" in text:
            return ApplyResult(
                "stale", "the state changed after the plan was made: plan and approve again (never retried)"
            )
        return ApplyResult("failed", done.tail())

    def converged(self) -> tuple[bool, str]:
        """``plan -detailed-exitcode``: (True, …) only when it exits 0 (no change left)."""
        self._timeout = self.plan_timeout
        done = self._cli.plan(
            var=None, lock=False, input=False, detailed_exitcode=python_terraform.IsFlagged, **self._state_args()
        )
        if done.code == 0:
            return True, "no changes: the infrastructure matches the configuration"
        if done.code == 2:
            return False, _summary_line(done.out, "Plan:") or "changes remain"
        return False, f"plan failed (exit {done.code}): {done.tail()}"

    def show_state(self) -> tuple[StateResource, ...]:
        """The current state's managed resources (``show -json [state file]``)."""
        args = [str(self.state)] if self.state is not None else []
        done = self._cli.cmd("show", *args, json=python_terraform.IsFlagged, no_color=python_terraform.IsFlagged)
        if done.code != 0:
            raise TerraformError(f"terraform show -json in {self.workdir} failed: {done.tail()}")
        try:
            doc = json.loads(done.out)
        except ValueError:
            raise TerraformError("terraform show -json did not print JSON") from None
        return state_resources(doc.get("values") if isinstance(doc, Mapping) else None)


def _summary_line(text: str, prefix: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(prefix):
            return line.strip()
    return ""


def local_state(tf_dir: Path) -> Path | None:
    """The local state file of ``tf_dir`` when it uses the default local backend (no backend
    initialised there and a ``terraform.tfstate`` beside the configuration), else None."""
    if (tf_dir / ".terraform" / "terraform.tfstate").exists():
        return None  # a configured backend: the scratch copy reaches the same state through it
    state = tf_dir / "terraform.tfstate"
    return state if state.exists() else None


def installed_providers(tf_dir: Path) -> Path | None:
    """``.terraform/providers`` of an initialised directory: a filesystem mirror init can use offline."""
    providers = tf_dir / ".terraform" / "providers"
    return providers if providers.is_dir() else None
