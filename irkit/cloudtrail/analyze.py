"""Read log files and analyse them in one pass: the reader (:mod:`irkit.cloudtrail.reader`) feeds the
pure analyzer (:mod:`irkit.detect.analyzer`). Detection itself never opens a file.

On a big archive the pass uses two cores for the whole analysis, not only for decompression: this
process reads the files (in reading order) from the front while a second process, each time it
asks, is handed the later part of what is not read yet (:func:`handed_cut`) — so both finish
together, whatever each one's speed. For each run of files it was handed, the worker writes its
analyzer state (:func:`~irkit.detect.analyzer.share_parts`, pickled part by part) into an unnamed
temporary file this process gave it: nothing an archive wrote is ever unpickled, only what irkit
built of it. Once the worker has exited, this process merges the runs part by part, the latest
handed (the earliest files) first (:meth:`Analyzer.merge_parts`): the result is the one-process
result (``tests/detect/test_merge_*``, ``tests/perf/test_parallel_analyze.py``). A worker that
cannot start, fails or leaves its output cut short costs time, never data: what it was handed is
then read here.

Only an unfiltered analysis splits (every principal: attribution to a given agent learns from
earlier events, file after file, and runs in one pass), and only without Sigma rules (they are
compiled in this process). ``IRKIT_ANALYZE_PROCESSES=1`` forces one process. The worker is started
by :mod:`irkit.cloudtrail.worker`, ahead of the pass when the caller can (``started``).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import itertools
import os
import select
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from irkit.cloudtrail import worker as second
from irkit.cloudtrail.reader import ReadStats, iter_file_batches, log_files
from irkit.detect.analyzer import SHARE_END, Analysis, Analyzer, alias_free, share_parts
from irkit.detect.baseline import Baseline
from irkit.detect.event import Event
from irkit.detect.sigma import SigmaRuleSet

HANDED = 0.4
"""The part of the bytes not yet read that the worker is handed each time it asks."""
MIN_HANDED_BYTES = 128 << 10
"""The least the worker is handed at once (~0.015 s of work): a smaller run costs more in its
round trip, its share's pickling and merging than it saves."""


def analyze_paths(
    paths: Sequence[Path],
    *,
    principals: Sequence[str] | None = None,
    baseline: Baseline | None = None,
    sigma: SigmaRuleSet | None = None,
    processes: int | None = None,
    started: second.Spawned | None = None,
) -> tuple[Analysis, ReadStats]:
    """Read every log under ``paths`` once and analyse it; unreadable input becomes gaps in the stats.

    ``processes``: 1 or 2 (default: 2 when the archive is big, the analysis unfiltered and the
    machine has a second core). ``started``: a worker already started for this pass
    (:func:`irkit.cloudtrail.worker.prestart`); this pass uses it or kills it."""
    try:
        stats = ReadStats()
        analyzer = Analyzer(principals=principals, baseline=baseline, sigma=sigma)
        files = log_files(paths, stats)
        below = _bytes_below(files, analyzer, sigma, processes)
        worker = _Worker.start(files, principals, baseline, started) if below is not None else None
    finally:
        if started is not None and not started.sent:
            started.abandon()
    with _collector_paused():
        if worker is None or below is None:
            _feed(analyzer, iter_file_batches(files, stats, lazy=True))
        else:
            _feed_shared(analyzer, files, below, stats, worker)
        # Inside the pause too: finish builds a finding (and its dicts) per group and burst, and
        # each collection they set off walked the whole fed state (200k bench: 0.30 -> 0.17 s);
        # and the state is freed before the collector is back: its first collection walks every
        # object made during the pause that is still alive, the whole state if it were.
        analysis = analyzer.finish()
        del analyzer
    return analysis, stats


def _feed(analyzer: Analyzer, files: Iterator[list[Event]]) -> None:
    feed = analyzer.feed_file
    for events in files:
        feed(events)


def _feed_shared(analyzer: Analyzer, files: list[Path], below: list[int], stats: ReadStats, worker: _Worker) -> None:
    """The pass over ``files`` with the worker: this process reads from the front; each time the
    worker asks for work it is handed the later part of what this process has not read yet
    (:func:`handed_cut`), so the two finish together however fast each turns out to be (no
    estimate of either's speed or start). What it was handed is always the run of files right
    after this process's own: its runs, merged latest handed first, follow this analyzer's files
    in reading order. A worker that fails, at any point, costs time, never data: everything it
    was handed is read here. ``below[i]``: the bytes on disk before ``files[i]``."""
    read, end = 0, len(files)  # this process reads files[read:end]; the worker has files[end:]
    one_file = analyzer.feed_file
    while True:
        if worker.asked(wait=read >= end):
            cut = handed_cut(below, read, end)
            if cut is None:
                worker.stop()
            else:
                worker.hand(cut, end)
                end = cut
        if read >= end:
            if not worker.live or not worker.handed:
                break  # stopped, failed (what it had is read below), or it never asked in time
            continue  # all handed out: wait for the worker to ask once more, then stop it
        for events in iter_file_batches(files[read : read + 1], stats, lazy=True, workers=0):
            one_file(events)
        read += 1
    shares = worker.result()
    if shares is None:  # it ended without its whole output: what it was handed is read here
        _feed(analyzer, iter_file_batches(files[end:], stats, lazy=True))
        return
    for their_stats, parts in shares:  # the latest handed (the earliest files) first
        analyzer.merge_parts(parts)
        stats.files += their_stats.files
        stats.events += their_stats.events
        stats.gaps.extend(their_stats.gaps)


