"""Stateful detectors: what no single event shows (bursts, unusual regions, sequences, baselines).

A detector is fed every analysed event once, keeps only the little state it needs, and produces its
findings in ``finish()``: events can arrive out of time order (archives are read file by file,
region by region), so anything time-based is decided at the end over the compact state it kept.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from irkit.detect.event import Event
from irkit.detect.rule import Finding, Severity

if TYPE_CHECKING:  # baseline imports this module
    from irkit.detect.baseline import Baseline

DetectorKind = Literal["sequence", "baseline"]
Scenario = tuple[Mapping[str, Any], ...]


class Scenarios(Sequence[Scenario]):
    """A detector's test scenarios, built when first read: the hundreds of records a long scenario
    holds cost an analysis nothing (only the tests and the docs read them)."""

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[], tuple[Scenario, ...]]) -> None:
        self._build = build
        self._built: tuple[Scenario, ...] | None = None

    def _all(self) -> tuple[Scenario, ...]:
        if self._built is None:
            self._built = tuple(self._build())
        return self._built

    @overload
    def __getitem__(self, index: int) -> Scenario: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Scenario, ...]: ...

    def __getitem__(self, index: int | slice) -> Scenario | tuple[Scenario, ...]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Scenario]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Scenarios):
            return self._all() == other._all()
        if isinstance(other, tuple):
            return self._all() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # like the tuple of dicts it stands for: unhashable

    def __repr__(self) -> str:
        return f"Scenarios({self._all()!r})"


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """A stateful detector's metadata: what ``rules list`` and docs/rules.md show."""

    id: str
    title: str
    severity: Severity
    mitre: tuple[str, ...]
    why: str
    remediation: str
    tactic: str
    kind: DetectorKind = "sequence"
    positive: Sequence[Scenario] = ()
    """Record sequences that must produce a finding of this detector (fed to a fresh Analyzer); a
    tuple, or :class:`Scenarios` when building them costs an import something."""
    negative: Sequence[Scenario] = ()
    """Record sequences that must not."""


@dataclass(frozen=True, slots=True)
class DetectorContext:
    filtering: bool
    """True when only a given agent's events are analysed: they are one subject, not many."""
    known_regions: frozenset[str] | None = None
    """Regions the agent's baseline knows, when a baseline was given."""
    baseline: Baseline | None = None
    """The agent's baseline, when one was given (what it called, from where, which secrets it read)."""


class Detector(Protocol):
    info: DetectorInfo
    events: frozenset[str] | None
    """Event names (version suffix stripped) the detector looks at; None: every analysed event."""
    failed_only: bool
    """Fed only failed calls (``errorCode`` set), whatever their name."""

    def feed(self, event: Event, attribution: str) -> None: ...

    # Optional: ``feed_file(events, attribution)``, what ``feed`` of each event does, in order. An
    # every-event detector that has one is fed a file at a time through it (the loop inside it, its
    # state at hand); its ``feed`` is then ``feed_file((event,), attribution)``, one body for both.

    def finish(self) -> list[Finding]: ...

    def size(self) -> int:
        """Items held (hits, cells, counters): bounded by subjects and time, not by events."""
        ...

    def merge(self, later: Any) -> None:
        """Fold in ``later``: a detector of the same class and context that was fed the events read
        *after* this one's (another process's share of the files, which follow this share in file
        order). Afterwards ``finish()`` returns what one detector fed both shares in that order
        returns: exactly, while no bound of the state was reached; at a bound the merged state
        stays within it (what a bound keeps depends on arrival order, and the merge keeps this
        share's first). ``later`` is consumed (it may be emptied or shared)."""
        ...


def add_counts(counts: dict[Any, int], later: Mapping[Any, int], cap: int | None = None, overflow: Any = None) -> int:
    """Add a later share's counts to ``counts``, as one pass over both would have counted: a key
    ``counts`` lacks joins (in the order the later share met it) while fewer than ``cap`` keys are
    held; past the cap its count goes to ``overflow`` (dropped when that is None). Returns the
    count dropped."""
    dropped = 0
    for key, n in later.items():
        seen = counts.get(key)
        if seen is not None:
            counts[key] = seen + n
        elif cap is None or len(counts) < cap:
            counts[key] = n
        elif overflow is not None:
            counts[overflow] = counts.get(overflow, 0) + n
        else:
            dropped += n
    return dropped


