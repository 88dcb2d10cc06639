"""Generate docs/permissions.md: ``python -m irkit.engine.permissions_doc > docs/permissions.md``.

A test compares the committed file with this output, so the doc cannot fall behind the steps.
"""

from __future__ import annotations

import json
import sys

from irkit.engine.permissions import (
    archive_policy,
    dry_run_policy,
    responder_policy,
    step_permissions,
    watcher_policy,
)
from irkit.engine.runbook import load_runbook

DEFAULT_RUNBOOK = "agent-compromise"


def render(runbook_name: str = DEFAULT_RUNBOOK) -> str:
    book = load_runbook(runbook_name)
    rows = [
        f"| `{step_id}` | `{kind}` | {', '.join(f'`{a}`' for a in perms) or '—'} | "
        f"{', '.join(f'`{a}`' for a in archive) or '—'} |"
        for step_id, kind, perms, archive in step_permissions(book)
    ]
    lines = [
        "# Permissions",
        "",
        "<!-- generated: python -m irkit.engine.permissions_doc > docs/permissions.md -->",
        "",
        "irkit needs two roles. The **responder** role runs `irkit contain` and `irkit restore`; the",
        "**log-archive reader** role, in the log-archive account, only reads CloudTrail. Both policies",
        "below are generated from the IAM actions each step declares (`irkit permissions [RUNBOOK]`",
        "prints them for any runbook; `--role log-reader` for the second, `--config` scopes S3 to your",
        "archive bucket and AssumeRole to your reader role).",
        "",
        'IAM actions stay on `Resource: "*"`: the principals to contain are not known in advance (the',
        "credential chain can create any user or role). irkit itself refuses service-linked roles and",
        "anything outside the agent's inventory or its credential chain.",
        "",
        "The `revert` step's compensating undos put a bucket's earlier policy or ACL back",
        "(`s3:PutBucketPolicy`, `s3:PutBucketAcl` on any bucket, since the buckets the attacker touched",
        "are not known in advance either). Whoever holds those two rights can open any bucket in the",
        "account to themselves, so guard the responder role as an administrator; a runbook without a",
        "`revert` step does not ask for them.",
        "",
        f"## Steps of `{book.name}`",
        "",
        "| step | type | responder actions | log-archive actions |",
        "|------|------|-------------------|---------------------|",
        *rows,
        "",
        "## Responder role",
        "",
        "```json",
        json.dumps(responder_policy(book), indent=2),
        "```",
        "",
        "## Log-archive reader role",
        "",
        "```json",
        json.dumps(archive_policy(book), indent=2),
        "```",
        "",
        "## Watcher role",
        "",
        "`irkit watch` only reads (`irkit permissions --role watcher`): the trails' state in the agent's",
        "account and the archive, directly or through `log_archive.role_arn` (then `sts:AssumeRole` on that",
        "role replaces the S3 statement). With `--contain-at`, the watcher runs the containment runbook",
        "and needs the responder policy too.",
        "",
        "```json",
        json.dumps(watcher_policy(), indent=2),
        "```",
        "",
        "## Rehearsal role (dry run)",
        "",
        "`irkit contain AGENT --dry-run` only reads (the dry-run guard refuses every other call below the",
        "steps). `irkit permissions --dry-run` prints the responder policy less everything the guard refuses:",
        "the role for a staging drill against a real account, which cannot contain anyone by design. The",
        "archive is read as the log reader reads it (`--role log-reader`). See [drills.md](drills.md).",
        "",
        "```json",
        json.dumps(dry_run_policy(book), indent=2),
        "```",
        "",
        "## Why each group is needed",
        "",
        "- **Reads** (`Get*`, `List*`): the snapshot of each principal before it is changed (keys, inline",
        "  and attached policies, trust policy, login profile, MFA devices, tags, instance profiles),",
        "  and the re-read that verifies every change.",
        "- **Containment**: `UpdateAccessKey` (keys → Inactive, never deleted), `PutUserPolicy` /",
        "  `PutRolePolicy` (the `aws:TokenIssueTime` deny), `DeleteLoginProfile`, `UpdateAssumeRolePolicy`",
        "  (trust locked), `TagUser` / `TagRole` (`irkit:case`). `GetAccessKeyLastUsed` finds the owner of",
        "  an access key the stolen credentials created.",
        "- **Restore**: the same writes plus `DeleteUserPolicy` / `DeleteRolePolicy` and `UntagUser` /",
        "  `UntagRole`. Console passwords are never re-created, so `CreateLoginProfile` is not needed.",
        "",
        "A test runs the containment steps against moto with IAM authentication on, as a user holding",
        "exactly the responder policy, and expects no AccessDenied; another removes one action and",
        "expects a gap that names it while every other principal is still contained.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    sys.stdout.write(render(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_RUNBOOK))


if __name__ == "__main__":
    main()
