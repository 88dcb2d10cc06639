"""A case folder run through the real engine and the real detect and report steps, offline.

``run_case(tmp_path, records, ...)`` writes ``records`` as a CloudTrail log into the case's evidence,
runs ``detect`` then ``report`` with the executor (neither calls AWS) and returns the case. Tests read
``report.md`` and ``report.json`` from it and parse the markdown with markdown-it-py.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from markdown_it import MarkdownIt
from markdown_it.token import Token

from irkit.aws.session import Aws
from irkit.config import parse_config
from irkit.core.case import Case, CaseMeta
from irkit.core.context import RunContext
from irkit.detect.records import ACCOUNT, AGENT_ROLE
from irkit.engine.executor import Executor
from irkit.engine.runbook import parse_runbook

WINDOW = (datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC))
LOG_KEY = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/25/{ACCOUNT}_CloudTrail_us-east-1_20261125T1005Z_a.json.gz"
MD = MarkdownIt("gfm-like")


def new_case(tmp_path: Path, case_id: str = "IR-TEST") -> Case:
    meta = CaseMeta(
        case_id=case_id,
        agent="infra-optimizer",
        runbook="test",
        hours=24,
        dry_run=False,
        created=WINDOW[1].isoformat(timespec="seconds"),
        window_start=WINDOW[0].isoformat(timespec="seconds"),
        window_end=WINDOW[1].isoformat(timespec="seconds"),
    )
    return Case.create(tmp_path, meta, config_text="", runbook_text="")


def write_log(case: Case, records: Sequence[Any], key: str = LOG_KEY) -> Path:
    path = case.evidence_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(orjson.dumps({"Records": list(records)})))
    return path


def run_steps(case: Case, *steps: str, principals: Sequence[str] = (AGENT_ROLE,)) -> Any:
    settings = parse_config(
        {
            # never called: detect and report read the case folder only
            "aws": {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9"},
            "agents": {"infra-optimizer": {"account": ACCOUNT, "principals": list(principals)}},
        }
    )
    ctx = RunContext(
        settings=settings,
        agent=settings.agent("infra-optimizer"),
        case=case,
        aws=Aws(settings.aws),
        journal=case.journal,
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        echo=lambda _line: None,
    )
    text = "name: test\nsteps:\n" + "".join(f"  - {s}\n" for s in steps)
    return Executor(ctx, parse_runbook(text)).run()


def run_case(tmp_path: Path, records: Sequence[Any], *, baseline: Path | None = None) -> Case:
    case = new_case(tmp_path)
    write_log(case, records)
    detect = f"{{step: detect, with: {{baseline: {baseline}}}}}" if baseline else "step: detect"
    run_steps(case, detect, "step: report")
    return case


def tokens(markdown: str) -> list[Token]:
    """Every token of the page, inline children included."""
    out: list[Token] = []

    def walk(items: list[Token]) -> None:
        for t in items:
            out.append(t)
            walk(t.children or [])

    walk(MD.parse(markdown))
    return out


def headings(markdown: str) -> list[str]:
    toks = MD.parse(markdown)
    return [toks[i + 1].content for i, t in enumerate(toks) if t.type == "heading_open"]


HOSTILE_ROLE = (
    "ops\n# Owned heading\n[click here](http://evil.example/x) ![img](http://evil.example/i.png) "
    "<script>alert(1)</script> <img src=x onerror=alert(2)>\n```\nfenced payload\n```\n"
    "\x1b]0;pwned title\x07 \x1b]8;;http://evil.example\x1b\\hyperlink\x1b]8;;\x1b\\ \x1b[2J"
)
OWN_HEADINGS = {
    "Summary", "Steps", "Containment actions", "Findings", "Credential chain", "Revert", "Timeline", "Evidence",
    "Integrity (CloudTrail digest chain)", "Rewritten logs", "Coverage gaps", "Notes",
}  # fmt: skip


def assert_inert(markdown: str) -> None:
    """Nothing but the report's own structure is live markup."""
    toks = tokens(markdown)
    types = [t.type for t in toks]
    title, *rest = headings(markdown)
    assert re.fullmatch(r"Incident report IR-[A-Z]+", title), title
    assert set(rest) <= OWN_HEADINGS, rest
    assert "link_open" not in types and "image" not in types
    assert "html_inline" not in types and "html_block" not in types
    assert [t.info for t in toks if t.type == "fence"] in ([], ["mermaid"])
    assert "code_block" not in types  # an indented line would be one
    assert "\x1b" not in markdown and "\x07" not in markdown
