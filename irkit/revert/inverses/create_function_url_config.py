"""CreateFunctionUrlConfig → the function URL deleted (it did not exist before the event). Lambda logs
the event as ``CreateFunctionUrlConfig20211031``; the registry reads it by its plain name."""

from __future__ import annotations

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


class CreateFunctionUrlConfig(Inverse):
    event = "CreateFunctionUrlConfig"
    service = "lambda"
    reversibility = Reversibility.EXACT
    permissions = ("lambda:GetFunctionUrlConfig", "lambda:DeleteFunctionUrlConfig")
    cancelled_by = frozenset({"DeleteFunctionUrlConfig", "DeleteFunction"})
    example = record("lambda", "CreateFunctionUrlConfig", {"functionName": "orders-api", "authType": "NONE"})

    def change(self, event: Event) -> Change | None:
        function = text(event.request.get("functionName"))
        if not function:
            return None
        qualifier = text(event.request.get("qualifier"))
        auth = text(event.request.get("authType")) or "?"
        return make_change(
            event,
            resource=f"lambda function {function} URL (auth {auth})",
            key=f"lambda:url:{function}:{qualifier}",
            params={"function": function, "qualifier": qualifier},
            match=[[function]],
        )

    def _args(self, change: Change) -> dict[str, object]:
        args: dict[str, object] = {"FunctionName": change.params["function"]}
        if change.params.get("qualifier"):
            args["Qualifier"] = change.params["qualifier"]
        return args

    def _exists(self, change: Change, ctx: PlanContext) -> bool:
        args = self._args(change)
        got = read(ctx.client, "lambda:GetFunctionUrlConfig", change.region, change.resource, missing=GONE, **args)
        return got is not None

    def plan(self, change: Change, ctx: PlanContext) -> Undo:
        if not self._exists(change, ctx):
            return Undo(status="nothing to do", notes=("the function URL (or the function) is gone",))
        args = self._args(change)
        return Undo((Call("lambda:DeleteFunctionUrlConfig", change.region, args, "delete the function URL", GONE),))

    def verify(self, change: Change, ctx: PlanContext) -> Verdict:
        return present("the function URL still exists") if self._exists(change, ctx) else undone("function URL deleted")


INVERSE = CreateFunctionUrlConfig()
