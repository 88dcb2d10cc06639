"""The digest chain's one-word verdict: "intact" only when a digest vouched for something."""

from __future__ import annotations

from pathlib import Path

from irkit.cloudtrail.collect import CollectResult
from irkit.cloudtrail.digest import IntegrityProblem, VerifyReport
from irkit.cloudtrail.pipeline import CollectOutcome, render


def _report(*, digests: int = 0, logs: int = 0, pending: int = 0, problems: int = 0) -> VerifyReport:
    found = [IntegrityProblem("log-missing", f"AWSLogs/x/{i}.json.gz", "in a digest, absent") for i in range(problems)]
    return VerifyReport(logs, digests, found, [f"AWSLogs/p/{i}.json.gz" for i in range(pending)])


def test_intact_needs_a_digest_that_was_checked() -> None:
    assert _report(digests=2, logs=5).verdict == "intact"


def test_an_empty_window_is_not_called_intact() -> None:
    verdict = _report().verdict
    assert "intact" not in verdict
    assert verdict.startswith("NOT VERIFIED")


def test_logs_newer_than_every_digest_are_not_verified_yet() -> None:
    verdict = _report(pending=3).verdict
    assert "intact" not in verdict
    assert "no digest covers" in verdict


def test_problems_win_over_everything() -> None:
    assert _report(digests=4, logs=9, problems=2).verdict == "2 INTEGRITY PROBLEMS"


def test_collect_output_for_an_empty_window_does_not_say_ok(tmp_path: Path) -> None:
    result = CollectResult(0, 0, 0, tmp_path / "manifest.json", (), ())
    text = render(CollectOutcome(result, _report(), tmp_path))
    line = next(x for x in text.splitlines() if x.startswith("digest chain"))
    assert "OK" not in line and "intact" not in line
    assert "NOT VERIFIED" in line
