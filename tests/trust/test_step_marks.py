"""✓ only for a step that achieved its purpose without gaps."""

from __future__ import annotations

import pytest

from irkit.engine.executor import INCOMPLETE, step_mark


@pytest.mark.parametrize(
    ("status", "gaps", "summary", "output", "mark"),
    [
        ("done", False, "8/8 containment actions verified", {"complete": True}, "✓"),
        ("done", True, "83 files collected", {}, "!"),
        ("done", True, "0 findings over 0 events in 0 files", {"events": 0}, "!"),
        (INCOMPLETE, True, "refused: too many actions; NOT contained", {"complete": False}, "✗"),
        (INCOMPLETE, True, "0/0 containment actions verified", {"complete": False}, "✗"),
        ("done", True, "refused: too many actions", {}, "✗"),
        ("done", False, "digest chain 4 INTEGRITY PROBLEMS", {"ok": False, "problems": [{"kind": "x"}]}, "✗"),
        ("done", False, "digest chain intact", {"ok": True, "problems": []}, "✓"),
        ("failed", False, "boom", {}, "✗"),
        ("declined", False, "declined by the operator", {}, "✗"),
        ("planned", False, "dry run: planned, not applied", {}, "·"),
    ],
)
def test_marks(status: str, gaps: bool, summary: str, output: dict[str, object], mark: str) -> None:
    assert step_mark(status, gaps=gaps, summary=summary, output=output) == mark


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from irkit.commands import _common

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(_common.sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _common.use_colour() is True
    assert "\x1b[" in _common._coloured("  ✓ contain: done", err=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert _common._coloured("  ✓ contain: done", err=False) == "  ✓ contain: done"
