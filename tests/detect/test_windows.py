"""``windows`` — the sliding windows every burst detector flags with — against the plainest
reading of its contract: every window of ``seconds`` ending at a hit, tried one by one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from irkit.detect.detector import Hit, windows

T0 = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)


def reference(hits: list[Hit], seconds: float, weight: Any, minimum: float, enough: Any) -> list[list[Hit]]:
    ordered = sorted(hits, key=lambda h: h.time)
    flagged = [False] * len(ordered)
    for end, hit in enumerate(ordered):
        window = [i for i in range(end + 1) if (hit.time - ordered[i].time).total_seconds() <= seconds]
        total = sum(weight(ordered[i]) for i in window)
        if total >= minimum and (enough is None or enough(total, [ordered[i] for i in window])):
            for i in window:
                flagged[i] = True
    episodes: list[list[Hit]] = []
    for i, hit in enumerate(ordered):
        if flagged[i]:
            if episodes and flagged[i - 1] and (hit.time - ordered[i - 1].time).total_seconds() <= seconds:
                episodes[-1].append(hit)
            else:
                episodes.append([hit])
    return episodes


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=4_000_000_000), max_size=40),
    weights=st.lists(st.integers(min_value=0, max_value=5), min_size=40, max_size=40),
    seconds=st.sampled_from([0, 1, 60, 300, 600, 1200.5]),
    minimum=st.integers(min_value=0, max_value=12),
    distinct=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
)
def test_windows_flag_what_trying_every_window_flags(
    offsets: list[int], weights: list[int], seconds: float, minimum: int, distinct: int | None
) -> None:
    # microsecond offsets (up to ~67 min): windows end and start exactly on and around the boundaries
    hits = [
        Hit(T0 + dt.timedelta(microseconds=o), f"e-{i:02d}", "why", "arn", (weights[i], f"api{o % 5}"))
        for i, o in enumerate(offsets)
    ]
    weight = lambda h: h.extra[0]  # noqa: E731
    enough = None if distinct is None else (lambda _total, hs: len({h.extra[1] for h in hs}) >= distinct)
    assert windows(hits, seconds=seconds, weight=weight, minimum=minimum, enough=enough) == reference(
        hits, seconds, weight, minimum, enough
    )


def test_a_window_exactly_seconds_long_holds_both_ends() -> None:
    hits = [Hit(T0, "a", "", "p", 1), Hit(T0 + dt.timedelta(seconds=600), "b", "", "p", 1)]
    assert windows(hits, seconds=600, weight=lambda h: h.extra, minimum=2) == [hits]
    late = [hits[0], Hit(T0 + dt.timedelta(seconds=600, microseconds=1), "b", "", "p", 1)]
    assert windows(late, seconds=600, weight=lambda h: h.extra, minimum=2) == []
