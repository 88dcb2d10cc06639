"""Read log files and analyse them in one pass: the reader (:mod:`irkit.cloudtrail.reader`) feeds the
pure analyzer (:mod:`irkit.detect.analyzer`). Detection itself never opens a file.

On a big archive the pass uses two cores for the whole analysis, not only for decompression: the
files (in reading order) are cut in two shares of about equal bytes; a second process reads and
analyses the later share while this one does the first, then hands its analyzer state back
(:func:`~irkit.detect.analyzer.share_parts`, pickled part by part into an unnamed temporary file
this process gave it: nothing an archive wrote is ever unpickled, only what irkit built of it) and
this process merges it part by part once the worker has exited (:meth:`Analyzer.merge_parts`): the
result is the one-process result (``tests/detect/test_merge_*``). A worker that cannot start, fails
or leaves its output cut short costs time, never data: its share is then read here.

Only an unfiltered analysis splits (every principal: attribution to a given agent learns from
earlier events, file after file, and runs in one pass), and only without Sigma rules (they are
compiled in this process). ``IRKIT_ANALYZE_PROCESSES=1`` forces one process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import irkit
from irkit.cloudtrail.reader import ReadStats, default_workers, iter_file_batches, log_files
from irkit.detect.analyzer import SHARE_END, Analysis, Analyzer, alias_free, share_parts
from irkit.detect.baseline import Baseline
from irkit.detect.event import Event
from irkit.detect.sigma import SigmaRuleSet

PARALLEL_MIN_BYTES = 8 << 20
"""Below this many bytes on disk a second process costs more (its start, ~0.2 s) than it saves."""
PARALLEL_MIN_FILES = 16
WORKER_START_SECONDS = 0.35
"""What the second process spends before its first byte (interpreter, imports, request)."""
SECONDS_PER_MIB = 0.11
"""About what a process spends on a MiB of gzip logs (measured: bench/bench_analyze.py, 2 cores)."""
ENV_PROCESSES = "IRKIT_ANALYZE_PROCESSES"


def worker_share(total_bytes: int) -> float:
    """The later share's part of the bytes: half, less what the worker's start costs it — both
    processes then finish together (0.44 of a 27 MB archive, 0.49 of 137 MB, 0.5 of 700 MB)."""
    work = SECONDS_PER_MIB * total_bytes / (1 << 20)
    return min(0.5, max(0.3, 0.5 - WORKER_START_SECONDS / (2 * work))) if work > 0 else 0.0


_PACKAGE_ROOT = str(Path(irkit.__file__).resolve().parent.parent)
_WORKER = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from irkit.cloudtrail.analyze import worker_main; sys.exit(worker_main())"
)


def analyze_paths(
    paths: Sequence[Path],
    *,
    principals: Sequence[str] | None = None,
    baseline: Baseline | None = None,
    sigma: SigmaRuleSet | None = None,
    processes: int | None = None,
) -> tuple[Analysis, ReadStats]:
    """Read every log under ``paths`` once and analyse it; unreadable input becomes gaps in the stats.

    ``processes``: 1 or 2 (default: 2 when the archive is big, the analysis unfiltered and the
    machine has a second core)."""
    stats = ReadStats()
    analyzer = Analyzer(principals=principals, baseline=baseline, sigma=sigma)
    files = log_files(paths, stats)
    later = _later_share(files, analyzer, sigma, processes)
    worker = _Worker.start(later, principals, baseline) if later else None
    first = files[: len(files) - len(later)] if worker is not None else files
    with _collector_paused():
        _feed(analyzer, iter_file_batches(first, stats, lazy=True, workers=0 if worker is not None else None))
        if worker is not None:
            result = worker.result()
            if result is None:  # the worker failed: its share is read here, nothing is lost
                _feed(analyzer, iter_file_batches(later, stats, lazy=True))
            else:
                their_stats, parts = result
                analyzer.merge_parts(parts)
                stats.files += their_stats.files
                stats.events += their_stats.events
                stats.gaps.extend(their_stats.gaps)
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


def _later_share(
    files: list[Path], analyzer: Analyzer, sigma: SigmaRuleSet | None, processes: int | None
) -> list[Path]:
    """The files a second process should analyse (none: one process)."""
    if processes is None:
        env = os.environ.get(ENV_PROCESSES, "")
        processes = int(env) if env.isdigit() else (2 if default_workers() >= 1 else 1)
    if (
        processes < 2
        or not analyzer.mergeable
        or (sigma is not None and sigma.rules)
        or len(files) < PARALLEL_MIN_FILES
    ):
        return []
    sizes = []
    for path in files:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(0)  # read (and named a gap) by whichever share gets it
    total = sum(sizes)
    if total < PARALLEL_MIN_BYTES:
        return []
    kept, cut = 0, len(files)
    share = worker_share(total)
    while cut > 1 and kept + sizes[cut - 1] <= total * share:
        cut -= 1
        kept += sizes[cut]
    return files[cut:]


class _Worker:
    """The second process: ``python -I`` running :func:`worker_main` over the later share."""

    def __init__(self, proc: subprocess.Popen[bytes], out: IO[bytes]) -> None:
        self.proc = proc
        self.out = out

    @classmethod
    def start(cls, files: list[Path], principals: Sequence[str] | None, baseline: Baseline | None) -> _Worker | None:
        import pickle  # only a big archive's run starts a worker

        request = pickle.dumps(([str(p) for p in files], list(principals) if principals else None, baseline))
        # The worker's output goes to an unnamed temporary file, not a pipe: this process holds no
        # copy of it while the worker lives, and reads it part by part once the worker is gone.
        import tempfile

        try:
            out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by result()
        except OSError:
            return None
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _WORKER, _PACKAGE_ROOT],
                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            assert proc.stdin is not None
            proc.stdin.write(request)
            proc.stdin.close()
        except (OSError, ValueError):
            out.close()
            return None
        return cls(proc, out)

    def result(self) -> tuple[ReadStats, Iterator[Any]] | None:
        """The worker's stats and its share's parts (unpickled one at a time, as merged), or None
        when it failed: nothing of a share is merged unless the whole of it arrived."""
        import pickle

        out, end = self.out, _end()
        stats: object = None
        try:
            code = self.proc.wait()
            size = out.seek(0, os.SEEK_END)
            if code == 0 and size >= len(end):
                out.seek(size - len(end))
                if out.read() == end:
                    out.seek(0)
                    stats = pickle.load(out)  # noqa: S301 - irkit's own worker, into a file of ours
        except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
            stats = None
        if not isinstance(stats, ReadStats):
            out.close()
            return None
        return stats, _parts(out)


def _end() -> bytes:
    """How the worker's output ends (its last part pickled): a cut or foreign stream does not."""
    import pickle

    return pickle.dumps(SHARE_END, protocol=pickle.HIGHEST_PROTOCOL)


