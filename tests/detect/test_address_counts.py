"""AddressCounts.merge, against the call-by-call fold it batches.

The merge folds each principal's calls from addresses past the bounds into its overflow bucket with
one ``_fold`` per principal; what it keeps must be what folding them one by one keeps: the same
counts in the same order (the overflow bucket last, or where the principal's table had it), the
same fold totals and folded principals.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from irkit.detect.detectors import _networks
from irkit.detect.detectors._networks import OVERFLOW, AddressCounts


def _reference_merge(mine: AddressCounts, later: AddressCounts) -> None:
    """The merge as specified, one call's fold at a time."""
    for actor, theirs in later.by_actor.items():
        ips = mine.by_actor.setdefault(actor, {})
        for ip, n in theirs.items():
            if ip == OVERFLOW:
                ips[OVERFLOW] = ips.get(OVERFLOW, 0) + n
            elif ip in ips:
                ips[ip] += n
            elif len(ips) < _networks.MAX_ADDRESSES and mine.held < _networks.MAX_ADDRESSES_TOTAL:
                ips[ip] = n
                mine.held += 1
            else:
                ips[OVERFLOW] = ips.get(OVERFLOW, 0) + n
                mine.folded += n
                if len(mine.folded_actors) < _networks.MAX_HITS:
                    mine.folded_actors.add(actor)
    mine.folded += later.folded
    for actor in later.folded_actors:
        if len(mine.folded_actors) < _networks.MAX_HITS:
            mine.folded_actors.add(actor)


_calls = st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from([f"10.0.0.{i}" for i in range(9)])), max_size=40)


def _table(calls: list[tuple[str, str]]) -> AddressCounts:
    table = AddressCounts()
    for actor, ip in calls:
        table.add(actor, ip)
    return table


def _state(table: AddressCounts) -> object:
    return (
        [(actor, list(ips.items())) for actor, ips in table.by_actor.items()],
        table.held,
        table.folded,
        sorted(table.folded_actors),
    )


@settings(max_examples=300, deadline=None)
@given(first=_calls, second=_calls, per_actor=st.integers(1, 5), total=st.integers(1, 12))
def test_merge_folds_as_call_by_call(
    first: list[tuple[str, str]], second: list[tuple[str, str]], per_actor: int, total: int
) -> None:
    saved = (_networks.MAX_ADDRESSES, _networks.MAX_ADDRESSES_TOTAL)
    _networks.MAX_ADDRESSES, _networks.MAX_ADDRESSES_TOTAL = per_actor, total
    try:
        merged, expected = _table(first), _table(first)
        merged.merge(_table(second))
        _reference_merge(expected, _table(second))
    finally:
        _networks.MAX_ADDRESSES, _networks.MAX_ADDRESSES_TOTAL = saved
    assert _state(merged) == _state(expected)


def test_merge_within_bounds_is_one_table() -> None:
    """No bound reached: merging two shares counts what one table fed both counts."""
    first = [("a", "10.0.0.1"), ("b", "10.0.0.2"), ("a", "10.0.0.1")]
    second = [("a", "10.0.0.3"), ("b", "10.0.0.2"), ("c", "10.0.0.4")]
    merged = _table(first)
    merged.merge(_table(second))
    assert _state(merged) == _state(_table(first + second))
