"""Read log files and analyse them in one pass: the reader (:mod:`irkit.cloudtrail.reader`) feeds the
pure analyzer (:mod:`irkit.detect.analyzer`). Detection itself never opens a file."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path

from irkit.cloudtrail.reader import ReadStats, iter_events
from irkit.detect.analyzer import Analysis, Analyzer
from irkit.detect.baseline import Baseline
from irkit.detect.sigma import SigmaRuleSet


def analyze_paths(
    paths: Sequence[Path],
    *,
    principals: Sequence[str] | None = None,
    baseline: Baseline | None = None,
    sigma: SigmaRuleSet | None = None,
) -> tuple[Analysis, ReadStats]:
    """Read every log under ``paths`` once and analyse it; unreadable input becomes gaps in the stats."""
    stats = ReadStats()
    analyzer = Analyzer(principals=principals, baseline=baseline, sigma=sigma)
    # The cyclic collector is paused for the pass: records, events and the analyzer's state form
    # no reference cycles (refcounting frees them), yet with it on, every file's fresh objects
    # are scanned on their way to the old generation and each full collection re-walks the
    # analyzer's growing state: ~20 % of the pass at 1M events (docs/performance.md).
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        feed = analyzer.feed
        for event in iter_events(paths, stats):
            feed(event)
    finally:
        if paused:
            gc.enable()
    return analyzer.finish(), stats