def handed_cut(below: Sequence[int], read: int, end: int) -> int | None:
    """Where the files not yet read (``read`` to ``end``, ``below[i]`` the bytes before file ``i``)
    are cut when the worker asks: it gets the later :data:`HANDED` of their bytes, this process
    keeps at least the file it is at. Less than half, because this process cannot take work back:
    a worker that is quicker asks again, a slower one has less left when this process is done.
    None when the run would be smaller than :data:`MIN_HANDED_BYTES` (not worth a hand-over)."""
    left = below[end] - below[read]
    handed = int(left * HANDED)
    if end - read < 2 or handed < MIN_HANDED_BYTES:
        return None
    # the longest run of whole files within that; one file at the least (a file bigger than
    # the run is handed all the same: the worker is not left idle behind it)
    return min(bisect.bisect_left(below, below[end] - handed, read + 1, end), end - 1)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    # The cyclic collector is paused for the pass: records, events and the analyzer's state form
    # no reference cycles (refcounting frees them), yet with it on, every file's fresh objects
    # are scanned on their way to the old generation and each full collection re-walks the
    # analyzer's growing state: ~20 % of the pass at 1M events (docs/performance.md).
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _bytes_below(
    files: list[Path], analyzer: Analyzer, sigma: SigmaRuleSet | None, processes: int | None
) -> list[int] | None:
    """The bytes on disk before each file (and, last, in all) when the pass should use a second
    process, else None."""
    processes = second.processes(processes)
    if (
        processes < 2
        or not analyzer.mergeable
        or (sigma is not None and sigma.rules)
        or len(files) < second.PARALLEL_MIN_FILES
    ):
        return None
    sizes = []
    for path in files:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(0)  # read (and named a gap) by whichever process gets it
    below = list(itertools.accumulate(sizes, initial=0))
    return below if below[-1] >= second.PARALLEL_MIN_BYTES else None


class _Worker:
    """The second process (:class:`irkit.cloudtrail.worker.Spawned`) at work on the pass. Its stdin
    holds the request: the file list, filter and baseline. It asks (``want OFFSET`` on a pipe) and
    is told, on another, which run of files to analyse next (``take FIRST END``) or to stop. Each
    run's analysis goes, as its stats and then its share's parts, to an unnamed temporary file
    this process gave it as stdout; ``OFFSET`` is where the runs written so far end."""

    def __init__(self, spawned: second.Spawned) -> None:
        self.proc = spawned.proc
        self.out = spawned.out
        self._asks = spawned.asks
        self._commands = spawned.commands
        self._pending = b""
        self.live = True
        self.handed: list[tuple[int, int]] = []
        """The runs handed out, in order: (first file, end)."""
        self._ends: list[int] = []
        """Where each handed run's output ends in ``out`` (as the worker reported it)."""
        self.failed = False

    @classmethod
    def start(
        cls,
        files: list[Path],
        principals: Sequence[str] | None,
        baseline: Baseline | None,
        started: second.Spawned | None,
    ) -> _Worker | None:
        """The worker for a pass over ``files``: ``started`` (when given) or one started now, sent
        its request; None when none could be started."""
        import pickle  # only a big archive's run starts a worker

        spawned = started if started is not None else second.spawn()
        if spawned is None:
            return None
        try:
            request = pickle.dumps(([str(p) for p in files], list(principals) if principals else None, baseline))
        except (ValueError, pickle.PicklingError):
            spawned.abandon()
            return None
        return cls(spawned) if spawned.send(request) else None

    def asked(self, *, wait: bool) -> bool:
        """Whether the worker asks for work now; ``wait``: block until it does (or is gone: then
        it failed, and False)."""
        if not self.live:
            return False
        while b"\n" not in self._pending:
            if wait:
                select.select([self._asks], [], [])
            try:
                chunk = os.read(self._asks, 64)
            except BlockingIOError:
                return False
            except OSError:
                chunk = b""
            if not chunk:
                return self._fail()
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        word, _, offset = line.partition(b" ")
        if word != b"want" or not offset.isdigit():
            return self._fail()
        if self.handed:  # it asks again: the run handed last is written, up to ``offset``
            self._ends.append(int(offset))
        return True

    def hand(self, first: int, end: int) -> None:
        """Hand the worker ``files[first:end]`` (unless it is gone: then it failed)."""
        if self._tell(b"take %d %d\n" % (first, end)):
            self.handed.append((first, end))

    def stop(self) -> None:
        """Tell the worker there is no more work; it exits (its output is written by then)."""
        if self._tell(b"stop\n"):
            self.live = False

    def _tell(self, line: bytes) -> bool:
        try:
            self._commands.write(line)
        except (OSError, ValueError):
            self._fail()
            return False
        return True

    def _fail(self) -> bool:
        self.live = False
        self.failed = True
        return False

    def result(self) -> list[tuple[ReadStats, Iterator[Any]]] | None:
        """Each handed run's stats and share parts (unpickled one at a time, as merged), the
        latest handed first; or None when the worker failed: nothing of its work is merged unless
        all of it arrived, each run's output ending where the worker said and with the end mark."""
        import pickle

        with contextlib.suppress(OSError):
            os.close(self._asks)
        with contextlib.suppress(OSError):
            self._commands.close()
        if self.failed or not self.handed:  # it failed, or was handed nothing: not waited for
            self.proc.kill()
            self.proc.wait()
            self.out.close()
            return None
        out, end = self.out, _end()
        runs: list[tuple[ReadStats, int]] = []
        try:
            code = self.proc.wait()
            size = out.seek(0, os.SEEK_END)
            starts = [0, *self._ends[:-1]]
            if code != 0 or size != self._ends[-1] or len(self._ends) != len(self.handed):
                raise ValueError("the worker's output is not what it said")
            for begin, finish in zip(starts, self._ends, strict=True):
                if finish - begin < len(end):
                    raise ValueError("a run's output is cut short")
                out.seek(finish - len(end))
                if out.read(len(end)) != end:
                    raise ValueError("a run's output does not end with the end mark")
                out.seek(begin)
                stats = pickle.load(out)  # noqa: S301 - irkit's own worker, into a file of ours
                if not isinstance(stats, ReadStats):
                    raise ValueError("a run's output does not start with its stats")
                runs.append((stats, out.tell()))
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
            out.close()
            return None
        return [(stats, _parts(out, at, last=i == 0)) for i, (stats, at) in reversed(list(enumerate(runs)))]


