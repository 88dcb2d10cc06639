"""AddPermission (a Lambda resource-policy statement) → that statement removed by its id. Lambda logs the
event as ``AddPermission20150331v2``; the registry reads it by its plain name."""

from __future__ import annotations

import json

from irkit.detect.event import Event
from irkit.revert.calls import read
from irkit.revert.inverses._record import record
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


class AddPermission(Inverse):
    event = "AddPermission"
    service = "lambda"
    reversibility = Reversibility.EXACT
    permissions = ("lambda:GetPolicy", "lambda:RemovePermission")
    cancelled_by = frozenset({"RemovePermission", "DeleteFunction"})
    example = record(
        "lambda",
        "AddPermission",
        {
            "functionName": "orders-api",
            "statementId": "public-invoke",
            "action": "lambda:InvokeFunction",
            "principal": "*",
        },
    )

    def change(self, event: Event) -> Change | None:
        function = text(event.request.get("functionName"))
        sid = text(event.request.get("statementId"))
        if not function or not sid:
            return None
        qualifier = text(event.request.get("qualifier"))
        who = text(event.request.get("principal")) or "?"
        return make_change(
            event,
            resource=f"lambda function {function} permission {sid} for {who}",
            key=f"lambda:permission:{function}:{qualifier}:{sid}",
            params={"function": function, "sid": sid, "qualifier": qualifier},
            match=[[function]],
        )

    def _present(self, change: Change, ctx: PlanContext) -> bool:
        args: dict[str, object] = {"FunctionName": change.params["function"]}
        if change.params.get("qualifier"):
            args["Qualifier"] = change.params["qualifier"]
        got = read(ctx.client, "lambda:GetPolicy", change.region, change.resource, missing=GONE, **args)
        if got is None:
            return False
        try:
            statements = json.loads(str(got.get("Policy") or "{}")).get("Statement") or []
        except ValueError:
            return True  # unreadable: never call it gone
        return any(isinstance(s, dict) and s.get("Sid") == change.params["sid"] for s in statements)

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        if not self._present(change, ctx):
            return Undo(status="nothing to do", notes=("the statement (or the function) is gone",))
        args: dict[str, object] = {"FunctionName": change.params["function"], "StatementId": change.params["sid"]}
        if change.params.get("qualifier"):
            args["Qualifier"] = change.params["qualifier"]
        return Undo((Call("lambda:RemovePermission", change.region, args, f"remove {change.params['sid']}", GONE),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        if self._present(change, ctx):
            return present(f"statement {change.params['sid']} still in the function's policy")
        return undone("statement removed from the function's policy")


INVERSE = AddPermission()
