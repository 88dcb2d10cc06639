"""A pipe, a backtick, ``<script>``, a link, a newline and an ANSI escape in every CloudTrail field
the new sections show (source IP, user agent, request parameters, event id, error code) break no
table, open no markup and reach no mermaid grammar: through the real detect and report steps,
parsed with markdown-it-py, and rendered with mermaid-cli when it is installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson

from irkit.detect.records import record
from tests.report.casefolder import assert_inert, run_case, tokens
from tests.report.render import cell_count, mermaid_blocks, render_mermaid, require_mermaid_cli, table_rows

PAYLOAD = "a|b `tick` <script>alert(1)</script> [x](http://evil.example) line\nnext \x1b[31mred\x1b[0m #58; : %%"


def hostile_records() -> list[dict[str, object]]:
    common = {"ip": f"203.0.113.9 {PAYLOAD}", "user_agent": f"aws-cli/2 {PAYLOAD}"}
    return [
        record("CreateRole", "iam.amazonaws.com", request={"roleName": f"r{PAYLOAD}"}, event_id=f"e1{PAYLOAD}",
               time="2026-11-25T10:00:00Z", **common),  # type: ignore[arg-type]
        record("AttachRolePolicy", "iam.amazonaws.com", event_id=f"e2{PAYLOAD}", time="2026-11-25T10:01:00Z",
               request={"roleName": f"r{PAYLOAD}", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
               **common),  # type: ignore[arg-type]
        record("StopLogging", "cloudtrail.amazonaws.com", request={"name": f"t{PAYLOAD}"}, event_id=f"e3{PAYLOAD}",
               time="2026-11-25T10:02:00Z", error=f"Denied{PAYLOAD}", **common),  # type: ignore[arg-type]
    ]  # fmt: skip


def test_hostile_cloudtrail_fields_are_text_in_every_section(tmp_path: Path) -> None:
    case = run_case(tmp_path, hostile_records())
    markdown = (case.root / "report.md").read_text(encoding="utf-8")
    doc = orjson.loads((case.root / "report.json").read_bytes())
    assert doc["counts"]["flagged_events"] == 3  # the events were found and described ...
    assert_inert(markdown)  # ... and nothing of theirs is markup
    assert "\x1b" not in markdown  # inside code spans, `<script>` is literal text (assert_inert: no HTML)
    rows = table_rows(markdown)
    assert rows and [(line, c, h) for line, c, h in rows if c != h] == []
    for block in [b for b in markdown.split("\n\n") if b.strip().startswith("|")]:
        lines = block.strip().splitlines()
        assert {cell_count(line) for line in lines} == {cell_count(lines[0])}, block
    # The hostile text is shown as itself (escapes visible) in the timeline's cells.
    cells = [t.content for t in tokens(markdown) if t.type in {"text", "code_inline"}]
    assert any("<script>alert(1)</script>" in c for c in cells)
    assert any("\\x1b[31mred" in c for c in cells)
    timeline = markdown.split("\n## Timeline\n", 1)[1].split("\n## ", 1)[0]
    assert "`iam:CreateRole`" in timeline and "`iam:AttachRolePolicy`" in timeline
    # mermaid: periods and sections are the report's own; events are plain text or entity codes.
    (block,) = mermaid_blocks(markdown)
    for line in block.splitlines()[2:]:
        if line.startswith("    section "):
            assert line.split(" ", 5)[-1] in {"Attack", "Detection", "Containment", "Revert"}
            continue
        period, _, events = line.strip().partition(" : ")
        assert re.fullmatch(r"[0-9]{2}(-[0-9]{2} )?[0-9h ]*[0-9]{2} UTC|time unknown", period.strip()), line
        assert all(re.fullmatch(r"(?:[\w .,/()+=@!?'-]|#\d+;)+", e) for e in events.split(" : ")), line


def test_hostile_mermaid_block_renders(tmp_path: Path) -> None:
    tools = require_mermaid_cli()
    case = run_case(tmp_path, hostile_records())
    (block,) = mermaid_blocks((case.root / "report.md").read_text(encoding="utf-8"))
    svg = render_mermaid(block, tmp_path / "hostile.svg", *tools).read_text(encoding="utf-8")
    assert "<script" not in svg.split("</style>", 1)[-1]  # the payload's tag is text, not an element
    assert "iam:CreateRole" in svg  # the entity code became the colon it stands for
