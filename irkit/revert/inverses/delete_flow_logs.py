"""DeleteFlowLogs: not reversible (the plan and the report name the loss)."""

from __future__ import annotations

from collections.abc import Mapping

from irkit.detect.event import Event
from irkit.revert.inverses._loss import Loss
from irkit.revert.inverses._record import record
from irkit.revert.model import Change, get, make_change


class DeleteFlowLogs(Loss):
    event = "DeleteFlowLogs"
    service = "ec2"
    fields = ("DeleteFlowLogsRequest", "flowLogIds")
    lost = "the flow log is gone (and no traffic was recorded meanwhile): create it again by hand"

    def change(self, event: Event) -> Change | None:
        raw = get(event.request, "DeleteFlowLogsRequest", "FlowLogId") or event.request.get("flowLogIds")
        entries = raw if isinstance(raw, list) else [raw]
        ids = [str(e.get("content")) if isinstance(e, Mapping) else str(e) for e in entries if e]
        if not ids:
            return None
        return make_change(
            event,
            resource=f"flow logs {', '.join(ids)}",
            key=f"ec2:flow-logs:{','.join(ids)}",
            params={"flow_logs": ids},
        )

    example = record(
        "ec2", "DeleteFlowLogs", {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0123456789abcdef0"}}}
    )


INVERSE = DeleteFlowLogs()
