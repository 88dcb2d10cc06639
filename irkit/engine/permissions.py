"""Least-privilege IAM policies for the responder and the log-archive reader, from declared permissions.

Every step declares the IAM actions it calls (``Step.permissions``, ``Step.archive_permissions``);
``irkit permissions [RUNBOOK]`` turns the steps of a runbook into two policy documents:

- the **responder** role (where ``irkit contain`` runs): every step's ``permissions``, the
  ``irkit restore`` actions, and ``sts:AssumeRole`` on the log-reader role when one is configured;
- the **log-archive reader** role (in the log-archive account): every step's ``archive_permissions``
  except ``sts:AssumeRole``, which the responder needs, not the reader.

With a configuration, S3 actions are scoped to the archive bucket and AssumeRole to the reader
role; IAM actions stay on ``*`` because the principals to contain are not known in advance (the
credential chain can create any).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from irkit.config import LogArchiveSettings
from irkit.contain.restore import RESTORE_PERMISSIONS
from irkit.engine.runbook import Runbook
from irkit.steps import registry

VERSION = "2012-10-17"
DEFAULT_READER_ROLE = "arn:aws:iam::*:role/irkit-log-reader"
"""Without a configuration, the reader role's conventional name; with one, ``log_archive.role_arn``."""


def _sorted(actions: Iterable[str]) -> list[str]:
    return sorted(set(actions), key=lambda a: (a.split(":")[0], a.lower()))


def step_permissions(runbook: Runbook) -> list[tuple[str, str, list[str], list[str]]]:
    """(step id, step type, responder actions, archive actions) for each step of the runbook."""
    steps = registry()
    return [
        (spec.id, spec.step, list(steps[spec.step].permissions), list(steps[spec.step].archive_permissions))
        for spec in runbook.steps
    ]


def _assume(runbook: Runbook) -> bool:
    return any(a == "sts:AssumeRole" for *_, archive in step_permissions(runbook) for a in archive)


def responder_policy(runbook: Runbook, archive: LogArchiveSettings | None = None) -> dict[str, Any]:
    """The policy for the role that runs ``irkit contain`` and ``irkit restore``."""
    run_actions = [a for _, _, perms, _ in step_permissions(runbook) for a in perms]
    statements: list[dict[str, Any]] = []
    if run_actions:
        statements.append(
            {"Sid": "IrkitRunbook", "Effect": "Allow", "Action": _sorted(run_actions), "Resource": "*"}
        )
    restore_only = [a for a in RESTORE_PERMISSIONS if a not in run_actions]
    if restore_only:
        statements.append(
            {"Sid": "IrkitRestore", "Effect": "Allow", "Action": _sorted(restore_only), "Resource": "*"}
        )
    if _assume(runbook) and (archive is None or archive.role_arn):
        resource = archive.role_arn if archive and archive.role_arn else DEFAULT_READER_ROLE
        statements.append(
            {
                "Sid": "IrkitAssumeLogReader",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": resource,
            }
        )
    return {"Version": VERSION, "Statement": statements}


def archive_policy(runbook: Runbook, archive: LogArchiveSettings | None = None) -> dict[str, Any]:
    """The policy for the read-only role in the log-archive account."""
    actions = _sorted(a for *_, perms in step_permissions(runbook) for a in perms if a != "sts:AssumeRole")
    if not actions:
        return {"Version": VERSION, "Statement": []}
    if archive is None:
        return {
            "Version": VERSION,
            "Statement": [{"Sid": "IrkitReadTrail", "Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    bucket = f"arn:aws:s3:::{archive.bucket}"
    prefix = f"{archive.prefix}/" if archive.prefix else ""
    bucket_level = [a for a in actions if a.startswith("s3:List")]
    object_level = [a for a in actions if a.startswith("s3:") and a not in bucket_level]
    other = [a for a in actions if not a.startswith("s3:")]
    statements: list[dict[str, Any]] = []
    if bucket_level:
        statements.append(
            {"Sid": "IrkitListTrail", "Effect": "Allow", "Action": bucket_level, "Resource": bucket}
        )
    if object_level:
        statements.append(
            {
                "Sid": "IrkitReadTrail",
                "Effect": "Allow",
                "Action": object_level,
                "Resource": f"{bucket}/{prefix}AWSLogs/*",
            }
        )
    if other:
        statements.append({"Sid": "IrkitReadTrailOther", "Effect": "Allow", "Action": other, "Resource": "*"})
    return {"Version": VERSION, "Statement": statements}
