"""A worker's share is pickled part by part; a detector that says it holds no mutable object twice
(``alias_free``) is pickled without pickle's memo, which otherwise keeps every object of the part
and every temporary of its pickling alive until the part is written (issue 14, item 4: the
worker's memory while it hands its state back). Without the memo a shared object would come back
as two: these tests hold each such detector's state to having none, over the labelled set and the
detectors' own scenarios, and check that a part so pickled merges as the object itself does."""

from __future__ import annotations

import datetime as dt
import gc
import io
import pickle
from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any

import pytest

from irkit.cloudtrail.analyze import dump_part
from irkit.detect.analyzer import alias_free, share_parts
from irkit.detect.detector import Cell, DetectorContext, Hit
from irkit.detect.detectors import DETECTORS
from irkit.detect.detectors.iam_user_backdoor_sequence import UserBackdoor
from irkit.detect.event import Event
from irkit.detect.labelled import generate
from tests.detect.merging import analyse, comparable, fed

_IMMUTABLE = (str, bytes, int, float, bool, type(None), dt.datetime, dt.timezone, frozenset, type)
UNFILTERED = DetectorContext(filtering=False)


def _held(value: Any) -> bool:
    """Whether ``value`` could be changed through one of two references (what a copy would break)."""
    if isinstance(value, _IMMUTABLE) or (callable(value) and not hasattr(value, "__slots__")):
        return False
    return not (isinstance(value, tuple) and all(isinstance(v, _IMMUTABLE) for v in value))


def shared_objects(root: Any) -> Counter[str]:
    """The mutable objects reachable from ``root`` by more than one reference, by type name."""
    incoming: Counter[int] = Counter()
    kinds: dict[int, str] = {}
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for ref in gc.get_referents(obj):
            if _held(ref):
                incoming[id(ref)] += 1
                kinds[id(ref)] = type(ref).__name__
                stack.append(ref)
    return Counter(kinds[i] for i, n in incoming.items() if n > 1)


@cache
def _events() -> tuple[Event, ...]:
    data = generate(benign=4_000, seed=5, variants=2, workloads=800)
    events = [Event.from_record(dict(r)) for r in data.records]
    for make in DETECTORS:
        detector = make(UNFILTERED)
        for scenario in detector.info.positive:
            events.extend(Event.from_record(dict(r)) for r in scenario)
    return tuple(events)


def _alias_free_makers() -> list[Any]:
    return [make for make in DETECTORS if alias_free(make(UNFILTERED))]


def test_the_burst_detectors_pickle_without_the_memo() -> None:
    names = {type(make(UNFILTERED)).__name__ for make in _alias_free_makers()}
    assert names == {"InstanceBurst", "AccessDeniedBurst"}
    assert not alias_free(UserBackdoor(UNFILTERED)) and not alias_free([("a group",)])


@pytest.mark.parametrize("make", _alias_free_makers(), ids=lambda m: type(m(UNFILTERED)).__name__)
def test_an_alias_free_detector_holds_no_object_twice(make: Any) -> None:
    detector = fed(lambda: make(UNFILTERED), _events())
    assert detector.size() > 0  # it holds something to check
    assert shared_objects(detector) == Counter()


def test_the_check_sees_a_shared_object() -> None:
    """The walk that vouches for the above finds what the user-backdoor detector shares on purpose
    (a pending key's uses are listed under the key and in the table of tracked keys)."""
    detector = fed(lambda: UserBackdoor(UNFILTERED), _events())
    assert shared_objects(detector)["list"] > 0
    hit = Hit(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), "e-1", "*", "arn:aws:iam::1:user/u")
    assert shared_objects([[hit], [hit]]) == Counter({"Hit": 1})


def _as_the_worker_writes(part: Any) -> Any:
    out = io.BytesIO()
    dump_part(part, out)
    return pickle.loads(out.getvalue())  # noqa: S301 - bytes made just above


@pytest.mark.parametrize("cut", [0.3, 0.7])
@pytest.mark.parametrize("make", _alias_free_makers(), ids=lambda m: type(m(UNFILTERED)).__name__)
def test_a_part_pickled_without_the_memo_merges_as_itself(make: Any, cut: float) -> None:
    events: Sequence[Event] = _events()
    at = int(len(events) * cut)
    whole = comparable(fed(lambda: make(UNFILTERED), events).finish())
    first, later = fed(lambda: make(UNFILTERED), events[:at]), fed(lambda: make(UNFILTERED), events[at:])
    first.merge(_as_the_worker_writes(later))
    assert comparable(first.finish()) == whole
    assert whole  # the scenarios' bursts are found


def test_hits_and_cells_pickle_as_their_fields() -> None:
    when = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    hit = Hit(when, "e-1", "why", "arn:aws:iam::1:user/u", ("extra", 1))
    cell = Cell(3, 2, "e-0", "why", "arn:aws:iam::1:user/u", {"RunInstances"})
    assert pickle.loads(pickle.dumps([hit, cell])) == [hit, cell]  # noqa: S301 - bytes made here
    assert hit.__reduce__() == (Hit, (when, "e-1", "why", "arn:aws:iam::1:user/u", ("extra", 1)))


@pytest.mark.parametrize("rounded", [False, True])
def test_time_cells_pickle_their_instants_as_integers_and_come_back_equal(
    rounded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No datetime (its class and time zone repeated a cell each without the memo) and no Cell class
    reference in the pickle; what comes back answers every question the original answers."""
    from irkit.detect import detector

    if rounded:
        monkeypatch.setattr(detector, "MAX_CELLS", 5)
    cells = detector.TimeCells()
    start = dt.datetime(2026, 11, 20, 9, 59, 58, 123456, tzinfo=dt.UTC)
    for i in range(40):
        event = Event.from_record(
            {
                "eventID": f"e-{i:03d}",
                "eventTime": (start + dt.timedelta(seconds=7 * (i % 9))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventName": "RunInstances",
                "eventSource": "ec2.amazonaws.com",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{i % 3}"},
            }
        )
        cells.add(f"u{i % 3}", event, f"why {i % 2}", weight=i % 4 + 1, tag="t" if i % 5 else None)
    assert (cells.step > 1) is rounded
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # as the worker pickles an alias-free detector
    pickler.dump(cells)
    body = out.getvalue()
    assert b"datetime" not in body and body.count(b"Cell") == 1  # in "TimeCells", its own class
    back = pickle.loads(body)  # noqa: S301 - bytes made just above
    assert (back.step, back.size(), back.subjects(), back.note("x")) == (
        cells.step, cells.size(), cells.subjects(), cells.note("x"))
    for subject in cells.subjects():
        hits, again = cells.hits(subject), back.hits(subject)
        assert again == hits and all(h.time.tzinfo is dt.UTC for h in again)
        assert back.samples(subject, again) == cells.samples(subject, hits)


def test_a_whole_share_crosses_with_the_worker_pickling() -> None:
    """Every part as the worker writes it (with the memo or without), read back and merged part by
    part: one pass's findings."""
    events = _events()
    at = len(events) // 2
    one, first, later = analyse(events), analyse(events[:at]), analyse(events[at:])
    first.merge_parts(_as_the_worker_writes(part) for part in share_parts(later.share()))
    assert comparable(first.finish().findings) == comparable(one.finish().findings)
