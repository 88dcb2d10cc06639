"""Regenerate docs/sample-report.md (and the report.json it is rendered from).

```
python scripts/sample_report.py            # render docs/sample-report.md from docs/sample-report.json
python scripts/sample_report.py --drill    # run the full-compromise drill first (moto server, ~30 s)
```
``--drill`` runs the drill in a temporary folder and keeps its report.json with the run's accidents
made stable: the case id, the clock (every time shifted so the run starts at 2026-11-25T03:30:00Z)
and the temporary paths. Nothing else is edited: the counts, ids and findings are the drill's.
tests/report/test_sample_report.py checks that the markdown is what the renderer makes of the JSON
and that the JSON has the keys a fresh drill report has (run ``--drill`` when the report changes).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from irkit.report.markdown import render_markdown  # noqa: E402
from irkit.report.times import parse  # noqa: E402

SAMPLE_JSON = ROOT / "docs" / "sample-report.json"
SAMPLE_MD = ROOT / "docs" / "sample-report.md"
SCENARIO = "full-compromise"
RUN_START = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
CASE_ID = f"DRILL-20261125-033000-{SCENARIO}"
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")


def normalise(doc: dict[str, Any], tmp: Path) -> dict[str, Any]:
    case_id = str(doc["case_id"])
    started = parse(doc["metrics"]["run_started"] or doc["window"][1])
    assert started is not None
    delta = RUN_START - started

    def shift(m: re.Match[str]) -> str:
        t = parse(m.group(0).replace(" ", "T"))
        return (t + delta).strftime("%Y-%m-%dT%H:%M:%SZ") if t else m.group(0)

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            value = value.replace(case_id, CASE_ID).replace(str(tmp), "irkit-drills")
            return _STAMP.sub(shift, value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    out: dict[str, Any] = walk(doc)
    return out


def run_drill() -> dict[str, Any]:
    from irkit.drill.runner import run_scenario, select

    with tempfile.TemporaryDirectory(prefix="irkit-sample-") as tmp:
        (scenario,) = select([SCENARIO], run_all=False)
        result = run_scenario(scenario, out=Path(tmp), echo=lambda _line: None)
        if not result.passed:
            raise SystemExit(f"the {SCENARIO} drill did not pass: {result.problems}")
        doc = orjson.loads((Path(result.report).parent / "report.json").read_bytes())
        return normalise(doc, Path(tmp))


def render(doc: dict[str, Any]) -> str:
    return render_markdown(doc)


README = ROOT / "README.md"
START, END = "<!-- sample-report excerpt: scripts/sample_report.py -->\n", "<!-- end of the excerpt -->\n"


def _first_rows(sample: str, section: str, n: int) -> str:
    body = sample.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    table = next(b for b in body.split("\n\n") if b.strip().startswith("|")).strip().splitlines()
    return "\n".join(table[: 2 + n])


def excerpt(sample: str) -> str:
    """The README's excerpt of the sample: its Summary, the first rows of Findings and Timeline,
    and the mermaid diagram."""
    summary = sample.split("## Summary\n", 1)[1].split("\n## ", 1)[0].strip("\n")
    mermaid = re.search(r"```mermaid\n.*?```", sample, re.S)
    assert mermaid is not None
    return (
        f"```markdown\n## Summary\n\n{summary}\n\n## Findings\n\n{_first_rows(sample, 'Findings', 4)}\n| …\n\n"
        f"## Timeline\n\n{_first_rows(sample, 'Timeline', 5)}\n| …\n```\n\n"
        f"The timeline's mermaid diagram (GitHub and GitLab draw it), by phase:\n\n{mermaid.group(0)}\n"
    )


def readme_with(sample: str, readme: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}{excerpt(sample)}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drill", action="store_true", help="run the drill again and keep its report.json")
    args = parser.parse_args(argv)
    if args.drill:
        SAMPLE_JSON.write_bytes(orjson.dumps(run_drill(), option=orjson.OPT_INDENT_2) + b"\n")
    doc = orjson.loads(SAMPLE_JSON.read_bytes())
    SAMPLE_MD.write_text(render(doc), encoding="utf-8")
    README.write_text(readme_with(SAMPLE_MD.read_text(encoding="utf-8"), README.read_text(encoding="utf-8")))
    print(f"wrote {SAMPLE_MD.relative_to(ROOT)} ({SAMPLE_MD.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