def _parts(out: IO[bytes]) -> Iterator[Any]:
    """The parts pickled one after another in ``out``, each unpickled when asked for (irkit's own
    worker wrote them, and they ended as it ends them); the file is closed at the end."""
    import pickle

    with out:
        while True:
            part = pickle.load(out)  # noqa: S301 - irkit's own worker, into a file of ours
            yield part
            if type(part) is str and part == SHARE_END:
                return


def worker_main() -> int:
    """The worker's side: a pickled request on stdin; on stdout its stats, then its share's parts
    (:func:`~irkit.detect.analyzer.share_parts`), pickled one after another."""
    import pickle

    files, principals, baseline = pickle.loads(sys.stdin.buffer.read())  # noqa: S301 - from the parent irkit
    stats = ReadStats()
    analyzer = Analyzer(principals=principals, baseline=baseline)
    with _collector_paused():
        _feed(analyzer, iter_file_batches([Path(f) for f in files], stats, lazy=True, workers=0))
        share = analyzer.share()
        del analyzer
        # one part after another, each let go once written: the pickler's memo (an entry per object)
        # is one part's, and pickle.dump writes frames as it goes, not one buffer of the whole
        out = sys.stdout.buffer
        pickle.dump(stats, out, protocol=pickle.HIGHEST_PROTOCOL)
        for part in share_parts(share):
            dump_part(part, out)
            del part
        out.flush()
    return 0


def dump_part(part: Any, out: IO[bytes]) -> None:
    """Pickle one part of a share as the worker writes it: without pickle's memo when the part holds
    no mutable object twice (:func:`~irkit.detect.analyzer.alias_free`), with it otherwise."""
    import pickle

    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = alias_free(part)
    pickler.dump(part)