def _end() -> bytes:
    """How a run's output ends (its last part pickled): a cut or foreign stream does not."""
    import pickle

    return pickle.dumps(SHARE_END, protocol=pickle.HIGHEST_PROTOCOL)


def _parts(out: IO[bytes], at: int, *, last: bool) -> Iterator[Any]:
    """The parts pickled one after another in ``out`` from ``at``, each unpickled when asked for
    (irkit's own worker wrote them, and they ended as it ends them); ``last``: the file is closed
    at the end."""
    import pickle

    try:
        out.seek(at)
        while True:
            part = pickle.load(out)  # noqa: S301 - irkit's own worker, into a file of ours
            yield part
            if type(part) is str and part == SHARE_END:
                return
    finally:
        if last:
            out.close()


def worker_main(asks: int, commands: int) -> int:
    """The worker's side: the pickled file list (and filter) on stdin; then, each time it asks on
    ``asks``, a run of files to analyse or ``stop`` on ``commands``. Each run's output — its stats,
    then its share's parts (:func:`~irkit.detect.analyzer.share_parts`), pickled one after
    another — is written to stdout before it asks again."""
    import pickle

    out = sys.stdout.buffer
    with os.fdopen(asks, "wb", buffering=0) as ask, os.fdopen(commands, "rb") as told, _collector_paused():
        if told.readline() != b"go\n":  # started ahead of a pass that did not need it
            return 0
        files, principals, baseline = pickle.load(sys.stdin.buffer)  # noqa: S301 - from the parent irkit
        while True:
            ask.write(b"want %d\n" % out.tell())
            word, *run = told.readline().split() or [b""]
            if word != b"take" or len(run) != 2:
                return 0
            stats = ReadStats()
            analyzer = Analyzer(principals=principals, baseline=baseline)
            first, end = int(run[0]), int(run[1])
            _feed(analyzer, iter_file_batches([Path(f) for f in files[first:end]], stats, lazy=True, workers=0))
            share = analyzer.share()
            del analyzer
            # one part after another, each let go once written: the pickler's memo (an entry per
            # object) is one part's, and pickle.dump writes frames as it goes, not one buffer
            pickle.dump(stats, out, protocol=pickle.HIGHEST_PROTOCOL)
            for part in share_parts(share):
                dump_part(part, out)
                del part
            del share
            out.flush()


def dump_part(part: Any, out: IO[bytes]) -> None:
    """Pickle one part of a share as the worker writes it: without pickle's memo when the part holds
    no mutable object twice (:func:`~irkit.detect.analyzer.alias_free`), with it otherwise."""
    import pickle

    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = alias_free(part)
    pickler.dump(part)
