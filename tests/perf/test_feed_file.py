"""``Analyzer.feed_file`` — how the analysis pass feeds a file's events (each every-event consumer
takes the whole file in one loop) — returns what ``feed`` of each event, one after the other,
returns: the whole analysis as JSON (findings in order, chain, principals, inventory, folds), the
errors, and the state handed to a merge."""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
import pytest

from irkit.detect.analyzer import Analyzer
from irkit.detect.baseline import Baseline
from irkit.detect.detector import DetectorContext
from irkit.detect.detectors import DETECTORS
from irkit.detect.event import Event
from irkit.detect.labelled import AGENT_ROLE, AGENT_USER, generate


@cache
def _events() -> tuple[Event, ...]:
    """The labelled set with the account's workloads, then every detector's scenarios."""
    events = [Event.from_record(dict(r)) for r in generate(benign=4_000, seed=11, variants=2, workloads=800).records]
    for make in DETECTORS:
        for scenario in make(DetectorContext(filtering=False)).info.positive:
            events.extend(Event.from_record(dict(r)) for r in scenario)
    return tuple(events)


@cache
def _baseline() -> Baseline:
    return Baseline.learn(
        [Event.from_record(r) for r in generate(benign=2_500, seed=9, variants=0).records], agent="account"
    )


def _files(events: Sequence[Event], seed: int) -> list[list[Event]]:
    """Cut in files of random sizes, some of them empty (a file with no record)."""
    rng = random.Random(seed)
    files, at = [], 0
    while at < len(events):
        size = rng.choice([0, 1, 7, 120, 500, 1_500])
        files.append(list(events[at : at + size]))
        at += size
    return files


def _document(analyzer: Analyzer) -> tuple[bytes, list[str]]:
    analysis = analyzer.finish()
    return orjson.dumps(analysis.to_json(), default=str), analysis.errors


OPTIONS: dict[str, dict[str, Any]] = {
    "every principal": {},
    "a baseline, no principals": {"baseline": "learned"},
    "the agent's principals": {"principals": [AGENT_ROLE, AGENT_USER]},
}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("option", list(OPTIONS), ids=list(OPTIONS))
def test_a_file_at_a_time_is_an_event_at_a_time(option: str, seed: int) -> None:
    options = dict(OPTIONS[option])
    if options.get("baseline") == "learned":
        options["baseline"] = _baseline()
    events = _events()
    one = Analyzer(**options)
    for event in events:
        one.feed(event)
    files = Analyzer(**options)
    for batch in _files(events, seed):
        files.feed_file(batch)
    assert files.state_size() == one.state_size()
    document, errors = _document(files)
    assert (document, errors) == _document(one)
    assert b'"rule_id"' in document  # the set's incidents are found: the comparison is not of nothing


def test_the_rules_errors_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that raises is an error line per event, in reading order, either way."""
    from irkit.detect import analyzer as analyzer_module

    real = analyzer_module.all_rules()
    broken = [r for r in real if r.id == "root_user_activity"]
    assert broken
    original = broken[0].match

    def fails(event: Event) -> bool:
        if event.event_id.endswith(("1", "7")):
            raise ValueError(f"boom {event.event_id}")
        return original(event)

    object.__setattr__(broken[0], "match", fails)
    object.__setattr__(broken[0], "identities", ())  # every event, whatever its identity type
    try:
        events = _events()[:3_000]
        one = Analyzer()
        for event in events:
            one.feed(event)
        files = Analyzer()
        for batch in _files(events, 3):
            files.feed_file(batch)
        assert files.finish().errors == one.finish().errors != []
    finally:
        object.__setattr__(broken[0], "match", original)
        object.__setattr__(broken[0], "identities", ("Root",))