def add_count_tables(
    tables: dict[Any, dict[Any, int]], later: Mapping[Any, dict[Any, int]], cap: int | None = None, overflow: Any = None
) -> None:
    """:func:`add_counts` for each subject's table (a subject only the later share has takes its table whole)."""
    for subject, theirs in later.items():
        mine = tables.get(subject)
        if mine is None:
            tables[subject] = theirs
        else:
            add_counts(mine, theirs, cap, overflow)


@dataclass(slots=True)
class Hit:
    """The little a detector keeps of an event."""

    time: datetime
    event_id: str
    attribution: str
    principal: str
    extra: Any = None

    def __reduce__(self) -> tuple[type[Hit], tuple[Any, ...]]:
        return Hit, _HIT_FIELDS(self)


def _fields_getter(cls: type[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A slotted dataclass's field values as one tuple, in its constructor's order: what it pickles
    as (``(cls, values)``). Copyreg's default builds a state tuple and a dict of the slots per
    object, and pickle's memo keeps each of them alive until the whole part is written: a worker
    handing back tens of thousands of hits held megabytes of them (docs/performance.md)."""
    names = tuple(f.name for f in fields(cls) if f.init)
    if names != cls.__slots__:
        raise TypeError(f"{cls.__name__}: every slot must be a constructor field, in order")
    return attrgetter(*names)


_HIT_FIELDS = _fields_getter(Hit)


def earlier(hit: Hit, than: Hit) -> bool:
    """Whether ``hit`` comes before ``than`` in findings' order: by time, then event id (an equal
    pair is not earlier: the first arrived stays, in one pass as in a merge)."""
    return (hit.time, hit.event_id) < (than.time, than.event_id)


MAX_FINDING_EVENT_IDS = 1_000
"""A finding lists at most this many event ids (earliest first); its evidence carries the counts."""


def finding(
    info: DetectorInfo,
    hits: Sequence[Hit],
    *,
    detail: str,
    evidence: Mapping[str, Any] | None = None,
    severity: Severity | None = None,
    principal: str | None = None,
    samples: Sequence[tuple[datetime, str]] | None = None,
    events: int | None = None,
) -> Finding:
    """A finding over ``hits`` (the earliest one names time, principal and attribution); its event
    ids come from the hits, or from ``samples`` (time, id) when the detector kept only a sample.

    Its evidence says how many events it stands for (``events``): the count given, else the hits'
    (:func:`_counted`). The ids listed are bounded (at most :data:`MAX_FINDING_EVENT_IDS`, or a
    sample) and never stand in for the count."""
    ordered = sorted(hits, key=lambda h: (h.time, h.event_id))
    listed = sorted(samples) if samples is not None else [(h.time, h.event_id) for h in ordered]
    ids: list[str] = []
    seen: set[str] = set()
    for _, event_id in listed:
        if event_id not in seen:
            seen.add(event_id)
            ids.append(event_id)
            if len(ids) >= MAX_FINDING_EVENT_IDS:
                break
    return Finding(
        rule_id=info.id,
        severity=severity or info.severity,
        title=info.title,
        event_ids=tuple(ids),
        principal=principal or ordered[0].principal,
        mitre=info.mitre,
        first_seen=ordered[0].time,
        detail=detail,
        attribution=ordered[0].attribution,
        evidence={**(evidence or {}), "events": _counted(hits) if events is None else events},
    )


def named(names: Sequence[str], shown: int, *, bound: int | None = None) -> str:
    """The first ``shown`` names joined, then how many more ("and 4 more"; "and 90+ more" when the
    list is at ``bound``, the most its detector keeps): a detail never reads as the whole list when
    it is not."""
    more = len(names) - shown
    if more <= 0:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f" and {more}{'+' if bound is not None and len(names) >= bound else ''} more"


def _counted(hits: Sequence[Hit]) -> int:
    """The events ``hits`` stand for: a :class:`Cell` hit its cell's count, the other hits their
    distinct events (a sequence may name one call twice: a CreateRole is the role created and the
    outside trust it set)."""
    cells = sum(h.extra.count for h in hits if type(h.extra) is Cell)
    return cells + len({h.event_id for h in hits if type(h.extra) is not Cell})


def windows(
    hits: Sequence[Hit], *, seconds: float, weight: Any, enough: Any = None, minimum: float = 0
) -> list[list[Hit]]:
    """Groups of time-sorted hits where some sliding window of ``seconds`` satisfies ``enough``.

    ``weight(hit)`` is what a hit adds (instances launched, 1 per denied call); a window qualifies
    when its total weight is at least ``minimum`` and ``enough(total, hits)`` (when given) holds.
    Overlapping qualifying windows merge into one episode. Linear in the hits (plus what
    ``enough`` costs): times are compared as integer microseconds (exactly as their differences
    in seconds), and each hit is flagged once however many qualifying windows hold it.
    """
    ordered = sorted(hits, key=_hit_time)
    times = [_micros(h.time) for h in ordered]
    span = seconds * 1_000_000
    flagged = [False] * len(ordered)
    start = 0
    marked = 0  # flagged[start:marked] are set: a later window never starts before an earlier one
    total = 0
    for end, hit in enumerate(ordered):
        total += weight(hit)
        at = times[end]
        while at - times[start] > span:
            total -= weight(ordered[start])
            start += 1
        if total >= minimum and (enough is None or enough(total, ordered[start : end + 1])):
            for i in range(max(start, marked), end + 1):
                flagged[i] = True
            marked = end + 1
    episodes: list[list[Hit]] = []
    for i, hit in enumerate(ordered):
        if not flagged[i]:
            continue
        joined = i > 0 and flagged[i - 1] and times[i] - times[i - 1] <= span
        if episodes and joined:
            episodes[-1].append(hit)
        else:
            episodes.append([hit])
    return episodes


_hit_time = attrgetter("time")


SAMPLE_BUCKET_SECONDS = 600
"""A sample's bucket: :func:`ten_minutes_of` the time."""
SAMPLE_PER_BUCKET = 100


@dataclass(slots=True)
class Cell:
    """Every hit of one subject at one instant, folded into counts."""

    weight: int
    count: int
    first_id: str
    """The smallest event id at this instant (findings order hits by time, then id)."""
    attribution: str
    principal: str
    tags: set[str] | None = None

    def __reduce__(self) -> tuple[type[Cell], tuple[Any, ...]]:
        return Cell, _CELL_FIELDS(self)


_CELL_FIELDS = _fields_getter(Cell)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _micros(when: datetime) -> int:
    return (when - _EPOCH) // _MICROSECOND


def _from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH_ORDINAL = 719_163
"""``datetime(1970, 1, 1).toordinal()``."""


def hour_of(when: datetime) -> int:
    """``int(when.timestamp()) // 3600``, without the timedelta ``timestamp()`` builds for an aware
    time (a third of the cost): read from the UTC fields, which are what an event's time holds."""
    if when.tzinfo is UTC:
        return (when.toordinal() - _EPOCH_ORDINAL) * 24 + when.hour
    return int(when.timestamp()) // 3600


def ten_minutes_of(when: datetime) -> int:
    """``int(when.timestamp()) // 600``, read from the UTC fields (see :func:`hour_of`)."""
    if when.tzinfo is UTC:
        return (when.toordinal() - _EPOCH_ORDINAL) * 144 + when.hour * 6 + when.minute // 10
    return int(when.timestamp()) // 600


MAX_CELLS = 30_000
"""Cells one :class:`TimeCells` holds (all subjects) before it rounds their instants coarser."""
MAX_SAMPLES = 12_000
"""Sampled event ids one :class:`TimeCells` holds; past it no more are kept and a finding lists the
first id of each of its instants without a sample."""
STEPS = (1, 10, 60, 300, 600)
"""The instants' resolutions in seconds, finest first: each divides the next and the sample bucket
(600 s), so a rounded instant stays in its bucket."""


def _rounded(when: datetime, step: int) -> datetime:
    """``when`` rounded down to a multiple of ``step`` seconds (a step of :data:`STEPS`: each
    divides an hour, so the rounding stays within the hour)."""
    if step == 1:
        return when
    if step < 60:
        return when.replace(second=when.second - when.second % step, microsecond=0)
    minutes = step // 60
    return when.replace(minute=when.minute - when.minute % minutes, second=0, microsecond=0)


class TimeCells:
    """Hits folded per (subject, instant), plus a bounded sample of event ids per subject and
    10 minutes: memory grows with subjects x distinct instants (bounded by the time window),
    never with the number of events. Sliding windows over cells give the same episodes as over
    the hits they fold, for any ``enough`` that holds for a superset of a qualifying window.

    Bounded whatever the archive: past :data:`MAX_CELLS` cells the instants are rounded down to
    the next of :data:`STEPS` (10 s, 1 min, 5 min, 10 min) and the cells that then share an instant
    fold into one (a window then spans up to one step more: a superset — a burst is never lost, a
    near-burst may be flagged; :meth:`note` says so); past :data:`MAX_SAMPLES` sampled ids no
    more are sampled."""

    def __init__(self) -> None:
        self._cells: dict[Hashable, dict[datetime, Cell]] = {}
        self._samples: dict[tuple[Hashable, int], list[tuple[datetime, str]]] = {}
        self.step = 1
        """Seconds an instant is rounded down to (1: exact)."""
        self._held = 0
        self._sampled = 0

    def add(
        self,
        subject: Hashable,
        event: Event,
        attribution: str,
        *,
        weight: int = 1,
        tag: str | None = None,
    ) -> None:
        when = event.event_time
        event_id = event.event_id
        cells = self._cells.get(subject)
        if cells is None:
            cells = self._cells[subject] = {}
        at = when if self.step == 1 else _rounded(when, self.step)
        cell = cells.get(at)
        if cell is None:
            cell = cells[at] = Cell(weight, 1, event_id, attribution, event.issuer_arn or event.principal_arn)
            self._held += 1
        else:
            cell.weight += weight
            cell.count += 1
            if event_id < cell.first_id:
                cell.first_id, cell.attribution = event_id, attribution
                cell.principal = event.issuer_arn or event.principal_arn
        if tag is not None:
            if cell.tags is None:
                cell.tags = set()
            cell.tags.add(tag)
        if self._sampled < MAX_SAMPLES:
            bucket = (subject, ten_minutes_of(when))
            sample = self._samples.get(bucket)
            if sample is None:
                self._samples[bucket] = [(when, event_id)]
                self._sampled += 1
            elif len(sample) < SAMPLE_PER_BUCKET:
                sample.append((when, event_id))
                self._sampled += 1
        if self._held > MAX_CELLS:
            self._coarser()

    def __getstate__(self) -> tuple[Any, ...]:
        """Instants as integers (microseconds since the epoch), cells as their field values. The
        worker pickles this without pickle's memo (:func:`~irkit.detect.analyzer.alias_free`), where
        every aware datetime would repeat its class and time zone and every cell its class's name:
        200k bench, 19,840 instants, 3.5 MB and 0.19 s before, 1.6 MB and 0.04 s now."""
        return (
            self.step,
            self._held,
            self._sampled,
            {
                subject: ([_micros(t) for t in cells], [_CELL_FIELDS(c) for c in cells.values()])
                for subject, cells in self._cells.items()
            },
            {bucket: [(_micros(t), i) for t, i in sample] for bucket, sample in self._samples.items()},
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.step, self._held, self._sampled, cells, samples = state
        self._cells = {
            subject: dict(zip(map(_from_micros, times), (Cell(*f) for f in kept), strict=True))
            for subject, (times, kept) in cells.items()
        }
        self._samples = {bucket: [(_from_micros(us), i) for us, i in sample] for bucket, sample in samples.items()}

    def _coarser(self) -> None:
        """Round every instant to the next step until the cells fit (or the coarsest step is reached)."""
        while self._held > MAX_CELLS and self.step < STEPS[-1]:
            self._round_all(STEPS[STEPS.index(self.step) + 1])

    def _round_all(self, step: int) -> None:
        """Every instant rounded down to ``step`` seconds, the cells that then share one folded."""
        self.step = step
        for subject, cells in self._cells.items():
            rounded: dict[datetime, Cell] = {}
            for when, cell in cells.items():
                _fold_cell(rounded, _rounded(when, step), cell)
            self._cells[subject] = rounded
        self._held = sum(len(c) for c in self._cells.values())

    def note(self, what: str) -> str | None:
        """What the bounds folded, for the analysis's ``folded`` list; None when nothing was."""
        if self.step == 1 and self._sampled < MAX_SAMPLES:
            return None
        parts = []
        if self.step > 1:
            parts.append(
                f"past {MAX_CELLS:,} distinct instants they were rounded down to {self.step} s "
                f"(a window may span up to {self.step} s more)"
            )
        if self._sampled >= MAX_SAMPLES:
            parts.append(f"past {MAX_SAMPLES:,} sampled event ids a finding lists one id an instant")
        return f"{what}: " + "; ".join(parts)

    def subjects(self) -> list[Any]:
        return list(self._cells)

    def hits(self, subject: Hashable) -> list[Hit]:
        """One :class:`Hit` a cell; ``extra`` is the :class:`Cell`."""
        return [
            Hit(when, cell.first_id, cell.attribution, cell.principal, cell)
            for when, cell in self._cells.get(subject, {}).items()
        ]

    def samples(self, subject: Hashable, hits: Sequence[Hit]) -> list[tuple[datetime, str]]:
        """The kept event ids of the cells in ``hits``."""
        times = {h.time for h in hits}
        buckets = {ten_minutes_of(t) for t in times}
        step = self.step
        kept = [
            (when, event_id)
            for bucket in sorted(buckets)
            for when, event_id in self._samples.get((subject, bucket), ())
            if _rounded(when, step) in times
        ]
        if self._sampled >= MAX_SAMPLES:  # past the bound: an instant without a sample lists its cell's first id
            sampled = {_rounded(when, step) for when, _ in kept}
            kept.extend((h.time, h.event_id) for h in hits if h.time not in sampled)
        return kept

    def size(self) -> int:
        """Cells plus sampled ids: what this structure holds."""
        return sum(len(c) for c in self._cells.values()) + sum(len(s) for s in self._samples.values())

    def merge(self, later: TimeCells) -> None:
        """Fold in the cells of events read after this structure's (``later`` is consumed).

        Exact while no bound was reached, the samples included: a cell's counts add and its first id
        is the smaller one (an equal id keeps this share's, as one pass keeps the first arrived); a
        sample is this share's ids then the later's, cut at :data:`SAMPLE_PER_BUCKET` — the first
        arrived, as one pass keeps. Past :data:`MAX_CELLS` both sides are rounded to the coarser
        step first; past :data:`MAX_SAMPLES` no more of the later ids are taken.
        """
        if later.step > self.step:
            self._round_all(later.step)
        elif self.step > later.step:
            later._round_all(self.step)
        mine = self._cells
        for subject, theirs in later._cells.items():
            cells = mine.get(subject)
            if cells is None:
                mine[subject] = theirs
                self._held += len(theirs)
                continue
            for when, cell in theirs.items():
                self._held += _fold_cell(cells, when, cell)
        samples = self._samples
        for bucket, sample in later._samples.items():
            kept_sample = samples.get(bucket)
            if kept_sample is None:
                if self._sampled < MAX_SAMPLES:
                    samples[bucket] = sample[: MAX_SAMPLES - self._sampled]
                    self._sampled += len(samples[bucket])
                continue
            room = min(SAMPLE_PER_BUCKET - len(kept_sample), MAX_SAMPLES - self._sampled)
            if room > 0:
                kept_sample.extend(sample[:room])
                self._sampled += min(room, len(sample))
        if self._held > MAX_CELLS:
            self._coarser()
        later._cells, later._samples = {}, {}


def _fold_cell(cells: dict[datetime, Cell], when: datetime, cell: Cell) -> int:
    """``cell`` into ``cells`` at ``when``: its counts add to a cell there (the smaller first id
    kept; an equal one keeps the one already there, as one pass keeps the first arrived). 1 when
    it made a new cell."""
    kept = cells.get(when)
    if kept is None:
        cells[when] = cell
        return 1
    kept.weight += cell.weight
    kept.count += cell.count
    if cell.first_id < kept.first_id:
        kept.first_id, kept.attribution, kept.principal = cell.first_id, cell.attribution, cell.principal
    if cell.tags:
        if kept.tags is None:
            kept.tags = cell.tags
        else:
            kept.tags |= cell.tags
    return 0
