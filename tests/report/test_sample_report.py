"""docs/sample-report.md is what the renderer makes of docs/sample-report.json, and that JSON still
has the shape of a fresh drill's report (otherwise: `python scripts/sample_report.py --drill`)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema

from tests.report.render import mermaid_blocks, render_mermaid, require_mermaid_cli
from tests.report.test_drill_report import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate it: python scripts/sample_report.py --drill"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_report", ROOT / "scripts" / "sample_report.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _shape(value: Any, depth: int = 0) -> Any:
    """The keys of a report, two levels deep (lists by the keys of their rows)."""
    if depth >= 2:
        return None
    if isinstance(value, dict):
        return {k: _shape(v, depth + 1) for k, v in value.items() if not isinstance(v, dict) or depth < 1}
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return sorted(set().union(*(r.keys() for r in value if isinstance(r, dict))))
    return None


def test_the_sample_report_is_regenerated_from_its_json() -> None:
    script = _script()
    doc = json.loads(script.SAMPLE_JSON.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert script.render(doc) == script.SAMPLE_MD.read_text(encoding="utf-8"), REGENERATE
    assert len(script.SAMPLE_MD.read_bytes()) <= 30_000


def test_the_sample_json_has_the_keys_of_a_fresh_drill_report(drills: dict[str, Path]) -> None:
    fresh = json.loads((drills["full-compromise"] / "report.json").read_text())
    sample = json.loads(_script().SAMPLE_JSON.read_text())
    assert sorted(sample) == sorted(fresh), REGENERATE
    for key in ("summary", "metrics", "counts", "evidence", "activity"):
        assert sorted(sample[key]) == sorted(fresh[key]), (key, REGENERATE)
    for key in ("timeline", "finding_groups", "next_steps", "containment", "sessions", "steps"):
        assert _shape(sample[key]) == _shape(fresh[key]), (key, REGENERATE)


def test_readme_quotes_the_current_sample() -> None:
    script = _script()
    readme = script.README.read_text(encoding="utf-8")
    sample = script.SAMPLE_MD.read_text(encoding="utf-8")
    assert script.readme_with(sample, readme) == readme, "README's excerpt is stale: " + REGENERATE
    assert sample.split("## Summary\n\n", 1)[1].split("\n", 1)[0] in readme  # the verdict is quoted


def test_the_sample_and_readme_mermaid_blocks_render(tmp_path: Path) -> None:
    tools = require_mermaid_cli()
    blocks = mermaid_blocks(_script().SAMPLE_MD.read_text(encoding="utf-8"))
    blocks += mermaid_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 2
    for i, block in enumerate(dict.fromkeys(blocks)):
        render_mermaid(block, tmp_path / f"sample-{i}.svg", *tools)
