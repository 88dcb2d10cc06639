"""The second process of a big analysis pass (:mod:`irkit.cloudtrail.analyze`), started before the
pass knows its files.

A fresh Python needs ~0.15 s for its imports before it can read a byte: started when the pass has
its file list, that is ~0.15 s this process reads alone. ``irkit analyze`` calls :func:`prestart`
first thing, before its own heavy imports, so that the worker's imports run beside them; the pass
then hands it the request (:meth:`Spawned.send`) or, when the pass turns out small, filtered or in
one process after all, kills it (:meth:`Spawned.abandon`). This module imports nothing heavy: it
runs before the reader and the analyzer are loaded.

The worker's side, :func:`irkit.cloudtrail.analyze.worker_main`, does its imports and waits for
``go`` (or ``stop``) on its command pipe; the request (file list, filter, baseline) is then in its
stdin, a temporary file this process writes once the pass has listed the files.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import irkit

PARALLEL_MIN_BYTES = 8 << 20
"""Below this many bytes on disk a second process costs more (its start, ~0.2 s) than it saves."""
PARALLEL_MIN_FILES = 16
ENV_PROCESSES = "IRKIT_ANALYZE_PROCESSES"

_PACKAGE_ROOT = str(Path(irkit.__file__).resolve().parent.parent)
_WORKER = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from irkit.cloudtrail.analyze import worker_main; sys.exit(worker_main(int(sys.argv[2]), int(sys.argv[3])))"
)


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def processes(asked: int | None = None) -> int:
    """How many processes a pass may use: ``asked``, else ``IRKIT_ANALYZE_PROCESSES``, else 2 on a
    machine with a second core."""
    if asked is not None:
        return asked
    env = os.environ.get(ENV_PROCESSES, "")
    return int(env) if env.isdigit() else (2 if cores() >= 2 else 1)


class Spawned:
    """A started worker, not yet given its request: its process, the unnamed temporary files of
    its stdin (the request, written later) and stdout (its output), the read end of the pipe it
    asks on, and the write end of the one it is told on."""

    def __init__(
        self, proc: subprocess.Popen[bytes], request: IO[bytes], out: IO[bytes], asks: int, commands: IO[bytes]
    ) -> None:
        self.proc = proc
        self.request = request
        self.out = out
        self.asks = asks
        self.commands = commands
        self.sent = False

    def send(self, request: bytes) -> bool:
        """Give the worker its request and let it start; False when it is gone (then it is
        abandoned). ``os.pwrite`` leaves the file's offset, shared with the worker's stdin, at 0."""
        try:
            done = 0
            while done < len(request):  # a regular file takes it whole; a short write is not assumed away
                wrote = os.pwrite(self.request.fileno(), request[done:], done)
                if wrote <= 0:
                    raise OSError("the request was not written")
                done += wrote
            self.request.close()
            self.commands.write(b"go\n")
        except (OSError, ValueError):
            self.abandon()
            return False
        self.sent = True
        return True

    def abandon(self) -> None:
        """Kill the worker (it is waited for: no process is left behind) and close everything it
        was given. Safe to call at any point, and again."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.proc.wait()
        for closing in (self.request.close, self.out.close, self.commands.close, lambda: os.close(self.asks)):
            with contextlib.suppress(OSError, ValueError):
                closing()
        self.asks = -1


def spawn() -> Spawned | None:
    """Start a worker (``python -I`` running :func:`~irkit.cloudtrail.analyze.worker_main`); None
    when it cannot be started."""
    # The worker's output goes to an unnamed temporary file, not a pipe: this process holds no
    # copy of it while the worker lives, and reads it part by part once the worker is gone. Its
    # request goes through a temporary file too: a pipe would hold this process up until the
    # worker, done with its imports, read it (the list of 400 files is more than a pipe's 64 KiB).
    opened: list[IO[bytes]] = []
    fds: list[int] = []
    try:
        request = tempfile.TemporaryFile()  # noqa: SIM115 - handed to Spawned, which closes it
        opened.append(request)
        out = tempfile.TemporaryFile()  # noqa: SIM115 - handed to Spawned, which closes it
        opened.append(out)
        asks, their_asks = os.pipe()
        fds += (asks, their_asks)
        their_commands, commands = os.pipe()
        fds += (their_commands, commands)
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER, _PACKAGE_ROOT, str(their_asks), str(their_commands)],
            stdin=request, stdout=out, stderr=subprocess.DEVNULL, pass_fds=(their_asks, their_commands),
        )  # fmt: skip
    except (OSError, ValueError):
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        for file in opened:
            file.close()
        return None
    for fd in (their_asks, their_commands):
        os.close(fd)
    os.set_blocking(asks, False)
    return Spawned(proc, request, out, asks, os.fdopen(commands, "wb", buffering=0))


def prestart(path: Path) -> Spawned | None:
    """A worker started now, for a pass over ``path`` that looks big enough to share (a folder
    holding at least :data:`PARALLEL_MIN_FILES` files and :data:`PARALLEL_MIN_BYTES` bytes) on a
    machine that shares it; else None. A guess, made before the files are listed: the pass decides
    (and kills a worker it does not need, or starts one it needs)."""
    if processes() < 2 or not _looks_big(path):
        return None
    return spawn()


def _looks_big(path: Path) -> bool:
    """Whether ``path`` is a folder with at least the files and bytes a shared pass needs. Every
    file counts (the digests and sidecars among them are small beside the logs); the walk stops
    as soon as both are reached, and follows no link."""
    files = size = 0
    folders = [str(path)]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        files += 1
                        size += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                if files >= PARALLEL_MIN_FILES and size >= PARALLEL_MIN_BYTES:
                    return True
    return False
