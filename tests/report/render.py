"""Real renderers for the report tests: mermaid-cli (npm, in Chromium) and markdown-it-py's tables.

``mermaid_cli()`` finds ``node_modules/.bin/mmdc`` (``PUPPETEER_SKIP_DOWNLOAD=1 npm install`` at the
repository root; .ci/run does it) and the system ``chromium``; ``require_mermaid_cli()`` skips with the
reason when one is missing locally, and FAILS under CI (``$CI`` set), where a skip would hide a broken render.
``render_mermaid(block, out)`` fails with mermaid's own message on a parse error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from markdown_it.token import Token

from tests.report.casefolder import MD

ROOT = Path(__file__).resolve().parents[2]
MMDC = ROOT / "node_modules" / ".bin" / "mmdc"


def mermaid_cli() -> tuple[Path, str] | str:
    """(mmdc, chromium) or the reason they cannot be used here."""
    if not shutil.which("node"):
        return "node is not installed"
    if not MMDC.exists():
        return f"{MMDC} is absent: run `PUPPETEER_SKIP_DOWNLOAD=1 npm install` in {ROOT}"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        return "no chromium on PATH (Debian: apt-get install chromium)"
    return MMDC, chromium


def require_mermaid_cli() -> tuple[Path, str]:
    """(mmdc, chromium); a skip with the reason when absent here, a failure when absent in CI."""
    tools = mermaid_cli()
    if isinstance(tools, str):
        if os.environ.get("CI"):
            pytest.fail(f"mermaid-cli must run in CI: {tools}")
        pytest.skip(f"mermaid-cli cannot run here: {tools}")
    return tools


def mermaid_blocks(markdown: str) -> list[str]:
    return [t.content for t in MD.parse(markdown) if t.type == "fence" and t.info.strip() == "mermaid"]


def render_mermaid(block: str, out: Path, mmdc: Path, chromium: str) -> Path:
    """``block`` rendered to ``out`` (.svg or .png) by mermaid-cli; AssertionError on any error."""
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_suffix(".mmd")
    source.write_text(block, encoding="utf-8")
    config = out.parent / "puppeteer.json"
    config.write_text(json.dumps({"executablePath": chromium, "args": ["--no-sandbox", "--disable-gpu"]}))
    proc = subprocess.run(
        [str(mmdc), "-p", str(config), "-i", str(source), "-o", str(out), "-w", "1200", "-b", "white", "-q"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"mermaid-cli failed ({proc.returncode}): {proc.stderr[-2000:]}\n{block}"
    assert out.exists() and out.stat().st_size > 0
    if out.suffix == ".svg":
        svg = out.read_text(encoding="utf-8")
        # mermaid draws a "Syntax error" picture instead of failing in some versions
        assert "Syntax error" not in svg and 'aria-roledescription="error"' not in svg, svg[:500]
    return out


def table_rows(markdown: str) -> list[tuple[int, int, int]]:
    """For every table row: (line, its cell count, its table's header cell count)."""
    toks = MD.parse(markdown)
    out: list[tuple[int, int, int]] = []
    header = 0
    cells = 0
    line = 0
    in_head = False
    for t in toks:
        if t.type == "thead_open":
            in_head, header = True, 0
        elif t.type == "thead_close":
            in_head = False
        elif t.type == "tr_open":
            cells, line = 0, (t.map or [0])[0]
        elif t.type in {"th_open", "td_open"}:
            cells += 1
            if in_head:
                header += 1
        elif t.type == "tr_close" and not in_head:
            out.append((line, cells, header))
    return out


def raw_table_lines(markdown: str) -> list[str]:
    """Lines that look like table rows in the raw text (what a renderer without tables shows)."""
    return [line for line in markdown.splitlines() if line.startswith("|")]


def cell_count(line: str) -> int:
    """Cells of a GFM row: pipes not escaped with a backslash, minus the outer two."""
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def walk(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for t in tokens:
        out.append(t)
        out.extend(walk(t.children or []))
    return out
