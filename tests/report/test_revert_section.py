"""The revert step's actions are the Revert section's, not containment actions "applied before the run
stopped" (a finished revert read as a crash was a false statement in the report)."""

from __future__ import annotations

from pathlib import Path

from irkit.core.plan import Action
from irkit.report.build import build_report
from irkit.report.markdown import render_markdown
from tests.report.casefolder import new_case

ROLE = "arn:aws:iam::111111111111:role/ops-maintenance-automation"


def test_a_finished_revert_is_its_own_section_and_no_containment_claim(tmp_path: Path) -> None:
    case = new_case(tmp_path)
    j = case.journal
    j.append("run.start", runbook="agent-compromise", dry_run=False)
    j.append("step.start", step="revert", type="revert")
    action = Action("iam:DeleteRole", ROLE, "delete the role").to_json()
    j.append("action.start", step="revert", action=action)
    j.append("action.done", step="revert", action=action)
    change = {
        "event_name": "CreateRole", "resource": ROLE, "event_time": "2026-11-25T03:12:09Z", "path": "api",
        "undo": ["delete the role"], "reversibility": "exact", "status": "undone", "verified": True,
        "verification": "role deleted",
    }  # fmt: skip
    output = {"changes": [change], "summary": {"undone": 1}, "commits": [], "terraform": []}
    j.append("step.done", step="revert", type="revert", status="done", summary="1/1 undone", output=output,
             gaps=[], seconds=1.0)  # fmt: skip
    j.append("run.end", exit_code=0, failed=[], awaiting=None, gaps=0)

    report = build_report(case, agent_principals=[])
    markdown = render_markdown(report)
    assert report.containment == []  # no containment row made from the revert's actions
    assert "before the run stopped" not in markdown
    section = markdown.split("## Revert", 1)[1].split("\n## ", 1)[0]
    assert "| CreateRole " in section and "verified: undone" in section and "role deleted" in section
    assert "iam:DeleteRole" in markdown.split("## Timeline", 1)[1]  # irkit's own action is on the timeline


def test_the_changes_without_an_undo_say_how_many_the_plan_did_not_list(tmp_path: Path) -> None:
    """The plan lists 50 changes irkit has no undo for and says how many there were: the Revert
    section lists those and counts the rest (before, 120 such changes read as 50)."""
    case = new_case(tmp_path)
    j = case.journal
    j.append("run.start", runbook="agent-compromise", dry_run=False)
    j.append("step.start", step="revert", type="revert")
    unknown = [{"event_name": "PutBucketTagging", "resource": f"bucket/b-{n}", "event_id": f"e{n}"} for n in range(50)]
    output = {"changes": [], "summary": {}, "commits": [], "terraform": [], "unknown": unknown, "unknown_total": 120}
    j.append("step.done", step="revert", type="revert", status="done", summary="0/0 undone", output=output,
             gaps=[], seconds=1.0)  # fmt: skip
    j.append("run.end", exit_code=0, failed=[], awaiting=None, gaps=0)
    section = render_markdown(build_report(case, agent_principals=[])).split("## Revert", 1)[1].split("\n## ", 1)[0]
    assert "Changes irkit has no undo for" in section and "b-49" in section
    assert "… and 70 more changes without an undo (findings.json's inventory lists every change)." in section
