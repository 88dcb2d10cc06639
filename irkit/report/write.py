"""Build report.json from the case folder, render report.md from it, write both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from irkit.core.case import Case
from irkit.report.build import build_report
from irkit.report.markdown import render_markdown


@dataclass(frozen=True)
class WrittenReport:
    doc: dict[str, Any]
    markdown_text: str
    markdown: Path
    json: Path


def write_report(case: Case, *, agent_principals: list[str]) -> WrittenReport:
    doc = build_report(case, agent_principals=agent_principals).to_json()
    # The JSON round trip makes the markdown's source exactly what report.json holds.
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    doc = orjson.loads(data)
    md = render_markdown(doc)
    md_path, json_path = case.root / "report.md", case.root / "report.json"
    json_path.write_bytes(data)
    md_path.write_text(md, encoding="utf-8")
    return WrittenReport(doc, md, md_path, json_path)
