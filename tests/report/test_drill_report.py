"""The report of real drills (moto server, the whole runbook, `contain --yes`), read as people will:
rendered by markdown-it-py and by mermaid-cli in Chromium, validated against docs/report.schema.json.

Two drills run once for the session (tests/report/conftest.py): ``full-compromise`` (hidden admin
role, open port, miners and a stopped trail) and ``hidden-admin-role``.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from irkit.cli import main
from irkit.drill.runner import RESPONDER
from tests.report.render import (
    cell_count,
    mermaid_blocks,
    raw_table_lines,
    render_mermaid,
    require_mermaid_cli,
    table_rows,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
SECTIONS = ["Summary", "Next steps", "Containment", "Findings", "Timeline", "Revert", "Evidence", "Coverage gaps"]
MAX_REPORT = 30_000
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")


def _md(case: Path) -> str:
    return (case / "report.md").read_text(encoding="utf-8")


def _doc(case: Path) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((case / "report.json").read_bytes())
    return doc


def _section(markdown: str, name: str) -> str:
    return markdown.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("name", ["full-compromise", "hidden-admin-role"])
def test_report_json_validates_against_the_shipped_schema(drills: dict[str, Path], name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    doc = _doc(drills[name])
    assert doc["schema"] == "irkit.report/2"
    errors = [f"{e.json_path}: {e.message}" for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc)]
    assert errors == []


def test_the_schema_rejects_a_report_of_another_shape(drills: dict[str, Path]) -> None:
    doc = _doc(drills["hidden-admin-role"])
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for broken in (
        {**doc, "schema": "irkit.report/1"},
        {**doc, "timeline": [{**doc["timeline"][0], "time": "2026-11-25T03:12:09+00:00"}]},
        {k: v for k, v in doc.items() if k != "next_steps"},
    ):
        assert list(validator.iter_errors(broken))


@pytest.mark.parametrize("name", ["full-compromise", "hidden-admin-role"])
def test_sections_are_in_order_small_and_every_table_row_has_its_header_cells(
    drills: dict[str, Path], name: str
) -> None:
    markdown = _md(drills[name])
    headings = re.findall(r"(?m)^## (.+)$", markdown)
    assert headings == SECTIONS
    assert len(markdown.encode()) <= MAX_REPORT
    rows = table_rows(markdown)
    assert len(rows) > 20
    assert [(line, cells) for line, cells, header in rows if cells != header] == []
    # markdown-it pads or cuts a row to its header: count the raw cells too, and lose no row
    raw = raw_table_lines(markdown)
    tables = [b for b in markdown.split("\n\n") if b.strip().startswith("|")]
    assert len(raw) == len(rows) + 2 * len(tables)  # a header and a separator each
    for table in tables:
        lines = table.strip().splitlines()
        assert {cell_count(line) for line in lines} == {cell_count(lines[0])}, table


def test_full_compromise_report_says_what_happened_what_was_done_and_what_is_left(drills: dict[str, Path]) -> None:
    case = drills["full-compromise"]
    markdown, doc = _md(case), _doc(case)
    summary = _section(markdown, "Summary")
    assert summary.startswith("\n**Compromise: ") and "Contained: all" in summary
    assert "`203.0.113.66` (8)" in summary  # the attacker's source, counted
    assert "aws-cli/2" in summary  # and its client
    for metric in ("time to detect", "time to contain", "time to revert", "dwell time"):
        (row,) = [line for line in summary.splitlines() if line.startswith(f"| {metric} ")]
        assert "unknown" not in row  # all four are measurable in this drill
    timeline = _section(markdown, "Timeline")
    for api in ("iam:CreateRole", "iam:AttachRolePolicy", "iam:CreateAccessKey", "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RunInstances", "cloudtrail:StopLogging"):  # fmt: skip
        assert f"`{api}`" in timeline, api
    assert "`role/ops-maintenance-automation`" in timeline and "`203.0.113.66`" in timeline
    (mermaid,) = mermaid_blocks(markdown)
    assert [s for s in re.findall(r"(?m)^    section (.+)$", mermaid)] == [
        "Attack",
        "Detection",
        "Containment",
        "Revert",
    ]
    periods = re.findall(r"(?m)^        ([^:]+) : ", mermaid)
    assert 4 <= len(periods) <= 12 and all("#" not in p for p in periods)
    assert any(p.count(" : ") >= 2 for p in mermaid.splitlines())  # several events in a period
    # The miners' instance ids are named (from RunInstances' responseElements in the evidence).
    launched = set()
    for log in (case / "evidence").rglob("*.json.gz"):
        for rec in orjson.loads(gzip.decompress(log.read_bytes())).get("Records", []):
            if rec.get("eventName") == "RunInstances" and "203.0.113" in str(rec.get("sourceIPAddress")):
                launched |= {i["instanceId"] for i in rec["responseElements"]["instancesSet"]["items"]}
    assert launched and all(i in _section(markdown, "Findings") for i in launched)
    # Next steps carry the rules' remediation text for what the revert did not undo.
    assert doc["next_steps"] and all(s["text"] for s in doc["next_steps"])
    # The agent was cut off: getting it back (new credentials, never the contained keys) is a next step,
    # naming the agent's own principals, not the attacker's reverted ones.
    recover = [s for s in doc["next_steps"] if s["kind"] == "recover"]
    assert len(recover) == 1 and "irkit restore" in recover[0]["text"]
    assert "agent-infra-bot" in recover[0]["resource"] and "ops-maintenance" not in recover[0]["resource"]
    assert "## Revert" in markdown and "verified: undone" in _section(markdown, "Revert")
    evidence = _section(markdown, "Evidence")
    assert "[evidence/manifest\\.json](evidence/manifest.json)" in evidence and "intact" in evidence
    assert ".json.gz" not in evidence and "| sha256" not in evidence  # the manifest is linked, not inlined


@pytest.mark.parametrize("name", ["full-compromise", "hidden-admin-role"])
def test_no_secret_in_the_report(drills: dict[str, Path], name: str) -> None:
    for path in (drills[name] / "report.md", drills[name] / "report.json"):
        body = path.read_text(encoding="utf-8")
        assert RESPONDER.secret_access_key not in body
        # an AWS secret access key's shape: 40 characters of base64 with a slash, a plus or mixed case
        shaped = re.findall(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", body)
        assert [s for s in shaped if not re.fullmatch(r"[0-9a-f]{40}|[A-Za-z0-9-]+(/[A-Za-z0-9-]+)+", s)] == []


@pytest.mark.parametrize("name", ["full-compromise", "hidden-admin-role"])
def test_every_time_in_the_report_has_one_format(drills: dict[str, Path], name: str) -> None:
    markdown = _md(drills[name])
    stamps = STAMP.findall(markdown)
    assert len(stamps) > 20
    assert {s for s in stamps if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", s)} == set()


@pytest.mark.parametrize("name", ["full-compromise", "hidden-admin-role"])
def test_every_mermaid_block_renders_in_mermaid_cli(drills: dict[str, Path], name: str, tmp_path: Path) -> None:
    tools = require_mermaid_cli()
    blocks = mermaid_blocks(_md(drills[name]))
    assert blocks
    for i, block in enumerate(blocks):
        render_mermaid(block, tmp_path / f"{name}-{i}.svg", *tools)


def test_irkit_report_renders_the_same_report_again_from_the_case(
    drills: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    case = drills["hidden-admin-role"]
    step_md, step_doc = _md(case), _doc(case)
    (case / "report.md").unlink()
    assert main(["report", str(case)]) == 0
    printed = capsys.readouterr().out
    again_md, again_json = _md(case), (case / "report.json").read_bytes()
    assert printed.rstrip("\n") == again_md.rstrip("\n")
    # The same report, now with the report step's own end in the journal (it was running before).
    doc = orjson.loads(again_json)
    assert doc["summary"] == step_doc["summary"] and doc["finding_groups"] == step_doc["finding_groups"]
    assert [s["id"] for s in doc["steps"]] == [s["id"] for s in step_doc["steps"]] + ["report"]
    assert re.findall(r"(?m)^## .+$", again_md) == re.findall(r"(?m)^## .+$", step_md)
    # Rendering again changes nothing: report.md and report.json are a function of the case.
    assert main(["report", str(case), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc
    assert _md(case) == again_md and (case / "report.json").read_bytes() == again_json


def test_irkit_report_on_a_folder_that_is_no_case_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not an irkit case folder" in err and "Traceback" not in err
    assert main(["report", str(tmp_path), "--format", "html"]) == 2
