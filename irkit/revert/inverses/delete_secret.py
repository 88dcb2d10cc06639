"""DeleteSecret → RestoreSecret within the recovery window (first: the window expires); a deletion
with ``forceDeleteWithoutRecovery`` is not reversible."""

from __future__ import annotations

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import ACCOUNT, record
from irkit.revert.model import (
    Call,
    Change,
    Inverse,
    PlanContext,
    Reversibility,
    Undo,
    Verdict,
    make_change,
    present,
    text,
    undone,
)

GONE = ("ResourceNotFoundException",)


class DeleteSecret(Inverse):
    event = "DeleteSecret"
    service = "secretsmanager"
    reversibility = Reversibility.TIME_BOXED
    permissions = ("secretsmanager:DescribeSecret", "secretsmanager:RestoreSecret")
    example = record(
        "secretsmanager",
        "DeleteSecret",
        {"secretId": "prod/orders-db", "recoveryWindowInDays": 7},
        {
            "arn": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:prod/orders-db-AbCdEf",
            "name": "prod/orders-db",
            "deletionDate": "Dec 2, 2026 12:00:00 AM",
        },
    )

    def change(self, event: Event) -> Change | None:
        secret = text(event.response.get("arn")) or text(event.request.get("secretId"))
        if not secret:
            return None
        forced = event.request.get("forceDeleteWithoutRecovery") in (True, "true")
        return make_change(
            event,
            resource=f"secret {secret}",
            key=f"secretsmanager:{text(event.request.get('secretId')) or secret}",
            params={"secret": secret, "forced": forced},
            match=[[secret]],
        )

    def _deleted(self, change: Change, ctx: PlanContext) -> bool | None:
        got = read(
            ctx.client,
            "secretsmanager:DescribeSecret",
            change.region,
            change.resource,
            missing=GONE,
            SecretId=change.params["secret"],
        )
        return None if got is None else bool(got.get("DeletedDate"))

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        deleted = self._deleted(change, ctx)
        if change.params.get("forced") or deleted is None:
            return Undo(
                status="not reversible", notes=("deleted without recovery (or the recovery window has passed)",)
            )
        if not deleted:
            return Undo(status="nothing to do", notes=("the secret is no longer scheduled for deletion",))
        return Undo(
            (
                Call(
                    "secretsmanager:RestoreSecret",
                    change.region,
                    {"SecretId": change.params["secret"]},
                    "restore the secret",
                ),
            )
        )

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        deleted = self._deleted(change, ctx)
        if deleted is None:
            return Verdict("lost", "the secret is gone for good")
        return present("the secret is still scheduled for deletion") if deleted else undone("secret restored")


INVERSE = DeleteSecret()
